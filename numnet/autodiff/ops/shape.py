"""Shape ops: reshape, transpose, concatenate, stack, slicing/gather, expand/squeeze.

Most of them return views of their input (`kind="view"`): the compiled step
binds those once instead of running them at every step.
"""

from numnet.autodiff.ops._core import (
    Primitive, Tensor, convert_to_tensor, no_gradient, operand, wrap, xp,
)


def _view(name, compute, vjp):
    return Primitive(name, compute, vjp, kind="view")


RESHAPE = _view("reshape", lambda x, shape: x.reshape(shape),
                lambda g, inputs, y, needs, shape: (reshape(g, inputs[0].shape),))


def reshape(x, shape):
    """Reshapes `x` (one dimension may be -1)."""
    x = operand(x)
    shape = tuple(shape) if not isinstance(shape, int) else (shape,)
    if tuple(x.shape) == shape:
        return x
    return RESHAPE(x, shape=shape)


def _transpose_vjp(g, inputs, y, needs, axes):
    inverse = None if axes is None else tuple(int(i) for i in xp.argsort(axes))
    return (transpose(g, inverse),)


TRANSPOSE = _view("transpose", lambda x, axes: xp.transpose(x, axes), _transpose_vjp)


def transpose(x, axes=None):
    """Permutes the axes (reverses them by default)."""
    return TRANSPOSE(operand(x), axes=None if axes is None else tuple(axes))


def swapaxes(x, axis1, axis2):
    """Swaps two axes."""
    x = operand(x)
    axes = list(range(x.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, axes)


def expand_dims(x, axis):
    """Inserts a length-1 axis."""
    x = operand(x)
    return reshape(x, xp.expand_dims(xp.empty(x.shape, dtype=bool), axis).shape)


def squeeze(x, axis=None):
    """Removes length-1 axes."""
    x = operand(x)
    return reshape(x, xp.squeeze(xp.empty(x.shape, dtype=bool), axis=axis).shape)


def _concatenate_vjp(g, inputs, output, needs, axis):
    axis = axis % output.ndim
    pieces, start = [], 0
    for x, need in zip(inputs, needs):
        stop = start + x.shape[axis]
        pieces.append(getitem(g, (slice(None),) * axis + (slice(start, stop),)) if need else None)
        start = stop
    return tuple(pieces)


CONCATENATE = Primitive(
    "concatenate", lambda *xs, axis: xp.concatenate(xs, axis=axis), _concatenate_vjp,
    into=lambda out, *xs, axis: xp.concatenate(xs, axis=axis, out=out))


def concatenate(xs, axis=-1):
    """Joins tensors along an existing axis."""
    return CONCATENATE(*[convert_to_tensor(x) for x in xs], axis=axis)


def _stack_vjp(g, inputs, output, needs, axis):
    axis = axis % output.ndim
    return tuple(getitem(g, (slice(None),) * axis + (i,)) if need else None
                 for i, need in enumerate(needs))


STACK = Primitive("stack", lambda *xs, axis: xp.stack(xs, axis=axis), _stack_vjp,
                  into=lambda out, *xs, axis: xp.stack(xs, axis=axis, out=out))


def stack(xs, axis=0):
    """Stacks tensors along a new axis."""
    return STACK(*[convert_to_tensor(x) for x in xs], axis=axis)


# ------------------------------------------------------------- indexing
def _scatter_add(g, *indices, shape, key):
    """Zeros of `shape` with `g` added at `x[key]` (repeated indices accumulate)."""
    grad = xp.zeros(shape, dtype=g.dtype)
    xp.add.at(grad, _rebuild_key(key, indices), g)
    return grad


SCATTER_ADD = Primitive("scatter_add", _scatter_add, no_gradient)


def _rebuild_key(key, arrays):
    """Puts the index arrays (op inputs) back into the static parts of a key."""
    arrays = iter(arrays)
    return tuple(next(arrays) if k is _ARRAY else k for k in key) if isinstance(key, tuple) \
        else (next(arrays) if key is _ARRAY else key)


class _ArraySlot:
    """Marks where an index array (an op input) goes in a static key."""

    def __repr__(self):
        return "<index array>"


_ARRAY = _ArraySlot()


def _getitem_compute(x, *indices, key):
    return x[_rebuild_key(key, indices)]


def _getitem_vjp(g, inputs, output, needs, key):
    x, indices = inputs[0], inputs[1:]
    return (SCATTER_ADD(g, *indices, shape=x.shape, key=key),) + (None,) * len(indices)


GETITEM = Primitive("getitem", _getitem_compute, _getitem_vjp, kind="view")
# With index arrays (constant or computed) NumPy copies: the same op, but pure, so a
# compiled step writes it into a buffer of its own at every replay.
GETITEM_GATHER = Primitive("getitem", _getitem_compute, _getitem_vjp)


def getitem(x, key):
    """`x[key]` for slices, integers, None, Ellipsis and integer/boolean array gathers."""
    x = operand(x)
    parts = key if isinstance(key, tuple) else (key,)
    indices, static = [], []
    for k in parts:
        if isinstance(k, Tensor):  # a computed index: an op input, so captures replay it
            indices.append(k)
            static.append(_ARRAY)
        elif isinstance(k, (list, xp.ndarray)):
            indices.append(wrap(xp.asarray(k)))
            static.append(_ARRAY)
        else:
            static.append(k)
    static = tuple(static) if isinstance(key, tuple) else static[0]
    return (GETITEM_GATHER if indices else GETITEM)(x, *indices, key=static)


def _take_vjp(g, inputs, output, needs, axis):
    x, indices = inputs
    return (SCATTER_TAKE(g, indices, shape=x.shape, axis=axis), None)


def _scatter_take(g, indices, shape, axis):
    if axis is None:
        grad = xp.zeros(int(xp.prod(shape)), dtype=g.dtype)
        xp.add.at(grad, indices.ravel(), g.ravel())
        return grad.reshape(shape)
    grad = xp.zeros(shape, dtype=g.dtype)
    moved = xp.moveaxis(grad, axis, 0)
    gm = xp.moveaxis(g, tuple(range(axis, axis + indices.ndim)), tuple(range(indices.ndim)))
    xp.add.at(moved, indices, gm)
    return grad


SCATTER_TAKE = Primitive("scatter_take", _scatter_take, no_gradient)
TAKE = Primitive("take", lambda x, indices, axis: xp.take(x, indices, axis=axis), _take_vjp,
                 into=lambda out, x, indices, axis: xp.take(x, indices, axis=axis, out=out))


def take(x, indices, axis=None):
    """Gathers entries of `x` at integer `indices` along `axis`."""
    x = operand(x)
    indices = indices if isinstance(indices, Tensor) else wrap(xp.asarray(indices))
    return TAKE(x, indices, axis=axis)
