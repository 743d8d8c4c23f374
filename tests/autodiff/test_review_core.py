"""Review regressions in the autodiff core."""
import numpy as np

import numnet as keras


def test_review_variable_numpy_is_a_snapshot_across_fits():
    # Keras' `variable.numpy()` is a copy: a value read before training must not
    # follow the in-place updates (the optimizer's packing makes them views).
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.rand(32, 3).astype("float32")
    y = np.random.rand(32, 1).astype("float32")
    model.fit(x, y, epochs=1, verbose=0)
    before = model.layers[0].kernel.numpy()
    saved = before.copy()
    model.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(before, saved)
    assert not np.allclose(model.layers[0].kernel.numpy(), saved)


def test_a_variable_converted_by_numpy_is_a_snapshot_unless_asked_live():
    # np.asarray / np.array on a Keras variable (TensorFlow, JAX or NumPy backend) give its
    # value at that moment; numnet updates weights in place, so it copies too.
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.rand(32, 3).astype("float32")
    y = np.random.rand(32, 4).astype("float32")
    model.fit(x, y, epochs=1, verbose=0)  # the weights move into their store once, here
    kernel = model.layers[0].kernel
    before, as_float64 = np.asarray(kernel), np.asarray(kernel, dtype="float64")
    live = np.asarray(kernel, copy=False)
    saved = before.copy()
    model.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(before, saved)
    np.testing.assert_array_equal(as_float64, saved.astype("float64"))
    np.testing.assert_array_equal(live, kernel.numpy())
    assert not np.array_equal(live, saved)
    try:
        np.asarray(kernel, dtype="float64", copy=False)
    except ValueError as error:
        assert "without a copy" in str(error)
    else:
        raise AssertionError("a float32 variable read as float64 with copy=False must fail")
