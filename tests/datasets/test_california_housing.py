"""Tests for numnet.datasets.california_housing."""

import hashlib
import io
import os
import tarfile

import numpy as np
import pytest

from numnet.datasets import _download
from numnet.datasets import _shipped
from numnet.datasets import california_housing as ch

MEANS = [
    3.870671,
    28.639486,
    5.429000,
    1.096675,
    1425.476744,
    3.070655,
    35.631861,
    -119.569704,
]
STDS = [
    1.899776,
    12.585253,
    2.474113,
    0.473899,
    1132.434688,
    10.385798,
    2.135901,
    2.003483,
]


@pytest.fixture(scope="module")
def data_dir(shared_datasets):
    return shared_datasets / "california-housing"


@pytest.fixture(scope="module")
def raw(data_dir):
    return np.loadtxt(data_dir / "cal_housing.data", delimiter=",")


def _make_tgz(path, data_bytes, member=ch.TGZ_MEMBER, extra=()):
    with tarfile.open(path, "w:gz") as archive:
        for name, payload in [(member, data_bytes), *extra]:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return path


def test_fetch_matches_scikit_learn(data_dir):
    bunch = ch.fetch(path=data_dir)
    assert bunch.data.shape == (20640, 8) and bunch.data.dtype == np.float64
    assert bunch.target.shape == (20640,) and bunch.target.dtype == np.float64
    assert bunch.feature_names == ch.FEATURE_NAMES
    assert bunch.target_names == ["MedHouseVal"]
    np.testing.assert_allclose(
        bunch.data[0],
        [
            8.3252,
            41.0,
            6.98412698,
            1.02380952,
            322.0,
            2.55555556,
            37.88,
            -122.23,
        ],
        rtol=1e-8,
    )
    assert bunch.target[0] == 4.526
    np.testing.assert_allclose(bunch.data.mean(0), MEANS, atol=1e-6)
    np.testing.assert_allclose(bunch.data.std(0), STDS, atol=1e-6)
    assert bunch.target.mean() == pytest.approx(2.068558, abs=1e-6)
    assert (bunch.target.min(), bunch.target.max()) == (0.14999, 5.00001)


def test_fetch_is_bit_identical_to_scikit_learn(data_dir):
    # A CSV of scikit-learn's arrays written with %.17g (see SOURCE.md)
    # hashes to 157b6c0d...; our arrays must give the same bytes.
    data, target = ch.fetch(path=data_dir, return_X_y=True)
    lines = [",".join(ch.FEATURE_NAMES + ch.TARGET_NAMES)]
    lines += [
        ",".join("%.17g" % v for v in row)
        for row in np.column_stack([data, target])
    ]
    blob = ("\n".join(lines) + "\n").encode()
    assert hashlib.sha256(blob).hexdigest() == (
        "157b6c0d3acd6d93a50c411d0cd4130d8c719ce5eb17b61f1c45300f2af6fc85"
    )


def test_load_data_like_keras(data_dir, raw):
    (x_train, y_train), (x_test, y_test) = ch.load_data(path=data_dir)
    assert x_train.shape == (16512, 8) and x_test.shape == (4128, 8)
    assert y_train.shape == (16512,) and y_test.shape == (4128,)
    assert x_train.dtype == np.float32 and y_train.dtype == np.float32
    # Deep Learning with Python, 3rd ed., listing 4.24 prints these.
    assert y_train[:3].tolist() == [252300.0, 146900.0, 290900.0]
    # Columns are the raw file's first 8, targets in dollars.
    idx = np.arange(20640)
    np.random.RandomState(113).shuffle(idx)
    np.testing.assert_array_equal(
        x_train, raw[idx[:16512], :8].astype(np.float32)
    )
    np.testing.assert_array_equal(
        y_test, raw[idx[16512:], 8].astype(np.float32)
    )


def test_small_version(data_dir):
    (x_train, y_train), (x_test, y_test) = ch.load_data("small", path=data_dir)
    assert x_train.shape == (480, 8) and x_test.shape == (120, 8)
    # Deep Learning with Python, 3rd ed.: "array([..., 140500., 217100.])",
    # "prices are between $60,000 and $500,000".
    assert y_train[-2:].tolist() == [140500.0, 217100.0]
    all_y = np.concatenate([y_train, y_test])
    assert (all_y.min(), all_y.max()) == (60000.0, 500001.0)


def test_split_and_seed(data_dir):
    (x_train, _), (x_test, _) = ch.load_data(path=data_dir, test_split=0)
    assert len(x_train) == 20640 and len(x_test) == 0
    (a, _), (a_test, _) = ch.load_data("small", path=data_dir, seed=1)
    (b, _), (b_test, _) = ch.load_data("small", path=data_dir, seed=2)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(  # same 600 rows, other order
        np.sort(np.concatenate([a, a_test]), 0),
        np.sort(np.concatenate([b, b_test]), 0),
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"version": "medium"}, "version='medium'"),
        ({"test_split": 1}, "test_split=1"),
        ({"test_split": -0.1}, "test_split=-0.1"),
        ({"test_split": "0.2"}, "test_split='0.2'"),
    ],
)
def test_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ch.load_data(**kwargs)


def test_keras_npz_is_used_when_present(tmp_path, monkeypatch, data_dir):
    (xr, yr), (xt, yt) = ch.load_data(path=data_dir)
    x, y = ch._keras_arrays(
        np.loadtxt(data_dir / "cal_housing.data", delimiter=",")
    )
    npz = tmp_path / "california_housing.npz"
    with open(npz, "wb") as f:
        np.savez(f, x=x, y=y)
    monkeypatch.setattr(ch, "NPZ_HASH", _download.sha256sum(npz))
    monkeypatch.setitem(ch._KINDS, "npz", (ch.NPZ_NAME, ch.NPZ_HASH))
    for path in (npz, tmp_path):
        (a, b), (c, d) = ch.load_data(path=path)
        for got, want in ((a, xr), (b, yr), (c, xt), (d, yt)):
            np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="cannot use"):
        ch.fetch(path=npz)


def test_tgz_is_read_without_extracting(tmp_path, monkeypatch, data_dir):
    data = (data_dir / "cal_housing.data").read_bytes()
    tgz = _make_tgz(
        tmp_path / "cal_housing.tgz",
        data,
        extra=[
            ("../evil.txt", b"x"),
            ("CaliforniaHousing/cal_housing.domain", b""),
        ],
    )
    monkeypatch.setitem(
        ch._KINDS, "tgz", (ch.TGZ_NAME, _download.sha256sum(tgz))
    )
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        from_tgz = ch.fetch(path=tgz)
    finally:
        os.chdir(cwd)
    np.testing.assert_array_equal(from_tgz.data, ch.fetch(path=data_dir).data)
    assert sorted(os.listdir(tmp_path)) == ["cal_housing.tgz"]
    assert not (tmp_path.parent / "evil.txt").exists()


@pytest.mark.parametrize("member", ["other/cal_housing.data", "symlink"])
def test_tgz_without_a_regular_member_is_rejected(
    tmp_path, monkeypatch, member
):
    tgz = tmp_path / "cal_housing.tgz"
    if member == "symlink":
        with tarfile.open(tgz, "w:gz") as archive:
            info = tarfile.TarInfo(ch.TGZ_MEMBER)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            archive.addfile(info)
    else:
        _make_tgz(tgz, b"1,2,3,4,5,6,7,8,9\n", member=member)
    monkeypatch.setitem(
        ch._KINDS, "tgz", (ch.TGZ_NAME, _download.sha256sum(tgz))
    )
    with pytest.raises(ValueError, match=ch.TGZ_MEMBER):
        ch.fetch(path=tgz)


def test_corrupt_local_data_is_an_error(tmp_path, data_dir):
    data = (data_dir / "cal_housing.data").read_bytes()
    (tmp_path / "cal_housing.data").write_bytes(data[:-100])
    with pytest.raises(_download.ChecksumError, match="cal_housing.data"):
        ch.fetch(path=tmp_path)


def test_download_tgz_from_local_server(
    http_server, monkeypatch, tmp_path, data_dir
):
    data = (data_dir / "cal_housing.data").read_bytes()
    blob = _make_tgz(tmp_path / "cal_housing.tgz", data).read_bytes()
    monkeypatch.setitem(
        ch._KINDS, "tgz", (ch.TGZ_NAME, hashlib.sha256(blob).hexdigest())
    )
    http_server.state.files["/m/cal_housing.tgz"] = blob
    monkeypatch.setenv("NUMNET_DATASETS_URL", http_server.url("m"))
    (x_train, _), _ = ch.load_data()  # npz: 404, then the tgz
    assert x_train.shape == (16512, 8)
    assert [r[0] for r in http_server.state.requests] == [
        "/m/california_housing.npz",
        "/m/cal_housing.tgz",
    ]
    bunch = ch.fetch()  # now from the cache
    assert bunch.target[0] == 4.526
    assert len(http_server.state.requests) == 2


def test_falls_back_to_shipped_copy(data_dir):
    with pytest.warns(_shipped.SampleFallbackWarning) as record:
        bunch = ch.fetch()
    assert "California housing not found locally" in str(record[0].message)
    assert record[0].filename == __file__
    np.testing.assert_array_equal(bunch.data, ch.fetch(path=data_dir).data)
    with pytest.warns(_shipped.SampleFallbackWarning):
        (x_train, _), _ = ch.load_data()
    assert x_train.shape == (16512, 8)
    sample = ch.load_data(sample=True)
    np.testing.assert_array_equal(sample[0][0], x_train)


def test_fallback_off_lists_the_files(monkeypatch):
    monkeypatch.setenv("NUMNET_ALLOW_SAMPLE", "false")
    with pytest.raises(_download.DatasetUnavailableError) as info:
        ch.load_data()
    text = str(info.value)
    assert (
        "california_housing.npz or cal_housing.data or cal_housing.tgz" in text
    )
    assert "california-housing" in text
