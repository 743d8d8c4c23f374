"""Keras' auto config: a layer or model class without `get_config()` saves the arguments
it was constructed with; plus `Wrapper`, `add_variable`, `compute_dtype` and `Lambda`'s
saving (`tests/test_serialization.py` compares an auto config with real Keras').
"""

import warnings

import numpy as np
import pytest

import numnet as keras
from numnet import layers, ops
from numnet.serialization import ObjectSharingScope

X = np.linspace(-1, 1, 12, dtype="float32").reshape(4, 3)


class Shift(layers.Layer):
    def __init__(self, amount, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.amount = amount
        self.scale = scale

    def call(self, x):
        return x * self.scale + self.amount


def test_constructor_arguments_are_the_config():
    layer = Shift(2.0, name="shift", trainable=False)
    config = layer.get_config()
    assert config["amount"] == 2.0 and config["scale"] == 1.0
    assert config["name"] == "shift" and config["trainable"] is False
    clone = Shift.from_config(config)
    assert (clone.amount, clone.scale, clone.name, clone.trainable) == (2.0, 1.0, "shift", False)


def test_a_saved_model_with_such_a_layer_loads(tmp_path):
    model = keras.Sequential([keras.Input((3,)), Shift(0.5), layers.Dense(2)])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", custom_objects={"Shift": Shift})
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_non_plain_or_variadic_arguments_need_a_get_config():
    class Holds(layers.Layer):
        def __init__(self, inner, **kwargs):
            super().__init__(**kwargs)
            self.inner = inner

    class Variadic(layers.Layer):
        def __init__(self, *sizes, **kwargs):
            super().__init__(**kwargs)
            self.sizes = sizes

    with pytest.raises(NotImplementedError, match="non-serializable argument values"):
        Holds(layers.Dense(2)).get_config()
    with pytest.raises(NotImplementedError, match="variadic positional arguments"):
        Variadic(1, 2).get_config()


def test_a_class_writing_get_config_keeps_it():
    class Own(layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def get_config(self):
            return {**super().get_config(), "units_written": self.units}

    config = Own(3).get_config()
    assert config["units_written"] == 3 and "units" not in config


def test_builtin_layers_keep_keras_configs():
    # Keras' Add config has no `activity_regularizer` (its classes all write get_config).
    assert set(layers.Add().get_config()) == {"name", "trainable", "dtype"}
    assert set(layers.Identity().get_config()) == {"name", "trainable", "dtype"}


def test_subclassed_model_arguments_are_its_config():
    class Net(keras.Model):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.dense = layers.Dense(units)

        def call(self, x):
            return self.dense(x)

    model = Net(5)
    # Keras 3.15 records the *default* (units=3) here: its Model.__new__ drops the
    # arguments. numnet records the ones given.
    assert model.get_config()["units"] == 5
    assert keras.models.clone_model(model).dense.units == 5


def test_add_variable_and_compute_dtype():
    layer = layers.Dense(2, dtype="float64")
    counter = layer.add_variable((), "zeros", trainable=False, name="counter")
    assert counter in layer.non_trainable_weights and counter.numpy() == 0
    assert layer.compute_dtype == layer.variable_dtype == "float64"


# ---------------------------------------------------------------------- Wrapper
class Twice(layers.Wrapper):
    def call(self, x):
        return self.layer(self.layer(x))


def test_wrapper_saves_its_layer(tmp_path):
    model = keras.Sequential([keras.Input((3,)), Twice(layers.Dense(3, name="inner"))])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", custom_objects={"Twice": Twice})
    assert loaded.layers[0].layer.name == "inner"
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="isn't a supported layer type"):
        layers.Wrapper("not a layer")


class Once(layers.Wrapper):
    def call(self, x):
        return self.layer(x)


def test_a_layer_shared_through_a_wrapper_stays_shared():
    with ObjectSharingScope():
        a, b = keras.Input((2,)), keras.Input((2,))
        shared = layers.Dense(1)
        model = keras.Model([a, b], [shared(a), Once(shared)(b)])
        config = keras.saving.serialize_keras_object(model)
        restored = keras.saving.deserialize_keras_object(config,
                                                         custom_objects={"Once": Once})
    assert restored.layers[2] is restored.layers[3].layer


# ----------------------------------------------------------------------- Lambda
def test_lambda_from_config_safe_mode_argument():
    config = layers.Lambda(lambda x: x ** 2).get_config()
    with pytest.raises(ValueError, match="arbitrary code execution"):
        layers.Lambda.from_config(dict(config))  # outside any load: safe
    layer = layers.Lambda.from_config(dict(config), safe_mode=False)
    np.testing.assert_array_equal(layer(2 * np.ones((2, 3))).numpy(), 4 * np.ones((2, 3)))


def test_lambda_of_an_op_is_saved_under_the_op_name(tmp_path):
    assert ops.square.__name__ == "square"
    config = layers.Lambda(ops.square).get_config()["function"]
    assert config == {"module": "builtins", "class_name": "function", "config": "square",
                      "registered_name": "function"}
    restored = layers.Lambda.from_config(layers.Lambda(ops.square).get_config(),
                                         custom_objects={"square": ops.square})
    assert restored.function is ops.square


def test_lambda_output_keeps_a_known_batch_size():
    assert layers.Lambda(ops.square).compute_output_shape((2, 3)) == (2, 3)
    assert layers.Lambda(ops.square)(keras.Input(batch_shape=(2, 3))).shape == (2, 3)
    assert layers.Lambda(ops.square)(keras.Input((3,))).shape == (None, 3)


def test_lambda_with_tensor_arguments_round_trips_in_legacy_h5(tmp_path):
    mean = np.full((2, 3), 0.5, "float32")
    inputs = keras.Input((2, 3))
    outputs = layers.Lambda(lambda x, mu: x - mu, arguments={"mu": keras.ops.convert_to_tensor(
        mean)})(inputs)
    model = keras.Model(inputs, outputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match="arbitrary code execution"):
        keras.saving.load_model(tmp_path / "m.h5")
    loaded = keras.saving.load_model(tmp_path / "m.h5", safe_mode=False)
    np.testing.assert_array_equal(np.asarray(loaded.layers[1].arguments["mu"]), mean)
    x = np.ones((1, 2, 3), "float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), x - mean)


def test_a_wrapped_layer_used_twice_is_saved_once(tmp_path):
    a, b = keras.Input((2,)), keras.Input((2,))
    shared = layers.Dense(1)
    model = keras.Model([a, b], [shared(a), Once(shared)(b)])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", custom_objects={"Once": Once})
    assert loaded.layers[2] is loaded.layers[3].layer
    x = np.ones((3, 2), "float32")
    for ours, theirs in zip(loaded.predict([x, x], verbose=0), model.predict([x, x], verbose=0)):
        np.testing.assert_array_equal(ours, theirs)
