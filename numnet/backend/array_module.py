"""One handle on the array library; numnet's layers never import NumPy's math directly."""

import numpy

xp = numpy


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
