"""One handle on the array library; numnet's layers never import NumPy's math directly."""

import math

import numpy

xp = numpy


# Entries of the shared zeros (`zeros_operands`): 256 KiB of float32, a pass's worth of cache.
ZEROS_CHUNK = 1 << 16
_SHARED_ZEROS = {}  # dtype -> a read-only vector of ZEROS_CHUNK zeros


def shared_zeros(shape, dtype):
    """A read-only array of zeros of `shape` and `dtype` (at most `ZEROS_CHUNK` entries),
    viewing one vector shared by every caller (see `zeros_operands`)."""
    zeros = _SHARED_ZEROS.get(dtype)
    if zeros is None:
        zeros = numpy.zeros(ZEROS_CHUNK, dtype=dtype)
        zeros.flags.writeable = False
        zeros = _SHARED_ZEROS.setdefault(zeros.dtype, zeros)
    return zeros[:math.prod(shape)].reshape(shape)


def zeros_operands(x, out):
    """`(x_part, zeros, out_part)` triples covering `x` and `out` (arrays of one shape) in
    blocks of rows, `zeros` a read-only array of zeros shaped like the block
    (`shared_zeros`); None when a row alone holds more than `ZEROS_CHUNK` entries.

    For a second operand of zero, NumPy's `maximum` of two arrays runs its vectorized loop
    where `maximum(x, 0)` does not: 3-4 times faster with numpy 2.4 (a relu of 32 x 301
    float32 entries: 4.0 against 1.1 us; `benchmarks/bench_elementwise.py`). The zeros are
    shared, one vector per dtype, so the speed costs no memory per call.
    """
    if x.size <= ZEROS_CHUNK:
        return [(x, shared_zeros(x.shape, x.dtype), out)]
    row = x.size // x.shape[0]
    if row > ZEROS_CHUNK:
        return None
    step = ZEROS_CHUNK // row
    return [(x[start:start + step], shared_zeros((min(step, len(x) - start),) + x.shape[1:],
                                                 x.dtype), out[start:start + step])
            for start in range(0, len(x), step)]


def to_numpy(array):
    """Returns `array` as a NumPy array (a no-op for the NumPy backend)."""
    return numpy.asarray(array)


def enclosing_rows(view):
    """`(rows, columns)` with `view` being `rows[:, columns]` and `rows` row-ordered, at
    most twice as wide as `view`, for a 2-D `view` of some adjacent columns of a
    row-ordered array (a Dense input's `[x, 1]`, a column slice of a table); else
    `(view, slice(None))`. `rows` views the same memory.

    A pass over the whole rows is one contiguous loop, where a pass over the strided rows
    of `view` is one short loop per row: for a few dozen columns the former is faster.
    """
    base = view.base
    if view.ndim != 2 or view.flags.c_contiguous or base is None or \
            not base.flags.c_contiguous or base.dtype != view.dtype:
        return view, slice(None)
    row_stride, item = view.strides
    width, rest = divmod(row_stride, view.itemsize)
    offset, misaligned = divmod(view.__array_interface__["data"][0] -
                                base.__array_interface__["data"][0], view.itemsize)
    if item != view.itemsize or rest or misaligned or not \
            view.shape[1] < width <= 2 * view.shape[1]:
        return view, slice(None)
    first, start = divmod(offset, width)
    end = (first + view.shape[0]) * width
    if start + view.shape[1] > width or end > base.size:
        return view, slice(None)
    rows = base.reshape(-1)[first * width:end].reshape(view.shape[0], width)
    return rows, slice(start, start + view.shape[1])
