"""What `keras.src.backend` (and `keras.config`) give Keras' tests, in numnet's terms.

Keras' tests use the backend module for a few generic helpers: the backend's name, the
float type, turning tensors into NumPy arrays, `Variable`, `KerasTensor`. Each is numnet's
own object or a one-line view of it. Names not defined here resolve to placeholders
(see `_shim.py`), so tests of backend machinery numnet does not have fail, visibly.
"""

import contextlib
import types

import numpy as np

import numnet
from numnet import backend as _nb
from numnet.autodiff import Tensor, Variable
from numnet.layers import KerasTensor

from keras import _data_random

floatx = _nb.floatx
set_floatx = _nb.set_floatx
epsilon = _nb.epsilon
set_epsilon = _nb.set_epsilon
standardize_dtype = _nb.standardize_dtype
clear_session = _nb.clear_session

SUPPORTS_SPARSE_TENSORS = False
SUPPORTS_RAGGED_TENSORS = False

random = _data_random
_IMAGE_DATA_FORMAT = ["channels_last"]


def backend():
    """The backend's name as Keras reports it; numnet is its own backend."""
    return "numnet"


def image_data_format():
    return _IMAGE_DATA_FORMAT[0]


def set_image_data_format(data_format):
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"Unknown data_format: {data_format}")
    _IMAGE_DATA_FORMAT[0] = data_format


def is_tensor(x):
    return isinstance(x, Tensor)


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    return numnet.ops.convert_to_tensor(x, dtype=dtype)


def convert_to_numpy(x):
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def shape(x):
    return tuple(np.shape(x.data if isinstance(x, Tensor) else x))


def standardize_shape(shape):
    if isinstance(shape, int):
        return (shape,)
    return tuple(None if d is None else int(d) for d in shape)


def is_float_dtype(dtype):
    return standardize_dtype(dtype).startswith(("float", "bfloat"))


def is_int_dtype(dtype):
    return standardize_dtype(dtype).startswith(("int", "uint"))


def result_type(*dtypes):
    return np.result_type(*[standardize_dtype(d) for d in dtypes]).name


@contextlib.contextmanager
def device(name):
    """numnet runs on the CPU only: a device scope changes nothing."""
    yield


def get_global_attribute(name, default=None, set_to_default=False):
    """Keras' global-state helper, over numnet's session state (only `floatx` is known)."""
    if name == "floatx":
        return floatx()
    return default


# `keras.config` and `backend.config` expose the same settings.
config = types.SimpleNamespace(
    floatx=floatx, set_floatx=set_floatx, epsilon=epsilon, set_epsilon=set_epsilon,
    image_data_format=image_data_format, set_image_data_format=set_image_data_format,
    backend=backend,
)

__all__ = ["KerasTensor", "Tensor", "Variable"]
