"""Sorting: `argsort`, `sort`, `top_k` and `argpartition`.

The order is found without the tape (an order has no gradient); the values are
then gathered with `take_along_axis`, whose gradient puts each value's gradient
back where it came from.
"""

from numnet.autodiff.ops.core import Primitive, as_tensor, cast, operand, xp
from numnet.autodiff.ops.shape import getitem, ravel, take_along_axis


def _order(x, axis, descending):
    if descending:  # stable: among equal values the first comes first, as TensorFlow's top_k
        if x.dtype.kind in "bu":
            x = x.astype(xp.int64)
        x = -x
    return xp.argsort(x, axis=axis, kind="stable")


ARGSORT = Primitive("argsort", _order, lambda g, i, o, n, **a: (None,))


def argsort(x, axis=-1):
    """The indices that sort `x` along `axis` (the flattened `x` when None); ties keep
    their order. Not differentiable."""
    x = operand(x)
    return ARGSORT(x, axis=axis, descending=False)


def argpartition(x, kth, axis=-1):
    """Indices that partition `x` along `axis` (the flattened `x` when None) around its
    `kth` smallest entry (or each of a sequence of them): that entry lands at position
    `kth`, smaller ones before it, larger ones after. The stable sorting order is such a
    partition (whatever `kth`), so it is returned: NumPy's own choice of order within the
    two sides is unspecified. int32 indices, as Keras'; not differentiable."""
    x = as_tensor(x)
    length = x.data.size if axis is None else x.data.shape[axis]
    for k in xp.atleast_1d(xp.asarray(kth)).tolist():
        if not isinstance(k, int) or not -length <= k < length:
            raise ValueError(f"argpartition: kth={kth!r} is out of bounds for an axis of "
                             f"length {length}.")
    if axis is None:
        x, axis = ravel(x), 0
    return cast(ARGSORT(x, axis=axis, descending=False), "int32")


def sort(x, axis=-1):
    """`x` sorted along `axis` (the flattened `x` when None), in ascending order."""
    x = operand(x)
    return take_along_axis(x, argsort(x, axis), axis)


def top_k(x, k, sorted=True):
    """The `k` largest entries along the last axis and their indices, as `(values, indices)`,
    the largest first (equal values: the first one first)."""
    x = operand(x)
    if not 0 <= int(k) <= x.shape[-1]:
        raise ValueError(f"top_k: k={k} is out of range for a last axis of length "
                         f"{x.shape[-1]}.")
    indices = getitem(ARGSORT(x, axis=-1, descending=True), (Ellipsis, slice(0, int(k))))
    return take_along_axis(x, indices, -1), indices


__all__ = ["argpartition", "argsort", "sort", "top_k"]
