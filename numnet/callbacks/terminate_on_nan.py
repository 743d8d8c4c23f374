"""`TerminateOnNaN`: stops training as soon as the loss is NaN or infinite."""

import math

from numnet.callbacks.callback import Callback


class TerminateOnNaN(Callback):
    """Stops `fit` at the first batch whose running loss is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
