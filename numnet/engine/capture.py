"""Capture: watching one eager call of a step function, primitive by primitive.

While a `Capture` is open it is one more recorder of the autodiff core: every
primitive node (forward pass, loss, backward pass) lands in `steps` in the
order it ran, and so does every host call (an optimizer step, a metric update;
see `numnet.autodiff.host_call`) with the tensors it was given. The call
itself runs exactly as it would without the capture: the capture only
watches. What it sees decides whether the call can be replayed:

- a tensor's value read into Python (`float(t)`, `if t > 0:`, `np.asarray(t)`)
  makes the call's behaviour depend on data the replay would not look at, so
  the capture is marked `unusable` with the reason;
- two captures of the same signature are compared (`difference`): a constant
  that changed, or a different sequence of ops, means the Python code around
  the ops computes something from the data, or branches on it.
"""

import contextlib

from numnet.autodiff.primitive import CAPTURES, READ_HOOKS, RECORDERS, Node
from numnet.autodiff.tensor import Tensor, Variable
from numnet.backend import xp
from numnet.tree import flatten


class HostCall:
    """One call of a host-call method made during a capture, with its result."""

    __slots__ = ("method", "args", "kwargs", "result")

    def __init__(self, method, args, kwargs, result):
        self.method = method
        self.args = args
        self.kwargs = kwargs
        self.result = result

    def __repr__(self):
        return f"<HostCall {getattr(self.method, '__qualname__', self.method)}>"


class Capture:
    """Records one call of a step function (use as a context manager).

    Args:
        inputs: the tensors the call receives as its batch (their identity
            marks them as the replay's inputs).
    """

    def __init__(self, inputs):
        self.inputs = list(inputs)
        self.input_index = {id(t): i for i, t in enumerate(self.inputs)}
        self.steps = []
        self.produced = {}  # id(tensor) -> (step index, tensor)
        self.unusable = None  # why the call cannot be replayed, if it cannot
        self._suspended = 0

    # -- the recorder protocol --------------------------------------------
    def record(self, node):
        self.produced[id(node.output)] = (len(self.steps), node.output)
        self.steps.append(node)

    def read(self, tensor, how):
        """A tensor's value went into Python: a captured value, or a variable's (which a step
        may change), means the Python code around the ops depends on it."""
        watched = id(tensor) in self.produced or id(tensor) in self.input_index
        if self.unusable is None and (watched or isinstance(tensor, Variable)):
            self.unusable = (f"the step reads a computed tensor's or a variable's value in "
                             f"Python ({how}); a compiled replay could not follow it")

    def host(self, method, args, kwargs):
        """Runs a host call unobserved and records it."""
        self._check_host_arguments(method, args, kwargs)
        with self.suspended():
            result = method(*args, **kwargs)
        self.steps.append(HostCall(method, args, kwargs, result))
        if isinstance(result, Tensor):
            self.produced[id(result)] = (len(self.steps) - 1, result)
        return result

    def _check_host_arguments(self, method, args, kwargs):
        """A raw array of a captured tensor passed to a host call would be frozen by a replay."""
        if self.unusable is not None:
            return
        arrays = {id(t.data) for _, t in self.produced.values()} | \
            {id(t.data) for t in self.inputs}
        for leaf in flatten((args, kwargs)):
            why = "an iterator, which a replay could not read again" if hasattr(
                leaf, "__next__") else "the raw array of a computed tensor instead of the " \
                "tensor" if isinstance(leaf, xp.ndarray) and id(leaf) in arrays else None
            if why is not None:
                self.unusable = f"{getattr(method, '__qualname__', method)} received {why}"
                return

    # -- opening and closing ------------------------------------------------
    def __enter__(self):
        RECORDERS.append(self)
        READ_HOOKS.append(self.read)
        CAPTURES.append(self)
        return self

    def __exit__(self, *exc):
        RECORDERS.remove(self)
        READ_HOOKS.remove(self.read)
        CAPTURES.remove(self)
        return False

    @contextlib.contextmanager
    def suspended(self):
        """Context manager: nothing is recorded or checked inside (a host call runs).

        Nested suspensions count: recording resumes when the outermost one ends.
        """
        self._suspended += 1
        if self._suspended == 1:
            self.__exit__()
        try:
            yield
        finally:
            self._suspended -= 1
            if self._suspended == 0:
                self.__enter__()

    # -- what a value is ------------------------------------------------------
    def origin(self, x):
        """Where an op input comes from: ("input", i), ("node", step), ("variable", v),
        ("const", array) or ("literal", python value)."""
        if not isinstance(x, Tensor):
            return ("literal", x)
        key = id(x)
        if key in self.input_index:
            return ("input", self.input_index[key])
        if key in self.produced:
            return ("node", self.produced[key][0])
        if isinstance(x, Variable):
            return ("variable", x)
        return ("const", x.data)


# ------------------------------------------------------------- comparing two
def difference(first, second):
    """Why two captures of the same signature differ (None if they describe one program)."""
    if len(first.steps) != len(second.steps):
        return (f"the step ran {len(first.steps)} ops on one batch and {len(second.steps)} "
                "on the next (Python control flow depends on the data)")
    for i, (a, b) in enumerate(zip(first.steps, second.steps)):
        why = _step_difference(first, second, a, b)
        if why is not None:
            return f"op {i} ({_name(a)}) {why}"
    return None


def _name(step):
    return step.prim.name if isinstance(step, Node) else repr(step)


def _step_difference(first, second, a, b):
    if type(a) is not type(b):
        return "is not the same kind of step on the next batch"
    if isinstance(a, Node):
        if a.prim is not b.prim or len(a.inputs) != len(b.inputs):
            return f"became {b.prim.name} on the next batch"
        if not _same_attrs(a.attrs, b.attrs):
            return "changed its attributes between batches"
        return _inputs_difference(first, second, zip(a.inputs, b.inputs))
    if a.method is not b.method:
        return "called another host function on the next batch"
    left, right = flatten((a.args, a.kwargs)), flatten((b.args, b.kwargs))
    if len(left) != len(right) or any(isinstance(x, Tensor) != isinstance(y, Tensor)
                                      for x, y in zip(left, right)):
        return "received other arguments on the next batch"
    return _inputs_difference(first, second, [(x, y) for x, y in zip(left, right)
                                              if isinstance(x, Tensor)])


def _inputs_difference(first, second, pairs):
    """How the origins of paired inputs differ between two captures: the first difference
    (None if there is none)."""
    return next(filter(None, (_origin_difference(first.origin(x), second.origin(y))
                              for x, y in pairs)), None)


def _origin_difference(a, b):
    if a[0] != b[0]:
        return f"reads a {a[0]} on one batch and a {b[0]} on the next"
    kind = a[0]
    if kind in ("input", "node"):
        return None if a[1] == b[1] else "reads another value on the next batch"
    if kind == "variable":
        return None if a[1] is b[1] else "reads another variable on the next batch"
    if kind == "const":
        same = a[1].shape == b[1].shape and a[1].dtype == b[1].dtype and \
            xp.array_equal(a[1], b[1], equal_nan=True)
        return None if same else ("reads a constant computed outside numnet's ops that "
                                  "changed between batches")
    return None if _same_literal(a[1], b[1]) else "reads a Python number that changed"


def _same_literal(a, b):
    try:
        return type(a) is type(b) and (a == b or (a != a and b != b))
    except Exception:  # noqa: BLE001 - objects without a plain ==
        return a is b


def _same_attrs(a, b):
    return a.keys() == b.keys() and all(_same_attr(a[key], b[key]) for key in a)


def _same_attr(x, y):
    if isinstance(x, xp.ndarray) or isinstance(y, xp.ndarray):
        return isinstance(x, xp.ndarray) and isinstance(y, xp.ndarray) and xp.array_equal(x, y)
    return x is y or _same_literal(x, y)
