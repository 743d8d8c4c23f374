"""`CompiledFunction.replaying`: the steps of a `fit` without batch callbacks, replayed in
one loop. The numbers must be those of a `fit` whose batch callbacks keep every step on
`__call__`, and of the eager steps."""

import numpy as np
import pytest

import numnet as keras
from numnet.engine import CompiledFunction, Program
from numnet.engine.compiled import Batch, Source

RNG = np.random.default_rng(17)
X = RNG.normal(size=(101, 5)).astype("float32")  # 12 batches of 8 and one of 5
Y = (X @ RNG.normal(size=(5, 2))).astype("float32")


def _model(jit_compile="auto"):
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(6, activation="relu"),
                              keras.layers.Dropout(0.25), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"], jit_compile=jit_compile)
    return model


class _Watch(keras.callbacks.Callback):
    """A batch callback: it keeps every step on `CompiledFunction.__call__`."""

    def __init__(self):
        super().__init__()
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1


def _fit(jit_compile, callbacks, **kwargs):
    model = _model(jit_compile)
    history = model.fit(X, Y, batch_size=8, epochs=3, verbose=0, callbacks=callbacks,
                        validation_data=(X[:20], Y[:20]), **kwargs)
    return history.history, model.get_weights()


def _counting(monkeypatch):
    """Counts the program runs of the fit and whether they came through `replaying`."""
    counts = {"run": 0, "call": 0}
    run, call = Program.run, CompiledFunction.__call__

    def counting_run(self):
        counts["run"] += 1
        return run(self)

    def counting_call(self, batch):
        counts["call"] += self.name == "train"
        return call(self, batch)

    monkeypatch.setattr(Program, "run", counting_run)
    monkeypatch.setattr(CompiledFunction, "__call__", counting_call)
    return counts


@pytest.mark.parametrize("shuffle", [True, False])
def test_a_fit_without_batch_callbacks_replays_the_steps_with_the_same_numbers(
        monkeypatch, shuffle):
    counts = _counting(monkeypatch)
    logs, weights = _fit("auto", [], shuffle=shuffle)
    # Each epoch: its first batch and its partial last batch go through `__call__`; the 11
    # full batches between are replayed in the loop (the first epoch's first is captured).
    assert counts["call"] == 3 * 2
    assert counts["run"] >= 3 * 11
    watch = _Watch()
    watched_logs, watched_weights = _fit("auto", [watch], shuffle=shuffle)
    eager_logs, eager_weights = _fit(False, [], shuffle=shuffle)
    assert watch.steps == 3 * 13
    assert logs == watched_logs == eager_logs
    for mine, watched, eager in zip(weights, watched_weights, eager_weights, strict=True):
        np.testing.assert_array_equal(mine, watched)
        np.testing.assert_array_equal(mine, eager)


def test_streamed_batches_are_passed_on_each_with_the_same_numbers(monkeypatch):
    def batches():
        for start in range(0, 101, 8):
            yield X[start:start + 8], Y[start:start + 8]

    results = []
    for jit in ("auto", False):
        model = _model(jit)
        history = model.fit(batches(), epochs=1, verbose=0)
        results.append((history.history, model.get_weights()))
    assert results[0][0] == results[1][0]
    for mine, eager in zip(results[0][1], results[1][1], strict=True):
        np.testing.assert_array_equal(mine, eager)


def test_replaying_yields_only_what_it_cannot_replay():
    """Called directly: the pairs after a replayed signature's call stay inside, a batch of
    another signature or source is passed on, and the steps' effects are `__call__`'s."""
    data = Source((X, Y, None))  # as `fit` gives them: the signature it planned
    other = Source((X.copy(), Y.copy(), None))
    order = np.random.default_rng(0).permutation(len(X))
    pairs = [(step, Batch(data, order[8 * step:8 * step + 8])) for step in range(13)]
    pairs.insert(6, (99, Batch(other, order[:8])))  # another source: passed on
    results = []
    for replay in (True, False):
        model = _model()
        model.fit(X, Y, batch_size=8, epochs=1, verbose=0)  # plans the step
        train = model.make_train_function()
        before = model.optimizer.iterations.numpy()
        if replay:
            passed = []
            for step, batch in train.replaying(iter(pairs)):
                passed.append(step)
                train(batch)
            assert passed == [0, 99, 6, 12]  # the full batches after each call stay inside
        else:
            for _, batch in pairs:
                train(batch)
        assert model.optimizer.iterations.numpy() == before + len(pairs)
        results.append(model.get_weights())
    for mine, called in zip(*results, strict=True):
        np.testing.assert_array_equal(mine, called)


def test_inside_a_stateless_scope_nothing_is_replayed():
    """A call in a `StatelessScope` runs eagerly (its writes are put back): `replaying`
    then passes every pair on."""
    model = _model()
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    train = model.make_train_function()
    data = Source((X, Y, None))
    pairs = [(step, Batch(data, slice(8 * step, 8 * step + 8))) for step in range(4)]
    with keras.StatelessScope():
        passed = []
        for step, batch in train.replaying(iter(pairs)):
            passed.append(step)
            train(batch)
    assert passed == [0, 1, 2, 3]


@pytest.mark.parametrize("options", [
    {"steps_per_epoch": 5},
    {"sample_weight": np.linspace(0.5, 2.0, len(X)).astype("float32")},
    {"validation_split": 0.25, "shuffle": False},
])
def test_other_fit_options_replay_with_the_eager_numbers(options):
    runs = []
    for jit in ("auto", False):
        model = _model(jit)
        history = model.fit(X, Y, batch_size=8, epochs=3, verbose=0, **options)
        runs.append((history.history, model.get_weights()))
    (logs, weights), (eager_logs, eager_weights) = runs
    assert logs == eager_logs
    for mine, eager in zip(weights, eager_weights, strict=True):
        np.testing.assert_array_equal(mine, eager)
