"""Planning: turning a capture into a `Program`, a flat list of kernels over fixed buffers.

Every value of the captured step gets one array, allocated once: the batch
inputs get input buffers that each replay fills, each op's output gets a
buffer its kernel writes into (`Primitive.into`), views (reshape, transpose,
slices) are bound once to the arrays they view, ops on constants only are
computed once, and ops nothing needs are dropped. The rewrites of
`numnet.engine.rewrite` then change how some of those values are computed
(see there). Replaying is calling the kernels in order.
"""

from functools import partial

from numnet.autodiff.primitive import Node, wrap
from numnet.autodiff.tensor import Tensor, Variable
from numnet.backend import xp
from numnet.engine.capture import HostCall


class Value:
    """One array of the program: where it comes from and the array that holds it."""

    __slots__ = ("kind", "index", "array", "tensor", "uses", "pinned", "view_of")

    def __init__(self, kind, index, array):
        self.kind = kind      # "input", "node", "host", "variable", "const"
        self.index = index    # input position or step index
        self.array = array    # the buffer (None until allocated)
        self.tensor = None    # a Tensor around `array`, handed to host calls
        self.uses = []        # step indices that read it
        self.pinned = False   # its buffer is fixed by a rewrite (no in-place reuse)
        self.view_of = None   # the value whose buffer this one views

    def as_tensor(self):
        if self.tensor is None:
            self.tensor = wrap(self.array)
        return self.tensor


class Program:
    """A replayable step: `feed` the batch, `run` the kernels, read `result`."""

    def __init__(self, kernels, inputs, result, stats):
        self.kernels = kernels
        self.inputs = inputs          # the input buffers, in capture order
        self._result = result         # a function building the step's return value
        self.stats = stats            # counts for `describe`

    def run(self):
        for kernel in self.kernels:
            kernel()
        return self._result()

    def describe(self):
        """A short account of the program (for logs and tests)."""
        return ", ".join(f"{k}={v}" for k, v in self.stats.items())


class Planner:
    """Builds a `Program` from a capture (see the module docstring)."""

    def __init__(self, capture, returned):
        self.capture = capture
        self.returned = returned
        self.values = {}      # id(tensor) -> Value
        self.host_slots = {}  # id(host result) -> step index of the host call
        self.steps = capture.steps
        self.needed = None

    # -- values -------------------------------------------------------------
    def value_of(self, x):
        """The Value for an op input or host argument (None for Python literals)."""
        if not isinstance(x, Tensor):
            return None
        key = id(x)
        value = self.values.get(key)
        if value is None:
            kind, where = self.capture.origin(x)
            if kind == "input":
                value = Value("input", where, xp.empty_like(x.data))
            elif kind == "node":
                value = Value("host" if isinstance(self.steps[where], HostCall) else "node",
                              where, None)
            elif kind == "variable":
                x.place()  # its array is read by reference from now on
                value = Value("variable", None, x.data)
                value.tensor = x
            else:
                value = Value("const", None, x.data)
                value.tensor = x
            self.values[key] = value
        return value

    def array_of(self, x):
        value = self.value_of(x)
        return x if value is None else value.array

    # -- the plan -------------------------------------------------------------
    def plan(self):
        self._mark_needed()
        kernels = []
        stats = {"ops": 0, "views": 0, "folded": 0, "host_calls": 0, "dropped": 0}
        for i, step in enumerate(self.steps):
            if not self.needed[i]:
                stats["dropped"] += 1
                continue
            if isinstance(step, HostCall):
                kernels.append(self._host_kernel(i, step))
                stats["host_calls"] += 1
                continue
            kernel = self._node_kernel(step, stats)
            if kernel is not None:
                kernels.append(kernel)
                stats["ops"] += 1
        inputs = [self.value_of(t).array for t in self.capture.inputs]
        return Program(kernels, inputs, self._result_builder(), stats)

    def _mark_needed(self):
        """Keeps what host calls, effects, random draws and the returned values depend on."""
        steps = self.steps
        needed = [False] * len(steps)
        wanted = set()
        for leaf in _leaves(self.returned):
            if isinstance(leaf, Tensor):
                wanted.add(id(leaf))
            else:
                wanted.add(id(leaf))  # host results returned as plain objects
        for i in range(len(steps) - 1, -1, -1):
            step = steps[i]
            if isinstance(step, HostCall):
                needed[i] = True
                reads = _leaves((step.args, step.kwargs))
            else:
                needed[i] = (step.prim.kind in ("effect", "random")
                             or id(step.output) in wanted)
                reads = step.inputs
            if needed[i]:
                wanted.update(id(x) for x in reads if isinstance(x, Tensor))
        self.needed = needed

    def _node_kernel(self, node, stats):
        """The kernel computing `node` into its buffer (None if bound or folded once)."""
        prim = node.prim
        arrays = [self.array_of(x) for x in node.inputs]
        inputs = [self.value_of(x) for x in node.inputs]
        out = self.value_of(node.output)
        constant = all(v is None or v.kind == "const" for v in inputs)
        if constant and prim.kind in ("pure", "view"):
            out.kind, out.array = "const", prim.compute(*arrays, **node.attrs)
            if not isinstance(out.array, xp.ndarray):
                out.array = xp.asarray(out.array)
            stats["folded"] += 1
            return None
        if prim.kind == "view":
            view = prim.compute(*arrays, **node.attrs)
            base = next((v for v, a in zip(inputs, arrays)
                         if v is not None and isinstance(a, xp.ndarray)
                         and xp.shares_memory(view, a)), None)
            if base is not None:
                out.array, out.view_of = view, base
                stats["views"] += 1
                return None
        out.array = xp.empty(node.output.data.shape, dtype=node.output.data.dtype)
        if prim.ufunc is not None and not node.attrs:
            return partial(prim.ufunc, *arrays, out=out.array)
        return partial(prim.into, out.array, *arrays, **node.attrs)

    def _host_kernel(self, index, call):
        """Calls the host function again with the buffers of its tensor arguments."""
        args = _map(lambda x: self._host_argument(x), call.args)
        kwargs = _map(lambda x: self._host_argument(x), call.kwargs)
        method = call.method
        slot = [call.result]
        self.host_slots[id(call.result)] = slot
        result_value = self.values.get(id(call.result)) if isinstance(call.result, Tensor) \
            else None
        if result_value is None and isinstance(call.result, Tensor):
            result_value = self.value_of(call.result)
        if result_value is not None:
            result_value.array = xp.empty_like(call.result.data)

            def run():
                slot[0] = result = method(*args, **kwargs)
                xp.copyto(result_value.array, result.data)
            return run

        def run():
            slot[0] = method(*args, **kwargs)
        return run

    def _host_argument(self, x):
        value = self.value_of(x)
        return x if value is None else value.as_tensor()

    def _result_builder(self):
        returned = self.returned
        if returned is None:
            return lambda: None

        def resolve(leaf):
            if isinstance(leaf, Tensor):
                value = self.value_of(leaf)
                if value.kind in ("variable", "const"):
                    return lambda: leaf
                array = value.array
                return lambda: wrap(array)
            slot = self.host_slots.get(id(leaf))
            if slot is not None:
                return lambda: slot[0]
            return lambda: leaf
        getters = _map(resolve, returned)
        return lambda: _map(lambda get: get(), getters)


def _leaves(structure):
    if isinstance(structure, dict):
        return [x for v in structure.values() for x in _leaves(v)]
    if isinstance(structure, (list, tuple)):
        return [x for v in structure for x in _leaves(v)]
    return [structure]


def _map(fn, structure):
    if isinstance(structure, dict):
        return {k: _map(fn, v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map(fn, v) for v in structure)
    return fn(structure)


__all__ = ["Node", "Planner", "Program", "Value", "Variable"]
