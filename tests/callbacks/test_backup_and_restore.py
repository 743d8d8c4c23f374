"""`BackupAndRestore`'s counters and `double_checkpoint`, as Keras 3.15.1's tests state them
(`keras/src/callbacks/backup_and_restore_test.py`: an interruption after two epochs, a
damaged latest backup, a step-wise backup)."""

import os

import numpy as np
import pytest

import numnet as keras
from numnet import layers


class Canary(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.counter = self.add_weight(shape=(), initializer="zeros", trainable=False)

    def call(self, x):
        self.counter.assign_add(1.0)
        return x


class Interrupt(keras.callbacks.Callback):
    def __init__(self, epochs=None, steps=None):
        super().__init__()
        self.epochs, self.steps, self.seen_epochs, self.seen_steps = epochs, steps, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        self.seen_epochs += 1
        if self.seen_epochs == self.epochs:
            raise RuntimeError("EpochInterruption")

    def on_batch_end(self, batch, logs=None):
        self.seen_steps += 1
        if self.seen_steps == self.steps:
            raise RuntimeError("StepsInterruption")


def _model():
    model = keras.Sequential([layers.Input((3,)), Canary(), layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd", metrics=["mse"])
    return model


DATA = (np.random.default_rng(0).random((10, 3)), np.random.default_rng(1).random((10, 1)))


def test_a_damaged_latest_backup_falls_back_to_the_previous_one(tmp_path):
    backup = keras.callbacks.BackupAndRestore(tmp_path / "b", double_checkpoint=True)
    model = _model()
    with pytest.raises(RuntimeError, match="EpochInterruption"):
        model.fit(*DATA, batch_size=4, epochs=6, verbose=0,
                  callbacks=[backup, Interrupt(epochs=2)])
    assert backup._current_epoch == 2 and float(model.layers[0].counter) == 6.0
    for path in (backup._weights_path, backup._training_metadata_path,
                 backup._prev_weights_path, backup._prev_training_metadata_path):
        assert os.path.exists(path)
    assert backup._weights_path != backup._prev_weights_path
    with open(backup._weights_path, "w") as handle:
        handle.write("0")
    history = model.fit(*DATA, batch_size=4, epochs=5, verbose=0, callbacks=[backup])
    # The previous backup (after epoch 1, the counter at 3) is restored: epochs 1..4 run,
    # 3 batches each (Keras' test: 5 * 3).
    assert history.epoch == [1, 2, 3, 4] and backup._current_epoch == 5
    assert float(model.layers[0].counter) == 3.0 + 4 * 3
    assert not os.path.exists(tmp_path / "b")  # deleted at the end, both backups with it


def test_without_double_checkpoint_a_damaged_backup_is_an_error(tmp_path):
    backup = keras.callbacks.BackupAndRestore(tmp_path / "b")
    model = _model()
    with pytest.raises(RuntimeError):
        model.fit(*DATA, batch_size=4, epochs=6, verbose=0,
                  callbacks=[backup, Interrupt(epochs=2)])
    assert not os.path.exists(str(tmp_path / "b" / "training_metadata.json.bkp"))
    with open(backup._weights_path, "w") as handle:
        handle.write("0")
    with pytest.raises((OSError, ValueError)):
        model.fit(*DATA, batch_size=4, epochs=5, verbose=0, callbacks=[backup])


def test_step_wise_backup_counts_batches_as_keras(tmp_path):
    backup = keras.callbacks.BackupAndRestore(tmp_path / "b", save_freq=1)
    model = _model()
    with pytest.raises(RuntimeError, match="StepsInterruption"):
        model.fit(*DATA, batch_size=4, epochs=2, verbose=0,
                  callbacks=[backup, Interrupt(steps=2)])
    assert (backup._current_epoch, backup._last_batch_seen) == (0, 1)
    assert float(model.layers[0].counter) == 2.0
    history = model.fit(*DATA, batch_size=4, epochs=5, verbose=0, callbacks=[backup])
    assert history.epoch[-1] == 4 and backup._current_epoch == 5
    assert float(model.layers[0].counter) == 17.0
