"""`BackupAndRestore`: resume an interrupted `fit` where it stopped."""

import json
import os
import re

from numnet.callbacks.callback import Callback, is_chief

_METADATA = "training_metadata.json"
_WEIGHTS_PATTERN = re.compile(r"^backup_\d+\.weights\.h5$")


class BackupAndRestore(Callback):
    """Backs up the training state so a killed run restarts where it left off.

    At the end of every epoch (or every `save_freq` batches) it saves the
    weights and the optimizer's state into `backup_dir`, together with the
    epoch and the state of numnet's global random generator. When `fit` starts
    with a backup present, the state is restored and training resumes at the
    saved epoch. With `save_freq="epoch"`, a run killed (even with SIGKILL) and
    started again ends with exactly the weights of an uninterrupted run.

    Each backup is written under a new name and then published by an atomic
    rename of `training_metadata.json`, so a crash mid-save leaves the
    previous backup usable.

    Args:
        backup_dir: the folder holding the backup.
        save_freq: `"epoch"`, an integer number of batches, or False (never save).
            Mid-epoch backups restart that epoch from its beginning.
        double_checkpoint: also keep the previous backup, and fall back to it
            when the latest cannot be read (every backup here is already
            crash-safe; this guards against a file damaged afterwards).
        delete_checkpoint: delete the backup when training finishes.
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq not in ("epoch", False) and not (isinstance(save_freq, int) and
                                                      save_freq > 0):
            raise ValueError(f"Invalid value for argument `save_freq`. Received: "
                             f"save_freq={save_freq}. Expected either 'epoch', False or a "
                             "positive integer.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._current_epoch = 0
        self._last_batch_seen = 0
        self._batches_seen = 0
        self._counter = 0
        self._epoch_rng_state = None
        if isinstance(save_freq, int) and not isinstance(save_freq, bool):
            from numnet.callbacks.model_checkpoint import _with_batch_hook
            self.__class__ = _with_batch_hook(type(self), _BatchBackupAndRestore)

    @property
    def _metadata_path(self):
        return os.path.join(self.backup_dir, _METADATA)

    # Keras' names for the files of the latest and the previous backup.
    _training_metadata_path = _metadata_path

    @property
    def _prev_training_metadata_path(self):
        return self._metadata_path + ".bkp"

    @property
    def _weights_path(self):
        return self._weights_file(self._metadata_path)

    @property
    def _prev_weights_path(self):
        return self._weights_file(self._prev_training_metadata_path)

    def _weights_file(self, metadata_path):
        """The weights file a metadata file names (None if it cannot be read)."""
        try:
            return os.path.join(self.backup_dir, self._read_metadata(metadata_path)["weights"])
        except ValueError:
            return None

    def on_train_begin(self, logs=None):
        if not self.model.built:
            raise ValueError("To use the BackupAndRestore callback, you model must be built "
                             "before you call `fit()`.")
        self._batches_seen = 0
        if not os.path.exists(self._metadata_path):
            return
        metadata = self._restore_weights()
        self._counter = metadata["counter"]
        self._current_epoch = metadata["epoch"]
        self.model._initial_epoch = metadata["epoch"]
        state = metadata.get("rng_state")
        if state is not None:
            from numnet.backend import global_generator
            generator = global_generator()
            try:
                generator.bit_generator.state = state
            except (TypeError, ValueError, KeyError) as error:
                raise ValueError(f"{self._metadata_path}: invalid random generator state "
                                 f"({error}).") from error

    def _restore_weights(self):
        """Loads the latest backup's weights (or, with `double_checkpoint`, the previous
        backup's when the latest cannot be read); returns its metadata."""
        candidates = [self._metadata_path]
        if self.double_checkpoint and os.path.exists(self._prev_training_metadata_path):
            candidates.append(self._prev_training_metadata_path)
        for i, path in enumerate(candidates):
            try:
                metadata = self._read_metadata(path)
                self.model.load_weights(os.path.join(self.backup_dir, metadata["weights"]))
                return metadata
            except (OSError, ValueError):
                if i == len(candidates) - 1:
                    raise

    def _read_metadata(self, path=None):
        path = path or self._metadata_path
        try:
            with open(path, encoding="utf-8") as handle:
                metadata = json.load(handle)
        except (OSError, ValueError) as error:
            raise ValueError(f"BackupAndRestore: cannot read {path} ({error}).") from error
        ok = (isinstance(metadata, dict) and isinstance(metadata.get("epoch"), int)
              and metadata["epoch"] >= 0 and isinstance(metadata.get("counter"), int)
              and isinstance(metadata.get("weights"), str)
              and _WEIGHTS_PATTERN.match(metadata["weights"]))
        if not ok:
            raise ValueError(f"BackupAndRestore: {path} is malformed: {str(metadata)[:200]}")
        return metadata

    def on_epoch_begin(self, epoch, logs=None):
        from numnet.backend import global_generator
        self._current_epoch = epoch
        self._epoch_rng_state = global_generator().bit_generator.state

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch, self._last_batch_seen = epoch + 1, 0  # as Keras counts them
        if self.save_freq == "epoch":
            from numnet.backend import global_generator
            self._save(epoch + 1, global_generator().bit_generator.state)

    def _save(self, epoch, rng_state):
        if not is_chief():
            return  # rank 0 writes the backup of a distributed job; every rank reads it
        os.makedirs(self.backup_dir, exist_ok=True)
        self._counter += 1
        name = f"backup_{self._counter}.weights.h5"
        self.model.save_weights(os.path.join(self.backup_dir, name))
        metadata = {"epoch": epoch, "counter": self._counter, "weights": name,
                    "rng_state": rng_state}
        from numnet.saving import atomic  # the saving edge is loaded only when used

        keep = [name]
        if self.double_checkpoint and os.path.exists(self._metadata_path):
            # The backup being replaced becomes the previous one (kept as it is on disk).
            with open(self._metadata_path, "rb") as handle:
                atomic.atomic_write_bytes(self._prev_training_metadata_path, handle.read())
            keep.append(os.path.basename(self._prev_weights_path or ""))
        atomic.atomic_write_bytes(self._metadata_path, json.dumps(metadata).encode())
        self._remove_backups(keep=keep)

    def _remove_backups(self, keep=()):
        for entry in os.listdir(self.backup_dir):
            if _WEIGHTS_PATTERN.match(entry) and entry not in keep:
                os.remove(os.path.join(self.backup_dir, entry))

    def on_train_end(self, logs=None):
        self.model._initial_epoch = None
        if self.delete_checkpoint and is_chief() and os.path.isdir(self.backup_dir):
            self._remove_backups()
            for path in (self._metadata_path, self._prev_training_metadata_path):
                if os.path.exists(path):
                    os.remove(path)
            try:
                os.rmdir(self.backup_dir)
            except OSError:
                pass


class _BatchBackupAndRestore(BackupAndRestore):
    """`BackupAndRestore` with an integer `save_freq`: also hooks batch ends."""

    def on_train_batch_end(self, batch, logs=None):
        self._last_batch_seen = batch
        self._batches_seen += 1
        if self._batches_seen >= self.save_freq:
            self._batches_seen = 0
            self._save(self._current_epoch, self._epoch_rng_state)
