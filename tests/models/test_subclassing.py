"""Subclassing API: tracked layers and weights, custom layers, control flow, nesting."""

import numpy as np
import pytest

import numnet as keras

RNG = np.random.default_rng(1)


class Scale(keras.layers.Layer):
    """A custom layer: one trainable weight per feature."""

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

    def call(self, inputs):
        return keras.ops.multiply(inputs, self.scale)


class Tower(keras.Model):
    def __init__(self, depth=2, **kwargs):
        super().__init__(**kwargs)
        self.blocks = [keras.layers.Dense(8, activation="relu") for _ in range(depth)]
        self.heads = {"main": keras.layers.Dense(1), "aux": keras.layers.Dense(1)}
        self.scale = Scale()

    def call(self, inputs, training=None):
        x = self.scale(inputs)
        for i, block in enumerate(self.blocks):  # Python control flow is recorded as run
            x = block(x)
            if i == 0 and training:
                x = keras.ops.multiply(x, 1.0)
        return self.heads["main"](x), self.heads["aux"](x)


def data(n=96):
    x = RNG.normal(size=(n, 4)).astype("float32")
    return x, (x[:, :1] + x[:, 1:2]).astype("float32")


def test_layers_and_weights_are_tracked_in_lists_and_dicts():
    model = Tower(depth=3)
    x, _ = data()
    main, aux = model(x)
    assert main.shape == (96, 1) and aux.shape == (96, 1)
    assert model.built
    assert len(model.layers) == 3 + 2 + 1
    assert len(model.trainable_weights) == 3 * 2 + 2 * 2 + 1
    assert any(w.path == "scale/scale" for w in model.weights) or any(
        w.name == "scale" for w in model.weights)


def test_compile_fit_evaluate_predict_summary():
    model = Tower()
    x, y = data()
    model.compile(loss=("mse", "mse"), loss_weights=(0.9, 0.1), optimizer="adam",
                  metrics=["RootMeanSquaredError", "RootMeanSquaredError"])
    history = model.fit(x, (y, y), epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    results = model.evaluate(x, (y, y), verbose=0)
    assert len(results) >= 3
    main, aux = model.predict(x, verbose=0)
    assert main.shape == (96, 1)
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" not in text and "dense" in text


def test_loss_weights_need_one_loss_per_output():
    model = Tower()
    x, y = data()
    model.compile(loss="mse", loss_weights=[0.9, 0.1], optimizer="sgd")
    with pytest.raises(ValueError, match="got 1 losses and 2 weights"):
        model.fit(x, (y, y), verbose=0)


def test_subclassed_model_as_a_layer_in_functional_and_sequential():
    inner = Tower()
    inputs = keras.Input(shape=(4,))
    main, aux = inner(inputs)
    outer = keras.Model(inputs, keras.layers.Add()([main, aux]))
    x, y = data()
    assert outer.predict(x, verbose=0).shape == (96, 1)
    assert len(outer.trainable_weights) == len(inner.trainable_weights)

    class Small(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(3)

        def call(self, inputs):
            return self.dense(inputs)

    seq = keras.Sequential([keras.Input(shape=(4,)), Small(), keras.layers.Dense(1)])
    seq.compile(loss="mse", optimizer="sgd")
    seq.fit(x, y, epochs=1, verbose=0)
    assert seq.predict(x, verbose=0).shape == (96, 1)


def test_model_without_call_has_clear_error():
    with pytest.raises(NotImplementedError, match="no `call\\(\\)` method"):
        keras.Model()(np.zeros((2, 3)))


class CountingModel(keras.Model):
    """Counts its calls; fails while `fail` is set (after its first layer has built)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.out = keras.layers.Dense(3), keras.layers.Dense(1)
        self.calls, self.fail = 0, False

    def call(self, inputs):
        self.calls += 1
        hidden = self.hidden(inputs)
        if self.fail:
            raise RuntimeError("failing on purpose")
        return self.out(hidden)


def test_first_call_on_data_builds_the_layers_in_that_call_only():
    model = CountingModel()
    x = RNG.normal(size=(5, 4)).astype("float32")
    y = model(x)
    assert model.calls == 1 and model.built and y.shape == (5, 1)
    assert [tuple(w.shape) for w in model.weights] == [(4, 3), (3,), (3, 1), (1,)]
    kernel, bias = model.hidden.kernel.numpy(), model.hidden.bias.numpy()
    np.testing.assert_allclose(np.asarray(y), (x @ kernel + bias) @ model.out.kernel.numpy()
                               + model.out.bias.numpy(), rtol=1e-6)


def test_build_without_data_still_calls_on_zeros():
    model = CountingModel()
    model.build((None, 4))
    assert model.calls == 1 and model.built and len(model.weights) == 4


def test_a_failing_first_call_leaves_the_model_unbuilt_and_a_retry_builds_it():
    model = CountingModel()
    model.fail = True
    x = RNG.normal(size=(2, 4)).astype("float32")
    with pytest.raises(RuntimeError, match="on purpose"):
        model(x)
    assert not model.built
    model.fail = False
    assert model(x).shape == (2, 1) and model.built and len(model.weights) == 4
