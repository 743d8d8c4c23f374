"""Accuracy metrics and their per-sample functions (Keras 3 semantics).

Each function returns one float32 value per sample (1.0 for a hit); the
classes are `MeanMetricWrapper`s that average them, sample-weighted.
"""

from numnet.backend import xp

from numnet.backend import floatx
from numnet.autodiff import ops
from numnet.autodiff.tensor import Tensor
from numnet.metrics.base import (
    MeanMetricWrapper, _array, squeeze_or_expand_tensors, squeeze_or_expand_to_same_rank,
)
from numnet.serialization import register_builtin


def _uses_ops(fn):
    """Marks a metric function written with numnet ops: a compiled step captures it."""
    fn.uses_ops = True
    return fn


def _tensor(x):
    return x if isinstance(x, Tensor) else ops.convert_to_tensor(xp.asarray(x),
                                                                  dtype=xp.asarray(x).dtype)


@_uses_ops
def accuracy(y_true, y_pred):
    """1.0 where `y_true == y_pred` exactly."""
    y_true, y_pred = squeeze_or_expand_tensors(_tensor(y_true), _tensor(y_pred))
    return ops.cast(ops.equal(y_true, y_pred), floatx())


@_uses_ops
def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where `(y_pred > threshold) == y_true`."""
    y_true, y_pred = squeeze_or_expand_tensors(_tensor(y_true), _tensor(y_pred))
    return ops.cast(ops.equal(y_true, ops.greater(y_pred, threshold)), floatx())


@_uses_ops
def categorical_accuracy(y_true, y_pred):
    """1.0 where `argmax(y_true) == argmax(y_pred)` (one-hot targets)."""
    y_pred = _tensor(y_pred)
    y_true = ops.argmax(_tensor(y_true), axis=-1)
    original_shape = y_true.shape
    reshape = y_true.ndim == y_pred.ndim
    if reshape:
        y_true = ops.squeeze(y_true, -1)
    matches = ops.cast(ops.equal(y_true, ops.argmax(y_pred, axis=-1)), floatx())
    return ops.reshape(matches, original_shape) if reshape else matches


@_uses_ops
def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer target equals `argmax(y_pred)`.

    `y_true` may have shape `(n,)` or `(n, 1)` and be int or float.
    """
    y_pred, y_true = _tensor(y_pred), _tensor(y_true)
    original_shape = y_true.shape
    reshape = y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1
    if reshape:
        y_true = ops.squeeze(y_true, -1)
    matches = ops.cast(ops.equal(y_true, ops.argmax(y_pred, axis=-1)), floatx())
    if reshape:
        matches = ops.reshape(matches, original_shape)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = ops.squeeze(matches, -1)
    return matches


def _in_top_k(targets, predictions, k):
    """True where the target's score is among the `k` largest (ties count as in)."""
    targets = targets.astype(xp.int64, copy=False)
    rows = xp.arange(predictions.shape[0])
    target_scores = predictions[rows, targets]
    higher = xp.count_nonzero(predictions > target_scores[:, None], axis=-1)
    return (higher < k) & xp.isfinite(target_scores)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the one-hot target's class is in the top `k` predictions."""
    y_pred = _array(y_pred)
    y_true = xp.argmax(_array(y_true), axis=-1)
    original_shape = y_true.shape
    if y_pred.ndim > 2:
        y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    reshape = y_true.ndim > 1
    if reshape:
        y_true = y_true.reshape(-1)
    matches = _in_top_k(y_true, y_pred, k).astype(floatx())
    return matches.reshape(original_shape) if reshape else matches


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer target is in the top `k` predictions.

    With `from_sorted_ids=True`, `y_pred` holds class ids sorted by score.
    """
    y_pred = _array(y_pred)
    y_true = _array(y_true)
    original_shape = y_true.shape
    if y_pred.ndim > 2:
        y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    reshape = y_true.ndim > 1
    if reshape:
        y_true = y_true.reshape(-1)
    if from_sorted_ids:
        matches = xp.any(y_pred[:, :k] == y_true[:, None], axis=1)
    else:
        matches = _in_top_k(y_true, y_pred, k)
    matches = matches.astype(floatx())
    return matches.reshape(original_shape) if reshape else matches


@register_builtin("keras.metrics")
class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly."""

    _direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(fn=accuracy, name=name, dtype=dtype)


@register_builtin("keras.metrics")
class BinaryAccuracy(MeanMetricWrapper):
    """How often `(y_pred > threshold)` matches the binary labels."""

    _direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(fn=binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold}


@register_builtin("keras.metrics")
class CategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of the predictions matches that of the one-hot labels."""

    _direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(fn=categorical_accuracy, name=name, dtype=dtype)


@register_builtin("keras.metrics")
class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of the predictions matches the integer labels."""

    _direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(fn=sparse_categorical_accuracy, name=name, dtype=dtype)


@register_builtin("keras.metrics")
class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target is in the top `k` predictions."""

    _direction = "up"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(fn=top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "k": self.k}


@register_builtin("keras.metrics")
class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer target is in the top `k` predictions."""

    _direction = "up"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None,
                 from_sorted_ids=False):
        super().__init__(fn=sparse_top_k_categorical_accuracy, name=name, dtype=dtype,
                         k=k, from_sorted_ids=from_sorted_ids)
        self.k = k
        self.from_sorted_ids = from_sorted_ids

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "k": self.k}
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config
