"""`Sequential`: a plain stack of layers, each feeding the next."""

from numnet.layers.base import Layer
from numnet.layers.input_layer import InputLayer
from numnet.layers.symbolic import KerasTensor
from numnet.models.model import Model
from numnet.serialization import deserialize_keras_object, register_builtin, serialize_keras_object


@register_builtin("keras")
class Sequential(Model):
    """A model that is a linear stack of layers.

    ```python
    model = numnet.Sequential([
        numnet.layers.Input(shape=[28, 28]),
        numnet.layers.Flatten(),
        numnet.layers.Dense(300, activation="relu"),
        numnet.layers.Dense(10, activation="softmax"),
    ])
    ```

    Without an `Input` (or `input_shape=` on the first layer) the model is
    built on its first call, `fit` or `build(input_shape)`.
    """

    def __init__(self, layers=None, trainable=True, name=None, **kwargs):
        super().__init__(trainable=trainable, name=name, **kwargs)
        self._layers_list = []
        self._input_layer = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_build_from_input()

    @property
    def layers(self):
        """The added layers (the implicit `InputLayer` is not listed, as in Keras)."""
        return list(self._layers_list)

    def _sublayers(self):
        return list(self._layers_list)

    def add(self, layer, rebuild=True):
        """Appends a layer (or an `Input` tensor, which sets the input shape)."""
        if isinstance(layer, KerasTensor):
            layer = layer._keras_history[0]
        if not isinstance(layer, Layer):
            raise ValueError(
                "Only instances of `numnet.layers.Layer` can be added to a Sequential model. "
                f"Received: {layer!r} (of type {type(layer).__name__})"
            )
        if isinstance(layer, InputLayer):
            if self._input_layer is not None or self._layers_list:
                raise ValueError(
                    f"Sequential model '{self.name}': an InputLayer can only be the first "
                    "layer of the model."
                )
            self._input_layer = layer
        else:
            if any(existing.name == layer.name for existing in self._layers_list):
                raise ValueError(
                    "All layers added to a Sequential model should have unique names. Name "
                    f"'{layer.name}' is already the name of a layer in this model. Update "
                    "the `name` argument to pass a unique name."
                )
            if not self._layers_list and self._input_layer is None and \
                    layer._batch_input_shape is not None:
                self._input_layer = InputLayer(batch_shape=layer._batch_input_shape)
            self._layers_list.append(layer)
        self.built = False
        self._train_vars = None
        self._structure_changed()
        if rebuild:
            self._maybe_build_from_input()

    def pop(self, rebuild=True):
        """Removes and returns the last layer."""
        if not self._layers_list:
            raise TypeError("There are no layers in the model.")
        layer = self._layers_list.pop()
        self.built = False
        self._structure_changed()
        if rebuild:
            self._maybe_build_from_input()
        return layer

    def _maybe_build_from_input(self):
        if self._input_layer is not None and self._layers_list:
            self._build_if_needed(self._input_layer.batch_shape)

    def build(self, input_shape=None):
        """Builds every layer in turn from `input_shape` (batch axis included)."""
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError(
                    f"Sequential model '{self.name}' cannot be built without an input shape. "
                    "Pass one to build(), start the model with numnet.Input(shape=...), or "
                    "call the model on data."
                )
            input_shape = self._input_layer.batch_shape
        shape = tuple(input_shape)
        self._build_shapes = (None,) + shape[1:]
        if self._input_layer is None:
            self._inferred_input_shape = (None,) + shape[1:]
        for layer in self._layers_list:
            if not layer.built:
                layer._check_input_spec(shape)
                layer._build_if_needed(shape)
            else:
                layer._check_input_spec(shape)
            shape = tuple(layer.compute_output_shape(shape))
            layer._output_shape = (None,) + tuple(shape[1:])
        self.built = True

    def call(self, inputs, training=None):
        for layer in self._layers_list:
            inputs = layer(inputs, training=training)
        return inputs

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self._layers_list:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    @property
    def input_shape(self):
        if self._input_layer is not None:
            return self._input_layer.batch_shape
        if self._build_shapes is not None:
            return self._build_shapes
        raise AttributeError(f"Sequential model '{self.name}' has no defined input shape yet.")

    @property
    def output_shape(self):
        if not self._layers_list or self._layers_list[-1]._output_shape is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined output shape yet.")
        return self._layers_list[-1]._output_shape

    @property
    def output_names(self):
        return [self._layers_list[-1].name] if self._layers_list else []

    @property
    def inputs(self):
        if self._input_layer is None:
            return None
        return [self._input_layer.output]

    def get_config(self):
        layers = []
        if self._input_layer is not None:
            layers.append(serialize_keras_object(self._input_layer))
        elif self._build_shapes is not None:
            layers.append({"module": "keras.layers", "class_name": "InputLayer",
                           "config": {"batch_shape": list(self._build_shapes), "dtype": self.dtype,
                                      "sparse": False, "ragged": False, "name": "input_layer",
                                      "optional": False},
                           "registered_name": None})
        layers += [serialize_keras_object(layer) for layer in self._layers_list]
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": {"module": "keras", "class_name": "DTypePolicy",
                            "config": {"name": self.dtype}, "registered_name": None},
                  "layers": layers}
        if self._build_shapes is not None:
            config["build_input_shape"] = list(self._build_shapes)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for layer_config in config.get("layers", []):
            layer = deserialize_keras_object(layer_config, custom_objects=custom_objects,
                                             printable_module_name="layer")
            model.add(layer, rebuild=False)
        model._maybe_build_from_input()
        if not model.built and config.get("build_input_shape"):
            model._build_if_needed(tuple(config["build_input_shape"]))
        return model

    def get_build_config(self):
        return None
