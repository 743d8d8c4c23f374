"""`Rescaling`: `inputs * scale + offset` (e.g. pixel values from [0, 255] to [0, 1])."""

from numnet.autodiff import ops
from numnet.backend import xp
from numnet.layers.base import Layer
from numnet.serialization import deserialize_keras_object, register_builtin, serialize_keras_object


@register_builtin("keras.layers")
class Rescaling(Layer):
    """Multiplies the inputs by `scale` and adds `offset`, in the layer's dtype.

    Args:
        scale: a number, or an array broadcastable to the inputs (per feature).
        offset: likewise, 0.0 by default.
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset
        self.supports_masking = True

    def call(self, inputs):
        dtype = self.dtype
        scale = xp.asarray(self.scale, dtype=dtype)
        offset = xp.asarray(self.offset, dtype=dtype)
        return ops.add(ops.multiply(ops.cast(inputs, dtype), scale), offset)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scale": serialize_keras_object(_plain(self.scale)),
                "offset": serialize_keras_object(_plain(self.offset))}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("scale", "offset"):
            if isinstance(config.get(key), dict):
                config[key] = deserialize_keras_object(config[key], custom_objects=custom_objects)
        return cls(**config)


def _plain(value):
    """Arrays as (nested) lists, so that configs stay JSON."""
    return value.tolist() if hasattr(value, "tolist") else value
