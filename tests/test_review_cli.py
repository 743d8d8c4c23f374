"""Review: the `numnet` command reports unreadable/unwritable files as errors, not tracebacks."""

import numpy as np
import pytest

import numnet
from numnet import cli


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "tiny.keras"
    model = numnet.Sequential([numnet.layers.Input(shape=[4]),
                               numnet.layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    model.save(str(path))
    return str(path)


def test_evaluate_corrupt_npz_names_the_argument(tiny_model, tmp_path, capsys):
    for name, content in (("bad.npz", b"garbage\n"), ("trunc.npz", b"PK\x03\x04trunc")):
        (tmp_path / name).write_bytes(content)
        assert cli.main(["evaluate", tiny_model, "--data", str(tmp_path / name)]) == 2
        assert "argument --data: cannot read" in capsys.readouterr().err


def test_predict_out_in_missing_folder_is_an_error(tiny_model, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((2, 4), "float32"))
    for name in ("p.csv", "p.npy"):
        out = str(tmp_path / "missing" / name)
        assert cli.main(["predict", tiny_model, str(tmp_path / "x.npy"), "--out", out]) == 1
        assert "cannot write the predictions" in capsys.readouterr().err


def test_train_out_below_a_file_names_the_argument(tmp_path, capsys):
    (tmp_path / "afile").write_text("")
    out = str(tmp_path / "afile" / "sub")
    assert cli.main(["train", "fashion-mnist", "--out", out, "--sample", "--quiet"]) == 2
    assert "argument --out" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_corrupt_dataset_is_an_error_not_a_traceback(command, tiny_model, tmp_path,
                                                     monkeypatch, capsys):
    folder = tmp_path / "data" / "fashion-mnist"
    folder.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (folder / name).write_bytes(b"\x1f\x8b truncated")
    monkeypatch.setenv("NUMNET_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("NUMNET_OFFLINE", "1")
    argv = (["train", "fashion-mnist", "--out", str(tmp_path / "o"), "--quiet"]
            if command == "train" else ["evaluate", tiny_model, "--data", "fashion-mnist"])
    assert cli.main(argv) == 1
    assert "cannot load the fashion-mnist dataset" in capsys.readouterr().err
