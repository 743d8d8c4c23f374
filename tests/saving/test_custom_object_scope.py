"""`custom_object_scope` / `get_custom_objects` resolve names as in Keras."""

import pytest

import numnet as keras
from numnet.saving import custom_object_scope, deserialize_keras_object, get_custom_objects


class Doubler(keras.layers.Layer):
    def call(self, inputs):
        return inputs * 2


def test_scope_resolves_a_class_name_only_inside_the_with_block():
    config = {"module": None, "class_name": "Doubler", "config": {"name": "d"},
              "registered_name": None}
    with pytest.raises(ValueError, match="Doubler"):
        deserialize_keras_object(config)
    with custom_object_scope({"Doubler": Doubler}):
        assert type(deserialize_keras_object(config)) is Doubler
    with pytest.raises(ValueError, match="Doubler"):
        deserialize_keras_object(config)


def test_global_custom_objects_resolve_everywhere():
    config = {"module": None, "class_name": "Doubler", "config": {"name": "d2"},
              "registered_name": None}
    get_custom_objects()["Doubler"] = Doubler
    try:
        assert type(deserialize_keras_object(config)) is Doubler
    finally:
        del get_custom_objects()["Doubler"]
