"""`StatelessScope`: writes to variables inside it are undone on exit (Keras' scope).

Keras builds graphs and models symbolically, so a `call` that updates state
(a counter, a running statistic) counts only the real steps; numnet builds by
running `call` on stand-in values inside a `StatelessScope`, with the same
effect. The counts asserted here are the ones Keras 3.15.1's own tests assert
(`callback_test.py::test_model_state_is_current_on_epoch_end`,
`backup_and_restore_test.py::CanaryLayer`).
"""

import numpy as np
import pytest

import numnet as keras
from numnet import layers


def test_writes_inside_the_scope_are_seen_there_and_undone_on_exit():
    v = keras.Variable(np.array([1.0, 2.0], "float32"))
    w = keras.Variable(np.float32(5.0))
    with keras.StatelessScope():
        v.assign([3.0, 4.0])
        v.assign_add([1.0, 1.0])
        w.assign_sub(2.0)
        np.testing.assert_array_equal(v.numpy(), [4.0, 5.0])
        assert float(w) == 3.0
        with keras.StatelessScope():  # nested: the inner scope undoes only its own writes
            v.assign([0.0, 0.0])
        np.testing.assert_array_equal(v.numpy(), [4.0, 5.0])
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])
    assert float(w) == 5.0
    v.assign([7.0, 8.0])  # outside any scope writes stay
    np.testing.assert_array_equal(v.numpy(), [7.0, 8.0])


def test_the_scope_restores_even_when_the_block_raises():
    v = keras.Variable(np.zeros(3, "float32"))
    with pytest.raises(RuntimeError), keras.StatelessScope():
        v.assign(np.ones(3, "float32"))
        raise RuntimeError("boom")
    np.testing.assert_array_equal(v.numpy(), np.zeros(3))


class Canary(layers.Layer):
    """Counts its calls in a non-trainable weight (Keras' `CanaryLayer`)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.counter = self.add_weight(shape=(), initializer="zeros", trainable=False)

    def call(self, x):
        self.counter.assign_add(1.0)
        return x


def test_building_a_graph_does_not_count_as_a_call():
    model = keras.Sequential([layers.Input((3,)), Canary(), layers.Dense(1)])
    assert float(model.layers[0].counter) == 0.0
    inputs = keras.Input((3,))
    keras.Model(inputs, layers.Dense(1)(Canary()(inputs)))
    model.compile(loss="mse", optimizer="sgd")
    x, y = np.random.default_rng(0).random((10, 3)), np.ones((10, 1))
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)  # 3 batches per epoch
    assert float(model.layers[0].counter) == 6.0


def test_a_subclassed_model_counts_only_the_real_steps():
    seen = []

    class Counting(keras.Model):
        def __init__(self):
            super().__init__()
            self.iterations = self.add_variable(shape=(), initializer="zeros",
                                                trainable=False)

        def call(self, inputs):
            self.iterations.assign(self.iterations + 1)
            return inputs

    class Watch(keras.callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append((batch, int(self.model.iterations)))

    model = Counting()
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(1).random((8, 1))
    model.fit(x, x, callbacks=[Watch()], batch_size=2, verbose=0)
    assert seen == [(0, 1), (1, 2), (2, 3), (3, 4)]


@pytest.mark.parametrize("one_array", [True, False])
def test_a_compiled_model_call_inside_the_scope_is_undone_too(one_array):
    """A `model(x, training=True)` replayed from a plan writes BatchNormalization's moving
    statistics with its kernels; inside a scope the call runs eagerly, so the scope puts
    them back (they leaked before)."""
    model = keras.Sequential([keras.Input((3,)), layers.BatchNormalization()])
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32") + 5.0
    arguments = x if one_array else keras.ops.convert_to_tensor(x)
    for _ in range(4):  # captured, then planned and replayed
        model(arguments, training=True)
    bn = model.layers[0]
    before = [bn.moving_mean.numpy().copy(), bn.moving_variance.numpy().copy()]
    with keras.StatelessScope():
        inside = np.asarray(model(arguments, training=True))
        assert not np.array_equal(bn.moving_mean.numpy(), before[0])  # seen inside
    np.testing.assert_array_equal(bn.moving_mean.numpy(), before[0])
    np.testing.assert_array_equal(bn.moving_variance.numpy(), before[1])
    np.testing.assert_array_equal(inside, np.asarray(model(arguments, training=True)))
