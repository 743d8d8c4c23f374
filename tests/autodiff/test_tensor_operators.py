"""Python's operators on tensors, as on Keras' (TensorFlow's) tensors: `//` and `%` are
`floor_divide` and `mod`; `&`, `|`, `^`, `~` are logical on booleans and bitwise on
integers; `round()` rounds; unary `+` is the tensor itself. Each is checked against NumPy's
operator on the same arrays, and `%` keeps its gradient (the same as `ops.mod`'s)."""

import numpy as np
import pytest

import numnet as keras
from numnet import GradientTape

INTS = np.array([[7, -7, 5, 0], [9, -3, 2, 11]], np.int64)
OTHER = np.array([[2, 3, -2, 4], [4, 2, 3, -5]], np.int64)
FLAGS = np.array([[True, False, True, False], [True, True, False, False]])
FLAGS2 = np.array([[True, True, False, False], [False, True, False, True]])


def _t(a):
    return keras.ops.convert_to_tensor(a)


@pytest.mark.parametrize("left, right", [(INTS, OTHER), (FLAGS, FLAGS2)])
@pytest.mark.parametrize("operator", ["and", "or", "xor"])
def test_bitwise_and_logical_operators(operator, left, right):
    expected = getattr(np, f"bitwise_{operator}" if left.dtype.kind == "i"
                       else f"logical_{operator}")(left, right)
    apply = {"and": lambda a, b: a & b, "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b}
    np.testing.assert_array_equal(np.asarray(apply[operator](_t(left), _t(right))), expected)
    np.testing.assert_array_equal(np.asarray(apply[operator](left, _t(right))), expected)


def test_invert_floor_division_modulo_round_and_plus():
    np.testing.assert_array_equal(np.asarray(~_t(INTS)), ~INTS)
    np.testing.assert_array_equal(np.asarray(~_t(FLAGS)), ~FLAGS)
    np.testing.assert_array_equal(np.asarray(_t(INTS) // _t(OTHER)), INTS // OTHER)
    np.testing.assert_array_equal(np.asarray(20 // _t(OTHER)), 20 // OTHER)
    np.testing.assert_array_equal(np.asarray(_t(INTS) % _t(OTHER)), INTS % OTHER)
    np.testing.assert_array_equal(np.asarray(9 % _t(OTHER)), 9 % OTHER)
    values = np.array([1.26, -2.5, 0.049], np.float32)
    np.testing.assert_array_equal(np.asarray(round(_t(values), 1)), np.round(values, 1))
    tensor = _t(values)
    assert +tensor is tensor


def test_modulo_keeps_the_gradient_of_ops_mod():
    x = _t(np.array([3.5, -1.25, 7.0], np.float32))
    with GradientTape(persistent=True) as tape:
        tape.watch(x)
        by_operator = keras.ops.sum((x % 2.0) * x)
        by_op = keras.ops.sum(keras.ops.mod(x, 2.0) * x)
    np.testing.assert_array_equal(np.asarray(tape.gradient(by_operator, x)),
                                  np.asarray(tape.gradient(by_op, x)))
