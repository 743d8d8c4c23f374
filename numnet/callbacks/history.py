"""`History`: records each epoch's logs; `fit` returns it."""

from numnet.callbacks.callback import Callback


class History(Callback):
    """Collects `logs` at every epoch end into `history` (a dict of lists).

    Attributes:
        epoch: the 0-based epoch indices seen.
        history: `{"loss": [...], "val_loss": [...], ...}`.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []
        if self.model is not None:  # `fit(epochs=0)` returns this History too
            self.model.history = self

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self
