"""`Masking`: marks the entries whose features all equal `mask_value` as padding."""

from numnet.autodiff import ops
from numnet.autodiff.ops.masking import set_keras_mask
from numnet.layers.base import Layer
from numnet.serialization import deserialize_keras_object, register_builtin


@register_builtin("keras.layers")
class Masking(Layer):
    """Masks the entries (rows of the last axis) in which every feature equals `mask_value`.

    The output is the input with those entries zeroed, and it carries a mask
    (False there) that losses, metrics and mask-aware layers downstream
    honour. On a `(batch, features)` input a masked entry is a whole sample:
    it counts in no loss or metric.

    Args:
        mask_value: the padding value (0.0 by default).
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, dict) and mask_value.get("config", None):
            mask_value = deserialize_keras_object(mask_value)
        self.mask_value = mask_value
        self.supports_masking = True
        self.built = True

    def compute_mask(self, inputs, mask=None):
        return ops.any(ops.not_equal(inputs, self.mask_value), axis=-1)

    def call(self, inputs):
        keep = ops.any(ops.not_equal(inputs, self.mask_value), axis=-1, keepdims=True)
        outputs = ops.where(keep, inputs, 0)
        set_keras_mask(outputs, ops.squeeze(keep, -1))
        return outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
