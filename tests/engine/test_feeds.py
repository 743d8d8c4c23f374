"""What a replay gathers per step: each data array once, however often the batch names it."""

import numpy as np
import pytest

import numnet as keras

RNG = np.random.default_rng(11)
X_WIDE = RNG.normal(size=(40, 3)).astype("float32")
X_DEEP = RNG.normal(size=(40, 4)).astype("float32")
Y = RNG.normal(size=(40, 1)).astype("float32")


def _two_outputs(jit_compile):
    keras.utils.set_random_seed(2)
    wide, deep = keras.Input(shape=(3,)), keras.Input(shape=(4,))
    hidden = keras.layers.Dense(5, activation="relu")(deep)
    main = keras.layers.Dense(1)(keras.layers.concatenate([wide, hidden]))
    aux = keras.layers.Dense(1)(hidden)
    model = keras.Model([wide, deep], [main, aux])
    model.compile(optimizer="adam", loss=("mse", "mse"), loss_weights=(0.9, 0.1),
                  metrics=["mae", "mae"], jit_compile=jit_compile)
    return model


def _fit(model, targets):
    """The logs (in order; the layer names differ between models) and the weights."""
    history = model.fit((X_WIDE, X_DEEP), targets, batch_size=8, epochs=2, verbose=0,
                        shuffle=True)
    return list(history.history.values()), model.get_weights()


def test_one_target_array_for_two_outputs_is_fed_once_with_the_eager_numbers():
    compiled = _two_outputs(True)  # each built and fitted from the same seed
    logs, weights = _fit(compiled, (Y, Y))
    eager_logs, eager_weights = _fit(_two_outputs(False), (Y, Y))
    (program,) = compiled.train_function.programs
    assert program.stats["fed"] == 3  # the two inputs and the one target array
    # (the auxiliary Dense reads its input from the concatenation's buffer, with another
    # row stride than the tape's: a logged loss may differ in its last bit)
    np.testing.assert_allclose(logs, eager_logs, rtol=3e-7, atol=0)
    for a, b in zip(weights, eager_weights):
        np.testing.assert_array_equal(a, b)


def test_equal_but_distinct_target_arrays_are_fed_each():
    model = _two_outputs(True)
    _fit(model, (Y, Y.copy()))
    (program,) = model.train_function.programs
    assert program.stats["fed"] == 4


def test_a_program_fed_once_is_not_reused_for_two_distinct_arrays():
    """Which arrays are the same is part of a replay's signature: a later `fit` (or a later
    streamed batch) with two different target arrays gets a program feeding both."""
    other = np.random.default_rng(12).normal(size=Y.shape).astype("float32")
    fitted = []
    for jit in (True, False):
        model = _two_outputs(jit)
        _fit(model, (Y, Y))
        fitted.append(_fit(model, (Y, other)))
    (logs, weights), (eager_logs, eager_weights) = fitted
    assert logs == eager_logs
    for a, b in zip(weights, eager_weights):
        np.testing.assert_array_equal(a, b)


def test_streamed_batches_with_and_without_a_shared_array():
    other = np.random.default_rng(13).normal(size=Y.shape).astype("float32")

    def batches():
        for start in range(0, 40, 8):
            rows = slice(start, start + 8)
            second = Y[rows] if start < 16 else other[rows]  # shared, then distinct
            targets = (Y[rows], second) if start >= 16 else (Y[rows],) * 2
            yield (X_WIDE[rows], X_DEEP[rows]), targets

    results = []
    for jit in (True, False):
        model = _two_outputs(jit)
        history = model.fit(batches(), epochs=1, verbose=0, shuffle=False)
        results.append((list(history.history.values()), model.get_weights()))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("layer", ["normalization", "relu"])
def test_a_model_whose_every_op_is_hoisted_replays_its_predictions(layer):
    """Its output is a gathered value no kernel reads: the replay still gathers its rows
    (a failure before: the value had no buffer to gather into)."""
    x = np.random.default_rng(3).normal(size=(40, 4)).astype("float32")
    if layer == "normalization":
        norm = keras.layers.Normalization()
        norm.adapt(x)
        model = keras.Sequential([keras.Input((4,)), norm])
        expected = (x - x.mean(0)) / np.sqrt(x.var(0))
    else:
        model = keras.Sequential([keras.Input((4,)), keras.layers.ReLU(max_value=1.0)])
        expected = np.clip(x, 0.0, 1.0)
    outputs = [model.predict(x, batch_size=8, verbose=0) for _ in range(4)]
    assert model.predict_function.programs  # the later calls replayed
    for output in outputs:
        np.testing.assert_allclose(output, expected, rtol=1e-6, atol=1e-6)
