"""State a layer holds in its attributes is tracked as Keras tracks it: variables and metrics
in a user's private attributes, and the states of `SeedGenerator`s among `variables`.

Keras 3.15.1 on this layer lists `['w', 'kernel', 'bias']` as the model's trainable weights
and logs `['loss', 'seen_mean']` (checked by hand with Keras; numnet used to miss both, so
`_w` silently stayed untrained).
"""

import numpy as np
import pytest

import numnet as keras

X = np.random.default_rng(4).normal(size=(16, 3)).astype("float32")
Y = X.sum(axis=1, keepdims=True)


class _Scale(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._w = keras.Variable(np.ones((3,), "float32"), name="w")
        self._seen = keras.metrics.Mean(name="seen_mean")

    def call(self, x):
        self._seen.update_state(x)
        return x * self._w


def _model(jit_compile):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), _Scale(), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", jit_compile=jit_compile)
    return model


@pytest.mark.parametrize("jit", ["auto", False])
def test_a_private_variable_is_trained_and_a_private_metric_logged(jit):
    model = _model(jit)
    assert [v.name for v in model.trainable_weights] == ["w", "kernel", "bias"]
    assert [m.name for m in model.metrics] == ["loss", "seen_mean"]
    history = model.fit(X, Y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    assert sorted(history.history) == ["loss", "seen_mean"]
    # One batch per epoch: the metric is the mean of the inputs, reset each epoch.
    np.testing.assert_allclose(history.history["seen_mean"], [X.mean()] * 2, rtol=1e-6)
    assert not np.array_equal(model.layers[0]._w.numpy(), np.ones(3))  # trained


def test_compiled_and_eager_train_the_private_variable_alike():
    fitted = []
    for jit in ("auto", False):
        model = _model(jit)
        model.fit(X, Y, batch_size=4, epochs=2, verbose=0, shuffle=False)
        fitted.append(model.get_weights())
    for a, b in zip(*fitted):
        np.testing.assert_array_equal(a, b)


def test_a_private_metric_set_to_none_is_no_longer_tracked():
    layer = _Scale()
    assert [m.name for m in layer.metrics] == ["seen_mean"]
    layer._seen = None
    assert layer.metrics == []


def test_numnets_own_private_trackers_are_not_listed_twice():
    model = _model("auto")
    model.fit(X, Y, batch_size=16, epochs=1, verbose=0)
    names = [m.name for m in model.metrics]
    assert names.count("loss") == 1 and len(names) == len(set(names))


class _Seeded(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)
        self.seed_generator = keras.random.SeedGenerator(seed=1337)
        self.more = []
        self.more.append(keras.random.SeedGenerator(seed=10))  # filled after it was set

    def call(self, x):
        noise = keras.random.normal((2,), seed=self.seed_generator)
        return self.dense(x) + noise * keras.random.uniform((2,), seed=self.more[0])


def test_seed_generator_states_are_variables_not_weights():
    """As Keras' `test_rng_seed_tracking`: the states come after the layer's own weights
    (none here) and before its sublayers' variables, and advance with each draw."""
    layer = _Seeded()
    layer(np.zeros((1, 3), "float32"))
    states = [layer.seed_generator.state, layer.more[0].state]
    assert layer.variables[:2] == states
    assert layer.variables[2:] == [layer.dense.kernel, layer.dense.bias]
    assert layer.weights == [layer.dense.kernel, layer.dense.bias]
    assert layer.non_trainable_variables == states and layer.non_trainable_weights == []
    assert layer.trainable_variables == layer.trainable_weights
    np.testing.assert_array_equal(layer.variables[0].numpy(), [1337, 1])
    np.testing.assert_array_equal(layer.variables[1].numpy(), [10, 1])
    model = keras.Sequential([keras.Input((3,)), layer])
    assert model.variables[:2] == states and len(model.weights) == 2


def test_freezing_a_layer_freezes_its_variables_and_its_layers():
    """As Keras: `layer.trainable = False` sets each variable's `trainable` (nested layers'
    too), and unfreezing sets them back; non-trainable variables stay so."""
    layer = _Seeded()
    layer(np.zeros((1, 3), "float32"))
    layer.dense.add_weight(shape=(), initializer="zeros", trainable=False, name="count")
    layer.trainable = False
    assert [v.trainable for v in layer.weights] == [False, False, False]
    assert layer.trainable_variables == [] and len(layer.non_trainable_variables) == 5
    layer.trainable = True
    assert [v.trainable for v in layer.weights] == [True, True, False]
    assert len(layer.trainable_variables) == 2 and len(layer.non_trainable_variables) == 3


def test_variables_set_before_the_base_init_are_kept():
    class Early(keras.layers.Layer):
        def __init__(self):
            self.w = keras.Variable(np.ones((2,), "float32"))  # before super().__init__()
            super().__init__()

        def call(self, x):
            return x * self.w

    layer = Early()
    assert layer.weights == [layer.w] and layer.trainable_weights == [layer.w]


class _Holder(keras.layers.Layer):
    """Sublayers in a plain attribute, a tuple and a list (the walk is cached only while
    no list or dict can change in place)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first = keras.layers.Dense(2, name="first")
        self.pair = (keras.layers.Dense(2, name="in_tuple"),)

    def call(self, x):
        return x


def _names(layer):
    return [v.path.split("/")[0] for v in layer.weights]


def _built_holder():
    holder = _Holder()
    holder.first.build((None, 3))
    holder.pair[0].build((None, 3))
    return holder


def test_the_layer_walk_sees_attributes_set_and_deleted_after_a_read():
    holder = _built_holder()
    assert _names(holder) == ["first", "first", "in_tuple", "in_tuple"]
    replacement = keras.layers.Dense(1, name="replacement")
    replacement.build((None, 3))
    holder.first = replacement
    assert _names(holder) == ["replacement", "replacement", "in_tuple", "in_tuple"]
    del holder.first
    assert _names(holder) == ["in_tuple", "in_tuple"]
    holder._private_pair = (replacement,)  # private attributes hold sublayers too
    assert _names(holder) == ["in_tuple", "in_tuple", "replacement", "replacement"]


def test_the_layer_walk_sees_a_list_changed_in_place_after_a_read():
    holder = _built_holder()
    holder.blocks = []
    assert _names(holder) == ["first", "first", "in_tuple", "in_tuple"]
    extra = keras.layers.Dense(1, name="appended")
    extra.build((None, 3))
    holder.blocks.append(extra)
    assert _names(holder) == ["first", "first", "in_tuple", "in_tuple", "appended", "appended"]
    holder.blocks.clear()
    assert _names(holder) == ["first", "first", "in_tuple", "in_tuple"]
