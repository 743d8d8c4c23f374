"""Finite-difference checks of the primitives the new layers added, and of the layers' own
compositions (float64, central differences, the helper of test_gradients.py)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import numnet as keras
from numnet.autodiff import ops
from numnet.autodiff.ops.lookup import embedding_lookup
from numnet.autodiff.ops.normalization import moments, stop_gradient

_spec = importlib.util.spec_from_file_location(
    "gradient_helpers", Path(__file__).with_name("test_gradients.py"))
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
check, rand = _helpers.check, _helpers.rand

RNG = np.random.default_rng(3)


def positive(*shape):
    return RNG.uniform(0.3, 2.0, size=shape)


def test_rsqrt():
    check(ops.rsqrt, positive(3, 4))


@pytest.mark.parametrize("axes,shape", [((0,), (5, 3)), ((1,), (4, 6)), ((0, 2), (3, 2, 4)),
                                        ((1, 2), (2, 3, 4))])
def test_moments_mean_and_variance(axes, shape):
    x = rand(*shape)
    check(lambda t: moments(t, axes)[0], x)
    check(lambda t: moments(t, axes)[1], x)
    check(lambda t: moments(t, axes, keepdims=True)[1], x)


@pytest.mark.parametrize("with_offset,with_scale", [(True, True), (False, True), (True, False),
                                                    (False, False)])
def test_batch_normalization_all_inputs(with_offset, with_scale):
    def op(x, mean, variance, offset, scale):
        return ops.batch_normalization(x, mean, variance, axis=-1,
                                       offset=offset if with_offset else None,
                                       scale=scale if with_scale else None, epsilon=1e-3)
    used = [0, 1, 2] + ([3] if with_offset else []) + ([4] if with_scale else [])
    check(op, rand(5, 4), rand(4), positive(4), rand(4), rand(4), wrt=used)


def test_batch_normalization_on_another_axis():
    def op(x, mean, variance, offset, scale):
        return ops.batch_normalization(x, mean, variance, axis=1, offset=offset, scale=scale)
    check(op, rand(3, 4, 2), rand(4), positive(4), rand(4), rand(4))


def test_batch_normalization_with_batch_statistics():
    """The training-mode composition: statistics of x itself, through both paths."""
    def op(x, gamma, beta):
        mean, variance = moments(x, (0,))
        return ops.batch_normalization(x, mean, variance, -1, offset=beta, scale=gamma)
    check(op, rand(6, 3), rand(3), rand(3))


@pytest.mark.parametrize("axis,shape", [(-1, (4, 5)), ([1, 2], (3, 2, 4)), ([1], (3, 4, 2))])
def test_layer_normalization(axis, shape):
    ndim = len(shape)
    axes = [a % ndim for a in (axis if isinstance(axis, list) else [axis])]
    param = tuple(shape[a] for a in axes)
    check(lambda x, g, b: ops.layer_normalization(x, g, b, axis=axis, epsilon=1e-3),
          rand(*shape), rand(*param), rand(*param))


@pytest.mark.parametrize("order,axis", [(2, -1), (2, [1, 2]), (1, -1), (3, 1)])
def test_normalize(order, axis):
    shape = (3, 4) if axis in (-1, 1) else (2, 3, 4)
    check(lambda x: ops.normalize(x, axis=axis, order=order), rand(*shape) + 0.1)


def test_stop_gradient_blocks_the_gradient():
    from numnet.autodiff import GradientTape, Tensor
    x = Tensor(rand(3))
    with GradientTape() as tape:
        tape.watch(x)
        total = ops.sum(ops.multiply(stop_gradient(x), x))
    np.testing.assert_allclose(tape.gradient(total, x).data, x.data)


def test_embedding_lookup_accumulates_repeated_ids():
    ids = np.array([[0, 2, 2], [3, 0, 2]])
    check(lambda table: embedding_lookup(table, ids), rand(4, 3))


@pytest.mark.parametrize("name,factory,shapes", [
    ("softmax_axes", lambda: keras.layers.Softmax(axis=[1, 2]), [(2, 3, 4)]),
    ("relu_options", lambda: keras.layers.ReLU(max_value=1.5, negative_slope=0.2,
                                               threshold=0.2), [(3, 5)]),
    ("elu", lambda: keras.layers.ELU(alpha=0.6), [(3, 5)]),
    ("dot_normalize", lambda: keras.layers.Dot(axes=1, normalize=True), [(3, 4), (3, 4)]),
    ("dot_3d", lambda: keras.layers.Dot(axes=[2, 1]), [(2, 3, 4), (2, 4, 5)]),
    ("unit_norm", lambda: keras.layers.UnitNormalization(axis=[1, 2]), [(2, 3, 4)]),
    ("repeat_vector", lambda: keras.layers.RepeatVector(3), [(2, 4)]),
    ("permute", lambda: keras.layers.Permute((2, 1)), [(2, 4, 3)]),
    ("rescaling", lambda: keras.layers.Rescaling([1.0, 2.0, 3.0], offset=0.5), [(2, 3)]),
])
def test_layer_input_gradients(name, factory, shapes):
    layer = factory()
    layer.dtype = "float64"  # the check runs in float64

    def op(*xs):
        return layer(list(xs) if len(xs) > 1 else xs[0])
    check(op, *[rand(*s) + 0.05 for s in shapes])


def _weight_gradients_match_finite_differences(layer, x, training=False, eps=1e-6):
    """d sum(layer(x) * w) / d each trainable weight: the tape against central differences."""
    from numnet.autodiff import GradientTape, Tensor
    x = Tensor(x, dtype="float64") if not isinstance(x, np.ndarray) or x.dtype.kind == "f" \
        else x
    state = [(v, v.data.copy()) for v in layer.non_trainable_weights]

    def restore():  # a training call moves the statistics; each evaluation starts alike
        for variable, value in state:
            variable.data[...] = value
    weight = RNG.normal(size=layer(x, training=training).shape)

    def total():
        restore()
        return float(np.sum(layer(x, training=training).data * weight))
    restore()
    with GradientTape() as tape:
        value = ops.sum(ops.multiply(layer(x, training=training), weight))
    variables = layer.trainable_weights
    assert variables, "the layer has no trainable weights"
    for variable, analytic in zip(variables, tape.gradient(value, variables)):
        numeric = np.zeros(variable.shape)
        for index in np.ndindex(*variable.shape):
            old = variable.data[index]
            variable.data[index] = old + eps
            plus = total()
            variable.data[index] = old - eps
            minus = total()
            variable.data[index] = old
            numeric[index] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(analytic.data, numeric, rtol=1e-5, atol=1e-7,
                                   err_msg=f"{type(layer).__name__}: {variable.name}")


@pytest.mark.parametrize("name,factory,x,training", [
    ("prelu_shared", lambda: keras.layers.PReLU(shared_axes=[1],
                                                alpha_initializer="random_normal"),
     rand(3, 2, 4), False),
    ("batch_norm_training", lambda: keras.layers.BatchNormalization(
        gamma_initializer="random_normal", beta_initializer="random_normal"), rand(6, 3), True),
    ("batch_norm_inference", lambda: keras.layers.BatchNormalization(
        gamma_initializer="random_normal"), rand(6, 3), False),
    ("batch_norm_renorm", lambda: keras.layers.BatchNormalization(
        renorm=True, gamma_initializer="random_normal"), rand(6, 3), True),
    ("layer_norm", lambda: keras.layers.LayerNormalization(
        axis=[1, 2], gamma_initializer="random_normal", beta_initializer="random_normal"),
     rand(2, 3, 4), False),
    ("embedding", lambda: keras.layers.Embedding(5, 3), np.array([[0, 2, 2], [4, 0, 1]]),
     False),
])
def test_layer_weight_gradients(name, factory, x, training):
    if name == "prelu_shared":
        x[np.abs(x) < 0.05] = 0.3  # away from the kink at 0
    layer = factory()
    layer.dtype = "float64"
    layer(x, training=False)
    for variable in layer.weights:  # the check runs in float64
        variable.data = variable.data.astype("float64")
    _weight_gradients_match_finite_differences(layer, x, training=training)
