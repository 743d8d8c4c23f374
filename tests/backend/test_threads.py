"""numnet picks BLAS threads for its own calls, scoped to them, with an override."""

import os

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController, threadpool_limits

import numnet as keras
from numnet.backend import threads


def _blas_threads():
    """Thread counts of the BLAS NumPy's products use (numnet's steps run there). Another
    package may load its own BLAS later (SciPy's, for `erf`); numnet has no call into it."""
    libraries = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
    numpy_home = os.path.dirname(os.path.abspath(np.__file__))
    own = [c for c in libraries if os.path.abspath(c.filepath).startswith(numpy_home)]
    return {c.get_num_threads() for c in own or libraries}


class _RecordThreads(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = set()

    def on_train_batch_end(self, batch, logs=None):
        self.seen |= _blas_threads()


def _small_model():
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8),
                              keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.skipif(not _blas_threads(), reason="threadpoolctl finds no BLAS to control")
def test_small_steps_use_one_thread_inside_fit_and_the_users_setting_is_restored():
    x, y = np.ones((64, 4), "float32"), np.ones((64, 1), "float32")
    with threadpool_limits(2, user_api="blas"):
        recorder = _RecordThreads()
        _small_model().fit(x, y, epochs=1, verbose=0, callbacks=[recorder])
        assert recorder.seen == {1}
        assert _blas_threads() == {2}  # the user's setting, untouched outside fit


@pytest.mark.skipif(not _blas_threads(), reason="threadpoolctl finds no BLAS to control")
def test_the_override_applies_and_is_validated():
    x, y = np.ones((64, 4), "float32"), np.ones((64, 1), "float32")
    try:
        keras.config.set_num_threads(2)
        assert keras.config.get_num_threads() == 2
        recorder = _RecordThreads()
        with threadpool_limits(1, user_api="blas"):
            _small_model().fit(x, y, epochs=1, verbose=0, callbacks=[recorder])
            assert recorder.seen == {2}
            assert _blas_threads() == {1}
    finally:
        keras.config.set_num_threads(None)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="positive integer"):
            keras.config.set_num_threads(bad)


def test_the_policy_one_thread_below_the_crossover_and_fewer_on_a_busy_machine(monkeypatch):
    assert threads.threads_for(threads.CROSSOVER_FLOPS / 2) == 1
    monkeypatch.setattr(threads, "_cores", lambda: 4)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (1.0, 1.0, 1.0))  # only us
    assert threads.threads_for(threads.CROSSOVER_FLOPS * 10) == 4
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (3.2, 3.0, 3.0))  # two others
    assert threads.threads_for(threads.CROSSOVER_FLOPS * 10) == 2
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    assert threads.threads_for(threads.CROSSOVER_FLOPS * 10) == 1
