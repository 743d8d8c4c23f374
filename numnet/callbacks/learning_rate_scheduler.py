"""`LearningRateScheduler`: sets the learning rate at the start of each epoch."""

from numnet.callbacks.callback import Callback
from numnet.utils.io_utils import print_msg


def _set_lr(model, value):
    optimizer = model.optimizer
    if not hasattr(optimizer, "learning_rate"):
        raise ValueError('Optimizer must have a "learning_rate" attribute.')
    optimizer.learning_rate = float(value)


def _get_lr(model):
    lr = model.optimizer.learning_rate
    return float(getattr(lr, "data", lr))


class LearningRateScheduler(Callback):
    """Calls `schedule(epoch, lr)` at each epoch start and sets the returned learning rate.

    Args:
        schedule: a function of the 0-based epoch and the current learning
            rate (a float), returning the new learning rate.
        verbose: 1 prints the update.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        try:
            lr = self.schedule(epoch, _get_lr(self.model))
        except TypeError:  # old-style schedule(epoch)
            lr = self.schedule(epoch)
        lr = float(getattr(lr, "data", lr))
        _set_lr(self.model, lr)
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _get_lr(self.model)
