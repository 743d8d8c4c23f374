"""Losses as functions, classes and strings, as in `keras.losses`.

A loss function maps `(y_true, y_pred)` to one value per sample; a `Loss`
object then applies sample weights and the reduction (Keras' default
`"sum_over_batch_size"`: the weighted sum divided by the number of values, not
by the sum of the weights).
"""

import numpy as np

from numnet.autodiff import ops
from numnet.autodiff.tensor import Tensor
from numnet.serialization import (
    deserialize_keras_object, get_registered_object, register_builtin, serialize_keras_object,
)

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _value(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _match_rank(y_true, y_pred):
    """Squeezes or expands a trailing length-1 axis so ranks agree, as Keras does."""
    t, p = _value(y_true), _value(y_pred)
    if t.ndim == p.ndim + 1 and t.shape[-1] == 1:
        return t.reshape(t.shape[:-1]), y_pred
    if p.ndim == t.ndim + 1 and p.shape[-1] == 1:
        return t.reshape(t.shape + (1,)), y_pred
    return t, y_pred


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Makes ranks equal when they differ by one trailing length-1 axis, as Keras does.

    The higher-rank input loses its last axis, except that a rank-1 partner gains one
    instead when `expand_rank_1` (so `(3,)` and `(3, 1)` both become `(3, 1)`).
    """
    rank1, rank2 = len(np.shape(x1)), len(np.shape(x2))
    if rank1 == rank2 + 1 and np.shape(x1)[-1] == 1:
        if rank2 == 1 and expand_rank_1:
            x2 = ops.expand_dims(x2, axis=-1)
        else:
            x1 = ops.squeeze(x1, axis=-1)
    elif rank2 == rank1 + 1 and np.shape(x2)[-1] == 1:
        if rank1 == 1 and expand_rank_1:
            x1 = ops.expand_dims(x1, axis=-1)
        else:
            x2 = ops.squeeze(x2, axis=-1)
    return x1, x2


def _require_identical_shape(y_true, y_pred, hint=""):
    """Keras' check for the cross-entropies: same rank, then same shape (no broadcasting)."""
    t, p = np.shape(y_true), np.shape(y_pred)
    if len(t) != len(p):
        raise ValueError(
            "Arguments `target` and `output` must have the same rank (ndim). Received: "
            f"target.shape={t}, output.shape={p}{hint}"
        )
    if t != p:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape. Received: "
            f"target.shape={t}, output.shape={p}{hint}"
        )


def _check_same_shape(name, y_true, y_pred):
    t, p = np.shape(y_true), np.shape(y_pred)
    if t != p:
        try:
            np.broadcast_shapes(t, p)
        except ValueError:
            raise ValueError(
                f"{name}: `y_true` and `y_pred` have incompatible shapes. "
                f"Received: y_true.shape={t}, y_pred.shape={p}"
            ) from None


# ---------------------------------------------------------------- functions
def mean_squared_error(y_true, y_pred):
    """`mean(square(y_true - y_pred), axis=-1)`."""
    y_true, y_pred = _match_rank(y_true, y_pred)
    _check_same_shape("mean_squared_error", y_true, y_pred)
    return ops.mean_squared_error(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """`mean(abs(y_true - y_pred), axis=-1)`."""
    y_true, y_pred = _match_rank(y_true, y_pred)
    _check_same_shape("mean_absolute_error", y_true, y_pred)
    return ops.mean(ops.abs(ops.subtract(y_pred, y_true)), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """`100 * mean(abs((y_true - y_pred) / max(abs(y_true), epsilon)), axis=-1)`."""
    from numnet.backend import epsilon
    y_true, y_pred = _match_rank(y_true, y_pred)
    denom = np.maximum(np.abs(y_true), epsilon())
    return ops.multiply(ops.mean(ops.abs(ops.divide(ops.subtract(y_true, y_pred), denom)), axis=-1),
                        100.0)


def mean_squared_logarithmic_error(y_true, y_pred):
    """`mean(square(log(y_true + 1) - log(y_pred + 1)), axis=-1)`."""
    from numnet.backend import epsilon
    y_true, y_pred = _match_rank(y_true, y_pred)
    first = ops.log(ops.add(ops.maximum(y_pred, epsilon()), 1.0))
    second = np.log(np.maximum(y_true, epsilon()) + 1.0)
    return ops.mean(ops.square(ops.subtract(first, second)), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """Quadratic for `|error| <= delta`, linear beyond; averaged over the last axis."""
    y_true, y_pred = _match_rank(y_true, y_pred)
    _check_same_shape("huber", y_true, y_pred)
    error = ops.subtract(y_pred, y_true)
    abs_error = ops.abs(error)
    quadratic = ops.multiply(ops.square(error), 0.5)
    linear = ops.subtract(ops.multiply(abs_error, delta), 0.5 * delta * delta)
    return ops.mean(ops.where(abs_error.data <= delta, quadratic, linear), axis=-1)


def _smooth(y_true, label_smoothing, n_classes):
    if not label_smoothing:
        return y_true
    return y_true * (1.0 - label_smoothing) + label_smoothing / n_classes


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy averaged over the last axis (probabilities clipped to [eps, 1-eps])."""
    y_true, y_pred = _match_rank(y_true, y_pred)
    _require_identical_shape(y_true, y_pred)
    y_true = _smooth(np.asarray(y_true, dtype=np.float32), label_smoothing, 2)
    return ops.mean(ops.binary_crossentropy(y_true, y_pred, from_logits=from_logits), axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Cross-entropy against one-hot targets."""
    y_true = _value(y_true)
    _require_identical_shape(y_true, y_pred, hint=(
        ". categorical_crossentropy expects one-hot `y_true`; for integer class labels use "
        "'sparse_categorical_crossentropy'."))
    y_true = _smooth(y_true.astype(np.float32, copy=False), label_smoothing, np.shape(y_pred)[axis])
    return ops.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def check_sparse_labels(labels, n_classes, pred_shape):
    """Raises a clear error unless every label is a whole number in [0, n_classes)."""
    if not labels.size:
        return
    low, high = labels.min(), labels.max()
    if low < 0 or high >= n_classes or (labels.dtype.kind == "f" and np.any(labels % 1)):
        if low >= 0 and high < n_classes:
            problem = (f"a label value of {labels[labels % 1 != 0].flat[0]}, which is not a "
                       "whole number (labels are class indices)")
        else:
            problem = (f"a label value of {high if high >= n_classes else low}, which is "
                       f"outside the valid range [0, {n_classes - 1}]")
        raise ValueError(
            f"sparse_categorical_crossentropy: received {problem} for y_pred with "
            f"{n_classes} classes (shape {tuple(pred_shape)})."
        )


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Cross-entropy against integer class labels."""
    labels = _value(y_true)
    n_classes = np.shape(y_pred)[-1]
    if labels.ndim == len(np.shape(y_pred)) and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.shape != np.shape(y_pred)[:-1]:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape up until the last "
            f"dimension: target.shape={np.shape(_value(y_true))}, "
            f"output.shape={np.shape(y_pred)}. sparse_categorical_crossentropy expects "
            f"integer labels of shape {np.shape(y_pred)[:-1]} (one per sample)."
        )
    mask = None
    if ignore_class is not None:
        mask = labels != ignore_class
        labels = np.where(mask, labels, 0)
    check_sparse_labels(labels, n_classes, np.shape(y_pred))
    losses = ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=from_logits, axis=axis)
    if mask is not None:
        losses = ops.multiply(losses, mask.astype(losses.data.dtype))
    return losses


def _target_and_prediction(y_true, y_pred):
    """`y_pred` as a float tensor, `y_true` as a constant array of its dtype, ranks matched.

    Float64 and integer predictions become `floatx()` (like the other losses'
    ops); `y_true` never receives a gradient.
    """
    from numnet.backend import floatx
    if not isinstance(y_pred, Tensor):
        value = np.asarray(y_pred)
        if value.dtype.kind != "f" or value.dtype == np.float64:
            value = value.astype(floatx())
        y_pred = Tensor(value)
    elif y_pred.data.dtype.kind != "f":
        y_pred = ops.cast(y_pred, floatx())
    y_true, y_pred = _match_rank(y_true, y_pred)
    return np.asarray(y_true).astype(y_pred.data.dtype, copy=False), y_pred


def kl_divergence(y_true, y_pred):
    """`sum(y_true * log(y_true / y_pred), axis=-1)`, both clipped to `[epsilon, 1]`."""
    from numnet.backend import epsilon
    y_true, y_pred = _target_and_prediction(y_true, y_pred)
    _check_same_shape("kl_divergence", y_true, y_pred)
    y_true = np.clip(y_true, epsilon(), 1.0)
    y_pred = ops.clip(y_pred, epsilon(), 1.0)
    return ops.sum(ops.multiply(y_true, ops.log(ops.divide(y_true, y_pred))), axis=-1)


def poisson(y_true, y_pred):
    """`mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)`."""
    from numnet.backend import epsilon
    y_true, y_pred = _target_and_prediction(y_true, y_pred)
    _check_same_shape("poisson", y_true, y_pred)
    log_pred = ops.log(ops.add(y_pred, epsilon()))
    return ops.mean(ops.subtract(y_pred, ops.multiply(y_true, log_pred)), axis=-1)


def _hinge_labels(y_true):
    """Keras' rule: if every label is 0 or 1, they become -1 or 1; otherwise they are kept."""
    if np.all((y_true == 0) | (y_true == 1)):
        return 2.0 * y_true - 1.0
    return y_true


def _hinge_margins(name, y_true, y_pred):
    y_true, y_pred = _target_and_prediction(y_true, y_pred)
    _check_same_shape(name, y_true, y_pred)
    y_true = _hinge_labels(y_true).astype(y_pred.data.dtype, copy=False)
    return ops.maximum(ops.subtract(1.0, ops.multiply(y_true, y_pred)), 0.0)


def hinge(y_true, y_pred):
    """`mean(maximum(1 - y_true * y_pred, 0), axis=-1)`.

    Labels should be -1 or 1; 0/1 labels are converted to -1/1.
    """
    return ops.mean(_hinge_margins("hinge", y_true, y_pred), axis=-1)


def squared_hinge(y_true, y_pred):
    """`mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)` (0/1 labels become -1/1)."""
    return ops.mean(ops.square(_hinge_margins("squared_hinge", y_true, y_pred)), axis=-1)


def categorical_hinge(y_true, y_pred):
    """`maximum(neg - pos + 1, 0)` with `pos = sum(y_true * y_pred, axis=-1)` and
    `neg = max((1 - y_true) * y_pred, axis=-1)`; `y_true` is one-hot.
    """
    y_true, y_pred = _target_and_prediction(y_true, y_pred)
    _check_same_shape("categorical_hinge", y_true, y_pred)
    positive = ops.sum(ops.multiply(y_true, y_pred), axis=-1)
    negative = ops.max(ops.multiply(1.0 - y_true, y_pred), axis=-1)
    return ops.maximum(ops.add(ops.subtract(negative, positive), 1.0), 0.0)


def log_cosh(y_true, y_pred):
    """`mean(log(cosh(y_pred - y_true)), axis=-1)`, computed as
    `x + softplus(-2 x) - log(2)` so that large errors do not overflow.
    """
    y_true, y_pred = _target_and_prediction(y_true, y_pred)
    _check_same_shape("log_cosh", y_true, y_pred)
    error = ops.subtract(y_pred, y_true)
    value = ops.add(error, ops.softplus(ops.multiply(error, -2.0)))
    return ops.mean(ops.subtract(value, float(np.log(2.0))), axis=-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Applies `sample_weight` (broadcast to the values' shape) and the reduction."""
    vv = values.data
    weights = None
    if sample_weight is not None:
        weights = np.asarray(_value(sample_weight), dtype=vv.dtype)
        if weights.ndim == vv.ndim + 1 and weights.shape[-1] == 1:
            weights = weights.reshape(weights.shape[:-1])
        while weights.ndim < vv.ndim:
            weights = weights[..., None]
        try:
            weights = np.broadcast_to(weights, vv.shape)
        except ValueError:
            raise ValueError(
                f"`sample_weight` of shape {np.shape(_value(sample_weight))} cannot be "
                f"applied to per-sample losses of shape {vv.shape}."
            ) from None
    if reduction in ("none", None):
        return values if weights is None else ops.multiply(values, weights)
    if reduction == "sum":
        return ops.weighted_sum(values, weights)
    if reduction == "mean_with_sample_weight":
        divisor = vv.size if weights is None else float(np.sum(weights))
        return ops.weighted_sum(values, weights, scale=1.0 / divisor if divisor else 0.0)
    size = vv.size
    return ops.weighted_sum(values, weights, scale=1.0 / size if size else 0.0)


# ---------------------------------------------------------------- classes
class Loss:
    """Base class: subclasses implement `call(y_true, y_pred)` returning per-sample losses.

    Args:
        name: the loss name.
        reduction: "sum_over_batch_size" (default), "sum", "mean",
            "mean_with_sample_weight" or "none".
        dtype: the dtype of the computation (floatx by default).
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"Invalid value for argument `reduction`. Expected one of {REDUCTIONS}. "
                f"Received: reduction={reduction!r}"
            )
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction
        self.dtype = dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        values = self.call(y_true, y_pred)
        return reduce_values(values, sample_weight, self.reduction)

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("dtype", None)
        return cls(**config)


def _snake(name):
    from numnet.backend import to_snake_case
    return to_snake_case(name)


class LossFunctionWrapper(Loss):
    """Turns a per-sample loss function into a `Loss` (keyword args are passed through)."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or fn.__name__, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("dtype", None)
        if cls is LossFunctionWrapper:
            fn = get(config.pop("fn"))
            return cls(fn, **config)
        return cls(**config)


@register_builtin("keras.losses")
class MeanSquaredError(LossFunctionWrapper):
    """Mean of squares of errors between labels and predictions."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


@register_builtin("keras.losses")
class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors between labels and predictions."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


@register_builtin("keras.losses")
class MeanAbsolutePercentageError(LossFunctionWrapper):
    """Mean absolute percentage error."""

    def __init__(self, reduction="sum_over_batch_size",
                 name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, reduction=reduction, name=name, dtype=dtype)


@register_builtin("keras.losses")
class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """Mean squared logarithmic error."""

    def __init__(self, reduction="sum_over_batch_size",
                 name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, reduction=reduction, name=name, dtype=dtype)


@register_builtin("keras.losses")
class Huber(LossFunctionWrapper):
    """Huber loss: quadratic for small errors, linear for large ones (robust to outliers)."""

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)

    def get_config(self):
        # Keras 3.15 writes only `name` and `reduction` for Huber (its `delta` is not saved).
        return Loss.get_config(self)


@register_builtin("keras.losses")
class BinaryCrossentropy(LossFunctionWrapper):
    """Cross-entropy for binary (0 or 1) labels, one sigmoid output per label."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits


@register_builtin("keras.losses")
class CategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for one-hot labels."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits


@register_builtin("keras.losses")
class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for integer class labels."""

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name,
                         dtype=dtype, from_logits=from_logits, ignore_class=ignore_class)
        self.from_logits = from_logits



@register_builtin("keras.losses")
class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence between target and predicted distributions."""

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, reduction=reduction, name=name, dtype=dtype)


@register_builtin("keras.losses")
class Poisson(LossFunctionWrapper):
    """Poisson loss: `y_pred - y_true * log(y_pred)`, averaged over the last axis."""

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, reduction=reduction, name=name, dtype=dtype)


@register_builtin("keras.losses")
class Hinge(LossFunctionWrapper):
    """Hinge loss for -1/1 (or 0/1) labels."""

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, reduction=reduction, name=name, dtype=dtype)


@register_builtin("keras.losses")
class SquaredHinge(LossFunctionWrapper):
    """Squared hinge loss for -1/1 (or 0/1) labels."""

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, reduction=reduction, name=name, dtype=dtype)


@register_builtin("keras.losses")
class CategoricalHinge(LossFunctionWrapper):
    """Categorical hinge loss for one-hot labels."""

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, reduction=reduction, name=name, dtype=dtype)


@register_builtin("keras.losses")
class LogCosh(LossFunctionWrapper):
    """Logarithm of the hyperbolic cosine of the prediction error."""

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)


ALL_FUNCTIONS = {
    fn.__name__: fn
    for fn in (mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
               mean_squared_logarithmic_error, huber, binary_crossentropy,
               categorical_crossentropy, sparse_categorical_crossentropy,
               kl_divergence, poisson, hinge, squared_hinge, categorical_hinge, log_cosh)
}
ALIASES = {"mse": mean_squared_error, "mae": mean_absolute_error,
           "mape": mean_absolute_percentage_error, "msle": mean_squared_logarithmic_error,
           "MSE": mean_squared_error, "MAE": mean_absolute_error,
           "MAPE": mean_absolute_percentage_error, "MSLE": mean_squared_logarithmic_error,
           "huber_loss": huber, "kld": kl_divergence, "KLD": kl_divergence,
           "bce": binary_crossentropy, "BCE": binary_crossentropy}
ALL_CLASSES = {cls.__name__: cls for cls in (
    Loss, LossFunctionWrapper, MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, Huber, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy, KLDivergence, Poisson, Hinge, SquaredHinge,
    CategoricalHinge, LogCosh)}
_CLASS_FOR_FUNCTION = {
    mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
    mean_absolute_percentage_error: MeanAbsolutePercentageError,
    mean_squared_logarithmic_error: MeanSquaredLogarithmicError, huber: Huber,
    binary_crossentropy: BinaryCrossentropy, categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    kl_divergence: KLDivergence, poisson: Poisson, hinge: Hinge, squared_hinge: SquaredHinge,
    categorical_hinge: CategoricalHinge, log_cosh: LogCosh,
}


def serialize(loss):
    """The config Keras stores for `loss` (a string for built-in functions)."""
    if callable(loss) and not isinstance(loss, Loss):
        return getattr(loss, "__name__", loss)
    return serialize_keras_object(loss)


def deserialize(config, custom_objects=None):
    """Rebuilds a loss from a name or config."""
    return get(config, custom_objects=custom_objects)


def get(identifier, custom_objects=None):
    """Returns a loss function or object for a string, config, callable or `Loss`."""
    if identifier is None:
        return None
    if isinstance(identifier, Loss) or (callable(identifier) and not isinstance(identifier, (str, dict, type))):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        found = (ALL_FUNCTIONS.get(identifier) or ALIASES.get(identifier)
                 or get_registered_object(identifier, custom_objects))
        if found is None and identifier in ALL_CLASSES:
            found = ALL_CLASSES[identifier]()
        if found is None:
            raise ValueError(
                f"Unknown loss: '{identifier}'. Expected one of "
                f"{sorted(set(ALL_FUNCTIONS) | set(ALIASES) | set(ALL_CLASSES) - {'Loss', 'LossFunctionWrapper'})}"
                ", a `numnet.losses.Loss` or a callable."
            )
        return found
    if isinstance(identifier, dict):
        return deserialize_keras_object(identifier, custom_objects=custom_objects,
                                        module_objects={**ALL_CLASSES, **ALL_FUNCTIONS},
                                        printable_module_name="loss")
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")


def as_loss_object(identifier):
    """Returns a `Loss` instance for any loss identifier (functions get their class)."""
    loss = get(identifier)
    if isinstance(loss, Loss):
        return loss
    cls = _CLASS_FOR_FUNCTION.get(loss)
    if cls is not None:
        return cls()
    return LossFunctionWrapper(loss, name=getattr(loss, "__name__", "loss"))
