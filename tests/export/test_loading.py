"""`numnet.export.load`: the one interface every export format answers (what a server calls)."""

import numpy as np
import pytest

import numnet as keras
from numnet.export import ExportedModel, TensorSpec, detect_format, load
from export_helpers import require_onnx

L = keras.layers


@pytest.fixture
def two_input_model():
    a = keras.Input(shape=(3,), name="a")
    b = keras.Input(shape=(2, 2), name="b")
    joined = L.concatenate([a, L.Flatten()(b)])
    return keras.Model([a, b], [L.Dense(1)(joined), L.Dense(4, activation="softmax")(joined)])


@pytest.mark.parametrize("format_name, suffix", [("onnx", ".onnx"), ("numpy", "")])
def test_specs_and_predict(two_input_model, format_name, suffix, tmp_path):
    if format_name == "onnx":
        require_onnx()
    path = tmp_path / f"m{suffix}"
    two_input_model.export(path, format=format_name, verbose=False)
    assert detect_format(path) == format_name
    exported = load(path)
    assert isinstance(exported, ExportedModel) and exported.format == format_name
    assert exported.inputs == (TensorSpec("a", "float32", (None, 3)),
                               TensorSpec("b", "float32", (None, 2, 2)))
    assert exported.outputs == (TensorSpec("output_0", "float32", (None, 1)),
                                TensorSpec("output_1", "float32", (None, 4)))
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 3)), rng.standard_normal((5, 2, 2))  # float64: cast
    got = exported.predict({"a": a, "b": b})
    expected = two_input_model.predict([a.astype("float32"), b.astype("float32")], verbose=0)
    assert list(got) == ["output_0", "output_1"]
    for name, value in zip(exported.output_names, expected):
        assert got[name].dtype == np.float32
        np.testing.assert_allclose(got[name], value, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("format_name, suffix", [("onnx", ".onnx"), ("numpy", "")])
def test_bad_inputs_are_named(two_input_model, format_name, suffix, tmp_path):
    if format_name == "onnx":
        require_onnx()
    path = tmp_path / f"m{suffix}"
    two_input_model.export(path, format=format_name, verbose=False)
    exported = load(path)
    a, b = np.zeros((2, 3)), np.zeros((2, 2, 2))
    with pytest.raises(ValueError, match=r"missing \['b'\], unknown \['c'\]"):
        exported.predict({"a": a, "c": b})
    with pytest.raises(ValueError, match=r"Input 'b' expects shape \(None, 2, 2\).*\(2, 4\)"):
        exported.predict({"a": a, "b": np.zeros((2, 4))})
    with pytest.raises(ValueError, match="pass a dict of arrays by name"):
        exported.predict(a)
    with pytest.raises(ValueError, match="could not convert|invalid literal"):
        exported.predict({"a": [["x", "y", "z"]] * 2, "b": b})


def test_one_input_takes_a_bare_array_and_any_batch(tmp_path):
    model = keras.Sequential([L.Input(shape=(3,)), L.Dense(2)])
    model.export(tmp_path / "m", format="numpy", verbose=False)
    exported = load(tmp_path / "m")
    for rows in (1, 2, 3, 50):
        x = np.ones((rows, 3), "float32")
        np.testing.assert_allclose(exported.predict(x)["output_0"], model.predict(x, verbose=0),
                                   rtol=1e-6, atol=1e-6)


def test_onnx_threads_option(tmp_path):
    require_onnx()
    model = keras.Sequential([L.Input(shape=(3,)), L.Dense(2)])
    model.export(tmp_path / "m.onnx", format="onnx", verbose=False)
    exported = load(tmp_path / "m.onnx", threads=1)
    assert exported.session.get_session_options().intra_op_num_threads == 1


def test_what_is_not_an_export(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    for path in (tmp_path / "folder", tmp_path / "notes.txt", tmp_path / "missing"):
        assert detect_format(path) is None
        with pytest.raises(ValueError, match="is not a numnet export"):
            load(path)


def test_an_onnx_file_without_the_suffix(tmp_path):
    require_onnx()
    model = keras.Sequential([L.Input(shape=(3,)), L.Dense(2)])
    model.export(tmp_path / "model.bin", format="onnx", verbose=False)
    assert detect_format(tmp_path / "model.bin") is None  # only looks, never parses
    exported = load(tmp_path / "model.bin", format="onnx")
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(exported.predict(x)["output_0"], model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)


def test_numpy_weights_are_read_without_pickles(tmp_path):
    model = keras.Sequential([L.Input(shape=(3,)), L.Dense(2)])
    model.export(tmp_path / "m", format="numpy", verbose=False)
    weights = dict(np.load(tmp_path / "m" / "weights.npz"))
    weights["sneaky"] = np.array([{"an": "object"}], dtype=object)
    np.savez(tmp_path / "m" / "weights.npz", **weights)
    with pytest.raises(ValueError, match="allow_pickle"):
        load(tmp_path / "m")


def test_a_savedmodel_folder_is_detected_without_loading_it(tmp_path):
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"")
    assert detect_format(tmp_path / "sm") == "tf_saved_model"
