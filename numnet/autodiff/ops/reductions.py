"""Reductions: sum, mean, max, min, with `axis` and `keepdims`."""

from numnet.autodiff.ops._core import Tensor, operand, record, recording, xp


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim for a in axis)


def _expand(g, shape, axes, keepdims):
    """Reinserts reduced axes into `g` so it broadcasts against the input."""
    if keepdims:
        return g
    return xp.expand_dims(g, axes) if axes else g


def sum(x, axis=None, keepdims=False):
    """Sum over `axis` (all axes by default)."""
    x, xv = operand(x)
    out = Tensor(xp.sum(xv, axis=axis, keepdims=keepdims))
    if recording():
        axes = _axes(axis, xv.ndim)

        def backward(g, needs):
            return (xp.broadcast_to(_expand(g, xv.shape, axes, keepdims), xv.shape).copy(),)
        record(out, (x,), backward)
    return out


def mean(x, axis=None, keepdims=False):
    """Mean over `axis` (all axes by default)."""
    x, xv = operand(x)
    out = Tensor(xp.mean(xv, axis=axis, keepdims=keepdims))
    if recording():
        axes = _axes(axis, xv.ndim)
        count = 1
        for a in axes:
            count *= xv.shape[a]

        def backward(g, needs):
            g = _expand(g, xv.shape, axes, keepdims) / count
            return (xp.broadcast_to(g, xv.shape).astype(xv.dtype),)
        record(out, (x,), backward)
    return out


def _extreme(x, axis, keepdims, reduce):
    x, xv = operand(x)
    value = reduce(xv, axis=axis, keepdims=True)
    out = Tensor(value if keepdims else xp.squeeze(value, axis=_axes(axis, xv.ndim)))
    if recording():
        def backward(g, needs):
            # Ties share the gradient equally, so the rule is symmetric.
            mask = (xv == value).astype(xv.dtype)
            mask /= mask.sum(axis=axis, keepdims=True)
            return (mask * _expand(g, xv.shape, _axes(axis, xv.ndim), keepdims),)
        record(out, (x,), backward)
    return out


def max(x, axis=None, keepdims=False):
    """Maximum over `axis`; ties split the gradient evenly."""
    return _extreme(x, axis, keepdims, xp.max)


def min(x, axis=None, keepdims=False):
    """Minimum over `axis`; ties split the gradient evenly."""
    return _extreme(x, axis, keepdims, xp.min)
