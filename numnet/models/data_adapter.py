"""Turning what users pass to fit/evaluate/predict into checked arrays and batches.

Inputs and targets may be an array, a list/tuple of arrays or a dict of
arrays; every leaf must have the same number of samples. Problems (ragged
sample counts, empty data, NaN/inf, non-numeric values, inputs of the wrong
kind or rank) are reported here, before any training step, with the
argument's name and the call they come from. Inputs whose rank differs from
the model's `Input` by a trailing axis of size 1 are adjusted as Keras
adjusts them (a 1-D `x` for `Input(shape=[1])` works).
"""

import collections.abc
import math
import types
import warnings

import numpy as np

from numnet.autodiff.tensor import Tensor
from numnet.backend import floatx
from numnet.layers.symbolic import flatten, map_structure, same_kind


# What each call is doing, for messages ("... before training").
_DOING = {"fit": "training", "validation": "validating", "train_on_batch": "training",
          "evaluate": "evaluating", "test_on_batch": "evaluating", "predict": "predicting",
          "predict_on_batch": "predicting"}
_ACCEPTED = ("NumPy arrays (or numnet tensors), a list/tuple of them for a model with several "
             "inputs, or a dict of them keyed by input name")


def _as_array(value, name, cast_float, allow_strings=False):
    if isinstance(value, Tensor):
        value = value.data
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise ValueError(f"Could not convert `{name}` to an array: {error}") from None
    if array.dtype == object and array.ndim == 0:
        raise ValueError(f"`{name}` must be array data; received a {type(value).__name__}. "
                         f"Accepted: {_ACCEPTED}.")
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
    if isinstance(structure, dict):  # values may be structures too (nested outputs)
        return {k: standardize(v, f"{name}['{k}']", cast_float, allow_strings)
                for k, v in structure.items()}
    if isinstance(structure, (list, tuple)) and structure and any(
            isinstance(v, (np.ndarray, Tensor, dict, list, tuple)) for v in structure) and not \
            _is_rectangular_list(structure):
        return same_kind(structure, [standardize(v, f"{name}[{i}]", cast_float, allow_strings)
                                     for i, v in enumerate(structure)])
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


def _non_finite(leaf):
    """How many NaN/inf entries the float array `leaf` holds (0 for other dtypes)."""
    if leaf is None or leaf.dtype.kind != "f":
        return 0
    # One pass without a temporary: the sum is finite unless an entry is not
    # (or the sum overflows, which the exact count then clears).
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(leaf, axis=None)):
            return 0
    return int(np.size(leaf) - np.count_nonzero(np.isfinite(leaf)))


class NonFiniteDataWarning(UserWarning):
    """Training or evaluation data holds NaN or inf values.

    Keras trains on such data (the loss of the batches holding them is NaN);
    numnet does too, and says so. To refuse such data instead, turn this
    warning into an error: `warnings.simplefilter("error", NonFiniteDataWarning)`.
    """


def check_finite(structure, name, call=None):
    """Warns (`NonFiniteDataWarning`) if a float array holds NaN or inf, worded for `call`."""
    for leaf in flatten(structure):
        bad = _non_finite(leaf)
        if bad:
            warnings.warn(
                f"`{name}` contains {bad} NaN or infinite value(s) (shape {leaf.shape}): the "
                "loss and metrics of the batches holding them will be NaN (or inf), and so "
                "may the weights after a training step. Clean or impute the data before "
                f"{_DOING.get(call, 'training')}; `numnet.callbacks.TerminateOnNaN` stops "
                "training at the first NaN loss.", NonFiniteDataWarning, stacklevel=5)


def prepare(x, y=None, sample_weight=None, require_y=True, check_values=True, call=None,
            model=None):
    """Standardizes (x, y, sample_weight) and checks kinds, sample counts, ranks and values.

    Args:
        call: the public method the data came to ("fit", "validation",
            "evaluate", "predict", "train_on_batch", ...): messages name it,
            and `predict` warns about NaN/inf inputs instead of refusing them
            (their outputs are NaN, as in Keras).
        model: the model, whose `inputs` shape the inputs are checked and
            adjusted against (as Keras' Functional models do).
    """
    names = ("validation_data[0]", "validation_data[1]", "validation_data[2]") \
        if call == "validation" else ("x", "y", "sample_weight")
    refuse_unsupported_data(x, call, names[0])
    if x is None:
        raise ValueError(f"`{names[0]}` is required; received x=None.")
    if isinstance(x, tuple) and y is None and len(x) in (2, 3) and require_y and not \
            _is_rectangular_list(x):
        x, y, *rest = x
        sample_weight = rest[0] if rest else sample_weight
    if model is not None:
        check_required_inputs(x, model)
    x = standardize(x, names[0], allow_strings=True)
    if model is not None:
        x = match_model_inputs(x, model, names[0], call)
    y = standardize(y, names[1], cast_float=False)
    if require_y and y is None:
        raise ValueError("Targets `y` are required for training and evaluation; received y=None.")
    n = num_samples(x, names[0])
    if n == 0:
        raise ValueError(
            f"Expected a non-empty array for `{names[0]}`; received shapes "
            f"{[leaf.shape for leaf in flatten(x)]}."
        )
    if y is not None:
        ny = num_samples(y, names[1])
        if ny != n:
            raise ValueError(
                f"`{names[0]}` and `{names[1]}` must have the same number of samples; received "
                f"{names[0]} with {n} and {names[1]} with {ny} samples."
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
        _check_values(x, y, sample_weight, names, call)
    return x, y, sample_weight


def _check_values(x, y, sample_weight, names, call):
    if call in ("predict", "predict_on_batch"):
        bad = sum(_non_finite(leaf) for leaf in flatten(x))
        if bad:
            warnings.warn(f"`x` contains {bad} NaN or infinite value(s): the outputs of the "
                          "samples holding them will be NaN (or inf).", UserWarning, stacklevel=4)
        return
    check_finite(x, names[0], call)
    if y is not None:
        check_finite(y, names[1], call)
    if sample_weight is not None:
        check_finite(sample_weight, names[2], call)


def refuse_unsupported_data(x, call, name="x"):
    """Refuses generators and iterators, which `fit`/`evaluate`/`predict` do not accept yet.

    A separate check so that it can go when they do: it only has to be removed.
    """
    if isinstance(x, (types.GeneratorType, collections.abc.Iterator)):
        method = {"validation": "fit"}.get(call, call) or "fit"
        raise ValueError(
            f"{method}() received a {type(x).__name__} for `{name}`; numnet does not read "
            f"generators or iterators yet. Accepted: {_ACCEPTED}. Collect the batches first, "
            "e.g. `x, y = map(np.concatenate, zip(*batches))`."
        )


def check_required_inputs(x, model):
    """Keras' error for None given to an input that is not optional (`fit([None], y)`)."""
    inputs = getattr(model, "inputs", None)
    if not isinstance(inputs, (list, tuple)):
        return
    if isinstance(x, dict):
        given = [(t, x.get(t.name, ...)) for t in inputs]
    elif isinstance(x, (list, tuple)) and len(x) == len(inputs):
        given = list(zip(inputs, x))
    else:
        return
    for tensor, value in given:
        layer = getattr(tensor, "_keras_history", None)
        if value is None and not getattr(layer[0] if layer else None, "optional", True):
            raise ValueError(f"The input '{tensor.name}' is not optional, but None was "
                             "passed. Please provide a valid tensor.")


def match_model_inputs(x, model, name="x", call=None):
    """`x` checked against the model's `Input`s and adjusted in rank as Keras adjusts it.

    For a model with one input: a one-element list/tuple is unwrapped; a dict is
    refused unless the model is Functional (which maps dicts by input name); an
    array whose rank is one less than the Input's, where the Input's last axis is
    1, gets that axis (the `y = 2x - 1` example's 1-D `x` for `Input(shape=[1])`);
    one more, with a last axis of 1, loses it; any other rank is an error.
    """
    inputs = getattr(model, "inputs", None)
    if not isinstance(inputs, (list, tuple)) or len(inputs) != 1:
        return x
    if isinstance(x, (list, tuple)) and len(x) == 1:
        x = x[0]
    if isinstance(x, dict):
        if _is_functional(model):
            return x
        raise ValueError(
            f"{type(model).__name__} model '{model.name}' takes one input array of shape "
            f"{tuple(inputs[0].shape)}, but `{name}` is a dict with keys {sorted(x)}. Pass "
            "the array itself, or build a Functional model whose Input layers are named "
            "like the keys."
        )
    if not isinstance(x, np.ndarray):
        return x
    return _adjust_rank(x, inputs[0], model, name, call)


def _is_functional(model):
    from numnet.models.sequential import Sequential
    return not isinstance(model, Sequential) and hasattr(model, "input_names")


def _adjust_rank(x, model_input, model, name, call):
    expected = tuple(model_input.shape)
    if x.ndim == len(expected):
        return x
    if x.ndim == len(expected) + 1 and x.shape[-1] == 1:
        return x.reshape(x.shape[:-1])
    if x.ndim == len(expected) - 1 and expected[-1] == 1:
        return x.reshape(x.shape + (1,))
    hint = ""
    if x.shape == tuple(expected[1:]):
        hint = (f" It looks like a single sample: pass `{name}[None]` (shape "
                f"{(1,) + x.shape}) or a batch of them.")
    raise ValueError(
        f"Invalid input shape for input '{getattr(model_input, 'name', 'input')}' of "
        f"model '{model.name}'{' in ' + call + '()' if call and call != 'validation' else ''}: "
        f"expected shape {expected} (a batch of samples), but `{name}` has the incompatible "
        f"shape {x.shape}.{hint}"
    )


def check_epochs(epochs):
    """`epochs` must be a non-negative integer (0 trains nothing and returns an empty History)."""
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"`epochs` must be a non-negative integer; received epochs={epochs!r}.")


def validation_split_size(n, validation_split):
    """How many of the last samples `validation_split` sets aside, as Keras computes it.

    Keras keeps `floor(n * (1 - validation_split))` samples for training and
    refuses a split leaving either part empty.
    """
    n_train = int(math.floor(n * (1.0 - validation_split)))
    if n_train == 0 or n_train == n:
        raise ValueError(
            f"Training data contains {n} samples, which is not sufficient to split it into a "
            f"validation and training set as specified by `validation_split={validation_split}`"
            f" ({n_train} training and {n - n_train} validation samples). Either provide more "
            "data, or a different value for the `validation_split` argument."
        )
    return n - n_train


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
