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
