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
