"""Sequential: add/pop, deferred build, summary layout like Keras'."""

import numpy as np
import pytest

import numnet as keras


def test_add_pop_and_deferred_build():
    model = keras.Sequential()
    model.add(keras.layers.Dense(4, activation="relu"))
    model.add(keras.layers.Dense(2))
    assert not model.built
    model.build((None, 3))
    assert model.built and model.output_shape == (None, 2)
    assert len(model.weights) == 4 and model.count_params() == 3 * 4 + 4 + 4 * 2 + 2
    popped = model.pop()
    assert isinstance(popped, keras.layers.Dense) and len(model.layers) == 1
    with pytest.raises(ValueError, match="unique names"):
        model.add(keras.layers.Dense(1, name=model.layers[0].name))


def test_built_on_first_call_and_get_layer():
    model = keras.Sequential([keras.layers.Dense(2, name="a"), keras.layers.Dense(1, name="b")])
    out = model(np.ones((5, 3)))
    assert out.shape == (5, 1) and model.built
    assert model.get_layer("b") is model.layers[1]
    assert model.get_layer(index=0).name == "a"
    with pytest.raises(ValueError, match="No such layer: c"):
        model.get_layer("c")


def test_summary_layout_matches_keras():
    keras.backend.clear_session()
    model = keras.Sequential([
        keras.layers.Input(shape=[28, 28]),
        keras.layers.Flatten(),
        keras.layers.Dense(300, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[0] == 'Model: "sequential"'
    assert lines[1].startswith("┏") and "Layer (type)" in lines[2] and "Param #" in lines[2]
    body = "\n".join(lines)
    assert "│ flatten (Flatten)" in body and "(None, 784)" in body
    assert "│ dense (Dense)" in body and "235,500 │" in body
    assert "dense_2 (Dense)" in body and "1,010 │" in body
    assert " Total params: 266,610 (1.02 MB)" in lines
    assert " Trainable params: 266,610 (1.02 MB)" in lines
    assert " Non-trainable params: 0 (0.00 B)" in lines
    assert "InputLayer" not in body


def test_config_roundtrip_rebuilds_the_same_architecture():
    model = keras.Sequential([keras.layers.Input(shape=(4,)),
                              keras.layers.Dense(3, activation="tanh"),
                              keras.layers.Dense(1)])
    config = model.get_config()
    assert config["layers"][0]["class_name"] == "InputLayer"
    clone = keras.Sequential.from_config(config)
    assert [type(l) for l in clone.layers] == [type(l) for l in model.layers]
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(3, 4))
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_input_layer_and_the_history_of_symbolic_tensors():
    from numnet.layers.symbolic import keras_history, producer

    unbuilt = keras.Sequential([keras.layers.Dense(2)])
    assert unbuilt.input_layer is None
    inputs = keras.Input(shape=(3,), name="features")
    model = keras.Sequential([inputs, keras.layers.Dense(2, name="out")])
    assert isinstance(model.input_layer, keras.layers.InputLayer)
    assert model.input_layer.name == "features" and model.input_layer.batch_shape == (None, 3)
    assert producer(inputs) is model.input_layer
    assert keras_history(model.outputs[0])[0].name == "out"
    assert producer(np.zeros(3)) is None and keras_history(keras.ops.convert_to_tensor(np.ones(3))) is None
    built = keras.Sequential([keras.layers.Dense(2)])
    built.build((None, 5))
    assert built.input_layer.batch_shape == (None, 5)
    clone = keras.models.clone_model(built)
    assert clone.built and clone.input_shape == (None, 5)
