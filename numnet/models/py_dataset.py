"""`PyDataset`: batches computed by Python code, for data that does not fit in memory.

Keras 3's `keras.utils.PyDataset` (also `keras.utils.Sequence`), with its
semantics: `__len__` is the number of batches, `__getitem__(index)` returns
one whole batch (`(x,)`, `(x, y)`, `(x, y, sample_weight)`, a bare array for
`x` alone, or a dict of inputs), and `fit` calls `on_epoch_begin()` and
`on_epoch_end()` around every epoch. The constructor arguments configure how
`fit`, `evaluate` and `predict` read it, not the dataset itself:

- `workers`: how many threads (or processes) call `__getitem__` ahead of the
  training step, in index order. With `workers=1` (the default) one
  background thread reads ahead; `workers=0` reads every batch in the
  calling thread, when it is needed (for datasets that must not run in
  another thread).
- `use_multiprocessing`: use processes instead of threads (the dataset must
  be picklable; each epoch's workers start from the dataset as it is then).
- `max_queue_size`: how many batches may be read ahead.

It lives with the models (the data adapter reads it) and is exported as
`numnet.utils.PyDataset`.
"""

import itertools
import warnings


class PyDataset:
    """Base class for datasets computed batch by batch in Python (see the module docstring).

    Subclasses implement `__len__` (the number of batches; or the
    `num_batches` property, None for an endless dataset) and
    `__getitem__(index)`, and call `super().__init__(**kwargs)`.

    Example:

    ```python
    class MemmapBatches(numnet.utils.PyDataset):
        def __init__(self, path_x, path_y, batch_size, **kwargs):
            super().__init__(**kwargs)
            self.x = np.load(path_x, mmap_mode="r")
            self.y = np.load(path_y, mmap_mode="r")
            self.batch_size = batch_size

        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)

        def __getitem__(self, index):
            rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
            return self.x[rows], self.y[rows]
    ```
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self):
        missing = False
        for name, default in (("_workers", 1), ("_use_multiprocessing", False),
                              ("_max_queue_size", 10)):
            if not hasattr(self, name):
                setattr(self, name, default)
                missing = True
        if missing:
            warnings.warn(
                "Your `PyDataset` class should call `super().__init__(**kwargs)` in its "
                "constructor. `**kwargs` can include `workers`, `use_multiprocessing`, "
                "`max_queue_size`. Do not pass these arguments to `fit()`, as they will be "
                "ignored.", stacklevel=3)

    @property
    def workers(self):
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value):
        self._workers = value

    @property
    def use_multiprocessing(self):
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = value

    @property
    def max_queue_size(self):
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = value

    def __getitem__(self, index):
        """The batch at position `index`."""
        raise NotImplementedError(f"{type(self).__name__} must implement `__getitem__(index)`.")

    def __iter__(self):
        """The batches in order, read in the calling thread (no workers: as in Keras)."""
        count = self.num_batches
        for index in (itertools.count() if count is None else range(count)):
            yield self[index]

    @property
    def num_batches(self):
        """The number of batches (`len(self)`), or None for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            f"{type(self).__name__} must implement `__len__` or the `num_batches` property "
            "(None for an endless dataset)."
        )

    def on_epoch_begin(self):
        """Called at the beginning of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch (e.g. to reshuffle)."""


# Keras 3 exports the same class under its Keras 2 name.
Sequence = PyDataset

__all__ = ["PyDataset", "Sequence"]
