"""Regenerates numnet's shipped dataset sample, `numnet/datasets/_sample/`.

Usage (from the repository root):

    python tools/make_dataset_sample.py [--source DIR] [--train N] [--test N]

`DIR` holds `fashion-mnist/` and `california-housing/` with the original
files (default: `$NUMNET_DATA`, else `../shared/datasets` beside the
repository). Source files are checked against their SHA-256 first. Output:

- `fashion-mnist-{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`: the first
  N training / test images and labels, in the original gzip IDX format
  (header counts adjusted), gzip level 9 with no name and mtime 0, so the
  output is byte-for-byte reproducible;
- `cal_housing.data.gz`: the whole California housing table (it is small);
- `SHA256SUMS`: digests the loaders verify.

`LICENSE_NOTES.md` in that folder is written by hand, not by this script.
Only the standard library is used.
"""

import argparse
import gzip
import hashlib
import io
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "numnet", "datasets", "_sample")

SOURCES = {
    "fashion-mnist/train-images-idx3-ubyte.gz": (
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
    ),
    "fashion-mnist/train-labels-idx1-ubyte.gz": (
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
    ),
    "fashion-mnist/t10k-images-idx3-ubyte.gz": (
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
    ),
    "fashion-mnist/t10k-labels-idx1-ubyte.gz": (
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
    ),
    "california-housing/cal_housing.data": (
        "a2b44dcc7e1c9091b43c4f458b25cbd1f7e8068d08edd26bc4703108d3fa6214"
    ),
}


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _gzip(data):
    """Compresses reproducibly: no file name, mtime 0, level 9."""
    buffer = io.BytesIO()
    with gzip.GzipFile(
        filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0
    ) as f:
        f.write(data)
    return buffer.getvalue()


def _head_idx(raw, count):
    """Keeps the first `count` items of an uncompressed IDX file."""
    ndim = raw[3]
    dims = list(struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim]))
    if count > dims[0]:
        raise SystemExit(f"asked for {count} items, file has {dims[0]}")
    item = 1
    for d in dims[1:]:
        item *= d
    header = raw[:4] + struct.pack(f">{ndim}I", count, *dims[1:])
    start = 4 + 4 * ndim
    return header + raw[start : start + count * item]


def main(argv=None):
    default = os.environ.get("NUMNET_DATA") or os.path.join(
        os.path.dirname(ROOT), "shared", "datasets"
    )
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=default)
    parser.add_argument("--out", default=OUT)
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=1000)
    args = parser.parse_args(argv)

    blobs = {}
    for rel, digest in SOURCES.items():
        with open(os.path.join(args.source, rel), "rb") as f:
            data = f.read()
        if _sha256(data) != digest:
            raise SystemExit(f"{rel}: sha256 mismatch, refusing to sample")
        blobs[rel] = data

    outputs = {}
    for split, count in (("train", args.train), ("t10k", args.test)):
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{split}-{kind}-ubyte.gz"
            raw = gzip.decompress(blobs[f"fashion-mnist/{name}"])
            outputs[f"fashion-mnist-{name}"] = _gzip(_head_idx(raw, count))
    outputs["cal_housing.data.gz"] = _gzip(
        blobs["california-housing/cal_housing.data"]
    )

    os.makedirs(args.out, exist_ok=True)
    total = 0
    for name, data in outputs.items():
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
        total += len(data)
        print(f"{len(data):>10,}  {name}")
    with open(os.path.join(args.out, "SHA256SUMS"), "w", encoding="ascii") as f:
        for name in sorted(outputs):
            f.write(f"{_sha256(outputs[name])}  {name}\n")
    print(f"{total:>10,}  total bytes in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
