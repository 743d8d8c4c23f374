"""The layers of issue 14 against real Keras 3.15.1: outputs, masks, gradients, configs,
training runs (compiled and eager) and the preprocessing layers.

The reference numbers were made by tests/fixtures/generate_reference_layers.py from the
cases in tests/fixtures/layer_cases.py, which this file runs with `import numnet as keras`.
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import numnet as keras
from numnet.autodiff import GradientTape, Tensor, ops
from numnet.autodiff.ops.masking import get_keras_mask

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
_spec = importlib.util.spec_from_file_location("layer_cases", FIXTURES / "layer_cases.py")
CASES = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(CASES)

with np.load(FIXTURES / "reference_layers.npz") as _npz:
    REF = dict(_npz)
META = json.loads((FIXTURES / "reference_layers.json").read_text())
FORWARD = {**CASES.forward_cases(keras), **CASES.image_cases(keras)}
TRAIN = CASES.train_cases(keras)
PREPROCESSING = CASES.preprocessing_cases(keras)


def ref(key):
    if key in META.get("strings", {}):
        return np.array(META["strings"][key])
    return REF[key]


def listed(prefix):
    keys = sorted((k for k in REF if k.startswith(prefix) and k[len(prefix):].isdigit()),
                  key=lambda k: int(k[len(prefix):]))
    return [REF[k] for k in keys]


def close(got, want, rtol=1e-5, atol=1e-6, what=""):
    np.testing.assert_allclose(np.asarray(getattr(got, "data", got), dtype="float64"),
                               np.asarray(want, dtype="float64"), rtol=rtol, atol=atol,
                               err_msg=what)


def plain(config):
    return json.loads(json.dumps(config))


# -------------------------------------------------------------------- forward
def _call(layer, name, training=False):
    inputs = listed(f"forward/{name}/x")
    kwargs = {"mask": REF[f"forward/{name}/mask"]} if f"forward/{name}/mask" in REF and \
        "mask" in FORWARD[name][2] else {}
    args = inputs if len(inputs) > 1 else inputs[0]
    return layer(args, training=training, **kwargs), inputs, kwargs


@pytest.mark.parametrize("name", sorted(FORWARD))
def test_forward_outputs_masks_and_config_match_keras(name):
    layer = FORWARD[name][0]()
    _call(layer, name)
    layer.set_weights(listed(f"forward/{name}/w"))
    out, _, _ = _call(layer, name)
    close(out, REF[f"forward/{name}/inference"], what=f"{name}: inference output")
    mask_key = f"forward/{name}/mask"
    if mask_key in REF and "mask" not in FORWARD[name][2]:
        np.testing.assert_array_equal(get_keras_mask(out).data, REF[mask_key])
    close([float(v.data) for v in layer.losses], REF[f"forward/{name}/losses"],
          what=f"{name}: losses")
    if name in CASES.TRAINING_MODE:
        out, _, _ = _call(layer, name, training=True)
        close(out, REF[f"forward/{name}/training"], what=f"{name}: training output")
        for got, want in zip(layer.get_weights(), listed(f"forward/{name}/after_training/w")):
            close(got, want, what=f"{name}: weights after a training call")
    assert [w.name for w in layer.weights] == META["forward"][name]["weights"]
    assert plain(layer.get_config()) == META["forward"][name]["config"]


# (the noise layers have no gradient to compare: they are checked by their statistics)
@pytest.mark.parametrize("name", sorted(n for n in FORWARD if f"forward/{n}/grad_weight" in REF))
def test_gradients_match_keras(name):
    layer = FORWARD[name][0]()
    _call(layer, name)
    # the reference took the gradient after its training-mode call (renorm reads its state)
    after = listed(f"forward/{name}/after_training/w")
    layer.set_weights(after or listed(f"forward/{name}/w"))
    inputs = [Tensor(x) for x in listed(f"forward/{name}/x")]
    kwargs = {"mask": REF[f"forward/{name}/mask"]} if "mask" in FORWARD[name][2] else {}
    with GradientTape(persistent=True) as tape:
        for t in inputs:
            tape.watch(t)
        out = layer(inputs if len(inputs) > 1 else inputs[0],
                    training=name in CASES.TRAINING_MODE, **kwargs)
        total = ops.sum(ops.multiply(out, REF[f"forward/{name}/grad_weight"]))
    for i, t in enumerate(inputs):
        key = f"forward/{name}/grad_x{i}"
        if key in REF:
            close(tape.gradient(total, t), REF[key], rtol=2e-5, atol=2e-6,
                  what=f"{name}: gradient w.r.t. input {i}")
    for i, w in enumerate(layer.trainable_weights):
        close(tape.gradient(total, w), REF[f"forward/{name}/grad_w{i}"], rtol=2e-5, atol=2e-6,
              what=f"{name}: gradient w.r.t. {w.name}")


# ------------------------------------------------------------------- training
def _fit(name, jit_compile):
    model_factory, optimizer, loss, metrics, _ = TRAIN[name]
    keras.utils.set_random_seed(0)
    model = model_factory()
    model.compile(optimizer=optimizer(), loss=loss, metrics=metrics, jit_compile=jit_compile)
    model.set_weights(listed(f"train/{name}/init/w"))
    xs = listed(f"train/{name}/x")
    x = xs if len(xs) > 1 else xs[0]
    history = model.fit(x, REF[f"train/{name}/y"], batch_size=8, epochs=2, shuffle=False,
                        verbose=0)
    return model, history, x


@pytest.mark.parametrize("jit_compile", ["auto", False])
@pytest.mark.parametrize("name", sorted(TRAIN))
def test_training_matches_keras(name, jit_compile):
    model, history, x = _fit(name, jit_compile)
    if jit_compile == "auto":
        assert model.compiled_reason is None
        assert model.train_function.programs
    meta = META["train"][name]
    assert list(history.history) == meta["history_keys"]
    for key in meta["history_keys"]:
        close(history.history[key], REF[f"train/{name}/hist/{key}"], rtol=2e-5, atol=1e-6,
              what=f"{name}: history {key}")
    for i, (got, want) in enumerate(zip(model.get_weights(), listed(f"train/{name}/after/w"),
                                        strict=True)):
        close(got, want, rtol=1e-5, atol=1e-6, what=f"{name}: weight {i} after fit")
    result = model.evaluate(x, REF[f"train/{name}/y"], batch_size=40, verbose=0,
                            return_dict=True)
    assert sorted(result) == sorted(meta["evaluate"])
    for key, value in meta["evaluate"].items():
        close(result[key], value, rtol=2e-5, atol=1e-6, what=f"{name}: evaluate {key}")


# -------------------------------------------------------------- preprocessing
@pytest.mark.parametrize("name", sorted(PREPROCESSING))
def test_preprocessing_matches_keras(name):
    factory, adapt_key, input_key = PREPROCESSING[name]
    meta = META["prep"][name]
    layer = factory()
    if adapt_key is not None:
        layer.adapt(ref(f"data/{adapt_key}"))
    out = layer(ref(f"data/{input_key}"))
    want = ref(f"prep/{name}/output")
    if meta["output_dtype"] == "string":
        assert out.data.tolist() == want.tolist()
    else:
        assert out.dtype == meta["output_dtype"], (out.dtype, meta["output_dtype"])
        if want.dtype.kind == "f":
            close(out, want)
        else:
            np.testing.assert_array_equal(out.data, want)
    if "vocabulary" in meta:
        assert layer.get_vocabulary() == meta["vocabulary"]
        assert layer.vocabulary_size() == meta["vocabulary_size"]
    if f"prep/{name}/bin_boundaries" in REF:
        close(layer.bin_boundaries, REF[f"prep/{name}/bin_boundaries"], rtol=1e-7, atol=0)
    if f"prep/{name}/idf_weights" in REF:
        close(layer.idf_weights, REF[f"prep/{name}/idf_weights"], rtol=1e-6, atol=1e-7)
    config = plain(layer.get_config())
    want_config = dict(meta["config"])
    assert config.pop("name").split("_")[0] == want_config.pop("name").split("_")[0]
    assert config == want_config


# ---------------------------------------------------------------------- noise
def _alpha_dropout_affine(x, y):
    """(a, b, dropped value) of an AlphaDropout output: kept y = a * x + b."""
    values, counts = np.unique(y, return_counts=True)
    dropped = values[np.argmax(counts)]
    kept = y != dropped
    a, b = np.polyfit(x[kept].astype("float64"), y[kept].astype("float64"), 1)
    return a, b, float(dropped), float(1 - kept.mean())


def test_noise_layers_match_keras_statistics():
    x = REF["noise/x"]
    L = keras.layers
    keras.utils.set_random_seed(3)
    got = _alpha_dropout_affine(x, L.AlphaDropout(0.3, seed=3)(x, training=True).data)
    want = _alpha_dropout_affine(x, REF["noise/alpha_dropout"])
    np.testing.assert_allclose(got[:3], want[:3], rtol=1e-5)
    assert abs(got[3] - 0.3) < 0.02 and abs(want[3] - 0.3) < 0.02
    ratio = L.GaussianDropout(0.3, seed=3)(x, training=True).data / x
    want_ratio = REF["noise/gaussian_dropout"] / x
    assert abs(ratio.mean() - 1) < 0.02 and abs(want_ratio.mean() - 1) < 0.02
    assert abs(ratio.std() / want_ratio.std() - 1) < 0.03
    noise = L.GaussianNoise(0.4, seed=3)(x, training=True).data - x
    want_noise = REF["noise/gaussian_noise"] - x
    assert abs(noise.mean()) < 0.02 and abs(noise.std() / want_noise.std() - 1) < 0.03
    for layer in (L.AlphaDropout(0.3), L.GaussianDropout(0.3), L.GaussianNoise(0.4)):
        assert layer(x, training=False) is not None
        np.testing.assert_array_equal(layer(x, training=False).data, x)


# --------------------------------------------------------------- masked losses
MASKED_LOSSES = {
    "mse": lambda reduction: keras.losses.MeanSquaredError(reduction=reduction),
    "mae": lambda reduction: keras.losses.MeanAbsoluteError(reduction=reduction),
    "bce": lambda reduction: keras.losses.BinaryCrossentropy(reduction=reduction),
}
MASKED_METRICS = {
    "mse": keras.metrics.MeanSquaredError, "mae": keras.metrics.MeanAbsoluteError,
    "binary_accuracy": keras.metrics.BinaryAccuracy, "rmse": keras.metrics.RootMeanSquaredError,
}
MASK_CASES = ("rows", "steps", "none_kept")


def _masked_prediction(case):
    from numnet.autodiff.ops.masking import set_keras_mask
    y_pred = Tensor(REF[f"masked/{case}/y_pred"])
    set_keras_mask(y_pred, Tensor(REF[f"masked/{case}/mask"]))
    return y_pred


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight",
                                       "none"])
@pytest.mark.parametrize("loss", sorted(MASKED_LOSSES))
@pytest.mark.parametrize("case", MASK_CASES)
def test_losses_honour_the_prediction_mask_as_keras(case, loss, reduction, weighted):
    weight = REF[f"masked/{case}/sample_weight"] if weighted else None
    value = MASKED_LOSSES[loss](reduction)(REF[f"masked/{case}/y_true"],
                                           _masked_prediction(case), sample_weight=weight)
    close(value, REF[f"masked/{case}/loss/{loss}/{reduction}/{int(weighted)}"], rtol=2e-6,
          atol=1e-7)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("metric", sorted(MASKED_METRICS))
@pytest.mark.parametrize("case", MASK_CASES)
def test_metrics_honour_the_prediction_mask_as_keras(case, metric, weighted):
    m = MASKED_METRICS[metric]()
    m.update_state(REF[f"masked/{case}/y_true"], _masked_prediction(case),
                   sample_weight=REF[f"masked/{case}/sample_weight"] if weighted else None)
    close(m.result(), REF[f"masked/{case}/metric/{metric}/{int(weighted)}"], rtol=2e-6,
          atol=1e-7)
