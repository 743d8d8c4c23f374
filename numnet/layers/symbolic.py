"""Symbolic tensors: what `Input()` returns and what calling a layer on one returns.

A `KerasTensor` has a shape (batch axis `None`), a dtype and a history
(`layer, node_index, tensor_index`) pointing at the `Node` that produced it.
Calling layers on them computes nothing: it records the graph that a
Functional model later runs.
"""

from numnet.backend import xp

from numnet.backend import standardize_dtype
from numnet.tree import flatten


class KerasTensor:
    """A placeholder for a tensor in a layer graph: a shape, a dtype and where it came from."""

    # The symbolic mask the producing layer computed (Keras' `backend.get_keras_mask`).
    _keras_mask = None

    def __init__(self, shape, dtype=None, sparse=False, ragged=False, record_history=True,
                 name=None, keras_history=None):
        if sparse or ragged:
            raise ValueError(
                f"numnet has no sparse or ragged tensors. Received: sparse={sparse}, "
                f"ragged={ragged}"
            )
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = standardize_dtype(dtype)
        self.sparse = False
        self.ragged = False
        self.name = name
        self._keras_history = keras_history

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return (f"<KerasTensor shape={self.shape}, dtype={self.dtype}, "
                f"name={self.name}>")

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other

    def __bool__(self):
        raise TypeError("A symbolic KerasTensor cannot be used as a boolean.")

    def __iter__(self):
        raise NotImplementedError("Iterating over a symbolic KerasTensor is not supported.")

    # NumPy must not turn a KerasTensor into an array: `array + tensor` then falls back to
    # the tensor's reflected operator.
    __array_ufunc__ = None

    def __array__(self, *args, **kwargs):
        raise ValueError(
            f"A symbolic KerasTensor ({self.name}, shape {self.shape}) has no value: it is "
            "a placeholder for building Functional models. Call the model on real data "
            "instead, or use layers and numnet.ops (not NumPy functions) on symbolic tensors."
        )

    def __int__(self):
        raise ValueError("A KerasTensor is symbolic: it has no value to convert to an int.")

    def __float__(self):
        raise ValueError("A KerasTensor is symbolic: it has no value to convert to a float.")

    def reshape(self, newshape):
        return _op("reshape", self, newshape)

    def squeeze(self, axis=None):
        return _op("squeeze", self, axis)


def _op(name, *args):
    from numnet.layers.op_layer import symbolic_op
    return symbolic_op(name, *args)


def _binary(name, reflected=False):
    if reflected:
        return lambda self, other: _op(name, other, self)
    return lambda self, other: _op(name, self, other)


# Operators on symbolic tensors record ops in the graph, as in Keras 3.
for _name, _op_name in [("add", "add"), ("sub", "subtract"), ("mul", "multiply"),
                        ("matmul", "matmul"), ("truediv", "true_divide"),
                        ("floordiv", "floor_divide"), ("mod", "mod"), ("pow", "power"),
                        ("and", "logical_and"), ("or", "logical_or"),
                        ("xor", "logical_xor")]:
    setattr(KerasTensor, f"__{_name}__", _binary(_op_name))
    setattr(KerasTensor, f"__r{_name}__", _binary(_op_name, reflected=True))
for _name, _op_name in [("lt", "less"), ("le", "less_equal"), ("gt", "greater"),
                        ("ge", "greater_equal"), ("ne", "not_equal")]:
    setattr(KerasTensor, f"__{_name}__", _binary(_op_name))
KerasTensor.__neg__ = lambda self: _op("negative", self)
KerasTensor.__abs__ = lambda self: _op("abs", self)
KerasTensor.__invert__ = lambda self: _op("logical_not", self)
KerasTensor.__getitem__ = lambda self, key: _op("get_item", self, key)
KerasTensor.__round__ = lambda self, ndigits=None: _op("round", self, ndigits or 0)


class Node:
    """One call of a layer in a graph: its inbound tensors, call kwargs and outputs."""

    def __init__(self, layer, call_args, call_kwargs, outputs):
        self.layer = layer
        self.call_args = call_args
        self.call_kwargs = call_kwargs
        self.outputs = outputs

    @property
    def input_tensors(self):
        return [t for t in flatten(self.call_args) if isinstance(t, KerasTensor)]

    @property
    def output_tensors(self):
        return flatten(self.outputs)

    @property
    def parent_nodes(self):
        nodes = []
        for t in self.input_tensors:
            layer, node_index, _ = t._keras_history
            nodes.append(layer._inbound_nodes[node_index])
        return nodes


def keras_history(tensor):
    """`(layer, node_index, tensor_index)`: where the symbolic `tensor` came from (None for
    anything else). The layer is an `InputLayer` for an `Input`."""
    history = getattr(tensor, "_keras_history", None)
    return tuple(history) if history else None


def producer(tensor):
    """The layer whose call made the symbolic `tensor` (None for anything else)."""
    history = keras_history(tensor)
    return None if history is None else history[0]


def is_keras_tensor(x):
    """Whether `x` is a symbolic `KerasTensor` (`keras.utils.is_keras_tensor`)."""
    return isinstance(x, KerasTensor)


def is_symbolic(structure):
    """True if any leaf of `structure` is a `KerasTensor`."""
    return any(isinstance(x, KerasTensor) for x in flatten(structure))


def dummy_value(tensor, batch_size=1):
    """A zero array with the tensor's shape (a concrete batch size replaces None)."""
    shape = tuple(batch_size if d is None else d for d in tensor.shape)
    return xp.zeros(shape, dtype=tensor.dtype)
