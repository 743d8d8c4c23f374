"""Ops on symbolic tensors become graph nodes, as in Keras 3.

Keras' facts used (checked with Keras 3.15.1): `a + b` records `keras.src.ops.numpy.Add`
named "add" whose node arguments are both operands; `ops.sum(x, axis=1)` records `Sum`
with `{"axis": 1, "keepdims": False}` in its config; `x[:, None]` records `GetItem` with
the key (a `__slice__` and None) as a call argument; comparisons give bool tensors;
`model.layers` lists no ops while `model.operations` does.
"""

import json

import numpy as np
import pytest

import numnet as keras


def _model():
    keras.backend.clear_session()  # op names as in a fresh session: "add", not "add_3"
    a = keras.Input((3,), name="a")
    b = keras.Input((3,), name="b")
    total = (a + b) * 2
    outputs = [total[:, None], a > 0.5, 2 - a, keras.ops.sum(keras.ops.exp(a), axis=1),
               keras.layers.Dense(2, name="dense")(total)]
    return keras.Model([a, b], outputs)


def test_arithmetic_slicing_and_ops_compute_as_numpy():
    model = _model()
    x = np.array([[0.1, 0.6, 1.0], [2.0, -1.0, 0.5]], dtype="float32")
    y = np.arange(6, dtype="float32").reshape(2, 3)
    sliced, greater, reflected, summed, dense = model([x, y])
    np.testing.assert_allclose(np.asarray(sliced), ((x + y) * 2)[:, None])
    assert np.asarray(greater).dtype == bool
    np.testing.assert_array_equal(np.asarray(greater), x > 0.5)
    np.testing.assert_allclose(np.asarray(reflected), 2 - x)
    np.testing.assert_allclose(np.asarray(summed), np.exp(x).sum(axis=1), rtol=1e-6)
    assert np.asarray(dense).shape == (2, 2)


def test_symbolic_shapes_and_dtypes():
    a = keras.Input((3, 4))
    assert (a[:, None]).shape == (None, 1, 3, 4)
    assert keras.ops.sum(a, axis=1).shape == (None, 4)
    assert keras.ops.reshape(a, (-1, 12)).shape == (None, 12)
    assert (a < 1).dtype == "bool"
    assert keras.ops.cast(a, "int32").dtype == "int32"
    with pytest.raises(TypeError, match="boolean"):
        bool(a)


def test_ops_are_operations_not_layers():
    model = _model()
    assert [layer.name for layer in model.layers] == ["a", "b", "dense"]
    names = [op.name for op in model.operations]
    assert {"add", "multiply", "get_item", "greater", "subtract", "exp", "sum"} <= set(names)
    assert model.count_params() == 3 * 2 + 2


def test_config_matches_keras_layout_and_round_trips():
    model = _model()
    config = json.loads(json.dumps(model.get_config()))
    by_name = {layer["name"]: layer for layer in config["layers"]}
    assert (by_name["add"]["module"], by_name["add"]["class_name"]) == ("keras.src.ops.numpy", "Add")
    assert by_name["add"]["config"] == {"name": "add"}
    assert by_name["sum"]["config"] == {"name": "sum", "axis": 1, "keepdims": False}
    key = by_name["get_item"]["inbound_nodes"][0]["args"][1]
    assert key == [{"class_name": "__slice__", "config": {"start": None, "stop": None,
                                                            "step": None}}, None]
    assert by_name["multiply"]["inbound_nodes"][0]["args"][1] == 2
    revived = keras.Model.from_config(config)
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    revived.set_weights(model.get_weights())
    for mine, theirs in zip(model([x, x]), revived([x, x])):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))


def test_symbolic_ops_train_inside_a_model():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8)(inputs)
    outputs = keras.layers.Dense(1)(keras.ops.relu(hidden) * 0.5 + hidden[:, :1])
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(1).normal(size=(32, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=5, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before


@pytest.mark.parametrize("call", [
    lambda a: keras.ops.add(1.0, a),                          # second positional argument
    lambda a: keras.ops.concatenate([a, a], axis=-1),         # inside a list
    lambda a: keras.ops.stack((np.ones((1, 3), "float32"), a[:1]), axis=0),  # inside a tuple
    lambda a: keras.ops.sum(x=a, axis=-1),                    # a keyword argument
    lambda a: keras.ops.where(a > 0, x1=a, x2=0.0),           # in a keyword, not the first
])
def test_a_keras_tensor_anywhere_in_the_arguments_makes_the_op_symbolic(call):
    a = keras.Input((3,))
    assert isinstance(call(a), keras.KerasTensor)
    x = keras.ops.convert_to_tensor(np.array([[1.0, -2.0, 3.0]], dtype="float32"))
    assert not isinstance(call(x), keras.KerasTensor)  # tensors and arrays compute at once


def test_unknown_dimensions_broadcast_against_known_ones():
    # Keras' shape inference: `(None, 3) + (2, None)` is `(2, 3)`. The trace on zeros (unknown
    # lengths 2, then 3) fails to broadcast there; the unknown lengths then take the known
    # ones they meet. Where the plain trace works, nothing changes.
    x, y = keras.KerasTensor((None, 3)), keras.KerasTensor((2, None))
    assert keras.ops.add(x, y).shape == (2, 3)
    assert keras.ops.maximum(keras.KerasTensor((None, 1, 4)), keras.KerasTensor((5, None))).shape \
        == (None, 5, 4)
    assert keras.ops.matmul(keras.KerasTensor((None, 3)), keras.KerasTensor((3, None))).shape \
        == (None, None)
    assert keras.ops.add(keras.KerasTensor((None, 3)), keras.KerasTensor((None, 3))).shape \
        == (None, 3)
    with pytest.raises(ValueError):
        keras.ops.add(keras.KerasTensor((None, 3)), keras.KerasTensor((2, 4)))
