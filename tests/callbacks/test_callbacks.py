"""Built-in callbacks on small real training runs."""

import csv
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import numnet as keras
from numnet.backend import random as nrandom

import h5py  # noqa: F401  (a test dependency: fail loudly if it is missing)


def _data(n=64):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], dtype="float32")).astype("float32")


def _model(lr=0.05):
    nrandom.set_seed(0)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(6, activation="tanh"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse", metrics=["mae"])
    return model


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights, self.val = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())
        self.val.append(logs["val_loss"])


def test_early_stopping_restores_best_epoch():
    x, y = _data()
    model = _model(lr=0.3)
    rec = Recorder()
    stop = keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    model.fit(x, y, epochs=30, validation_split=0.25, callbacks=[rec, stop], verbose=0)
    best = int(np.argmin(rec.val))
    assert stop.best_epoch == best
    for a, b in zip(model.get_weights(), rec.weights[best]):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_save_best_only(tmp_path):
    x, y = _data()
    model = _model(lr=0.3)
    rec = Recorder()
    path = str(tmp_path / "best.keras")
    ckpt = keras.callbacks.ModelCheckpoint(path, save_best_only=True)
    model.fit(x, y, epochs=8, validation_split=0.25, callbacks=[rec, ckpt], verbose=0)
    best = int(np.argmin(rec.val))
    loaded = keras.models.load_model(path)
    for a, b in zip(loaded.get_weights(), rec.weights[best]):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_templates_and_batch_freq(tmp_path):
    x, y = _data()
    model = _model()
    template = str(tmp_path / "ckpt_{epoch:02d}_{val_loss:.2f}.keras")
    model.fit(x, y, epochs=2, validation_split=0.25, verbose=0,
              callbacks=[keras.callbacks.ModelCheckpoint(template)])
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 2 and names[0].startswith("ckpt_01_") and names[1].startswith("ckpt_02_")
    batches = keras.callbacks.ModelCheckpoint(str(tmp_path / "b_{epoch}_{batch}.weights.h5"),
                                              save_weights_only=True, save_freq=2)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[batches])
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith("b_")) == [
        "b_1_2.weights.h5", "b_1_4.weights.h5"]
    with pytest.raises(ValueError, match="weights.h5"):
        keras.callbacks.ModelCheckpoint("x.keras", save_weights_only=True)


def test_missing_monitor_warns_not_crashes(tmp_path):
    x, y = _data()
    model = _model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, epochs=2, verbose=0, callbacks=[
            keras.callbacks.EarlyStopping(monitor="val_nope", mode="min"),
            keras.callbacks.ModelCheckpoint(str(tmp_path / "m.keras"), monitor="val_nope",
                                            save_best_only=True)])
    messages = " ".join(str(w.message) for w in caught)
    assert "Early stopping conditioned on metric `val_nope` which is not available" in messages
    assert "Can save best model only with val_nope available." in messages
    # As in Keras 3.15: in mode "auto", a name whose direction cannot be told is an error
    # at the first epoch end, whether the metric is in the logs or not.
    with pytest.raises(ValueError, match="monitor=val_nope, but isn't able to automatically"):
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[keras.callbacks.EarlyStopping(monitor="val_nope")])


def test_lambda_csv_nan_schedulers(tmp_path):
    x, y = _data()
    model = _model()
    seen = []
    log = tmp_path / "log.csv"
    model.fit(x, y, epochs=3, verbose=0, callbacks=[
        keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch)),
        keras.callbacks.CSVLogger(str(log)),
        keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.01 * (epoch + 1))])
    assert seen == [0, 1, 2]
    assert abs(float(model.optimizer.learning_rate.data) - 0.03) < 1e-7
    model.fit(x, y, epochs=1, verbose=0, callbacks=[keras.callbacks.CSVLogger(str(log), append=True)])
    rows = list(csv.reader(open(log)))
    assert rows[0][0] == "epoch" and len(rows) == 5
    bad = _model(lr=1e6)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hist = bad.fit(x * 1e6, y, epochs=5, verbose=0,
                       callbacks=[keras.callbacks.TerminateOnNaN()])
    assert len(hist.epoch) < 5
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0,
                                                min_delta=1e9)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[plateau])
    assert abs(float(model.optimizer.learning_rate.data) - 0.03 / 2) < 1e-6  # epoch 1 sets best


def test_callbacks_in_evaluate_and_predict():
    x, y = _data()
    model = _model()
    events = []
    cb = keras.callbacks.LambdaCallback(
        on_test_end=lambda logs: events.append(("test", sorted(logs))),
        on_predict_batch_end=lambda batch, logs: events.append(("predict", sorted(logs))))
    model.evaluate(x, y, verbose=0, callbacks=[cb])
    model.predict(x, batch_size=32, verbose=0, callbacks=[cb])
    assert events[0] == ("test", ["loss", "mae"])
    assert events[1:] == [("predict", ["outputs"])] * 2


_CHILD = textwrap.dedent("""
    import contextlib, os, signal, sys
    import numpy as np
    import numnet as keras
    from numnet.backend import random as nrandom
    from numnet.saving import atomic
    work, kill_epoch, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    nrandom.set_seed(0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 4)).astype("float32"); y = x[:, :1] * 2 - x[:, 1:2]
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(6, activation="tanh"),
                              keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    real = atomic.atomic_write

    class Killer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == kill_epoch:
                @contextlib.contextmanager
                def dying(path, mode="wb"):
                    with real(path, mode) as handle:
                        class Half:
                            def write(self, data):
                                handle.write(data[: len(data) // 2]); handle.flush()
                                os.kill(os.getpid(), signal.SIGKILL)
                        yield Half()
                atomic.atomic_write = dying

    model.fit(x, y, epochs=6, batch_size=8, verbose=0, callbacks=[
        Killer(), keras.callbacks.ModelCheckpoint(os.path.join(work, "ckpt.keras")),
        keras.callbacks.BackupAndRestore(os.path.join(work, "backup"))])
    np.savez(out, *model.get_weights())
""")


def test_sigkill_during_checkpoint_then_resume(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(keras.__file__))}

    def run(work, kill_epoch, out):
        os.makedirs(work, exist_ok=True)
        return subprocess.run([sys.executable, str(script), str(work), str(kill_epoch), str(out)],
                              env=env, capture_output=True, text=True, timeout=60)

    ref = run(tmp_path / "ref", -1, tmp_path / "ref.npz")
    assert ref.returncode == 0, ref.stderr
    killed = run(tmp_path / "run", 3, tmp_path / "run.npz")
    assert killed.returncode == -9, killed.stderr
    # The checkpoint being written at epoch 4 was cut off: the epoch-3 file is intact.
    survivor = keras.models.load_model(tmp_path / "run" / "ckpt.keras")
    assert int(survivor.optimizer.iterations.data) == 3 * 8
    resumed = run(tmp_path / "run", -1, tmp_path / "run.npz")
    assert resumed.returncode == 0, resumed.stderr
    a, b = np.load(tmp_path / "ref.npz"), np.load(tmp_path / "run.npz")
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])
    assert not (tmp_path / "run" / "backup").exists()


def test_a_callback_appended_mid_epoch_gets_the_next_batch_hooks():
    """`fit` asks once which callbacks have batch hooks: the list it holds follows appends."""
    x, y = np.ones((40, 3), "float32"), np.zeros((40, 1), "float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    begun = []
    late = keras.callbacks.LambdaCallback(on_train_batch_begin=lambda b, logs: begun.append(b))
    callbacks = keras.callbacks.CallbackList(add_history=True, model=model)

    def add_late(batch, logs):
        if batch == 2:
            callbacks.append(late)
    callbacks.append(keras.callbacks.LambdaCallback(on_train_batch_end=add_late))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=callbacks)
    assert begun == [3, 4]
