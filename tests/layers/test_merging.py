"""Merging layers: values, shapes, broadcasting, errors, config and function forms."""

import numpy as np
import pytest

import numnet as keras
from numnet import layers

RNG = np.random.default_rng(2)
A = RNG.normal(size=(4, 3)).astype("float32")
B = RNG.normal(size=(4, 3)).astype("float32")
C = RNG.normal(size=(4, 3)).astype("float32")


@pytest.mark.parametrize("layer, fn, expected", [
    (layers.Add, layers.add, A + B + C),
    (layers.Multiply, layers.multiply, A * B * C),
    (layers.Average, layers.average, (A + B + C) / 3),
    (layers.Maximum, layers.maximum, np.maximum(np.maximum(A, B), C)),
    (layers.Minimum, layers.minimum, np.minimum(np.minimum(A, B), C)),
    (layers.Concatenate, layers.concatenate, np.concatenate([A, B, C], axis=-1)),
])
def test_values_of_layer_and_function_forms(layer, fn, expected):
    np.testing.assert_allclose(np.asarray(layer()([A, B, C]).data), expected, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fn([A, B, C]).data), expected, rtol=1e-6)


def test_subtract_needs_exactly_two_inputs():
    np.testing.assert_allclose(np.asarray(layers.subtract([A, B]).data), A - B, rtol=1e-6)
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        layers.Subtract()([A, B, C])


def test_symbolic_shapes_and_broadcasting():
    x = keras.Input(shape=(3,))
    one = keras.Input(shape=(1,))
    assert layers.Add()([x, one]).shape == (None, 3)
    assert layers.Concatenate(axis=1)([keras.Input(shape=(2, 5)),
                                       keras.Input(shape=(4, 5))]).shape == (None, 6, 5)
    with pytest.raises(ValueError, match="incompatible shapes"):
        layers.Multiply()([x, keras.Input(shape=(4,))])
    with pytest.raises(ValueError, match="matching shapes except for the concatenation axis"):
        layers.Concatenate(axis=1)([keras.Input(shape=(2, 5)), keras.Input(shape=(2, 6))])


def test_merge_needs_a_list():
    with pytest.raises(ValueError, match="should be called on a list of inputs"):
        layers.Add()(keras.Input(shape=(3,)))


def test_config_round_trip():
    layer = layers.Concatenate(axis=1, name="join")
    config = layer.get_config()
    assert config["axis"] == 1 and config["name"] == "join"
    assert layers.Concatenate.from_config(config).axis == 1
    assert layers.Add.from_config(layers.Add(name="plus").get_config()).name == "plus"
