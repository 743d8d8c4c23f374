"""NumPy functions written with numnet's other ops: `deg2rad`, `sinc`, `isclose`,
`average`, `diff`, `diag`, `kron`, `meshgrid`, `select`, `quantile`, the NaN-ignoring
reductions, `rms_normalization`, ...

Each is a composition, so its gradient, its compiled replay and its export come from the
ops it is made of; only the constants (an index, a mask, a scale) are computed here.
"""

import builtins as _builtins
import math as _math

from numnet.autodiff.ops.core import (
    as_tensor, broadcast_to, cast, checked_axes, convert_to_tensor, float_tensor,
    real_operands, xp,
)
from numnet.autodiff.ops.arithmetic import add, divide, multiply, power, subtract
from numnet.autodiff.ops.creation import linspace
from numnet.autodiff.ops import math as _math_ops
from numnet.autodiff.ops.math import (
    abs, clip, equal, floor, isfinite, isnan, less_equal, logical_and, logical_not,
    logical_or, maximum, minimum, sin, where,
)
from numnet.autodiff.ops.normalization import rsqrt
from numnet.autodiff.ops.reductions import (
    all, any, argmax, argmin, cumprod, cumsum, max, mean, min, prod, sum,
)
from numnet.autodiff.ops.shape import (
    concatenate, diagonal, expand_dims, flip, getitem, moveaxis, ravel, reshape, squeeze,
    swapaxes, take_along_axis,
)
from numnet.autodiff.ops.sorting import sort, top_k
from numnet.backend import epsilon as _epsilon
from numnet.backend import floatx, standardize_dtype


def deg2rad(x):
    """Degrees to radians."""
    return multiply(float_tensor(x), _math.pi / 180.0)


def rad2deg(x):
    """Radians to degrees."""
    return multiply(float_tensor(x), 180.0 / _math.pi)


def sinc(x):
    """sin(pi x) / (pi x), and 1 at 0."""
    x = float_tensor(x)
    zero = equal(x, 0)
    scaled = multiply(where(zero, 1.0, x), _math.pi)
    return where(zero, 1.0, divide(sin(scaled), scaled))


def isclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Where `|x1 - x2| <= atol + rtol * |x2|`; infinities only when equal, NaNs when
    `equal_nan`, as NumPy."""
    x1, x2 = as_tensor(x1), as_tensor(x2)
    near = less_equal(abs(subtract(x1, x2)), add(multiply(abs(x2), rtol), atol))
    finite = logical_and(isfinite(x1), isfinite(x2))
    close = logical_or(logical_and(finite, near), equal(x1, x2))  # infinities: when equal
    if equal_nan:
        close = logical_or(close, logical_and(isnan(x1), isnan(x2)))
    return close


def allclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every entry `isclose`."""
    return all(isclose(x1, x2, rtol=rtol, atol=atol, equal_nan=equal_nan))


def average(x, axis=None, weights=None):
    """The mean along `axis`, each entry counted `weights` times (weights of `x`'s shape,
    or 1-D along `axis`)."""
    x = float_tensor(x)
    if weights is None:
        return mean(x, axis=axis)
    weights = cast(as_tensor(weights), x.data.dtype)
    if weights.ndim == 1 and x.ndim > 1:
        if axis is None:
            raise ValueError("average: 1-D weights need an `axis` for a multi-dimensional x.")
        shape = [1] * x.ndim
        shape[axis] = -1
        weights = reshape(weights, tuple(shape))
    weights = broadcast_to(weights, tuple(x.shape))
    return divide(sum(multiply(x, weights), axis=axis), sum(weights, axis=axis))


def diff(a, n=1, axis=-1):
    """The `n`-th differences of neighbours along `axis`."""
    a = as_tensor(a)
    axis = axis % a.ndim
    before = (_builtins.slice(None),) * axis
    later, earlier = _builtins.slice(1, None), _builtins.slice(None, -1)
    for _ in range(int(n)):
        a = subtract(getitem(a, before + (later,)), getitem(a, before + (earlier,)))
    return a


def diag(x, k=0):
    """The `k`-th diagonal of a matrix, or the matrix with vector `x` on its `k`-th diagonal."""
    x = as_tensor(x)
    if x.ndim == 2:
        return diagonal(x, offset=k)
    if x.ndim != 1:
        raise ValueError(f"diag: `x` must be 1-D or 2-D; received shape {tuple(x.shape)}.")
    size = x.shape[0] + _builtins.abs(k)
    rows = xp.arange(x.shape[0]) + _builtins.max(-k, 0)
    cols = xp.arange(x.shape[0]) + _builtins.max(k, 0)
    placement = xp.zeros((size, size, x.shape[0]), dtype=x.data.dtype)
    placement[rows, cols, xp.arange(x.shape[0])] = 1
    return sum(multiply(placement, x), axis=-1)


def diagflat(x, k=0):
    """The flattened `x` on the `k`-th diagonal of a square matrix."""
    return diag(ravel(x), k)


def kron(x1, x2):
    """The Kronecker product: every entry of `x1` times the whole of `x2`, in blocks."""
    x1, x2 = as_tensor(x1), as_tensor(x2)
    ndim = _builtins.max(x1.ndim, x2.ndim)
    shape1 = (1,) * (ndim - x1.ndim) + tuple(x1.shape)
    shape2 = (1,) * (ndim - x2.ndim) + tuple(x2.shape)
    left = reshape(x1, tuple(d for n in shape1 for d in (n, 1)))
    right = reshape(x2, tuple(d for n in shape2 for d in (1, n)))
    return reshape(multiply(left, right), tuple(a * b for a, b in zip(shape1, shape2)))


def meshgrid(*x, indexing="xy"):
    """Coordinate grids from 1-D tensors (`indexing="xy"`: the first two axes swapped)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij'; received {indexing!r}.")
    vectors = [ravel(as_tensor(v)) for v in x]
    shape = [v.shape[0] for v in vectors]
    if indexing == "xy" and len(vectors) > 1:
        shape[0], shape[1] = shape[1], shape[0]
    grids = []
    for i, vector in enumerate(vectors):
        place = i if indexing == "ij" or len(vectors) < 2 or i > 1 else 1 - i
        view = [1] * len(vectors)
        view[place] = -1
        grids.append(broadcast_to(reshape(vector, tuple(view)), tuple(shape)))
    return grids


def select(condlist, choicelist, default=0):
    """For each entry, the choice of the first condition that holds there, else `default`."""
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: {len(condlist)} conditions but {len(choicelist)} choices.")
    result = as_tensor(default)
    for condition, choice in reversed(list(zip(condlist, choicelist))):
        result = where(condition, choice, result)
    return result


def slice(inputs, start_indices, shape):
    """The block of `inputs` of `shape` that starts at `start_indices`; a size of -1 takes
    the rest of its axis (as `tf.slice` does, and Keras' symbolic `Slice`)."""
    inputs = as_tensor(inputs)
    starts = [int(s) for s in xp.asarray(start_indices).reshape(-1)]
    sizes = [int(s) for s in shape]
    check_slice_arguments(tuple(inputs.shape), starts, sizes)
    if _builtins.any(n < -1 for n in sizes):
        raise ValueError(f"slice: a size in `shape` is at least 0, or -1 for the rest of its "
                         f"axis. Received shape={tuple(shape)}")
    return getitem(inputs, tuple(_builtins.slice(s, None if n == -1 else s + n)
                                 for s, n in zip(starts, sizes)))


def check_slice_arguments(dims, starts, sizes):
    """Keras' errors for `slice` given inputs of shape `dims`: one start (`starts`; None when
    they are symbolic, not checked) and one size per dimension."""
    if len(sizes) != len(dims):
        raise ValueError("The number of dimensions in `inputs` must match the number of "
                         f"dimensions in `shape`. Received inputs.shape={tuple(dims)} and "
                         f"shape={tuple(sizes)}")
    if starts is not None and len(starts) != len(dims):
        raise ValueError("The number of dimensions in `start_indices` must match the number "
                         f"of dimensions in `inputs`. Received start_indices={list(starts)} "
                         f"and inputs.shape={tuple(dims)}")


def fmax(x1, x2):
    """The larger of the two; a NaN loses to a number."""
    x1, x2 = as_tensor(x1), as_tensor(x2)
    return where(isnan(x1), x2, where(isnan(x2), x1, where(less_equal(x2, x1), x1, x2)))


def fmin(x1, x2):
    """The smaller of the two; a NaN loses to a number."""
    x1, x2 = as_tensor(x1), as_tensor(x2)
    return where(isnan(x1), x2, where(isnan(x2), x1, where(less_equal(x1, x2), x1, x2)))


def ptp(x, axis=None, keepdims=False):
    """The range, `max - min`, along `axis`."""
    x = as_tensor(x)
    return subtract(max(x, axis=axis, keepdims=keepdims), min(x, axis=axis, keepdims=keepdims))


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    """`base ** linspace(start, stop, num)`."""
    exponents = linspace(start, stop, num, endpoint=endpoint, dtype="float64", axis=axis)
    return cast(power(float(base), exponents), floatx() if dtype is None else dtype)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """`num` numbers from `start` to `stop` spaced evenly on a log scale."""
    first = xp.asarray(getattr(start, "data", start), dtype=xp.float64)
    last = xp.asarray(getattr(stop, "data", stop), dtype=xp.float64)
    if xp.any(first == 0) or xp.any(last == 0) or xp.any((first < 0) != (last < 0)):
        raise ValueError("geomspace: `start` and `stop` must be non-zero and of one sign.")
    values = logspace(xp.log10(xp.abs(first)), xp.log10(xp.abs(last)), num,
                      endpoint=endpoint, dtype="float64", axis=axis)
    sign = xp.expand_dims(xp.where(xp.broadcast_arrays(first, last)[0] < 0, -1.0, 1.0), axis)
    return cast(multiply(values, sign), floatx() if dtype is None else dtype)


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of the vector `x`: its powers, highest first (or last)."""
    x = as_tensor(x)
    count = x.shape[0] if N is None else int(N)
    exponents = xp.arange(count, dtype=x.data.dtype)
    if not increasing:
        exponents = exponents[::-1].copy()
    return power(reshape(x, (-1, 1)), exponents)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The integral of `y` along `axis` by the trapezoidal rule (sample points `x`, or a
    spacing `dx`)."""
    y = float_tensor(y)
    axis = axis % y.ndim
    before = (_builtins.slice(None),) * axis
    pairs = multiply(add(getitem(y, before + (_builtins.slice(1, None),)),
                         getitem(y, before + (_builtins.slice(None, -1),))), 0.5)
    steps = dx if x is None else diff(x, axis=axis if as_tensor(x).ndim > 1 else -1)
    if x is not None and as_tensor(x).ndim == 1 and y.ndim > 1:
        shape = [1] * y.ndim
        shape[axis] = -1
        steps = reshape(steps, tuple(shape))
    return sum(multiply(pairs, steps), axis=axis)


def rot90(array, k=1, axes=(0, 1)):
    """`array` turned by 90 degrees `k` times, from the first of `axes` to the second."""
    array = as_tensor(array)
    if array.ndim < 2:
        raise ValueError(f"rot90: the array needs at least 2 dimensions; received shape "
                         f"{tuple(array.shape)}.")
    turned = checked_axes(axes, array.ndim)
    if len(turned) != 2 or turned[0] == turned[1]:
        raise ValueError(f"rot90: `axes` must be two different axes; received axes={axes}.")
    first, second = turned
    k %= 4
    if k == 1:
        return swapaxes(flip(array, second), first, second)
    if k == 2:
        return flip(flip(array, first), second)
    if k == 3:
        return flip(swapaxes(array, first, second), second)
    return array


# ----------------------------------------------------------- NaN-ignoring reductions
def _nan_as(x, value):
    x = as_tensor(x)
    return where(isnan(x), xp.asarray(value, dtype=x.data.dtype), x)


def nansum(x, axis=None, keepdims=False):
    """The sum along `axis`, NaNs counted as zero."""
    return sum(_nan_as(x, 0), axis=axis, keepdims=keepdims)


def nanprod(x, axis=None, keepdims=False):
    """The product along `axis`, NaNs counted as one."""
    return prod(_nan_as(x, 1), axis=axis, keepdims=keepdims)


def nanmean(x, axis=None, keepdims=False):
    """The mean along `axis` of the entries that are not NaN."""
    x = as_tensor(x)
    counted = cast(logical_not(isnan(x)), x.data.dtype)
    return divide(nansum(x, axis, keepdims), sum(counted, axis=axis, keepdims=keepdims))


def nanmax(x, axis=None, keepdims=False):
    """The maximum along `axis`, ignoring NaNs; NaN where a slice holds only NaNs (as
    NumPy's, without its warning)."""
    return _where_all_nan(x, axis, keepdims, xp.nan,
                          max(_nan_as(x, -xp.inf), axis=axis, keepdims=keepdims))


def nanmin(x, axis=None, keepdims=False):
    """The minimum along `axis`, ignoring NaNs; NaN where a slice holds only NaNs."""
    return _where_all_nan(x, axis, keepdims, xp.nan,
                          min(_nan_as(x, xp.inf), axis=axis, keepdims=keepdims))


def nanargmax(x, axis=None, keepdims=False):
    """The index of the maximum along `axis`, ignoring NaNs; -1 where a slice holds only
    NaNs (as Keras; NumPy raises)."""
    return _where_all_nan(x, axis, keepdims, -1,
                          argmax(_nan_as(x, -xp.inf), axis=axis, keepdims=keepdims))


def nanargmin(x, axis=None, keepdims=False):
    """The index of the minimum along `axis`, ignoring NaNs; -1 where a slice holds only
    NaNs (as Keras; NumPy raises)."""
    return _where_all_nan(x, axis, keepdims, -1,
                          argmin(_nan_as(x, xp.inf), axis=axis, keepdims=keepdims))


def _where_all_nan(x, axis, keepdims, value, result):
    """`result`, with `value` where the slice of `x` it reduces holds only NaNs."""
    # Always the op, not a test of the values: a compiled step replays it on every batch.
    empty = all(isnan(as_tensor(x)), axis=axis, keepdims=keepdims)
    return where(empty, xp.asarray(value, dtype=result.data.dtype), result)


def nancumsum(x, axis=None, dtype=None):
    """Running sums, NaNs counted as zero."""
    return cumsum(_nan_as(x, 0), axis=axis, dtype=dtype)


def nancumprod(x, axis=None, dtype=None):
    """Running products, NaNs counted as one."""
    return cumprod(_nan_as(x, 1), axis=axis, dtype=dtype)


def saturate_cast(x, dtype):
    """Casts to `dtype` with the values first clipped to what `dtype` holds (and `x`'s own
    dtype can represent below that bound), as Keras' op: `saturate_cast([-1., 256.],
    "uint8")` is `[0, 255]` where `cast` wraps around."""
    x = as_tensor(x)
    source, target = x.data.dtype, xp.dtype(standardize_dtype(dtype))
    low_in, high_in = _dtype_range(source)
    low_out, high_out = _dtype_range(target)
    low = xp.asarray(_builtins.max(low_in, low_out)).astype(source)
    if low.item() < low_out:  # rounded past the bound (a float32 -2**31 - 1 ...): step back inside
        low = xp.nextafter(low, 0, dtype=source)
    high = xp.asarray(_builtins.min(high_in, high_out)).astype(source)
    if high.item() > high_out:  # (Python compares ints and floats exactly)
        high = xp.nextafter(high, 0, dtype=source)
    return cast(clip(x, low[()], high[()]), target)


def _dtype_range(dtype):
    if dtype == xp.bool_:
        return 0, 1
    info = xp.iinfo(dtype) if dtype.kind in "iu" else xp.finfo(dtype)
    return (int(info.min), int(info.max)) if dtype.kind in "iu" else (float(info.min),
                                                                      float(info.max))


# ------------------------------------------------------------------ quantiles
def quantile(x, q, axis=None, method="linear", keepdims=False):
    """The `q`-th quantiles (`q` in [0, 1], a number or a vector) along `axis`, by linear
    interpolation between the sorted values, as NumPy's default; a vector `q` puts its axis
    first."""
    x, ordered = _sorted_rows(x, axis, method, "quantile")
    count = ordered.shape[-1]
    fractions = xp.atleast_1d(xp.asarray(q, dtype=xp.float64))
    results = []
    for fraction in fractions:
        index = fraction * (count - 1)
        low = int(xp.floor(index))
        high = _builtins.min(low + 1, count - 1)
        weight = float(_upper_weight(xp, method, index - low, low))
        lower = getitem(ordered, (Ellipsis, low))
        if method in _PICKING:  # an entry itself, not arithmetic that may round
            results.append(getitem(ordered, (Ellipsis, high)) if weight else lower)
            continue
        upper = getitem(ordered, (Ellipsis, high))
        results.append(add(lower, multiply(subtract(upper, lower), weight)))
    return _quantile_result(results, x, q, axis, keepdims)


# NumPy's `method`s of `quantile`. The rest pick one of the two neighbours of the index.
_METHODS = ("linear", "midpoint", "lower", "higher", "nearest")
_PICKING = {"lower", "higher", "nearest"}


def _upper_weight(m, method, fraction, low):
    """The weight of the upper neighbour, from the fractional part `fraction` of the index
    `(count - 1) * q` and its integer part `low`, with the functions of `m`: NumPy's for a
    position known when the step is written (`quantile`), numnet's ops for one that depends
    on the data (`nanquantile`'s count of values, which a compiled step recomputes). "nearest"
    rounds a half to the even index, as NumPy does."""
    if method == "linear":
        return fraction
    above = m.greater(fraction, 0.0)
    if method in ("higher", "midpoint"):
        return m.where(above, 1.0 if method == "higher" else 0.5, 0.0)
    if method == "lower":
        return m.where(above, 0.0, 0.0)
    tie_to_odd = m.logical_and(m.equal(fraction, 0.5), m.equal(m.mod(low, 2.0), 1.0))
    return m.where(m.logical_or(m.greater(fraction, 0.5), tie_to_odd), 1.0, 0.0)


def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    """`quantile` of the values that are not NaN, slice by slice (NaN where a slice has
    none), as NumPy's `nanquantile`; the gradient reaches the values interpolated."""
    x, ordered = _sorted_rows(x, axis, method, "nanquantile")  # NaNs sort last
    # The positions depend on how many values are not NaN: ops, so that a compiled step
    # recomputes them for each batch (they carry no gradient).
    counts = sum(cast(logical_not(isnan(ordered)), xp.float64), axis=-1, keepdims=True)
    last = subtract(counts, 1.0)
    results = []
    for fraction in xp.atleast_1d(xp.asarray(q, dtype=xp.float64)):
        index = maximum(multiply(last, float(fraction)), 0.0)
        low = floor(index)
        high = minimum(add(low, 1.0), maximum(last, 0.0))
        weight = _upper_weight(_math_ops, method, subtract(index, low), low)
        lower = take_along_axis(ordered, cast(low, xp.int64), -1)
        upper = take_along_axis(ordered, cast(high, xp.int64), -1)
        if method in _PICKING:
            value = where(_math_ops.greater(weight, 0.0), upper, lower)
        else:
            value = add(lower, multiply(subtract(upper, lower), cast(weight, ordered.data.dtype)))
        results.append(squeeze(where(equal(counts, 0.0), xp.nan, value), -1))
    return _quantile_result(results, x, q, axis, keepdims)


def _sorted_rows(x, axis, method, name):
    """`x` as a float tensor, and its values along `axis` sorted as the last axis of a tensor
    of the other axes (a vector when `axis` is None)."""
    if method not in _METHODS:
        raise ValueError(f"{name}: `method` must be one of {sorted(_METHODS)}; "
                         f"received {method!r}.")
    x = float_tensor(x)
    if axis is None:
        return x, sort(ravel(x), axis=0)
    axes = checked_axes(axis, x.ndim)
    kept = [a for a in range(x.ndim) if a not in axes]
    moved = reshape(moveaxis(x, axes, list(range(x.ndim - len(axes), x.ndim))),
                    tuple(x.shape[a] for a in kept) + (-1,))
    return x, sort(moved, axis=-1)


def _quantile_result(results, x, q, axis, keepdims):
    """One result per quantile, stacked first for a vector `q`, with the reduced axes kept
    as ones when `keepdims`."""
    result = results[0] if xp.ndim(q) == 0 else _stack_first(results)
    if keepdims:
        result = _restore_axes(result, x, axis, xp.ndim(q) != 0)
    return result


def _stack_first(parts):
    return concatenate([expand_dims(p, 0) for p in parts], axis=0)


def _restore_axes(result, x, axis, has_q_axis):
    axes = range(x.ndim) if axis is None else checked_axes(axis, x.ndim)
    shape = [1 if i in axes else n for i, n in enumerate(x.shape)]
    return reshape(result, ((len(result) if has_q_axis else 1),) * has_q_axis + tuple(shape))


def percentile(x, q, axis=None, method="linear", keepdims=False):
    """`quantile` with `q` in percent."""
    return quantile(x, xp.asarray(q, dtype=xp.float64) / 100.0, axis=axis, method=method,
                    keepdims=keepdims)


def median(x, axis=None, keepdims=False):
    """The middle value along `axis` (the mean of the two middle ones for an even count)."""
    return quantile(x, 0.5, axis=axis, keepdims=keepdims)


def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    """`nanquantile` with `q` in percent."""
    return nanquantile(x, xp.asarray(q, dtype=xp.float64) / 100.0, axis=axis, method=method,
                       keepdims=keepdims)


def nanmedian(x, axis=None, keepdims=False):
    """The median of the values that are not NaN along `axis` (`x` itself for `axis=()`)."""
    if axis == () or axis == []:
        return float_tensor(x)
    return nanquantile(x, 0.5, axis=axis, keepdims=keepdims)


# ------------------------------------------------------------------ nn helpers
def in_top_k(targets, predictions, k):
    """Whether each row's target class is among its `k` largest predictions (ties count
    as in)."""
    predictions = as_tensor(predictions)
    targets = cast(as_tensor(targets), xp.int64)
    values, _ = top_k(predictions, k)
    chosen = take_along_axis(predictions, reshape(targets, (-1, 1)), axis=-1)
    return any(less_equal(getitem(values, (Ellipsis, _builtins.slice(k - 1, k))), chosen),
               axis=-1)


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """Integer labels encoded as multi-hot vectors: a 1 for every label a sample has."""
    from numnet.autodiff.ops import one_hot
    num_classes = kwargs.pop("num_tokens", num_classes)
    if kwargs:
        raise TypeError(f"multi_hot: unexpected arguments {sorted(kwargs)}.")
    if num_classes is None:
        raise ValueError("multi_hot: give `num_classes`.")
    inputs = as_tensor(inputs)
    encoded = one_hot(inputs, num_classes, axis=axis, dtype=dtype, sparse=sparse)
    return max(encoded, axis=1 if inputs.ndim > 1 else 0)


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """`x` divided by its root mean square along `axis` (plus `epsilon`, Keras' epsilon by
    default), times `scale`."""
    x = float_tensor(x)
    epsilon = _epsilon() if epsilon is None else epsilon
    axis = tuple(sorted(axis)) if isinstance(axis, (list, tuple)) else axis
    from numnet.autodiff.ops.math import square
    result = multiply(x, rsqrt(add(mean(square(x), axis=axis, keepdims=True), epsilon)))
    return result if scale is None else multiply(result, scale)


def empty_like(x, dtype=None):
    """A tensor like `x` to fill (numnet fills it with zeros)."""
    x = as_tensor(x)
    return convert_to_tensor(xp.zeros(x.shape, dtype=x.data.dtype if dtype is None else dtype))


def array(x, dtype=None):
    """`x` as a tensor (`convert_to_tensor`)."""
    return convert_to_tensor(x, dtype=dtype)



# ------------------------------------------------------------------ more of NumPy
def fliplr(x):
    """`x` reversed along its second axis."""
    from numnet.autodiff.ops.shape import flip as _flip
    return _flip(x, 1)


def flipud(x):
    """`x` reversed along its first axis."""
    from numnet.autodiff.ops.shape import flip as _flip
    return _flip(x, 0)


def erfc(x):
    """The complementary error function, 1 - erf(x)."""
    from numnet.autodiff.ops.math import erf
    return subtract(1.0, erf(x))


def isposinf(x):
    """Where `x` is +inf."""
    x = as_tensor(x)
    return equal(x, xp.asarray(xp.inf, dtype=x.data.dtype))


def isneginf(x):
    """Where `x` is -inf."""
    x = as_tensor(x)
    return equal(x, xp.asarray(-xp.inf, dtype=x.data.dtype))


def logaddexp2(x1, x2):
    """log2(2**x1 + 2**x2), without overflow."""
    from numnet.autodiff.ops.math import logaddexp
    x1, x2 = real_operands(x1, x2)
    return divide(logaddexp(multiply(x1, _math.log(2.0)), multiply(x2, _math.log(2.0))),
                  _math.log(2.0))


def fmod(x1, x2):
    """The remainder of division, with the sign of `x1` (C's fmod)."""
    from numnet.autodiff.ops.math import trunc
    x1, x2 = as_tensor(x1), as_tensor(x2)
    return subtract(x1, multiply(x2, trunc(divide(x1, x2))))


def ldexp(x1, x2):
    """x1 * 2**x2."""
    return multiply(float_tensor(x1), power(2.0, cast(as_tensor(x2), float_tensor(x1).data.dtype)))


def array_split(x, indices_or_sections, axis=0):
    """`x` cut along `axis` into `indices_or_sections` nearly equal parts (the first ones
    one longer when the length does not divide), or at the given indices."""
    from numnet.autodiff.ops.shape import split
    x = as_tensor(x)
    if isinstance(indices_or_sections, int):
        length, parts = x.shape[axis], indices_or_sections
        sizes = [length // parts + (1 if i < length % parts else 0) for i in range(parts)]
        indices_or_sections = list(xp.cumsum(sizes)[:-1])
    return split(x, indices_or_sections, axis=axis)


def hsplit(x, indices_or_sections):
    """`split` along the second axis (the first for a 1-D `x`)."""
    from numnet.autodiff.ops.shape import split
    x = as_tensor(x)
    return split(x, indices_or_sections, axis=1 if x.ndim > 1 else 0)


def vsplit(x, indices_or_sections):
    """`split` along the first axis."""
    from numnet.autodiff.ops.shape import split
    return split(x, indices_or_sections, axis=0)


def dsplit(x, indices_or_sections):
    """`split` along the third axis."""
    from numnet.autodiff.ops.shape import split
    return split(x, indices_or_sections, axis=2)


def dstack(xs):
    """Tensors joined along a third axis (1-D and 2-D ones first made 3-D, as NumPy)."""
    parts = []
    for x in xs:
        x = as_tensor(x)
        if x.ndim == 1:
            x = reshape(x, (1, -1, 1))
        elif x.ndim == 2:
            x = expand_dims(x, -1)
        parts.append(x)
    return concatenate(parts, axis=2)


def append(x1, x2, axis=None):
    """`x2` joined after `x1` along `axis` (both flattened when None)."""
    if axis is None:
        return concatenate([ravel(x1), ravel(x2)], axis=0)
    return concatenate([as_tensor(x1), as_tensor(x2)], axis=axis)


def nanvar(x, axis=None, keepdims=False):
    """The variance along `axis` of the entries that are not NaN."""
    from numnet.autodiff.ops.math import square
    x = as_tensor(x)
    # NaNs become 0 before the square: a gradient must never meet them in a product.
    centred = _nan_as(subtract(x, nanmean(x, axis=axis, keepdims=True)), 0)
    counted = cast(logical_not(isnan(x)), x.data.dtype)
    return divide(sum(square(centred), axis=axis, keepdims=keepdims),
                  sum(counted, axis=axis, keepdims=keepdims))


def nanstd(x, axis=None, keepdims=False):
    """The standard deviation along `axis` of the entries that are not NaN."""
    from numnet.autodiff.ops.math import sqrt
    return sqrt(nanvar(x, axis=axis, keepdims=keepdims))


def isin(x1, x2, assume_unique=False, invert=False):
    """Whether each entry of `x1` is among the entries of `x2` (not, with `invert`)."""
    x1, x2 = as_tensor(x1), ravel(as_tensor(x2))
    found = any(equal(expand_dims(x1, -1), x2), axis=-1)
    return logical_not(found) if invert else found


def real(x):
    """The real part (numnet's tensors are real: `x` itself)."""
    return as_tensor(x)


def imag(x):
    """The imaginary part (numnet's tensors are real: zeros)."""
    x = as_tensor(x)
    return multiply(x, 0)


def angle(x):
    """The argument of each entry as a complex number (numnet's tensors are real): pi where
    `x < 0`, else 0, as Keras on TensorFlow (NumPy gives pi for -0.0 and NaN for NaN)."""
    x = float_tensor(x)
    return cast(where(x < 0, _math.pi, 0.0), x.data.dtype)  # no gradient: constant pieces


def isreal(x):
    """Whether each entry is real (always, for numnet's tensors)."""
    return equal(imag(x), 0)


conj = conjugate = real


# ------------------------------------------------------- segments, bins and blocks
def slice_update(inputs, start_indices, updates):
    """`inputs` with the block starting at `start_indices` replaced by `updates`."""
    from numnet.autodiff.ops.shape import pad
    inputs, updates = as_tensor(inputs), as_tensor(updates)
    starts = [int(s) for s in xp.asarray(start_indices).reshape(-1)]
    widths = [(start, size - start - part) for start, size, part in
              zip(starts, inputs.shape, updates.shape)]
    if _builtins.any(after < 0 for _, after in widths):
        raise ValueError(f"slice_update: updates of shape {tuple(updates.shape)} at "
                         f"{starts} do not fit in inputs of shape {tuple(inputs.shape)}.")
    inside = xp.pad(xp.ones(updates.shape, dtype=bool), widths)
    return where(inside, pad(cast(updates, inputs.data.dtype), widths), inputs)


def _segments(segment_ids, num_segments, dtype):
    """One row per sample saying its segment (ids outside [0, num_segments) in none)."""
    from numnet.autodiff.ops import one_hot
    segment_ids = as_tensor(segment_ids)
    if num_segments is None:
        num_segments = int(xp.asarray(segment_ids).max()) + 1  # reads the ids' values
    return one_hot(segment_ids, int(num_segments), dtype=dtype)


def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    """The sums of the rows of `data` sharing a segment id: row `i` of the result sums the
    rows whose id is `i`."""
    from numnet.autodiff.ops.linalg import tensordot
    data = as_tensor(data)
    members = _segments(segment_ids, num_segments, data.data.dtype)
    return tensordot(members, data, axes=([0], [0]))


def _segment_reduce(data, segment_ids, num_segments, reduce, fill):
    """`reduce` over axis 0 of each segment's rows of `data`, `fill` standing in for the
    rows outside the segment (and for an empty segment's result)."""
    members = _segments(segment_ids, num_segments, bool)
    spread = reshape(members, tuple(members.shape) + (1,) * (data.ndim - 1))
    return reduce(where(spread, expand_dims(data, 1), fill), axis=0)


def segment_max(data, segment_ids, num_segments=None, sorted=False):
    """The largest row of `data` in each segment (the dtype's lowest value where a segment
    is empty, as TensorFlow)."""
    data = float_tensor(data)
    lowest = xp.asarray(xp.finfo(data.data.dtype).min, dtype=data.data.dtype)
    return _segment_reduce(data, segment_ids, num_segments, max, lowest)


def segment_min(data, segment_ids, num_segments=None, sorted=False):
    """The smallest row of `data` in each segment (the dtype's highest value where a segment
    is empty, as TensorFlow)."""
    data = float_tensor(data)
    highest = xp.asarray(xp.finfo(data.data.dtype).max, dtype=data.data.dtype)
    return _segment_reduce(data, segment_ids, num_segments, min, highest)


def segment_prod(data, segment_ids, num_segments=None, sorted=False):
    """The product of the rows of `data` in each segment (1 where a segment is empty)."""
    return _segment_reduce(as_tensor(data), segment_ids, num_segments, prod, 1)


def bincount(x, weights=None, minlength=0, sparse=False):
    """How many times each non-negative integer occurs in `x` (along its last axis for a
    2-D `x`), or the sum of `weights` at each."""
    from numnet.autodiff.ops import one_hot
    if sparse:
        raise ValueError("bincount: numnet has no sparse tensors; use sparse=False.")
    x = as_tensor(x)
    length = _builtins.max(int(minlength), int(xp.asarray(x).max()) + 1 if x.size else 0)
    dtype = xp.int64 if weights is None else as_tensor(weights).data.dtype
    counted = one_hot(x, length, dtype=dtype)
    if weights is not None:
        counted = multiply(counted, expand_dims(cast(as_tensor(weights), dtype), -1))
    return sum(counted, axis=-2)


def digitize(x, bins):
    """For each entry, the index of the bin it falls in: how many of the increasing `bins`
    are at most the entry."""
    from numnet.autodiff.ops.math import greater_equal
    x, bins = as_tensor(x), as_tensor(bins)
    return sum(cast(greater_equal(expand_dims(x, -1), bins), xp.int64), axis=-1)


def searchsorted(sorted_sequence, values, side="left"):
    """Where each of `values` would go in the increasing 1-D `sorted_sequence` to keep it
    sorted: before equal entries (`side="left"`) or after them ("right")."""
    from numnet.autodiff.ops.math import less
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right'; received {side!r}.")
    sequence, values = as_tensor(sorted_sequence), as_tensor(values)
    if sequence.ndim != 1:
        raise ValueError(f"searchsorted: `sorted_sequence` must be 1-D; received shape "
                         f"{tuple(sequence.shape)}.")
    before = less if side == "left" else less_equal
    return sum(cast(before(sequence, expand_dims(values, -1)), xp.int64), axis=-1)
