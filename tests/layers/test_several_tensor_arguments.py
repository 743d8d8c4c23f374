"""A custom layer whose `call` takes several tensors by position (`call(self, x1, x2)`)
works on symbolic inputs too: in a Functional model it builds, records its node with both
inputs, runs, trains and saves (Keras' own test: layers/layer_test.py, test_build_on_call)."""

import numpy as np
import pytest

import numnet as keras
from numnet import layers
from numnet.autodiff.ops.masking import set_keras_mask


@keras.saving.register_keras_serializable(package="tests")
class _Blend(layers.Layer):
    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.first, self.second = layers.Dense(units), layers.Dense(units)

    def call(self, x1, x2, scale=1.0):
        return (self.first(x1) + self.second(x2)) * scale

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _model():
    a, b = keras.Input((4,)), keras.Input((3,))
    return keras.Model([a, b], _Blend()(a, b, scale=2.0))


def test_a_layer_of_two_tensors_builds_and_runs_in_a_functional_model(tmp_path):
    model = _model()
    blend = model.layers[-1]
    assert model.output.shape == (None, 2) and len(blend.weights) == 4
    x = [np.random.default_rng(0).normal(size=(5, 4)).astype("float32"),
         np.random.default_rng(1).normal(size=(5, 3)).astype("float32")]
    expected = (np.asarray(blend.first(x[0])) + np.asarray(blend.second(x[1]))) * 2.0
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-6)
    model.compile("sgd", "mse")
    model.fit(x, np.ones((5, 2), "float32"), verbose=0)
    model.save(tmp_path / "blend.keras")
    again = keras.saving.load_model(tmp_path / "blend.keras")
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(model(x)))


def test_every_tensor_by_name_as_keras_binds_a_call(tmp_path):
    """`layer(x1=a, x2=b)`: the first argument of `call` may come by name too, eagerly and
    on symbolic inputs (Keras' test_build_on_call builds a layer so); a call without it
    says which argument is missing."""
    x = [np.random.default_rng(2).normal(size=(5, 4)).astype("float32"),
         np.random.default_rng(3).normal(size=(5, 3)).astype("float32")]
    blend = _Blend()
    by_position = np.asarray(blend(x[0], x[1], scale=2.0))
    np.testing.assert_array_equal(np.asarray(blend(x1=x[0], x2=x[1], scale=2.0)), by_position)
    a, b = keras.Input((4,)), keras.Input((3,))
    symbolic = _Blend()
    model = keras.Model([a, b], symbolic(x1=a, x2=b))
    assert model.output.shape == (None, 2) and len(symbolic.weights) == 4
    expected = np.asarray(symbolic.first(x[0])) + np.asarray(symbolic.second(x[1]))
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-6)
    model.save(tmp_path / "named.keras")
    again = keras.saving.load_model(tmp_path / "named.keras")
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(model(x)))
    dense = layers.Dense(2)
    np.testing.assert_array_equal(np.asarray(dense(inputs=x[1])), np.asarray(dense(x[1])))
    with pytest.raises(TypeError, match="without its first argument `x1`"):
        _Blend()(x2=x[1])


def test_a_models_input_by_the_name_its_call_gives_it():
    """Keras binds `model(x=...)` to a subclassed `call(self, x)` and `model(inputs=...)` to a
    Sequential's; both give the positional call's outputs."""

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    x = np.random.default_rng(5).normal(size=(3, 4)).astype("float32")
    model = Subclassed()
    np.testing.assert_array_equal(np.asarray(model(x=x)), np.asarray(model(x)))
    sequential = keras.Sequential([keras.Input((4,)), layers.Dense(2)])
    np.testing.assert_array_equal(np.asarray(sequential(inputs=x)), np.asarray(sequential(x)))


class _MaskedPair(layers.Layer):
    """Keras hands each tensor argument's mask to `<argument>_mask` when `call` has one."""

    def __init__(self):
        super().__init__()
        self.supports_masking = True
        self.seen = None

    def call(self, x1, x2, x1_mask=None, x2_mask=None):
        self.seen = (x1_mask, x2_mask)
        first = x1[0] + x1[1] if isinstance(x1, tuple) else x1
        return first + x2


def _masked(value, mask):
    tensor = keras.ops.convert_to_tensor(value)
    set_keras_mask(tensor, keras.ops.convert_to_tensor(mask))
    return tensor


def test_each_tensor_arguments_mask_reaches_its_mask_parameter():
    ones = np.ones((4, 3), "float32")
    first_mask, second_mask = np.array([1, 1, 0, 1], bool), np.array([1, 0, 1, 1], bool)
    x1, x2 = _masked(ones, first_mask), _masked(ones, second_mask)
    layer = _MaskedPair()
    for call in (lambda: layer(x1, x2), lambda: layer(x1=x1, x2=x2)):
        call()
        np.testing.assert_array_equal(np.asarray(layer.seen[0]), first_mask)
        np.testing.assert_array_equal(np.asarray(layer.seen[1]), second_mask)
    layer((x1, _masked(ones, second_mask)), x2)  # a nested argument: its masks, nested alike
    assert isinstance(layer.seen[0], tuple) and len(layer.seen[0]) == 2
    given = np.array([0, 0, 0, 1], bool)
    layer(x1, x2, x1_mask=keras.ops.convert_to_tensor(given))  # a mask passed wins
    np.testing.assert_array_equal(np.asarray(layer.seen[0]), given)
    layer(ones, ones)  # no masks: none handed on
    assert layer.seen == (None, None)


@keras.saving.register_keras_serializable(package="tests")
class _ShapesByName(layers.Layer):
    """Keras 3's `build(self, foo_shape, bar_shape)`: each call argument's shape by name."""

    def build(self, x2_shape, x1_shape):
        self.shapes = (x1_shape, x2_shape)
        self.w1 = self.add_weight(shape=(x1_shape[-1], 2), name="w1")
        self.w2 = self.add_weight(shape=(x2_shape[-1], 2), name="w2")

    def call(self, x1, x2):
        return keras.ops.matmul(x1, self.w1) + keras.ops.matmul(x2, self.w2)


def test_build_gets_each_arguments_shape_by_name(tmp_path):
    a, b = np.ones((5, 4), "float32"), np.ones((5, 3), "float32")
    layer = _ShapesByName()
    layer(a, x2=b)
    assert layer.shapes == ((5, 4), (5, 3))
    inputs = [keras.Input((4,)), keras.Input((3,))]
    model = keras.Model(inputs, _ShapesByName()(*inputs))
    assert model.layers[-1].shapes == ((None, 4), (None, 3))
    model.save(tmp_path / "by_name.keras")  # its build config holds the shapes by name
    again = keras.saving.load_model(tmp_path / "by_name.keras")
    np.testing.assert_array_equal(np.asarray(again([a, b])), np.asarray(model([a, b])))


def test_build_arguments_that_match_no_call_argument_are_named():
    class NoSuffix(layers.Layer):
        def build(self, x1_shape, x2):
            pass

        def call(self, x1, x2):
            return x1

    class Unknown(layers.Layer):
        def build(self, x1_shape, x3_shape):
            pass

        def call(self, x1, x2):
            return x1

    a = np.ones((2, 3), "float32")
    with pytest.raises(ValueError, match="argument `x2`, which does not end in `_shape`"):
        NoSuffix()(a, a)
    with pytest.raises(ValueError, match="`x3_shape`, but `call\\(\\)` does not have argument"):
        Unknown()(a, a)
