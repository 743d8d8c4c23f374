"""`Wrapper`: the base class of layers that wrap another layer (Keras' `keras.layers.Wrapper`)."""

from numnet.layers.base import Layer
from numnet.serialization import deserialize_keras_object, register_builtin, serialize_keras_object


@register_builtin("keras.layers")
class Wrapper(Layer):
    """A layer holding another layer, `layer`, which its `call()` uses.

    Subclasses write `call()`; building the wrapper builds the wrapped layer
    with the same input shape, and the wrapped layer is saved inside the
    wrapper's config (and shared, not copied, when it is also used elsewhere
    in a model loaded inside an `ObjectSharingScope`, as `load_model` does).

    ```python
    class Twice(numnet.layers.Wrapper):
        def call(self, x):
            return self.layer(self.layer(x))
    ```

    Args:
        layer: the wrapped `Layer`.
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"Layer {layer} supplied to Wrapper isn't a supported layer "
                             "type. Please ensure wrapped layer is a valid Keras layer.")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
            self.layer.built = True
        self.built = True

    def get_config(self):
        return {**super().get_config(), "layer": serialize_keras_object(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = deserialize_keras_object(config.pop("layer"), custom_objects=custom_objects,
                                         printable_module_name="layer")
        return cls(layer, **config)
