"""Review regressions: CSVLogger columns/handles, subclassed batch-frequency callbacks."""

import csv
import warnings

import numpy as np

import numnet as keras
from numnet.backend import random as nrandom


def _data(n=32):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], dtype="float32")).astype("float32")


def _model():
    nrandom.set_seed(0)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    return model


def test_csv_logger_keeps_val_columns_with_validation_freq(tmp_path):
    x, y = _data()
    path = tmp_path / "log.csv"
    model = _model()
    model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, validation_freq=2,
              callbacks=[keras.callbacks.CSVLogger(path)], verbose=0)
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert "val_loss" in rows[0]  # Keras adds the val_ columns up front
    assert rows[0]["val_loss"] == "NA"
    assert float(rows[1]["val_loss"]) > 0


def test_csv_logger_closes_previous_file_on_restart(tmp_path):
    logger = keras.callbacks.CSVLogger(tmp_path / "log.csv")
    logger.on_train_begin()
    first = logger.csv_file
    logger.on_train_begin()  # previous fit died before on_train_end
    assert first.closed
    logger.on_train_end()


class _CountingCheckpoint(keras.callbacks.ModelCheckpoint):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.epochs_seen = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_seen += 1
        super().on_epoch_end(epoch, logs)


def test_subclassed_model_checkpoint_with_int_save_freq_keeps_its_class(tmp_path):
    x, y = _data()
    cb = _CountingCheckpoint(str(tmp_path / "m_{epoch}_{batch}.weights.h5"),
                             save_weights_only=True, save_freq=2)
    assert isinstance(cb, _CountingCheckpoint)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _model().fit(x, y, epochs=2, batch_size=8, callbacks=[cb], verbose=0)
    assert cb.epochs_seen == 2
    assert (tmp_path / "m_2_4.weights.h5").exists()


class _MyBackup(keras.callbacks.BackupAndRestore):
    pass


def test_subclassed_backup_and_restore_with_int_save_freq_keeps_its_class(tmp_path):
    cb = _MyBackup(str(tmp_path / "b"), save_freq=3)
    assert isinstance(cb, _MyBackup)
    assert hasattr(type(cb), "on_train_batch_end")
    assert type(cb).on_train_batch_end is not keras.callbacks.Callback.on_train_batch_end


def test_batch_callbacks_names_only_the_callbacks_that_override_a_batch_hook():
    from numnet.callbacks.callback_list import CallbackList

    class EndOfTestBatch(keras.callbacks.Callback):
        def on_test_batch_end(self, batch, logs=None):
            pass

    class OldStyleBatchEnd(keras.callbacks.Callback):  # Keras 2's name, for training batches
        def on_batch_end(self, batch, logs=None):
            pass

    watcher, old_style, quiet = EndOfTestBatch(), OldStyleBatchEnd(), keras.callbacks.Callback()
    callbacks = CallbackList([watcher, old_style, quiet])
    assert callbacks.batch_callbacks("on_test_batch_end") == [watcher]
    assert callbacks.batch_callbacks("on_train_batch_end") == [old_style]
    assert callbacks.batch_callbacks("on_predict_batch_begin") == []
