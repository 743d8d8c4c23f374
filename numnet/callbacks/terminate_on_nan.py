"""`TerminateOnNaN`: stops training as soon as the loss is NaN or infinite."""

import math

from numnet.callbacks.callback import Callback


class TerminateOnNaN(Callback):
    """Stops `fit` at the first batch whose running loss is NaN or infinite.

    Args:
        raise_error: False (default): print a message and set
            `model.stop_training = True`, so `fit` ends normally and every
            callback's `on_train_end` runs. True: raise a `RuntimeError` at
            once, skipping the other callbacks' cleanup (useful to keep a
            `BackupAndRestore` backup of the last good state).
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                "Terminating training immediately."
            )
        print(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True
