"""Streaming metrics: `Metric`, `Mean`, `Sum`, `MeanMetricWrapper`.

A metric accumulates state over batches with `update_state(...)`, reports it
with `result()` and starts over with `reset_state()`; calling it does an
update and returns the result, as in Keras. State lives in float64 Variables
(Keras keeps float32 ones) so that long epochs don't lose precision; results
are NumPy float32 scalars like Keras' float32 tensors.
"""

import numpy as np

from numnet.autodiff.primitive import host_call
from numnet.autodiff.tensor import Tensor, Variable
from numnet.backend import standardize_dtype, to_snake_case, unique_name, xp
from numnet.serialization import (
    deserialize_keras_object,
    register_builtin,
    serialize_keras_object,
)

_STATE_DTYPE = "float64"


def _array(x):
    """A NumPy array from an array-like, Tensor or Variable."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, np.ndarray):
        return x
    return np.asarray(x)


def _masked_weights(sample_weight, mask):
    """`sample_weight * mask` with Keras' rank matching (the mask alone if no weights)."""
    mask = np.asarray(mask, dtype=np.float64)
    if sample_weight is None:
        return mask
    sample_weight = np.asarray(_array(sample_weight), dtype=np.float64)
    mask, sample_weight = squeeze_or_expand_to_same_rank(mask, sample_weight)
    return sample_weight * mask


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Makes ranks equal when they differ by a trailing dimension of 1 (Keras' rule).

    If one array has one more dimension and that last dimension is 1, it is
    squeezed, except that a rank-1 partner is expanded instead when
    `expand_rank_1` is True.
    """
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[:, None]
        else:
            x1 = x1[..., 0]
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[:, None]
        else:
            x2 = x2[..., 0]
    return x1, x2


class Metric:
    """Base class of stateful metrics.

    Subclasses create their state with `add_variable` in `__init__` and
    implement `update_state(...)` and `result()`.

    Args:
        dtype: the metric's dtype (its result's), default `floatx()`.
        name: default: the snake-case class name, made unique.
    """

    # "up" if larger is better, "down" if smaller is better (used by callbacks
    # to pick `mode="auto"`); None if unknown.
    _direction = None

    def __init_subclass__(cls, **kwargs):
        """Every metric's `update_state` and `result` are host calls (see `host_call`):
        a compiled step calls them at each replay instead of freezing their Python."""
        super().__init_subclass__(**kwargs)
        for name in ("update_state", "result"):
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "host_call", False):
                setattr(cls, name, host_call(method))

    def __init__(self, dtype=None, name=None):
        self.name = name or unique_name(to_snake_case(self.__class__.__name__))
        self._dtype = standardize_dtype(dtype)
        self._variables = []

    @property
    def dtype(self):
        return self._dtype

    @property
    def variables(self):
        """The state variables."""
        return list(self._variables)

    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum",
                     name=None):
        """Creates a state variable (zeros unless `initializer` says otherwise)."""
        value = xp.zeros(tuple(shape), dtype=dtype or _STATE_DTYPE)
        if initializer not in (None, "zeros"):
            from numnet import initializers

            value = initializers.get(initializer)(tuple(shape), dtype=dtype or _STATE_DTYPE)
        variable = Variable(value, dtype=dtype or _STATE_DTYPE, trainable=False,
                            name=name or "variable")
        variable.path = f"{self.name}/{variable.name}"
        self._variables.append(variable)
        return variable

    add_weight = add_variable

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self):
        """Zeroes every state variable."""
        for v in self._variables:
            v.data[...] = 0

    def __call__(self, *args, **kwargs):
        """Updates the state with one batch and returns the result."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def save_own_variables(self, store):
        for i, v in enumerate(self._variables):
            store[str(i)] = v.data.copy()

    def load_own_variables(self, store):
        for i, v in enumerate(self._variables):
            v.data[...] = np.asarray(store[str(i)])

    def __repr__(self):
        return f"<{self.__class__.__name__} name={self.name}>"

    __str__ = __repr__


def _result_scalar(value, dtype):
    return np.dtype(dtype).type(value)


def _divide_no_nan(a, b):
    return a / b if b != 0 else 0.0


@register_builtin("keras.metrics")
class Sum(Metric):
    """The (weighted) sum of the values seen."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(name="total")

    def update_state(self, values, sample_weight=None):
        values, _ = reduce_to_samplewise_values(values, sample_weight, "sum")
        self.total.data += values.sum(dtype=np.float64)

    def result(self):
        return _result_scalar(self.total.data, self.dtype)


def reduce_to_samplewise_values(values, sample_weight, reduction="mean"):
    """Keras' reduction of `values` to one value per sample, times its weight.

    Returns `(weighted_values, sample_weight)`; both may keep a leading batch
    axis. `reduction` ("mean" or "sum") reduces the axes beyond the weights'.
    """
    values = _array(values)
    reduce_fn = np.mean if reduction == "mean" else np.sum
    if sample_weight is not None:
        sample_weight = _array(sample_weight).astype(np.float64, copy=False)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        weight_ndim, values_ndim = sample_weight.ndim, values.ndim
        if values_ndim > weight_ndim:
            values = reduce_fn(values, axis=tuple(range(weight_ndim, values_ndim)),
                               dtype=np.float64)
        sample_weight = np.broadcast_to(sample_weight, values.shape)
        values = values * sample_weight
        if weight_ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, weight_ndim)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)), dtype=np.float64)
    return values, sample_weight


@register_builtin("keras.metrics")
class Mean(Metric):
    """The (weighted) mean of the values seen: `sum(w * x) / sum(w)`.

    Values of shape `(n, ...)` count as `n` samples (each the mean of its
    entries); `sample_weight` weights the samples.
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(name="total")
        self.count = self.add_variable(name="count")

    def _add_sum(self, total, count):
        """Adds `total`, the sum of `count` per-sample values computed elsewhere.

        The fused training step uses it to feed the loss tracker and metrics
        from numbers the loss already computed.
        """
        self.total.data += total
        self.count.data += count

    def update_state(self, values, sample_weight=None):
        values = _array(values)
        if sample_weight is None:
            # Fast path: the mean of each sample's entries, summed over samples.
            if values.ndim == 0:
                self.total.data += float(values)
                self.count.data += 1.0
                return
            n = values.shape[0]
            per_sample = values.size // n if n else 1
            total = values.sum(dtype=np.float64)
            self.total.data += total / per_sample if per_sample != 1 else total
            self.count.data += n
            return
        sample_weight = _array(sample_weight)
        if values.ndim == 0 and sample_weight.ndim == 0:
            # A batch value weighted by the batch size (how loss trackers are fed).
            weight = float(sample_weight)
            self.total.data += float(values) * weight
            self.count.data += weight
            return
        if values.ndim == 0 and np.ndim(sample_weight) == 0:
            # A batch loss weighted by the batch size: the training loop's per-step call.
            weight = float(sample_weight)
            self.total.data += float(values) * weight
            self.count.data += weight
            return
        values, sample_weight = reduce_to_samplewise_values(values, sample_weight, "mean")
        self.total.data += np.sum(values, dtype=np.float64)
        self.count.data += np.sum(sample_weight, dtype=np.float64)

    def result(self):
        return _result_scalar(_divide_no_nan(float(self.total.data), float(self.count.data)),
                              self.dtype)


# Functions whose values are losses/errors: wrapping them makes a "down" metric.
_LOSS_FUNCTION_NAMES = {
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "huber", "hinge", "squared_hinge",
    "categorical_hinge", "log_cosh", "kl_divergence", "poisson", "mse", "mae", "mape",
    "msle",
}


def _is_loss(fn):
    if getattr(fn, "__name__", None) in _LOSS_FUNCTION_NAMES:
        return True
    module = getattr(type(fn), "__module__", "") or ""
    return module.startswith("numnet.losses")


@register_builtin("keras.metrics")
class MeanMetricWrapper(Mean):
    """The weighted mean of `fn(y_true, y_pred, **kwargs)` over all samples.

    Args:
        fn: a function returning one value per sample (or per entry).
        name: the metric's name.
        dtype: the result dtype.
        **kwargs: extra keyword arguments for `fn`.
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs
        if _is_loss(fn):
            self._direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None):
        mask = getattr(y_pred, "_keras_mask", None)
        values = self._fn(_array(y_true), _array(y_pred), **self._fn_kwargs)
        if mask is not None:  # as Keras: the mask of the predictions weighs the samples (0/1)
            sample_weight = _masked_weights(sample_weight, _array(mask))
        return super().update_state(_array(values), sample_weight=sample_weight)

    def get_config(self):
        if type(self) is not MeanMetricWrapper:
            # Subclasses fix their function: their config is their constructor's
            # arguments (name and dtype unless they add their own).
            return Metric.get_config(self)
        config = {**super().get_config(), "fn": serialize_keras_object(self._fn)}
        config.update(serialize_keras_object(self._fn_kwargs))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" not in config:  # subclasses (Accuracy, MeanSquaredError, ...) fix their fn
            return cls(**config)
        fn = config.pop("fn")
        if isinstance(fn, str):
            from numnet import metrics as metrics_module

            fn = metrics_module.get_function(fn)
        elif not callable(fn):
            fn = deserialize_keras_object(fn, printable_module_name="metric function")
        return cls(fn, **config)
