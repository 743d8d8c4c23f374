"""Ufunc calls bound once and replayed many times, at the least cost per call.

A compiled step (`numnet.engine`) runs each of its elementwise ops as a zero-argument
callable over buffers it allocated once. Most are `ufunc(*arrays, out=buffer)`; two
things make some of them cheaper with the same numbers:

- a Python number among the operands is converted to the array's dtype once, at
  binding, instead of at every call (NumPy converts weak scalars per call, NEP 50);
- an addition, subtraction or multiplication of 0-d arrays (a loss's scale by
  `1 / batch_size`, a loss weight, a sum of output losses) runs as Python float
  arithmetic stored into the 0-d buffer: a third of a ufunc call's cost. Python's
  floats are IEEE binary64, and a binary64 result rounded to binary32 is the
  correctly rounded binary32 result for these operations (53 >= 2 * 24 + 2 bits,
  Figueroa 1995), so float32 buffers get the very bits the ufunc gives.
"""

import operator
from functools import partial

from numnet.backend import blas
from numnet.backend.array_module import xp

_PYTHON_ARITHMETIC = {xp.add: operator.add, xp.subtract: operator.sub,
                      xp.multiply: operator.mul}
_EXACT_IN_PYTHON = (xp.dtype("float32"), xp.dtype("float64"))


def bound_ufunc(ufunc, arrays, out):
    """A zero-argument callable doing `ufunc(*arrays, out=out)`, cheapest first (a matrix
    product may be two calls, see `_bound_product`)."""
    arrays = _typed_literals(arrays)
    if ufunc is xp.matmul:
        return _bound_product(arrays, out)
    arithmetic = _PYTHON_ARITHMETIC.get(ufunc)
    if arithmetic is not None and out is not None and out.shape == () and \
            out.dtype in _EXACT_IN_PYTHON and len(arrays) == 2 and \
            all(isinstance(a, xp.ndarray) and a.shape == () and a.dtype == out.dtype
                for a in arrays):
        return partial(_python_arithmetic, arithmetic, out, *arrays)
    return partial(ufunc, *arrays, out=out)


def copies_left(a, b):
    """Whether `a @ b`, `a` a row-ordered matrix (its rows possibly the left columns of a
    wider one) and `b` a transposed one, is faster through a column-ordered copy of `a`
    (`blas.copy_left_pays`): the eager product and a bound one (`bound_ufunc`) take that
    route alike."""
    return isinstance(a, xp.ndarray) and isinstance(b, xp.ndarray) and a.ndim == 2 and \
        b.ndim == 2 and a.strides[1] == a.itemsize and a.strides[0] >= a.shape[1] * \
        a.itemsize and b.T.flags.c_contiguous and \
        not b.flags.c_contiguous and a.dtype == b.dtype and \
        blas.copy_left_pays(a.shape[0], a.shape[1], b.shape[1], a.dtype)


def _bound_product(arrays, out):
    """`matmul(a, b, out=out)`, through a column-ordered copy of `a` where `copies_left`."""
    a, b = arrays
    if out is not None and out.dtype == a.dtype and copies_left(a, b):
        columns = xp.empty(a.shape, dtype=a.dtype, order="F")
        return [partial(xp.copyto, columns, a), partial(xp.matmul, columns, b, out=out)]
    return partial(xp.matmul, a, b, out=out)


def _python_arithmetic(arithmetic, out, a, b):
    out[()] = arithmetic(float(a), float(b))


def _typed_literals(arrays):
    """A ufunc's Python numbers as 0-d arrays of its one floating array operand's dtype
    (the value NumPy would convert them to at each call)."""
    found = [a for a in arrays if isinstance(a, xp.ndarray)]
    if len(found) != 1 or found[0].dtype.kind != "f":
        return arrays
    dtype = found[0].dtype
    return [xp.asarray(a, dtype=dtype) if type(a) in (float, int) else a for a in arrays]
