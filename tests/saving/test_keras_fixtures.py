"""numnet loads `.keras` files written by real Keras 3 (no TensorFlow needed here).

The fixtures come from `tests/fixtures/generate_keras_files.py`, which also
checks the other direction (Keras loads numnet's files) in the reference venv.
Each `<name>.npz` holds `x<i>`, `y<i>`, Keras' `y_pred<i>`, `evaluate_json`,
`optimizer_iterations`, the optimizer's variables `opt_var<i>`, one more
training batch `step_x<i>`/`step_y<i>` and Keras' weights after it `after_w<i>`.
"""

import json
import os
import zipfile

import numpy as np
import pytest

import numnet

import h5py  # noqa: F401  (a test dependency: fail loudly if it is missing)
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras_files")
NAMES = ["func_layers", "losses_dict", "losses_list", "opt_sgd_momentum", "opt_sgd_nesterov",
         "opt_adam", "opt_adam_amsgrad", "opt_adagrad", "opt_rmsprop", "opt_expdecay"]
ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "softmax", "leaky_relu", "elu", "selu",
               "softplus", "softsign", "silu", "swish", "gelu", "exponential", "relu6",
               "hard_sigmoid", "mish", "log_softmax"]


def _arrays(data, prefix):
    keys = sorted((k for k in data.files if k[len(prefix):].isdigit() and k.startswith(prefix)),
                  key=lambda k: int(k[len(prefix):]))
    return [data[k] for k in keys]


def _one_or_list(arrays):
    return arrays[0] if len(arrays) == 1 else arrays


_CACHE = {}


def _fixture(name):
    if name not in _CACHE:
        path = os.path.join(FIXTURES, f"{name}.keras")
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
        _CACHE[name] = (np.load(os.path.join(FIXTURES, f"{name}.npz")), config)
    data, config = _CACHE[name]
    return data, config, numnet.models.load_model(os.path.join(FIXTURES, f"{name}.keras"))


def _close(got, want, rtol=1e-5, atol=1e-6, what=""):
    got = got if isinstance(got, (list, tuple)) else [got]
    assert len(got) == len(want), what
    for i, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(np.asarray(a, "float64"), np.asarray(b, "float64"),
                                   rtol=rtol, atol=atol, err_msg=f"{what} [{i}]")


def _norm(node):
    """Config JSON without the fields that legitimately differ (module paths); tuples are
    compared as the lists JSON makes of them."""
    if isinstance(node, dict):
        return {k: _norm(v) for k, v in node.items() if k not in ("module", "registered_name", "shared_object_id")}
    if isinstance(node, (list, tuple)):
        return [_norm(v) for v in node]
    return node


@pytest.mark.parametrize("name", NAMES)
def test_keras_file_predicts_evaluates_and_continues_training(name):
    data, config, model = _fixture(name)
    x = _one_or_list(_arrays(data, "x"))
    y = _one_or_list(_arrays(data, "y"))
    _close(model.predict(x, verbose=0), _arrays(data, "y_pred"), what="predictions")

    # compile_config round trip: numnet re-serializes what Keras wrote.
    written, ours = config["compile_config"], model.get_compile_config()
    for key in ("loss", "loss_weights", "metrics", "weighted_metrics"):
        assert _norm(ours[key]) == _norm(written[key]), key  # Huber without `delta`, as Keras
    assert _norm(ours["optimizer"]) == _norm(written["optimizer"])

    # Optimizer state: iterations and every slot, in Keras' order.
    assert int(model.optimizer.iterations.data) == int(data["optimizer_iterations"]) > 0
    slots = _arrays(data, "opt_var")
    assert len(model.optimizer.variables) == len(slots)
    _close([v.data for v in model.optimizer.variables], slots, rtol=0, atol=0, what="slots")

    # evaluate(): same names and numbers as Keras' evaluate on the same data.
    expected = json.loads(str(data["evaluate_json"]))
    result = model.evaluate(x, y, batch_size=len(_arrays(data, "x")[0]), verbose=0,
                            return_dict=True)
    assert sorted(result) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(result[key], value, rtol=2e-5, atol=1e-6, err_msg=key)

    # One more step gives Keras' weights after its step.
    model.train_on_batch(_one_or_list(_arrays(data, "step_x")),
                         _one_or_list(_arrays(data, "step_y")))
    _close(model.get_weights(), _arrays(data, "after_w"), atol=2e-6, what="weights after step")


def test_keras_file_layer_configs_round_trip():
    """Every layer's config (activations, initializers, regularizers, constraints, Dropout,
    Normalization invert, nested Sequential) re-serializes to what Keras wrote."""
    _, config, model = _fixture("func_layers")
    written = {layer["config"]["name"]: layer for layer in config["config"]["layers"]}
    ours = {layer["config"]["name"]: layer for layer in model.get_config()["layers"]}
    assert set(ours) == set(written)
    expected_classes = {"InputLayer", "Dense", "Activation", "Dropout", "Flatten", "Reshape",
                        "Normalization", "Concatenate", "Add", "Subtract", "Multiply",
                        "Average", "Maximum", "Minimum", "Sequential"}
    assert {layer["class_name"] for layer in written.values()} == expected_classes
    # Keras writes the `swish` alias as "silu".
    assert {written[f"d_{a}"]["config"]["activation"] for a in ACTIVATIONS} == \
        set(ACTIVATIONS) - {"swish"}
    for name, layer in written.items():
        mine = _norm(ours[name]["config"])
        for key, value in _norm(layer["config"]).items():
            if key in ("dtype", "layers", "quantization_config", "lora_rank", "lora_alpha"):
                continue
            assert mine.get(key) == value, (name, key, mine.get(key), value)
    assert model.get_layer("denorm").invert is True
    assert type(model.get_layer("h").kernel_constraint).__name__ == "MaxNorm"
    assert type(model.get_layer("g").bias_constraint).__name__ == "MinMaxNorm"
    assert [l.name for l in model.get_layer("inner").layers] == \
        [l["config"]["name"] for l in written["inner"]["config"]["layers"][1:]]
