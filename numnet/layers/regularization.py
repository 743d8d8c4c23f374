"""`Dropout`: randomly zeroes inputs during training (and only then)."""

from numnet.autodiff import ops
from numnet.backend import make_generator
from numnet.layers.base import Layer
from numnet.serialization import register_builtin


@register_builtin("keras.layers")
class Dropout(Layer):
    """Sets a fraction `rate` of the inputs to 0 at each training step.

    The kept inputs are scaled by `1 / (1 - rate)` so that their expected sum
    is unchanged; at inference (`training` false, as in `predict` and
    `evaluate`) the layer passes its input through.

    Args:
        rate: float in [0, 1), the fraction of inputs to drop.
        noise_shape: optional shape of the binary mask (1 on axes where the
            mask is shared), e.g. `(batch_size, 1, features)`.
        seed: optional int seed for the mask.
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(
                "Invalid value received for argument `rate`. Expected a float value "
                f"between 0 and 1. Received: rate={rate!r}"
            )
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._generator = make_generator(seed) if seed is not None else None
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        shape = inputs.shape if self.noise_shape is None else tuple(
            n if d is None else d for d, n in zip(self.noise_shape, inputs.shape))
        mask = ops.dropout_mask(shape, self.rate, self._generator, dtype=inputs.data.dtype)
        return ops.multiply(inputs, mask)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape)}
