"""`Input()` and `InputLayer`: where a graph of layers starts."""

from numnet.layers.base import Layer
from numnet.layers.symbolic import KerasTensor
from numnet.serialization import register_builtin


@register_builtin("keras.layers")
class InputLayer(Layer):
    """The layer behind `Input()`: it holds the symbolic input tensor.

    Args:
        shape: the shape of one sample, without the batch axis.
        batch_size: an optional fixed batch size.
        dtype: the input dtype (floatx by default).
        batch_shape: the full shape including the batch axis (instead of `shape`).
        name: the input's name (used to feed inputs by name).
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, ragged=None, **kwargs):
        if "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        super().__init__(name=name, dtype=dtype, **kwargs)
        if sparse:
            raise ValueError(f"InputLayer '{self.name}': sparse inputs are not supported.")
        if shape is not None and batch_shape is not None:
            raise ValueError("You cannot pass both `shape` and `batch_shape` at the same time.")
        if shape is None and batch_shape is None:
            raise ValueError(
                f"InputLayer '{self.name}': you must pass a `shape` argument "
                "(the shape of one sample, e.g. shape=(28, 28))."
            )
        if batch_shape is None:
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size,) + tuple(shape)
        self.batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self.optional = optional
        self.built = True
        output = KerasTensor(self.batch_shape, dtype=self.dtype, name=self.name,
                             keras_history=(self, 0, 0))
        from numnet.layers.symbolic import Node
        self._inbound_nodes.append(Node(self, (), {}, output))
        self._output_shape = self.batch_shape

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return self.batch_shape

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "sparse": False,
                "ragged": False, "name": self.name, "optional": self.optional}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        dtype = config.get("dtype")
        if isinstance(dtype, dict):
            config["dtype"] = dtype.get("config", {}).get("name")
        config.pop("trainable", None)
        return cls(**config)

    def get_build_config(self):
        return None


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          tensor=None, optional=False, ragged=None):
    """Starts a Functional model: returns a symbolic tensor for inputs of `shape`.

    Example:

    ```python
    inputs = numnet.Input(shape=(8,), name="features")
    outputs = numnet.layers.Dense(1)(inputs)
    model = numnet.Model(inputs, outputs)
    ```
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       batch_shape=batch_shape, name=name, optional=optional)
    return layer.output
