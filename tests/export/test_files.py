"""Where exports are written: atomic replacement, nothing clobbered, nothing left behind."""

import os

import numpy as np
import pytest

import numnet as keras
from numnet.export import ExportError, load
from numnet.export import numpy_format

L = keras.layers


@pytest.fixture
def model():
    return keras.Sequential([L.Input(shape=(3,)), L.Dense(2)])


def _listing(folder):
    return sorted(os.listdir(folder))


def test_an_unrelated_file_is_never_overwritten(model, tmp_path):
    pytest.importorskip("onnx", reason="ONNX export needs onnx: pip install numnet[export]")
    target = tmp_path / "model.keras"
    model.save(target)
    before = target.read_bytes()
    with pytest.raises(ExportError, match="is not a previous ONNX export, so it is left alone"):
        model.export(target, format="onnx", verbose=False)
    assert target.read_bytes() == before
    for format_name in ("numpy",):
        with pytest.raises(ExportError, match="a file is there"):
            model.export(target, format=format_name, verbose=False)
    assert target.read_bytes() == before
    assert _listing(tmp_path) == ["model.keras"]


def test_a_folder_of_other_files_is_left_alone(model, tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(ExportError, match="left alone"):
        model.export(folder, format="numpy", verbose=False)
    assert _listing(folder) == ["notes.txt"]
    assert (folder / "notes.txt").read_text() == "keep me"
    pytest.importorskip("onnx", reason="ONNX export needs onnx: pip install numnet[export]")
    with pytest.raises(ExportError, match="is a folder"):
        model.export(folder, format="onnx", verbose=False)


def test_a_symbolic_link_is_refused(model, tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    with pytest.raises(ExportError, match="symbolic link"):
        model.export(tmp_path / "link", format="numpy", verbose=False)
    assert _listing(tmp_path / "real") == []


def test_a_previous_export_is_replaced_atomically(model, tmp_path):
    target = tmp_path / "exported"
    model.export(target, format="numpy", verbose=False)
    first = dict(load(target).weights)
    model.set_weights([w + 1 for w in model.get_weights()])
    model.export(target, format="numpy", verbose=False)
    second = load(target)
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(second.predict(x)["output_0"], model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)
    assert sorted(first) == sorted(second.weights)
    assert all(not np.array_equal(first[k], second.weights[k]) for k in first)
    assert _listing(tmp_path) == ["exported"]  # no temporary or old folders left
    assert _listing(target) == ["model.py", "numnet_export.json", "weights.npz"]


def test_an_empty_folder_and_missing_parents_are_fine(model, tmp_path):
    (tmp_path / "empty").mkdir()
    model.export(tmp_path / "empty", format="numpy", verbose=False)
    model.export(tmp_path / "a" / "b" / "c", format="numpy", verbose=False)
    assert load(tmp_path / "empty").format == load(tmp_path / "a" / "b" / "c").format == "numpy"


def test_a_failure_while_writing_keeps_the_previous_export(model, tmp_path, monkeypatch):
    target = tmp_path / "exported"
    model.export(target, format="numpy", verbose=False)
    before = {name: (target / name).read_bytes() for name in _listing(target)}

    def broken(graph, folder, manifest):
        with open(os.path.join(folder, "model.py"), "w") as f:
            f.write("half written")
        raise OSError("disk full")
    monkeypatch.setattr(numpy_format, "write", broken)
    with pytest.raises(OSError, match="disk full"):
        model.export(target, format="numpy", verbose=False)
    assert _listing(tmp_path) == ["exported"]
    assert {name: (target / name).read_bytes() for name in _listing(target)} == before


def test_onnx_files_are_replaced_atomically(model, tmp_path, monkeypatch):
    onnx = pytest.importorskip("onnx", reason="ONNX export needs onnx: pip install numnet[export]")
    target = tmp_path / "model.onnx"
    model.export(target, format="onnx", verbose=False)
    before = target.read_bytes()
    model.export(target, format="onnx", verbose=False)  # a previous ONNX file may be replaced
    assert target.read_bytes() == before  # the same model writes the same bytes

    def failing_check(*args, **kwargs):
        raise onnx.checker.ValidationError("broken")
    monkeypatch.setattr(onnx.checker, "check_model", failing_check)
    model.set_weights([w + 1 for w in model.get_weights()])
    with pytest.raises(onnx.checker.ValidationError):
        model.export(target, format="onnx", verbose=False)
    assert target.read_bytes() == before
    assert _listing(tmp_path) == ["model.onnx"]


def test_verbose_prints_what_was_saved(model, tmp_path, capsys):
    model.export(tmp_path / "quiet", format="numpy", verbose=False)
    assert capsys.readouterr().out == ""
    model.export(tmp_path / "loud", format="numpy")  # verbose=None means True, as in Keras
    out = capsys.readouterr().out
    assert f"Saved artifact at '{tmp_path / 'loud'}'" in out
    assert "(NumPy export)" in out
    assert f"{model.inputs[0].name}: float32 (None, 3)" in out
    assert "output_0: float32 (None, 2)" in out
