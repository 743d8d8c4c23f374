"""Rules of Keras 3's `Layer` that Keras' own `layers/layer_test.py` checks (Keras 3.15.1):
its internal `_layers` list, untracking a deleted variable, the state lock after `build`,
tensors only by position, and `None` inside an input structure."""

import numpy as np
import pytest

import numnet as keras
from numnet import layers

X = np.ones((3, 4), "float32")


class _Holder(layers.Layer):
    def __init__(self):
        super().__init__()
        self.dense1 = layers.Dense(2)
        self.by_name = {"dense2": layers.Dense(2)}
        self.in_list = [layers.Dense(2)]
        self.seed_generator = keras.random.SeedGenerator(seed=1)

    def build(self, input_shape):
        self.in_list.append(layers.Dense(2))

    def call(self, x):
        return self.in_list[1](self.in_list[0](self.by_name["dense2"](self.dense1(x))))


def test_layers_lists_the_direct_sublayers_as_keras_does():
    layer = _Holder()
    layer.build((None, 4))
    assert len(layer._layers) == 4  # in attributes, a dict and a list appended in build
    layer(X)
    assert len(layer.weights) == 8 and len(layer.variables) == 9  # + the seed state
    parent = layers.Dense(1)
    assert parent._layers == []


class _Weighted(layers.Layer):
    def __init__(self):
        super().__init__()
        self.w = self.add_weight(shape=(2,), initializer="ones")
        self.v = keras.Variable(np.zeros(3, "float32"), trainable=False)

    def call(self, x):
        return x


def test_a_deleted_or_untracked_variable_is_no_weight_any_more():
    layer = _Weighted()
    assert len(layer.weights) == 2
    del layer.v
    assert [tuple(w.shape) for w in layer.weights] == [(2,)]
    layer.w = layer._untrack_variable(layer.w)  # Keras' idiom: it returns None
    assert layer.w is None and layer.weights == []


class _AddsInCall(layers.Layer):
    def call(self, x):
        self.w = self.add_weight(shape=(), initializer="zeros")
        return x


class _SetsInCall(layers.Layer):
    def call(self, x):
        self.v = keras.Variable(np.zeros(()), name="late")
        return x


class _BuildsLazily(layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.w


class _LayerInCall(layers.Layer):
    """The classic slip: a sub-layer made in `call` (new, untrained weights at each call)."""

    def call(self, x):
        self.dense = layers.Dense(2)
        return self.dense(x)


class _LayerInBuild(layers.Layer):
    def build(self, input_shape):
        self.dense = layers.Dense(2)

    def call(self, x):
        self.dense = self.dense  # setting the same sub-layer again adds nothing
        return self.dense(x)


@pytest.mark.parametrize("cls", [_AddsInCall, _SetsInCall, _LayerInCall])
@pytest.mark.parametrize("symbolic", [False, True])
def test_state_created_in_a_built_layers_call_is_an_error(cls, symbolic):
    inputs = keras.KerasTensor((3, 4)) if symbolic else X
    with pytest.raises(ValueError, match="cannot add new elements of state"):
        cls()(inputs)


def test_an_unlocked_tracker_lets_call_add_state_until_locked_again():
    layer = _AddsInCall()
    layer._tracker.unlock()
    layer(X)
    layer(X)
    assert len(layer.weights) == 2  # a new one at each call: what the lock guards against
    layer._tracker.lock()
    with pytest.raises(ValueError, match="cannot add new elements of state"):
        layer(X)


def test_a_sub_layer_made_in_build_is_fine_and_unlocking_allows_one_in_call():
    layer = _LayerInBuild()
    first = np.asarray(layer(X))
    np.testing.assert_array_equal(np.asarray(layer(X)), first)
    assert len(layer.weights) == 2
    unlocked = _LayerInCall()
    unlocked._tracker.unlock()
    unlocked(X)
    later = _Weighted()
    later.extra_layer = layers.Dense(1)  # outside `call`: Keras' lock, not ours
    assert later.extra_layer in later._layers


def test_state_created_in_build_on_the_first_call_is_fine():
    layer = _BuildsLazily()
    np.testing.assert_array_equal(np.asarray(layer(X)), X)
    layer(X)
    assert len(layer.weights) == 1
    later = _Weighted()
    later.extra = later.add_weight(shape=(1,))  # outside `call`: Keras' lock, not ours
    assert len(later.weights) == 3


class _Flagged(layers.Layer):
    def call(self, x, bool_arg):
        return x if bool_arg else x + 1


@pytest.mark.parametrize("symbolic", [False, True])
def test_only_tensors_may_come_by_position(symbolic):
    x = keras.KerasTensor((2, 3)) if symbolic else np.ones((2, 3), "float32")
    with pytest.raises(ValueError, match="Only input tensors may be passed as positional"):
        _Flagged()(x, True)
    out = _Flagged()(x, bool_arg=False)  # by keyword it works, also when traced
    assert tuple(out.shape) == (2, 3)
    if not symbolic:
        np.testing.assert_array_equal(np.asarray(out), x + 1)
    assert keras.ops.add(keras.KerasTensor((2, 3)), 1.0).shape == (2, 3)  # ops take numbers


class _Optional(layers.Layer):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(2, kernel_initializer="ones")

    def call(self, xs):
        result = self.dense(xs["x1"])
        if xs.get("x2") is not None:
            result = result + self.dense(xs["x2"])
        return result


def test_none_inside_an_input_structure_stays_none():
    layer = _Optional()
    out = layer({"x1": keras.KerasTensor((3, 4)), "x2": None})
    assert out.shape == (3, 2) and len(layer.weights) == 2
    eager = _Optional()
    np.testing.assert_allclose(np.asarray(eager({"x1": X, "x2": None})), np.full((3, 2), 4.0))
    assert eager.get_build_config() == {"input_shape": {"x1": [None, 4], "x2": None}}


class _Inner(layers.Layer):
    def __init__(self, register=True):
        super().__init__()
        if register:
            self._register_call_context_args("foo_mode")

    def call(self, x, foo_mode=False):
        return x + keras.ops.where(foo_mode, 1.0, 0.0)


class _Outer(layers.Layer):
    def __init__(self, register_inner=True):
        super().__init__()
        self.inner = _Inner(register_inner)

    def call(self, x):
        return self.inner(x)  # foo_mode is not passed on by hand


SAMPLE = np.array([[1.0], [2.0]], "float32")


def _context_models():
    seq = keras.Sequential([layers.Identity(), _Outer()])
    inputs = keras.Input((1,))
    functional = keras.Model(inputs, _Outer()(layers.Identity()(inputs)))
    outer = _Outer()
    return {"sequential": seq, "functional": functional, "layer": outer}


@pytest.mark.parametrize("kind", ["sequential", "functional", "layer"])
def test_a_registered_call_context_argument_reaches_the_layers_inside(kind):
    model = _context_models()[kind]
    model._register_call_context_args("foo_mode")
    assert model._call_context_args == {"training", "foo_mode"}
    np.testing.assert_array_equal(np.asarray(model(SAMPLE, foo_mode=True)), SAMPLE + 1)
    np.testing.assert_array_equal(np.asarray(model(SAMPLE)), SAMPLE)  # Inner's default
    np.testing.assert_array_equal(np.asarray(model(SAMPLE, foo_mode=True)), SAMPLE + 1)


def test_a_layer_that_did_not_register_the_argument_does_not_inherit_it():
    outer = _Outer(register_inner=False)
    outer._register_call_context_args("foo_mode")
    np.testing.assert_array_equal(np.asarray(outer(SAMPLE, foo_mode=True)), SAMPLE)


def test_call_context_arguments_are_registered_before_the_first_call():
    layer = layers.Identity()
    layer(SAMPLE)
    with pytest.raises(RuntimeError, match="after the layer has been called"):
        layer._register_call_context_args("foo_mode")
