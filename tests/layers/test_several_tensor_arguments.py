"""A custom layer whose `call` takes several tensors by position (`call(self, x1, x2)`)
works on symbolic inputs too: in a Functional model it builds, records its node with both
inputs, runs, trains and saves (Keras' own test: layers/layer_test.py, test_build_on_call)."""

import numpy as np

import numnet as keras
from numnet import layers


@keras.saving.register_keras_serializable(package="tests")
class _Blend(layers.Layer):
    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.first, self.second = layers.Dense(units), layers.Dense(units)

    def call(self, x1, x2, scale=1.0):
        return (self.first(x1) + self.second(x2)) * scale

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _model():
    a, b = keras.Input((4,)), keras.Input((3,))
    return keras.Model([a, b], _Blend()(a, b, scale=2.0))


def test_a_layer_of_two_tensors_builds_and_runs_in_a_functional_model(tmp_path):
    model = _model()
    blend = model.layers[-1]
    assert model.output.shape == (None, 2) and len(blend.weights) == 4
    x = [np.random.default_rng(0).normal(size=(5, 4)).astype("float32"),
         np.random.default_rng(1).normal(size=(5, 3)).astype("float32")]
    expected = (np.asarray(blend.first(x[0])) + np.asarray(blend.second(x[1]))) * 2.0
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-6)
    model.compile("sgd", "mse")
    model.fit(x, np.ones((5, 2), "float32"), verbose=0)
    model.save(tmp_path / "blend.keras")
    again = keras.saving.load_model(tmp_path / "blend.keras")
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(model(x)))
