"""Weight constraints (applied after each optimizer step) and the Dropout layer."""

import numpy as np
import pytest

import numnet as keras
from numnet import constraints


def test_constraint_formulas():
    w = np.array([[3.0, 0.1], [4.0, -0.2]], dtype="float32")  # column norms 5 and ~0.2236
    out = constraints.MaxNorm(max_value=2)(w)
    np.testing.assert_allclose(np.linalg.norm(out, axis=0), [2.0, np.hypot(0.1, 0.2)], rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(constraints.UnitNorm()(w), axis=0), 1, rtol=1e-5)
    np.testing.assert_array_equal(constraints.NonNeg()(w), np.where(w >= 0, w, 0))
    half = constraints.MinMaxNorm(min_value=1.0, max_value=2.0, rate=0.5)(w)
    np.testing.assert_allclose(np.linalg.norm(half, axis=0), [3.5, (np.hypot(0.1, 0.2) + 1) / 2],
                               rtol=1e-5)
    assert constraints.get("max_norm").get_config() == {"max_value": 2, "axis": 0}
    with pytest.raises(ValueError, match="Unknown constraint"):
        constraints.get("max_nrm")


def test_dense_kernel_constraint_holds_after_training_and_round_trips():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32") * 10
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.layers.Dense(3, input_shape=(4,),
                                                 kernel_constraint=keras.constraints.MaxNorm(0.5),
                                                 bias_constraint="non_neg"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    model.fit(x, y, epochs=3, verbose=0)
    kernel, bias = model.layers[0].get_weights()
    assert np.all(np.linalg.norm(kernel, axis=0) <= 0.5 + 1e-6)
    assert np.all(bias >= 0)
    config = model.layers[0].get_config()
    assert config["kernel_constraint"]["class_name"] == "MaxNorm"
    clone = keras.layers.Dense.from_config(config)
    assert isinstance(clone.kernel_constraint, keras.constraints.MaxNorm)
    assert clone.kernel_constraint.max_value == 0.5


def test_dropout_only_drops_while_training():
    layer = keras.layers.Dropout(0.5, seed=3)
    x = np.ones((200, 50), dtype="float32")
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    out = np.asarray(layer(x, training=True))
    assert set(np.unique(out)) == {0.0, 2.0}
    assert 0.4 < (out == 0).mean() < 0.6
    shared = np.asarray(keras.layers.Dropout(0.5, noise_shape=(None, 1), seed=1)(x, training=True))
    assert np.all((shared == 0).all(axis=1) | (shared == 2).all(axis=1))
    with pytest.raises(ValueError, match="rate"):
        keras.layers.Dropout(1.0)
    assert keras.layers.Dropout.from_config(layer.get_config()).rate == 0.5


def test_dropout_in_a_model_trains_and_predicts_deterministically():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.layers.Input(shape=(8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.3), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(2).normal(size=(64, 8)).astype("float32")
    history = model.fit(x, x[:, :1], epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
