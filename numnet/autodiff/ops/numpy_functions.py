"""More of NumPy's functions under their `keras.ops` names: `cross`, `cdist`, `corrcoef`,
`correlate` (compositions of numnet's ops, so differentiable and compiled like them), and the
functions whose results are indices or counts: `nonzero`, `unravel_index`, `histogram`,
`unique`.

`nonzero`, `histogram` and `unique` read their input's values into Python (how many entries, which
range), so a compiled step that uses them runs eagerly; `unravel_index` is arithmetic on
the indices and replays like any op.
"""

from numnet.autodiff.ops.arithmetic import matmul, multiply, subtract
from numnet.autodiff.ops.core import (
    as_tensor, cast, float_tensor, promoted_tensors, wrap, xp,
)
from numnet.autodiff.ops.math import clip, floor_divide, mod, sqrt, square
from numnet.autodiff.ops.reductions import mean, sum
from numnet.autodiff.ops.shape import (
    diagonal, expand_dims, getitem, moveaxis, pad, stack, swapaxes, take,
)


def correlate(x1, x2, mode="valid"):
    """The cross-correlation of two vectors, `c[k] = sum_n x1[n + k] * x2[n]`, as NumPy's:
    every overlap (`"full"`), the length of the longer input, centred (`"same"`), or only
    full overlaps (`"valid"`). float32, or float64 for 64-bit inputs, as Keras'."""
    x1, x2 = as_tensor(x1), as_tensor(x2)
    if x1.ndim != 1 or x2.ndim != 1:
        raise ValueError(f"correlate expects two vectors; received shapes {tuple(x1.shape)} "
                         f"and {tuple(x2.shape)}.")
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"Invalid mode: '{mode}'. Mode must be one of: 'full', 'same', "
                         f"'valid'.")
    dtype = xp.result_type(x1.data.dtype, x2.data.dtype)
    dtype = xp.float64 if dtype in (xp.int64, xp.uint64, xp.float64) else xp.float32
    x1, x2 = cast(x1, dtype), cast(x2, dtype)
    n, m = x1.shape[0], x2.shape[0]
    if n == 0 or m == 0:
        raise ValueError("correlate: the inputs must not be empty.")
    # full[k] = sum_j padded[k + j] * x2[j], the lags -(m - 1) ... n - 1
    padded = pad(x1, [(m - 1, m - 1)])
    windows = xp.arange(n + m - 1, dtype=xp.int64)[:, None] + xp.arange(m, dtype=xp.int64)
    full = matmul(take(padded, windows, axis=0), x2)
    if mode == "full":
        return full
    if mode == "valid":
        return getitem(full, slice(min(n, m) - 1, max(n, m)))
    start = (m - 1) // 2 if n >= m else n // 2  # NumPy's centring (it swaps when n < m)
    return getitem(full, slice(start, start + max(n, m)))


def _vector_components(x, axis, name):
    """The 3 components of the vectors of `x` along `axis` (a third one of 0 for 2-D
    vectors), and whether they were 2-D."""
    x = moveaxis(x, axis, -1)
    size = x.shape[-1]
    if size not in (2, 3):
        raise ValueError(f"cross: `{name}` must hold 2- or 3-component vectors along its axis; "
                         f"received shape {tuple(x.shape)} (moved to the end).")
    if size == 2:
        x = pad(x, [(0, 0)] * (x.ndim - 1) + [(0, 1)])
    return [getitem(x, (Ellipsis, i)) for i in range(3)], size == 2


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of the 2- or 3-component vectors along `axisa` of `x1` and `axisb`
    of `x2`, along `axisc` of the result (`axis` sets all three). Two 2-D vectors give the
    z component only, as NumPy."""
    if axis is not None:
        axisa = axisb = axisc = axis
    x1, x2 = as_tensor(x1), as_tensor(x2)
    x1, x2 = promoted_tensors([x1, x2])
    (a0, a1, a2), flat1 = _vector_components(x1, axisa, "x1")
    (b0, b1, b2), flat2 = _vector_components(x2, axisb, "x2")
    z = subtract(multiply(a0, b1), multiply(a1, b0))
    if flat1 and flat2:
        return z
    x = subtract(multiply(a1, b2), multiply(a2, b1))
    y = subtract(multiply(a2, b0), multiply(a0, b2))
    return moveaxis(stack([x, y, z], axis=-1), -1, axisc)


def cdist(x, y):
    """The Euclidean distance between each row of `x` (..., m, d) and each row of `y`
    (..., n, d): an (..., m, n) tensor."""
    x, y = float_tensor(x), float_tensor(y)
    if x.ndim < 2 or y.ndim < 2:
        raise ValueError("`cdist` inputs must have rank >= 2; received shapes "
                         f"{tuple(x.shape)} and {tuple(y.shape)}.")
    if x.shape[-1] != y.shape[-1]:
        raise ValueError("Last dimension of inputs to `cdist` must match; received shapes "
                         f"{tuple(x.shape)} and {tuple(y.shape)}.")
    difference = subtract(expand_dims(x, -2), expand_dims(y, -3))
    return sqrt(sum(square(difference), axis=-1))


def corrcoef(x):
    """The Pearson correlation coefficients between the rows of `x` (each row a variable,
    each column an observation), clipped to [-1, 1] as Keras does."""
    x = float_tensor(x)
    if x.ndim == 0:
        return wrap(xp.asarray(xp.nan, dtype=x.data.dtype))
    centered = subtract(x, mean(x, axis=-1, keepdims=True))
    covariance = matmul(centered, swapaxes(centered, -1, -2)) / (x.shape[-1] - 1)
    spread = sqrt(diagonal(covariance, axis1=-2, axis2=-1))
    return clip(covariance / multiply(expand_dims(spread, -1), expand_dims(spread, -2)),
                -1.0, 1.0)


def unravel_index(indices, shape):
    """The coordinates, in an array of `shape`, of each flat (row-major) index: a tuple
    of one tensor per axis."""
    if any(d is None for d in shape):
        raise ValueError(f"`shape` argument cannot contain `None`. Received: shape={shape}")
    indices = as_tensor(indices)
    coordinates = []
    for length in reversed(tuple(int(d) for d in shape)):
        coordinates.append(mod(indices, length))
        indices = floor_divide(indices, length)
    return tuple(reversed(coordinates))


def nonzero(x):
    """The indices of the non-zero entries of `x`: a tuple of one integer tensor per axis."""
    return tuple(wrap(i) for i in xp.nonzero(xp.asarray(as_tensor(x))))


def histogram(x, bins=10, range=None):
    """`(counts, bin_edges)`: how many entries of the 1-D `x` fall in each of `bins` equal
    bins over `range` (the entries' minimum and maximum by default), the last bin closed;
    both in `x`'s dtype, as Keras gives them."""
    values = xp.asarray(as_tensor(x))
    if values.ndim != 1:
        raise ValueError(f"Input tensor must be 1-dimensional. Received: input.shape="
                         f"{values.shape}")
    if isinstance(bins, bool) or not isinstance(bins, (int, xp.integer)) or bins < 0:
        raise ValueError(f"histogram: Argument `bins` should be a non-negative integer. "
                         f"Received: bins={bins}")
    if range is not None:
        if len(range) != 2:
            raise ValueError("histogram: Argument `range` must be a tuple of two elements. "
                             f"Received: range={range}")
        if range[1] < range[0]:
            raise ValueError("histogram: The second element of `range` must be greater than "
                             f"the first. Received: range={range}")
    counts, edges = xp.histogram(values, bins=int(bins), range=range)
    # Keras gives both in the input's dtype (counts too)
    return wrap(counts.astype(values.dtype)), wrap(edges.astype(values.dtype))


def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False,
           axis=None, size=None, fill_value=None):
    """The distinct entries of `x` (of the whole of it, or the distinct slices along
    `axis`): increasing (`sorted=True`, lexicographically for slices) or in the order they
    first appear. With the flags, also the index of each one's first appearance, the index
    of the unique value for each entry (shaped like `x` when flattened), and each one's
    count, in that order, as Keras. `size` truncates or pads the results to that many
    uniques: values with `fill_value` (0 by default), indices with 1, counts with 0, as
    Keras' TensorFlow backend does. Not differentiable; reads the values into Python."""
    values = xp.asarray(as_tensor(x))
    flat = axis is None
    data = values.reshape(-1) if flat else xp.moveaxis(values, axis, 0)
    # NaNs stay distinct, one unique each (NaN != NaN), as in Keras.
    found, first, inverse, counts = xp.unique(
        data, return_index=True, return_inverse=True, return_counts=True,
        axis=None if flat else 0, equal_nan=False)
    inverse = inverse.reshape(-1)
    if not sorted:  # the order of first appearance
        order = xp.argsort(first, kind="stable")
        rank = xp.empty_like(order)
        rank[order] = xp.arange(len(order))
        found, first, counts, inverse = found[order], first[order], counts[order], rank[inverse]
    if size is not None:
        found, first, counts = (_fit(found, size, 0 if fill_value is None else fill_value),
                                _fit(first, size, 1), _fit(counts, size, 0))
    if not flat:
        found = xp.moveaxis(found, 0, axis)
    if flat:
        inverse = inverse.reshape(values.shape)
    results = [found] + [part for part, wanted in ((first, return_index),
                                                   (inverse, return_inverse),
                                                   (counts, return_counts)) if wanted]
    results = [wrap(xp.asarray(part)) for part in results]
    return tuple(results) if len(results) > 1 else results[0]


def _fit(array, size, fill):
    """`array` cut or padded (with `fill`) along its first axis to `size` rows."""
    if len(array) >= size:
        return array[:size]
    pad = xp.full((size - len(array),) + array.shape[1:], fill, dtype=array.dtype)
    return xp.concatenate([array, pad])


__all__ = ["cdist", "corrcoef", "correlate", "cross", "histogram", "nonzero", "unique", "unravel_index"]
