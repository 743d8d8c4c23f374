"""`ProgbarLogger`: prints the progress bar during fit, evaluate and predict."""

import sys

from numnet.callbacks.callback import Callback, is_chief
from numnet.callbacks.progbar import Progbar


class ProgbarLogger(Callback):
    """Shows `Epoch i/n` and a progress bar (verbose=1) or one line per epoch (verbose=2)."""

    # Inside `fit` the bar ignores validation batches, so `fit` may validate in big chunks.
    _watches_test_batches_in_fit = False

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream
        self.progbar = None
        self.verbose = 1
        self.epochs = 1
        self._in_fit = False
        self._seen = 0

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        if not is_chief():
            self.verbose = 0  # one progress bar per distributed job: rank 0's
        self.epochs = params.get("epochs", 1)
        self.steps = params.get("steps")

    def _new_bar(self, steps=None):
        self._seen = 0
        # `fit`'s logs are averages already: shown as given (as Keras' logger asks).
        self.progbar = Progbar(target=steps if steps is not None else self.steps,
                               verbose=self.verbose, stateless_metrics=set(),
                               stream=self.stream or sys.stdout)

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        self._new_bar()
        if self.epochs > 1 and self.verbose:
            stream = self.stream or sys.stdout
            stream.write(f"Epoch {epoch + 1}/{self.epochs}\n")
            stream.flush()

    def _batch_logs_needed(self, batch):
        """False when this batch's bar will not be drawn: `fit` then skips computing the logs."""
        return self.progbar is not None and self.progbar.will_draw(batch + 1)

    def on_train_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(batch + 1, logs, finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        self.progbar.update(self._last_step(), logs, finalize=True)

    def _last_step(self):
        """The bar's final count: the known steps, else the batches seen (a generator's)."""
        if self.steps is not None:
            return self.steps
        self.progbar.target = max(self._seen, 1)  # as Keras: the count is known at the end
        return self.progbar.target

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._new_bar()

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._seen = batch + 1
        if not self._in_fit and self.verbose == 1:
            self.progbar.update(batch + 1, logs, finalize=False)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self.progbar.update(self._last_step(), logs, finalize=True)

    def on_predict_begin(self, logs=None):
        self._new_bar()

    def on_predict_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(batch + 1, None, finalize=False)

    def on_predict_end(self, logs=None):
        self.progbar.update(self._last_step(), None, finalize=True)
