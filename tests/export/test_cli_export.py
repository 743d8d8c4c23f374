"""`numnet export MODEL.keras --format onnx|tf_saved_model|numpy --out PATH`."""

import sys

import numpy as np
import pytest

import numnet as keras
from numnet.cli import main
from numnet.export import load
from export_helpers import require_onnx

L = keras.layers


@pytest.fixture
def saved(tmp_path):
    model = keras.Sequential([L.Input(shape=(4,)), L.Dense(3, activation="relu"),
                              L.Dense(2, activation="softmax")])
    path = tmp_path / "model.keras"
    model.save(path)
    return model, str(path)


@pytest.mark.parametrize("format_name, out", [("onnx", "m.onnx"), ("numpy", "m")])
def test_export_command(saved, format_name, out, tmp_path, capsys):
    if format_name == "onnx":
        require_onnx()
    model, path = saved
    assert main(["export", path, "--format", format_name, "--out", str(tmp_path / out)]) == 0
    assert "Saved artifact at" in capsys.readouterr().out
    x = np.random.default_rng(0).random((5, 4)).astype("float32")
    np.testing.assert_allclose(load(tmp_path / out).predict(x)["output_0"],
                               model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_opset_option(saved, tmp_path):
    require_onnx()
    import onnx
    _, path = saved
    assert main(["export", path, "--format", "onnx", "--opset", "18",
                 "--out", str(tmp_path / "m.onnx")]) == 0
    assert onnx.load(tmp_path / "m.onnx").opset_import[0].version == 18


def test_bad_arguments(saved, tmp_path, capsys):
    _, path = saved
    assert main(["export", path, "--out", str(tmp_path / "x")]) == 2  # --format is required
    assert "--format" in capsys.readouterr().err
    assert main(["export", path, "--format", "keras", "--out", str(tmp_path / "x")]) == 2
    assert main(["export", str(tmp_path / "missing.keras"), "--format", "numpy",
                 "--out", str(tmp_path / "x")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["export", path, "--format", "numpy", "--opset", "18",
                 "--out", str(tmp_path / "x")]) == 2
    assert "only for --format onnx" in capsys.readouterr().err


def test_failures_are_reported(saved, tmp_path, capsys, monkeypatch):
    _, path = saved
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    assert main(["export", path, "--format", "numpy", "--out", str(tmp_path / "taken")]) == 1
    assert "left alone" in capsys.readouterr().err
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    assert main(["export", path, "--format", "tf_saved_model", "--out",
                 str(tmp_path / "sm")]) == 1
    err = capsys.readouterr().err
    assert "pip install tensorflow" in err and "format='onnx'" in err
