"""End-to-end tests of the `numnet` command (`python -m numnet`) on tiny data."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from numnet import cli

HAVE_MATPLOTLIB = True
try:
    import matplotlib  # noqa: F401
except ImportError:
    HAVE_MATPLOTLIB = False


def run(*args, cwd=None):
    env = dict(os.environ, NUMNET_ALLOW_SAMPLE="1")
    return subprocess.run([sys.executable, "-m", "numnet", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


@pytest.fixture(scope="module")
def fashion_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fashion")
    result = run("train", "fashion-mnist", "--epochs", 2, "--limit", 200, "--hidden", "16",
                 "--batch-size", 50, "--sample", "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result


def test_train_fashion_mnist_writes_everything(fashion_run):
    out, result = fashion_run
    assert "test_accuracy:" in result.stdout
    assert "Epoch 1/2" in result.stdout  # the progress bar
    for name in ("model.keras", "checkpoint.keras", "history.csv", "history.json",
                 "metrics.json"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == "fashion-mnist" and metrics["train_samples"] == 200
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    history = json.loads((out / "history.json").read_text())["history"]
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    rows = (out / "history.csv").read_text().splitlines()
    assert rows[0] == "epoch,accuracy,loss,val_accuracy,val_loss" and len(rows) == 3
    if HAVE_MATPLOTLIB:
        assert png_size(out / "learning_curves.png") == (800, 500)
        for name in ("confusion_matrix.png", "sample_predictions.png"):
            width, height = png_size(out / name)
            assert width > 100 and height > 100


def test_evaluate_predict_summary_plot(fashion_run, tmp_path):
    out, _ = fashion_run
    model = out / "model.keras"
    result = run("evaluate", model, "--data", "fashion-mnist", "--sample", "--json")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert set(scores) == {"loss", "accuracy"}

    rng = np.random.default_rng(0)
    x = rng.random((4, 28, 28)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    np.savetxt(tmp_path / "x.csv", x.reshape(4, -1), delimiter=",")
    np.save(tmp_path / "y.npy", np.array([0, 1, 2, 3]))
    result = run("evaluate", model, "--data", tmp_path / "x.npy", "--labels", tmp_path / "y.npy")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(("accuracy:", "loss:"))

    result = run("predict", model, tmp_path / "x.npy", "--out", tmp_path / "p.npy")
    assert result.returncode == 0, result.stderr
    predictions = np.load(tmp_path / "p.npy")
    assert predictions.shape == (4, 10)
    np.testing.assert_allclose(predictions.sum(axis=1), 1, rtol=1e-5)
    result = run("predict", model, tmp_path / "x.csv", "--classes")  # flat rows are reshaped
    assert result.returncode == 0, result.stderr
    assert [int(v) for v in result.stdout.split()] == list(predictions.argmax(axis=1))

    result = run("summary", model)
    assert result.returncode == 0, result.stderr
    assert "Layer (type)" in result.stdout and "Total params: 12,730" in result.stdout

    result = run("plot", model, "--to-file", tmp_path / "model.svg", "--show-shapes")
    assert result.returncode == 0, result.stderr
    assert "<svg" in (tmp_path / "model.svg").read_text()
    if HAVE_MATPLOTLIB:
        result = run("plot", model, "--to-file", tmp_path / "model.png", "--dpi", 50)
        assert result.returncode == 0, result.stderr
        width, height = png_size(tmp_path / "model.png")
        assert height > width > 20


def test_train_california_housing(tmp_path):
    result = run("train", "california-housing", "--epochs", 1, "--limit", 300, "--hidden", "8",
                 "--sample", "--quiet", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test_rmse"] > 0 and "test_accuracy" not in metrics
    assert (tmp_path / "model.keras").stat().st_size > 0
    if HAVE_MATPLOTLIB:
        assert png_size(tmp_path / "predictions.png") == (600, 600)


def test_help_on_every_command(capsys):
    assert cli.main(["--help"]) == 0
    assert "train" in capsys.readouterr().out
    for command in ("train", "evaluate", "predict", "summary", "plot"):
        assert cli.main([command, "--help"]) == 0
        assert f"usage: numnet {command}" in capsys.readouterr().out
    result = run("--help")
    assert result.returncode == 0 and "usage: numnet" in result.stdout


@pytest.mark.parametrize("argv, message", [
    ([], "required: COMMAND"),
    (["train", "mnist"], "argument DATASET: invalid choice"),
    (["train", "fashion-mnist", "--epochs", "0"], "argument --epochs: expected a positive"),
    (["train", "fashion-mnist", "--hidden", "30,x"], "argument --hidden: expected"),
    (["train", "fashion-mnist", "--optimizer", "adamaxx", "--out", "{tmp}/o"],
     "argument --optimizer: expected one of"),
    (["summary", "{tmp}/missing.keras"], "argument MODEL: no such file"),
    (["evaluate", "{tmp}/missing.keras", "--data", "fashion-mnist"],
     "argument MODEL: no such file"),
])
def test_bad_arguments_exit_2_and_name_the_argument(argv, message, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_files(fashion_run, tmp_path, capsys):
    model = str(fashion_run[0] / "model.keras")
    assert cli.main(["predict", model, str(tmp_path / "nope.npy")]) == 2
    assert "argument INPUT: no such file" in capsys.readouterr().err
    (tmp_path / "x.txt").write_text("1,2\n")
    assert cli.main(["predict", model, str(tmp_path / "x.txt")]) == 2
    assert "argument INPUT: expected a .npy or .csv file" in capsys.readouterr().err
    assert cli.main(["evaluate", model, "--data", str(tmp_path / "x.txt")]) == 2
    assert "argument --labels: required" in capsys.readouterr().err
    assert cli.main(["plot", model, "--to-file", str(tmp_path / "m.gif")]) == 2
    assert "argument --to-file" in capsys.readouterr().err
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip file")
    assert cli.main(["summary", str(broken)]) == 1
    assert "cannot load the model" in capsys.readouterr().err
