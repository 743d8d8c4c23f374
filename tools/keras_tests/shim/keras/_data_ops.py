"""Array constructors Keras' tests use to make inputs, where `numnet.ops` has none.

`keras.ops` names resolve to `numnet.ops` first; only names it lacks fall back here. This
module holds only constructors of test data (`ones`, `array`, `arange`, ...), never the
computations under test, and each returns a numnet `Tensor` with the dtype Keras gives it
(Python floats -> floatx, Python ints -> int32, NumPy arrays keep theirs).
"""

import numpy as np

from numnet.autodiff import Tensor
from numnet.backend import floatx, standardize_dtype


def _tensor(value, dtype=None):
    if dtype is not None:
        return Tensor(np.asarray(value, dtype=standardize_dtype(dtype)))
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        return Tensor(np.asarray(value))
    array = np.asarray(value)
    if array.dtype.kind == "f":
        array = array.astype(floatx())
    elif array.dtype.kind in "iu":
        array = array.astype("int32")
    return Tensor(array)


def _python_dtype(value, dtype):
    if dtype is not None:
        return standardize_dtype(dtype)
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int32"
    if isinstance(value, float):
        return floatx()
    return None


def array(x, dtype=None):
    return _tensor(x.data if isinstance(x, Tensor) else x, dtype)


def ones(shape, dtype=None):
    return Tensor(np.ones(shape, dtype=standardize_dtype(dtype or floatx())))


def zeros(shape, dtype=None):
    return Tensor(np.zeros(shape, dtype=standardize_dtype(dtype or floatx())))


def full(shape, fill_value, dtype=None):
    dtype = _python_dtype(fill_value, dtype)
    return _tensor(np.full(shape, np.asarray(getattr(fill_value, "data", fill_value))), dtype)


def ones_like(x, dtype=None):
    return Tensor(np.ones_like(np.asarray(getattr(x, "data", x)), dtype=dtype))


def zeros_like(x, dtype=None):
    return Tensor(np.zeros_like(np.asarray(getattr(x, "data", x)), dtype=dtype))


def full_like(x, fill_value, dtype=None):
    return Tensor(np.full_like(np.asarray(getattr(x, "data", x)), fill_value, dtype=dtype))


def eye(n, m=None, k=0, dtype=None):
    return Tensor(np.eye(n, m, k, dtype=standardize_dtype(dtype or floatx())))


def arange(start, stop=None, step=1, dtype=None):
    values = np.arange(start, stop, step) if stop is not None else np.arange(start)
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, stop, step))
        dtype = floatx() if is_float else "int32"
    return Tensor(values.astype(standardize_dtype(dtype)))


def convert_to_numpy(x):
    return np.asarray(x.data if isinstance(x, Tensor) else x)


# `keras.ops.random` (tests draw inputs with `ops.random.normal(...)`).
from keras import _data_random as random  # noqa: E402
