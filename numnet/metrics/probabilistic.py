"""Probabilistic metrics: cross-entropies, KL divergence, Poisson (Keras 3 semantics).

Each metric is the (sample-weighted) mean over samples of the loss function of
the same name in `numnet.losses`; the functions here return those per-sample
values as NumPy arrays.
"""

from numnet.backend import xp

from numnet import losses
from numnet.metrics.base import MeanMetricWrapper, _array
from numnet.serialization import register_builtin


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy per sample (`numnet.losses.binary_crossentropy`)."""
    return _array(losses.binary_crossentropy(
        y_true, y_pred, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Cross-entropy against one-hot targets, per sample."""
    return _array(losses.categorical_crossentropy(
        y_true, y_pred, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis))


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """Cross-entropy against integer targets, per sample (0 for `ignore_class` targets)."""
    return _array(losses.sparse_categorical_crossentropy(
        y_true, y_pred, from_logits=from_logits, ignore_class=ignore_class, axis=axis))


def kl_divergence(y_true, y_pred):
    """`sum(y_true * log(y_true / y_pred), axis=-1)`, both clipped to `[epsilon, 1]`."""
    return _array(losses.kl_divergence(y_true, y_pred))


def poisson(y_true, y_pred):
    """`mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)`."""
    return _array(losses.poisson(y_true, y_pred))


@register_builtin("keras.metrics")
class KLDivergence(MeanMetricWrapper):
    """Kullback-Leibler divergence between `y_true` and `y_pred`.

    Formula:

    ```python
    metric = y_true * log(y_true / y_pred)
    ```

    `y_true` and `y_pred` are clipped to `[epsilon, 1]` first; the values are
    summed over the last axis, then averaged over samples.

    Args:
        name: (Optional) string name of the metric instance.
        dtype: (Optional) data type of the metric result.

    Example:

    >>> m = keras.metrics.KLDivergence()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
    >>> m.result()
    0.45814306
    """

    _direction = "down"

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(fn=kl_divergence, name=name, dtype=dtype)


@register_builtin("keras.metrics")
class Poisson(MeanMetricWrapper):
    """Poisson metric between `y_true` and `y_pred`.

    Formula:

    ```python
    metric = y_pred - y_true * log(y_pred)
    ```

    (`epsilon` is added to `y_pred` inside the log), averaged over the last
    axis, then over samples.

    Args:
        name: (Optional) string name of the metric instance.
        dtype: (Optional) data type of the metric result.

    Example:

    >>> m = keras.metrics.Poisson()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> m.result()
    0.49999997
    """

    _direction = "down"

    def __init__(self, name="poisson", dtype=None):
        super().__init__(fn=poisson, name=name, dtype=dtype)


@register_builtin("keras.metrics")
class BinaryCrossentropy(MeanMetricWrapper):
    """Cross-entropy between binary labels (0 or 1) and predictions.

    Args:
        name: (Optional) string name of the metric instance.
        dtype: (Optional) data type of the metric result.
        from_logits: (Optional) whether `y_pred` holds logits rather than
            probabilities.
        label_smoothing: (Optional) float in `[0, 1]`; labels are moved
            towards 0.5 by this fraction (0.2 turns 0/1 into 0.1/0.9).

    Example:

    >>> m = keras.metrics.BinaryCrossentropy()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
    >>> m.result()
    0.8149245
    """

    _direction = "down"

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0):
        super().__init__(fn=binary_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


@register_builtin("keras.metrics")
class CategoricalCrossentropy(MeanMetricWrapper):
    """Cross-entropy between one-hot labels and predictions.

    Args:
        name: (Optional) string name of the metric instance.
        dtype: (Optional) data type of the metric result.
        from_logits: (Optional) whether `y_pred` holds logits rather than a
            probability distribution.
        label_smoothing: (Optional) float in `[0, 1]`; labels become
            `y_true * (1 - label_smoothing) + label_smoothing / num_classes`.
        axis: (Optional) the class axis, default `-1`.

    Example:

    >>> m = keras.metrics.CategoricalCrossentropy()
    >>> m.update_state([[0, 1, 0], [0, 0, 1]],
    ...                [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
    >>> m.result()
    1.1769392
    """

    _direction = "down"

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0, axis=-1):
        super().__init__(fn=categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


@register_builtin("keras.metrics")
class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Cross-entropy between integer labels and predictions.

    Args:
        name: (Optional) string name of the metric instance.
        dtype: (Optional) data type of the metric result.
        from_logits: (Optional) whether `y_pred` holds logits rather than a
            probability distribution.
        ignore_class: (Optional) integer; targets equal to it contribute 0.
            As in Keras, they still count in the mean when no `sample_weight`
            is given, and get weight 0 when one is.
        axis: (Optional) the class axis, default `-1` (the only one supported).

    Example:

    >>> m = keras.metrics.SparseCategoricalCrossentropy()
    >>> m.update_state([1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
    >>> m.result()
    1.1769392
    """

    _direction = "down"

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 ignore_class=None, axis=-1):
        super().__init__(fn=sparse_categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _array(y_true), _array(y_pred)
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        if self.ignore_class is not None and sample_weight is not None:
            labels = y_true
            if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
                labels = labels[..., 0]
            valid = (labels != self.ignore_class).astype(xp.float64)
            sample_weight = _array(sample_weight).astype(xp.float64, copy=False)
            if sample_weight.ndim == valid.ndim + 1 and sample_weight.shape[-1] == 1:
                sample_weight = sample_weight[..., 0]
            elif valid.ndim == sample_weight.ndim + 1 and valid.shape[-1] == 1:
                valid = valid[..., 0]
            sample_weight = sample_weight * valid
        return super(MeanMetricWrapper, self).update_state(values, sample_weight=sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "ignore_class": self.ignore_class, "axis": self.axis}
