"""What `keras.src.backend` (and `keras.config`) give Keras' tests, in numnet's terms.

Keras' tests use the backend module for a few generic helpers: the backend's name, the
float type, turning tensors into NumPy arrays, `Variable`, `KerasTensor`, the masks attached
to tensors (`get_keras_mask`, `set_keras_mask`), `compute_output_spec`. Each is numnet's own object or a one-line
view of it. Names not defined here resolve to placeholders
(see `_shim.py`), so tests of backend machinery numnet does not have fail, visibly.
"""

import contextlib
import importlib
import copy
import types

import numpy as np

import numnet
from numnet import backend as _nb
from numnet.autodiff import Tensor, Variable
from numnet.autodiff.ops.masking import get_keras_mask, set_keras_mask  # noqa: F401
from numnet.layers import KerasTensor


floatx = _nb.floatx
set_floatx = _nb.set_floatx
epsilon = _nb.epsilon
set_epsilon = _nb.set_epsilon
standardize_dtype = _nb.standardize_dtype
clear_session = _nb.clear_session
name_scope = _nb.name_scope

SUPPORTS_SPARSE_TENSORS = False
SUPPORTS_RAGGED_TENSORS = False

# `backend.random`: numnet's random module, the shim's test-input draws for what it lacks.
random = importlib.import_module("keras.src.random")


def backend():
    """The backend's name as Keras reports it; numnet is its own backend."""
    return "numnet"


image_data_format = _nb.image_data_format
set_image_data_format = _nb.set_image_data_format
standardize_data_format = _nb.standardize_data_format


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


def compute_output_spec(fn, *args, **kwargs):
    """Keras' tracing helper: what `fn` returns for symbolic arguments, as KerasTensors.

    A layer traces itself (numnet layers record graphs on KerasTensors). Anything else
    (a metric, a function) runs on a copy with zeros standing for the KerasTensors, once
    with unknown dimensions of 2 and once of 3: an output dimension that differs is None.
    """
    owner = getattr(fn, "__self__", fn)
    if isinstance(owner, numnet.layers.Layer):
        return fn(*args, **kwargs)
    runs = []
    for size in (2, 3):
        copy_of_fn = copy.deepcopy(fn)
        values = [_zeros_for(a, size) for a in args]
        runs.append(copy_of_fn(*values, **{k: _zeros_for(v, size) for k, v in kwargs.items()}))
    first, second = (np.asarray(getattr(r, "data", r)) for r in runs)
    shape = tuple(a if a == b else None for a, b in zip(first.shape, second.shape))
    return KerasTensor(shape, dtype=standardize_dtype(first.dtype))


def _zeros_for(value, size):
    if not isinstance(value, KerasTensor):
        return value
    return np.zeros(tuple(size if d is None else d for d in value.shape), dtype=value.dtype)


# `keras.config` and `backend.config` expose the same settings.
config = types.SimpleNamespace(
    floatx=floatx, set_floatx=set_floatx, epsilon=epsilon, set_epsilon=set_epsilon,
    image_data_format=image_data_format, set_image_data_format=set_image_data_format,
    backend=backend,
)

__all__ = ["KerasTensor", "Tensor", "Variable", "get_keras_mask", "set_keras_mask"]
