"""Functional Wide & Deep model (two inputs, two outputs) against Keras 3.

The reference values live in tests/fixtures/reference_functional.npz (+ .json)
and were made by tests/fixtures/generate_reference.py with real Keras on the
TensorFlow backend; this file is plain Keras user code with
``import numnet as keras``.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import numnet as keras

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
with np.load(FIXTURES / "reference_functional.npz") as _npz:
    REF = dict(_npz)
META = json.loads((FIXTURES / "reference_functional.json").read_text())

FORWARD = dict(rtol=1e-5, atol=1e-6)
WEIGHTS = dict(rtol=1e-4, atol=1e-5)

X_wide, X_deep = REF["x_wide"], REF["x_deep"]
y, y_aux = REF["y"], REF["y_aux"]
N_WEIGHTS = len(META["weight_paths"])
INIT = [REF[f"init/w{i}"] for i in range(N_WEIGHTS)]


def build_wide_deep():
    input_wide = keras.Input(shape=(5,), name="input_wide")
    input_deep = keras.Input(shape=(6,), name="input_deep")
    hidden1 = keras.layers.Dense(8, activation="relu", name="hidden1")(input_deep)
    hidden2 = keras.layers.Dense(8, activation="relu", name="hidden2")(hidden1)
    concat = keras.layers.Concatenate(name="concat")([input_wide, hidden2])
    output = keras.layers.Dense(1, name="output")(concat)
    aux_output = keras.layers.Dense(1, name="aux_output")(hidden2)
    return keras.Model(inputs=[input_wide, input_deep], outputs=[output, aux_output])


@pytest.fixture
def model():
    model = build_wide_deep()
    model.set_weights(INIT)
    model.compile(
        loss=("mse", "mse"),
        loss_weights=(0.9, 0.1),
        optimizer=keras.optimizers.SGD(learning_rate=0.05),
        metrics=["RootMeanSquaredError", "RootMeanSquaredError"],
    )
    return model


def test_weight_order_matches_keras(model):
    weights = model.get_weights()
    assert len(weights) == N_WEIGHTS
    for got, expected in zip(weights, INIT):
        assert np.asarray(got).shape == expected.shape
        np.testing.assert_array_equal(np.asarray(got), expected)
    assert [w.path for w in model.weights] == META["weight_paths"]
    assert [w.path.split("/")[0] for w in model.weights] == META["weight_layer_names"]


def test_layer_order_matches_keras(model):
    assert [layer.name for layer in model.layers] == META["layer_names"]


def test_predict_before_training(model):
    y_pred, y_pred_aux = model.predict((X_wide, X_deep), verbose=0)
    np.testing.assert_allclose(np.asarray(y_pred), REF["pred_before"], **FORWARD)
    np.testing.assert_allclose(np.asarray(y_pred_aux), REF["pred_aux_before"], **FORWARD)


def test_evaluate_return_dict_before_training(model):
    results = model.evaluate((X_wide, X_deep), (y, y_aux), return_dict=True, verbose=0)
    expected = META["evaluate_dict_before"]
    assert set(results) == set(META["evaluate_dict_keys"])
    for key, value in expected.items():
        assert float(results[key]) == pytest.approx(value, rel=1e-5, abs=1e-6), key


def test_evaluate_list_order_before_training(model):
    results = model.evaluate((X_wide, X_deep), (y, y_aux), verbose=0)
    assert len(results) == len(META["evaluate_list_order"])
    np.testing.assert_allclose(
        np.asarray(results, dtype="float32"), REF["evaluate_list_before"], **FORWARD
    )
    expected_by_name = [META["evaluate_dict_before"][k] for k in META["evaluate_list_order"]]
    np.testing.assert_allclose(np.asarray(results, dtype="float32"), expected_by_name, **FORWARD)


def test_total_loss_is_weighted_sum_of_output_losses(model):
    results = model.evaluate((X_wide, X_deep), (y, y_aux), return_dict=True, verbose=0)
    total = 0.9 * results["output_loss"] + 0.1 * results["aux_output_loss"]
    assert float(results["loss"]) == pytest.approx(float(total), rel=1e-5)


def test_train_on_batch_whole_data(model):
    result = model.train_on_batch((X_wide, X_deep), (y, y_aux))
    np.testing.assert_allclose(
        np.asarray(result, dtype="float32"), REF["train_on_batch_result"], **FORWARD
    )
    weights = model.get_weights()
    for i, got in enumerate(weights):
        np.testing.assert_allclose(np.asarray(got), REF[f"after/w{i}"], **WEIGHTS)
    after = model.evaluate((X_wide, X_deep), (y, y_aux), return_dict=True, verbose=0)
    for key, value in META["evaluate_dict_after"].items():
        assert float(after[key]) == pytest.approx(value, rel=1e-4, abs=1e-6), key
