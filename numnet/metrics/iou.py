"""Intersection-over-union metrics: `IoU`, `BinaryIoU`, `MeanIoU`, `OneHotIoU`, `OneHotMeanIoU`.

Each accumulates a `(num_classes, num_classes)` confusion matrix (rows: true
class, columns: predicted class) weighted by `sample_weight`; a class' IoU is
`tp / (tp + fp + fn)`, and the result is the mean over the target classes that
occurred (a class never seen nor predicted is left out of the mean).

As in Keras, the state's dtype defaults to int64: labels, predictions and
sample weights are cast to it, so fractional weights are truncated (with a
warning). Pass `dtype="float32"` to count fractional weights.
"""

import warnings

from numnet.backend import xp

from numnet.backend import epsilon
from numnet.metrics.base import Metric, _array
from numnet.serialization import register_builtin


class _IoUBase(Metric):
    """Accumulates the weighted confusion matrix of class ids.

    Args:
        num_classes: the number of classes.
        name: the metric's name.
        dtype: the confusion matrix' dtype, default "int64".
        ignore_class: a true class id to leave out (e.g. a "void" class).
        sparse_y_true: labels are class ids (else: scores, argmax'ed along `axis`).
        sparse_y_pred: predictions are class ids (else: scores, argmax'ed).
        axis: the class axis for the argmax, default -1.
    """

    _direction = "up"

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(name=name, dtype=dtype or "int")
        self.num_classes = num_classes
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis
        self.total_cm = self.add_variable((num_classes, num_classes), dtype=self.dtype,
                                          name="total_confusion_matrix")

    def _class_ids(self, values, sparse):
        values = _array(values)
        if not sparse:
            values = xp.argmax(values, axis=self.axis)
        return xp.asarray(values).astype(self.dtype, copy=False).reshape(-1)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Adds the batch's weighted (true class, predicted class) pairs to the matrix."""
        y_true = self._class_ids(y_true, self.sparse_y_true)
        y_pred = self._class_ids(y_pred, self.sparse_y_pred)
        if y_true.shape != y_pred.shape:
            raise ValueError(
                f"{type(self).__name__}: `y_true` and `y_pred` must hold the same number "
                f"of class ids. Received {y_true.shape[0]} and {y_pred.shape[0]}."
            )
        if sample_weight is None:
            weights = xp.ones(y_true.shape, dtype=self.dtype)
        else:
            sample_weight = _array(sample_weight)
            if sample_weight.dtype.kind == "f" and xp.dtype(self.dtype).kind in "iu":
                warnings.warn(
                    "You are passing weight as `float`, but dtype is `int`. This may "
                    "result in an incorrect weight due to type casting Consider using "
                    "integer weights.", stacklevel=2)
            weights = xp.asarray(sample_weight).astype(self.dtype).reshape(-1)
            weights = xp.broadcast_to(weights, y_true.shape)
        valid = (y_true >= 0) & (y_true < self.num_classes)
        valid &= (y_pred >= 0) & (y_pred < self.num_classes)
        if self.ignore_class is not None:
            valid &= y_true != self.ignore_class
        cells = (y_true[valid].astype(xp.int64) * self.num_classes
                 + y_pred[valid].astype(xp.int64))
        counts = xp.bincount(cells, weights=weights[valid].astype(xp.float64),
                             minlength=self.num_classes ** 2)
        counts = counts.reshape(self.num_classes, self.num_classes)
        self.total_cm.data += counts.astype(self.dtype)


@register_builtin("keras.metrics")
class IoU(_IoUBase):
    """The mean IoU of the classes in `target_class_ids` (the IoU of one class for a single id).

    Args:
        num_classes: the number of classes.
        target_class_ids: the class ids whose IoUs are averaged.
        name: default "io_u" (made unique).
        dtype: the confusion matrix' dtype, default "int64" (see the module docstring).
        ignore_class: a true class id to leave out.
        sparse_y_true: labels are class ids (default) or per-class scores.
        sparse_y_pred: predictions are class ids (default) or per-class scores.
        axis: the class axis when scores are given, default -1.
    """

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)
        if max(target_class_ids) >= num_classes:
            raise ValueError(
                f"Target class id {max(target_class_ids)} is out of range, which is "
                f"[0, {num_classes})."
            )
        self.target_class_ids = list(target_class_ids)

    def result(self):
        cm = self.total_cm.data
        true_positives = xp.diag(cm)
        denominator = cm.sum(axis=0) + cm.sum(axis=1) - true_positives
        ids = xp.asarray(self.target_class_ids, dtype=xp.int64)
        true_positives = true_positives[ids].astype(xp.float32)
        denominator = denominator[ids].astype(xp.float32)
        valid = denominator > 1e-9
        eps = xp.float32(epsilon())
        iou = xp.where(valid, true_positives / (denominator + eps), xp.float32(0.0))
        value = xp.sum(iou) / (xp.float32(xp.sum(valid)) + eps)
        return xp.float32(value)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "target_class_ids": self.target_class_ids, "ignore_class": self.ignore_class,
                "sparse_y_true": self.sparse_y_true, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}


@register_builtin("keras.metrics")
class BinaryIoU(IoU):
    """IoU of a binary task: predictions `>= threshold` are class 1, the others class 0.

    Args:
        target_class_ids: `[0]`, `[1]` or `[0, 1]` (default: the mean of both).
        threshold: default 0.5.
        name: default "binary_io_u" (made unique).
        dtype: the confusion matrix' dtype, default "int64".
    """

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name,
                         dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = _array(y_true).astype(self.dtype)
        y_pred = _array(y_pred).astype(xp.float32, copy=False) >= xp.float32(self.threshold)
        return super().update_state(y_true, y_pred.astype(self.dtype), sample_weight)

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold,
                "name": self.name, "dtype": self.dtype}


@register_builtin("keras.metrics")
class MeanIoU(IoU):
    """The mean IoU over all `num_classes` classes (those that occurred).

    Same arguments as `IoU` without `target_class_ids`; default name "mean_io_u".
    """

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, target_class_ids=list(range(num_classes)), name=name,
                         dtype=dtype, ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


@register_builtin("keras.metrics")
class OneHotIoU(IoU):
    """`IoU` for one-hot labels (and, by default, per-class score predictions).

    Same arguments as `IoU` except `sparse_y_true` (always False);
    `sparse_y_pred` defaults to False. Default name "one_hot_io_u".
    """

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, target_class_ids=target_class_ids, name=name,
                         dtype=dtype, ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "name": self.name, "dtype": self.dtype, "ignore_class": self.ignore_class,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


@register_builtin("keras.metrics")
class OneHotMeanIoU(MeanIoU):
    """`MeanIoU` for one-hot labels (and, by default, per-class score predictions).

    Same arguments as `MeanIoU` except `sparse_y_true` (always False);
    `sparse_y_pred` defaults to False. Default name "one_hot_mean_io_u".
    """

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}
