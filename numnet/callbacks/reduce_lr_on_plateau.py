"""`ReduceLROnPlateau`: lowers the learning rate when a metric stops improving."""

import warnings

import numpy as np

from numnet.callbacks.learning_rate_scheduler import _get_lr, _set_lr, log_rates, rate_holders
from numnet.callbacks.monitor import MonitorCallback
from numnet.utils.io_utils import print_msg


class ReduceLROnPlateau(MonitorCallback):
    """Multiplies the learning rate by `factor` after `patience` epochs without improvement.

    Args:
        monitor: the quantity to watch (`"val_loss"`).
        factor: the multiplier (< 1).
        patience: epochs without improvement before reducing.
        verbose: 1 prints each reduction.
        mode: `"auto"`, `"min"` or `"max"`.
        min_delta: threshold for a significant change.
        cooldown: epochs to wait after a reduction before resuming normal operation.
        min_lr: lower bound on the learning rate.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__(monitor=monitor, mode=mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received factor={factor}")
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.min_lr = min_lr
        self._reset()

    def _reset(self):
        self.wait = 0
        self.cooldown_counter = 0
        self.best = None

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        log_rates(self.model, logs)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                "Learning rate reduction is conditioned on metric "
                f"`{self.monitor}` which is not available. Available metrics are: "
                f"{','.join(list(logs.keys()))}.", stacklevel=2)
            return
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                reduced = [self._reduce(optimizer, epoch, key != "learning_rate")
                           for key, optimizer in rate_holders(self.model)]
                if any(reduced):
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def _reduce(self, optimizer, epoch, named):
        """Lowers `optimizer`'s learning rate by `factor` (not below `min_lr`); whether it
        did (Keras' rule: only while above `min_lr`)."""
        old_lr = _get_lr(optimizer)
        if old_lr <= np.float32(self.min_lr):
            return False
        new_lr = max(old_lr * self.factor, self.min_lr)
        _set_lr(optimizer, new_lr)
        if self.verbose > 0:
            name = f" {optimizer.name}" if named else ""
            print_msg(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing{name} learning "
                      f"rate to {new_lr}.")
        return True
