"""`predict`'s plain forward pass gives the layers' own outputs, bit for bit."""

import numpy as np
import pytest

import numnet as keras
from numnet.models.fused_forward import FusedDenseForward


def _model(jit, layers):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(layers())
    model.compile(optimizer="sgd", loss="mse", jit_compile=jit)
    return model


def _predict_both(layers, x, **kwargs):
    fused, generic = _model(True, layers), _model(False, layers)
    assert fused._fused_forward() is not None
    assert generic._fused_forward() is None
    return fused.predict(x, verbose=0, **kwargs), generic.predict(x, verbose=0, **kwargs)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear", "leaky_relu",
                                        "elu", "selu"])
@pytest.mark.parametrize("last", [None, "softmax", "sigmoid"])
def test_same_outputs_as_the_layers(activation, last):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(70, 5)).astype(np.float32)
    x[:3] = 0  # pre-activations exactly 0

    def layers():
        norm = keras.layers.Normalization()
        norm.adapt(x)
        return [keras.Input(shape=(5,)), norm, keras.layers.Dense(8, activation=activation),
                keras.layers.Dense(6, activation=activation, use_bias=False),
                keras.layers.Dense(3, activation=last)]

    for kwargs in ({}, {"batch_size": 16}):
        fused, generic = _predict_both(layers, x, **kwargs)
        assert fused.dtype == generic.dtype == np.float32
        np.testing.assert_array_equal(fused, generic)


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.uint8])
def test_inputs_are_converted_as_the_first_layer_would(dtype):
    rng = np.random.default_rng(1)
    x = (rng.random((40, 4)) * 5).astype(dtype)
    layers = lambda: [keras.Input(shape=(4,)), keras.layers.Dense(3, activation="relu"),  # noqa: E731
                      keras.layers.Dense(2)]
    fused, generic = _predict_both(layers, x)
    assert fused.dtype == generic.dtype
    np.testing.assert_array_equal(fused, generic)


def test_images_through_flatten_and_predict_on_batch():
    rng = np.random.default_rng(2)
    x = rng.random((33, 6, 5)).astype(np.float32)
    layers = lambda: [keras.Input(shape=(6, 5)), keras.layers.Flatten(),  # noqa: E731
                      keras.layers.Dense(7, activation="relu"),
                      keras.layers.Dense(4, activation="softmax")]
    fused, generic = _model(True, layers), _model(False, layers)
    np.testing.assert_array_equal(fused.predict(x[:1], verbose=0),
                                  generic.predict(x[:1], verbose=0))
    np.testing.assert_array_equal(fused.predict_on_batch(x), generic.predict_on_batch(x))


def test_dropout_passes_through_at_inference():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(20, 3)).astype(np.float32)
    layers = lambda: [keras.Input(shape=(3,)), keras.layers.Dropout(0.2),  # noqa: E731
                      keras.layers.Dense(4, activation="relu"), keras.layers.Dropout(0.5),
                      keras.layers.Dense(2)]
    fused, generic = _predict_both(layers, x)
    np.testing.assert_array_equal(fused, generic)


def test_other_models_are_called_as_usual():
    assert FusedDenseForward.plan(keras.Sequential(
        [keras.Input(shape=(3,)), keras.layers.Dense(2), keras.layers.Activation("relu"),
         keras.layers.Dense(1)])) is None
    assert FusedDenseForward.plan(keras.Sequential(
        [keras.Input(shape=(3,)), keras.layers.Dense(2, activation="softmax"),
         keras.layers.Dense(1)])) is None
    inputs = keras.Input(shape=(3,))
    assert FusedDenseForward.plan(keras.Model(inputs, keras.layers.Dense(1)(inputs))) is None

    class Custom(keras.Sequential):
        def predict_step(self, data):
            return super().predict_step(data) * 2

    custom = Custom([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    x = np.ones((2, 3), dtype=np.float32)
    np.testing.assert_allclose(custom.predict(x, verbose=0), 2 * custom(x).numpy())


def test_the_plan_follows_changes_to_the_model():
    model = _model(True, lambda: [keras.Input(shape=(3,)), keras.layers.Dense(2)])
    x = np.ones((2, 3), dtype=np.float32)
    first = model.predict(x, verbose=0)
    model.add(keras.layers.Dense(1))
    assert model.predict(x, verbose=0).shape == (2, 1)
    model.pop()
    model.layers[-1].kernel.assign(np.zeros((3, 2)))
    assert not np.array_equal(model.predict(x, verbose=0), first)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model(x).numpy())


def test_shape_errors_still_come_from_the_layers():
    model = _model(True, lambda: [keras.Input(shape=(3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="dense"):
        model.predict(np.ones((2, 4), dtype=np.float32), verbose=0)
