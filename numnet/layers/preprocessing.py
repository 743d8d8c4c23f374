"""`Normalization`: standardizes features with a mean and variance learned by `adapt()`."""

import numpy as np

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

    Args:
        axis: the axis (or axes) that keep separate statistics; -1 means one
            mean and variance per feature.
        mean, variance: fixed statistics instead of `adapt()`.
        invert: undo the normalization instead (`mean + x * std`).
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # as Keras' Normalization
        if axis is None:
            axis = ()
        self.axis = (axis,) if isinstance(axis, int) else tuple(axis)
        if (mean is None) != (variance is None):
            raise ValueError(
                f"Normalization '{self.name}': pass both `mean` and `variance`, or neither. "
                f"Received: mean={mean}, variance={variance}"
            )
        self.input_mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.input_variance = None if variance is None else np.asarray(variance, dtype=np.float64)
        self.invert = invert
        self._adapted = mean is not None

    def _stat_shape(self, input_shape):
        ndim = len(input_shape)
        kept = tuple(a % ndim for a in self.axis)
        for a in kept:
            if input_shape[a] is None:
                raise ValueError(
                    f"Normalization '{self.name}': axis {a} of the input shape "
                    f"{tuple(input_shape)} must be known."
                )
        return tuple(input_shape[a] for a in sorted(kept)), kept

    def build(self, input_shape):
        shape, kept = self._stat_shape(tuple(input_shape))
        self._kept_axes = kept
        self._input_ndim = len(input_shape)
        self.mean = self.add_weight(shape=shape, initializer="zeros", trainable=False, name="mean")
        self.variance = self.add_weight(shape=shape, initializer="ones", trainable=False,
                                        name="variance")
        self.count = self.add_weight(shape=(), initializer="zeros", dtype="int64", trainable=False,
                                     name="count")
        if self.input_mean is not None:
            self.mean.assign(np.broadcast_to(self.input_mean, shape))
            self.variance.assign(np.broadcast_to(self.input_variance, shape))
            # Keras keeps given statistics as constants, not weights: its `.keras`
            # files hold no variables for this layer, so neither do numnet's.
            fixed = {id(self.mean), id(self.variance), id(self.count)}
            self._non_trainable_variables = [v for v in self._non_trainable_variables
                                             if id(v) not in fixed]
        self.built = True

    def _broadcast_shape(self, ndim):
        shape = [1] * ndim
        for a, n in zip(sorted(self._kept_axes), self.mean.data.shape):
            shape[a] = n
        return shape

    def adapt(self, data, batch_size=None, steps=None):
        """Learns the mean and variance of `data` (an array or an iterable of batches).

        Statistics are merged batch by batch in float64 (Chan et al.'s parallel
        variance), so the result equals NumPy's mean/var over the whole data.
        """
        if isinstance(data, Tensor):
            data = data.data
        if isinstance(data, np.ndarray) or isinstance(data, (list, tuple)) and data and \
                not hasattr(data[0], "__array__") or isinstance(data, (list, tuple)) and \
                data and np.ndim(data[0]) == 0:
            array = np.asarray(data)
            step = batch_size or 4096
            batches = (array[i:i + step] for i in range(0, len(array), step))
        else:
            batches = (np.asarray(getattr(b, "data", b)) for b in data)
        total, mean, m2 = 0, None, None
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            if not self.built:
                self._build_if_needed((None,) + batch.shape[1:])
            if batch.ndim != self._input_ndim:
                raise ValueError(
                    f"Normalization '{self.name}': adapt() received a batch of shape "
                    f"{batch.shape}, expected rank {self._input_ndim}."
                )
            if not np.all(np.isfinite(batch)):
                raise ValueError(f"Normalization '{self.name}': adapt() data contains NaN or inf.")
            reduce_axes = tuple(a for a in range(batch.ndim) if a not in self._kept_axes)
            batch = batch.astype(np.float64)
            n = int(np.prod([batch.shape[a] for a in reduce_axes])) if reduce_axes else 1
            if n == 0:
                continue
            b_mean = batch.mean(axis=reduce_axes, keepdims=True)
            b_m2 = np.square(batch - b_mean).sum(axis=reduce_axes, keepdims=True)
            if mean is None:
                total, mean, m2 = n, b_mean, b_m2
            else:
                delta = b_mean - mean
                new_total = total + n
                mean = mean + delta * (n / new_total)
                m2 = m2 + b_m2 + np.square(delta) * (total * n / new_total)
                total = new_total
        if mean is None:
            raise ValueError(f"Normalization '{self.name}': adapt() received no data.")
        shape = self.mean.data.shape
        self.mean.assign(mean.reshape(shape))
        self.variance.assign((m2 / total).reshape(shape))
        self.count.assign(np.asarray(total, dtype=np.int64))
        self._adapted = True

    def call(self, inputs):
        # Computed from the variables with ops (not from their arrays), so that a
        # compiled step follows a later `adapt()`.
        shape = self._broadcast_shape(inputs.ndim)
        mean = ops.reshape(self.mean, shape)
        std = ops.reshape(ops.maximum(ops.sqrt(self.variance), epsilon()), shape)
        if self.invert:
            return ops.affine(inputs, ops.divide(mean, std), std)  # x * std + mean
        return ops.affine(inputs, ops.negative(mean), ops.divide(1.0, std))  # (x - mean) / std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {**super().get_config(), "axis": list(self.axis), "invert": self.invert,
                  "mean": None if self.input_mean is None else self.input_mean.tolist(),
                  "variance": None if self.input_variance is None else self.input_variance.tolist()}
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("axis"), list):
            config["axis"] = tuple(config["axis"])
        return super().from_config(config)
