"""Losses as functions, classes and strings, as in `keras.losses`.

A loss function maps `(y_true, y_pred)` to one value per sample; a `Loss`
object then applies sample weights and the reduction (Keras' default
`"sum_over_batch_size"`: the weighted sum divided by the number of values, not
by the sum of the weights).
"""

import numpy as np

from numnet.autodiff import ops
from numnet.autodiff.ops.masking import apply_mask, combine_masks, get_keras_mask
from numnet.autodiff.tensor import Tensor
from numnet.serialization import (
    deserialize_keras_object, get_registered_object, register_builtin, serialize_keras_object,
)

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _value(x):
    """The array behind a tensor or array-like (for checks only, never for the math)."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _tensor(x, dtype=None):
    """`x` as a tensor (no copy of a tensor); float64 arrays become floatx, or `dtype`."""
    if not isinstance(x, Tensor):
        x = ops.convert_to_tensor(x)
    if dtype is not None and x.dtype != np.dtype(dtype).name:
        x = ops.cast(x, dtype)
    return x


def _prediction(y_pred):
    """`y_pred` as a float tensor (float64 and integer arrays become floatx)."""
    from numnet.backend import floatx
    y_pred = _tensor(y_pred)
    if y_pred.data.dtype.kind != "f":
        y_pred = ops.cast(y_pred, floatx())
    return y_pred


def _match_rank(y_true, y_pred):
    """Squeezes or expands a trailing length-1 axis so ranks agree, as Keras does."""
    t, p = np.shape(_value(y_true)) if not isinstance(y_true, Tensor) else y_true.shape, \
        np.shape(y_pred) if not isinstance(y_pred, Tensor) else y_pred.shape
    if len(t) == len(p) + 1 and t[-1] == 1:
        return ops.reshape(_tensor(y_true), t[:-1]), y_pred
    if len(p) == len(t) + 1 and p[-1] == 1:
        return ops.reshape(_tensor(y_true), tuple(t) + (1,)), y_pred
    return y_true, y_pred


def _check_same_shape(name, y_true, y_pred):
    t, p = tuple(ops.shape(y_true)), tuple(ops.shape(y_pred))
    if t != p:
        try:
            np.broadcast_shapes(t, p)
        except ValueError:
            raise ValueError(
                f"{name}: `y_true` and `y_pred` have incompatible shapes. "
                f"Received: y_true.shape={t}, y_pred.shape={p}"
            ) from None


def _target_and_prediction(y_true, y_pred, name=None):
    """`y_pred` as a float tensor, `y_true` as a tensor of its dtype, ranks matched.

    `y_true` never receives a gradient.
    """
    y_pred = _prediction(y_pred)
    y_true, y_pred = _match_rank(y_true, y_pred)
    if name is not None:
        _check_same_shape(name, y_true, y_pred)
    return _tensor(y_true, y_pred.data.dtype), y_pred


# ---------------------------------------------------------------- functions
def mean_squared_error(y_true, y_pred):
    """`mean(square(y_true - y_pred), axis=-1)`."""
    y_true, y_pred = _target_and_prediction(y_true, y_pred, "mean_squared_error")
    return ops.mean_squared_error(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """`mean(abs(y_true - y_pred), axis=-1)`."""
    y_true, y_pred = _target_and_prediction(y_true, y_pred, "mean_absolute_error")
    return ops.mean(ops.abs(ops.subtract(y_pred, y_true)), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """`100 * mean(abs((y_true - y_pred) / max(abs(y_true), epsilon)), axis=-1)`."""
    from numnet.backend import epsilon
    y_true, y_pred = _target_and_prediction(y_true, y_pred)
    denom = ops.maximum(ops.abs(y_true), epsilon())
    return ops.multiply(ops.mean(ops.abs(ops.divide(ops.subtract(y_true, y_pred), denom)), axis=-1),
                        100.0)


def mean_squared_logarithmic_error(y_true, y_pred):
    """`mean(square(log(y_true + 1) - log(y_pred + 1)), axis=-1)`."""
    from numnet.backend import epsilon
    y_true, y_pred = _target_and_prediction(y_true, y_pred)
    first = ops.log(ops.add(ops.maximum(y_pred, epsilon()), 1.0))
    second = ops.log(ops.add(ops.maximum(y_true, epsilon()), 1.0))
    return ops.mean(ops.square(ops.subtract(first, second)), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """Quadratic for `|error| <= delta`, linear beyond; averaged over the last axis."""
    y_true, y_pred = _target_and_prediction(y_true, y_pred, "huber")
    error = ops.subtract(y_pred, y_true)
    abs_error = ops.abs(error)
    quadratic = ops.multiply(ops.square(error), 0.5)
    linear = ops.subtract(ops.multiply(abs_error, delta), 0.5 * delta * delta)
    return ops.mean(ops.where(ops.less_equal(abs_error, delta), quadratic, linear), axis=-1)


def _smooth(y_true, label_smoothing, n_classes):
    if not label_smoothing:
        return y_true
    return y_true * (1.0 - label_smoothing) + label_smoothing / n_classes


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy averaged over the last axis (probabilities clipped to [eps, 1-eps])."""
    y_true, y_pred = _match_rank(y_true, _tensor(y_pred))
    _check_same_shape("binary_crossentropy", y_true, y_pred)
    y_true = _smooth(_tensor(y_true, np.float32), label_smoothing, 2)
    return ops.mean(ops.binary_crossentropy(y_true, y_pred, from_logits=from_logits), axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Cross-entropy against one-hot targets."""
    if tuple(ops.shape(y_true)) != tuple(ops.shape(y_pred)):
        raise ValueError(
            "categorical_crossentropy expects one-hot `y_true` with the same shape as "
            f"`y_pred`. Received: y_true.shape={tuple(ops.shape(y_true))}, "
            f"y_pred.shape={tuple(ops.shape(y_pred))}. For integer class labels use "
            "'sparse_categorical_crossentropy'."
        )
    y_true = _smooth(_tensor(y_true, np.float32), label_smoothing, ops.shape(y_pred)[axis])
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
    labels = _tensor(y_true)
    pred_shape = tuple(ops.shape(y_pred))
    n_classes = pred_shape[-1]
    if labels.ndim == len(pred_shape) and labels.shape[-1] == 1:
        labels = ops.reshape(labels, labels.shape[:-1])
    if tuple(labels.shape) != pred_shape[:-1]:
        raise ValueError(
            "sparse_categorical_crossentropy expects integer labels of shape "
            f"{pred_shape[:-1]} (one per sample) for y_pred of shape "
            f"{pred_shape}. Received: y_true.shape={tuple(ops.shape(y_true))}"
        )
    mask = None
    if ignore_class is not None:
        mask = ops.not_equal(labels, ignore_class)
        labels = ops.where(mask, labels, 0)
    # A check of the values, not part of the computation: fit checks all labels
    # before its first step, so a compiled replay need not repeat it.
    check_sparse_labels(labels.data, n_classes, pred_shape)
    losses = ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=from_logits, axis=axis)
    if mask is not None:
        losses = ops.multiply(losses, ops.cast(mask, losses.data.dtype))
    return losses


def kl_divergence(y_true, y_pred):
    """`sum(y_true * log(y_true / y_pred), axis=-1)`, both clipped to `[epsilon, 1]`."""
    from numnet.backend import epsilon
    y_true, y_pred = _target_and_prediction(y_true, y_pred, "kl_divergence")
    y_true = ops.clip(y_true, epsilon(), 1.0)
    y_pred = ops.clip(y_pred, epsilon(), 1.0)
    return ops.sum(ops.multiply(y_true, ops.log(ops.divide(y_true, y_pred))), axis=-1)


def poisson(y_true, y_pred):
    """`mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)`."""
    from numnet.backend import epsilon
    y_true, y_pred = _target_and_prediction(y_true, y_pred, "poisson")
    log_pred = ops.log(ops.add(y_pred, epsilon()))
    return ops.mean(ops.subtract(y_pred, ops.multiply(y_true, log_pred)), axis=-1)


def _hinge_labels(y_true):
    """Keras' rule: if every label is 0 or 1, they become -1 or 1; otherwise they are kept."""
    binary = ops.all(ops.logical_or(ops.equal(y_true, 0), ops.equal(y_true, 1)))
    return ops.where(binary, ops.subtract(ops.multiply(y_true, 2.0), 1.0), y_true)


def _hinge_margins(name, y_true, y_pred):
    y_true, y_pred = _target_and_prediction(y_true, y_pred, name)
    y_true = _hinge_labels(y_true)
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
    y_true, y_pred = _target_and_prediction(y_true, y_pred, "categorical_hinge")
    positive = ops.sum(ops.multiply(y_true, y_pred), axis=-1)
    negative = ops.max(ops.multiply(ops.subtract(1.0, y_true), y_pred), axis=-1)
    return ops.maximum(ops.add(ops.subtract(negative, positive), 1.0), 0.0)


def log_cosh(y_true, y_pred):
    """`mean(log(cosh(y_pred - y_true)), axis=-1)`, computed as
    `x + softplus(-2 x) - log(2)` so that large errors do not overflow.
    """
    y_true, y_pred = _target_and_prediction(y_true, y_pred, "log_cosh")
    error = ops.subtract(y_pred, y_true)
    value = ops.add(error, ops.softplus(ops.multiply(error, -2.0)))
    return ops.mean(ops.subtract(value, float(np.log(2.0))), axis=-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error


def _sample_weights(sample_weight, values):
    """`sample_weight` as a tensor broadcast to the per-sample losses' shape."""
    weights = _tensor(sample_weight, values.data.dtype)
    shape = tuple(values.shape)
    if weights.ndim == len(shape) + 1 and weights.shape[-1] == 1:
        weights = ops.reshape(weights, weights.shape[:-1])
    if weights.ndim < len(shape):
        weights = ops.reshape(weights, tuple(weights.shape) + (1,) * (len(shape) - weights.ndim))
    try:
        np.broadcast_shapes(tuple(weights.shape), shape)
        if np.broadcast_shapes(tuple(weights.shape), shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"`sample_weight` of shape {tuple(ops.shape(sample_weight))} cannot be "
            f"applied to per-sample losses of shape {shape}."
        ) from None
    return ops.broadcast_to(weights, shape)


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Applies `sample_weight` (broadcast to the values' shape) and the reduction."""
    weights = None if sample_weight is None else _sample_weights(sample_weight, values)
    if reduction in ("none", None):
        return values if weights is None else ops.multiply(values, weights)
    if reduction == "sum":
        return ops.weighted_sum(values, weights)
    size = values.data.size
    if reduction == "mean_with_sample_weight":
        if weights is None:
            return ops.weighted_sum(values, None, scale=1.0 / size if size else 0.0)
        total = ops.sum(weights)
        # divide_no_nan: a batch whose weights sum to 0 has loss 0, as in Keras
        safe = ops.where(ops.equal(total, 0), 1.0, total)
        return ops.divide(ops.weighted_sum(values, weights), safe)
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
        in_mask = get_keras_mask(y_pred)
        values = self.call(y_true, y_pred)
        mask = combine_masks(in_mask, get_keras_mask(values))
        if mask is not None:  # as Keras: a mask on the predictions weighs the samples
            sample_weight = apply_mask(sample_weight, mask, values.dtype, self.reduction)
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
           "huber_loss": huber, "kld": kl_divergence, "KLD": kl_divergence}
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
