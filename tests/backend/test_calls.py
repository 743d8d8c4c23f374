"""`bound_ufunc`: a replayed ufunc call gives the ufunc's own bits, whichever way it runs."""

import warnings

import numpy as np
import pytest

from numnet.backend import bound_ufunc, copies_left

OPS = [np.add, np.subtract, np.multiply]


def _operands(dtype, n=20000, seed=0):
    rng = np.random.default_rng(seed)
    # Wide exponents: products and sums that round, overflow, underflow into subnormals.
    scale = np.exp(rng.uniform(-60, 60, size=(2, n)))
    values = (rng.standard_normal((2, n)) * scale).astype(dtype)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 3.4e38], dtype=dtype)
    pairs = np.stack(np.meshgrid(special, special)).reshape(2, -1)
    return np.concatenate([values, pairs], axis=1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ufunc", OPS)
def test_0d_arithmetic_gives_the_ufuncs_bits(ufunc, dtype):
    left, right = _operands(dtype)
    a, b, out = np.zeros((), dtype), np.zeros((), dtype), np.zeros((), dtype)
    call = bound_ufunc(ufunc, [a, b], out)
    assert call.func is not ufunc  # the Python float path
    got = np.empty_like(left)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for i in range(len(left)):
            a[()], b[()] = left[i], right[i]
            call()
            got[i] = out
        expected = ufunc(left, right)
    np.testing.assert_array_equal(got.view(f"u{got.itemsize}"),
                                  expected.view(f"u{expected.itemsize}"))


def test_the_output_may_be_an_operand():
    a, b = np.asarray(1.5, np.float32), np.asarray(0.1, np.float32)
    expected = np.multiply(a, b)
    bound_ufunc(np.multiply, [a, b], a)()
    assert a == expected


def test_other_calls_stay_ufunc_calls_with_the_ufuncs_numbers():
    x32 = np.asarray(0.1, np.float32)
    out64 = np.zeros((), np.float64)
    call = bound_ufunc(np.multiply, [x32, x32], out64)  # float32 product, stored as float64
    assert call.func is np.multiply
    call()
    assert out64 == np.float64(np.multiply(x32, x32))
    rows, out = np.arange(4, dtype=np.float32), np.zeros(4, np.float32)
    call = bound_ufunc(np.divide, [rows, 3.0], out)  # a literal, typed once
    assert call.func is np.divide and call.args[1].dtype == np.float32
    call()
    np.testing.assert_array_equal(out, rows / np.float32(3.0))


@pytest.mark.parametrize("shape", [(32, 100, 300), (32, 100, 10), (4, 3, 5)])
def test_a_product_with_a_transposed_right_operand_keeps_numpys_numbers(shape):
    from numnet.backend import blas

    rows, inner, columns = shape
    rng = np.random.default_rng(4)
    a = rng.normal(size=(rows, inner)).astype(np.float32)
    b = rng.normal(size=(columns, inner)).astype(np.float32).T  # a transposed view
    out = np.empty((rows, columns), np.float32)
    bound = bound_ufunc(np.matmul, [a, b], out)
    calls = bound if isinstance(bound, list) else [bound]
    assert (len(calls) == 2) == blas.copy_left_pays(rows, inner, columns, np.float32)
    assert copies_left(a, b) == (len(calls) == 2) and not copies_left(a, np.ascontiguousarray(b))
    for _ in range(2):  # a new `a` in the same buffer is copied again
        a[...] = rng.normal(size=a.shape)
        for call in calls:
            call()
        # NumPy's product up to float32 rounding of sums of `inner` terms (identical bits
        # with NumPy 2.4's OpenBLAS 0.3.31 here; another build may sum in another order)
        bound = 2 * np.sqrt(inner) * 2.0**-24 * (np.abs(a) @ np.abs(b))
        assert np.all(np.abs(out - np.matmul(a, b)) <= bound)
