"""Small real datasets with the `keras.datasets` API.

Each module has `load_data()` returning `(x_train, y_train), (x_test,
y_test)` NumPy arrays. Files are looked up in the loader's `path`, in the
folders of `NUMNET_DATA`, in the cache `$NUMNET_HOME/datasets` (default
`~/.numnet/datasets`), and only then downloaded; all are checked by SHA-256.
Offline, `fashion_mnist` and `california_housing` fall back, with a warning,
to the real-data sample shipped in `numnet/datasets/_sample/`
(`NUMNET_ALLOW_SAMPLE=0` turns that off).
"""

from numnet.datasets import california_housing
from numnet.datasets import fashion_mnist
from numnet.datasets import mnist
from numnet.datasets._download import ChecksumError
from numnet.datasets._download import DatasetUnavailableError
from numnet.datasets._shipped import SampleFallbackWarning

__all__ = [
    "ChecksumError",
    "DatasetUnavailableError",
    "SampleFallbackWarning",
    "california_housing",
    "fashion_mnist",
    "mnist",
]
