"""`numnet.backend.blas.product_into`: BLAS' `c = alpha * a @ b + beta * c`, against NumPy."""

import os
import subprocess
import sys

import numpy as np
import pytest

from numnet.backend import blas

pytestmark = pytest.mark.skipif(
    not blas.available("float32"),
    reason="no direct BLAS call here (NumPy's BLAS is neither OpenBLAS nor MKL)")


@pytest.mark.parametrize("dtype,rtol", [("float32", 2e-6), ("float64", 1e-14)])
@pytest.mark.parametrize("a_transposed", [False, True])
@pytest.mark.parametrize("b_transposed", [False, True])
def test_product_into_adds_alpha_times_the_product(dtype, rtol, a_transposed, b_transposed):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(7, 33) if a_transposed else (33, 7)).astype(dtype)
    b = rng.normal(size=(12, 7) if b_transposed else (7, 12)).astype(dtype)
    a, b = (a.T if a_transposed else a), (b.T if b_transposed else b)
    c = rng.normal(size=(33, 12)).astype(dtype)
    expected = c.astype("float64") - 0.3 * (a.astype("float64") @ b.astype("float64"))
    product = blas.product_into(a, b, c)
    product(-0.3, 1.0)
    np.testing.assert_allclose(c, expected, rtol=rtol, atol=rtol)
    product(1.0, 0.0)  # beta 0: the plain product
    np.testing.assert_allclose(c, a.astype("float64") @ b.astype("float64"), rtol=rtol,
                               atol=rtol)


def test_what_it_cannot_bind_is_refused():
    a = np.ones((4, 3), "float32")
    b = np.ones((3, 5), "float32")
    assert blas.product_into(a, b, np.ones((5, 4), "float32").T) is None  # c not C-ordered
    assert blas.product_into(a, b, np.ones((4, 5), "float64")) is None    # mixed dtypes
    assert blas.product_into(a, b, np.ones((4, 6), "float32")) is None    # wrong shape
    assert blas.product_into(a[:, ::2], b[:2], np.ones((4, 5), "float32")) is None  # strided
    half = np.ones((4, 3), "float16")
    assert blas.product_into(half, b.astype("float16"), np.ones((4, 5), "float16")) is None
    assert not blas.available("float16")


def test_the_environment_can_turn_it_off():
    code = "from numnet.backend import blas; print(blas.available('float32'))"
    env = dict(os.environ, NUMNET_DIRECT_BLAS="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_bound_product_keeps_its_arrays_alive():
    import gc
    import weakref

    a, b = np.ones((3, 4), "float32"), np.ones((4, 2), "float32")
    c = np.zeros((3, 2), "float32")
    product = blas.product_into(a, b, c)
    alive = [weakref.ref(x) for x in (a, b)]
    del a, b
    gc.collect()
    assert all(ref() is not None for ref in alive)  # the call holds raw pointers into them
    product(1.0, 0.0)
    np.testing.assert_array_equal(c, np.full((3, 2), 4.0, "float32"))
