"""`Optimizer.gradient_buffer_update`: the per-step callable of a compiled training step.

Adam and SGD with momentum offer a form with their settings bound once (`_flat_update`). These tests
check that it is the one a compiled step runs, that it gives the general
method's numbers, and that a setting changed between steps is honoured (the
general method takes over), while a new learning rate keeps the bound form.
"""

import numpy as np

import numnet as keras
from numnet.optimizers import Optimizer

N, BATCH = 64, 16


def _data():
    rng = np.random.default_rng(3)
    return (rng.normal(size=(N, 5)).astype("float32"),
            rng.normal(size=(N, 1)).astype("float32"))


def _model(jit, optimizer):
    keras.utils.set_random_seed(11)
    model = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse", jit_compile=jit)
    return model


class _CountGeneral:
    """Counts the calls of `Optimizer.apply_gradient_buffer` (the general method)."""

    def __init__(self, monkeypatch):
        self.calls = 0
        original = Optimizer.apply_gradient_buffer

        def counted(optimizer, variables, applied=False):
            self.calls += 1
            return original(optimizer, variables, applied)
        monkeypatch.setattr(Optimizer, "apply_gradient_buffer", counted)


class _SetAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch, name, value):
        super().__init__()
        self.epoch, self.name, self.value = epoch, name, value

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            setattr(self.model.optimizer, self.name, self.value)


def _fit_both(make_optimizer, callbacks=()):
    x, y = _data()
    models = []
    for jit in (True, False):
        model = _model(jit, make_optimizer())
        model.fit(x, y, batch_size=BATCH, epochs=4, verbose=0, shuffle=False,
                  callbacks=[cb() for cb in callbacks])
        models.append(model)
    compiled, eager = models
    assert compiled.train_function.programs and compiled.compiled_reason is None
    return compiled, eager


def _assert_same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_compiled_adam_runs_the_bound_update_with_the_general_numbers(monkeypatch):
    counter = _CountGeneral(monkeypatch)
    compiled, eager = _fit_both(lambda: keras.optimizers.Adam(0.01))
    # The eager model's steps go through `apply`, never the buffer method; the compiled
    # one's replays run the bound update: the general method is never called.
    assert counter.calls == 0
    _assert_same_weights(compiled, eager)
    assert int(compiled.optimizer.iterations) == int(eager.optimizer.iterations) == 16


def test_sgd_with_momentum_runs_the_bound_update_with_the_general_numbers(monkeypatch):
    for nesterov in (False, True):
        counter = _CountGeneral(monkeypatch)
        compiled, eager = _fit_both(lambda: keras.optimizers.SGD(0.05, momentum=0.9,
                                                                 nesterov=nesterov))
        assert counter.calls == 0
        _assert_same_weights(compiled, eager)
    # A momentum changed mid-fit is a changed setting: the general method takes over.
    counter = _CountGeneral(monkeypatch)
    compiled, eager = _fit_both(lambda: keras.optimizers.SGD(0.05, momentum=0.9),
                                [lambda: _SetAtEpoch(3, "momentum", 0.5)])
    assert counter.calls == 4
    _assert_same_weights(compiled, eager)


def test_a_setting_changed_between_steps_is_honoured(monkeypatch):
    counter = _CountGeneral(monkeypatch)
    compiled, eager = _fit_both(lambda: keras.optimizers.Adam(0.01),
                                [lambda: _SetAtEpoch(2, "beta_1", 0.5)])
    assert counter.calls == 8  # the two epochs after the change: the general method
    _assert_same_weights(compiled, eager)
    clipped, eager_clipped = _fit_both(lambda: keras.optimizers.Adam(0.01),
                                       [lambda: _SetAtEpoch(1, "clipnorm", 1e-3)])
    _assert_same_weights(clipped, eager_clipped)
    unclipped, _ = _fit_both(lambda: keras.optimizers.Adam(0.01))
    assert not np.array_equal(clipped.get_weights()[0], unclipped.get_weights()[0])


def test_a_new_learning_rate_keeps_the_bound_update(monkeypatch):
    counter = _CountGeneral(monkeypatch)
    compiled, eager = _fit_both(lambda: keras.optimizers.Adam(0.01),
                                [lambda: _SetAtEpoch(2, "learning_rate", 0.05)])
    assert counter.calls == 0
    _assert_same_weights(compiled, eager)
    assert float(compiled.optimizer.learning_rate) == np.float32(0.05)


def test_other_optimizers_and_amsgrad_take_the_general_method(monkeypatch):
    for make in (lambda: keras.optimizers.Adam(0.01, amsgrad=True),
                 lambda: keras.optimizers.RMSprop(0.01),
                 lambda: keras.optimizers.Nadam(0.01)):
        counter = _CountGeneral(monkeypatch)
        compiled, eager = _fit_both(make)
        assert counter.calls == 15  # every replayed step (the first one is captured)
        _assert_same_weights(compiled, eager)
