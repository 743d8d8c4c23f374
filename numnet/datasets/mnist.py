"""MNIST: 70,000 28x28 grayscale images of handwritten digits 0-9."""

import zipfile

import numpy as np

from numnet.datasets import _download

__all__ = ["load_data"]

DATASET = "mnist"
FILE_NAME = "mnist.npz"
FILE_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _read_npz(filename):
    """Reads and validates the Keras `mnist.npz` (no pickled objects)."""
    try:
        npz = np.load(filename, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(
            f"{filename} is not a readable .npz file ({e})."
        ) from e
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"{filename} is a .npy array, not an .npz archive.")
    with npz:
        missing = [k for k in _KEYS if k not in npz.files]
        if missing:
            raise ValueError(
                f"{filename} lacks the arrays {missing}; it holds "
                f"{sorted(npz.files)}."
            )
        arrays = {k: npz[k] for k in _KEYS}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if (
            x.dtype != np.uint8
            or y.dtype != np.uint8
            or x.ndim != 3
            or x.shape[1:] != (28, 28)
            or y.shape != (len(x),)
        ):
            raise ValueError(
                f"{filename}: x_{split}/y_{split} must be uint8 arrays of "
                f"shapes (n, 28, 28)/(n,); found {x.dtype}{x.shape} and "
                f"{y.dtype}{y.shape}."
            )
    return (arrays["x_train"], arrays["y_train"]), (
        arrays["x_test"],
        arrays["y_test"],
    )


def load_data(path=None):
    """Loads the MNIST dataset, as `keras.datasets.mnist.load_data` does.

    Reads the Keras file `mnist.npz`, looked up in `path`, then in the
    folders of `NUMNET_DATA` (directly or in an `mnist/` subfolder), then in
    the cache `$NUMNET_HOME/datasets/mnist/`, and only then downloaded from
    the Keras mirror. Its SHA-256 is always checked. No sample of MNIST is
    shipped (use `fashion_mnist`, which has one, to work offline).

    Args:
        path: A folder holding `mnist.npz`, the path of that file, or (as
            in Keras) a bare file name for the copy in the cache.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `uint8` arrays of shapes
        `(60000, 28, 28)`, `(60000,)`, `(10000, 28, 28)`, `(10000,)`.

    Raises:
        DatasetUnavailableError: No copy and no download; the message says
            where to put `mnist.npz`.
        ChecksumError: A local copy is corrupt.
    """
    folder, filename, name = _download.split_path_arg(path)
    if filename is not None:
        return _read_npz(_download.verify_file(filename, FILE_HASH))
    fname = name or FILE_NAME
    try:
        filename = _download.get_file(
            fname, ORIGIN, FILE_HASH, DATASET, path=folder
        )
    except _download.DatasetUnavailableError as e:
        raise _download.DatasetUnavailableError(
            _download.unavailable_message(
                "MNIST",
                DATASET,
                [fname],
                "; ".join(e.errors) or str(e),
                env_hint=False,
            ),
            e.fname,
            e.errors,
        ) from None
    return _read_npz(filename)
