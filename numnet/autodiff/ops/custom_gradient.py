"""`custom_gradient`: a function whose backward rule is given by its author, as Keras'
`ops.custom_gradient` (TensorFlow's `tf.custom_gradient`).

The decorated `f(*args)` returns `(output, grad_fn)`. numnet runs `f`, cuts the tape
behind its output (`stop_gradient`), and joins that output to the arguments with one
`custom_gradient` node: its forward is the output itself, its backward rule calls
`grad_fn(*upstream)` and hands the results to the arguments. `grad_fn` is written with
`numnet.ops`, so an outer tape differentiates it again and a compiled step replays it.
"""

from numnet.autodiff.ops.core import Primitive, Tensor, as_tensor, xp
from numnet.autodiff.ops.math import stop_gradient
from numnet.autodiff.ops.shape import concatenate, getitem, ravel, reshape
from numnet.tree import flatten, pack_sequence_as


class _Backward:
    """The author's `grad_fn` with the layout of the outputs it receives gradients for."""

    def __init__(self, grad_fn, shapes, name):
        self.grad_fn, self.shapes, self.name = grad_fn, shapes, name
        # Two calls of one decorated function make two rules of the same code, whose
        # closures hold each call's tensors: they are the same op (a capture or an export
        # tracing twice, at two batch sizes, compares its nodes' attributes).
        self.identity = (getattr(grad_fn, "__code__", grad_fn), name, len(shapes))

    def __eq__(self, other):
        return type(other) is _Backward and self.identity == other.identity

    def __hash__(self):
        return hash(self.identity)

    def __call__(self, upstream, count):
        if len(self.shapes) == 1:
            parts = [upstream]
        else:  # the outputs travel as one flat tensor: its gradient is split again
            parts, start = [], 0
            for shape in self.shapes:
                size = int(xp.prod(shape, dtype=xp.int64))
                parts.append(reshape(getitem(upstream, slice(start, start + size)), shape))
                start += size
        grads = self.grad_fn(*parts)
        grads = list(grads) if isinstance(grads, (list, tuple)) else [grads]
        if len(grads) != count:
            raise ValueError(
                f"custom_gradient: the gradient function of {self.name} returned {len(grads)} "
                f"gradient(s) for {count} tensor argument(s); return one per argument "
                f"(None for an argument without gradient).")
        return grads

    def check(self, grad, argument, position):
        grad = as_tensor(grad)
        if tuple(grad.shape) != tuple(argument.shape):
            raise ValueError(
                f"custom_gradient: the gradient function of {self.name} returned shape "
                f"{tuple(grad.shape)} for argument {position} of shape {tuple(argument.shape)}.")
        return grad


def _custom_vjp(g, inputs, output, needs, backward):
    grads = backward(g, len(inputs) - 1)
    return (None,) + tuple(None if grad is None or not need else backward.check(grad, x, i)
                           for i, (grad, x, need) in enumerate(zip(grads, inputs[1:], needs[1:])))


CUSTOM_GRADIENT = Primitive("custom_gradient", lambda value, *arguments, backward: value,
                            _custom_vjp, kind="view")


def custom_gradient(f):
    """Decorates `f(*args) -> (output, grad_fn)`: the function returned computes `output`,
    and its gradient with respect to the tensors among `args` is what
    `grad_fn(*upstream)` returns (one gradient per tensor argument, in order; `upstream`
    holds one gradient per output). Keyword arguments pass through without gradients."""
    name = getattr(f, "__name__", repr(f))

    def decorated(*args, **kwargs):
        leaves = [leaf if isinstance(leaf, Tensor) or not _array_like(leaf) else
                  as_tensor(leaf) for leaf in flatten(args)]
        output, grad_fn = f(*pack_sequence_as(args, leaves), **kwargs)
        outputs = [as_tensor(out) for out in flatten(output)]
        dtypes = {out.data.dtype for out in outputs}
        if not outputs or len(dtypes) != 1 or dtypes.pop().kind != "f":
            raise ValueError(f"custom_gradient: the outputs of {name} must be tensors of one "
                             f"float dtype; received {[str(o.data.dtype) for o in outputs]}.")
        arguments = [leaf for leaf in leaves if isinstance(leaf, Tensor)]
        backward = _Backward(grad_fn, [out.shape for out in outputs], name)
        if len(outputs) == 1:
            return pack_sequence_as(output, [CUSTOM_GRADIENT(
                stop_gradient(outputs[0]), *arguments, backward=backward)])
        joined = CUSTOM_GRADIENT(concatenate([ravel(stop_gradient(o)) for o in outputs]),
                                 *arguments, backward=backward)
        results, start = [], 0
        for out in outputs:
            size = int(out.data.size)
            results.append(reshape(getitem(joined, slice(start, start + size)), out.shape))
            start += size
        return pack_sequence_as(output, results)

    decorated.__name__ = name
    decorated.__doc__ = getattr(f, "__doc__", None)
    decorated.__wrapped__ = f
    return decorated


def _array_like(value):
    return isinstance(value, (xp.ndarray, xp.generic)) or hasattr(value, "__array__")


__all__ = ["custom_gradient"]
