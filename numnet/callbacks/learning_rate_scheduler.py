"""`LearningRateScheduler`: sets the learning rate at the start of each epoch."""

from numnet.callbacks.callback import Callback
from numnet.utils.io_utils import print_msg


def _set_lr(optimizer, value):
    if not hasattr(optimizer, "learning_rate"):
        raise ValueError('Optimizer must have a "learning_rate" attribute.')
    optimizer.learning_rate = float(value)


def _get_lr(optimizer):
    lr = optimizer.learning_rate
    return float(getattr(lr, "data", lr))


def rate_holders(model):
    """`(log key, optimizer)` for each optimizer whose learning rate the callbacks read and
    set: a `MultiOptimizer`'s inner ones (`learning_rate_<name>`, as Keras logs them), else
    the model's optimizer (`learning_rate`; a `LossScaleOptimizer`'s inner one)."""
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    inner = getattr(optimizer, "optimizers", None)
    if inner is not None:
        return [(f"learning_rate_{o.name}", o) for o in inner]
    return [] if optimizer is None else [("learning_rate", optimizer)]


def log_rates(model, logs):
    """Writes each learning rate into `logs` under its `rate_holders` key (an optimizer
    without one is left out)."""
    for key, optimizer in rate_holders(model):
        if hasattr(optimizer, "learning_rate"):
            logs[key] = _get_lr(optimizer)
    return logs


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
        for key, optimizer in rate_holders(self.model):
            try:
                lr = self.schedule(epoch, _get_lr(optimizer))
            except TypeError:  # old-style schedule(epoch)
                lr = self.schedule(epoch)
            lr = float(getattr(lr, "data", lr))
            _set_lr(optimizer, lr)
            if self.verbose > 0:
                which = "" if key == "learning_rate" else f"{optimizer.name} "
                print_msg(f"\nEpoch {epoch + 1}: LearningRateScheduler setting {which}"
                          f"learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            log_rates(self.model, logs)
