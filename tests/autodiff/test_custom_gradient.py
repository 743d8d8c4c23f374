"""`ops.custom_gradient` beyond the Keras-compared cases of `fixtures/ops_cases.py`: several
outputs, variables among the arguments, keyword arguments, second order, a compiled
training step replaying the author's rule, and the errors."""

import numpy as np
import pytest

import numnet as keras
from numnet import GradientTape, ops

RNG = np.random.default_rng(11)


def _gradient(function, *values):
    tensors = [ops.convert_to_tensor(v) for v in values]
    with GradientTape() as tape:
        for t in tensors:
            tape.watch(t)
        total = ops.sum(function(*tensors))
    return [np.asarray(g) for g in tape.gradient(total, tensors)]


def test_the_author_rule_replaces_the_derivative_and_keyword_arguments_pass_through():
    @ops.custom_gradient
    def scaled(x, factor=1.0):
        def grad(upstream):
            return upstream * 100.0  # deliberately not the derivative
        return x * factor, grad

    x = RNG.normal(size=(3, 2)).astype("float32")
    np.testing.assert_array_equal(np.asarray(scaled(x, factor=3.0)), x * 3.0)
    np.testing.assert_array_equal(_gradient(lambda t: scaled(t, factor=3.0), x)[0],
                                  np.full(x.shape, 100.0, np.float32))


def test_several_outputs_each_bring_their_upstream_to_one_call():
    calls = []

    @ops.custom_gradient
    def split(x):
        def grad(first, second):
            calls.append((np.asarray(first), np.asarray(second)))
            return first * 2.0 + second[1] * 0.0 + 1.0
        return (x * 1.0, ops.stack([x, x])), grad

    x = RNG.normal(size=(4,)).astype("float32")
    tensor = ops.convert_to_tensor(x)
    with GradientTape() as tape:
        tape.watch(tensor)
        a, b = split(tensor)
        total = ops.sum(a * 3.0) + ops.sum(b[1] * 5.0)
    gradient = np.asarray(tape.gradient(total, tensor))
    assert len(calls) == 1
    np.testing.assert_array_equal(calls[0][0], np.full(4, 3.0, np.float32))
    np.testing.assert_array_equal(calls[0][1], np.stack([np.zeros(4), np.full(4, 5.0)]))
    np.testing.assert_array_equal(gradient, np.full(4, 7.0, np.float32))


def test_a_variable_argument_gets_its_gradient_and_an_outer_tape_differentiates_the_rule():
    w = keras.Variable(np.array([1.5, -2.0], np.float32))

    @ops.custom_gradient
    def cube(v):
        def grad(upstream):
            return upstream * 3.0 * ops.square(v)
        return v * v * v, grad

    with GradientTape() as outer:
        with GradientTape() as inner:
            y = ops.sum(cube(w))
        first = inner.gradient(y, w)
        second = ops.sum(first)
    np.testing.assert_allclose(np.asarray(first), 3.0 * np.asarray(w) ** 2, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(outer.gradient(second, w)), 6.0 * np.asarray(w),
                               rtol=1e-6)


class _ClippedDense(keras.layers.Layer):
    """A layer whose output's gradient is clipped on its way back (a custom rule)."""

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 2), initializer="glorot_uniform")

    def call(self, x):
        @ops.custom_gradient
        def clipped(h):
            def grad(upstream):
                return ops.clip(upstream, -0.01, 0.01)
            return h * 1.0, grad
        return clipped(ops.matmul(x, self.kernel))


def test_a_compiled_step_replays_the_rule_with_the_eager_numbers():
    x = RNG.normal(size=(32, 3)).astype("float32")
    y = RNG.normal(size=(32, 2)).astype("float32") * 10
    weights = []
    for jit in (True, False):
        keras.utils.set_random_seed(4)
        model = keras.Sequential([keras.Input((3,)), _ClippedDense()])
        model.compile(optimizer="sgd", loss="mse", jit_compile=jit)
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        weights.append(model.get_weights()[0])
        if jit:
            assert model.train_function.programs and model.compiled_reason is None
    np.testing.assert_allclose(weights[0], weights[1], rtol=1e-6, atol=1e-7)
    keras.utils.set_random_seed(4)
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, use_bias=False)])
    plain.compile(optimizer="sgd", loss="mse")
    plain.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert not np.allclose(plain.get_weights()[0], weights[0])  # the rule did change the steps


def test_errors_name_the_function_and_what_is_wrong():
    @ops.custom_gradient
    def two_args(x, y):
        return x * y, lambda upstream: upstream  # one gradient for two arguments

    with pytest.raises(ValueError, match="two_args returned 1 gradient"):
        _gradient(two_args, np.ones(2, np.float32), np.ones(2, np.float32))

    @ops.custom_gradient
    def integer(x):
        return ops.cast(x, "int32"), lambda upstream: upstream

    @ops.custom_gradient
    def wrong_shape(x):
        return x * 2.0, lambda upstream: ops.sum(upstream)

    with pytest.raises(ValueError, match=r"wrong_shape returned shape \(\) for argument 0 "
                                         r"of shape \(2,\)"):
        _gradient(wrong_shape, np.ones(2, np.float32))
    with pytest.raises(ValueError, match="one float dtype"):
        integer(np.ones(2, np.float32))
    with pytest.raises(ValueError, match="symbolic KerasTensors"):
        two_args(keras.Input((2,)), keras.Input((2,)))
