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


def test_the_left_operand_is_copied_only_where_that_was_measured_faster():
    pays = blas.copy_left_pays
    assert pays(32, 100, 300, "float32", direct_path=True)  # W1's second layer, backward
    assert pays(64, 50, 50, "float32", direct_path=True)
    assert not pays(32, 100, 300, "float32", direct_path=False)  # no direct path here
    assert not pays(32, 100, 300, "float64", direct_path=True)
    assert not pays(32, 200, 200, "float32", direct_path=True)  # over 100**3 multiply-adds
    assert not pays(32, 10, 300, "float32", direct_path=True)   # ten units: nothing to gain
    assert not pays(16, 100, 50, "float32", direct_path=True)   # 16 rows of 50: the copy costs more
    assert pays(32, 100, 300, "float32") == blas.has_direct_path()


@pytest.mark.parametrize("rows, units, inputs", [(32, 100, 300), (32, 60, 120), (8, 6, 5),
                                                  (32, 10, 300), (32, 1, 40)])
def test_a_dense_input_gradient_is_the_product_bound_or_not(rows, units, inputs):
    from numnet.autodiff.ops.nn import DENSE_INPUT_GRAD

    rng = np.random.default_rng(2)
    dz = rng.normal(size=(rows, units)).astype("float32")
    kernel = rng.normal(size=(inputs + 1, units)).astype("float32")[:-1]  # rows of a block
    out = np.empty((rows, inputs), "float32")
    bound = DENSE_INPUT_GRAD.bind(out, dz, kernel)
    calls = bound if isinstance(bound, list) else [bound]
    assert (len(calls) == 2) == blas.copy_left_pays(rows, units, inputs, "float32")
    for _ in range(2):  # bound once, right again after its input changes in place
        dz[...] = rng.normal(size=dz.shape)
        for call in calls:
            call()
        exact = dz.astype("float64") @ kernel.T.astype("float64")
        # float32 rounding of a sum of `units` terms: about sqrt(units) unit roundoffs of
        # the terms' magnitude (observed at most 1.1 sqrt(units) over 20 draws per shape)
        bound = 2 * np.sqrt(units) * 2.0**-24 * (np.abs(dz) @ np.abs(kernel).T)
        assert np.all(np.abs(out - exact) <= bound)
        # the tape's product (unbound) takes the same route
        np.testing.assert_array_equal(DENSE_INPUT_GRAD.compute(dz, kernel), out)


def test_a_scaling_product_is_split_only_where_the_direct_path_pays():
    edges = blas.scaling_blocks(784, 32, 300, "float32", direct_path=True)  # W6's kernel
    assert edges == [784 * i // 8 for i in range(9)]
    assert max(b - a for a, b in zip(edges, edges[1:])) * 32 * 300 <= 100 ** 3
    assert blas.scaling_blocks(784, 32, 300, "float32", direct_path=False) is None
    assert blas.scaling_blocks(784, 32, 300, "float64", direct_path=True) is None
    assert blas.scaling_blocks(100, 32, 300, "float32", direct_path=True) is None  # small
    assert blas.scaling_blocks(784, 256, 300, "float32", direct_path=True) is None  # threads
    assert blas.scaling_blocks(10, 4000, 300, "float32", direct_path=True) is None  # wide


@pytest.mark.parametrize("rows", [784, 785, 97])
def test_a_scaling_product_computes_alpha_times_the_product_plus_beta_c(rows):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(32, rows)).astype("float32")
    dz = rng.normal(size=(32, 300)).astype("float32")
    c = rng.normal(size=(rows, 300)).astype("float32")
    expected = 0.999 * c.astype("float64") - 0.01 * (x.T.astype("float64") @ dz)
    blas.scaling_product_into(x.T, dz, c)(-0.01, 0.999)
    np.testing.assert_allclose(c, expected, rtol=2e-6, atol=2e-6)
