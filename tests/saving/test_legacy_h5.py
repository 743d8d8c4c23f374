"""Legacy whole-model `.h5` files: numnet reads Keras 3's and writes what Keras 3 writes.

Fixtures: `tests/fixtures/legacy_h5/`, made by `tests/fixtures/generate_legacy_h5.py`
with Keras 3.15.1 (which also checks, in the reference environment, that Keras
loads numnet's `.h5` files). Each `<name>.npz` holds `x<i>`, `y<i>`, the
predictions `y_pred<i>`, weights `w<i>` and optimizer state (`opt_var<i>`,
`optimizer_iterations`) of the model that wrote the file, `evaluate_json`,
and, where the compile config survives the file, one more training batch
(`step_x<i>`/`step_y<i>`) with the weights after it (`after_w<i>`).
"""

import json
import os
import warnings

import h5py
import numpy as np
import pytest

import numnet as keras

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "legacy_h5")
NAMES = ["func_layers", "losses_dict", "losses_list", "opt_adam_amsgrad", "opt_expdecay",
         "seq_rmsprop_norm", "seq_uncompiled"]
COMPILED = [name for name in NAMES if name != "seq_uncompiled"]


def _arrays(data, prefix):
    keys = sorted((k for k in data.files if k.startswith(prefix) and k[len(prefix):].isdigit()),
                  key=lambda k: int(k[len(prefix):]))
    return [data[k] for k in keys]


def _one_or_list(arrays):
    return arrays[0] if len(arrays) == 1 else arrays


def _close(got, want, rtol=1e-5, atol=1e-6, what=""):
    got = got if isinstance(got, (list, tuple)) else [got]
    assert len(got) == len(want), what
    for i, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(np.asarray(a, "float64"), np.asarray(b, "float64"),
                                   rtol=rtol, atol=atol, err_msg=f"{what} [{i}]")


def _load(name, **kwargs):
    # Default metric names count per session ("auc", "auc_1", ...) in numnet as in Keras;
    # the fixtures were computed in a fresh Keras session.
    keras.backend.clear_session()
    data = np.load(os.path.join(FIXTURES, f"{name}.npz"))
    return data, keras.models.load_model(os.path.join(FIXTURES, f"{name}.h5"), **kwargs)


@pytest.mark.parametrize("name", NAMES)
def test_keras_h5_weights_and_predictions(name):
    data, model = _load(name, compile=False)
    _close(model.get_weights(), _arrays(data, "w"), rtol=0, atol=0, what="weights")
    _close(model.predict(_one_or_list(_arrays(data, "x")), verbose=0), _arrays(data, "y_pred"),
           what="predictions")


@pytest.mark.parametrize("name", COMPILED)
def test_keras_h5_compiles_with_optimizer_state_and_evaluates(name):
    data, model = _load(name)
    assert model.compiled
    assert int(model.optimizer.iterations.data) == int(data["optimizer_iterations"]) > 0
    slots = _arrays(data, "opt_var")
    assert len(model.optimizer.variables) == len(slots)
    _close([v.data for v in model.optimizer.variables], slots, rtol=0, atol=0, what="slots")
    x, y = _one_or_list(_arrays(data, "x")), _one_or_list(_arrays(data, "y"))
    expected = json.loads(str(data["evaluate_json"]))
    result = model.evaluate(x, y, batch_size=len(_arrays(data, "x")[0]), verbose=0,
                            return_dict=True)
    assert sorted(result) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(result[key], value, rtol=2e-5, atol=1e-6, err_msg=key)


STEPPED = ["func_layers", "losses_list", "opt_adam_amsgrad", "opt_expdecay", "seq_rmsprop_norm"]


@pytest.mark.parametrize("name", STEPPED)
def test_keras_h5_continues_training_like_keras(name):
    data, model = _load(name)
    assert "after_w0" in data.files  # the generator recorded the step for these
    model.train_on_batch(_one_or_list(_arrays(data, "step_x")),
                         _one_or_list(_arrays(data, "step_y")))
    _close(model.get_weights(), _arrays(data, "after_w"), atol=2e-6, what="weights after step")


def test_uncompiled_h5_warns_and_stays_uncompiled():
    with pytest.warns(UserWarning, match="No training configuration found"):
        _, model = _load("seq_uncompiled")
    assert not model.compiled


# ------------------------------------------------------------------- writing
def _layout(path):
    """Everything of an `.h5` file numnet must reproduce: paths, attributes, shapes, values."""
    entries = {}
    with h5py.File(path, "r") as h5file:
        def visit(name, node):
            attrs = {k: _attr(v) for k, v in node.attrs.items()}
            if isinstance(node, h5py.Dataset):
                entries[name] = ("dataset", node.shape, node.dtype.str, node[()].tobytes(), attrs)
            else:
                entries[name] = ("group", attrs)
        h5file.visititems(visit)
        top = {k: _attr(v) for k, v in h5file.attrs.items()}
    return top, entries


def _attr(value):
    if isinstance(value, np.ndarray):
        return [v.decode() if isinstance(v, bytes) else v for v in value.tolist()]
    return value.decode() if isinstance(value, bytes) else value


def _comparable_config(node):
    """A config without what numnet does not reproduce: Keras-only null keys, Huber's
    `delta` (Keras 3.15 omits it), `jit_compile`, and the `training`/`mask` call arguments
    Keras records in a node's `kwargs` (numnet's Functional config does not keep them, in
    `.keras` files as here)."""
    if isinstance(node, dict):
        if node.get("class_name") == "Huber":
            node = {**node, "config": {k: v for k, v in node["config"].items() if k != "delta"}}
        if set(node) == {"args", "kwargs"} and isinstance(node["kwargs"], dict):
            node = {**node, "kwargs": {k: v for k, v in node["kwargs"].items()
                                       if k not in ("training", "mask")}}
        return {k: _comparable_config(v) for k, v in node.items()
                if k not in ("quantization_config", "lora_rank", "lora_alpha", "jit_compile")}
    if isinstance(node, list):
        return [_comparable_config(v) for v in node]
    return node


@pytest.mark.parametrize("name", NAMES)
def test_numnet_writes_keras_layout(name, tmp_path):
    """Re-saving a Keras `.h5` gives Keras' groups, names, attributes, shapes and bytes."""
    _, model = _load(name, compile=name != "seq_uncompiled")
    with pytest.warns(UserWarning, match="This file format is considered legacy"):
        model.save(tmp_path / "again.h5")
    theirs_top, theirs = _layout(os.path.join(FIXTURES, f"{name}.h5"))
    ours_top, ours = _layout(tmp_path / "again.h5")
    assert sorted(ours) == sorted(theirs)
    for key, entry in theirs.items():
        if key == "model_weights":  # our backend is "numpy"; the version is the format's
            assert ours[key][1]["layer_names"] == entry[1]["layer_names"]
            assert ours[key][1]["keras_version"] == entry[1]["keras_version"]
            continue
        assert ours[key] == entry, key
    assert sorted(ours_top) == sorted(theirs_top)
    assert ours_top["keras_version"] == theirs_top["keras_version"]
    assert ours_top["backend"] == "numpy"
    assert _comparable_config(json.loads(ours_top["model_config"])) == \
        _comparable_config(json.loads(theirs_top["model_config"]))
    if "training_config" in theirs_top:
        # Metric strings ("mae") come back resolved, in numnet as in Keras; the generator
        # compares numnet's training_config of a freshly built model with Keras' file.
        ours_tc, theirs_tc = (_comparable_config(json.loads(top["training_config"]))
                              for top in (ours_top, theirs_top))
        for key in ("loss", "loss_weights", "optimizer_config", "run_eagerly",
                    "steps_per_execution"):
            assert ours_tc[key] == theirs_tc[key], key


def test_h5_round_trip_and_attribute_types(tmp_path):
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(2)], name="tiny")
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x = np.linspace(-1, 1, 24, dtype="float32").reshape(8, 3)
    y = np.stack([x.sum(1), x[:, 0]], axis=1)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    with pytest.warns(UserWarning, match="legacy"):
        keras.saving.save_model(model, tmp_path / "m.hdf5")
    loaded = keras.models.load_model(tmp_path / "m.hdf5")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(a.data, b.data)
    # Keras logs the "mae" of a legacy file under the function's name.
    assert "mean_absolute_error" in loaded.evaluate(x, y, verbose=0, return_dict=True)
    with h5py.File(tmp_path / "m.hdf5", "r") as f:
        assert h5py.check_string_dtype(f.attrs.get_id("model_config").dtype) is not None
        assert list(f["model_weights"].attrs["layer_names"]) == ["dense", "dense_1"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4),
                                  keras.layers.Dense(2)])
        again.load_weights(tmp_path / "m.hdf5")
    for a, b in zip(again.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_include_optimizer_false_and_save_format(tmp_path):
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.warns(UserWarning):
        model.save(tmp_path / "m.h5", include_optimizer=False)
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert "training_config" not in f.attrs and "optimizer_weights" not in f
    with pytest.warns(UserWarning, match="considered legacy"), \
            pytest.warns(UserWarning, match="save_format"):
        model.save(tmp_path / "n.h5", save_format="h5")
    with pytest.raises(ValueError, match="save_format"):
        model.save(tmp_path / "n", save_format="h5")


def test_load_weights_by_name_and_mismatch(tmp_path):
    source = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4, name="a"),
                               keras.layers.Dense(2, name="b")])
    with pytest.warns(UserWarning):
        source.save(tmp_path / "s.h5")
    target = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4, name="other"),
                               keras.layers.Dense(2, name="b")])
    before = target.get_layer("other").get_weights()
    target.load_weights(tmp_path / "s.h5", by_name=True)
    np.testing.assert_array_equal(target.get_layer("b").kernel.data,
                                  source.get_layer("b").kernel.data)
    np.testing.assert_array_equal(target.get_layer("other").get_weights()[0], before[0])
    wrong = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(5),
                              keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"Shape mismatch.*\(3, 5\).*\(3, 4\)"):
        wrong.load_weights(tmp_path / "s.h5")
    fewer = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="Layer count mismatch"):
        fewer.load_weights(tmp_path / "s.h5")
    with pytest.raises(ValueError, match="by_name"):
        fewer.load_weights(tmp_path / "s.weights.h5", by_name=True)


def test_unsupported_extension_message_names_the_formats(tmp_path):
    (tmp_path / "m.pb").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"File format not supported.*\.keras.*\.h5") as info:
        keras.models.load_model(tmp_path / "m.pb")
    assert "SavedModel" not in str(info.value)
    (tmp_path / "tf_model").mkdir()
    (tmp_path / "tf_model" / "saved_model.pb").write_bytes(b"x")
    with pytest.raises(ValueError, match="TensorFlow SavedModel"):
        keras.models.load_model(tmp_path / "tf_model")


# ------------------------------------------------------- Keras 2 (tf.keras)
KERAS2 = os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras2_h5")


@pytest.mark.parametrize("name", ["classifier", "regressor", "wide_deep"])
def test_keras2_h5_files_load_like_keras3_reads_them(name):
    """The textbook's `.h5` files (tf.keras 2): architecture, weights, compile config."""
    data = np.load(os.path.join(KERAS2, f"{name}.npz"))
    keras.backend.clear_session()
    with pytest.warns(UserWarning, match="freshly initialized optimizer"):
        # As in Keras 3: Keras 2's optimizer state has no learning_rate variable.
        model = keras.models.load_model(os.path.join(KERAS2, f"{name}.h5"))
    _close(model.get_weights(), _arrays(data, "w"), rtol=0, atol=0, what="weights")
    x, y = _one_or_list(_arrays(data, "x")), _one_or_list(_arrays(data, "y"))
    _close(model.predict(x, verbose=0), _arrays(data, "y_pred"), what="predictions")
    _close(model.predict(x, verbose=0), _arrays(data, "keras3_pred"), what="Keras 3's")
    assert model.compiled  # Keras 3 cannot compile those with "mse": keras3_error says so
    assert ("mse" in str(data["keras3_error"])) == (name != "classifier")
    expected = json.loads(str(data["evaluate_json"]))
    result = model.evaluate(x, y, batch_size=len(_arrays(data, "x")[0]), verbose=0,
                            return_dict=True)
    shared = sorted(set(expected) & set(result))
    assert "loss" in shared and len(shared) >= (2 if name != "wide_deep" else 3), (result, expected)
    for key in shared:
        np.testing.assert_allclose(result[key], expected[key], rtol=2e-5, atol=1e-6, err_msg=key)
