"""Horovod's Keras callbacks for numnet.distribute (`hvd.callbacks.*`)."""

import numpy as np

from numnet.callbacks.callback import Callback


class BroadcastGlobalVariablesCallback(Callback):
    """Sets every rank's weights and optimizer state to rank `root_rank`'s when training starts.

    `fit` with a `DistributedOptimizer` already does this from rank 0; the
    callback keeps Horovod scripts working and lets another rank be the root.
    """

    def __init__(self, root_rank=0, device=""):
        super().__init__()
        self.root_rank = root_rank

    def on_train_begin(self, logs=None):
        from numnet import distribute
        from numnet.distribute.training import broadcast_arrays

        arrays = [w.data for w in self.model.weights]
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and optimizer.built:
            arrays += [v.data for v in optimizer.variables]
        broadcast_arrays(distribute.world(), arrays, self.root_rank)


class MetricAverageCallback(Callback):
    """Averages every epoch log (loss, metrics, `val_` results) over the ranks.

    Each rank's training metrics are running means over its shard; their
    average is the global value (the shards have equal sizes). Put it first
    in `callbacks`: the callbacks after it (History, the progress bar,
    EarlyStopping, ReduceLROnPlateau, checkpoints monitoring a metric) then
    see, and decide on, the same numbers on every rank.
    """

    def on_epoch_end(self, epoch, logs=None):
        from numnet import distribute

        if not logs:
            return
        world = distribute.world()
        keys = sorted(logs)
        values = [np.asarray(logs[k], dtype=np.float64) for k in keys]
        flat = np.concatenate([v.reshape(-1) for v in values])
        world.allreduce_sum(flat, f"MetricAverageCallback at the end of epoch {epoch + 1}")
        flat /= world.size
        start = 0
        for key, value in zip(keys, values):
            part = flat[start:start + value.size]
            start += value.size
            logs[key] = float(part[0]) if value.ndim == 0 else part.reshape(value.shape)


class LearningRateWarmupCallback(Callback):
    """Ramps the learning rate from `initial_lr / size()` to `initial_lr` over `warmup_epochs`.

    Horovod's warm-up for the scaled learning rate (`initial_lr` is the scaled
    one, e.g. `0.01 * size()`): at epoch e (fractional, batch by batch) the
    rate is `initial_lr / size() * (e * (size() - 1) / warmup_epochs + 1)`.
    Large scaled rates diverge in the first steps without it (Goyal et al.,
    2017).

    Args:
        initial_lr: the learning rate after the warm-up.
        warmup_epochs: how many epochs the ramp takes.
        steps_per_epoch: batches per epoch (default: fit's).
        verbose: 1 prints the rate when the warm-up ends (rank 0).
    """

    def __init__(self, initial_lr, warmup_epochs=5, momentum_correction=True,
                 steps_per_epoch=None, verbose=0):
        super().__init__()
        self.initial_lr = float(initial_lr)
        self.warmup_epochs = warmup_epochs
        self.steps_per_epoch = steps_per_epoch
        self.verbose = verbose
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        from numnet import distribute

        if self._epoch >= self.warmup_epochs:
            return
        steps = self.steps_per_epoch or self.params.get("steps") or 1
        progress = self._epoch + batch / steps
        size = distribute.size()
        self.model.optimizer.learning_rate = \
            self.initial_lr / size * (progress * (size - 1) / self.warmup_epochs + 1)

    def on_epoch_end(self, epoch, logs=None):
        from numnet import distribute

        if epoch == self.warmup_epochs - 1:
            self.model.optimizer.learning_rate = self.initial_lr
            if self.verbose and distribute.is_chief():
                print(f"\nEpoch {epoch + 1}: finished gradual learning rate warmup to "
                      f"{self.initial_lr:g}.")


__all__ = ["BroadcastGlobalVariablesCallback", "LearningRateWarmupCallback",
           "MetricAverageCallback"]
