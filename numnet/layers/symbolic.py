"""Symbolic tensors: what `Input()` returns and what calling a layer on one returns.

A `KerasTensor` has a shape (batch axis `None`), a dtype and a history
(`layer, node_index, tensor_index`) pointing at the `Node` that produced it.
Calling layers on them computes nothing: it records the graph that a
Functional model later runs.
"""

import numpy as np

from numnet.backend import standardize_dtype


class KerasTensor:
    """A placeholder for a tensor in a layer graph: a shape, a dtype and where it came from."""

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
        return True

    def __array__(self, *args, **kwargs):
        raise TypeError(
            f"A symbolic KerasTensor ({self.name}, shape {self.shape}) has no value: it is "
            "a placeholder for building Functional models. Call the model on real data "
            "instead, or use layers (not NumPy functions) on symbolic tensors."
        )


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


def flatten(structure):
    """Flattens nested lists/tuples/dicts (dicts by sorted key, as Keras does)."""
    if isinstance(structure, dict):
        return [x for k in sorted(structure) for x in flatten(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [x for v in structure for x in flatten(v)]
    return [structure]


def map_structure(fn, structure):
    """Applies `fn` to every leaf, keeping the list/tuple/dict structure."""
    if isinstance(structure, dict):
        return {k: map_structure(fn, v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(fn, v) for v in structure)
    return fn(structure)


def pack_like(structure, flat):
    """Rebuilds `structure` with the leaves of `flat` (inverse of `flatten`)."""
    iterator = iter(flat)

    def rebuild(s):
        if isinstance(s, dict):
            rebuilt = {k: None for k in s}
            for k in sorted(s):
                rebuilt[k] = rebuild(s[k])
            return rebuilt
        if isinstance(s, (list, tuple)):
            return type(s)(rebuild(v) for v in s)
        return next(iterator)
    return rebuild(structure)


def is_symbolic(structure):
    """True if any leaf of `structure` is a `KerasTensor`."""
    return any(isinstance(x, KerasTensor) for x in flatten(structure))


def dummy_value(tensor, batch_size=1):
    """A zero array with the tensor's shape (a concrete batch size replaces None)."""
    shape = tuple(batch_size if d is None else d for d in tensor.shape)
    return np.zeros(shape, dtype=tensor.dtype)
