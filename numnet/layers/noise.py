"""Noise and activity regularization layers: `GaussianNoise`, `GaussianDropout`,
`AlphaDropout`, `ActivityRegularization`.

The noise layers act only while training (`training=True`, as in `fit`) and
pass their input through otherwise. Their draws come from numnet's random
primitives, so they run in compiled training steps too: from the layer's own
generator when it has a `seed`, else from the global one (reseeded by
`numnet.utils.set_random_seed`).
"""

import math

from numnet.autodiff import ops
from numnet.backend import make_generator
from numnet.kernels.activations import SELU_ALPHA, SELU_SCALE
from numnet.layers.base import Layer
from numnet.regularizers import L1L2
from numnet.serialization import register_builtin


def _unit_interval(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"Invalid value received for argument `{name}`. Expected a float value "
                         f"between 0 and 1. Received: {name}={value!r}")
    return value


class _NoiseLayer(Layer):
    """Built at creation; shape and mask unchanged; its own generator if seeded."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self._generator = make_generator(seed) if seed is not None else None
        self.supports_masking = True
        self.built = True

    def compute_output_shape(self, input_shape):
        return input_shape


@register_builtin("keras.layers")
class GaussianNoise(_NoiseLayer):
    """Adds zero-centred Gaussian noise of standard deviation `stddev` while training.

    Args:
        stddev: float in [0, 1], the noise's standard deviation.
        seed: optional int seed of the noise.
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.stddev = _unit_interval("stddev", stddev)

    def call(self, inputs, training=False):
        if training and self.stddev > 0:
            noise = ops.random_normal(inputs.shape, 0.0, self.stddev, self._generator,
                                      dtype=inputs.dtype)
            return ops.add(inputs, noise)
        return inputs

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


@register_builtin("keras.layers")
class GaussianDropout(_NoiseLayer):
    """Multiplies the inputs by Gaussian noise of mean 1 and variance `rate / (1 - rate)`
    while training.

    Args:
        rate: float in [0, 1), the drop probability of the equivalent Dropout.
        seed: optional int seed of the noise.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _unit_interval("rate", rate)

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            if self.rate >= 1:
                raise ValueError(f"GaussianDropout layer '{self.name}': rate=1 gives noise of "
                                 "infinite variance; use a rate below 1.")
            stddev = math.sqrt(self.rate / (1.0 - self.rate))
            noise = ops.random_normal(inputs.shape, 1.0, stddev, self._generator,
                                      dtype=inputs.dtype)
            return ops.multiply(inputs, noise)
        return inputs

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@register_builtin("keras.layers")
class AlphaDropout(_NoiseLayer):
    """Dropout that keeps the mean and variance of SELU activations while training.

    Dropped entries are set to SELU's negative saturation value and the result
    is rescaled by an affine map that restores mean 0 and variance 1.

    Args:
        rate: float in [0, 1], the drop probability.
        noise_shape: optional shape of the drop mask (None entries: the input's).
        seed: optional int seed of the mask.
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _unit_interval("rate", rate)
        self.noise_shape = noise_shape

    def call(self, inputs, training=False):
        if not (training and self.rate > 0):
            return inputs
        shape = tuple(inputs.shape) if self.noise_shape is None else tuple(
            inputs.shape[i] if d is None else d for i, d in enumerate(self.noise_shape))
        alpha_p = -SELU_ALPHA * SELU_SCALE
        kept = ops.cast(ops.greater_equal(
            ops.random_uniform(shape, 0.0, 1.0, self._generator), self.rate), inputs.dtype)
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        x = ops.add(ops.multiply(inputs, kept), ops.multiply(ops.subtract(1, kept), alpha_p))
        return ops.add(ops.multiply(x, a), b)

    def get_config(self):
        noise_shape = None if self.noise_shape is None else list(self.noise_shape)
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": noise_shape}


@register_builtin("keras.layers")
class ActivityRegularization(Layer):
    """Passes its input through and adds `l1 * sum(|x|) + l2 * sum(x ** 2)`, divided by the
    batch size, to the model's loss.

    Args:
        l1, l2: non-negative penalty factors.
    """

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        kwargs.pop("activity_regularizer", None)
        super().__init__(activity_regularizer=L1L2(l1=l1, l2=l2), **kwargs)
        self.supports_masking = True
        self.l1 = l1
        self.l2 = l2
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)
        return {**config, "l1": self.l1, "l2": self.l2}
