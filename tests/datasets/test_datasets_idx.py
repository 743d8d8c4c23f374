"""Tests for the IDX reader."""

import gzip
import struct

import numpy as np
import pytest

from numnet.datasets import _idx


def _idx_bytes(array, code=0x08):
    dtype = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}[code]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    return header + np.asarray(array, dtype).tobytes()


@pytest.fixture
def images():
    return np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)


@pytest.mark.parametrize("compress", [True, False])
def test_reads_images_gzip_or_plain(tmp_path, images, compress):
    data = _idx_bytes(images)
    path = tmp_path / "x.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    out = _idx.read_idx(path, magic=_idx.IMAGES_MAGIC)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, images)
    assert out.flags.writeable


@pytest.mark.parametrize("code, dtype", [(0x0C, np.int32), (0x0D, np.float32)])
def test_big_endian_types_come_back_native(tmp_path, code, dtype):
    values = np.array([[1, -2], [300000, 4]], dtype)
    path = tmp_path / "v.idx"
    path.write_bytes(_idx_bytes(values, code))
    out = _idx.read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, values)


def test_wrong_magic_is_named(tmp_path, images):
    path = tmp_path / "x.idx"
    path.write_bytes(_idx_bytes(images))
    with pytest.raises(ValueError, match="magic number 2051.*expected 2049"):
        _idx.read_idx(path, magic=_idx.LABELS_MAGIC)


def test_not_idx(tmp_path):
    path = tmp_path / "x.idx"
    path.write_bytes(b"GIF89a......")
    with pytest.raises(ValueError, match="not an IDX file"):
        _idx.read_idx(path)


def test_truncated_data(tmp_path, images):
    path = tmp_path / "x.idx.gz"
    path.write_bytes(gzip.compress(_idx_bytes(images)[:-5]))
    with pytest.raises(
        ValueError, match="truncated.*needs 24 data bytes, found 19"
    ):
        _idx.read_idx(path)


def test_trailing_data(tmp_path, images):
    path = tmp_path / "x.idx"
    path.write_bytes(_idx_bytes(images) + b"\0")
    with pytest.raises(ValueError, match="data after"):
        _idx.read_idx(path)


def test_truncated_gzip_stream(tmp_path, images):
    path = tmp_path / "x.idx.gz"
    path.write_bytes(gzip.compress(_idx_bytes(images))[:-6])
    with pytest.raises(ValueError, match="corrupt"):
        _idx.read_idx(path)


def test_gzip_crc_error(tmp_path, images):
    blob = bytearray(gzip.compress(_idx_bytes(images)))
    blob[-8] ^= 0xFF  # CRC32 field
    path = tmp_path / "x.idx.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="corrupt.*CRC"):
        _idx.read_idx(path)
