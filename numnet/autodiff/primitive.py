"""Primitives: the ops numnet can differentiate, compile and export.

A `Primitive` is one entry of the op table:

- `compute(*arrays, **attrs)` returns the forward value as a new array (the
  formulas themselves live in `numnet.kernels` or are single array calls);
- `vjp(g, inputs, output, needs, **attrs)` returns one gradient per input
  (`None` where `needs` is False or there is none). It is written with
  `numnet.ops` on tensors, like micrograd's `_backward`, so the backward pass
  is itself made of primitives: a capture of a training step therefore sees
  the forward pass, the backward pass and everything between;
- `into(out, *arrays, **attrs)` writes the forward value into a preallocated
  `out` (the compiled step's replay); by default a copy of `compute`'s result;
- `bind(out, *arrays, **attrs)`, optional, returns a zero-argument callable
  doing what `into` does for these very arrays, with whatever can be prepared
  once (transposed views, scratch buffers) prepared: the replay's fast path.

Calling a primitive on tensors (or Python scalars, which stay weakly typed
constants) computes the value and, when something is listening, hands one
`Node` to every open recorder: gradient tapes keep the nodes they can
differentiate, the engine's capture keeps them all.

`kind` tells the engine how a node may be scheduled: "pure" (a function of
its inputs), "view" (the output may share memory with an input), "random"
(draws from a generator: never hoisted or folded) or "effect" (writes a
variable in place: never dropped, never reordered).
"""

from numnet.backend import xp
from numnet.backend.global_state import ThreadStack

# Open recorders (gradient tapes and engine captures), innermost last.
RECORDERS = ThreadStack()
# Open engine captures (innermost last): see `numnet.engine.capture`.
CAPTURES = ThreadStack()
# Non-empty while a compiled function runs its step eagerly (nested calls stay eager).
IN_STEP = ThreadStack()
# Called as `hook(tensor, how)` when a tensor's value is read into Python while a
# capture is open (the innermost capture's hook is last).
READ_HOOKS = ThreadStack()


class Node:
    """One primitive application: `output = prim(*inputs, **attrs)`."""

    __slots__ = ("prim", "inputs", "attrs", "output", "needs")

    def __init__(self, prim, inputs, attrs, output):
        self.prim = prim
        self.inputs = inputs
        self.attrs = attrs
        self.output = output
        self.needs = None  # per input: whether a tape wants its gradient

    def __repr__(self):
        return f"<Node {self.prim.name} attrs={self.attrs}>"


def _copy_into(prim):
    compute = prim.compute

    def into(out, *arrays, **attrs):
        xp.copyto(out, compute(*arrays, **attrs), casting="unsafe")
        return out
    return into


class Primitive:
    """One op: a forward computation and its backward rule (see the module docstring)."""

    __slots__ = ("name", "compute", "vjp", "into", "kind", "ufunc", "bind")

    def __init__(self, name, compute, vjp=None, into=None, kind="pure", ufunc=None, bind=None):
        self.name = name
        self.compute = compute
        self.vjp = vjp
        self.kind = kind
        self.into = into if into is not None else _copy_into(self)
        self.bind = bind
        # When the op is exactly one NumPy ufunc call on its inputs: a replay binds it
        # directly (`ufunc(*arrays, out=buffer)`) and may run it in place.
        self.ufunc = ufunc

    def __call__(self, *inputs, **attrs):
        """Applies the op to tensors (and Python scalars); records it when listened to."""
        out = wrap(self.compute(*[x.data if isinstance(x, Tensor) else x for x in inputs],
                                **attrs))
        recorders = RECORDERS.items  # the list itself: read at every op
        if recorders:
            node = Node(self, inputs, attrs, out)
            for recorder in recorders:
                recorder.record(node)
        return out

    def __repr__(self):
        return f"<Primitive {self.name}>"


def wrap(array):
    """A `Tensor` around `array` without any conversion (arrays from kernels are final)."""
    if type(array) is not _ndarray:  # NumPy scalars from full reductions and indexing
        array = xp.asarray(array)
    t = _new_tensor(Tensor)
    t.data = array
    t._keras_logits = None
    return t


def listening():
    """True while a tape or a capture is open."""
    return bool(RECORDERS)


_new_tensor = object.__new__
_ndarray = xp.ndarray

from numnet.autodiff.tensor import Tensor  # noqa: E402  (tensor.py imports the ops)


def host_call(method):
    """Marks a method as a host call: a compiled step calls it at every replay.

    Metric updates and optimizer steps are Python with state of their own
    (learning-rate schedules, step counters, running sums): a capture must not
    freeze what they compute into kernels. Inside a capture, calling a host
    call records it with its tensor arguments and runs it unobserved; a
    replay calls it again with the new values of those tensors.
    """
    def call(*args, **kwargs):
        captures = CAPTURES.items
        if captures:
            return captures[-1].host(method, args, kwargs)
        return method(*args, **kwargs)
    call.__name__ = method.__name__
    call.__qualname__ = method.__qualname__
    call.__doc__ = method.__doc__
    call.__wrapped__ = method
    call.host_call = True
    return call
