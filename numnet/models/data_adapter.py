"""Turning what users pass to fit/evaluate/predict into checked arrays and batches.

Inputs and targets may be an array, a list/tuple of arrays or a dict of
arrays; every leaf must have the same number of samples. Problems (ragged
sample counts, empty data, NaN/inf, non-numeric values) are reported here,
before any training step, with the argument's name.
"""

import numpy as np

from numnet.autodiff.tensor import Tensor
from numnet.backend import floatx
from numnet.layers.symbolic import flatten, map_structure


def _as_array(value, name, cast_float, allow_strings=False):
    if isinstance(value, Tensor):
        value = value.data
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise ValueError(f"Could not convert `{name}` to an array: {error}") from None
    if allow_strings:
        text = _as_text(array)
        if text is not None:
            return text
    if array.dtype == object or array.dtype.kind in "USV":
        raise ValueError(
            f"`{name}` must hold numbers; received an array of dtype {array.dtype} "
            f"(shape {array.shape}). Convert strings and objects to numeric arrays first."
        )
    if array.dtype.kind == "c":
        raise ValueError(f"`{name}` must be real-valued; received complex data.")
    if cast_float and array.dtype != np.dtype(floatx()):
        if array.dtype.kind in "fiub":
            array = array.astype(floatx())
    elif array.dtype == np.float64:
        array = array.astype(floatx())
    if array.ndim == 0:
        raise ValueError(f"`{name}` must have a batch axis; received a scalar.")
    return array


def _as_text(array):
    """A string feature as a unicode array (None if `array` is not text).

    String inputs pass through for the layers that read them (`StringLookup`,
    `Hashing`); object arrays of `str` (a pandas text column) become unicode.
    """
    if array.ndim == 0:
        return None
    if array.dtype.kind == "U":
        return array
    if array.dtype.kind == "S":
        return np.char.decode(array, "utf-8")
    if array.dtype == object and array.size and all(isinstance(v, str) for v in array.flat):
        return array.astype(str)
    return None


def standardize(structure, name, cast_float=True, allow_strings=False):
    """Converts every leaf of `structure` to an array (floats to floatx; strings kept for `x`)."""
    if structure is None:
        return None
    if isinstance(structure, (list, tuple)) and structure and all(
            np.ndim(v) == 0 and not isinstance(v, (list, tuple, dict, np.ndarray, Tensor))
            for v in structure):
        structure = np.asarray(structure)
    if isinstance(structure, dict):
        return {k: _as_array(v, f"{name}['{k}']", cast_float, allow_strings)
                for k, v in structure.items()}
    if isinstance(structure, (list, tuple)) and structure and any(
            isinstance(v, (np.ndarray, Tensor, dict, list, tuple)) for v in structure) and not \
            _is_rectangular_list(structure):
        return type(structure)(standardize(v, f"{name}[{i}]", cast_float, allow_strings)
                               for i, v in enumerate(structure))
    return _as_array(structure, name, cast_float, allow_strings)


def _is_rectangular_list(structure):
    """A list of equal-shape numeric rows is one array, not several inputs."""
    if not all(isinstance(v, (list, tuple)) for v in structure):
        return False
    try:
        return np.asarray(structure).dtype.kind in "fiub"
    except ValueError:
        return False


def num_samples(structure, name):
    """The common number of samples of all leaves (a clear error if they differ)."""
    leaves = [leaf for leaf in flatten(structure) if leaf is not None]
    counts = {int(leaf.shape[0]) for leaf in leaves}
    if len(counts) > 1:
        raise ValueError(
            f"All arrays in `{name}` must have the same number of samples; received sizes "
            f"{[int(leaf.shape[0]) for leaf in leaves]}."
        )
    count = counts.pop() if counts else 0
    return count


def check_finite(structure, name):
    """Raises if a float array holds NaN or inf."""
    for leaf in flatten(structure):
        # One pass without a temporary: the sum is finite unless an entry is not
        # (or the sum overflows, which the exact count below then clears).
        if leaf is None or leaf.dtype.kind != "f":
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.add.reduce(leaf, axis=None)):
                continue
        bad = int(np.size(leaf) - np.count_nonzero(np.isfinite(leaf)))
        if bad:
            raise ValueError(
                f"`{name}` contains {bad} NaN or infinite value(s) (shape {leaf.shape}). "
                "Clean or impute the data before training."
            )


def prepare(x, y=None, sample_weight=None, require_y=True, check_values=True):
    """Standardizes (x, y, sample_weight) and checks sample counts and values."""
    if x is None:
        raise ValueError("`x` is required; received x=None.")
    if isinstance(x, tuple) and y is None and len(x) in (2, 3) and require_y and not \
            _is_rectangular_list(x):
        x, y, *rest = x
        sample_weight = rest[0] if rest else sample_weight
    x = standardize(x, "x", allow_strings=True)
    y = standardize(y, "y", cast_float=False)
    if require_y and y is None:
        raise ValueError("Targets `y` are required for training and evaluation; received y=None.")
    n = num_samples(x, "x")
    if n == 0:
        raise ValueError(
            "Expected a non-empty array for `x`; received shapes "
            f"{[leaf.shape for leaf in flatten(x)]}."
        )
    if y is not None:
        ny = num_samples(y, "y")
        if ny != n:
            raise ValueError(
                f"`x` and `y` must have the same number of samples; received x with {n} "
                f"and y with {ny} samples."
            )
    if sample_weight is not None:
        sample_weight = np.asarray(getattr(sample_weight, "data", sample_weight), dtype=floatx())
        if sample_weight.ndim == 0 or sample_weight.shape[0] != n:
            raise ValueError(
                f"`sample_weight` must have one weight per sample ({n}); received shape "
                f"{sample_weight.shape}."
            )
        if sample_weight.ndim > 1:
            sample_weight = sample_weight.reshape(n, -1)
            if sample_weight.shape[1] == 1:
                sample_weight = sample_weight[:, 0]
    if check_values:
        check_finite(x, "x")
        if y is not None:
            check_finite(y, "y")
        if sample_weight is not None:
            check_finite(sample_weight, "sample_weight")
    return x, y, sample_weight


def split_last(structure, n_val):
    """Splits every leaf into (all but the last `n_val`, last `n_val`) samples."""
    if structure is None:
        return None, None
    head = map_structure(lambda a: a[:-n_val], structure)
    tail = map_structure(lambda a: a[-n_val:], structure)
    return head, tail


def take(structure, index):
    """Rows `index` (a slice or an index array) of every leaf."""
    if structure is None:
        return None
    if isinstance(structure, np.ndarray):
        return structure[index]
    return map_structure(lambda a: a[index], structure)


def class_weights_to_sample_weights(y, class_weight, sample_weight):
    """Per-sample weights from a `{class_index: weight}` dict (Keras refuses both at once)."""
    if sample_weight is not None:
        raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
    if not isinstance(class_weight, dict):
        raise ValueError(f"`class_weight` must be a dict; received {type(class_weight).__name__}.")
    leaves = flatten(y)
    if len(leaves) != 1:
        raise ValueError("`class_weight` is only supported for models with a single output.")
    labels = leaves[0]
    if labels.ndim > 1 and labels.shape[-1] > 1:
        labels = np.argmax(labels, axis=-1)
    labels = labels.reshape(len(labels), -1)[:, 0].astype(np.int64)
    lookup = np.ones(max(int(labels.max()) + 1, max(class_weight) + 1 if class_weight else 1),
                     dtype=floatx())
    for cls, weight in class_weight.items():
        if cls < 0:
            raise ValueError(f"`class_weight` keys must be non-negative class indices; got {cls}.")
        lookup[int(cls)] = weight
    return lookup[labels]
