"""Streaming metrics: `Metric`, `Mean`, `Sum`, `MeanMetricWrapper`.

A metric accumulates state over batches with `update_state(...)`, reports it
with `result()` and starts over with `reset_state()`; calling it does an
update and returns the result, as in Keras. State lives in float64 Variables
(Keras keeps float32 ones) so that long epochs don't lose precision; results
are NumPy float32 scalars like Keras' float32 tensors.
"""


from numnet.autodiff import ops
from numnet.autodiff.primitive import CAPTURES, host_call
from numnet.autodiff.tensor import Tensor, Variable
from numnet.backend import standardize_dtype, to_snake_case, unique_name, xp
from numnet.serialization import (
    deserialize_keras_object,
    register_builtin,
    serialize_keras_object,
)

_STATE_DTYPE = "float64"


def _as_tensor(x):
    """`x` as a tensor (arrays wrapped as they are: metric state is float64 anyway)."""
    return x if isinstance(x, Tensor) else ops.convert_to_tensor(xp.asarray(x), dtype=xp.asarray(x).dtype)


def _array(x):
    """A NumPy array from an array-like, Tensor or Variable."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, xp.ndarray):
        return x
    return xp.asarray(x)


def _masked_weights(sample_weight, mask):
    """`sample_weight * mask` with Keras' rank matching (the mask alone if no weights)."""
    mask = xp.asarray(mask, dtype=xp.float64)
    if sample_weight is None:
        return mask
    sample_weight = xp.asarray(_array(sample_weight), dtype=xp.float64)
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

    # True when `update_state` is written with numnet ops (its state updated with
    # `assign_add`): a compiled step then captures the update as kernels that
    # accumulate into the state arrays. Otherwise the update is a host call.
    captured_update = False

    def __init_subclass__(cls, **kwargs):
        """Each metric's `update_state` is captured (see `captured_update`) or a host call,
        and `result` is a host call: a compiled step never freezes their Python."""
        super().__init_subclass__(**kwargs)
        update = cls.__dict__.get("update_state")
        if update is not None and not getattr(update, "host_call", False):
            cls.update_state = _update_call(update)
        result = cls.__dict__.get("result")
        if result is not None and not getattr(result, "host_call", False):
            cls.result = host_call(result)

    def __init__(self, dtype=None, name=None):
        self.name = name or unique_name(to_snake_case(self.__class__.__name__))
        self._dtype = standardize_dtype(dtype)
        self._start_tracking()

    def _start_tracking(self):
        if "_variables" not in self.__dict__:
            object.__setattr__(self, "_variables", [])
            object.__setattr__(self, "_metrics", [])

    def __setattr__(self, name, value):
        """Tracks the variables and sub-metrics assigned as attributes (also inside lists,
        tuples and dicts), as Keras' metrics do: they count among `variables`."""
        object.__setattr__(self, name, value)
        if name in ("_variables", "_metrics") or not isinstance(
                value, (Variable, Metric, list, tuple, dict)):
            return
        self._start_tracking()
        for item in _tracked_leaves(value):
            if isinstance(item, Variable):
                if all(item is not v for v in self._variables):
                    self._variables.append(item)
            elif item is not self and all(item is not m for m in self._metrics):
                self._metrics.append(item)

    @property
    def dtype(self):
        return self._dtype

    @property
    def variables(self):
        """The state variables: the metric's own, then those of its sub-metrics."""
        variables = list(self._variables)
        for metric in self._metrics:
            variables.extend(metric.variables)
        return variables

    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum",
                     name=None):
        """Creates a state variable: zeros unless `initializer` (a name, an initializer, or
        the initial value itself, as an array or tensor) says otherwise."""
        dtype = standardize_dtype(dtype) if dtype else _STATE_DTYPE
        shape = tuple(shape)
        if isinstance(initializer, (Tensor, xp.ndarray, list)):
            value = xp.broadcast_to(xp.asarray(_array(initializer), dtype=dtype), shape)
        elif initializer is None or (isinstance(initializer, str) and initializer == "zeros"):
            value = xp.zeros(shape, dtype=dtype)
        else:
            from numnet import initializers

            value = initializers.get(initializer)(shape, dtype=dtype)
        variable = Variable(value, dtype=dtype, trainable=False, name=name or "variable")
        variable.path = f"{self.name}/{variable.name}"
        self._variables.append(variable)
        return variable

    add_weight = add_variable

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self):
        """Zeroes every state variable (sub-metrics' included)."""
        for v in self.variables:
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
            v.data[...] = xp.asarray(store[str(i)])

    def __repr__(self):
        return f"<{self.__class__.__name__} name={self.name}>"

    __str__ = __repr__


def _tracked_leaves(value):
    """The Variables and Metrics in `value` (itself, or inside nested lists/tuples/dicts)."""
    if isinstance(value, (Variable, Metric)):
        return [value]
    items = value.values() if isinstance(value, dict) else \
        value if isinstance(value, (list, tuple)) else ()
    return [leaf for item in items for leaf in _tracked_leaves(item)]


def _update_call(method):
    """`update_state` run as is, or as a host call inside a capture (see `captured_update`)."""
    def update_state(self, *args, **kwargs):
        if CAPTURES and not self.captured_update:
            return CAPTURES[-1].host(method, (self,) + args, kwargs)
        return method(self, *args, **kwargs)
    update_state.__name__ = method.__name__
    update_state.__qualname__ = method.__qualname__
    update_state.__doc__ = method.__doc__
    update_state.__wrapped__ = method
    update_state.host_call = True
    return update_state


def _result_scalar(value, dtype):
    return xp.dtype(dtype).type(value)


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
        self.total.data += values.sum(dtype=xp.float64)

    def result(self):
        return _result_scalar(self.total.data, self.dtype)


def reduce_to_samplewise_values(values, sample_weight, reduction="mean"):
    """Keras' reduction of `values` to one value per sample, times its weight.

    Returns `(weighted_values, sample_weight)`; both may keep a leading batch
    axis. `reduction` ("mean" or "sum") reduces the axes beyond the weights'.
    """
    values = _array(values)
    reduce_fn = xp.mean if reduction == "mean" else xp.sum
    if sample_weight is not None:
        sample_weight = _array(sample_weight).astype(xp.float64, copy=False)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        weight_ndim, values_ndim = sample_weight.ndim, values.ndim
        if values_ndim > weight_ndim:
            values = reduce_fn(values, axis=tuple(range(weight_ndim, values_ndim)),
                               dtype=xp.float64)
        sample_weight = xp.broadcast_to(sample_weight, values.shape)
        values = values * sample_weight
        if weight_ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, weight_ndim)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)), dtype=xp.float64)
    return values, sample_weight


def reduce_to_samplewise_tensors(values, sample_weight, reduction="mean"):
    """`reduce_to_samplewise_values` with ops (for captured updates), in float64."""
    values = ops.cast(_as_tensor(values), "float64")
    mean = reduction == "mean"
    sample_weight = ops.cast(_as_tensor(sample_weight), "float64")
    values, sample_weight = squeeze_or_expand_tensors(values, sample_weight)
    weight_ndim, values_ndim = sample_weight.ndim, values.ndim
    if values_ndim > weight_ndim:
        axes = tuple(range(weight_ndim, values_ndim))
        values = ops.mean(values, axis=axes) if mean else ops.sum(values, axis=axes)
    # The weights broadcast to the values count as broadcast in the weights' sum too
    # (Keras: a (1, 2) weight row on (2, 2) values weighs both samples).
    sample_weight = ops.broadcast_to(sample_weight, values.shape)
    values = values * sample_weight
    if weight_ndim > 1:
        axes = tuple(range(1, weight_ndim))
        sample_weight = ops.mean(sample_weight, axis=axes) if mean else \
            ops.sum(sample_weight, axis=axes)
    if values.ndim > 1:
        axes = tuple(range(1, values.ndim))
        values = ops.mean(values, axis=axes) if mean else ops.sum(values, axis=axes)
    return values, sample_weight


def squeeze_or_expand_tensors(x1, x2, expand_rank_1=True):
    """`squeeze_or_expand_to_same_rank` on tensors (reshapes are ops)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = ops.expand_dims(x2, -1)
        else:
            x1 = ops.squeeze(x1, -1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = ops.expand_dims(x1, -1)
        else:
            x2 = ops.squeeze(x2, -1)
    return x1, x2


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

    captured_update = True

    def update_state(self, values, sample_weight=None):
        # Written with ops, so a compiled step accumulates it in kernels; the sums
        # are float64 like the state (Keras keeps float32).
        values = _as_tensor(values)
        if sample_weight is None:
            ops.accumulate_mean(self.total, self.count, values, 1.0 if values.ndim == 0 else None)
            return
        if values.ndim == 0 and xp.ndim(sample_weight) == 0 and \
                not isinstance(sample_weight, Tensor):
            # A batch value weighted by the batch size (how loss trackers are fed).
            ops.accumulate_mean(self.total, self.count, values, float(sample_weight))
            return
        values, sample_weight = reduce_to_samplewise_tensors(values, sample_weight, "mean")
        self.total.assign_add(ops.sum(values))
        self.count.assign_add(ops.sum(sample_weight))

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

    @property
    def captured_update(self):
        """Captured when its function is written with numnet ops (`fn.uses_ops`)."""
        return getattr(self._fn, "uses_ops", False)

    def update_state(self, y_true, y_pred, sample_weight=None):
        mask = getattr(y_pred, "_keras_mask", None)
        if self.captured_update:
            values = self._fn(y_true, y_pred, **self._fn_kwargs)
            if mask is not None:  # as Keras: the predictions' mask weighs the samples (0/1)
                from numnet.autodiff.ops.masking import apply_mask
                sample_weight = apply_mask(sample_weight, mask, self.dtype, reduction="sum")
        else:
            values = self._fn(_array(y_true), _array(y_pred), **self._fn_kwargs)
            if mask is not None:
                sample_weight = _masked_weights(sample_weight, _array(mask))
        return super().update_state(values, sample_weight=sample_weight)

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
