"""keras.utils equivalents: to_categorical, normalize, set_random_seed."""

import random

import numpy as np
import pytest

import numnet as keras


def test_to_categorical_matches_keras_semantics():
    out = keras.utils.to_categorical([0, 2, 1, 2])
    assert out.dtype == np.float64 and out.shape == (4, 3)
    np.testing.assert_array_equal(out.argmax(axis=1), [0, 2, 1, 2])
    assert keras.utils.to_categorical(np.array([[1], [0]]), num_classes=4).shape == (2, 4)
    assert keras.utils.to_categorical(np.zeros((2, 3), dtype=int), 2).shape == (2, 3, 2)
    with pytest.raises(ValueError, match="out of range"):
        keras.utils.to_categorical([5], num_classes=3)


def test_normalize():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(keras.utils.normalize(x), [[0.6, 0.8], [0, 0]])


def test_set_random_seed_makes_everything_reproducible():
    def run():
        keras.utils.set_random_seed(123)
        model = keras.Sequential([keras.layers.Dense(3, input_shape=(2,))])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(np.random.rand(20, 2), np.random.rand(20, 3), epochs=2, verbose=0)
        return model.get_weights(), random.random()

    (w1, r1), (w2, r2) = run(), run()
    assert r1 == r2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="integer"):
        keras.utils.set_random_seed(1.5)
