"""The graph a capture describes: ops over values, which the rewrites then change.

`Graph(capture, returned)` turns the recorded steps into `Op`s (a primitive or a
host call) reading and writing `Value`s. A value knows where it comes from
(`kind`): a batch input, an op's output, a variable (read by reference), or a
constant. Rewrites may give a value a fixed array (`array`), make it a view of
another value (`view_of` plus a function deriving the view), or mark an op to
run once per epoch instead of once per step (`Op.per_epoch`).
"""

from numnet.autodiff.primitive import Node
from numnet.autodiff.tensor import Tensor, Variable
from numnet.tree import flatten


class Value:
    """One array of the step (`tensor=None`: a value a rewrite introduced)."""

    __slots__ = ("kind", "shape", "dtype", "producer", "uses", "tensor", "array",
                 "view_of", "make_view", "fixed", "parts")

    def __init__(self, kind, tensor, producer=None):
        self.kind = kind          # "input", "node", "host", "variable" or "const"
        self.tensor = tensor      # the captured tensor (the live object for variables)
        self.shape = tuple(tensor.data.shape) if isinstance(tensor, Tensor) else ()
        self.dtype = tensor.data.dtype if isinstance(tensor, Tensor) else None
        self.producer = producer  # the Op computing it (node and host values)
        self.uses = []            # the Ops reading it
        self.array = None         # its array, once allocated (variables and constants: now)
        self.view_of = None       # a value whose array this one is a view of...
        self.make_view = None     # ...derived from that array by this function
        self.fixed = False        # a rewrite chose its array: allocation leaves it alone
        self.parts = ()           # values written into slices of it (a joined concatenation)
        if kind in ("variable", "const"):
            self.array = tensor.data

    @classmethod
    def new(cls, shape, dtype, producer=None):
        """A value introduced by a rewrite (no captured tensor behind it)."""
        value = cls("node", None, producer)
        value.shape, value.dtype = tuple(shape), dtype
        return value

    def __repr__(self):
        return f"<Value {self.kind} {self.shape} {self.dtype}>"


class Op:
    """One step of the graph: a primitive applied to values, or a host call."""

    __slots__ = ("prim", "host", "inputs", "attrs", "output", "per_epoch", "kernel", "dead",
                 "host_slot", "effect")

    def __init__(self, prim, host, inputs, attrs, output):
        self.prim = prim          # the Primitive (None for a host call)
        self.host = host          # the HostCall (None for a primitive)
        self.inputs = inputs      # Values, or Python literals
        self.attrs = attrs
        self.output = output      # the Value it writes (host calls: None or a Value)
        self.per_epoch = False    # computed when an epoch starts, not at every step
        self.kernel = None        # a rewrite's replacement: (out_array, in_arrays) -> callable
        self.dead = False
        self.host_slot = None     # a replayed host call's latest result: [result]
        self.effect = False       # a rewrite made it change state (a variable): always run

    @property
    def name(self):
        return self.prim.name if self.prim is not None else \
            getattr(self.host.method, "__qualname__", "host call")

    def __repr__(self):
        return f"<Op {self.name}>"


class Graph:
    """The ops of one captured step, in execution order, and its values."""

    def __init__(self, capture, returned):
        """The graph of one capture's steps; `returned` is what the step function returned."""
        self.ops = []
        self.values = {}     # id(tensor) -> Value
        self.inputs = [self._value(t, capture) for t in capture.inputs]  # in capture order
        for step in capture.steps:
            if isinstance(step, Node):
                inputs = [self._value(x, capture) for x in step.inputs]
                op = Op(step.prim, None, inputs, step.attrs, None)
                op.output = self._new_value("node", step.output, op)
            else:
                leaves = flatten((step.args, step.kwargs))
                inputs = [self._value(x, capture) for x in leaves]
                op = Op(None, step, inputs, {}, None)
                if isinstance(step.result, Tensor):
                    op.output = self._new_value("host", step.result, op)
            for value in op.inputs:
                if isinstance(value, Value):
                    value.uses.append(op)
            self.ops.append(op)
        self.returned = returned
        self.applied = {}  # rewrite name -> how many times it changed this graph

    def _new_value(self, kind, tensor, producer):
        value = Value(kind, tensor, producer)
        self.values[id(tensor)] = value
        return value

    def _value(self, x, capture):
        """The Value of an op input (a literal stays a literal)."""
        if not isinstance(x, Tensor):
            return x
        value = self.values.get(id(x))
        if value is None:
            kind = capture.origin(x)[0]
            if kind == "node":  # produced by a step recorded later? cannot happen in order
                raise AssertionError("a captured op reads a value produced after it")
            if kind == "variable":
                x.place()  # its array is read by reference from now on: it must not move
            value = self._new_value(kind if kind != "literal" else "const", x, None)
        return value

    def value_of(self, tensor):
        return self.values.get(id(tensor)) if isinstance(tensor, Tensor) else None

    def replace(self, old, new):
        """Makes every reader of value `old` read `new` instead (and the result too)."""
        for op in old.uses:
            op.inputs = [new if v is old else v for v in op.inputs]
            new.uses.append(op)
        old.uses = []
        for key, value in list(self.values.items()):
            if value is old:
                self.values[key] = new

    def live_ops(self):
        return [op for op in self.ops if not op.dead]

    def variables_written(self):
        """Variables the step changes: through host calls (optimizer, metrics) or effects."""
        written = set()
        for op in self.ops:
            if op.host is not None:
                owner = op.host.args[0] if op.host.args else None
                written.update(id(variable) for variable in _owned_variables(owner, op.host.args))
            elif op.prim.kind == "effect":
                target = op.inputs[0]
                if isinstance(target, Value) and target.kind == "variable":
                    written.add(id(target.tensor))
        return written


def _owned_variables(owner, args):
    """Variables a host call may write: its owner's, and any variable it is handed."""
    found = [x for x in flatten(args) if isinstance(x, Variable)]
    variables = getattr(owner, "variables", None)
    if isinstance(variables, (list, tuple)):
        found.extend(v for v in variables if isinstance(v, Variable))
    return found
