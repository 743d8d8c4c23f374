"""`ModelCheckpoint`: saves the model (or its weights) during training."""

import os
import warnings

from numnet.callbacks.callback import is_chief
from numnet.callbacks.monitor import MonitorCallback
from numnet.utils.io_utils import print_msg


class ModelCheckpoint(MonitorCallback):
    """Saves the model at the end of every epoch (or every `save_freq` batches).

    Args:
        filepath: where to save; may hold `{epoch:02d}` (1-based) and any `logs`
            key, e.g. `"ckpt_{epoch:02d}_{val_loss:.2f}.keras"`. Must end in
            `.keras`, or `.weights.h5` with `save_weights_only=True`.
        monitor: the quantity compared with `save_best_only`.
        verbose: 1 prints a line at each save.
        save_best_only: only save when `monitor` improves (the file at
            `filepath` then always holds the best model so far).
        save_weights_only: save only the weights (`model.save_weights`).
        mode: `"auto"`, `"min"` or `"max"`.
        save_freq: `"epoch"`, or an integer number of batches between saves.
        initial_value_threshold: the value `monitor` must beat to be saved first.

    Every save is atomic: a crash mid-save leaves the previous checkpoint intact.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor=monitor, mode=mode)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self.initial_value_threshold = initial_value_threshold
        self.best = initial_value_threshold
        self._batches_seen_since_last_saving = 0
        self._current_epoch = 0
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are "
                             "'epoch' or a positive integer (a number of batches).")
        if save_weights_only:
            if not self.filepath.endswith(".weights.h5"):
                raise ValueError(
                    "When using `save_weights_only=True` in `ModelCheckpoint`, the filepath "
                    "provided must end in `.weights.h5` (Keras weights format). Received: "
                    f"filepath={self.filepath}")
        elif not self.filepath.endswith(".keras"):
            raise ValueError(
                "The filepath provided must end in `.keras` (Keras model format). Received: "
                f"filepath={self.filepath}")
        if isinstance(save_freq, int):
            # Only batch-frequency checkpoints pay for a per-batch hook.
            self.__class__ = _with_batch_hook(type(self), _BatchModelCheckpoint)

    def on_train_begin(self, logs=None):
        self._batches_seen_since_last_saving = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save_model(epoch=epoch, batch=None, logs=logs)

    def _should_save(self, epoch, logs):
        if not self.save_best_only:
            return True
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=3)
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                best = "None" if self.best is None else f"{self.best:.5f}"
                print_msg(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                      f"{current:.5f}, saving model to {self._last_path}")
            self.best = current
            return True
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
        return False

    def _save_model(self, epoch, batch, logs):
        logs = logs or {}
        self._last_path = self._get_file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs) or not is_chief():
            return  # (the other ranks of a distributed job track the best, rank 0 writes)
        if self.verbose > 0 and not self.save_best_only:
            print_msg(f"\nEpoch {epoch + 1}: saving model to {self._last_path}")
        if self.save_weights_only:
            self.model.save_weights(self._last_path, overwrite=True)
        else:
            self.model.save(self._last_path, overwrite=True)

    def _get_file_path(self, epoch, batch, logs):
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except (KeyError, IndexError, ValueError) as error:
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: '
                f"{error!r}. Available keys: {['epoch', 'batch'] + sorted(logs)}") from error


def _with_batch_hook(cls, batch_cls, _cache={}):
    """`batch_cls` for the base class itself; for a user subclass, a subclass of it that
    also inherits `batch_cls`'s batch hook (so its overrides and isinstance still hold)."""
    if issubclass(cls, batch_cls):
        return cls
    if cls is batch_cls.__base__:
        return batch_cls
    if cls not in _cache:
        _cache[cls] = type(cls.__name__, (cls, batch_cls),
                           {"__module__": cls.__module__, "__qualname__": cls.__qualname__})
    return _cache[cls]


class _BatchModelCheckpoint(ModelCheckpoint):
    """`ModelCheckpoint` with an integer `save_freq`: also hooks batch ends."""

    def on_train_batch_end(self, batch, logs=None):
        self._batches_seen_since_last_saving += 1
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save_model(epoch=self._current_epoch, batch=batch, logs=logs)
