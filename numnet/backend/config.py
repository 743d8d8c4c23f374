"""Global numeric policy: the default float dtype and the fuzz factor, as in `keras.config`."""

import numpy as np

_FLOATX = "float32"
_EPSILON = 1e-7
_ALLOWED_FLOATX = ("float16", "float32", "float64")


def floatx():
    """Returns the default float dtype name, `"float32"` unless changed."""
    return _FLOATX


def set_floatx(value):
    """Sets the default float dtype (`"float16"`, `"float32"` or `"float64"`)."""
    global _FLOATX
    value = str(np.dtype(value)) if not isinstance(value, str) else value
    if value not in _ALLOWED_FLOATX:
        raise ValueError(
            f"Unknown `floatx` value: {value!r}. Expected one of {_ALLOWED_FLOATX}."
        )
    _FLOATX = value


def epsilon():
    """Returns the fuzz factor used to keep logs and divisions finite (1e-7)."""
    return _EPSILON


def set_epsilon(value):
    """Sets the fuzz factor."""
    global _EPSILON
    _EPSILON = float(value)


def standardize_dtype(dtype):
    """Returns a dtype name string, resolving `None` to `floatx()`."""
    if dtype is None:
        return _FLOATX
    if isinstance(dtype, dict):  # a serialized DTypePolicy
        dtype = dtype.get("config", {}).get("name", _FLOATX)
    name = getattr(dtype, "name", None)
    if isinstance(name, str) and not isinstance(dtype, np.dtype):
        dtype = name
    if dtype in ("string", "str", str, bytes) or (
            isinstance(dtype, np.dtype) and dtype.kind in "US"):
        return "string"  # Keras' name for text inputs (NumPy arrays of str hold them)
    try:
        return np.dtype(dtype).name
    except TypeError as error:
        raise ValueError(f"Invalid dtype: {dtype!r}") from error
