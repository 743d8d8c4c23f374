"""California housing: 20,640 census block groups, 8 features, house values.

From Pace & Barry (1997), "Sparse Spatial Autoregressions", Statistics and
Probability Letters 33, 291-297, built from the 1990 U.S. census (StatLib).

Two views of the same table:

- `load_data()` returns the arrays of `keras.datasets.california_housing`:
  the 8 *raw* columns (see `KERAS_FEATURE_NAMES`) and the median house
  value in dollars, as `float32`, shuffled and split.
- `fetch()` returns what scikit-learn's `fetch_california_housing` does:
  the 8 *derived* features of `FEATURE_NAMES` in `float64` and the value in
  units of 100,000 USD, value for value.

Sources, in order: a local or cached copy of Keras' `california_housing.npz`
(`load_data` only), of the raw `cal_housing.data`, or of scikit-learn's
`cal_housing.tgz`; then a download of the npz (`load_data` only) or of the
tgz; then the full `cal_housing.data` shipped gzipped inside numnet (with a
`SampleFallbackWarning`).
"""

import gzip
import io
import os
import tarfile
from typing import NamedTuple

import numpy as np

from numnet.datasets import _download
from numnet.datasets import _shipped

__all__ = [
    "FEATURE_NAMES",
    "KERAS_FEATURE_NAMES",
    "CaliforniaHousing",
    "fetch",
    "load_data",
]

DATASET = "california-housing"
RAW_COLUMNS = [
    "longitude",
    "latitude",
    "housingMedianAge",
    "totalRooms",
    "totalBedrooms",
    "population",
    "households",
    "medianIncome",
    "medianHouseValue",
]
# Column order of Keras' `x` arrays (the raw file's first 8 columns).
KERAS_FEATURE_NAMES = RAW_COLUMNS[:8]
# scikit-learn's feature order and names.
FEATURE_NAMES = [
    "MedInc",
    "HouseAge",
    "AveRooms",
    "AveBedrms",
    "Population",
    "AveOccup",
    "Latitude",
    "Longitude",
]
TARGET_NAMES = ["MedHouseVal"]

NPZ_NAME = "california_housing.npz"
NPZ_HASH = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"
NPZ_ORIGIN = (
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
    "california_housing.npz"
)
DATA_NAME = "cal_housing.data"
DATA_HASH = "a2b44dcc7e1c9091b43c4f458b25cbd1f7e8068d08edd26bc4703108d3fa6214"
TGZ_NAME = "cal_housing.tgz"
TGZ_HASH = "aaa5c9a6afe2225cc2aed2723682ae403280c4a3695a2ddda4ffb5d8215ea681"
TGZ_ORIGIN = "https://ndownloader.figshare.com/files/5976036"
TGZ_MEMBER = "CaliforniaHousing/cal_housing.data"
SAMPLE_NAME = "cal_housing.data.gz"
_MAX_MEMBER_BYTES = 64 << 20


class CaliforniaHousing(NamedTuple):
    """Result of `fetch()`, shaped like scikit-learn's Bunch.

    Attributes:
        data: `(20640, 8)` float64 array, columns `feature_names`.
        target: `(20640,)` float64 median house value, in 100,000 USD.
        feature_names: The 8 column names (`FEATURE_NAMES`).
        target_names: `["MedHouseVal"]`.
    """

    data: np.ndarray
    target: np.ndarray
    feature_names: list
    target_names: list


def _parse_raw(text, origin):
    """Parses the headerless 9-column CSV into a float64 array."""
    try:
        raw = np.loadtxt(
            io.StringIO(text.decode("ascii")),
            delimiter=",",
            dtype=np.float64,
            ndmin=2,
        )
    except ValueError as e:  # UnicodeDecodeError included
        raise ValueError(
            f"{origin} is not a valid cal_housing.data: {e}"
        ) from e
    if raw.shape[1:] != (9,) or not len(raw):
        raise ValueError(
            f"{origin}: expected rows of 9 numbers, found shape {raw.shape}."
        )
    return raw


def _read_tgz(filename):
    """Reads `cal_housing.data` from scikit-learn's tgz, extracting nothing."""
    try:
        with tarfile.open(filename, "r:gz") as archive:
            member = archive.getmember(TGZ_MEMBER)
            if not member.isfile() or member.size > _MAX_MEMBER_BYTES:
                raise ValueError(
                    f"{filename}: member {TGZ_MEMBER} is not a regular file "
                    "of plausible size."
                )
            with archive.extractfile(member) as f:
                text = f.read()
    except KeyError as e:
        raise ValueError(f"{filename} has no member {TGZ_MEMBER}.") from e
    except (tarfile.TarError, OSError, EOFError) as e:
        raise ValueError(f"{filename} is not a readable .tgz ({e}).") from e
    return _parse_raw(text, f"{filename}:{TGZ_MEMBER}")


def _read_raw(kind, filename):
    if kind == "data":
        with open(filename, "rb") as f:
            return _parse_raw(f.read(), filename)
    if kind == "tgz":
        return _read_tgz(filename)
    with gzip.open(filename, "rb") as f:  # the shipped copy
        return _parse_raw(f.read(), filename)


def _read_npz(filename):
    with np.load(filename, allow_pickle=False) as f:
        if "x" not in f.files or "y" not in f.files:
            raise ValueError(f"{filename} lacks the arrays 'x' and 'y'.")
        x, y = f["x"], f["y"]
    if x.ndim != 2 or x.shape[1] != 8 or y.shape != (len(x),):
        raise ValueError(
            f"{filename}: expected x of shape (n, 8) and y of shape (n,); "
            f"found {x.shape} and {y.shape}."
        )
    return x, y


_KINDS = {
    "npz": (NPZ_NAME, NPZ_HASH),
    "data": (DATA_NAME, DATA_HASH),
    "tgz": (TGZ_NAME, TGZ_HASH),
}


def _kind_of(filename):
    base = os.path.basename(filename)
    for kind, suffix in (("npz", ".npz"), ("tgz", ".tgz"), ("tgz", ".tar.gz")):
        if base.endswith(suffix):
            return kind
    return "data"


def _locate(path, kinds, downloads, allow_sample, caller):
    """Finds a source of the table: `(kind, filename)`.

    Looks for each kind on disk, then downloads, then the shipped copy.
    """
    folder, filename, name = _download.split_path_arg(path)
    if filename is not None:
        kind = _kind_of(filename)
        if kind not in kinds:
            raise ValueError(
                f"{caller}() cannot use {filename}: it needs one of "
                f"{[_KINDS[k][0] for k in kinds]} (Keras' npz holds float32 "
                "raw columns, from which scikit-learn's float64 features "
                f"cannot be rebuilt exactly). Received: path={path!r}"
            )
        return kind, _download.verify_file(filename, _KINDS[kind][1])
    names = {k: _KINDS[k][0] for k in kinds}
    if name is not None:
        if "npz" not in names:
            raise FileNotFoundError(
                f"`path` must be an existing folder or file. Received: "
                f"path={path!r}"
            )
        names["npz"] = name  # Keras' path="california_housing.npz"
    for kind in kinds:
        found = _download.find_file(
            names[kind], _KINDS[kind][1], DATASET, folder
        )
        if found is not None:
            return kind, found
    errors = []
    for kind, origin in downloads:
        try:
            return kind, _download.get_file(
                names[kind], origin, _KINDS[kind][1], DATASET, path=folder
            )
        except _download.DatasetUnavailableError as e:
            errors.extend(e.errors or [str(e)])
    reason = "; ".join(dict.fromkeys(errors))
    if not _shipped.sample_allowed(allow_sample):
        wanted = [names[k] for k in kinds]
        raise _download.DatasetUnavailableError(
            _download.unavailable_message(
                "California housing", DATASET, [" or ".join(wanted)], reason
            ),
            names[kinds[0]],
            errors,
        )
    _shipped.warn_fallback(
        "numnet: California housing not found locally and download failed "
        f"({reason}); using the copy of cal_housing.data shipped with numnet "
        "(all 20,640 rows, the StatLib/scikit-learn values).",
        stacklevel=4,
    )
    return "sample", _shipped.sample_file(SAMPLE_NAME)


def _keras_arrays(raw):
    """Keras' x (8 raw columns) and y (dollars), as float32."""
    return raw[:, :8].astype(np.float32), raw[:, 8].astype(np.float32)


def load_data(
    version="large",
    path=None,
    test_split=0.2,
    seed=113,
    *,
    sample=False,
    allow_sample=None,
):
    """Loads California housing as `keras.datasets.california_housing` does.

    The rows are those of `cal_housing.data`, in file order, with the 8 raw
    columns `KERAS_FEATURE_NAMES` (longitude, latitude, housingMedianAge,
    totalRooms, totalBedrooms, population, households, medianIncome) as
    `x` and medianHouseValue in dollars as `y`, both `float32`. Keras'
    docstring lists scikit-learn's derived feature names, but its npz holds
    these raw columns. `version="small"` keeps the first 600 rows; the rows
    are then shuffled with `np.random.RandomState(seed)` and the first
    `int(n * (1 - test_split))` form the training set, exactly as in Keras.

    Args:
        version: `"large"` (20,640 rows) or `"small"` (600 rows).
        path: A folder holding `california_housing.npz`, `cal_housing.data`
            or `cal_housing.tgz`; the path of one of those files; or (as in
            Keras) a bare file name for the npz in the cache.
        test_split: Fraction of rows held out for the test set, in [0, 1).
        seed: Seed for the shuffle before the split.
        sample: If True, use the copy shipped with numnet directly.
        allow_sample: Whether to fall back to the shipped copy when no
            other source works; `None` reads `NUMNET_ALLOW_SAMPLE`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: arrays of shapes `(n, 8)`
        and `(n,)`; for "large" and the defaults, 16,512 / 4,128 rows.
    """
    if version not in ("small", "large"):
        raise ValueError(
            "Argument `version` must be one of 'small', 'large'. "
            f"Received: version={version!r}"
        )
    if isinstance(test_split, bool) or not (
        isinstance(test_split, (int, float, np.integer, np.floating))
        and 0 <= test_split < 1
    ):
        raise ValueError(
            "Argument `test_split` must be a number in [0, 1). "
            f"Received: test_split={test_split!r}"
        )
    if sample:
        kind, filename = "sample", _shipped.sample_file(SAMPLE_NAME)
    else:
        kind, filename = _locate(
            path,
            ("npz", "data", "tgz"),
            (("npz", NPZ_ORIGIN), ("tgz", TGZ_ORIGIN)),
            allow_sample,
            "load_data",
        )
    if kind == "npz":
        x, y = _read_npz(filename)
    else:
        x, y = _keras_arrays(_read_raw(kind, filename))

    if version == "small":
        x, y = x[:600], y[:600]
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    n_train = int(len(x) * (1 - test_split))
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def fetch(path=None, *, return_X_y=False, sample=False, allow_sample=None):
    """Returns the table as scikit-learn's `fetch_california_housing` does.

    `data[:, j]` for `FEATURE_NAMES`: MedInc = medianIncome, HouseAge =
    housingMedianAge, AveRooms = totalRooms / households, AveBedrms =
    totalBedrooms / households, Population = population, AveOccup =
    population / households, Latitude, Longitude; `target` =
    medianHouseValue / 100000. Computed in float64 the same way, so the
    values are bit-identical to scikit-learn's.

    Args:
        path: A folder holding `cal_housing.data` or `cal_housing.tgz`, or
            the path of one of those files.
        return_X_y: If True, return `(data, target)` only.
        sample: If True, use the copy shipped with numnet directly.
        allow_sample: Whether to fall back to the shipped copy when no
            other source works; `None` reads `NUMNET_ALLOW_SAMPLE`.

    Returns:
        A `CaliforniaHousing(data, target, feature_names, target_names)`
        named tuple, or `(data, target)` when `return_X_y` is True.
    """
    if sample:
        kind, filename = "sample", _shipped.sample_file(SAMPLE_NAME)
    else:
        kind, filename = _locate(
            path, ("data", "tgz"), (("tgz", TGZ_ORIGIN),), allow_sample, "fetch"
        )
    raw = _read_raw(kind, filename)
    households = raw[:, 6]
    data = np.column_stack(
        [
            raw[:, 7],
            raw[:, 2],
            raw[:, 3] / households,
            raw[:, 4] / households,
            raw[:, 5],
            raw[:, 5] / households,
            raw[:, 1],
            raw[:, 0],
        ]
    )
    target = raw[:, 8] / 100000.0
    if return_X_y:
        return data, target
    return CaliforniaHousing(
        data, target, list(FEATURE_NAMES), list(TARGET_NAMES)
    )
