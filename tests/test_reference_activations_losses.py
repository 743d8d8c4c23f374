"""Activations and losses compared with Keras 3 (TensorFlow backend) numbers.

The reference values live in tests/fixtures/reference_core.npz and were made by
tests/fixtures/generate_reference.py with real Keras; this file is plain Keras
user code with ``import numnet as keras``.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import numnet as keras

FIXTURES = Path(__file__).resolve().parent / "fixtures"
with np.load(FIXTURES / "reference_core.npz") as _npz:
    REF = dict(_npz)
META = json.loads((FIXTURES / "reference_core.json").read_text())

FORWARD = dict(rtol=1e-5, atol=1e-6)
# Gradients in saturated tails (e.g. gelu(approximate=True) near -5) are at the
# 1e-6 level where float32 underflow differs between implementations.
GRAD = dict(rtol=1e-5, atol=1e-5)

# --------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------

ACTIVATION_NAMES = [
    "linear",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "softplus",
    "softsign",
    "swish",
    "silu",
    "gelu",
    "exponential",
    "softmax",
]
ALL_ACTIVATIONS = ACTIVATION_NAMES + ["gelu_approximate"]


def get_activation(name):
    if name == "gelu_approximate":
        return lambda x: keras.activations.gelu(x, approximate=True)
    return keras.activations.get(name)


def test_fixture_covers_every_activation():
    assert META["activations"] == ALL_ACTIVATIONS


def test_activation_input_is_float32_with_zero_and_near_zero():
    x = REF["act/x"]
    assert x.dtype == np.float32 and x.shape == (6, 7)
    assert np.any(x == 0.0)
    assert np.any((np.abs(x) > 0) & (np.abs(x) < 1e-3))


@pytest.mark.parametrize("name", ALL_ACTIVATIONS)
def test_activation_forward(name):
    activation = get_activation(name)
    y = activation(REF["act/x"])
    np.testing.assert_allclose(np.asarray(y), REF[f"act/{name}/y"], **FORWARD)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_module_function_matches_get(name):
    activation = getattr(keras.activations, name)
    y = activation(REF["act/x"])
    np.testing.assert_allclose(np.asarray(y), REF[f"act/{name}/y"], **FORWARD)


def test_leaky_relu_and_gelu_defaults():
    x = np.array([[-2.0, -0.5, 0.0, 1.5]], dtype="float32")
    np.testing.assert_allclose(
        np.asarray(keras.activations.leaky_relu(x)), [[-0.4, -0.1, 0.0, 1.5]], **FORWARD
    )
    np.testing.assert_allclose(
        np.asarray(keras.activations.gelu(REF["act/x"])), REF["act/gelu/y"], **FORWARD
    )


@pytest.mark.parametrize("name", ALL_ACTIVATIONS)
def test_activation_gradient(name):
    activation = get_activation(name)
    x = keras.ops.convert_to_tensor(REF["act/x"])
    w = keras.ops.convert_to_tensor(REF["act/w"])
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = activation(x)
        target = keras.ops.sum(keras.ops.multiply(y, w))
    grad = tape.gradient(target, x)
    np.testing.assert_allclose(np.asarray(grad), REF[f"act/{name}/grad"], **GRAD)


# --------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------

LOSSES = {
    "mse": lambda **kw: keras.losses.MeanSquaredError(**kw),
    "mae": lambda **kw: keras.losses.MeanAbsoluteError(**kw),
    "huber": lambda **kw: keras.losses.Huber(**kw),
    "huber_delta_0_5": lambda **kw: keras.losses.Huber(delta=0.5, **kw),
    "bce": lambda **kw: keras.losses.BinaryCrossentropy(**kw),
    "bce_logits": lambda **kw: keras.losses.BinaryCrossentropy(from_logits=True, **kw),
    "bce_clip": lambda **kw: keras.losses.BinaryCrossentropy(**kw),
    "cce": lambda **kw: keras.losses.CategoricalCrossentropy(**kw),
    "cce_logits": lambda **kw: keras.losses.CategoricalCrossentropy(from_logits=True, **kw),
    "cce_clip": lambda **kw: keras.losses.CategoricalCrossentropy(**kw),
    "scce": lambda **kw: keras.losses.SparseCategoricalCrossentropy(**kw),
    "scce_logits": lambda **kw: keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, **kw
    ),
    "scce_clip": lambda **kw: keras.losses.SparseCategoricalCrossentropy(**kw),
}

# The per-sample loss functions (what reduction="none" returns).
LOSS_FUNCTIONS = {
    "mse": lambda t, p: keras.losses.mean_squared_error(t, p),
    "mae": lambda t, p: keras.losses.mean_absolute_error(t, p),
    "huber": lambda t, p: keras.losses.huber(t, p),
    "huber_delta_0_5": lambda t, p: keras.losses.huber(t, p, delta=0.5),
    "bce": lambda t, p: keras.losses.binary_crossentropy(t, p),
    "bce_logits": lambda t, p: keras.losses.binary_crossentropy(t, p, from_logits=True),
    "bce_clip": lambda t, p: keras.losses.binary_crossentropy(t, p),
    "cce": lambda t, p: keras.losses.categorical_crossentropy(t, p),
    "cce_logits": lambda t, p: keras.losses.categorical_crossentropy(t, p, from_logits=True),
    "cce_clip": lambda t, p: keras.losses.categorical_crossentropy(t, p),
    "scce": lambda t, p: keras.losses.sparse_categorical_crossentropy(t, p),
    "scce_logits": lambda t, p: keras.losses.sparse_categorical_crossentropy(
        t, p, from_logits=True
    ),
    "scce_clip": lambda t, p: keras.losses.sparse_categorical_crossentropy(t, p),
}


def loss_case(case):
    y_true = REF[f"loss/{case}/y_true"]
    y_pred = REF[f"loss/{case}/y_pred"]
    sample_weight = REF[f"loss/{case}/sample_weight"]
    return y_true, y_pred, sample_weight


def test_fixture_covers_every_loss_case():
    assert sorted(META["losses"]) == sorted(LOSSES)


def test_clipping_cases_hold_exact_zeros_and_ones():
    for case in ("bce_clip", "cce_clip", "scce_clip"):
        y_pred = REF[f"loss/{case}/y_pred"]
        assert np.any(y_pred == 0.0) and np.any(y_pred == 1.0)


@pytest.mark.parametrize("case", list(LOSSES))
def test_loss_default_reduction(case):
    y_true, y_pred, _ = loss_case(case)
    loss = LOSSES[case]()(y_true, y_pred)
    assert np.asarray(loss).shape == ()
    np.testing.assert_allclose(np.asarray(loss), REF[f"loss/{case}/default"], **FORWARD)


@pytest.mark.parametrize("case", list(LOSSES))
def test_loss_with_sample_weight(case):
    y_true, y_pred, sample_weight = loss_case(case)
    loss = LOSSES[case]()(y_true, y_pred, sample_weight=sample_weight)
    np.testing.assert_allclose(np.asarray(loss), REF[f"loss/{case}/weighted"], **FORWARD)


@pytest.mark.parametrize("case", list(LOSSES))
def test_loss_reduction_sum(case):
    y_true, y_pred, _ = loss_case(case)
    loss = LOSSES[case](reduction="sum")(y_true, y_pred)
    np.testing.assert_allclose(np.asarray(loss), REF[f"loss/{case}/sum"], **FORWARD)


@pytest.mark.parametrize("case", list(LOSSES))
def test_loss_reduction_none(case):
    y_true, y_pred, _ = loss_case(case)
    loss = np.asarray(LOSSES[case](reduction="none")(y_true, y_pred))
    expected = REF[f"loss/{case}/none"]
    assert loss.shape == expected.shape == (y_pred.shape[0],)
    np.testing.assert_allclose(loss, expected, **FORWARD)


@pytest.mark.parametrize("case", list(LOSSES))
def test_loss_function_matches_reduction_none(case):
    y_true, y_pred, _ = loss_case(case)
    loss = LOSS_FUNCTIONS[case](y_true, y_pred)
    np.testing.assert_allclose(np.asarray(loss), REF[f"loss/{case}/none"], **FORWARD)


@pytest.mark.parametrize("case", list(LOSSES))
def test_loss_gradient_wrt_y_pred(case):
    y_true, y_pred, _ = loss_case(case)
    loss_fn = LOSSES[case]()
    y_pred_t = keras.ops.convert_to_tensor(y_pred)
    with keras.GradientTape() as tape:
        tape.watch(y_pred_t)
        loss = loss_fn(y_true, y_pred_t)
    grad = tape.gradient(loss, y_pred_t)
    np.testing.assert_allclose(np.asarray(grad), REF[f"loss/{case}/grad"], **GRAD)


@pytest.mark.parametrize("case", list(LOSSES))
def test_loss_config(case):
    config = LOSSES[case]().get_config()
    expected = META["losses"][case]["config"]
    for key, value in expected.items():
        assert key in config, key
        if isinstance(value, float):
            assert config[key] == pytest.approx(value, rel=1e-6), key
        else:
            assert config[key] == value, key
