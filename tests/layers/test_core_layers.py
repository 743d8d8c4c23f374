"""The Layer lifecycle and the core layers: naming, building, weights, configs."""

import numpy as np
import pytest

import numnet as keras
from numnet import layers


def roundtrip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    return clone


def test_names_are_snake_case_with_a_global_counter_and_clear_session_resets_them():
    keras.backend.clear_session()
    assert [layers.Dense(1).name for _ in range(3)] == ["dense", "dense_1", "dense_2"]
    assert layers.Normalization().name == "normalization"
    assert keras.Sequential().name == "sequential"
    keras.backend.clear_session()
    assert layers.Dense(1).name == "dense"
    assert keras.utils.clear_session is keras.backend.clear_session


def test_dense_builds_lazily_with_keras_defaults():
    keras.utils.set_random_seed(0)
    dense = layers.Dense(4)
    assert not dense.built and dense.weights == []
    out = dense(np.ones((2, 3), dtype="float32"))
    assert out.shape == (2, 4)
    assert [w.name for w in dense.weights] == ["kernel", "bias"]
    assert [w.path for w in dense.weights] == [f"{dense.name}/kernel", f"{dense.name}/bias"]
    kernel, bias = dense.get_weights()
    limit = np.sqrt(6 / (3 + 4))
    assert np.all(np.abs(kernel) <= limit) and np.abs(kernel).max() > limit / 3
    np.testing.assert_array_equal(bias, 0)
    assert dense.count_params() == 16
    assert kernel.dtype == np.float32
    config = dense.get_config()
    assert config["activation"] == "linear" and config["units"] == 4
    assert config["kernel_initializer"]["class_name"] == "GlorotUniform"
    roundtrip(dense)


def test_dense_on_3d_inputs_and_activation_layer():
    dense = layers.Dense(2, activation="relu")
    assert dense(np.ones((4, 5, 3))).shape == (4, 5, 2)
    act = layers.Activation("softmax")
    out = np.asarray(act(np.array([[1.0, 2.0, 3.0]])))
    np.testing.assert_allclose(out.sum(), 1, rtol=1e-6)
    assert roundtrip(act).activation is keras.activations.softmax


def test_set_weights_checks_count_and_shapes():
    dense = layers.Dense(2, name="probe")
    dense.build((None, 3))
    with pytest.raises(ValueError, match=r"'probe' expected 2 weight arrays"):
        dense.set_weights([np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"'kernel' has shape \(3, 2\).*\(2, 3\)"):
        dense.set_weights([np.zeros((2, 3)), np.zeros(2)])
    dense.set_weights([np.ones((3, 2)), np.arange(2.0)])
    np.testing.assert_array_equal(dense.get_weights()[1], [0, 1])


def test_trainable_flag_moves_weights():
    dense = layers.Dense(2)
    dense.build((None, 3))
    dense.trainable = False
    assert dense.trainable_weights == [] and len(dense.non_trainable_weights) == 2


def test_flatten_and_reshape():
    flatten = layers.Flatten()
    assert flatten(np.zeros((2, 28, 28))).shape == (2, 784)
    assert flatten(np.zeros((5,))).shape == (5, 1)
    assert flatten.compute_output_shape((None, 28, 28)) == (None, 784)
    reshape = layers.Reshape((2, -1))
    assert reshape(np.zeros((3, 8))).shape == (3, 2, 4)
    roundtrip(flatten)
    roundtrip(reshape)


def test_normalization_adapt_streams_batches_and_matches_numpy():
    rng = np.random.default_rng(0)
    data = rng.normal(loc=[1.0, -5.0, 100.0], scale=[1.0, 0.1, 20.0], size=(1000, 3))
    norm = layers.Normalization()
    norm.adapt(data, batch_size=64)  # 16 batches merged
    # Keras keeps `mean` / `variance` in the inputs' broadcast shape, the weights reduced.
    np.testing.assert_allclose(norm.mean.numpy(), data.mean(axis=0, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(norm.variance.numpy(), data.var(axis=0, keepdims=True), rtol=1e-5)
    assert [w.shape for w in norm.weights] == [(3,), (3,), ()]
    assert int(norm.count.numpy()) == 1000
    out = np.asarray(norm(data))
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=0), 1, rtol=1e-4)
    assert norm.count_params() == 2 * 3 + 1
    assert norm.trainable_weights == []
    # An iterable of batches gives the same statistics.
    other = layers.Normalization()
    other.adapt(data[i:i + 100] for i in range(0, 1000, 100))
    np.testing.assert_allclose(other.mean.numpy(), norm.mean.numpy(), rtol=1e-6)
    inverse = layers.Normalization(mean=norm.adapt_mean.numpy(), variance=norm.adapt_variance.numpy(),
                                   invert=True)
    np.testing.assert_allclose(np.asarray(inverse(out)), data, rtol=1e-4, atol=1e-4)
    config = norm.get_config()
    assert config["axis"] == (-1,) and config["invert"] is False  # a tuple, as in Keras


def test_normalization_is_differentiable_and_rejects_bad_data():
    norm = layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0])
    x = keras.Variable(np.array([[3.0, 5.0]]))
    with keras.GradientTape() as tape:
        y = keras.ops.sum(norm(x))
    np.testing.assert_allclose(np.asarray(tape.gradient(y, x)), [[1 / 2, 1 / 3]], rtol=1e-6)
    with pytest.raises(ValueError, match="NaN"):
        layers.Normalization().adapt(np.array([[1.0], [np.nan]]))


def test_input_layer_and_input_shape_argument():
    keras.backend.clear_session()
    inputs = keras.Input(shape=(28, 28))
    assert inputs.shape == (None, 28, 28)
    assert inputs.name == "input_layer"
    layer = layers.InputLayer(input_shape=[28, 28])
    assert layer.batch_shape == (None, 28, 28)
    model = keras.Sequential([layers.Flatten(input_shape=[28, 28]), layers.Dense(3)])
    assert model.built and model.output_shape == (None, 3)


def test_custom_layer_with_add_weight_and_python_control_flow():
    class Scale(layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones",
                                         name="scale")

        def call(self, inputs, training=None):
            out = inputs * self.scale
            if training:  # the tape records only what ran
                out = out * 2.0
            return out

    layer = Scale()
    x = np.ones((2, 3), dtype="float32")
    with keras.GradientTape() as tape:
        y = keras.ops.sum(layer(x, training=True))
    np.testing.assert_allclose(np.asarray(tape.gradient(y, layer.scale)), [4, 4, 4])
    np.testing.assert_allclose(np.asarray(layer(x)), 1)
    assert layer.name == "scale"


def test_regularizers_and_unknown_kwargs():
    dense = layers.Dense(2, kernel_regularizer="l2", bias_regularizer=keras.regularizers.L1(0.1))
    dense.build((None, 2))
    dense.set_weights([np.ones((2, 2)), np.ones(2)])
    np.testing.assert_allclose([float(p) for p in dense.losses], [0.01 * 4, 0.1 * 2], rtol=1e-6)
    assert roundtrip(dense).kernel_regularizer.get_config() == {"l2": 0.01}
