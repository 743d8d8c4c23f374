"""Global settings of `keras.config`: the default float dtype, the fuzz factor and the image
data format."""

import numpy as np

_FLOATX = "float32"
_EPSILON = 1e-7
_ALLOWED_FLOATX = ("float16", "float32", "float64")
_IMAGE_DATA_FORMAT = "channels_last"


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


def image_data_format():
    """Where layers with a `data_format` find the channels by default: `"channels_last"`
    (`(batch, ..., channels)`) unless changed."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format):
    """Sets the default data format (`"channels_last"` or `"channels_first"`)."""
    global _IMAGE_DATA_FORMAT
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', "
                         f"'channels_last'}}. Received: data_format={data_format}")
    _IMAGE_DATA_FORMAT = data_format


def standardize_data_format(data_format):
    """`data_format`, or the default one when None; an error for anything else."""
    if data_format is None:
        return _IMAGE_DATA_FORMAT
    data_format = str(data_format).lower()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', "
                         f"'channels_last'}}. Received: data_format={data_format}")
    return data_format


_STANDARD_NAMES = {}  # dtype objects, types and names seen -> their standard names


def standardize_dtype(dtype):
    """Returns a dtype name string, resolving `None` to `floatx()`."""
    if dtype is None:
        return _FLOATX
    try:  # called for many ops: NumPy's `dtype.name` alone costs microseconds
        return _STANDARD_NAMES[dtype]
    except (KeyError, TypeError):  # not seen yet, or unhashable (a serialized policy)
        pass
    name = _standard_name(dtype)
    if isinstance(dtype, (str, type, np.dtype)) and len(_STANDARD_NAMES) < 256:
        _STANDARD_NAMES[dtype] = name
    return name


def _standard_name(dtype):
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


def backend():
    """The name of the backend: `"numpy"` (Keras' name for its NumPy backend)."""
    return "numpy"


def is_float_dtype(dtype):
    """Whether `dtype` (any form `standardize_dtype` takes) is a floating-point type."""
    return standardize_dtype(dtype).startswith(("float", "bfloat"))


def is_int_dtype(dtype):
    """Whether `dtype` is a signed or unsigned integer type."""
    return standardize_dtype(dtype).startswith(("int", "uint"))


def enable_unsafe_deserialization():
    """Lets deserialization outside `load_model` rebuild Python lambdas, in this thread
    (`keras.config.enable_unsafe_deserialization`; see `numnet.serialization`)."""
    from numnet.serialization import enable_unsafe_deserialization as enable  # a layer above
    enable()
