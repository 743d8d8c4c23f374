"""Tests for the sample shipped in numnet/datasets/_sample/."""

import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from numnet.datasets import _download
from numnet.datasets import _shipped
from numnet.datasets import fashion_mnist

SAMPLE = pathlib.Path(_shipped.SAMPLE_DIR)
REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
SHIPPED = sorted(
    [f"fashion-mnist-{name}" for name in fashion_mnist.FILE_HASHES]
    + ["cal_housing.data.gz"]
)


def test_manifest_covers_and_matches_every_file():
    listed = _shipped._manifest()
    assert sorted(listed) == SHIPPED
    for name, digest in listed.items():
        assert _download.sha256sum(SAMPLE / name) == digest
    present = sorted(
        p.name for p in SAMPLE.iterdir() if p.name != "__pycache__"
    )
    assert present == sorted(SHIPPED + ["LICENSE_NOTES.md", "SHA256SUMS"])


def test_total_size_under_3_mb():
    total = sum(p.stat().st_size for p in SAMPLE.iterdir())
    assert total < 3_000_000


def test_license_notes():
    text = (SAMPLE / "LICENSE_NOTES.md").read_text(encoding="utf-8")
    assert "The MIT License (MIT) Copyright © 2017 Zalando SE" in text
    assert "Pace" in text and "Barry" in text and "1997" in text


def test_sample_class_balance():
    (_, y_train), (_, y_test) = fashion_mnist.load_data(sample=True)
    assert len(y_train) == 3000 and len(y_test) == 1000
    assert np.bincount(y_train, minlength=10).min() >= 250
    assert np.bincount(y_test, minlength=10).min() >= 80


def test_corrupt_sample_is_detected(tmp_path, monkeypatch):
    copy = tmp_path / "_sample"
    shutil.copytree(SAMPLE, copy)
    labels = copy / "fashion-mnist-t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-1])
    monkeypatch.setattr(_shipped, "SAMPLE_DIR", str(copy))
    with pytest.raises(_download.ChecksumError, match="reinstall"):
        fashion_mnist.load_data(sample=True)


def test_missing_sample_file_is_reported(tmp_path, monkeypatch):
    copy = tmp_path / "_sample"
    shutil.copytree(SAMPLE, copy)
    (copy / "cal_housing.data.gz").unlink()
    monkeypatch.setattr(_shipped, "SAMPLE_DIR", str(copy))
    from numnet.datasets import california_housing

    with pytest.raises(FileNotFoundError, match="reinstall"):
        california_housing.fetch(sample=True)


def test_make_sample_script_reproduces_the_shipped_files(
    shared_datasets, tmp_path
):
    script = REPO_ROOT / "tools" / "make_dataset_sample.py"
    assert script.is_file(), f"{script} is missing"
    subprocess.run(
        [
            sys.executable,
            str(script),
            "--source",
            str(shared_datasets),
            "--out",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    for name in SHIPPED + ["SHA256SUMS"]:
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), (
            name
        )


def test_package_exports():
    import numnet.datasets as datasets

    assert datasets.fashion_mnist.load_data is fashion_mnist.load_data
    assert datasets.mnist.load_data and datasets.california_housing.fetch
    assert datasets.SampleFallbackWarning is _shipped.SampleFallbackWarning
    assert issubclass(datasets.DatasetUnavailableError, OSError)
    assert issubclass(datasets.ChecksumError, ValueError)
