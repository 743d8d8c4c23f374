"""`KerasFileEditor`: reading a `.keras` or `.weights.h5` file's weights (safely), comparing
them with a model, editing them, and saving a weights file the model loads."""

from pathlib import Path

import h5py
import numpy as np
import pytest

import numnet as keras
from numnet.saving import KerasFileEditor

KERAS_FILES = Path(__file__).resolve().parents[1] / "fixtures" / "keras_files"


def _model(hidden_layers=1):
    inputs = keras.Input((2,))
    x = inputs
    for i in range(hidden_layers):
        x = keras.layers.Dense(3, name=f"hidden_{i}")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="out")(x))


def test_a_saved_model_reads_back_whole_and_compares_equal(tmp_path, capsys):
    model = _model()
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 2), "float32"), np.ones((4, 3), "float32"), verbose=0)
    model.save(tmp_path / "m.keras")
    editor = KerasFileEditor(tmp_path / "m.keras")
    assert editor.metadata["keras_version"] and editor.config["class_name"] == "Functional"
    assert set(editor.weights_dict["layers"]) == {"dense", "dense_1"}
    np.testing.assert_array_equal(editor.weights_dict["layers"]["dense"]["0"],
                                  model.get_layer("hidden_0").kernel.numpy())
    assert len(keras.tree.flatten(editor.weights_dict)) == 4 + 2 + 8  # weights, Adam's state
    assert editor.compare(model) == {"status": "success", "error_count": 0, "match_count": 14}
    editor.summary()
    assert "dense/ (2 weights)" in capsys.readouterr().out


def test_a_file_edited_for_a_new_architecture_loads_into_it(tmp_path):
    old = _model(hidden_layers=1)
    old.save_weights(tmp_path / "old.weights.h5")
    new = _model(hidden_layers=2)
    editor = KerasFileEditor(tmp_path / "old.weights.h5")
    result = editor.compare(new)  # new has one more layer: dense_2
    assert result["status"] == "error" and result["error_count"] == 1
    kernel = np.arange(9, dtype="float32").reshape(3, 3)
    editor.add_object("layers/dense_9", weights={"0": kernel})
    assert editor.compare(new)["error_count"] == 2  # dense_2 missing, dense_9 unknown
    editor.rename_object("dense_9", "dense_2")
    editor.add_weights("layers/dense_2", {"1": np.full(3, 0.5, "float32")})
    assert editor.compare(new)["status"] == "success"
    editor.save(tmp_path / "new.weights.h5")
    new.load_weights(tmp_path / "new.weights.h5")
    third = new.layers[-1]  # built after hidden_0, hidden_1: the third Dense, "dense_2"
    np.testing.assert_array_equal(third.kernel.numpy(), kernel)
    np.testing.assert_array_equal(third.bias.numpy(), np.full(3, 0.5, "float32"))
    np.testing.assert_array_equal(new.get_layer("hidden_0").kernel.numpy(),
                                  old.get_layer("hidden_0").kernel.numpy())
    editor.delete_weight("dense_2", "1")
    editor.add_weights("dense_2", {"1": np.zeros(7)})
    assert editor.compare(new)["error_count"] == 1  # a shape mismatch
    editor.delete_object("layers/dense_2")
    assert "dense_2" not in editor.weights_dict["layers"]


def test_a_file_written_by_keras_compares_with_the_model_numnet_loads_from_it():
    path = KERAS_FILES / "func_layers.keras"
    editor = KerasFileEditor(path)
    model = keras.saving.load_model(path)  # with the optimizer and its state
    result = editor.compare(model)
    assert result["status"] == "success"
    assert result["match_count"] == len(keras.tree.flatten(editor.weights_dict))
    assert editor.compare(keras.saving.load_model(path, compile=False))["error_count"] == 1


def test_names_paths_and_arguments_are_checked(tmp_path):
    _model(hidden_layers=2).save_weights(tmp_path / "m.weights.h5")
    editor = KerasFileEditor(tmp_path / "m.weights.h5")
    editor.add_object("layers/dense/extra", weights={"0": np.zeros(1)})  # nested objects
    editor.add_object("layers/dense_1/extra", weights={"0": np.zeros(1)})
    with pytest.raises(ValueError, match="occurs more than once"):
        editor.delete_object("extra")
    with pytest.raises(ValueError, match="does not appear"):
        editor.delete_object("nothing")
    with pytest.raises(ValueError, match="not found"):
        editor.add_object("nowhere/dense", weights={"0": np.zeros(1)})
    with pytest.raises(ValueError, match="leaf name"):
        editor.rename_object("layers/dense", "a/b")
    with pytest.raises(ValueError, match="should be a dict"):
        editor.add_weights("layers/dense", [np.zeros(1)])
    with pytest.raises(ValueError, match="Weight 7 not found"):
        editor.delete_weight("layers/dense", "7")
    with pytest.raises(ValueError, match=r"expected a `.weights.h5` extension"):
        editor.save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match="Invalid filename"):
        KerasFileEditor(tmp_path / "m.h5")


@pytest.mark.parametrize("kind", ["SoftLink", "ExternalLink", "virtual"])
def test_files_reaching_outside_themselves_are_refused(tmp_path, kind):
    other = tmp_path / "other.weights.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("layers/dense/vars/0", data=np.arange(5, dtype="float32"))
    path = tmp_path / "payload.weights.h5"
    with h5py.File(path, "w") as f:
        if kind == "SoftLink":
            f.create_dataset("real/vars/0", data=np.zeros(1))
            f["layers"] = h5py.SoftLink("/real")
        elif kind == "ExternalLink":
            f["layers"] = h5py.ExternalLink(str(other), "/layers")
        else:
            layout = h5py.VirtualLayout(shape=(5,), dtype="float32")
            layout[:] = h5py.VirtualSource(str(other), "layers/dense/vars/0", shape=(5,))
            f.create_group("layers/dense/vars").create_virtual_dataset("0", layout)
    with pytest.raises(ValueError, match=f"Not allowed: H5 file with {kind}"):
        KerasFileEditor(path)


def test_a_nested_model_keeps_its_layers(tmp_path):
    inner = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)], name="inner")
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inner(inputs)))
    model.save_weights(tmp_path / "nested.weights.h5")
    editor = KerasFileEditor(tmp_path / "nested.weights.h5")
    assert set(editor.weights_dict["layers"]["sequential"]["layers"]) == {"dense"}
    assert editor.compare(model) == {"status": "success", "error_count": 0, "match_count": 4}
    editor.resave_weights(tmp_path / "again.weights.h5")  # Keras' other name for `save`
    twin = keras.models.clone_model(model)
    twin.load_weights(tmp_path / "again.weights.h5")
    for a, b in zip(twin.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
