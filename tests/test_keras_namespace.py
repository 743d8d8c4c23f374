"""The names a Keras 3 program reaches for first, at the top level and in `keras.utils`,
`keras.config` and `keras.backend` (facts checked against Keras 3.15.1's sources)."""

import threading

import numpy as np
import pytest

import numnet as keras
from numnet.layers import Lambda


def test_the_base_classes_are_at_the_top_level():
    assert keras.Layer is keras.layers.Layer
    assert keras.Loss is keras.losses.Loss
    assert keras.Metric is keras.metrics.Metric
    assert keras.Optimizer is keras.optimizers.Optimizer
    assert keras.Initializer is keras.initializers.Initializer
    assert keras.Regularizer is keras.regularizers.Regularizer
    assert keras.Constraint is keras.constraints.Constraint
    assert keras.InputSpec is keras.layers.InputSpec
    assert keras.KerasTensor is keras.layers.KerasTensor
    assert keras.version() == keras.__version__

    class Doubling(keras.Layer):  # the Keras 3 way of writing a layer
        def call(self, x):
            return x * 2.0

    model = keras.Sequential([keras.Input((2,)), Doubling()])
    np.testing.assert_array_equal(model(np.ones((1, 2), "float32")), [[2.0, 2.0]])


def test_the_backend_says_numpy_and_answers_dtype_questions():
    assert keras.config.backend() == keras.backend.backend() == "numpy"
    assert keras.backend.is_float_dtype("float16") and keras.backend.is_float_dtype(np.float64)
    assert not keras.backend.is_float_dtype("int32")
    assert keras.backend.is_int_dtype("uint8") and keras.backend.is_int_dtype(np.int64)
    assert not keras.backend.is_int_dtype("bool")
    assert keras.utils.standardize_dtype(np.float32) == "float32"
    symbolic = keras.Input((3,))
    assert keras.utils.is_keras_tensor(symbolic) and keras.backend.is_keras_tensor(symbolic)
    assert not keras.utils.is_keras_tensor(np.ones(3))


@pytest.mark.parametrize("data, parts", [
    (np.ones(2), (np.ones(2), None, None)),
    ((np.ones(2),), (np.ones(2), None, None)),
    ([np.ones(2), np.zeros(2)], (np.ones(2), np.zeros(2), None)),
    ((1, 2, 3), (1, 2, 3)),
])
def test_unpack_x_y_sample_weight_follows_keras(data, parts):
    unpacked = keras.utils.unpack_x_y_sample_weight(data)
    assert len(unpacked) == 3
    for mine, theirs in zip(unpacked, parts):
        assert (mine is None and theirs is None) or np.array_equal(mine, theirs)


def test_pack_is_the_inverse_and_keeps_a_tuple_x_apart_from_x_y():
    assert keras.utils.pack_x_y_sample_weight(5) == 5
    assert keras.utils.pack_x_y_sample_weight((1, 2)) == ((1, 2),)
    assert keras.utils.pack_x_y_sample_weight(1, 2) == (1, 2)
    assert keras.utils.pack_x_y_sample_weight(1, 2, 3) == (1, 2, 3)
    assert keras.utils.unpack_x_y_sample_weight(keras.utils.pack_x_y_sample_weight((1, 2))) == \
        ((1, 2), None, None)
    with pytest.raises(ValueError, match="tuple of 4"):
        keras.utils.unpack_x_y_sample_weight((1, 2, 3, 4))


def test_a_custom_train_step_can_unpack_its_batch_with_the_utility():
    class Custom(keras.Model):
        def train_step(self, data):
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
            return super().train_step(keras.utils.pack_x_y_sample_weight(x, y, sample_weight))

    inputs = keras.Input((3,))
    model = Custom(inputs, keras.layers.Dense(1)(inputs))
    model.compile("sgd", "mse")
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    history = model.fit(x, x[:, :1], epochs=2, batch_size=4, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]


def test_the_serialization_helpers_are_in_utils_too():
    for name in ("register_keras_serializable", "serialize_keras_object",
                 "deserialize_keras_object", "get_registered_name", "get_registered_object",
                 "custom_object_scope", "CustomObjectScope", "get_custom_objects"):
        assert getattr(keras.utils, name) is getattr(keras.saving, name)


def test_enable_unsafe_deserialization_lets_from_config_rebuild_a_lambda_in_its_thread():
    config = Lambda(lambda t: t * 3.0).get_config()
    with pytest.raises(ValueError, match="safe_mode"):
        Lambda.from_config(config)  # refused by default
    results = {}

    def in_a_thread():  # the switch is per thread, as Keras' global state
        keras.config.enable_unsafe_deserialization()
        layer = Lambda.from_config(config)
        results["value"] = np.asarray(layer(np.ones((1, 2), "float32")))

    worker = threading.Thread(target=in_a_thread)
    worker.start()
    worker.join(timeout=30)
    np.testing.assert_array_equal(results["value"], [[3.0, 3.0]])
    with pytest.raises(ValueError, match="safe_mode"):
        Lambda.from_config(config)  # this thread is still safe


@pytest.mark.parametrize("with_weights, expected", [
    (False, "(x, y)"), (True, "(x, y, sample_weight)"),
])
def test_a_step_receives_its_batch_in_keras_form(with_weights, expected):
    """As Keras' data adapters give it: `x, y = data` (the guide's first line) just works."""
    seen = []

    def form(data):
        return "(" + ", ".join(["x", "y", "sample_weight"][:len(data)]) + ")" \
            if isinstance(data, tuple) else "x"

    class Recording(keras.Model):
        def train_step(self, data):
            seen.append(("train", form(data)))
            return super().train_step(data)

        def test_step(self, data):
            seen.append(("test", form(data)))
            return super().test_step(data)

    inputs = keras.Input((3,))
    model = Recording(inputs, keras.layers.Dense(1)(inputs))
    model.compile("sgd", "mse")
    x = np.random.default_rng(1).normal(size=(8, 3)).astype("float32")
    weights = np.linspace(0.5, 1.5, 8).astype("float32") if with_weights else None
    model.fit(x, x[:, :1], sample_weight=weights, epochs=1, batch_size=4, verbose=0)
    model.evaluate(x, x[:, :1], sample_weight=weights, batch_size=4, verbose=0)
    assert seen and set(seen) == {("train", expected), ("test", expected)}


def test_the_ops_submodules_hold_keras_names_as_the_same_functions():
    """`keras.ops.nn.relu`, `keras.ops.linalg.inv`, `keras.ops.numpy.add` (names generated
    from Keras 3.15.1 by tools/generate_ops_namespaces.py)."""
    import importlib

    from numnet import ops_namespaces
    for short, names in (("nn", ops_namespaces.NN), ("numpy", ops_namespaces.NUMPY),
                         ("linalg", ops_namespaces.LINALG), ("image", ops_namespaces.IMAGE)):
        module = importlib.import_module(f"numnet.ops.{short}")
        assert module is getattr(keras.ops, short)
        assert set(module.__all__) <= set(names)
        for name in module.__all__:
            assert getattr(module, name) is getattr(keras.ops, name), name
        for name in set(names) - set(module.__all__):
            with pytest.raises(AttributeError, match=f"no keras.ops.{short}.{name} yet"):
                getattr(module, name)
    assert len(keras.ops.nn.__all__) >= 40 and len(keras.ops.numpy.__all__) >= 210
    np.testing.assert_array_equal(keras.ops.nn.relu(np.array([-1.0, 2.0])), [0.0, 2.0])
