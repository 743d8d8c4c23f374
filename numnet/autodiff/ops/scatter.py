"""Scatters: `scatter(indices, values, shape)` and `scatter_update(inputs, indices, updates,
reduction)`, Keras' names for TensorFlow's `scatter_nd` family.

`indices` has shape (n, k): each row picks one entry (k = the target's rank) or one slice
(k smaller) of the target, and the matching row of `values` / `updates` goes there.
`scatter` sums the values sent to the same place; `scatter_update` overwrites (the last
update wins, where TensorFlow leaves the order open), or combines them with the target's
entry by `reduction` ("add", "max", "min", "mul").

The indices are an input of the primitives, not constants read into Python, so a compiled
step replays them for each batch's indices. The backward rules are written with the ops
beside each forward; `max` and `min` share their gradient between tied candidates, as
TensorFlow does.
"""

from numnet.autodiff.ops.arithmetic import add, divide, multiply, subtract
from numnet.autodiff.ops.core import Primitive, as_tensor, cast, xp
from numnet.autodiff.ops.math import equal, greater, not_equal, where


def _key(indices):
    """NumPy's index of the rows of `indices` (n, k): k integer arrays of n entries."""
    indices = xp.asarray(indices)
    if indices.ndim < 1:
        raise ValueError(f"scatter: `indices` must have a last axis of coordinates; received "
                         f"shape {indices.shape}.")
    return tuple(xp.moveaxis(indices.astype(xp.intp, copy=False), -1, 0))


def _gather_compute(x, indices):
    return x[_key(indices)]


def _gather_vjp(g, inputs, output, needs):
    x, indices = inputs
    return SCATTER(indices, g, shape=tuple(x.shape)), None


GATHER = Primitive("gather_nd", _gather_compute, _gather_vjp)


def _scatter_compute(indices, values, shape):
    out = xp.zeros(shape, dtype=values.dtype)
    xp.add.at(out, _key(indices), values)
    return out


SCATTER = Primitive("scatter_nd", _scatter_compute, lambda g, inputs, output, needs, shape: (
    None, GATHER(g, inputs[0])))


def scatter(indices, values, shape):
    """A tensor of `shape`, zero but where `indices` send `values` (summed where several
    rows of `indices` name the same place)."""
    return SCATTER(as_tensor(indices), as_tensor(values), shape=tuple(int(d) for d in shape))


# ---------------------------------------------------------------- scatter_update
_COMBINE = {"max": xp.maximum, "min": xp.minimum, "mul": xp.multiply}


def _update_compute(inputs, indices, updates, reduction):
    out = inputs.copy()
    key = _key(indices)
    if reduction is None:
        out[key] = updates
    else:
        _COMBINE[reduction].at(out, key, updates.astype(out.dtype, copy=False))
    return out


def _overwrite_vjp(g, inputs, output, needs):
    target, indices, updates = inputs
    hit = not_equal(SCATTER(indices, xp.ones(updates.shape, dtype=g.data.dtype),
                            shape=tuple(target.shape)), 0)
    return where(hit, 0.0, g), None, GATHER(g, indices)


def _extremum_vjp(g, inputs, output, needs):
    # TensorFlow's rule: the gradient is shared between the target's entry and the updates
    # equal to the result at each place.
    target, indices, updates = inputs
    dtype = g.data.dtype
    kept = cast(equal(target, output), dtype)
    won = cast(equal(updates, GATHER(output, indices)), dtype)
    share = divide(g, add(kept, SCATTER(indices, won, shape=tuple(target.shape))))
    return multiply(share, kept), None, multiply(GATHER(share, indices), won)


def _product_vjp(g, inputs, output, needs):
    # d out[p] / d u_i = target[p] * (the product of the other updates sent to p): the
    # product of the non-zero ones divided by u_i, or 0 when another update there is 0.
    target, indices, updates = inputs
    shape, dtype = tuple(target.shape), g.data.dtype
    is_zero = equal(updates, 0)
    safe = where(is_zero, 1.0, updates)
    ones = xp.ones(shape, dtype=dtype)
    zeros_at = SCATTER(indices, cast(is_zero, dtype), shape=shape)
    others_zero = greater(subtract(GATHER(zeros_at, indices), cast(is_zero, dtype)), 0)
    others = where(others_zero, 0.0, divide(GATHER(UPDATE_MUL(ones, indices, safe), indices),
                                            safe))
    return (multiply(g, UPDATE_MUL(ones, indices, updates)), None,
            multiply(GATHER(multiply(g, target), indices), others))


UPDATE_SET = Primitive("scatter_update", lambda t, i, u: _update_compute(t, i, u, None),
                       _overwrite_vjp)
UPDATE_MAX = Primitive("scatter_update_max", lambda t, i, u: _update_compute(t, i, u, "max"),
                       _extremum_vjp)
UPDATE_MIN = Primitive("scatter_update_min", lambda t, i, u: _update_compute(t, i, u, "min"),
                       _extremum_vjp)
UPDATE_MUL = Primitive("scatter_update_mul", lambda t, i, u: _update_compute(t, i, u, "mul"),
                       _product_vjp)
_UPDATES = {None: UPDATE_SET, "max": UPDATE_MAX, "min": UPDATE_MIN, "mul": UPDATE_MUL}


def scatter_update(inputs, indices, updates, reduction=None):
    """`inputs` with the places `indices` name set to `updates` (`reduction=None`), or
    combined with them: "add" (sums), "max", "min", "mul"."""
    inputs, indices, updates = as_tensor(inputs), as_tensor(indices), as_tensor(updates)
    if reduction == "add":
        return add(inputs, SCATTER(indices, cast(updates, inputs.data.dtype),
                                   shape=tuple(inputs.shape)))
    if reduction not in _UPDATES:
        raise ValueError("scatter_update: `reduction` must be None, 'add', 'max', 'min' or "
                         f"'mul'; received {reduction!r}.")
    return _UPDATES[reduction](inputs, indices, cast(updates, inputs.data.dtype))


__all__ = ["scatter", "scatter_update"]
