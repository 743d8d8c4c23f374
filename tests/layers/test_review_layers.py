"""Review regressions: calling layers and models directly on NumPy data."""
import numpy as np

import numnet as keras


def test_review_direct_call_on_float64_numpy_gives_float32():
    # Keras autocasts float inputs to the layer's float32 compute dtype:
    # `model(X_new)` with float64 data (sklearn, np.random) returns float32.
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(1)])
    x = np.random.rand(4, 3)
    assert model(x).dtype == "float32"
    assert keras.layers.Dense(2)(x).dtype == "float32"
    inputs = keras.Input((3,))
    functional = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    assert functional(x).dtype == "float32"
    np.testing.assert_allclose(model(x).numpy(), model.predict(x, verbose=0), rtol=1e-6)


def test_review_direct_call_keeps_float64_for_float64_inputs():
    inputs = keras.Input((3,), dtype="float64")
    model = keras.Model(inputs, keras.layers.Dense(1, dtype="float64")(inputs))
    assert model(np.random.rand(4, 3)).dtype == "float64"
