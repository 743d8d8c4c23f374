"""model.fit with every optimizer, compared with Keras 3 (TensorFlow backend).

The reference weights, histories and evaluations live in
tests/fixtures/reference_core.npz (+ .json) and were made by
tests/fixtures/generate_reference.py with real Keras; this file is plain Keras
user code with ``import numnet as keras``.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest

import numnet as keras

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
with np.load(FIXTURES / "reference_core.npz") as _npz:
    REF = dict(_npz)
META = json.loads((FIXTURES / "reference_core.json").read_text())
RUNS = META["training"]["runs"]

WEIGHTS = dict(rtol=1e-4, atol=1e-5)
VALUES = dict(rtol=1e-4, atol=1e-6)

X = REF["train/data/x"]
Y = {"clf": REF["train/data/y_clf"], "reg": REF["train/data/y_reg"]}
SAMPLE_WEIGHT = REF["train/data/sample_weight"]

OPTIMIZERS = {
    "sgd": lambda: keras.optimizers.SGD(learning_rate=0.1),
    "sgd_momentum": lambda: keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
    "sgd_nesterov": lambda: keras.optimizers.SGD(
        learning_rate=0.05, momentum=0.9, nesterov=True
    ),
    "adam_default": lambda: keras.optimizers.Adam(),
    "adam_lr001": lambda: keras.optimizers.Adam(learning_rate=0.01),
    "rmsprop": lambda: keras.optimizers.RMSprop(learning_rate=0.01),
    "adagrad": lambda: keras.optimizers.Adagrad(learning_rate=0.1),
    "nadam": lambda: keras.optimizers.Nadam(learning_rate=0.01),
    "adamw": lambda: keras.optimizers.AdamW(learning_rate=0.01, weight_decay=0.1),
    "sgd_clipnorm": lambda: keras.optimizers.SGD(learning_rate=0.1, clipnorm=0.5),
    "sgd_clipvalue": lambda: keras.optimizers.SGD(learning_rate=0.1, clipvalue=0.01),
    "adam_expdecay": lambda: keras.optimizers.Adam(
        learning_rate=keras.optimizers.schedules.ExponentialDecay(
            0.01, decay_steps=2, decay_rate=0.5
        )
    ),
}


def build_model(kind):
    if kind == "clf":
        return keras.Sequential(
            [
                keras.Input(shape=(5,)),
                keras.layers.Dense(8, activation="relu"),
                keras.layers.Dense(6, activation="tanh"),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
    return keras.Sequential(
        [
            keras.Input(shape=(5,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1),
        ]
    )


def stored_weights(prefix):
    count = sum(1 for key in REF if re.fullmatch(re.escape(prefix) + r"/w\d+", key))
    return [REF[f"{prefix}/w{i}"] for i in range(count)]


def fit_model(kind, optimizer, jit_compile="auto", **fit_kwargs):
    model = build_model(kind)
    model.set_weights(stored_weights(f"train/init/{kind}"))
    if kind == "clf":
        model.compile(
            optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"],
            jit_compile=jit_compile,
        )
    else:
        model.compile(optimizer=optimizer, loss="mse", metrics=["mae"], jit_compile=jit_compile)
    history = model.fit(
        X, Y[kind], batch_size=10, epochs=2, shuffle=False, verbose=0, **fit_kwargs
    )
    return model, history


def check_run(run, model, history):
    kind = RUNS[run]["model"]
    expected_weights = stored_weights(f"train/{run}")
    weights = model.get_weights()
    assert len(weights) == len(expected_weights)
    for got, expected in zip(weights, expected_weights):
        assert np.asarray(got).shape == expected.shape
        np.testing.assert_allclose(np.asarray(got), expected, **WEIGHTS)

    assert set(history.history) == set(RUNS[run]["history_keys"])
    for key in RUNS[run]["history_keys"]:
        assert len(history.history[key]) == 2, key
        np.testing.assert_allclose(
            np.asarray(history.history[key], dtype="float32"),
            REF[f"train/{run}/hist/{key}"],
            err_msg=key,
            **VALUES,
        )

    loss_and_metric = model.evaluate(X, Y[kind], verbose=0)
    np.testing.assert_allclose(
        np.asarray(loss_and_metric, dtype="float32"), REF[f"train/{run}/eval"], **VALUES
    )


def test_initial_weights_round_trip():
    for kind in ("clf", "reg"):
        model = build_model(kind)
        init = stored_weights(f"train/init/{kind}")
        model.set_weights(init)
        for got, expected in zip(model.get_weights(), init):
            np.testing.assert_array_equal(np.asarray(got), expected)


@pytest.mark.parametrize("jit_compile", ["auto", False], ids=["compiled", "eager"])
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_fit_matches_keras(kind, opt_name, jit_compile):
    """Both training steps: the compiled one (the default) and the eager one."""
    model, history = fit_model(kind, OPTIMIZERS[opt_name](), jit_compile=jit_compile)
    assert (model.compiled_reason is None) == (jit_compile == "auto")
    assert bool(model.train_function.programs) == (jit_compile == "auto")
    check_run(f"{kind}/{opt_name}", model, history)


@pytest.mark.parametrize("jit_compile", ["auto", False], ids=["compiled", "eager"])
def test_fit_with_class_weight(jit_compile):
    model, history = fit_model(
        "clf", keras.optimizers.SGD(learning_rate=0.1), class_weight={0: 1.0, 1: 2.0, 2: 0.5},
        jit_compile=jit_compile,
    )
    assert (model.compiled_reason is None) == (jit_compile == "auto")
    assert bool(model.train_function.programs) == (jit_compile == "auto")
    check_run("clf/class_weight", model, history)


@pytest.mark.parametrize("jit_compile", ["auto", False], ids=["compiled", "eager"])
def test_fit_with_sample_weight(jit_compile):
    model, history = fit_model(
        "clf", keras.optimizers.SGD(learning_rate=0.1), sample_weight=SAMPLE_WEIGHT,
        jit_compile=jit_compile,
    )
    assert (model.compiled_reason is None) == (jit_compile == "auto")
    assert bool(model.train_function.programs) == (jit_compile == "auto")
    check_run("clf/sample_weight", model, history)


@pytest.mark.parametrize("jit_compile", ["auto", False], ids=["compiled", "eager"])
def test_fit_with_validation_split(jit_compile):
    model, history = fit_model(
        "clf", keras.optimizers.SGD(learning_rate=0.1), validation_split=0.25,
        jit_compile=jit_compile,
    )
    assert "val_loss" in history.history
    check_run("clf/validation_split", model, history)


def assert_config_matches(config, expected, where="config"):
    for key, value in expected.items():
        if key in ("module", "registered_name"):
            continue
        assert key in config, f"{where}: missing {key!r}"
        got = config[key]
        if key == "name" and isinstance(value, str) and where == "config":
            # Keras uniquifies auto-generated names ("sgd", "sgd_1", ...).
            assert re.fullmatch(re.escape(value) + r"(_\d+)?", got), (got, value)
        elif isinstance(value, dict):
            assert isinstance(got, dict), f"{where}.{key}: {got!r}"
            assert_config_matches(got, value, where=f"{where}.{key}")
        elif isinstance(value, float):
            assert got == pytest.approx(value, rel=1e-6), f"{where}.{key}"
        else:
            assert got == value, f"{where}.{key}: {got!r} != {value!r}"


@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
def test_optimizer_get_config(opt_name):
    optimizer = OPTIMIZERS[opt_name]()
    assert_config_matches(optimizer.get_config(), RUNS[f"clf/{opt_name}"]["optimizer_config"])
