"""A layer call inside another takes Keras' call context: the enclosing call's `training`
value when it is not passed, and the losses of calls before the outermost one go. Keras'
own tests of this (layers/layer_test.py: test_training_arg_value_resolution,
test_add_loss, test_activity_regularization) pass in tools/keras_tests; these check the
uses that matter for training."""

import numpy as np
import pytest

import numnet as keras
from numnet import layers, ops


class _DropoutInside(keras.Model):
    """A subclassed model whose `call` takes no `training`: Dropout gets it from fit."""

    def __init__(self, rate=0.5):
        super().__init__()
        self.dense = layers.Dense(8)
        self.dropout = layers.Dropout(rate)
        self.out = layers.Dense(1)

    def call(self, x):
        return self.out(self.dropout(self.dense(x)))


def test_training_reaches_layers_called_without_it():
    model = _DropoutInside()
    x = np.ones((64, 4), "float32")
    inference = np.asarray(model(x))
    np.testing.assert_array_equal(inference, np.asarray(model(x, training=False)))
    assert not np.array_equal(np.asarray(model(x, training=True)), inference)


@pytest.mark.parametrize("jit", ["auto", False])
def test_fit_applies_dropout_in_a_call_without_training(jit):
    """The same fit with Dropout(0.5) and with Dropout(0.0), from the same weights: the
    weights differ only if the Dropout inside drops during training."""
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")

    def trained(rate):
        keras.utils.set_random_seed(0)
        model = _DropoutInside(rate)
        model.compile("sgd", "mse", jit_compile=jit)
        model.fit(x, x[:, :1], epochs=1, batch_size=8, verbose=0, shuffle=False)
        return model.get_weights()

    dropped, kept = trained(0.5), trained(0.0)
    assert not np.array_equal(dropped[0], kept[0])


def test_an_outer_call_resets_the_losses_of_earlier_calls():
    class Penalized(layers.Layer):
        def call(self, x):
            self.add_loss(ops.sum(x))
            return x

    layer = Penalized()
    layer(np.ones((1,), "float32"))
    layer(np.ones((1,), "float32"))
    assert len(layer.losses) == 1
    model = keras.Sequential([keras.Sequential([layer])])
    model(np.full((1,), 2.0, "float32"))
    assert [float(v) for v in model.losses] == [2.0]
    model.reset_losses()  # the same reset, by hand, through the nested model
    assert model.losses == [] and layer.losses == []


class _Endpoint(layers.Layer):
    """Keras' guide's "LogisticEndpoint": a layer that tracks a metric of its own."""

    def __init__(self):
        super().__init__()
        self.accuracy = keras.metrics.BinaryAccuracy(name="endpoint_accuracy")

    def call(self, inputs):
        logits, targets = inputs
        self.accuracy.update_state(targets, ops.sigmoid(logits))
        return logits


class _Holder(layers.Layer):
    def __init__(self, inner):
        super().__init__()
        self.mean = keras.metrics.Mean(name="outer_mean")
        self.inner = inner


@pytest.mark.parametrize("jit", ["auto", False])
def test_metrics_held_by_layers_are_logged_and_reset_by_fit(jit):
    keras.utils.set_random_seed(0)
    features, targets = keras.Input((3,)), keras.Input((1,))
    endpoint = _Endpoint()
    model = keras.Model([features, targets], endpoint([layers.Dense(1)(features), targets]))
    model.compile(keras.optimizers.Adam(0.1), keras.losses.BinaryCrossentropy(from_logits=True),
                  jit_compile=jit)
    assert endpoint.metrics == [endpoint.accuracy]
    compiled_inner = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
    compiled_inner.compile("sgd", "mse", metrics=["mae"])
    holder = _Holder([compiled_inner, _Endpoint()])
    # The metrics held by layers inside count; a nested model's compiled ones stay its own.
    assert [m.name for m in holder.metrics] == ["outer_mean", "endpoint_accuracy"]
    assert model.metrics[-1] is endpoint.accuracy and len(endpoint.metrics_variables) == 2
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    before = np.asarray(model.predict([x, y], verbose=0))
    history = model.fit([x, y], y, epochs=2, batch_size=64, verbose=0, shuffle=False)
    # One batch per epoch: epoch 1's value is the accuracy of the untrained predictions.
    assert history.history["endpoint_accuracy"][0] == pytest.approx(
        float(np.mean((before > 0) == (y > 0.5))), abs=1e-7)
    after = np.asarray(model.predict([x, y], verbose=0))
    evaluated = model.evaluate([x, y], y, verbose=0, return_dict=True)  # reset, then counted
    expected = float(np.mean((after > 0) == (y > 0.5)))
    assert evaluated["endpoint_accuracy"] == pytest.approx(expected, abs=1e-7)
