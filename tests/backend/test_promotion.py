"""Keras' dtype promotion (`numnet.backend.result_type`) and the ops that follow it, against
`reference_promotion.json` (real Keras 3 on TensorFlow: `generate_reference_promotion.py`)."""

import json
from pathlib import Path

import numpy as np
import pytest

import numnet as keras
from numnet.backend import result_type

REFERENCE = json.loads((Path(__file__).resolve().parents[1] / "fixtures" /
                        "reference_promotion.json").read_text())
CASES = REFERENCE["cases"]
PYTHON_TYPES = {"py_bool": bool, "py_int": int, "py_float": float}
PYTHON_VALUES = {"py_bool": True, "py_int": 3, "py_float": 1.5}
# Keras narrows uint64 to uint32 even when both inputs are uint64 (or a Python number meets
# a uint64 tensor); numnet keeps the dtype its inputs share (README: deliberate differences).
KEEPS_UINT64 = {("uint64", "uint64"), ("uint64", "py_bool"), ("uint64", "py_int"),
                ("py_bool", "uint64"), ("py_int", "uint64")}


def _type(name):
    return PYTHON_TYPES.get(name, name)


def _value(name):
    if name in PYTHON_VALUES:
        return PYTHON_VALUES[name]
    return keras.ops.convert_to_tensor(np.ones((1,), dtype=name), dtype=name)


@pytest.fixture
def floatx_restored():
    yield
    keras.config.set_floatx("float32")


@pytest.mark.parametrize("floatx", ["float32", "float64"])
def test_result_type_matches_keras_for_every_pair(floatx, floatx_restored):
    keras.config.set_floatx(floatx)
    got = [result_type(_type(c["a"]), _type(c["b"])) for c in CASES]
    assert got == [c[f"result_type_{floatx}"] for c in CASES]


@pytest.mark.parametrize("op", ["add", "divide"])
def test_binary_ops_compute_in_keras_dtype(op):
    checked = 0
    for case in CASES:
        expected = case.get(op)
        if expected is None:  # TensorFlow has no kernel for these dtypes (or two Python numbers)
            continue
        pair = (case["a"], case["b"])
        result = getattr(keras.ops, op)(_value(case["a"]), _value(case["b"]))
        if op == "add" and pair in KEEPS_UINT64:
            assert (str(result.dtype), expected) == ("uint64", "uint32"), pair
        else:
            assert str(result.dtype) == expected, pair
        checked += 1
    assert checked >= 210


def test_mixed_dtypes_keep_float32_and_gradients_reach_the_float_input():
    x = keras.Variable(np.array([1.0, 2.0], dtype="float32"))
    counts = np.array([2, 3], dtype="int32")
    with keras.GradientTape() as tape:
        y = keras.ops.sum(keras.ops.multiply(x, counts) / counts.sum())
    assert y.dtype == "float32"
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), counts / 5.0, rtol=1e-7)


def test_result_type_rejects_unknown_dtypes_and_defaults_to_floatx():
    defaults = REFERENCE["defaults"]
    assert (result_type(), result_type(None, "int8")) == (
        defaults["no_arguments"], defaults["none_and_int8"])
    with pytest.raises(ValueError, match="not a valid dtype"):
        result_type("string", "int32")


REAL = json.loads((Path(__file__).resolve().parents[1] / "fixtures" /
                   "reference_real_dtypes.json").read_text())
UNARY, BINARY = REAL["dtypes"], REAL["binary"]


@pytest.mark.parametrize("op", sorted({key.split("/")[0] for key in UNARY}))
def test_real_valued_functions_of_integers_give_keras_dtype(op):
    """Where Keras (on TensorFlow) has a kernel, the dtype is Keras'; where TensorFlow has
    none (sqrt of an int8, for instance) numnet still computes, in the same dtype Keras'
    other backends use (`floatx()` for integers)."""
    compared = 0
    for key, expected in UNARY.items():
        name, dtype = key.split("/")
        if name != op:
            continue
        x = keras.ops.convert_to_tensor(np.array([1, 2, 3]).astype(dtype), dtype=dtype)
        with np.errstate(all="ignore"):  # arccosh(0), arcsin(2), ...: NaN is fine here
            got = str(getattr(keras.ops, op)(x).dtype)
        if expected is None:
            assert got == ("float32" if dtype[0] in "biu" else dtype), (op, dtype)
        elif (op, dtype) == ("cbrt", "int64"):  # TensorFlow's backend alone makes float64
            assert (got, expected) == ("float32", "float64")
        else:
            assert got == expected, (op, dtype)
            compared += 1
    assert compared >= 4


@pytest.mark.parametrize("op", sorted({key.split("/")[0] for key in BINARY}))
def test_real_valued_functions_of_two_tensors_give_keras_dtype(op):
    compared = 0
    for key, expected in BINARY.items():
        name, a, b = key.split("/")
        if name != op:
            continue
        x1, x2 = (keras.ops.convert_to_tensor(np.array([1, 2, 3]).astype(d), dtype=d)
                  for d in (a, b))
        got = str(getattr(keras.ops, op)(x1, x2).dtype)
        if expected is None:  # TensorFlow refuses the pair: Keras' rule, result_type(a, b, float)
            assert got == keras.backend.result_type(keras.backend.result_type(a, b), float)
        elif op == "hypot" and "int64" in (a, b) and not {a, b} & {"float16", "float32", "float64"}:
            # integers only, one of them int64: TensorFlow's backend alone makes float64
            assert (got, expected) == ("float32", "float64")
        else:
            assert got == expected, (op, a, b)
            compared += 1
    assert compared >= 60


JOINING_OPS = {
    "concatenate": lambda a, b: keras.ops.concatenate([a, b]),
    "stack": lambda a, b: keras.ops.stack([a, b]),
    "einsum": lambda a, b: keras.ops.einsum("i,i->i", a, b),
    "where": lambda a, b: keras.ops.where(np.array([True]), a, b),
}
# Inputs sharing one dtype keep it in numnet (README); Keras narrows uint64, and its
# TensorFlow backend computes an einsum of int8 in int32.
KEEPS_SHARED_DTYPE = {"einsum/uint64/uint64": ("uint64", "uint32"),
                      "where/uint64/uint64": ("uint64", "uint32"),
                      "einsum/int8/int8": ("int8", "int32")}


@pytest.mark.parametrize("op", sorted(JOINING_OPS))
def test_ops_joining_tensors_promote_them_as_keras(op):
    compared = 0
    for key, expected in REFERENCE["joined"].items():
        name, a, b = key.split("/")
        if name != op or expected is None:  # None: TensorFlow has no kernel for the pair
            continue
        got = str(JOINING_OPS[op](_value(a), _value(b)).dtype)
        if key in KEEPS_SHARED_DTYPE:
            assert (got, expected) == KEEPS_SHARED_DTYPE[key]
        else:
            assert got == expected, key
            compared += 1
    assert compared >= 140


def test_real_valued_functions_of_two_python_ints_give_keras_dtype():
    defaults = REFERENCE["defaults"]
    assert str(keras.ops.divide(3, 3).dtype) == defaults["divide_of_two_ints"]
    assert str(keras.ops.arctan2(3, 3).dtype) == defaults["arctan2_of_two_ints"]
