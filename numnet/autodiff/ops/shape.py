"""Shape ops: reshape, transpose, concatenate, stack, slicing/gather, expand/squeeze."""

from numnet.autodiff.ops._core import Tensor, convert_to_tensor, operand, record, recording, xp


def reshape(x, shape):
    """Reshapes `x` (one dimension may be -1)."""
    x, xv = operand(x)
    out = Tensor(xv.reshape(shape))
    if recording():
        record(out, (x,), lambda g, needs: (g.reshape(xv.shape),))
    return out


def transpose(x, axes=None):
    """Permutes the axes (reverses them by default)."""
    x, xv = operand(x)
    out = Tensor(xp.transpose(xv, axes))
    if recording():
        inverse = None if axes is None else tuple(xp.argsort(axes))
        record(out, (x,), lambda g, needs: (xp.transpose(g, inverse),))
    return out


def expand_dims(x, axis):
    """Inserts a length-1 axis."""
    x, xv = operand(x)
    out = Tensor(xp.expand_dims(xv, axis))
    if recording():
        record(out, (x,), lambda g, needs: (g.reshape(xv.shape),))
    return out


def squeeze(x, axis=None):
    """Removes length-1 axes."""
    x, xv = operand(x)
    out = Tensor(xp.squeeze(xv, axis=axis))
    if recording():
        record(out, (x,), lambda g, needs: (g.reshape(xv.shape),))
    return out


def concatenate(xs, axis=-1):
    """Joins tensors along an existing axis."""
    tensors = [convert_to_tensor(x) for x in xs]
    values = [t.data for t in tensors]
    out = Tensor(xp.concatenate(values, axis=axis))
    if recording():
        bounds = xp.cumsum([v.shape[axis] for v in values])[:-1]

        def backward(g, needs):
            return tuple(xp.split(g, bounds, axis=axis))
        record(out, tuple(tensors), backward)
    return out


def stack(xs, axis=0):
    """Stacks tensors along a new axis."""
    tensors = [convert_to_tensor(x) for x in xs]
    out = Tensor(xp.stack([t.data for t in tensors], axis=axis))
    if recording():
        def backward(g, needs):
            return tuple(xp.squeeze(p, axis=axis) for p in xp.split(g, len(tensors), axis=axis))
        record(out, tuple(tensors), backward)
    return out


def getitem(x, key):
    """`x[key]` for slices, integers and integer-array gathers."""
    x, xv = operand(x)
    if isinstance(key, Tensor):
        key = key.data
    elif isinstance(key, tuple):
        key = tuple(k.data if isinstance(k, Tensor) else k for k in key)
    out = Tensor(xv[key])
    if recording():
        def backward(g, needs):
            grad = xp.zeros_like(xv)
            xp.add.at(grad, key, g)  # repeated indices accumulate
            return (grad,)
        record(out, (x,), backward)
    return out


def take(x, indices, axis=None):
    """Gathers entries of `x` at integer `indices` along `axis`."""
    x, xv = operand(x)
    indices = xp.asarray(indices.data if isinstance(indices, Tensor) else indices)
    out = Tensor(xp.take(xv, indices, axis=axis))
    if recording():
        def backward(g, needs):
            if axis is None:
                grad = xp.zeros(xv.size, dtype=xv.dtype)
                xp.add.at(grad, indices.ravel(), g.ravel())
                return (grad.reshape(xv.shape),)
            grad = xp.zeros_like(xv)
            moved = xp.moveaxis(grad, axis, 0)
            gm = xp.moveaxis(g, tuple(range(axis, axis + indices.ndim)), tuple(range(indices.ndim)))
            xp.add.at(moved, indices, gm)
            return (grad,)
        record(out, (x,), backward)
    return out
