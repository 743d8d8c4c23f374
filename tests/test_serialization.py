"""`serialize_keras_object` / `deserialize_keras_object` as Keras 3.15's `serialization_lib`.

The envelopes are compared with what real Keras writes
(`tests/fixtures/generate_keras_saving_lib.py`).
"""

import json
import os

import numpy as np
import pytest

import numnet as keras
from numnet.autodiff.tensor import Tensor
from numnet.serialization import (
    ObjectSharingScope, SafeModeScope, deserialize_keras_object, serialize_keras_object,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "keras_saving_lib")
with open(os.path.join(FIXTURES, "reference.json")) as _f:
    KERAS = json.load(_f)["serialized"]


@keras.saving.register_keras_serializable(package="numnet_fixtures")
class Scale(keras.layers.Layer):
    def __init__(self, factor, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor
        self.offset = offset

    def call(self, x):
        return x * self.factor + self.offset


@keras.saving.register_keras_serializable(package="numnet_fixtures")
def squared_error(y_true, y_pred):
    return keras.ops.mean(keras.ops.square(y_pred - y_true), axis=-1)


def registered_squared_error():
    """The function registered as `numnet_fixtures>squared_error` (this module's or
    tests/models/test_keras_model_saving_contract.py's, whichever registered last)."""
    return keras.saving.get_registered_object("numnet_fixtures>squared_error")


def _json_round_trip(value):
    return json.loads(json.dumps(value))


@pytest.mark.parametrize("name, obj", [
    ("relu", keras.activations.relu),
    ("registered_function", squared_error),
    ("numpy_array", np.array([0.0, 1.5])),
    ("numpy_scalar", np.float32(1.5)),
    ("slice", slice(None, 20, 1)),
    ("bytes", b"hello"),
    ("ellipsis", Ellipsis),
    ("tensor", Tensor(np.array([[1.0, 2.0]], dtype="float64"))),
    ("auto_config_layer", Scale(2.0, name="scale")),
    ("add_layer", keras.layers.Add(name="add")),
])
def test_envelopes_are_keras_envelopes(name, obj):
    ours = _json_round_trip(serialize_keras_object(obj))
    if name == "auto_config_layer":
        # A custom class' `module` is where it is defined (Keras' generator ran as __main__,
        # which Keras writes as None).
        assert ours["module"] == __name__
        ours["module"] = None
    assert ours == KERAS[name]


@pytest.mark.parametrize("obj", [
    "hello", b"hello", np.array([0, 1]), np.float32(1.0), ["hello", 0, "world", 1.0, True],
    {"1": "hello", "2": [True, False]}, slice(None, np.array([0, 1]), 1),
])
def test_plain_values_round_trip(obj):
    serialized = _json_round_trip(serialize_keras_object(obj))
    restored = deserialize_keras_object(serialized)
    assert _json_round_trip(serialize_keras_object(restored)) == serialized


def test_tensors_and_registered_functions_come_back():
    x = Tensor(np.array([[1.5, -2.0]], dtype="float64"))
    restored = deserialize_keras_object(_json_round_trip(serialize_keras_object({"x": x})))
    np.testing.assert_array_equal(np.asarray(restored["x"]), x.numpy())
    # another test module registers a function of the same name; the registry decides
    assert deserialize_keras_object(KERAS["registered_function"]) is registered_squared_error()
    assert deserialize_keras_object(KERAS["relu"]) is keras.activations.relu


def test_functions_saved_by_name_only_resolve_by_their_registered_suffix():
    """Keras <= 3.6 wrote custom functions without their package."""
    config = {"module": "builtins", "class_name": "function", "config": "squared_error",
              "registered_name": "function"}
    assert deserialize_keras_object(config) is registered_squared_error()


def test_lambdas_need_safe_mode_false():
    with pytest.warns(UserWarning, match="includes a `lambda`"):
        serialized = _json_round_trip(serialize_keras_object({"f": lambda x: x ** 2}))
    with pytest.raises(ValueError, match="arbitrary code execution"):
        deserialize_keras_object(serialized)
    with SafeModeScope(True), pytest.raises(ValueError, match="arbitrary code execution"):
        deserialize_keras_object(serialized, safe_mode=False)  # the scope wins, as in Keras
    assert deserialize_keras_object(serialized, safe_mode=False)["f"](3) == 9


@pytest.mark.parametrize("config, error, message", [
    ({"class_name": "Dense", "config": [1, 2, 3]}, TypeError, "Expected 'config' to be a dict"),
    ({"class_name": "function", "config": ["a"]}, TypeError,
     "Expected 'config' to be a non-null str"),
    ({"class_name": "__typespec__", "config": "x"}, TypeError,
     "Expected 'config' to be a list or a tuple"),
    ({"class_name": "Dense", "module": "keras.layers", "registered_name": "builtins.eval",
      "config": {"units": 1}}, ValueError, "resolved to a Keras built-in"),
    ({"class_name": "function", "module": "builtins", "registered_name": "other",
      "config": "relu"}, ValueError, "resolved to a Keras built-in"),
])
def test_malformed_configs_get_keras_errors(config, error, message):
    with pytest.raises(error, match=message):
        deserialize_keras_object(config)


def test_matching_registered_names_pass():
    for registered in (None, "", "Dense"):
        layer = deserialize_keras_object({"class_name": "Dense", "module": "keras.layers",
                                          "registered_name": registered,
                                          "config": {"units": 1}})
        assert isinstance(layer, keras.layers.Dense)


def test_objects_inside_get_config_are_serialized():
    class Holder(keras.layers.Layer):
        def __init__(self, inner=None, **kwargs):
            super().__init__(**kwargs)
            self.inner = deserialize_keras_object(inner) if isinstance(inner, dict) else inner

        def get_config(self):
            return {**super().get_config(), "inner": self.inner}

    serialized = _json_round_trip(serialize_keras_object(Holder(keras.layers.Dense(2))))
    assert serialized["config"]["inner"]["class_name"] == "Dense"
    restored = deserialize_keras_object(serialized, custom_objects={"Holder": Holder})
    assert isinstance(restored.inner, keras.layers.Dense) and restored.inner.units == 2


def test_class_without_from_config_is_a_type_error():
    @keras.saving.register_keras_serializable(package="numnet_tests")
    class Growth:
        def __init__(self, factor):
            self.factor = factor

        def get_config(self):
            return {"factor": self.factor}

    with pytest.raises(TypeError, match="Unable to reconstruct an instance of 'Growth'"):
        deserialize_keras_object(serialize_keras_object(Growth(0.5)))


def test_object_sharing_scope_shares_objects():
    class Act:
        def __call__(self, x):
            return x

        def get_config(self):
            return {}

        @classmethod
        def from_config(cls, config):
            return cls()

    shared = Act()
    with ObjectSharingScope():
        serialized = _json_round_trip(serialize_keras_object([shared, shared]))
        restored = deserialize_keras_object(serialized, custom_objects={"Act": Act})
    assert serialized[0]["shared_object_id"] == serialized[1]["shared_object_id"]
    assert restored[0] is restored[1]
    restored = deserialize_keras_object(serialized, custom_objects={"Act": Act})
    assert restored[0] is not restored[1]  # outside a scope, each config builds its own
