"""A finished `fit`, `evaluate`, `predict`, one-batch call or `model(x)` keeps no reference to
its data.

A compiled step computes what depends only on the inputs (here a Normalization) once over the
whole data, and gathers each batch's rows from it. Those whole-data arrays, and the user's own
arrays they came from, are let go when the call ends, as Keras keeps none: `del x` then frees
the memory. Weak references to the user's arrays tell.
"""

import gc
import weakref

import numpy as np

import numnet as keras


def _arrays(rows=96, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, 6)).astype("float32"), rng.normal(size=(rows, 1)).astype("float32")


def _model():
    keras.utils.set_random_seed(0)
    norm = keras.layers.Normalization()
    norm.adapt(_arrays()[0])
    model = keras.Sequential([keras.Input(shape=(6,)), norm, keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def _gone(make_call):
    """Whether the arrays given to `make_call` are freed once it returns and they are deleted."""
    x, y = _arrays(seed=1)
    refs = [weakref.ref(x), weakref.ref(y)]
    make_call(x, y)
    del x, y
    gc.collect()
    return [ref() is None for ref in refs]


def test_fit_evaluate_and_predict_let_go_of_their_data():
    model = _model()
    assert _gone(lambda x, y: model.fit(x, y, batch_size=16, epochs=2, verbose=0,
                                        validation_split=0.25)) == [True, True]
    assert model.train_function.programs, "the steps were not compiled: nothing was checked"
    assert any(program.hoisted for program in model.train_function.programs)
    assert _gone(lambda x, y: model.evaluate(x, y, batch_size=16, verbose=0)) == [True, True]
    assert _gone(lambda x, y: model.predict(x, batch_size=16, verbose=0)) == [True, True]
    assert model.predict_function.programs


def test_one_batch_calls_and_model_calls_let_go_of_their_data():
    model = _model()
    for _ in range(3):  # captured, then replayed
        assert _gone(lambda x, y: model.train_on_batch(x[:16], y[:16])) == [True, True]
        assert _gone(lambda x, y: model.test_on_batch(x[:16], y[:16])) == [True, True]
        assert _gone(lambda x, y: model.predict_on_batch(x[:16])) == [True, True]
        assert _gone(lambda x, y: model(x[:16])) == [True, True]
        assert _gone(lambda x, y: model(x[:16], training=True)) == [True, True]


def test_a_call_inside_fit_does_not_drop_fits_data_and_results_stay_the_same():
    """A callback's `predict` in the middle of `fit` leaves the fit's data alone: the same
    weights as without it, bit for bit."""
    x, y = _arrays(seed=2)

    class PredictEachEpoch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.model.predict(x[:8], verbose=0)

    plain, called = _model(), _model()
    plain.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False)
    called.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False,
               callbacks=[PredictEachEpoch()])
    for a, b in zip(plain.get_weights(), called.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_capture_kept_for_comparing_holds_a_copy_not_the_callers_data():
    """A model of the user's is captured twice before it is planned: the first capture waits
    for the second, past the end of the call that made it, holding copies of its rows."""

    class Doubled(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x) * float(np.float32(2.0))  # reads NumPy: captured twice

    keras.utils.set_random_seed(0)
    model = Doubled()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(*_arrays(), batch_size=32, epochs=1, verbose=0)
    assert model.train_function.captures_to_plan == 2
    assert _gone(lambda x, y: model.evaluate(x, y, batch_size=96, verbose=0)) == [True, True]
    # The second evaluation of that size is captured; its capture waits for a third.
    assert _gone(lambda x, y: model.evaluate(x, y, batch_size=96, verbose=0)) == [True, True]
    assert not model.test_function.programs
    assert _gone(lambda x, y: model.evaluate(x, y, batch_size=96, verbose=0)) == [True, True]
    assert model.test_function.programs


def test_a_program_keeps_none_of_the_arrays_it_was_captured_from():
    model = _model()
    x, y = _arrays(seed=3)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    model.predict(x[:5], verbose=0)
    model.predict(x[:5], verbose=0)
    programs = model.train_function.programs + model.predict_function.programs
    assert len(programs) == 2
    for program in programs:
        values = list(program.inputs) + [v for op in program.hoisted for v in op.inputs]
        assert values and all(getattr(v, "tensor", None) is None for v in values)
