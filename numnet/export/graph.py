"""The inference graph an export writes out: named values, nodes over them, weights.

`numnet.export.tracing.trace` builds an `InferenceGraph` from a model's forward
pass; each format (ONNX, NumPy, SavedModel) then writes one node at a time with
its table of per-primitive rules (`numnet.export.registry`). The graph is plain
data, independent of every format:

- values are named: the model's inputs (by input name), its weights (by weight
  path, e.g. `dense/kernel`; folded constants by layer and role, e.g.
  `normalization/scale`) and every node's output;
- a node is one primitive applied to values and Python literals, with the
  primitive's static attributes, the layer it ran in, and its output's shape;
- a size that depends on the batch size is a `BatchDim` (the batch size times
  an integer factor), so every format can keep the batch dimension dynamic.
"""

import numpy as np


class BatchDim:
    """A dimension equal to `factor` times the batch size (a reshape's leading -1, say)."""

    __slots__ = ("factor",)

    def __init__(self, factor=1):
        self.factor = int(factor)

    def __eq__(self, other):
        return isinstance(other, BatchDim) and other.factor == self.factor

    def __hash__(self):
        return hash(("BatchDim", self.factor))

    def __repr__(self):
        return "batch" if self.factor == 1 else f"{self.factor}*batch"


class Literal:
    """A Python number a node reads (weakly typed, as NumPy treats Python scalars)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return f"Literal({self.value!r})"


class TensorSpec:
    """A named tensor of an exported model: `shape` has `None` for the batch dimension."""

    __slots__ = ("name", "dtype", "shape")

    def __init__(self, name, dtype, shape):
        self.name = str(name)
        self.dtype = np.dtype(dtype)
        self.shape = tuple(None if d is None else int(d) for d in shape)

    def to_json(self):
        return {"name": self.name, "dtype": self.dtype.name, "shape": list(self.shape)}

    @classmethod
    def from_json(cls, data):
        return cls(data["name"], data["dtype"], data["shape"])

    def __eq__(self, other):
        return isinstance(other, TensorSpec) and (self.name, self.dtype, self.shape) == \
            (other.name, other.dtype, other.shape)

    def __repr__(self):
        shape = ", ".join("batch" if d is None else str(d) for d in self.shape)
        return f"TensorSpec({self.name!r}, {self.dtype.name}, ({shape}))"


class ValueInfo:
    """What one named value is: its kind ("input", "weight" or "node"), shape and dtype."""

    __slots__ = ("name", "kind", "shape", "dtype")

    def __init__(self, name, kind, shape, dtype):
        self.name = name
        self.kind = kind
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<ValueInfo {self.name} {self.kind} {self.shape} {self.dtype.name}>"


class Node:
    """`output = op(*inputs, **attrs)`, run inside layer `scope` (a (path, class name) pair)."""

    __slots__ = ("op", "inputs", "attrs", "output", "scope")

    def __init__(self, op, inputs, attrs, output, scope):
        self.op = op
        self.inputs = inputs    # value names (str) or Literals
        self.attrs = attrs
        self.output = output    # the output value's name
        self.scope = scope

    def __repr__(self):
        return f"<Node {self.output} = {self.op}({self.inputs}) {self.attrs}>"


class InferenceGraph:
    """A model's forward pass at inference, ready to be written in any format.

    Attributes:
        name: the model's name.
        inputs, outputs: `TensorSpec`s in order; `input_values` and
            `output_values` name the graph values behind them.
        input_structure, output_structure: `"single"`, `"list"` or `"dict"`:
            how the model takes its inputs and returns its outputs.
        nodes: in execution order.
        weights: name -> array (variables, and constants folded from them).
        values: name -> `ValueInfo` for every input, weight and node output.
    """

    def __init__(self, name):
        self.name = name
        self.inputs, self.input_values, self.input_structure = [], [], "single"
        self.outputs, self.output_values, self.output_structure = [], [], "single"
        self.nodes = []
        self.weights = {}
        self.values = {}

    def value(self, name):
        return self.values[name]

    def input_info(self, node, index):
        """The `ValueInfo` of a node's input `index` (None for a literal)."""
        ref = node.inputs[index]
        return None if isinstance(ref, Literal) else self.values[ref]

    def compute_dtype(self, node, indices=None):
        """The dtype NumPy computes an elementwise node in (Python literals weakly typed)."""
        parts = []
        for i, ref in enumerate(node.inputs):
            if indices is not None and i not in indices:
                continue
            parts.append(ref.value if isinstance(ref, Literal) else self.values[ref].dtype)
        return np.result_type(*parts)

    def consumers(self):
        """value name -> the nodes reading it."""
        uses = {}
        for node in self.nodes:
            for ref in node.inputs:
                if not isinstance(ref, Literal):
                    uses.setdefault(ref, []).append(node)
        return uses


def static_shape(shape):
    """A graph shape with `None` for batch-dependent dimensions (a spec's shape)."""
    return tuple(None if isinstance(d, BatchDim) else d for d in shape)
