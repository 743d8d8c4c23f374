"""The dtype name tables of Keras 3.15.1's `keras.src.backend.common.dtypes` that its ops
tests iterate at import time (their dtype-promotion tests are excluded: numnet computes
in NumPy's types, see the README), without bfloat16 and the float8 types, which NumPy
(and numnet) do not have. `result_type` is NumPy's."""

import numpy as np

FLOAT_TYPES = ("float16", "float32", "float64")
INT_TYPES = ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64")
FLOAT8_TYPES = ()
BOOL_TYPES = ("bool",)
COMPLEX_TYPES = ("complex64", "complex128")
ALLOWED_DTYPES = ("float16", "float32", "float64", "uint8", "uint16", "uint32", "uint64",
                  "int8", "int16", "int32", "int64", "bool", "string", "complex64",
                  "complex128")


def result_type(*dtypes):
    return np.result_type(*[d for d in dtypes if d is not None]).name
