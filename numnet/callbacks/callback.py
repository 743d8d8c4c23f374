"""`Callback`: hooks called by `fit`, `evaluate` and `predict`."""


def is_chief():
    """Whether this process prints progress and writes files: False on the ranks other than 0
    of a `numnet.distribute` job (their weights and logs are rank 0's), True otherwise."""
    from numnet import distribute  # (loaded lazily: it builds on the callbacks)

    return distribute.is_chief()


class Callback:
    """Base class for objects that hook into training, evaluation and prediction.

    Override any of the `on_*` methods. `self.model` is the model being run and
    `self.params` holds `{"verbose", "epochs", "steps"}`. Setting
    `self.model.stop_training = True` ends `fit` after the current batch.

    The `logs` dicts hold the same keys as Keras': running epoch averages
    (`loss`, metric names) at batch ends; train results plus `val_` prefixed
    validation results at epoch ends.
    """

    def __init__(self):
        self.params = {}
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    def on_batch_begin(self, batch, logs=None):
        """Alias of `on_train_batch_begin`, kept for backwards compatibility."""

    def on_batch_end(self, batch, logs=None):
        """Alias of `on_train_batch_end`, kept for backwards compatibility."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of an epoch (0-based `epoch`)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of an epoch with the train and `val_` results."""

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Called before each batch of `evaluate` (and of validation in `fit`)."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after each evaluation batch with running results."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before each batch of `predict`."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after each batch of `predict` with `{"outputs": ...}`."""

    def on_train_begin(self, logs=None):
        """Called once when `fit` starts."""

    def on_train_end(self, logs=None):
        """Called once when `fit` ends, with the last epoch's logs."""

    def on_test_begin(self, logs=None):
        """Called when evaluation starts."""

    def on_test_end(self, logs=None):
        """Called when evaluation ends, with its results."""

    def on_predict_begin(self, logs=None):
        """Called when prediction starts."""

    def on_predict_end(self, logs=None):
        """Called when prediction ends."""
