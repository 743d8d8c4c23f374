"""The `numnet` command's rough edges: output folders, dependencies, the data behind the numbers."""

import json
import os
import warnings

import numpy as np
import pytest

import numnet
from numnet import cli
from numnet.datasets import SampleFallbackWarning


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "tiny.keras"
    model = numnet.Sequential([numnet.layers.Input(shape=[4]), numnet.layers.Dense(3)])
    model.save(str(path))
    return str(path)


def test_plot_into_a_missing_folder_is_an_error_like_predict(tiny_model, tmp_path, capsys):
    target = tmp_path / "nonexistent" / "x.svg"
    assert cli.main(["plot", tiny_model, "--to-file", str(target)]) == 1
    assert "cannot write the plot" in capsys.readouterr().err
    assert not target.parent.exists()
    np.save(tmp_path / "x.npy", np.zeros((2, 4), "float32"))
    out = tmp_path / "nonexistent" / "p.csv"
    assert cli.main(["predict", tiny_model, str(tmp_path / "x.npy"), "--out", str(out)]) == 1
    assert "cannot write the predictions" in capsys.readouterr().err
    assert not out.parent.exists()


def test_output_folders_are_checked_before_the_model_is_loaded(tmp_path, capsys):
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    np.save(tmp_path / "x.npy", np.zeros((2, 4), "float32"))
    for argv in (["plot", str(broken), "--to-file", str(tmp_path / "no" / "m.svg")],
                 ["predict", str(broken), str(tmp_path / "x.npy"), "--out",
                  str(tmp_path / "no" / "p.npy")]):
        assert cli.main(argv) == 1
        err = capsys.readouterr().err
        assert "does not exist" in err and "cannot load" not in err


def test_missing_h5py_is_reported_before_any_work(tiny_model, tmp_path, monkeypatch, capsys):
    import sys
    monkeypatch.setitem(sys.modules, "h5py", None)  # `import h5py` now raises ImportError
    assert cli.main(["train", "fashion-mnist", "--sample", "--quiet", "--out",
                     str(tmp_path / "never")]) == 1
    assert "pip install h5py" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()
    assert cli.main(["summary", tiny_model]) == 1
    assert "needs h5py" in capsys.readouterr().err


def test_missing_matplotlib_is_reported_before_training(tmp_path, monkeypatch, capsys):
    import sys
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    stop = RuntimeError("stopped before loading the data")

    def no_data(*args, **kwargs):
        raise stop
    monkeypatch.setattr(cli, "_load_fashion_mnist", no_data)
    with pytest.raises(RuntimeError):
        cli.main(["train", "fashion-mnist", "--sample", "--quiet", "--out", str(tmp_path)])
    assert "matplotlib is not installed" in capsys.readouterr().err


def test_sample_fallback_is_noted():
    def quiet():
        return "data"

    def falling_back():
        warnings.warn("full data missing", SampleFallbackWarning)
        return "sample"
    assert cli._noting_sample_fallback(quiet) == ("data", False)
    assert cli._noting_sample_fallback(falling_back) == ("sample", True)
    assert cli._data_source(False, False) == {"used_shipped_sample": False,
                                              "data_source": "the full dataset"}
    assert cli._data_source(True, False)["used_shipped_sample"] is True
    assert "NUMNET_DATA" in cli._data_source(False, True)["data_source"]


def test_metrics_json_says_the_shipped_sample_was_used(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NUMNET_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("NUMNET_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NUMNET_OFFLINE", "1")
    monkeypatch.setenv("NUMNET_ALLOW_SAMPLE", "1")
    out = tmp_path / "run"
    argv = ["train", "fashion-mnist", "--epochs", "1", "--limit", "64", "--hidden", "8",
            "--no-plots", "--quiet", "--out", str(out)]
    assert cli.main(argv) == 0
    assert "sample shipped with numnet" in capsys.readouterr().err  # the loader's warning
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["used_shipped_sample"] is True
    assert "neither found locally nor downloaded" in metrics["data_source"]
    assert cli.main(argv + ["--sample"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["used_shipped_sample"] is True and "--sample" in metrics["data_source"]


def test_metrics_json_on_the_full_data(tmp_path, monkeypatch):
    data = os.environ.get("NUMNET_DATA", "")
    if not any(os.path.isdir(os.path.join(d, "fashion-mnist")) for d in data.split(os.pathsep)
               if d):
        pytest.skip("the full Fashion-MNIST is not in $NUMNET_DATA (a data set, not a package: "
                    "CI sets it)")
    monkeypatch.setenv("NUMNET_OFFLINE", "1")
    out = tmp_path / "run"
    assert cli.main(["train", "fashion-mnist", "--epochs", "1", "--limit", "64", "--hidden",
                     "8", "--no-plots", "--quiet", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["used_shipped_sample"] is False
    assert metrics["data_source"] == "the full dataset" and metrics["test_samples"] == 10_000
