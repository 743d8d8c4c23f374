"""`Sequential`: a plain stack of layers, each feeding the next."""

import inspect
import numbers

from numnet.layers.base import Layer, name_scope_of
from numnet.layers.input_layer import InputLayer
from numnet.layers.symbolic import KerasTensor, producer
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
    built on its first call, `fit` or `build(input_shape)`. Once the input
    shape is known the model also holds the equivalent Functional graph
    (`inputs`, `outputs`, each layer's `output`), as Keras does.
    """

    def __init__(self, layers=None, trainable=True, name=None, **kwargs):
        super().__init__(trainable=trainable, name=name, **kwargs)
        self._layers_list = []
        self._input_layer = None
        self._functional = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_build_from_input()

    @property
    def layers(self):
        """The added layers (the implicit `InputLayer` is not listed, as in Keras)."""
        return list(self._layers_list)

    @layers.setter
    def layers(self, value):
        raise AttributeError(
            "`Sequential.layers` attribute is reserved and should not be used. Use `add()` and "
            "`pop()` to change the layers in this model."
        )

    def _sublayers(self):
        return list(self._layers_list)

    def add(self, layer, rebuild=True):
        """Appends a layer (or an `Input` tensor, which sets the input shape)."""
        if isinstance(layer, KerasTensor) and isinstance(producer(layer), InputLayer):
            layer = producer(layer)
        if not isinstance(layer, Layer):
            raise ValueError(
                "Only instances of `numnet.layers.Layer` can be added to a Sequential model. "
                f"Received: {layer!r} (of type {type(layer)})"
            )
        if any(existing.name == layer.name and existing is not layer
               for existing in self._layers_list):
            raise ValueError(
                "All layers added to a Sequential model should have unique names. Name "
                f"'{layer.name}' is already the name of a layer in this model. Update "
                "the `name` argument to pass a unique name."
            )
        if isinstance(layer, InputLayer):
            if self._input_layer is not None:
                raise ValueError(
                    f"Sequential model '{self.name}' has already been configured to use input "
                    f"shape {self._input_layer.batch_shape}. You cannot add a different Input "
                    "layer to it."
                )
            if self._layers_list:
                raise ValueError(
                    f"Sequential model '{self.name}': an InputLayer can only be the first "
                    "layer of the model."
                )
            self._input_layer = layer
        else:
            if not self._layers_list and self._input_layer is None and \
                    layer._batch_input_shape is not None:
                self._input_layer = InputLayer(batch_shape=layer._batch_input_shape)
            self._layers_list.append(layer)
        self._unbuild()
        self._structure_changed()
        if rebuild:
            self._maybe_build_from_input()

    def pop(self, rebuild=True):
        """Removes and returns the last layer."""
        if not self._layers_list:
            raise TypeError("There are no layers in the model.")
        layer = self._layers_list.pop()
        self._unbuild()
        self._structure_changed()
        if rebuild:
            self._maybe_build_from_input()
        return layer

    def _unbuild(self):
        self.built = False
        self._functional = None
        self._train_vars = None

    def _maybe_build_from_input(self):
        if self._input_layer is not None and self._layers_list:
            self._build_if_needed(self._input_layer.batch_shape)

    def build(self, input_shape=None):
        """Builds every layer in turn from `input_shape` (batch axis included).

        A structured input (a dict of arrays) leaves the model to run layer after layer
        without a graph, as in Keras.
        """
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError(
                    f"Sequential model '{self.name}' cannot be built without an input shape. "
                    "Pass one to build(), start the model with numnet.Input(shape=...), or "
                    "call the model on data."
                )
            input_shape = self._input_layer.batch_shape
        if not _is_shape(input_shape):
            self.built = True
            return
        if not self._layers_list:
            raise ValueError(
                f"Sequential model {self.name} cannot be built because it has no layers. "
                "Call `model.add(layer)`."
            )
        input_shape = tuple(None if d is None else int(d) for d in input_shape)
        if self._input_layer is None:
            dtype = self._layers_list[0].dtype
            self._input_layer = InputLayer(batch_shape=(None,) + input_shape[1:], dtype=dtype)
        elif self._input_layer.batch_shape != input_shape:
            raise ValueError(
                f"Sequential model '{self.name}' has already been configured to use input "
                f"shape {self._input_layer.batch_shape}. You cannot build it with input_shape "
                f"{input_shape}"
            )
        self._build_shapes = self._input_layer.batch_shape
        with name_scope_of(self):  # its layers' weights: "sequential/dense/kernel", as Keras
            self._functional = self._build_graph()
        self.built = True

    def _build_graph(self):
        """The equivalent Functional model (None if a layer cannot infer its output shape)."""
        from numnet.models.functional import Functional
        x = self._input_layer.output
        for layer in self._layers_list:
            try:
                x = layer(x)
            except NotImplementedError:
                return None
            except (TypeError, ValueError) as error:
                if isinstance(error, TypeError) or isinstance(error.__cause__, TypeError):
                    _check_single_positional(layer)
                raise
        return Functional(self._input_layer.output, x)

    def call(self, inputs, training=None):
        for layer in self._layers_list:
            inputs = layer(inputs, training=training)
        return inputs

    def compute_output_spec(self, inputs, training=None, mask=None):
        if self._functional is not None:
            return self._functional.compute_output_spec(inputs)
        for layer in self._layers_list:
            inputs = layer.compute_output_spec(inputs)
        return inputs

    def compute_output_shape(self, input_shape):
        if self._functional is not None:
            return self._functional.compute_output_shape(input_shape)
        shape = tuple(input_shape)
        for layer in self._layers_list:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    def _graph(self, what):
        if self._functional is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined {what} yet.")
        return self._functional

    @property
    def input_layer(self):
        """The model's `InputLayer` (None until its input shape is known)."""
        return self._input_layer

    @property
    def input_shape(self):
        return self._graph("input shape").input_shape

    @property
    def output_shape(self):
        return self._graph("output shape").output_shape

    @property
    def inputs(self):
        return self._graph("inputs").inputs

    @property
    def outputs(self):
        return self._graph("outputs").outputs

    @property
    def input(self):
        return self._graph("input").input

    @property
    def output(self):
        return self._graph("output").output

    @property
    def output_names(self):
        return [self._layers_list[-1].name] if self._layers_list else []

    def get_config(self):
        layers = []
        if self._input_layer is not None:
            layers.append(serialize_keras_object(self._input_layer))
        layers += [serialize_keras_object(layer) for layer in self._layers_list]
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": {"module": "keras", "class_name": "DTypePolicy",
                            "config": {"name": self.dtype}, "registered_name": None},
                  "layers": layers}
        if self._functional is not None:
            config["build_input_shape"] = self._input_layer.batch_shape
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if "name" not in config or "layers" not in config:
            raise ValueError(
                "A Sequential model configuration must be a dictionary containing the 'name' "
                f"and 'layers' keys. Received: config={config}"
            )
        model = cls(name=config["name"], trainable=config.get("trainable", True))
        for layer_config in config["layers"]:
            if not isinstance(layer_config, dict) or "config" not in layer_config:
                raise ValueError(
                    "Expected a dictionary containing a 'config' key for each layer of a "
                    f"Sequential model. Received: {layer_config}"
                )
            layer = deserialize_keras_object(layer_config, custom_objects=custom_objects,
                                             printable_module_name="layer")
            model.add(layer, rebuild=False)
        model._maybe_build_from_input()
        shape = config.get("build_input_shape")
        if not model.built and isinstance(shape, (list, tuple)) and shape:
            model._build_if_needed(tuple(shape))
        return model

    def get_build_config(self):
        return None


def _is_shape(shape):
    return isinstance(shape, (list, tuple)) and all(
        d is None or isinstance(d, numbers.Integral) for d in shape)


def _check_single_positional(layer):
    """Keras' errors for a layer whose `call` cannot take the one input of a Sequential."""
    params = [p for p in inspect.signature(layer.call).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in params if p.default is p.empty]
    if not params:
        raise ValueError(
            "Layers added to a Sequential model should have a single positional argument, "
            f"the input tensor. Layer {type(layer).__name__} has no positional arguments."
        )
    if len(required) > 1:
        raise ValueError(
            "Layers added to a Sequential model can only have a single required positional "
            f"argument, the input tensor. Layer {type(layer).__name__} has multiple required "
            f"positional arguments: {required}"
        )
