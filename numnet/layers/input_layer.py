"""`Input()` and `InputLayer`: where a graph of layers starts."""

import warnings

from numnet.backend import xp

from numnet.layers.base import Layer
from numnet.layers.symbolic import KerasTensor, Node
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

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None,
                 batch_shape=None, input_tensor=None, optional=False, name=None, **kwargs):
        if "input_shape" in kwargs:
            warnings.warn("Argument `input_shape` is deprecated. Use `shape` instead.",
                          stacklevel=2)
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        super().__init__(name=name, dtype=dtype, **kwargs)
        if input_tensor is not None:
            batch_shape = _check_input_tensor(input_tensor, shape, batch_size, batch_shape, dtype)
            if sparse is not None and bool(sparse) != input_tensor.sparse:
                raise ValueError("When providing the `input_tensor` argument, you cannot "
                                 "provide an incompatible `sparse` argument.")
            self.dtype = input_tensor.dtype
        else:
            if shape is not None and batch_shape is not None:
                raise ValueError("You cannot pass both `shape` and `batch_shape` at the same time.")
            if batch_size is not None and batch_shape is not None:
                raise ValueError(
                    "You cannot pass both `batch_size` and `batch_shape` at the same time.")
            if shape is None and batch_shape is None:
                raise ValueError(
                    f"You must pass a `shape` argument (InputLayer '{self.name}': the shape of "
                    "one sample, e.g. shape=(28, 28)).")
            if batch_shape is None:
                if isinstance(shape, (int, xp.integer)):
                    shape = (shape,)
                batch_shape = (batch_size,) + tuple(shape)
        if sparse:
            raise ValueError("`sparse=True` is not supported with the numnet backend")
        if ragged:
            raise ValueError("`ragged=True` is not supported with the numnet backend")
        self.batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self.sparse = False
        self.ragged = False
        self.optional = optional
        self.built = True
        if input_tensor is None:
            input_tensor = KerasTensor(self.batch_shape, dtype=self.dtype, name=self.name)
        input_tensor._keras_history = (self, 0, 0)
        self._inbound_nodes.append(Node(self, (), {}, input_tensor))
        self._output_shape = self.batch_shape

    def call(self):
        """An InputLayer computes nothing: its output is the symbolic input itself."""
        return None

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


def _check_input_tensor(tensor, shape, batch_size, batch_shape, dtype):
    """The batch shape of an `input_tensor`, checked against the other arguments."""
    if not isinstance(tensor, KerasTensor):
        raise ValueError(
            "Argument `input_tensor` must be a KerasTensor. Received invalid type: "
            f"input_tensor={tensor!r} (of type {type(tensor)})")
    if batch_size is not None and (not tensor.shape or tensor.shape[0] != batch_size):
        raise ValueError("When providing the `input_tensor` argument, you cannot provide an "
                         "incompatible `batch_size` argument.")
    if shape is not None and tuple(shape) != tuple(tensor.shape[1:]):
        raise ValueError("When providing the `input_tensor` argument, you cannot provide an "
                         "incompatible `shape` argument.")
    if batch_shape is not None and tuple(batch_shape) != tuple(tensor.shape):
        raise ValueError("When providing the `input_tensor` argument, you cannot provide an "
                         "incompatible `batch_shape` argument.")
    if dtype is not None and tensor.dtype != dtype:
        raise ValueError("When providing the `input_tensor` argument, you cannot provide an "
                         "incompatible `dtype` argument.")
    return tensor.shape


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
                       batch_shape=batch_shape, name=name, input_tensor=tensor,
                       optional=optional, ragged=ragged)
    return layer.output
