"""Model-level pieces of Keras' saving contract: `_flatten_layers`, Functional subclasses
revived through their constructor, compile configs naming registered functions.

Expected names and configs come from real Keras
(`tests/fixtures/generate_keras_saving_lib.py`).
"""

import json
import os

import numpy as np
import pytest

import numnet as keras
from numnet import layers

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras_saving_lib")
with open(os.path.join(FIXTURES, "reference.json")) as _f:
    REF = json.load(_f)


@keras.saving.register_keras_serializable(package="numnet_fixtures")
def squared_error(y_true, y_pred):
    return keras.ops.mean(keras.ops.square(y_pred - y_true), axis=-1)


def _nested():
    inner_in = keras.Input((3,), name="inner_in")
    inner = keras.Model(inner_in, layers.Dense(2, name="inner_dense")(inner_in), name="inner")
    middle_in = keras.Input((4,), name="middle_in")
    h = layers.Dense(3, name="middle_dense")(middle_in)
    middle = keras.Model(middle_in, inner(h), name="middle")
    outer_in = keras.Input((5,), name="outer_in")
    h = layers.Dense(4, name="outer_dense")(outer_in)
    return keras.Model(outer_in, layers.Dense(1, name="head")(middle(h)), name="outer")


def test_flatten_layers_in_keras_order():
    model = _nested()
    assert [layer.name for layer in model._flatten_layers()] == REF["flatten_layers"]
    assert [layer.name for layer in model._flatten_layers(include_self=False, recursive=False)] \
        == REF["flatten_layers_not_recursive"]


def test_flatten_layers_includes_layers_held_outside_the_graph():
    class Backbone(keras.Model):
        def __init__(self):
            inputs = keras.Input((3,))
            super().__init__(inputs, layers.Dense(4, name="encoder")(inputs))
            self.decoder = layers.Dense(2, name="decoder")

    backbone = Backbone()
    assert backbone.decoder in backbone._flatten_layers()


def test_registered_custom_loss_survives_saving(tmp_path):
    model = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss=squared_error)
    assert model.get_compile_config()["loss"] == REF["compile_config_loss"]
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 1), "float32")
    model.fit(x, y, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    # tests/test_serialization.py registers a function of the same name; the registry decides
    assert loaded.loss is keras.saving.get_registered_object("numnet_fixtures>squared_error")
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))


def test_functional_subclasses_revive_as_themselves():
    class Plain(keras.Model):
        pass

    inputs = keras.Input((2,), batch_size=3)
    model = Plain(inputs, layers.Dense(1)(inputs))
    config = keras.saving.serialize_keras_object(model)
    restored = keras.saving.deserialize_keras_object(config, custom_objects={"Plain": Plain})
    assert type(restored) is Plain

    class CustomInit(keras.Model):
        def __init__(self, num_units=2):
            inputs = keras.Input((2,), batch_size=3)
            super().__init__(inputs, layers.Dense(num_units)(inputs))
            self.num_units = num_units

        def get_config(self):
            return {"num_units": self.num_units}

    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(CustomInit(num_units=3)),
        custom_objects={"CustomInit": CustomInit})
    assert type(restored) is CustomInit and restored.output.shape == (3, 3)
