"""`Model.get_state_tree` / `set_state_tree` and the automatic config of custom layers, against
Keras 3.15.1 (tests/fixtures/reference_api.json, `model_api`)."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

import numnet as keras

META = json.loads((Path(__file__).resolve().parents[1] / "fixtures" /
                   "reference_api.json").read_text())["model_api"]
L = keras.layers


def _paths(tree, prefix=""):
    if isinstance(tree, dict):
        return sorted(p for k, v in tree.items() for p in _paths(v, f"{prefix}{k}/"))
    return [prefix[:-1]]


def _model():
    x = keras.Input((3,), name="x")
    h = L.BatchNormalization(name="norm")(L.Dense(4, name="hidden")(x))
    model = keras.Model(x, L.Dense(1, name="out")(h))
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(np.ones((4, 3), "float32"), np.ones((4, 1), "float32"), verbose=0)
    return model


def _without_counter(path):
    head, _, tail = path.partition("/")
    return re.sub(r"_\d+$", "", head) + "/" + tail


def test_state_tree_has_keras_groups_and_paths():
    model = _model()
    tree = model.get_state_tree(value_format="numpy_array")
    for group in ("trainable_variables", "non_trainable_variables", "metrics_variables"):
        assert _paths(tree[group]) == META[group], group
    assert [_without_counter(p) for p in _paths(tree["optimizer_variables"])] == \
        [_without_counter(p) for p in META["optimizer_variables"]]
    assert type(tree["trainable_variables"]["out"]["kernel"]).__name__ == META["leaf_type"]
    np.testing.assert_array_equal(tree["trainable_variables"]["out"]["kernel"],
                                  model.get_layer("out").kernel.numpy())
    tensors = model.get_state_tree()
    assert isinstance(tensors["trainable_variables"]["out"]["kernel"], keras.Tensor)
    with pytest.raises(ValueError, match="value_format"):
        model.get_state_tree(value_format="lists")


def test_set_state_tree_assigns_the_paths_it_names():
    model = _model()
    name = model.optimizer.name
    model.set_state_tree({
        "optimizer_variables": {name: {"iteration": 0, "learning_rate": 0.00001}},
        "trainable_variables": {"out": {"bias": [0.5], "kernel": [[0.6], [0.7], [1.8], [0.1]]}},
    })
    assert int(model.optimizer.iterations) == 0
    np.testing.assert_allclose(float(model.optimizer.learning_rate), 0.00001, rtol=1e-6)
    np.testing.assert_allclose(model.get_layer("out").kernel.numpy(),
                               [[0.6], [0.7], [1.8], [0.1]], rtol=1e-7)
    np.testing.assert_allclose(model.get_layer("out").bias.numpy(), [0.5])
    with pytest.raises(ValueError, match="Unknown variable name"):
        model.set_state_tree({"weights": {}})


def test_duplicate_variable_paths_are_refused():
    class Twice(keras.Model):
        def __init__(self):
            super().__init__()
            self.first = L.Dense(2, name="same")
            self.second = L.Dense(2, name="same")

        def call(self, inputs):
            return self.second(self.first(inputs))

    twice = Twice()
    twice(np.ones((1, 2), "float32"))
    expected = META["duplicate_error"][1]
    with pytest.raises(ValueError) as info:
        twice.get_state_tree()
    # Keras prefixes a subclassed model's variable paths with the model's name; numnet does not
    assert str(info.value).split(":")[0] == expected.split(":")[0]
    assert str(info.value).split("'")[2:] == expected.split("'")[2:]


class Scaled(L.Layer):
    def __init__(self, units, scale=2.0, tags=("a", "b"), **kwargs):
        super().__init__(**kwargs)
        self.dense = L.Dense(units)
        self.scale = scale

    def call(self, inputs):
        return self.dense(inputs) * self.scale


def test_a_custom_layer_without_get_config_saves_its_constructor_arguments():
    config = Scaled(3, tags=["x"], name="scaled").get_config()
    assert {k: v for k, v in config.items() if k != "dtype"} == META["auto_config"]
    inputs = keras.Input((4,))
    model = keras.Model(inputs, Scaled(5)(inputs))
    revived = keras.Model.from_config(model.get_config(), custom_objects={"Scaled": Scaled})
    assert revived.layers[1].dense.units == 5


def test_arguments_that_are_not_plain_values_ask_for_a_get_config():
    """As Keras 3.15 (checked with it): an array argument leaves no automatic config."""
    class WithArray(L.Layer):
        def __init__(self, table, **kwargs):
            super().__init__(**kwargs)
            self.table = table

    with pytest.raises(NotImplementedError, match="Object WithArray was created by passing "
                                                  "non-serializable argument values"):
        WithArray(np.ones(3), name="t").get_config()
