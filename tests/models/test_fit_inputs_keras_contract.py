"""Keras 3.15.1 behaviours of `fit` and the trainer that its own tests check
(`model_test.py::test_functional_optional_inputs*`, `flatten_test.py` and
`reshape_test.py` fitting on batches of varying shapes, `legacy_h5_format_test.py::
test_saving_include_optimizer_false`)."""

import numpy as np
import pytest

import numnet as keras
from numnet import layers


def _optional_input_model():
    class OptionalInput(layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, x, o=None):
            return self.dense(x if o is None else x + o)

    x = keras.Input((2,), name="x")
    o = keras.Input((2,), name="o", optional=True)
    return keras.Model({"x": x, "o": o}, OptionalInput()(x, o))


@pytest.mark.parametrize("as_generator", [False, True])
def test_none_for_an_optional_input_trains_evaluates_and_predicts(as_generator):
    model = _optional_input_model()
    model.compile(loss="mse", optimizer="adam")
    x, y = np.ones((2, 2), "float32"), np.ones((2, 2), "float32")
    kernel = model.get_weights()[0]
    if as_generator:
        def data(with_y=True):
            for _ in range(4):
                yield ({"x": x, "o": None},) + ((y,) if with_y else ())
        model.fit(data(), shuffle=False, verbose=0)
        model.evaluate(data(), verbose=0)
        predicted = model.predict(data(with_y=False), verbose=0)
    else:
        model.fit({"x": x, "o": None}, y, verbose=0)
        model.evaluate({"x": x, "o": None}, y, verbose=0)
        predicted = model.predict({"x": x, "o": None}, verbose=0)
    assert not np.array_equal(model.get_weights()[0], kernel)  # it trained
    expected = x @ model.get_weights()[0] + model.get_weights()[1]
    np.testing.assert_allclose(predicted, np.concatenate([expected] * (4 if as_generator else 1)),
                               rtol=1e-6)


def test_streamed_batches_may_change_shape_where_the_inputs_allow_it():
    rng = np.random.default_rng(0)
    batches = [(rng.random((2, steps, 2), dtype=np.float32), rng.random((2, 1), dtype=np.float32))
               for steps in (3, 5, 4, 5)]
    weights = {}
    for jit in (True, False):  # one signature per shape, compiled; against the tape step
        keras.utils.set_random_seed(1)
        inputs = keras.Input((None, 2))
        pooled = layers.Lambda(lambda t: keras.ops.mean(t, axis=1), output_shape=(2,))(inputs)
        model = keras.Model(inputs, layers.Dense(1)(pooled))
        model.compile(loss="mse", optimizer="sgd", jit_compile=jit)
        model.fit(iter(batches), epochs=1, shuffle=False, verbose=0)
        weights[jit] = model.get_weights()
        assert model.predict(batches[1][0], verbose=0).shape == (2, 1)
    for compiled, eager in zip(weights[True], weights[False]):
        np.testing.assert_allclose(compiled, eager, rtol=1e-6)
    assert not np.allclose(weights[True][1], 0.0)  # the bias moved: it trained


def test_an_uncompiled_model_has_no_optimizer_attribute():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
    with pytest.raises(AttributeError):
        model.optimizer  # noqa: B018
    assert getattr(model, "optimizer", None) is None
    model.compile(optimizer="adam", loss="mse")
    assert isinstance(model.optimizer, keras.optimizers.Adam)
