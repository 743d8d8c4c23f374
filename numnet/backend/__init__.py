"""The backend: the array module handle, floatx, the random generator and global state.

Everything above this package reaches NumPy through :data:`xp` so that a CuPy
backend can later replace it in one place. Two modules speak to the BLAS NumPy
uses: `threads` (how many threads numnet's calls get) and `blas` (a product that
adds into its output, for plain SGD steps, and which products a copy makes faster);
`calls` binds a compiled step's ufunc calls.
"""

from numnet.backend.array_module import (
    ZEROS_CHUNK, enclosing_rows, shared_zeros, to_numpy, xp, zeros_operands,
)
from numnet.backend.calls import bound_ufunc, copies_left
from numnet.backend.config import (
    backend, enable_unsafe_deserialization, epsilon, floatx, image_data_format, is_float_dtype,
    is_int_dtype, set_epsilon, set_floatx, set_image_data_format, standardize_data_format,
    standardize_dtype,
)
from numnet.backend.global_state import clear_session, unique_name, to_snake_case
from numnet.backend.name_scope import name_scope
from numnet.backend.promotion import result_type
from numnet.backend.random import global_generator, make_generator, set_seed, uniform_at_least, uniform_at_least_kernel
from numnet.backend.threads import get_num_threads, set_num_threads, thread_scope


def is_keras_tensor(x):
    """Whether `x` is a symbolic `KerasTensor` (of a Functional model's definition)."""
    from numnet.layers.symbolic import KerasTensor  # the layers sit above the backend
    return isinstance(x, KerasTensor)

__all__ = [
    "xp",
    "name_scope",
    "bound_ufunc",
    "copies_left",
    "enclosing_rows",
    "zeros_operands",
    "shared_zeros",
    "ZEROS_CHUNK",
    "backend",
    "enable_unsafe_deserialization",
    "is_float_dtype",
    "is_int_dtype",
    "is_keras_tensor",
    "uniform_at_least",
    "uniform_at_least_kernel",
    "to_numpy",
    "epsilon",
    "floatx",
    "set_epsilon",
    "set_floatx",
    "image_data_format",
    "set_image_data_format",
    "standardize_data_format",
    "standardize_dtype",
    "result_type",
    "clear_session",
    "unique_name",
    "to_snake_case",
    "global_generator",
    "make_generator",
    "set_seed",
    "get_num_threads",
    "set_num_threads",
    "thread_scope",
]
