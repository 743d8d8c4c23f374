"""Turning what users pass to fit/evaluate/predict into checked arrays and batches.

In-memory data: inputs and targets may be an array, a list/tuple of arrays
or a dict of arrays; every leaf must have the same number of samples.
Problems (ragged sample counts, empty data, NaN/inf, non-numeric values,
inputs of the wrong kind or rank) are reported here, before any training
step, with the argument's name and the call they come from. Inputs whose rank
differs from the model's `Input` by a trailing axis of size 1 are adjusted as
Keras adjusts them (a 1-D `x` for `Input(shape=[1])` works).

Streamed data, read batch by batch (see `get_data_adapter`): a
`numnet.utils.PyDataset`, a Python generator or iterator, a re-iterable
dataset (each `iter()` one epoch, e.g. `numnet.utils.shard_dataset`), and
arrays memory-mapped from `.npy` files (`np.load(path, mmap_mode="r")`),
whose batches are gathered from the file, never copied whole. Each streamed
batch is checked as in-memory data is, and the error names the batch.
"""

import collections.abc
import contextlib
import itertools
import math
import types
import warnings

import numpy as np

from numnet.autodiff.tensor import Tensor
from numnet.backend import enclosing_rows, floatx, global_generator
from numnet.engine import Batch, Source
from numnet.layers.symbolic import producer
from numnet.tree import flatten, map_structure, same_kind
from numnet.models.prefetch import OrderedFetcher, Prefetcher
from numnet.models.py_dataset import PyDataset


# What each call is doing, for messages ("... before training").
_DOING = {"fit": "training", "validation": "validating", "train_on_batch": "training",
          "evaluate": "evaluating", "test_on_batch": "evaluating", "predict": "predicting",
          "predict_on_batch": "predicting"}
_ACCEPTED = ("NumPy arrays (or numnet tensors), a list/tuple of them for a model with several "
             "inputs, or a dict of them keyed by input name")


def _as_array(value, name, cast_float, allow_strings=False, keep_memmaps=False):
    if isinstance(value, Tensor):
        value = value.data
    if keep_memmaps and isinstance(value, np.memmap):
        return _checked_memmap(value, name)
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


def _checked_memmap(array, name):
    """A memory-mapped array, kept as it is: batches are cast when gathered."""
    if array.dtype.kind not in "fiub":
        raise ValueError(f"`{name}` must hold numbers; received a memory-mapped array of "
                         f"dtype {array.dtype} (shape {array.shape}).")
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


def standardize(structure, name, cast_float=True, allow_strings=False, keep_memmaps=False):
    """Converts every leaf of `structure` to an array (floats to floatx; strings kept for `x`).

    With `keep_memmaps`, memory-mapped arrays stay as they are (casting them
    would read the whole file into memory).
    """
    if structure is None:
        return None
    if isinstance(structure, (list, tuple)) and structure and all(
            np.ndim(v) == 0 and not isinstance(v, (list, tuple, dict, np.ndarray, Tensor))
            for v in structure):
        structure = np.asarray(structure)
    if isinstance(structure, dict):  # values may be structures too (nested outputs)
        return {k: standardize(v, f"{name}['{k}']", cast_float, allow_strings, keep_memmaps)
                for k, v in structure.items()}
    if isinstance(structure, (list, tuple)) and structure and any(
            isinstance(v, (np.ndarray, Tensor, dict, list, tuple)) for v in structure) and not \
            _is_rectangular_list(structure):
        return same_kind(structure, [standardize(v, f"{name}[{i}]", cast_float, allow_strings,
                                                 keep_memmaps)
                                     for i, v in enumerate(structure)])
    return _as_array(structure, name, cast_float, allow_strings, keep_memmaps)


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
    """How many NaN/inf entries the float array `leaf` holds (0 for other dtypes).

    Memory-mapped arrays count 0 here: their batches are checked as they are read.
    """
    if leaf is None or leaf.dtype.kind != "f" or isinstance(leaf, np.memmap):
        return 0
    # One pass without a temporary: the sum is finite unless an entry is not
    # (or the sum overflows, which the exact count then clears). A column slice of a
    # table is summed with the rest of its rows: one contiguous pass, which is faster.
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(enclosing_rows(leaf)[0], axis=None)):
            return 0
    return int(np.size(leaf) - np.count_nonzero(np.isfinite(leaf)))


def warn_non_finite_inputs(x, stacklevel=4):
    """`predict` keeps NaN/inf inputs (their outputs are NaN, as in Keras) but says so."""
    bad = sum(_non_finite(leaf) for leaf in flatten(x))
    if bad:
        warnings.warn(f"`x` contains {bad} NaN or infinite value(s): the outputs of the "
                      "samples holding them will be NaN (or inf).", UserWarning,
                      stacklevel=stacklevel)


class NonFiniteDataWarning(UserWarning):
    """Training or evaluation data holds NaN or inf values.

    Keras trains on such data (the loss of the batches holding them is NaN);
    numnet does too, and says so. To refuse such data instead, turn this
    warning into an error: `warnings.simplefilter("error", NonFiniteDataWarning)`.
    """


def check_finite(structure, name, call=None):
    """Warns (`NonFiniteDataWarning`) if a float array holds NaN or inf, worded for `call`.

    Memory-mapped arrays are checked batch by batch as they are read instead.
    """
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
            model=None, keep_memmaps=False, unpack=True, names=None):
    """Standardizes (x, y, sample_weight) and checks kinds, sample counts, ranks and values.

    Args:
        call: the public method the data came to ("fit", "validation",
            "evaluate", "predict", "train_on_batch", ...): messages name it,
            and `predict` warns about NaN/inf inputs instead of refusing them
            (their outputs are NaN, as in Keras).
        model: the model, whose `inputs` shape the inputs are checked and
            adjusted against (as Keras' Functional models do).
        keep_memmaps: leave memory-mapped arrays uncast and unchecked (their
            batches are, when read).
        unpack: a tuple `x` of 2 or 3 arrays without `y` is `(x, y[, sample_weight])`.
        names: the three names messages use (default `x`, `y`, `sample_weight`).
    """
    if names is None:
        names = ("validation_data[0]", "validation_data[1]", "validation_data[2]") \
            if call == "validation" else ("x", "y", "sample_weight")
    if x is None:
        raise ValueError(f"`{names[0]}` is required; received x=None.")
    if unpack and isinstance(x, tuple) and y is None and len(x) in (2, 3) and require_y and \
            not _is_rectangular_list(x):
        x, y, *rest = x
        sample_weight = rest[0] if rest else sample_weight
    if model is not None:
        check_required_inputs(x, model)
    x = standardize(x, names[0], allow_strings=True, keep_memmaps=keep_memmaps)
    if model is not None:
        x = match_model_inputs(x, model, names[0], call)
    y = standardize(y, names[1], cast_float=False, keep_memmaps=keep_memmaps)
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
        sample_weight = getattr(sample_weight, "data", sample_weight)
        if not (keep_memmaps and isinstance(sample_weight, np.memmap)):
            sample_weight = np.asarray(sample_weight, dtype=floatx())
        if sample_weight.ndim == 0 or sample_weight.shape[0] != n:
            raise ValueError(
                f"`{names[2]}` must have one weight per sample ({n}); received shape "
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
        warn_non_finite_inputs(x, stacklevel=5)
        return
    check_finite(x, names[0], call)
    if y is not None:
        check_finite(y, names[1], call)
    if sample_weight is not None:
        check_finite(sample_weight, names[2], call)


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
        if value is None and not getattr(producer(tensor), "optional", True):
            raise ValueError(f"The input '{tensor.name}' is not optional, but None was "
                             "passed. Please provide a valid tensor.")


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
    return map_structure(lambda a: None if a is None else a[index], structure)


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


# ------------------------------------------------------------------ adapters
_OUT_OF_DATA = ("Your input ran out of data; interrupting training. Make sure that your dataset "
                "or generator can generate at least `steps_per_epoch * epochs` batches. You may "
                "need to use the `.repeat()` function when building your dataset.")
# Batches a streamed input is read ahead by (a generator, a dataset, a memory-mapped array).
PREFETCH_DEPTH = 3


def _is_iterator(x):
    return isinstance(x, (types.GeneratorType, collections.abc.Iterator))


def _is_dataset(x):
    """A re-iterable dataset: each `iter(x)` is one epoch of batches (not array-like data)."""
    return not isinstance(x, (np.ndarray, Tensor, list, tuple, dict, str, bytes, range)) and \
        hasattr(type(x), "__iter__") and not hasattr(x, "__array__") and not hasattr(x, "shape")


def is_stream(x):
    """Whether `x` is read batch by batch: a PyDataset, a generator/iterator or a dataset."""
    return isinstance(x, PyDataset) or _is_iterator(x) or _is_dataset(x)


def _kind(x):
    if isinstance(x, PyDataset):
        return "PyDataset"
    return "generator" if _is_iterator(x) else "dataset"


class DataAdapter:
    """One input of fit/evaluate/predict, read as engine `Batch`es, epoch after epoch.

    Follows Keras 3's `EpochIterator`: an epoch is `steps_per_epoch` steps, or
    one pass over the data when that is None. With `steps_per_epoch`, an
    epoch takes the next batches of the current pass; a pass that runs out
    ends the epoch early (with Keras' warning) and the next epoch starts a new
    pass, or, for input that cannot start again (a generator), training stops.

    Attributes:
        num_batches: batches in one pass (None: unknown until the input runs out).
        exhausted: the input ran out and cannot start again.
    """

    restartable = True

    def __init__(self, num_batches, steps_per_epoch=None):
        self.num_batches = num_batches
        self.steps_per_epoch = None if steps_per_epoch is None else int(steps_per_epoch)
        self.exhausted = False
        self._pass = None   # the current pass over the data: an iterator of Batch
        self._seen = 0      # batches of the current pass already taken

    @property
    def steps(self):
        """Steps per epoch, as the progress bar shows them (None: unknown)."""
        return self.steps_per_epoch or self.num_batches

    def epoch(self):
        """This epoch's `(step, Batch)` pairs; use as `with adapter.epoch() as batches:`."""
        return contextlib.closing(self._epoch())

    def _epoch(self):
        self.on_epoch_begin()
        try:
            if self._pass is None or self.steps_per_epoch is None:
                self._end_pass()
                self._pass, self._seen = self._new_pass(), 0
            if self.steps_per_epoch is None and self.num_batches is not None:
                yield from self._whole_pass()  # the common case, at the least cost per step
                return
            limit = self.steps
            step = 0
            while limit is None or step < limit:
                if self.num_batches is not None and self._seen >= self.num_batches:
                    if self.steps_per_epoch:
                        warnings.warn(_OUT_OF_DATA, stacklevel=4)
                    break
                batch = next(self._pass, None)
                if batch is None:
                    self._ran_out()
                    break
                self._seen += 1
                yield step, batch
                step += 1
            if self.num_batches is not None and self._seen >= self.num_batches:
                self._end_pass()
        finally:
            self.on_epoch_end()

    def _whole_pass(self):
        """An epoch that is one new pass of known length: its batches, then the pass ends."""
        steps = itertools.count()
        yield from zip(steps, itertools.islice(self._pass, self.num_batches))
        # `zip` drew one step number more than it paired (a consumer that stops early
        # closes this generator at the `yield from`, and the pass is then left as it is).
        self._seen = next(steps) - 1
        if self._seen < self.num_batches:
            self._ran_out()
        else:
            self._end_pass()

    def _ran_out(self):
        """The pass ended before its known length, or an input of unknown length ended."""
        if self.num_batches is None:
            self.num_batches = self._seen  # the length, learned on the first pass
        elif self.steps_per_epoch:
            warnings.warn(_OUT_OF_DATA, stacklevel=5)
        if not self.restartable:
            self.exhausted = True
        self._end_pass()

    def out_of_data(self, epochs_left):
        """True (with Keras' warning) when more epochs are due but the input has run out."""
        if self.exhausted and epochs_left > 0:
            warnings.warn(_OUT_OF_DATA, stacklevel=3)
            return True
        return False

    def _end_pass(self):
        if self._pass is not None and hasattr(self._pass, "close"):
            self._pass.close()
        self._pass, self._seen = None, 0

    def _new_pass(self):
        raise NotImplementedError

    def on_epoch_begin(self):
        """Called before each epoch's first batch (a PyDataset's hook)."""

    def on_epoch_end(self):
        """Called after each epoch's last batch."""

    def close(self):
        """Stops any reading in the background (at the end of fit/evaluate/predict)."""
        self._end_pass()

    def first_batch(self):
        """The first batch's arrays: what the model is built and checked on."""
        raise NotImplementedError

    def targets(self):
        """All targets at once when they are in memory (for label checks), else None."""
        return None

    def describe(self):
        """What every rank of a distributed fit must agree on: steps and per-sample shapes."""
        structure = self.first_batch()
        return {"steps": self.steps, "data": [None if leaf is None else
                                              (tuple(leaf.shape[1:]), leaf.dtype.str)
                                              for leaf in flatten(structure)]}


_CHUNK = 1024  # batches whose row indices an array pass makes at once


class ArrayAdapter(DataAdapter):
    """Arrays (prepared by `prepare`) in batches of `batch_size`, shuffled each pass if asked.

    In-memory arrays make one engine `Source`; each step is a `Batch` of row
    indices that a replay gathers straight into its input buffers. Memory-
    mapped arrays are streamed: a background thread gathers each batch's
    rows from the file (shuffling reads rows, never the whole file) and casts
    and checks them. With `shard` (a distribution: `rank`, `size`), each rank
    takes its equal part of every global batch of `batch_size * size` rows;
    the `n % size` rows left over in a pass are not used in that pass.
    """

    def __init__(self, arrays, batch_size, shuffle=False, steps_per_epoch=None, shard=None,
                 call="fit"):
        self.arrays = arrays
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.shard = shard
        self.call = call
        source = Source(arrays)
        self.n = source.rows
        self.streamed = any(type(leaf) is np.memmap for leaf in source.data_leaves)
        self.source = None if self.streamed else source
        size = 1 if shard is None else shard.size
        self.used = self.n - self.n % size
        super().__init__(math.ceil(self.used / (self.batch_size * size)), steps_per_epoch)

    def with_batch_size(self, batch_size):
        """The same arrays in batches of `batch_size` (evaluation in bigger chunks)."""
        return ArrayAdapter(self.arrays, batch_size, self.shuffle, self.steps_per_epoch,
                            self.shard, self.call)

    def _index_chunks(self, order):
        """The pass's row indices, batch by batch, in lists of up to `_CHUNK` batches: made a
        list at a time (cheaper per step than a generator's item), without holding a whole
        pass's index views at once."""
        batch = self.batch_size
        if self.shard is not None:
            indices = self._shard_indices(order)
            yield from iter(lambda: list(itertools.islice(indices, _CHUNK)), [])
            return
        starts = range(0, self.used, batch)  # (a slice past the end stops at it)
        for first in range(0, len(starts), _CHUNK):
            chunk = starts[first:first + _CHUNK]
            yield [order[start:start + batch] for start in chunk] if order is not None else \
                [slice(start, start + batch) for start in chunk]

    def _shard_indices(self, order):
        batch = self.batch_size
        rank, size = self.shard.rank, self.shard.size
        step = batch * size
        for start in range(0, self.used, step):
            local = min(step, self.used - start) // size
            low = start + rank * local
            yield order[low:low + local] if order is not None else slice(low, low + local)

    def _new_pass(self):
        order = global_generator().permutation(self.n) if self.shuffle else None
        chunks = self._index_chunks(order)
        if not self.streamed:
            source = self.source
            return itertools.chain.from_iterable(
                [Batch(source, index) for index in chunk] for chunk in chunks)
        return OrderedFetcher(self._gather, itertools.chain.from_iterable(chunks), workers=1,
                              depth=PREFETCH_DEPTH)

    def _gather(self, index):
        """Reads the rows `index` of every memory-mapped leaf into a checked `Batch`."""
        return Batch(Source(self._rows(index), stream=self), slice(None))

    def _rows(self, index):
        names = ("x", "y", "sample_weight")
        structure = self.arrays if self.call != "predict" else (self.arrays,)
        parts = []
        for part, name in zip(structure, names):
            parts.append(None if part is None else map_structure(
                lambda leaf: _read_rows(leaf, index, cast_float=name != "y"), part))
        if self.call != "predict":
            for part, name in zip(parts, names):
                check_finite(part, name, self.call)
            return tuple(parts)
        warn_non_finite_inputs(parts[0])
        return parts[0]

    def first_batch(self):
        if self.streamed:
            return self._rows(slice(0, 1))
        if self.call == "predict":
            return take(self.arrays, slice(0, 1))
        return tuple(take(part, slice(0, 1)) for part in self.arrays)

    def targets(self):
        return self.arrays[1] if self.call != "predict" else None


def _read_rows(leaf, index, cast_float):
    """Rows of `leaf` as an in-memory array (floats to floatx; from a file: a real read)."""
    if not isinstance(leaf, np.memmap):
        return leaf[index]
    rows = leaf[index]
    kind = rows.dtype.kind
    dtype = np.dtype(floatx()) if (cast_float and kind in "fiub") or rows.dtype == np.float64 \
        else rows.dtype
    # A slice of a memory map is a view of the file: np.array reads it now (here, in the
    # reading thread), a gather has read it already.
    return np.array(rows, dtype=dtype) if type(index) is slice else \
        np.asarray(rows).astype(dtype, copy=False)


class _BatchMaker:
    """Turns what a stream gives for one batch into a checked engine `Batch`.

    Accepts `(x,)`, `(x, y)`, `(x, y, sample_weight)` (lists too), a bare
    array or a dict of inputs (`x` alone), as Keras' PyDataset adapter does;
    checks it as `prepare` checks in-memory data, and names the batch in errors.
    """

    def __init__(self, model, call, class_weight, what):
        self.model = model
        self.call = call
        self.class_weight = class_weight
        self.what = what
        self.stream = None  # the adapter, set by it
        self.first_shapes = None

    def __call__(self, raw, position):
        x, y, sample_weight = self._unpack(raw, position)
        predicting = self.call == "predict"
        try:
            x, y, sample_weight = prepare(
                x, None if predicting else y, None if predicting else sample_weight,
                require_y=not predicting, call=self.call, model=self.model, unpack=False)
            if self.class_weight is not None:
                sample_weight = class_weights_to_sample_weights(y, self.class_weight,
                                                                sample_weight)
        except ValueError as error:
            raise ValueError(f"{self.what}, batch {position}: {error}") from None
        x = self.model._standardize_model_inputs(x)
        structure = x if predicting else (x, y, sample_weight)
        source = Source(structure, stream=self.stream)
        self._check_like_first(source, position)
        return Batch(source, slice(None))

    def _check_like_first(self, source, position):
        """Every batch must have the first batch's structure and sample shapes."""
        shapes = [None if leaf is None else leaf.shape for leaf in source.leaves]
        if self.first_shapes is None:
            self.first_shapes = shapes
            return
        first = self.first_shapes
        if len(first) == len(shapes) and all(
                (a is None) == (b is None) and (a is None or len(a) == len(b))
                for a, b in zip(first, shapes)):
            return  # sizes may vary where the model's inputs allow it: the model checks them
        raise ValueError(
            f"{self.what}, batch {position}: its arrays have shapes {shapes} where the first "
            f"batch's had {first}. Every batch must have the same structure and shapes, "
            "except for its number of rows."
        )

    def _unpack(self, raw, position):
        if isinstance(raw, (np.ndarray, Tensor, dict)):
            return raw, None, None
        if isinstance(raw, list):
            raw = tuple(raw)
        if isinstance(raw, tuple) and len(raw) in (1, 2, 3):
            return raw + (None,) * (3 - len(raw))
        raise ValueError(
            f"{self.what}, batch {position}: a batch must be a tuple (x,), (x, y) or "
            "(x, y, sample_weight), an array, or a dict of inputs; received "
            f"{type(raw).__name__}: {str(raw)[:100]}"
        )


class _StreamAdapter(DataAdapter):
    """Batches streamed from Python code; the first one is read at once, to build the model.

    Every batch's `Source` names this adapter as its stream (see `numnet.engine.Source`).
    """

    def __init__(self, maker, num_batches, steps_per_epoch):
        self.maker = maker
        maker.stream = self
        self._first = None
        super().__init__(num_batches, steps_per_epoch)

    def first_batch(self):
        return self._first.arrays()


class PyDatasetAdapter(_StreamAdapter):
    """A `PyDataset`: batch indices in order (shuffled per pass if asked), read ahead.

    `workers` threads (or processes with `use_multiprocessing`) read up to
    `max_queue_size` batches ahead, in index order; `workers=0` reads in the
    calling thread. With `shard`, rank r takes every size-th batch of the
    pass, from r (all ranks take `len // size` batches).
    """

    def __init__(self, dataset, maker, shuffle, steps_per_epoch, shard):
        self.dataset = dataset
        self.shard = shard
        count = dataset.num_batches
        if count is None:
            if steps_per_epoch is None:
                raise ValueError("The PyDataset has no length (`num_batches` is None): pass "
                                 "`steps_per_epoch` (or `steps`) to say how many batches to "
                                 "take.")
            if shuffle:
                warnings.warn("`shuffle=True` was passed, but will be ignored since the data "
                              "`x` was provided as an infinite PyDataset. The PyDataset is "
                              "expected to already be shuffled.", stacklevel=4)
            shuffle = False
        elif count == 0:
            raise ValueError("The PyDataset has length 0.")
        self.shuffle = shuffle
        self.workers = dataset.workers
        self.processes = bool(dataset.use_multiprocessing) and self.workers > 0
        self.depth = max(1, dataset.max_queue_size)
        if shard is not None and count is not None:
            count //= shard.size
        super().__init__(maker, count, steps_per_epoch)
        self._first = maker(dataset[0], 0)

    def _keys(self):
        count = self.dataset.num_batches
        if count is None:
            return itertools.count()
        order = global_generator().permutation(count) if self.shuffle else np.arange(count)
        if self.shard is not None:
            order = order[self.shard.rank::self.shard.size][:count // self.shard.size]
        return order.tolist()

    def _new_pass(self):
        keys = self._keys()
        if self.workers == 0:
            return (self._read(index) for index in keys)
        if self.processes:
            return OrderedFetcher(_process_getitem, keys, self.workers, self.depth,
                                  processes=True, initializer=_process_dataset,
                                  initargs=(self.dataset,),
                                  post=lambda pair: self.maker(pair[1], pair[0]))
        return OrderedFetcher(self._read, keys, self.workers, self.depth)

    def _read(self, index):
        return self.maker(self.dataset[index], index)

    def on_epoch_begin(self):
        self.dataset.on_epoch_begin()

    def on_epoch_end(self):
        if self._pass is not None and hasattr(self._pass, "pause"):
            self._pass.pause()  # no __getitem__ runs while the dataset changes
        self.dataset.on_epoch_end()


_PROCESS_DATASET = None


def _process_dataset(dataset):
    global _PROCESS_DATASET
    _PROCESS_DATASET = dataset


def _process_getitem(index):
    return index, _PROCESS_DATASET[index]


class IteratorAdapter(_StreamAdapter):
    """A generator or iterator: one stream read ahead on a thread; it cannot start again."""

    restartable = False

    def __init__(self, iterator, maker, steps_per_epoch):
        super().__init__(maker, None, steps_per_epoch)
        try:
            first = next(iterator)
        except StopIteration:
            raise ValueError("When passing a Python generator to a numnet model, the "
                             "generator must yield at least one batch. Received an empty "
                             "generator.") from None
        self._first = maker(first, 0)
        rest = (maker(raw, position) for position, raw in enumerate(iterator, start=1))
        self._stream = Prefetcher(itertools.chain([self._first], rest), depth=PREFETCH_DEPTH)

    def _new_pass(self):
        return self._stream

    def _end_pass(self):
        self._pass, self._seen = None, 0  # the stream carries on: nothing to close

    def close(self):
        self._stream.close()


class DatasetAdapter(_StreamAdapter):
    """A re-iterable dataset: each `iter()` is one pass, read ahead on a thread."""

    def __init__(self, dataset, maker, steps_per_epoch):
        self.dataset = dataset
        count = getattr(dataset, "num_batches", None)
        if count is None and hasattr(dataset, "__len__"):
            count = len(dataset)
        super().__init__(maker, count, steps_per_epoch)
        iterator = iter(dataset)
        try:
            self._first = maker(next(iterator), 0)
        except StopIteration:
            raise ValueError(f"The dataset {type(dataset).__name__} gave no batch.") from None
        self._opened = (self._first, iterator)

    def _new_pass(self):
        if self._opened is not None:
            first, iterator = self._opened
            self._opened = None
            head = [first]
        else:
            iterator, head = iter(self.dataset), []
        rest = (self.maker(raw, position) for position, raw in
                enumerate(iterator, start=len(head)))
        return Prefetcher(itertools.chain(head, rest), depth=PREFETCH_DEPTH)


def get_data_adapter(x, y=None, sample_weight=None, *, model, call, batch_size=32, steps=None,
                     shuffle=False, class_weight=None, shard=None):
    """The adapter reading `x` (and `y`, `sample_weight`) for `call` (Keras' get_data_adapter).

    Args:
        call: "fit", "validation", "evaluate" or "predict".
        steps: steps per epoch for `fit`; the number of batches to take for
            `evaluate`/`predict` (a cap for arrays).
        shard: a distribution (`rank`, `size`) whose rank takes its share of
            arrays and PyDatasets (fit only).
    """
    if type(x) is not np.ndarray and is_stream(x):
        return _stream_adapter(x, y, sample_weight, model=model, call=call, steps=steps,
                               shuffle=shuffle, class_weight=class_weight, shard=shard)
    x, y, sample_weight = prepare(x, y, sample_weight, require_y=call != "predict", call=call,
                                  model=model, keep_memmaps=True)
    if class_weight is not None:
        sample_weight = class_weights_to_sample_weights(y, class_weight, sample_weight)
    return array_adapter(model, x, y, sample_weight, call=call, batch_size=batch_size,
                         steps=steps, shuffle=shuffle, shard=shard)


def array_adapter(model, x, y, sample_weight, *, call, batch_size, steps=None, shuffle=False,
                  shard=None):
    """An `ArrayAdapter` for arrays already through `prepare`."""
    x = model._standardize_model_inputs(x)
    arrays = x if call == "predict" else (x, y, sample_weight)
    fitting = call == "fit"
    adapter = ArrayAdapter(arrays, batch_size, shuffle, steps if fitting else None,
                           shard if fitting else None, call)
    if call != "fit" and steps is not None:
        adapter.num_batches = min(adapter.num_batches, int(steps))
    return adapter


def _stream_adapter(x, y, sample_weight, *, model, call, steps, shuffle, class_weight, shard):
    kind = _kind(x)
    if y is not None:
        raise ValueError(f"When providing `x` as a {kind}, `y` should not be passed. Instead, "
                         f"the targets should be included as part of the {kind}.")
    if sample_weight is not None:
        raise ValueError(f"When providing `x` as a {kind}, `sample_weights` should not be "
                         f"passed. Instead, the sample weights should be included as part of "
                         f"the {kind}.")
    if class_weight is not None and kind == "generator":
        raise ValueError("Argument `class_weight` is not supported for Python generator "
                         f"inputs. Received: class_weight={class_weight}")
    what = {"validation": "validation_data"}.get(call, "x")
    maker = _BatchMaker(model, call, class_weight, f"`{what}` ({type(x).__name__})")
    if kind == "PyDataset":
        return PyDatasetAdapter(x, maker, shuffle, steps, shard if call == "fit" else None)
    if shuffle and call == "fit" and not isinstance(getattr(x, "shuffle", None), bool):
        # (a dataset with a `shuffle` setting of its own, like shard_dataset's, decides)
        warnings.warn(f"`shuffle=True` was passed, but will be ignored since the data `x` was "
                      f"provided as a {kind}. The {kind} is expected to yield already-shuffled "
                      "data.", stacklevel=4)
    if shard is not None and call == "fit" and steps is None and kind == "generator":
        raise ValueError("Distributed training on a generator needs `steps_per_epoch`: every "
                         "rank must take the same number of steps.")
    return IteratorAdapter(x, maker, steps) if kind == "generator" else \
        DatasetAdapter(x, maker, steps)


class FitData:
    """What `fit` reads: the training adapter, and the validation data.

    The validation adapter is made at the first validation (its batch size
    depends on the callbacks) and kept for the next ones. `with FitData(...)`
    stops all background reading at the end.
    """

    def __init__(self, model, train, validation, shard=None):
        self.model = model
        self.train = train
        self.validation = validation  # None, prepared (x, y, sample_weight), or a stream
        self.shard = shard
        self._validation_adapter = None

    def validation_adapter(self, batch_size, steps):
        adapter = self._validation_adapter
        streamed = is_stream(self.validation)
        if adapter is None or (not streamed and adapter.batch_size != batch_size):
            if adapter is not None:
                adapter.close()
            if streamed:
                adapter = _stream_adapter(self.validation, None, None, model=self.model,
                                          call="validation", steps=steps, shuffle=False,
                                          class_weight=None, shard=None)
            else:
                adapter = array_adapter(self.model, *self.validation, call="validation",
                                        batch_size=batch_size, steps=steps)
            self._validation_adapter = adapter
        return adapter

    def close(self, error=None):
        """Stops the reading; under distribution, tells the other ranks how this fit ended."""
        self.train.close()
        if self._validation_adapter is not None:
            self._validation_adapter.close()
        if self.shard is not None:
            self.shard.end_fit(error)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, error, traceback):
        self.close(error)
        return False


def fit_data(model, x, y, sample_weight, *, validation_data, validation_split, class_weight,
             batch_size, steps_per_epoch, shuffle, shard=None):
    """`fit`'s data, checked, with its validation part (given or split off) as `FitData`."""
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"`validation_split` must be in [0, 1); received {validation_split}.")
    validation = None
    if is_stream(x):
        if validation_split and validation_data is None:
            raise ValueError("`validation_split` is only supported for NumPy arrays (and "
                             f"tensors); received x as a {_kind(x)}. Pass `validation_data`.")
        train = _stream_adapter(x, y, sample_weight, model=model, call="fit",
                                steps=steps_per_epoch, shuffle=shuffle,
                                class_weight=class_weight, shard=shard)
    else:
        x, y, sample_weight = prepare(x, y, sample_weight, call="fit", model=model,
                                      keep_memmaps=True)
        if validation_data is None and validation_split:
            n_val = validation_split_size(num_samples(x, "x"), validation_split)
            x, x_val = split_last(x, n_val)
            y, y_val = split_last(y, n_val)
            sample_weight, sw_val = split_last(sample_weight, n_val)
            validation = (x_val, y_val, sw_val)
        if class_weight is not None:
            sample_weight = class_weights_to_sample_weights(y, class_weight, sample_weight)
        train = array_adapter(model, x, y, sample_weight, call="fit", batch_size=batch_size,
                              steps=steps_per_epoch, shuffle=shuffle, shard=shard)
    if validation_data is not None:
        validation = _validation_data(validation_data, model)
    return FitData(model, train, validation, shard)


def _validation_data(validation_data, model):
    if is_stream(validation_data):
        return validation_data
    if not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (2, 3):
        raise ValueError(
            "`validation_data` must be a tuple (x_val, y_val) or (x_val, y_val, "
            "val_sample_weight), or a PyDataset, generator or dataset yielding such batches."
        )
    return prepare(*validation_data, call="validation", model=model, keep_memmaps=True)
