"""Functional and Sequential models follow Keras 3's contract for inputs, outputs and configs.

The behaviours (and messages) checked here are the ones Keras 3.15.1's own tests check
(models/functional_test.py, models/sequential_test.py), rewritten for numnet.
"""


import numpy as np
import pytest

import numnet as keras
from numnet import layers


def _dense_model(outputs_type):
    inputs = keras.Input(shape=(3,), batch_size=2, name="input")
    x = layers.Dense(5)(inputs)
    a, b = layers.Dense(4)(x), layers.Dense(5)(x)
    outputs = {"a": a, "b": b} if outputs_type is dict else outputs_type([a, b])
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("outputs_type", [list, tuple, dict])
def test_output_structure_survives_from_config(outputs_type):
    model = _dense_model(outputs_type)
    restored = keras.Model.from_config(model.get_config())
    assert isinstance(restored(np.random.random((2, 3))), outputs_type)
    assert isinstance(restored(keras.Input(shape=(3,), batch_size=2)), outputs_type)


def test_single_input_model_called_with_a_dict_by_name():
    inputs = keras.Input(shape=(3,), name="a")
    model = keras.Model(inputs, layers.Dense(4)(inputs))
    assert model({"a": np.random.random((2, 3))}).shape == (2, 4)
    assert model({"a": keras.Input(shape=(3,), batch_size=2)}).shape == (2, 4)


def test_nested_dict_inputs_and_outputs():
    i1, i2, i3 = keras.Input((1,)), keras.Input((2,)), keras.Input((3,))
    model = keras.Model({"1": i1, "others": {"2": i2, "3": i3}},
                        {"1": layers.Dense(1)(i1),
                         "others": {"2": layers.Dense(2)(i2), "3": layers.Dense(3)(i3)}})
    out = model({"1": np.ones((2, 1)), "others": {"2": np.ones((2, 2)), "3": np.ones((2, 3))}})
    assert set(out) == {"1", "others"} and set(out["others"]) == {"2", "3"}
    assert out["others"]["3"].shape == (2, 3)


def test_dict_model_given_a_list_warns_or_raises_as_keras():
    x1, x2 = keras.Input((10,), name="IT"), keras.Input((10,), name="IS")
    model = keras.Model(inputs={"IT": x1, "IS": x2}, outputs=layers.subtract([x1, x2]))
    model({"IT": np.ones((1, 10)), "IS": np.zeros((1, 10))})
    # Keys not in sorted order: a list cannot be matched to them.
    with pytest.raises(ValueError, match="The structure of `inputs` doesn't match the expected"):
        model([np.ones((1, 10)), np.zeros((1, 10))])
    i1, i2 = keras.Input((2,)), keras.Input((2,))
    model = keras.Model({"i1": i1, "i2": i2}, layers.Add()([i1, i2]))
    with pytest.warns(UserWarning, match="The structure of `inputs` doesn't match"):
        model.predict([np.ones((2, 2)), np.zeros((2, 2))], verbose=0)


def test_input_errors_name_the_input_and_its_path():
    inputs = keras.Input(shape=(3,), name="foo")
    model = keras.Model(inputs, layers.Dense(3)(inputs))
    with pytest.raises(ValueError, match="name 'foo' and path ''"):
        model(np.random.random((2, 3, 4)))
    nested = [{"foo": keras.Input(shape=(3,), name="my_input")}]
    model = keras.Model(nested, layers.Dense(3)(nested[0]["foo"]))
    with pytest.raises(ValueError, match="name 'my_input' and path '0.foo'"):
        model(np.random.random(()))
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    model = keras.Model({"a": a, "b": b}, layers.Dense(2)(a + b))
    with pytest.raises(ValueError, match=r"named input\(s\) with keys"):
        model(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"expected shape=\(None, 4\), found shape=\(2, 3\)"):
        model({"a": np.zeros((2, 3)), "b": np.zeros((2, 4))})


def test_fixed_batch_size_input_does_not_limit_fit():
    inputs = keras.Input(shape=(3,), batch_size=5)
    model = keras.Model(inputs, layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.random.random((30, 3)), np.random.random((30, 1))
    model.fit(x, y, batch_size=5, epochs=1, verbose=0)
    assert model.predict(x, verbose=0).shape == (30, 1)


def test_building_a_graph_does_not_run_call():
    seen = []

    class Canary(layers.Layer):
        def call(self, x, training=False):
            seen.append(training)
            return x

        def compute_output_spec(self, x, training=False):
            return keras.layers.KerasTensor(x.shape, dtype=x.dtype)

    inputs = keras.Input(shape=(3,), batch_size=2)
    model = keras.Model(inputs, Canary()(inputs))
    assert seen == []
    model(np.random.random((2, 3)), training=True)
    assert seen == [True]


def test_invalid_configs_raise_value_errors():
    def config(nodes_of_a, with_b):
        entries = [{"class_name": "InputLayer", "name": "input_1",
                    "config": {"batch_input_shape": [None, 10], "dtype": "float32",
                               "name": "input_1"}, "inbound_nodes": []},
                   {"class_name": "Dense", "name": "node_a",
                    "config": {"units": 10, "name": "node_a"}, "inbound_nodes": nodes_of_a}]
        if with_b:
            entries.append({"class_name": "Dense", "name": "node_b",
                            "config": {"units": 10, "name": "node_b"},
                            "inbound_nodes": [[["node_a", 0, 0, {}]]]})
        return {"name": "m", "layers": entries, "input_layers": [["input_1", 0, 0]],
                "output_layers": [["node_a", 0, 0]]}
    with pytest.raises(ValueError, match="loop"):
        keras.Model.from_config(config([[["node_b", 0, 0, {}]]], with_b=True))
    with pytest.raises(ValueError, match="Missing node: node_b"):
        keras.Model.from_config(config([[["node_b", 0, 0, {}]]], with_b=False))


def test_sub_models_from_intermediate_tensors():
    inputs = keras.Input(shape=(None, 2), name="input")
    x1 = layers.Dense(3, name="dense1")(inputs)
    x2 = layers.Dense(4, name="dense2")(x1)
    outputs = layers.Dense(5, name="dense3")(x2)
    full = keras.Model(inputs, outputs)
    partial = keras.Model(x2, outputs)
    assert [type(l).__name__ for l in partial.layers] == ["InputLayer", "Dense"]
    assert partial.layers[1].name == "dense3"
    middle = keras.Model(full.get_layer("dense2").input, outputs)
    assert [l.name for l in middle.layers[1:]] == ["dense2", "dense3"]
    x = np.random.random((2, 7, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(middle(x)),
                               np.asarray(full.get_layer("dense3")(full.get_layer("dense2")(x))),
                               rtol=1e-6)


def test_inputs_take_the_input_dtype():
    float_input = keras.Input(shape=(2,), dtype="float16")
    int_input = keras.Input(shape=(2,), dtype="int32")
    model = keras.Model((float_input, int_input), (float_input + 2, int_input + 2))
    a, b = model((np.ones((2, 2)), np.ones((2, 2))))
    assert (a.dtype, b.dtype) == ("float16", "int32")


def test_optional_inputs():
    class OptionalAdd(layers.Layer):
        def call(self, x, y=None):
            return x if y is None else x + y

        def compute_output_shape(self, x_shape):
            return x_shape

    i1 = keras.Input((2,), name="input1")
    i2 = keras.Input((2,), name="input2", optional=True)
    model = keras.Model({"input1": i1, "input2": i2}, OptionalAdd()(i1, i2))
    np.testing.assert_allclose(np.asarray(model({"input1": np.ones((2, 2)), "input2": None})),
                               np.ones((2, 2)))
    required = keras.Input((2,), name="input3")
    model = keras.Model({"input1": i1, "input3": required}, OptionalAdd()(i1, required))
    with pytest.raises(ValueError, match="not optional"):
        model({"input1": np.ones((2, 2)), "input3": None})


def test_manual_input_spec():
    inputs = keras.Input(shape=(None, 3))
    model = keras.Model(inputs, layers.Dense(2)(inputs))
    model.input_spec = layers.InputSpec(shape=(None, 4, 3))
    with pytest.raises(ValueError, match=r"expected shape=\(None, 4, 3\), found shape=\(2, 3, 3\)"):
        model(np.zeros((2, 3, 3)))
    assert model(np.zeros((2, 4, 3))).shape == (2, 4, 2)


def test_layers_setters_are_reserved():
    inputs = keras.Input(shape=(3,))
    with pytest.raises(AttributeError, match="`Model.layers` attribute is reserved"):
        keras.Model(inputs, layers.Dense(5)(inputs)).layers = []
    with pytest.raises(AttributeError, match=r"Use `add\(\)` and `pop\(\)`"):
        keras.Sequential([layers.Dense(1)]).layers = []


def test_sequential_graph_properties_and_dict_inputs():
    model = keras.Sequential()
    assert not hasattr(model, "inputs") and not hasattr(model, "output_shape")
    inputs = keras.Input(shape=(2,))
    model.add(inputs)
    model.add(layers.Dense(4))
    assert model.inputs == [inputs] and model.outputs == [model.layers[-1].output]
    assert (model.input_shape, model.output_shape) == ((None, 2), (None, 4))

    class DictLayer(layers.Layer):
        def call(self, inputs):
            assert isinstance(inputs, dict)
            return inputs

    out = keras.Sequential([DictLayer()])({"a": np.ones((3, 2)), "b": np.ones((3, 2))})
    assert isinstance(out, dict)


def test_sequential_errors_as_keras():
    model = keras.Sequential()
    model.add(keras.Input(shape=(2,), batch_size=3))
    with pytest.raises(ValueError, match="already been configured"):
        model.add(keras.Input(shape=(2,), batch_size=3))
    model.add(layers.Dense(2))
    with pytest.raises(ValueError, match="already been configured"):
        model.build((3, 4))
    with pytest.raises(ValueError, match="no layers"):
        keras.Sequential()(np.zeros((3, 2)))

    class TwoArgs(layers.Layer):
        def call(self, inputs, training):
            return inputs

    with pytest.raises(ValueError, match="can only have a single.*positional"):
        keras.Sequential([TwoArgs()]).build((None, 2))


def test_clone_keeps_compilation_and_checks_structure():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    assert keras.models.clone_model(model).compiled
    x, y = keras.Input((3,)), keras.Input((3,))
    model = keras.Model(dict(x=x, y=y), dict(z1=x + y, z2=layers.Dense(5)(x + y)))
    with pytest.raises(ValueError, match="must have the same structure as model.input"):
        keras.models.clone_model(model, input_tensors=(x, y))


def test_input_layer_arguments_as_keras():
    with pytest.raises(ValueError, match="cannot pass both `batch_size` and `batch_shape`"):
        layers.InputLayer(batch_size=4, batch_shape=(2, 3))
    with pytest.raises(ValueError, match="pass a `shape` argument"):
        layers.InputLayer()
    with pytest.warns(UserWarning, match="`input_shape` is deprecated. Use `shape` instead"):
        assert layers.InputLayer(input_shape=(2, 3), batch_size=4).batch_shape == (4, 2, 3)
    tensor = keras.layers.KerasTensor((2, 3), dtype="float32")
    layer = layers.InputLayer(input_tensor=tensor)
    assert layer.output is tensor and layer.batch_shape == (2, 3)
    with pytest.raises(ValueError, match="cannot provide an incompatible `shape`"):
        layers.InputLayer(shape=(2, 4), input_tensor=keras.layers.KerasTensor((2, 3)))
    assert layers.InputLayer(shape=(32,)).call() is None
