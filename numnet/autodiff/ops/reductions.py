"""Reductions: sum, mean, max, min, with `axis` and `keepdims`."""

from functools import partial

from numnet.autodiff.ops.core import (
    Primitive, Tensor, broadcast_to, cast, checked_axes, operand, wrap, xp,
)


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return tuple(checked_axes(axis, ndim))


def _restore(g, shape, axis, keepdims):
    """`g` with the reduced axes put back (length 1), ready to broadcast to `shape`."""
    from numnet.autodiff.ops.shape import reshape
    if keepdims:
        return g
    axes = _axes(axis, len(shape))
    return reshape(g, tuple(1 if i in axes else n for i, n in enumerate(shape)))


def _sum_vjp(g, inputs, output, needs, axis, keepdims):
    x = inputs[0]
    return (broadcast_to(_restore(g, x.shape, axis, keepdims), x.shape),)


def _mean_vjp(g, inputs, output, needs, axis, keepdims):
    x = inputs[0]
    count = 1
    for a in _axes(axis, x.ndim):
        count *= x.shape[a]
    return (broadcast_to(_restore(g, x.shape, axis, keepdims) * (1.0 / count), x.shape),)


def _sum(x, axis, keepdims):
    return xp.add.reduce(x, axis=_axis_arg(axis), keepdims=keepdims)


def _axis_arg(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _sum_into(out, x, axis, keepdims):
    return xp.add.reduce(x, axis=_axis_arg(axis), keepdims=keepdims, out=out)


def _mean(x, axis, keepdims):
    return xp.mean(x, axis=_axis_arg(axis), keepdims=keepdims)


SUM = Primitive("sum", _sum, _sum_vjp, into=_sum_into,
                bind=lambda out, x, axis, keepdims: partial(
                    xp.add.reduce, x, _axis_arg(axis), None, out, keepdims))
MEAN = Primitive("mean", _mean, _mean_vjp,
                 into=lambda out, x, axis, keepdims: xp.mean(x, axis=_axis_arg(axis),
                                                             keepdims=keepdims, out=out))


def sum(x, axis=None, keepdims=False):
    """Sum over `axis` (all axes by default)."""
    return SUM(operand(x), axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    """Mean over `axis` (all axes by default); integers and booleans average in float32, as
    in Keras (NumPy's mean of them is float64)."""
    x = operand(x)
    if isinstance(x, Tensor) and x.data.dtype.kind in "biu":
        x = cast(x, "float32")
    return MEAN(x, axis=axis, keepdims=keepdims)


def _extreme_vjp(g, inputs, output, needs, axis, keepdims, kind):
    from numnet.autodiff.ops.math import equal
    x = inputs[0]
    value = _restore(output, x.shape, axis, keepdims)
    # Ties share the gradient equally, so the rule is symmetric.
    mask = cast(equal(x, value), x.data.dtype)
    mask = mask / sum(mask, axis=axis, keepdims=True)
    return (mask * _restore(g, x.shape, axis, keepdims),)


def _extreme(x, axis, keepdims, kind):
    reduce = xp.maximum.reduce if kind == "max" else xp.minimum.reduce
    return reduce(x, axis=_axis_arg(axis), keepdims=keepdims)


EXTREME = Primitive("extreme", _extreme, _extreme_vjp)


def max(x, axis=None, keepdims=False, initial=None):
    """Maximum over `axis`, and `initial` when given (an empty `x` gives `initial`); ties
    split the gradient evenly."""
    x = operand(x)
    if initial is not None and x.data.size == 0:
        return _initial_only(xp.maximum, x, axis, keepdims, initial)
    result = EXTREME(x, axis=axis, keepdims=keepdims, kind="max")
    if initial is None:
        return result
    from numnet.autodiff.ops.math import maximum
    return maximum(result, initial)


def min(x, axis=None, keepdims=False, initial=None):
    """Minimum over `axis`, and `initial` when given (an empty `x` gives `initial`); ties
    split the gradient evenly."""
    x = operand(x)
    if initial is not None and x.data.size == 0:
        return _initial_only(xp.minimum, x, axis, keepdims, initial)
    result = EXTREME(x, axis=axis, keepdims=keepdims, kind="min")
    if initial is None:
        return result
    from numnet.autodiff.ops.math import minimum
    return minimum(result, initial)


def _initial_only(ufunc, x, axis, keepdims, initial):
    """The reduction of an empty `x`: `initial` in the reduced shape (nothing to
    differentiate: `x` has no entries)."""
    return wrap(ufunc.reduce(x.data, axis=_axis_arg(axis), keepdims=keepdims, initial=initial))


def amax(x, axis=None, keepdims=False):
    """`max` under NumPy's other name (Keras records it as its own `Amax` operation)."""
    return max(x, axis=axis, keepdims=keepdims)


def amin(x, axis=None, keepdims=False):
    """`min` under NumPy's other name (Keras records it as its own `Amin` operation)."""
    return min(x, axis=axis, keepdims=keepdims)


def _logical_reduce(ufunc):
    def compute(x, axis, keepdims):
        return ufunc.reduce(x.astype(bool, copy=False), axis=_axis_arg(axis), keepdims=keepdims)
    return compute


ALL = Primitive("all", _logical_reduce(xp.logical_and), lambda g, i, o, n, **a: (None,))
ANY = Primitive("any", _logical_reduce(xp.logical_or), lambda g, i, o, n, **a: (None,))


def all(x, axis=None, keepdims=False):
    """Whether every entry is true (along `axis`); not differentiable."""
    return ALL(operand(x), axis=axis, keepdims=keepdims)


def any(x, axis=None, keepdims=False):
    """Whether some entry is true (along `axis`); not differentiable."""
    return ANY(operand(x), axis=axis, keepdims=keepdims)


def _arg(reduce):
    def compute(x, axis, keepdims):
        return reduce(x, axis=axis, keepdims=keepdims)

    def into(out, x, axis, keepdims):
        return reduce(x, axis=axis, keepdims=keepdims, out=out)
    return compute, into


def _arg_primitive(name, reduce):
    compute, into = _arg(reduce)

    def bind(out, x, axis, keepdims):  # the array's own method: no wrapper per call
        return partial(getattr(x, name), axis, out, keepdims=keepdims)
    return Primitive(name, compute, lambda g, i, o, n, **a: (None,), into=into, bind=bind)


ARGMAX = _arg_primitive("argmax", xp.argmax)
ARGMIN = _arg_primitive("argmin", xp.argmin)


def argmax(x, axis=None, keepdims=False):
    """Index of the largest entry along `axis` (of the flattened `x` when None, as in Keras);
    not differentiable."""
    return ARGMAX(operand(x), axis=axis, keepdims=keepdims)


def argmin(x, axis=None, keepdims=False):
    """Index of the smallest entry along `axis` (of the flattened `x` when None, as in Keras);
    not differentiable."""
    return ARGMIN(operand(x), axis=axis, keepdims=keepdims)


def _sum_of_squares(x):
    flat = xp.ravel(x)
    return xp.asarray(xp.vdot(flat, flat))


def _sum_of_squares_into(out, x):
    flat = xp.ravel(x)  # a view of a contiguous array, read afresh at every call
    out[()] = xp.vdot(flat, flat)
    return out


def _sum_of_squares_vjp(g, inputs, output, needs):
    """d sum(x ** 2) = 2 x g: with `g` a constant (a regularizer's factor), one product."""
    from numnet.autodiff.ops.arithmetic import multiply
    return (multiply(inputs[0], multiply(g, 2.0)),)


SUM_OF_SQUARES = Primitive("sum_of_squares", _sum_of_squares, _sum_of_squares_vjp,
                           into=_sum_of_squares_into,
                           bind=lambda out, x: partial(_sum_of_squares_into, out, x))


def sum_of_squares(x):
    """`sum(x ** 2)` over all entries in one pass (a dot product: no squared temporary).

    The L2 regularizer's penalty; on a layer's large kernel it is one read of
    the weights where `sum(square(x))` writes and reads a temporary as large.
    """
    return SUM_OF_SQUARES(operand(x))


# ---------------------------------------------------- products and running totals
def _prod_vjp(g, inputs, output, needs, axis, keepdims):
    """Each entry's gradient is the product of the others: exclusive running products from
    both ends, so that zeros need no division."""
    from numnet.autodiff.ops.shape import concatenate, flip, getitem, reshape, transpose
    x = inputs[0]
    axes = _axes(axis, x.ndim)
    kept = [n for n in range(x.ndim) if n not in axes]
    moved = transpose(x, tuple(kept + list(axes)))
    rows = reshape(moved, tuple(x.shape[n] for n in kept) + (-1,))
    one = wrap(xp.ones(tuple(rows.shape[:-1]) + (1,), dtype=rows.data.dtype))
    before = cumprod(concatenate([one, getitem(rows, (Ellipsis, slice(None, -1)))], -1), -1)
    after = flip(cumprod(flip(concatenate([getitem(rows, (Ellipsis, slice(1, None))), one], -1),
                              -1), -1), -1)
    weight = reshape(_restore(g, x.shape, axis, keepdims), tuple(x.shape[n] for n in kept) + (1,))
    grad = reshape(before * after * weight, moved.shape)
    inverse = tuple(int(i) for i in xp.argsort(kept + list(axes)))
    return (transpose(grad, inverse),)


PROD = Primitive("prod", lambda x, axis, keepdims: xp.multiply.reduce(
    x, axis=_axis_arg(axis), keepdims=keepdims), _prod_vjp)


def _as_dtype(x, dtype):
    x = operand(x)
    return x if dtype is None else cast(x, dtype)


def prod(x, axis=None, keepdims=False, dtype=None):
    """Product over `axis` (all axes by default); zeros get their exact gradient."""
    return PROD(_as_dtype(x, dtype), axis=axis, keepdims=keepdims)


def _running_grad(g, axis, x_shape):
    """The sums of `g` from each position to the end of `axis` (a reversed running sum)."""
    from numnet.autodiff.ops.shape import flip, reshape
    if axis is None:
        return reshape(flip(cumsum(flip(g, 0), 0), 0), x_shape)
    return flip(cumsum(flip(g, axis), axis), axis)


CUMSUM = Primitive("cumsum", lambda x, axis: xp.cumsum(x, axis=axis),
                   lambda g, inputs, output, needs, axis: (
                       _running_grad(g, axis, inputs[0].shape),))
# As TensorFlow's rule (which Keras uses there): the running sums of g * y divided by x,
# so an entry equal to zero gets a NaN or infinite gradient.
CUMPROD = Primitive("cumprod", lambda x, axis: xp.cumprod(x, axis=axis),
                    lambda g, inputs, output, needs, axis: (
                        _running_grad(g * output, axis, inputs[0].shape) / inputs[0],))


def cumsum(x, axis=None, dtype=None):
    """Running sums along `axis` (of the flattened `x` when None)."""
    return CUMSUM(_as_dtype(x, dtype), axis=axis)


def cumprod(x, axis=None, dtype=None):
    """Running products along `axis` (of the flattened `x` when None); the gradient divides
    by `x`, as TensorFlow's does (an entry equal to zero gets no finite gradient)."""
    return CUMPROD(_as_dtype(x, dtype), axis=axis)


COUNT_NONZERO = Primitive("count_nonzero", lambda x, axis: xp.asarray(
    xp.count_nonzero(x, axis=_axis_arg(axis))), lambda g, i, o, n, **a: (None,))


def count_nonzero(x, axis=None):
    """How many entries are not zero (along `axis`); not differentiable."""
    return COUNT_NONZERO(operand(x), axis=axis)
