""".keras files written by real Keras 3 with the layers of issue 14, loaded by numnet.

The files come from tests/fixtures/generate_keras_layer_files.py, which also checks that
Keras loads the files numnet writes for the same models (predictions, layer configs,
optimizer state, evaluate, next step). Here: numnet loads Keras' files and gives Keras'
predictions, weights, optimizer state, evaluate numbers and next training step; each
layer re-serializes to the config Keras wrote; and numnet's own files round-trip.
"""

import importlib.util
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

import numnet as keras

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FILES = FIXTURES / "keras_files"
_spec = importlib.util.spec_from_file_location("layer_cases", FIXTURES / "layer_cases.py")
CASES = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(CASES)
CASES.custom_layer_class(keras)  # registers numnet_tests>ScaleShift and squash
CASES.registered_function(keras)
NAMES = ["layers_mlp", "layers_graph", "layers_noise", "layers_masked", "layers_preprocessing"]


def _arrays(data, prefix):
    keys = sorted((k for k in data.files if k.startswith(prefix) and k[len(prefix):].isdigit()),
                  key=lambda k: int(k[len(prefix):]))
    return [np.char.decode(data[k], "utf-8") if data[k].dtype.kind == "S" else data[k]
            for k in keys]


def _one_or_list(arrays):
    return arrays[0] if len(arrays) == 1 else arrays


def _close(got, want, rtol=1e-5, atol=1e-6, what=""):
    got = got if isinstance(got, (list, tuple)) else [got]
    assert len(got) == len(want), what
    for i, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(np.asarray(a, "float64"), np.asarray(b, "float64"),
                                   rtol=rtol, atol=atol, err_msg=f"{what} [{i}]")


def _load(name):
    data = np.load(FILES / f"{name}.npz")
    with zipfile.ZipFile(FILES / f"{name}.keras") as archive:
        config = json.loads(archive.read("config.json"))
    return data, config, keras.models.load_model(FILES / f"{name}.keras")


@pytest.mark.parametrize("name", NAMES)
def test_keras_file_predicts_evaluates_and_continues_training(name):
    data, _, model = _load(name)
    x = _one_or_list(_arrays(data, "x"))
    y = _one_or_list(_arrays(data, "y"))
    _close(model.predict(x, verbose=0), _arrays(data, "y_pred"), rtol=2e-5, atol=2e-6,
           what=f"{name}: predictions")
    _close(model.get_weights(), _arrays(data, "w"), rtol=0, atol=0, what=f"{name}: weights")
    assert int(model.optimizer.iterations.data) == int(data["optimizer_iterations"]) > 0
    _close([v.data for v in model.optimizer.variables], _arrays(data, "opt_var"), rtol=0,
           atol=0, what=f"{name}: optimizer state")
    expected = json.loads(str(data["evaluate_json"]))
    result = model.evaluate(x, y, batch_size=len(_arrays(data, "x")[0]), verbose=0,
                            return_dict=True)
    assert sorted(result) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(result[key], value, rtol=2e-5, atol=2e-6, err_msg=key)
    if "step_x0" in data.files:
        model.train_on_batch(_one_or_list(_arrays(data, "step_x")),
                             _one_or_list(_arrays(data, "step_y")))
        _close(model.get_weights(), _arrays(data, "after_w"), atol=2e-6,
               what=f"{name}: weights after a step")


def _norm(node):
    if isinstance(node, dict):
        return {k: _norm(v) for k, v in node.items()
                if k not in ("module", "registered_name", "quantization_config",
                             "shared_object_id")}
    if isinstance(node, list):
        return [_norm(v) for v in node]
    return node


@pytest.mark.parametrize("name", NAMES)
def test_keras_file_layer_configs_round_trip(name):
    """numnet re-serializes every layer to the config (and build config) Keras wrote."""
    _, config, model = _load(name)
    written = config["config"]["layers"]
    ours = model.get_config()["layers"]
    assert [layer["class_name"] for layer in ours] == [layer["class_name"] for layer in written]
    for mine, theirs in zip(ours, written):
        assert _norm(mine["config"]) == _norm(theirs["config"]), theirs["class_name"]
        assert mine.get("build_config") == theirs.get("build_config"), theirs["class_name"]


def test_keras_lookup_assets_and_idf_weights_are_read():
    _, _, model = _load("layers_preprocessing")
    with zipfile.ZipFile(FILES / "layers_preprocessing.keras") as archive:
        assets = {n: archive.read(n).decode() for n in archive.namelist()
                  if n.startswith("assets/")}
    lookup = model.get_layer("city_lookup")
    path = "assets/layers/string_lookup/vocabulary.txt"
    assert lookup.get_vocabulary() == assets[path].split("\n")
    # (the vocabulary given to the constructor, `code_index`'s, is in the config, not an asset)
    assert model.get_layer("code_lookup").get_vocabulary() == \
        [int(v) for v in assets["assets/layers/integer_lookup_1/vocabulary.txt"].split("\n")]
    assert model.get_layer("city_tf_idf").idf_weights.shape == \
        (model.get_layer("city_tf_idf").vocabulary_size(),)
    assert model.get_layer("num_bins").bin_boundaries is not None


@pytest.mark.parametrize("name", NAMES)
def test_numnet_files_round_trip(name, tmp_path):
    keras.utils.set_random_seed(1)
    x, y = CASES.file_data(name, seed=1)
    factory, compile_kwargs, comparable = CASES.file_models(keras)[name]
    model = factory(x)
    model.compile(**compile_kwargs())
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    _close(loaded.predict(x, verbose=0), _as_list(model.predict(x, verbose=0)), rtol=0, atol=0,
           what="predictions")
    _close(loaded.get_weights(), model.get_weights(), rtol=0, atol=0, what="weights")
    assert json.dumps(loaded.get_config(), sort_keys=True) == \
        json.dumps(model.get_config(), sort_keys=True)
    if comparable:
        batch = [a[:8] for a in x] if isinstance(x, list) else x[:8]
        target = [a[:8] for a in y] if isinstance(y, list) else y[:8]
        loaded.train_on_batch(batch, target)
        model.train_on_batch(batch, target)
        _close(loaded.get_weights(), model.get_weights(), rtol=0, atol=0, what="next step")


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def test_directory_format_keeps_assets(tmp_path):
    x, y = CASES.file_data("layers_preprocessing")
    model = CASES.file_models(keras)["layers_preprocessing"][0](x)
    model.save(tmp_path / "folder", zipped=False)
    assert os.path.isfile(tmp_path / "folder" / "assets" / "layers" / "string_lookup" /
                          "vocabulary.txt")
    loaded = keras.models.load_model(tmp_path / "folder")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
