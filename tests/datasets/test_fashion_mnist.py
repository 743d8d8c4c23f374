"""Tests for numnet.datasets.fashion_mnist: real files and tmp dirs."""

import gzip
import os
import shutil
import warnings

import numpy as np
import pytest

from numnet.datasets import _download
from numnet.datasets import _shipped
from numnet.datasets import fashion_mnist

FILES = list(fashion_mnist.FILE_HASHES)


@pytest.fixture(scope="module")
def real(shared_datasets):
    """The full dataset, loaded once from the shared folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("NUMNET_DATA", raising=False)
        mp.setenv("NUMNET_OFFLINE", "1")
        return fashion_mnist.load_data(path=shared_datasets / "fashion-mnist")


def test_real_shapes_dtypes_and_labels(real):
    (x_train, y_train), (x_test, y_test) = real
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_test.shape == (10000,) and y_test.dtype == np.uint8
    assert y_train[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert y_test[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert x_train.min() == 0 and x_train.max() == 255
    assert x_train.mean() / 255 == pytest.approx(0.286041, abs=1e-6)
    assert x_test.mean() / 255 == pytest.approx(0.286849, abs=1e-6)
    assert x_train.flags.writeable


def test_class_names():
    assert fashion_mnist.CLASS_NAMES == [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]


def test_found_through_numnet_data(shared_datasets, monkeypatch):
    # NUMNET_DATA points at the parent; files sit in its fashion-mnist/.
    monkeypatch.setenv("NUMNET_DATA", str(shared_datasets))
    for fname, digest in fashion_mnist.FILE_HASHES.items():
        found = _download.get_file(fname, None, digest, "fashion-mnist")
        assert found == str(shared_datasets / "fashion-mnist" / fname)


def test_sample_is_the_head_of_the_real_data(real):
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(sample=True)
    assert x_train.shape == (3000, 28, 28) and x_test.shape == (1000, 28, 28)
    np.testing.assert_array_equal(x_train, real[0][0][:3000])
    np.testing.assert_array_equal(y_train, real[0][1][:3000])
    np.testing.assert_array_equal(x_test, real[1][0][:1000])
    np.testing.assert_array_equal(y_test, real[1][1][:1000])


def test_falls_back_to_sample_with_a_warning():
    with pytest.warns(_shipped.SampleFallbackWarning) as record:
        (x_train, y_train), (x_test, _) = fashion_mnist.load_data()
    message = str(record[0].message)
    assert "Fashion-MNIST not found locally and download failed" in message
    assert "3,000-image sample" in message
    assert "NUMNET_ALLOW_SAMPLE=0" in message
    assert record[0].filename == __file__  # points at the caller
    assert x_train.shape == (3000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert set(np.unique(y_train)) == set(range(10))


@pytest.mark.parametrize("how", ["argument", "env"])
def test_fallback_can_be_turned_off(monkeypatch, how):
    kwargs = {}
    if how == "argument":
        kwargs["allow_sample"] = False
    else:
        monkeypatch.setenv("NUMNET_ALLOW_SAMPLE", "0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(_download.DatasetUnavailableError) as info:
            fashion_mnist.load_data(**kwargs)
    text = str(info.value)
    for fname in FILES:
        assert fname in text
    assert "fashion-mnist" in text and "NUMNET_DATA=DIR" in text


def test_explicit_allow_sample_beats_env(monkeypatch):
    monkeypatch.setenv("NUMNET_ALLOW_SAMPLE", "0")
    with pytest.warns(_shipped.SampleFallbackWarning):
        fashion_mnist.load_data(allow_sample=True)


def _copy_files(src, dst):
    dst.mkdir()
    for fname in FILES:
        shutil.copy(src / fname, dst / fname)
    return dst


def test_corrupt_local_file_is_an_error(shared_datasets, tmp_path):
    folder = _copy_files(shared_datasets / "fashion-mnist", tmp_path / "f")
    data = (folder / "t10k-labels-idx1-ubyte.gz").read_bytes()
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(_download.ChecksumError, match="t10k-labels"):
        fashion_mnist.load_data(path=folder)


def test_missing_local_file_uses_cache_then_sample(shared_datasets, tmp_path):
    folder = _copy_files(shared_datasets / "fashion-mnist", tmp_path / "f")
    (folder / "train-images-idx3-ubyte.gz").unlink()
    with pytest.warns(_shipped.SampleFallbackWarning, match="NUMNET_OFFLINE"):
        (x_train, _), _ = fashion_mnist.load_data(path=folder)
    assert len(x_train) == 3000


def test_header_mismatch_is_reported(tmp_path, monkeypatch):
    # Labels and images disagree on the count: caught even with good hashes.
    folder = tmp_path / "f"
    folder.mkdir()
    for fname in FILES:
        src = _shipped.sample_file(f"fashion-mnist-{fname}")
        shutil.copy(src, folder / fname)
    labels = gzip.decompress(
        (folder / "t10k-labels-idx1-ubyte.gz").read_bytes()
    )
    bad = labels[:4] + (999).to_bytes(4, "big") + labels[8:1007]
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bad))
    hashes = {f: _download.sha256sum(folder / f) for f in FILES}
    monkeypatch.setattr(fashion_mnist, "FILE_HASHES", hashes)
    with pytest.raises(ValueError, match="1000 images but .* 999 labels"):
        fashion_mnist.load_data(path=folder)


def test_download_from_local_server(shared_datasets, http_server, monkeypatch):
    for fname in FILES:
        data = (shared_datasets / "fashion-mnist" / fname).read_bytes()
        http_server.state.files[f"/tf/{fname}"] = data
    http_server.state.cuts["/tf/train-labels-idx1-ubyte.gz"] = [5000]
    monkeypatch.setenv("NUMNET_DATASETS_URL", http_server.url("tf"))
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and y_test.shape == (10000,)
    cache = os.path.join(_download.cache_dir(), "fashion-mnist")
    assert sorted(os.listdir(cache)) == sorted(FILES)  # no .part files left
    assert ("/tf/train-labels-idx1-ubyte.gz", "bytes=5000-", 206) in (
        http_server.state.requests
    )
