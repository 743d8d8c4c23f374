"""Fashion-MNIST: 70,000 28x28 grayscale images of 10 clothing classes.

By Zalando Research (Xiao, Rasul & Vollgraf, 2017), MIT license.
"""

from numnet.datasets import _download
from numnet.datasets import _idx
from numnet.datasets import _shipped

__all__ = ["CLASS_NAMES", "load_data"]

CLASS_NAMES = [
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

DATASET = "fashion-mnist"
# SHA-256 of the original gzip files, in the order they are read.
FILE_HASHES = {
    "train-images-idx3-ubyte.gz": (
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
    ),
    "train-labels-idx1-ubyte.gz": (
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
    ),
    "t10k-images-idx3-ubyte.gz": (
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
    ),
}
# Base URLs, tried in order: the Keras/TF mirror, then the upstream copies.
ORIGINS = (
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/"
    "data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)
SAMPLE_SIZES = (3000, 1000)


def _read_split(images_path, labels_path):
    x = _idx.read_idx(images_path, magic=_idx.IMAGES_MAGIC)
    y = _idx.read_idx(labels_path, magic=_idx.LABELS_MAGIC)
    if x.shape[1:] != (28, 28):
        raise ValueError(
            f"{images_path}: expected 28x28 images, found shape {x.shape}."
        )
    if len(x) != len(y):
        raise ValueError(
            f"{images_path} holds {len(x)} images but {labels_path} holds "
            f"{len(y)} labels."
        )
    if y.size and y.max() >= len(CLASS_NAMES):
        raise ValueError(
            f"{labels_path}: labels must be in 0-9, found {int(y.max())}."
        )
    return x, y


def _load(paths):
    x_train, y_train = _read_split(
        paths["train-images-idx3-ubyte.gz"], paths["train-labels-idx1-ubyte.gz"]
    )
    x_test, y_test = _read_split(
        paths["t10k-images-idx3-ubyte.gz"], paths["t10k-labels-idx1-ubyte.gz"]
    )
    return (x_train, y_train), (x_test, y_test)


def _sample_paths():
    return {
        fname: _shipped.sample_file(f"{DATASET}-{fname}")
        for fname in FILE_HASHES
    }


def load_data(path=None, *, sample=False, allow_sample=None):
    """Loads the Fashion-MNIST dataset, as `keras.datasets.fashion_mnist` does.

    The four original `.gz` files are looked up in `path`, then in the
    folders of `NUMNET_DATA` (each directly or in a `fashion-mnist/`
    subfolder), then in the cache `$NUMNET_HOME/datasets/fashion-mnist/`
    (default `~/.numnet/...`), and only then downloaded. All are checked
    against their SHA-256.

    When the data is neither on disk nor downloadable, the loader warns
    (`SampleFallbackWarning`) and returns the real-data sample shipped with
    numnet: the first 3,000 training and 1,000 test images. Pass
    `allow_sample=False` or set `NUMNET_ALLOW_SAMPLE=0` to get an error
    instead.

    Labels are class ids 0-9; `CLASS_NAMES[label]` gives the name.

    Args:
        path: Optional folder holding the four files.
        sample: If True, return the shipped sample directly (no lookup, no
            download, no warning).
        allow_sample: Whether to fall back to the sample; `None` reads
            `NUMNET_ALLOW_SAMPLE` (default: allowed).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `uint8` arrays of shapes
        `(60000, 28, 28)`, `(60000,)`, `(10000, 28, 28)`, `(10000,)`.

    Raises:
        DatasetUnavailableError: No copy, no download, no fallback; the
            message says which files to put in which folder.
        ChecksumError: A local copy is corrupt.
        ValueError: A file is not valid IDX data.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert x_train.shape == (60000, 28, 28)
    ```
    """
    if sample:
        return _load(_sample_paths())
    paths = {}
    try:
        for fname, digest in FILE_HASHES.items():
            paths[fname] = _download.get_file(
                fname,
                [base + fname for base in ORIGINS],
                digest,
                DATASET,
                path=path,
            )
    except _download.DatasetUnavailableError as e:
        reason = "; ".join(e.errors) or str(e)
        if not _shipped.sample_allowed(allow_sample):
            raise _download.DatasetUnavailableError(
                _download.unavailable_message(
                    "Fashion-MNIST", DATASET, list(FILE_HASHES), reason
                ),
                e.fname,
                e.errors,
            ) from None
        n_train, n_test = SAMPLE_SIZES
        _shipped.warn_fallback(
            "numnet: Fashion-MNIST not found locally and download failed "
            f"({reason}); using the {n_train:,}-image sample shipped with "
            f"numnet ({n_test:,} test images). For the full 60,000/10,000 "
            "images, put the four .gz files in DIR/fashion-mnist/ and set "
            f"NUMNET_DATA=DIR (or pass path=DIR).",
        )
        return _load(_sample_paths())
    return _load(paths)
