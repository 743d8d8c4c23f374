"""`Normalization`: standardizes features with a mean and variance learned by `adapt()`."""

import itertools

from numnet.backend import xp

from numnet.autodiff import ops
from numnet.autodiff.tensor import Tensor
from numnet.backend import epsilon
from numnet.layers.base import Layer
from numnet.serialization import register_builtin


@register_builtin("keras.layers")
class Normalization(Layer):
    """Shifts and scales inputs to zero mean and unit variance per feature.

    Call `adapt(data)` before training to learn the statistics; they are kept as
    non-trainable weights (`mean`, `variance`, `count`), so they are saved with
    the model. `adapt` streams over the data in batches, so it works on data
    larger than one batch (and on an iterable of batches).

    As in Keras, `layer.mean` and `layer.variance` are the statistics in the
    shape that broadcasts against the inputs (`(1, 10, 13, 1)` for `axis=(1, 2)`
    on inputs of shape `(None, 10, 13, 3)`); the weights hold them in the reduced
    shape (`(10, 13)`).

    Args:
        axis: the axis (or axes) that keep separate statistics; -1 means one
            mean and variance per feature, None one for the whole input.
        mean, variance: fixed statistics instead of `adapt()` (a scalar, or an
            array aligned with the last of the kept axes).
        invert: undo the normalization instead (`mean + x * std`).
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        self.axis = (axis,) if isinstance(axis, int) else tuple(axis)
        self.input_mean = mean
        self.input_variance = variance
        self.invert = invert
        self.supports_masking = True
        self._build_input_shape = None
        self._fixed_mean = self._fixed_variance = None
        if (mean is None) != (variance is None):
            raise ValueError(
                "When setting values directly, both `mean` and `variance` must be set. "
                f"Received: mean={mean} and variance={variance}"
            )
        if mean is not None:
            if xp.shape(mean) != xp.shape(variance):
                raise ValueError(
                    "When setting values directly, `mean` and `variance` must have the same "
                    f"shape. Received: mean shape {xp.shape(mean)} and variance shape "
                    f"{xp.shape(variance)}"
                )
            if xp.ndim(mean) > len(self.axis):
                raise ValueError(
                    f"The rank of `mean` must be less than or equal to the number of axes "
                    f"({len(self.axis)}). Received: mean shape {xp.shape(mean)} for axis "
                    f"{self.axis}"
                )

    # -------------------------------------------------------------- build
    def build(self, input_shape):
        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(
                f"All `axis` values must be in the range [-ndim, ndim). Received inputs with "
                f"ndim={ndim}, while axis={self.axis}"
            )
        keep = tuple(sorted(a % ndim for a in self.axis))
        for a in keep:
            if input_shape[a] is None:
                raise ValueError(
                    f"All `axis` values to be kept must have a known shape. Received "
                    f"axis={self.axis}, inputs.shape={input_shape}, with unknown axis at "
                    f"index {a}"
                )
        self._build_input_shape = input_shape
        self._keep_axis = keep
        self._reduce_axis = tuple(a for a in range(ndim) if a not in keep)
        self._broadcast_shape = tuple(input_shape[a] if a in keep else 1 for a in range(ndim))
        stat_shape = tuple(input_shape[a] for a in keep)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(shape=stat_shape, initializer="zeros",
                                              trainable=False, name="mean")
            self.adapt_variance = self.add_weight(shape=stat_shape, initializer="ones",
                                                  trainable=False, name="variance")
            self.count = self.add_weight(shape=(), initializer="zeros", dtype="int64",
                                         trainable=False, name="count")
        else:
            # Given statistics are constants, not weights (Keras' files hold no variables
            # for this layer then, and neither do numnet's).
            self._fixed_mean = self._broadcast_given(self.input_mean)
            self._fixed_variance = self._broadcast_given(self.input_variance)
        self.built = True

    def _broadcast_given(self, value):
        """A given statistic in the broadcast shape: its axes align with the last kept axes."""
        value = xp.asarray(value, dtype=self.dtype)
        expanded = [1] * len(self._broadcast_shape)
        for i in range(1, value.ndim + 1):
            expanded[self._keep_axis[-i]] = value.shape[-i]
        return xp.broadcast_to(value.reshape(expanded), self._broadcast_shape).copy()

    @property
    def mean(self):
        """The mean in the inputs' broadcast shape (None until the layer is built)."""
        return self._statistic("_fixed_mean", "adapt_mean")

    @property
    def variance(self):
        """The variance in the inputs' broadcast shape (None until the layer is built)."""
        return self._statistic("_fixed_variance", "adapt_variance")

    def _statistic(self, fixed, weight):
        if not self.built or self._build_input_shape is None:
            return None
        if self.input_mean is not None:
            return Tensor(getattr(self, fixed))
        return Tensor(getattr(self, weight).data.reshape(self._broadcast_shape))

    # -------------------------------------------------------------- adapt
    def adapt(self, data, batch_size=None, steps=None):
        """Learns the mean and variance of `data`: an array, or an iterable of batches.

        An iterable may yield arrays or `(x, y, ...)` tuples (only `x` is used).
        Statistics are merged batch by batch in float64 (Chan et al.'s parallel
        variance), so the result equals NumPy's mean/var over the whole data.
        `batch_size` splits an array into batches; `steps` stops an iterable early.
        """
        batches, first = self._batches(data, batch_size)
        if not self.built:
            self._build_if_needed((None,) + tuple(first.shape[1:]))
        self._check_adapt_shape(first.shape, "adapt() is being called with data with an "
                                             f"incompatible shape, data.shape={first.shape}")
        total, mean, m2 = 0, None, None
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            self._check_adapt_shape(batch.shape, "adapt() yielded a batch with incompatible "
                                                 f"shape. Expected {self._build_input_shape}, "
                                                 f"got {tuple(batch.shape)}.")
            if not xp.all(xp.isfinite(batch)):
                raise ValueError(f"Normalization '{self.name}': adapt() data contains NaN or inf.")
            n = int(xp.prod([batch.shape[a] for a in self._reduce_axis]))
            if n == 0:
                continue
            batch = batch.astype(xp.float64)
            b_mean = batch.mean(axis=self._reduce_axis)
            b_m2 = xp.square(batch - batch.mean(axis=self._reduce_axis, keepdims=True)).sum(
                axis=self._reduce_axis)
            if mean is None:
                total, mean, m2 = n, b_mean, b_m2
            else:
                delta = b_mean - mean
                new_total = total + n
                mean = mean + delta * (n / new_total)
                m2 = m2 + b_m2 + xp.square(delta) * (total * n / new_total)
                total = new_total
        if mean is None:
            raise ValueError(f"Normalization '{self.name}': adapt() received no data.")
        self.adapt_mean.assign(mean)
        self.adapt_variance.assign(m2 / total)
        self.count.assign(xp.asarray(total, dtype=xp.int64))

    def _batches(self, data, batch_size):
        """(an iterator over the data's batches as arrays, the first batch)."""
        if isinstance(data, Tensor):
            data = data.data
        if isinstance(data, xp.ndarray):
            if data.ndim == 0:
                raise ValueError(f"Normalization '{self.name}': adapt() needs a batch of "
                                 f"samples; received a scalar {data!r}.")
            step = batch_size or 4096
            return (data[i:i + step] for i in range(0, max(len(data), 1), step)), data
        if not hasattr(data, "__iter__") and hasattr(data, "__getitem__") and \
                hasattr(data, "__len__"):  # a PyDataset-style sequence of batches
            sequence = data
            data = (sequence[i] for i in range(len(sequence)))
        if not hasattr(data, "__iter__"):
            raise TypeError(
                f"Unsupported data type: {type(data)}. `adapt` supports NumPy arrays, "
                "tensors, and iterables of batches (e.g. a list of arrays or a generator)."
            )
        iterator = iter(data)
        first = next(iterator, None)
        if first is None:
            raise ValueError(
                "adapt() received an empty iterable (no batches). Expected at least one "
                "batch. Pass a non-empty iterable of arrays or tensors, e.g. "
                "layer.adapt([x]) or layer.adapt(list_of_batches)."
            )
        first = _batch_features(first)
        return (_batch_features(b) for b in itertools.chain([first], iterator)), first

    def _check_adapt_shape(self, shape, message):
        if len(shape) != len(self._build_input_shape) or any(
                shape[a] != self._build_input_shape[a] for a in self._keep_axis):
            raise ValueError(f"The layer was built with input_shape={self._build_input_shape}, "
                             f"but {message}")

    # -------------------------------------------------------------- call
    def call(self, inputs):
        # Computed from the variables with ops (not from their arrays), so that a
        # compiled step follows a later `adapt()`.
        if self.input_mean is None:
            mean = ops.reshape(self.adapt_mean, self._broadcast_shape)
            variance = ops.reshape(self.adapt_variance, self._broadcast_shape)
        else:
            mean, variance = self._fixed_mean, self._fixed_variance
        mean = ops.cast(mean, inputs.dtype)
        std = ops.cast(ops.maximum(ops.sqrt(variance), epsilon()), inputs.dtype)
        if self.invert:
            return ops.affine(inputs, ops.divide(mean, std), std)  # x * std + mean
        return ops.affine(inputs, ops.negative(mean), ops.divide(1.0, std))  # (x - mean) / std

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        return mask

    # ------------------------------------------------------------- config
    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": xp.array(self.input_mean).tolist(),
                "variance": xp.array(self.input_variance).tolist()}

    def get_build_config(self):
        if self._build_input_shape is None:
            return None
        return {"input_shape": list(self._build_input_shape)}

    def build_from_config(self, config):
        if config and not self.built:
            self._build_if_needed(tuple(config["input_shape"]))


def _batch_features(batch):
    """The features of one batch: `x` of an `(x, y, ...)` tuple, as an array with a shape."""
    if isinstance(batch, (tuple, list)) and batch:
        batch = batch[0]
    batch = getattr(batch, "data", batch) if isinstance(batch, Tensor) else batch
    if not hasattr(batch, "shape"):
        raise TypeError(
            "adapt() expects an iterable that yields arrays or tensors with a `.shape` "
            f"attribute (e.g. numpy arrays). Got an element of type {type(batch).__name__}."
        )
    return xp.asarray(batch)
