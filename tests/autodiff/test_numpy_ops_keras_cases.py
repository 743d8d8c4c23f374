"""NumPy-style ops in the cases Keras 3.15.1's own `ops/numpy_test.py` checks (its
correctness classes pass 307 of 318 here; the rest need complex numbers, bfloat16 or
int32 results, see the README). Expected values come from NumPy itself."""

import warnings

import numpy as np
import pytest

import numnet as keras
from numnet.layers.op_layer import operation_classes

ops = keras.ops
RNG = np.random.default_rng(3)
METHODS = ["linear", "lower", "higher", "midpoint", "nearest"]


@pytest.mark.parametrize("method", METHODS)
def test_quantile_methods_give_numpys_values(method):
    cases = [(np.arange(24, dtype="float32").reshape(2, 3, 4), [0.501, 1.0, 0.5, 0.25], 1),
             (RNG.normal(size=(5, 9)).astype("float32"), np.linspace(0, 1, 17), None),
             (RNG.normal(size=(7, 8)).astype("float32"), np.linspace(0, 1, 29), (0, 1))]
    for x, q, axis in cases:
        got = np.asarray(ops.quantile(x, q, axis=axis, method=method))
        np.testing.assert_allclose(got, np.quantile(x, q, axis=axis, method=method),
                                   rtol=2e-7, atol=3e-7)
        with_nans = x.copy()
        with_nans.flat[::5] = np.nan
        got = np.asarray(ops.nanquantile(with_nans, q, axis=axis, method=method))
        np.testing.assert_allclose(got, np.nanquantile(with_nans, q, axis=axis, method=method),
                                   rtol=2e-7, atol=3e-7)
        got = np.asarray(ops.percentile(x, np.asarray(q) * 100, axis=axis, method=method))
        np.testing.assert_allclose(got, np.percentile(x, np.asarray(q) * 100, axis=axis,
                                                      method=method), rtol=2e-7, atol=3e-7)


@pytest.mark.parametrize("method", ["lower", "higher", "nearest"])
def test_a_picking_quantile_gives_an_entry_and_its_whole_gradient(method):
    x = RNG.normal(size=(3, 10)).astype("float32")
    got = np.asarray(ops.quantile(x, 0.37, axis=1, method=method))
    assert all(value in row for value, row in zip(got, x))  # the entry itself, unrounded
    tensor = ops.convert_to_tensor(x)
    with keras.GradientTape() as tape:
        tape.watch(tensor)
        total = ops.sum(ops.quantile(tensor, 0.37, axis=1, method=method))
    grad = np.asarray(tape.gradient(total, tensor))
    np.testing.assert_array_equal(grad, (x == got[:, None]).astype("float32"))


def test_nan_reductions_of_slices_holding_only_nans():
    x = np.array([[np.nan, np.nan], [np.nan, 1.0], [-np.inf, np.nan]], "float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy warns on all-NaN slices
        for ours, numpys in ((ops.nanmax, np.nanmax), (ops.nanmin, np.nanmin)):
            np.testing.assert_array_equal(np.asarray(ours(x, axis=1)), numpys(x, axis=1))
            assert np.isnan(np.asarray(ours(np.full((2, 2), np.nan))))
    np.testing.assert_array_equal(np.asarray(ops.nanargmax(x, axis=1)), [-1, 1, 0])
    np.testing.assert_array_equal(np.asarray(ops.nanargmin(x, axis=1, keepdims=True)),
                                  [[-1], [1], [0]])
    assert int(np.asarray(ops.nanargmax(np.full((2, 2), np.nan)))) == -1
    y = np.array([[1.0, np.nan, -np.inf], [np.nan, 2.0, -1.0]], "float32")
    np.testing.assert_array_equal(np.asarray(ops.nanargmax(y, axis=0)), np.nanargmax(y, axis=0))


def test_max_and_min_of_an_empty_array_give_initial():
    empty = np.zeros((1, 0), "float32")
    for ours, numpys in ((ops.max, np.max), (ops.min, np.min)):
        for keepdims in (False, True):
            got = np.asarray(ours(empty, initial=1.0, keepdims=keepdims))
            np.testing.assert_array_equal(got, numpys(empty, initial=1.0, keepdims=keepdims))
            got = np.asarray(ours(empty, axis=1, initial=-2.0, keepdims=keepdims))
            np.testing.assert_array_equal(got, numpys(empty, axis=1, initial=-2.0,
                                                      keepdims=keepdims))


def test_geomspace_split_unique_and_rot90_edges():
    start, stop = np.array([1.0, -2.0, 3.0]), np.array([1000.0, -2000.0, 3000.0])
    for axis in (0, 1):
        for endpoint in (True, False):
            np.testing.assert_allclose(
                np.asarray(ops.geomspace(start, stop, 4, endpoint=endpoint, axis=axis)),
                np.geomspace(start, stop, 4, endpoint=endpoint, axis=axis), rtol=1e-6)
    with pytest.raises(ValueError, match="non-zero and of one sign"):
        ops.geomspace(np.array([1.0, -1.0]), np.array([2.0, 2.0]), 3)
    parts = ops.split(np.ones((0,), "float32"), 2)
    assert [p.shape for p in parts] == [(0,), (0,)]
    found = np.asarray(ops.unique(np.array([1.0, np.nan, 2.0, np.nan], "float32")))
    np.testing.assert_array_equal(found, np.unique(np.array([1.0, np.nan, 2.0, np.nan]),
                                                   equal_nan=False))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        ops.rot90(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="two different axes"):
        ops.rot90(np.ones((2, 2)), axes=(0, 0))


def test_keras_errors_for_bad_arguments():
    x = np.zeros(20, "float32")
    with pytest.raises(ValueError, match=r"non-negative integer.*-1.*newshape=\(-2, 5\)"):
        ops.reshape(x, (-2, 5))
    with pytest.raises(ValueError, match=r"at most one unknown dimension.*newshape=\(-1, -1, 5\)"):
        ops.reshape(x, (-1, -1, 5))
    cube = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"valid permutation.*axes=\[0, 0, 0\]"):
        ops.transpose(cube, [0, 0, 0])
    with pytest.raises(ValueError, match=r"Each axis in `axes` must be an integer in \[-3, 3\)"):
        ops.transpose(cube, [0, 1, 5])
    with pytest.raises(ValueError, match="same length as the input shape"):
        ops.transpose(cube, [0, 1])
    assert ops.transpose(cube, [-1, 0, 1]).shape == (4, 2, 3)
    with pytest.raises(ValueError, match=r"`constant_values` can only be provided when "
                                         r"`mode == 'constant'`"):
        ops.pad(np.ones(3), 1, mode="reflect", constant_values=0)
    with pytest.raises(ValueError, match="`x1` and `x2` either both should be `None`"):
        ops.where(np.ones(2) > 0, 1.0, None)
    values = RNG.random(8)
    with pytest.raises(ValueError, match="`bins` should be a non-negative integer"):
        ops.histogram(values, bins=-5)
    with pytest.raises(ValueError, match="`range` must be a tuple of two elements"):
        ops.histogram(values, range=(1,))
    with pytest.raises(ValueError, match="second element of `range` must be greater"):
        ops.histogram(values, range=(5, 1))
    for args in ((3.0,), (3, 2.0), (ops.max(ops.arange(4.0)),)):
        with pytest.raises(TypeError, match="must be an integer"):
            ops.eye(*args)
    assert ops.eye(np.int64(2), 3, k=np.int32(1)).shape == (2, 3)


def test_creation_ops_as_keras_operation_classes():
    classes = operation_classes("keras.src.ops.numpy")
    np.testing.assert_array_equal(np.asarray(classes["Arange"]("int32")(0, 5)), np.arange(5))
    np.testing.assert_array_equal(np.asarray(classes["Full"]((2, 2))(3.0)), np.full((2, 2), 3.0))
    np.testing.assert_allclose(np.asarray(classes["Linspace"](5)(0.0, 1.0)),
                               np.linspace(0.0, 1.0, 5))
    np.testing.assert_allclose(np.asarray(classes["Geomspace"](num=4)(1, 1000)),
                               np.geomspace(1, 1000, 4), rtol=1e-6)
    assert classes["Size"]()(np.ones((2, 3))) == 6 and classes["Ndim"]()(np.ones((2, 3))) == 2


def test_an_axis_out_of_range_raises_instead_of_wrapping_around():
    # These took `axis % ndim` before: flip(x, axis=2) of a matrix flipped its rows.
    x = np.arange(6.0, dtype="float32").reshape(2, 3)
    calls = [lambda: ops.flip(x, axis=2), lambda: ops.roll(x, 1, axis=2),
             lambda: ops.moveaxis(x, 0, 2), lambda: ops.split(x, 3, axis=3),
             lambda: ops.take_along_axis(x, np.zeros((2, 3), "int64"), axis=2),
             lambda: ops.swapaxes(x, 0, 2), lambda: ops.quantile(x, 0.5, axis=2),
             lambda: ops.std(x, axis=2), lambda: ops.var(x, axis=-3),
             lambda: ops.moments(x, [0, 5]), lambda: ops.rot90(x, axes=(0, 5))]
    for call in calls:
        with pytest.raises(ValueError, match="is out of bounds for array of dimension 2"):
            call()
    np.testing.assert_array_equal(np.asarray(ops.flip(x, axis=-1)), np.flip(x, axis=-1))
    np.testing.assert_array_equal(np.asarray(ops.swapaxes(x, 0, -1)), np.swapaxes(x, 0, -1))
    np.testing.assert_allclose(np.asarray(ops.std(x, axis=-1)), np.std(x, axis=-1), rtol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_nan_reductions_replay_each_batchs_own_nans(method):
    # A compiled `predict` replays its first batch's ops on the others: where the NaNs fall
    # (how many values each quantile sees, which slices are all NaN) must be recomputed.
    class NanStats(keras.layers.Layer):
        def call(self, x):
            return ops.stack([ops.nanquantile(x, 0.4, axis=1, method=method),
                              ops.nanmax(x, axis=1),
                              ops.cast(ops.nanargmin(x, axis=1), "float32")], axis=1)

    inputs = keras.Input((5,))
    model = keras.Model(inputs, NanStats()(inputs))
    x = RNG.normal(size=(64, 5)).astype("float32")
    x[RNG.random((64, 5)) < 0.4] = np.nan
    x[[5, 40]] = np.nan
    got = model.predict(x, batch_size=8, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.stack([np.nanquantile(x, 0.4, axis=1, method=method),
                             np.nanmax(x, axis=1)], axis=1)
    np.testing.assert_allclose(got[:, :2], expected, rtol=2e-7, atol=2e-7)
    filled = np.where(np.isnan(x), np.inf, x)
    argmins = np.where(np.isnan(x).all(axis=1), -1, np.argmin(filled, axis=1))
    np.testing.assert_array_equal(got[:, 2], argmins)
    assert model.predict_function.programs  # the batches after the first were replayed
