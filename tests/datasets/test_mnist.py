"""Tests for numnet.datasets.mnist (on a small stand-in mnist.npz)."""

import os

import numpy as np
import pytest

from numnet.datasets import _download
from numnet.datasets import mnist

_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _write_npz(path, n_train=6, n_test=4, **overrides):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    arrays.update(overrides)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return arrays


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A small valid mnist.npz whose hash the loader accepts."""
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    arrays = _write_npz(folder / "mnist.npz")
    monkeypatch.setattr(
        mnist, "FILE_HASH", _download.sha256sum(folder / "mnist.npz")
    )
    return folder / "mnist.npz", arrays


def _check(result, arrays):
    (x_train, y_train), (x_test, y_test) = result
    values = (x_train, y_train, x_test, y_test)
    for name, value in zip(_KEYS, values, strict=True):
        np.testing.assert_array_equal(value, arrays[name])
        assert value.dtype == np.uint8


def test_canonical_hash():
    assert mnist.FILE_HASH == (
        "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
    )


def test_load_from_numnet_data_subfolder(fake, monkeypatch):
    path, arrays = fake
    monkeypatch.setenv("NUMNET_DATA", str(path.parent.parent))
    _check(mnist.load_data(), arrays)


def test_path_as_folder_or_file(fake):
    path, arrays = fake
    _check(mnist.load_data(path=path.parent), arrays)
    _check(mnist.load_data(path=path), arrays)


def test_wrong_file_is_rejected_by_checksum(tmp_path):
    _write_npz(tmp_path / "mnist.npz")
    with pytest.raises(_download.ChecksumError, match=mnist.FILE_HASH):
        mnist.load_data(path=tmp_path / "mnist.npz")


def test_missing_is_a_clear_error():
    with pytest.raises(_download.DatasetUnavailableError) as info:
        mnist.load_data()
    text = str(info.value)
    assert "MNIST" in text and "mnist.npz" in text
    assert os.path.join("DIR", "mnist") in text and "NUMNET_DATA=DIR" in text


def test_missing_path_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="path=.*no/such"):
        mnist.load_data(path=str(tmp_path / "no" / "such"))


def test_download_from_local_server(fake, http_server, monkeypatch):
    path, arrays = fake
    http_server.state.files["/k/mnist.npz"] = path.read_bytes()
    monkeypatch.setenv("NUMNET_DATASETS_URL", http_server.url("k"))
    _check(mnist.load_data(), arrays)
    cached = os.path.join(_download.cache_dir(), "mnist", "mnist.npz")
    assert os.path.isfile(cached)
    # Keras style: a bare file name names the copy in the cache.
    _check(mnist.load_data(path="mnist.npz"), arrays)
    assert len(http_server.state.requests) == 1


def test_pickled_objects_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "mnist.npz"
    _write_npz(path, x_train=np.array([{"a": 1}], dtype=object))
    monkeypatch.setattr(mnist, "FILE_HASH", _download.sha256sum(path))
    with pytest.raises(ValueError):
        mnist.load_data(path=path)


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"y_test": np.zeros(3, np.uint8)}, "x_test/y_test"),
        ({"x_train": np.zeros((6, 28, 27), np.uint8)}, "x_train/y_train"),
        ({"x_test": np.zeros((4, 28, 28), np.float32)}, "uint8"),
    ],
)
def test_bad_contents_are_reported(tmp_path, monkeypatch, overrides, match):
    path = tmp_path / "mnist.npz"
    _write_npz(path, **overrides)
    monkeypatch.setattr(mnist, "FILE_HASH", _download.sha256sum(path))
    with pytest.raises(ValueError, match=match):
        mnist.load_data(path=path)


def test_not_an_npz(tmp_path, monkeypatch):
    path = tmp_path / "mnist.npz"
    path.write_bytes(b"PK\x03\x04 definitely not a zip")
    monkeypatch.setattr(mnist, "FILE_HASH", _download.sha256sum(path))
    with pytest.raises(ValueError, match="not a readable .npz"):
        mnist.load_data(path=path)
