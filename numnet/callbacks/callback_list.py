"""`CallbackList`: calls every callback's hook in turn."""

from numnet.callbacks.callback import Callback
from numnet.callbacks.history import History
from numnet.callbacks.progbar_logger import ProgbarLogger

_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
                "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end",
                "on_batch_begin", "on_batch_end")


class CallbackList(Callback):
    """A container that forwards each hook to all its callbacks.

    Adds a `History` (when `add_history`) and a `ProgbarLogger` (when
    `add_progbar`) unless the user passed their own.
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        super().__init__()
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback) and not hasattr(cb, "set_model"):
                raise TypeError(
                    f"Expected numnet.callbacks.Callback instances in `callbacks`; "
                    f"received {type(cb).__name__}: {cb!r}"
                )
        if add_history and not any(isinstance(cb, History) for cb in self.callbacks):
            self.callbacks.append(History())
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)
        self._refresh_batch_hooks()

    def _refresh_batch_hooks(self):
        # Only callbacks that override a batch hook are called per batch: the
        # others would cost a Python call per step for nothing. The lists are updated in
        # place: a list `batch_callbacks` gave stays current.
        hooks = self.__dict__.setdefault("_batch_callbacks", {})
        for hook in _BATCH_HOOKS:
            hooks.setdefault(hook, [])[:] = [
                cb for cb in self.callbacks
                if getattr(type(cb), hook, None) is not getattr(Callback, hook)
                or (hook.startswith("on_train_batch") and
                    getattr(type(cb), hook.replace("train_", ""), None)
                    is not getattr(Callback, hook.replace("train_", "")))]

    def batch_callbacks(self, hook):
        """The callbacks that override the batch hook `hook` (e.g. "on_test_batch_end"): the
        only ones it calls (a list kept current when callbacks are appended)."""
        return self._batch_callbacks[hook]

    @property
    def needs_train_batch_logs(self):
        return bool(self._batch_callbacks["on_train_batch_end"])

    def train_batch_logs_needed(self, batch):
        """Whether some `on_train_batch_end` hook will read this batch's logs.

        Callbacks may define `_batch_logs_needed(batch)` (the progress bar
        does: it draws at most every 50 ms); the others always need them.
        """
        for cb in self._batch_callbacks["on_train_batch_end"]:
            wanted = getattr(cb, "_batch_logs_needed", None)
            if wanted is None or wanted(batch):
                return True
        return False

    def append(self, callback):
        self.callbacks.append(callback)
        self._refresh_batch_hooks()

    def set_params(self, params):
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def set_model(self, model):
        self._model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def _call_batch(self, hook, batch, logs):
        for cb in self._batch_callbacks[hook]:
            getattr(cb, hook)(batch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call_batch("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call_batch("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call_batch("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call_batch("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call_batch("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call_batch("on_predict_batch_end", batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_train_begin(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_test_begin(self, logs=None):
        for cb in self.callbacks:
            cb.on_test_begin(logs)

    def on_test_end(self, logs=None):
        for cb in self.callbacks:
            cb.on_test_end(logs)

    def on_predict_begin(self, logs=None):
        for cb in self.callbacks:
            cb.on_predict_begin(logs)

    def on_predict_end(self, logs=None):
        for cb in self.callbacks:
            cb.on_predict_end(logs)
