"""Reader for the IDX format of MNIST and Fashion-MNIST (gzip or plain)."""

import gzip
import math
import struct
import zlib

import numpy as np

# IDX type code -> dtype (multi-byte types are big-endian on disk).
_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IMAGES_MAGIC = 2051  # uint8, 3 dimensions
LABELS_MAGIC = 2049  # uint8, 1 dimension


def _open(filename):
    with open(filename, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    return gzip.open(filename, "rb") if gzipped else open(filename, "rb")


def _read_exact(f, buffer):
    """Fills `buffer` from `f`; returns the number of bytes read."""
    view = memoryview(buffer)
    filled = 0
    while filled < len(view):
        n = f.readinto(view[filled:])
        if not n:
            break
        filled += n
    return filled


def read_idx(filename, magic=None):
    """Reads an IDX file into a NumPy array, validating its header and size.

    Args:
        filename: Path of the file, gzip-compressed or not.
        magic: Expected magic number (e.g. 2051 for images, 2049 for
            labels), or `None` to accept any valid IDX header.

    Returns:
        An array of the header's shape, in native byte order, writable.

    Raises:
        ValueError: The file is not IDX, does not match `magic`, is
            truncated, has trailing bytes, or its gzip stream is corrupt.
    """
    try:
        with _open(filename) as f:
            header = bytearray(4)
            if _read_exact(f, header) < 4:
                raise ValueError(f"IDX file {filename} is empty or truncated.")
            found = int.from_bytes(header, "big")
            if magic is not None and found != magic:
                raise ValueError(
                    f"IDX file {filename} has magic number {found} "
                    f"(0x{found:08x}); expected {magic} (0x{magic:08x})."
                )
            if header[0] or header[1] or header[2] not in _DTYPES:
                raise ValueError(
                    f"File {filename} is not an IDX file: bad magic number "
                    f"0x{found:08x}."
                )
            dtype, ndim = _DTYPES[header[2]], header[3]
            dims_raw = bytearray(4 * ndim)
            if _read_exact(f, dims_raw) < len(dims_raw):
                raise ValueError(f"IDX file {filename}: truncated header.")
            shape = struct.unpack(f">{ndim}I", dims_raw)
            out = np.empty(math.prod(shape), dtype)
            expected = out.nbytes
            got = _read_exact(f, out.view(np.uint8))
            if got < expected:
                raise ValueError(
                    f"IDX file {filename} is truncated: shape {shape} needs "
                    f"{expected:,} data bytes, found {got:,}."
                )
            if f.read(1):  # Also makes gzip verify its CRC and length.
                raise ValueError(
                    f"IDX file {filename} has data after the {expected:,} "
                    f"bytes that its header shape {shape} announces."
                )
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise ValueError(
            f"File {filename} is corrupt (gzip stream: {e})."
        ) from e
    if dtype.byteorder == ">":
        out = out.astype(dtype.newbyteorder("="))
    return out.reshape(shape)
