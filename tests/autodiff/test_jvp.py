"""`ops.jvp` (forward-mode products from two reverse passes) against central differences of
every differentiable case of `fixtures/ops_cases.py`, in float64: it checks each backward
rule's own backward rule (its derivative with respect to the upstream gradient) too."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from numnet import ops
from numnet.autodiff import Tensor

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("ops_cases", HERE.parent / "fixtures" /
                                               "ops_cases.py")
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)
_spec = importlib.util.spec_from_file_location("gradient_ops", HERE / "test_gradients_numpy_ops.py")
gradient_ops = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gradient_ops)
# Cases whose gradient is not the derivative, or whose value has kinks at the inputs.
SKIPPED = gradient_ops.KINKED | gradient_ops.NOT_THE_DERIVATIVE
DIFFERENTIABLE = [name for name in gradient_ops.DIFFERENTIABLE if name not in SKIPPED]
STEP = 1e-6


def _function(name, arrays, wrt):
    fn = cases.CASES[name][0]

    def f(*moving):
        values = list(arrays)
        for i, value in zip(wrt, moving):
            values[i] = value
        result = fn(ops, *[v if isinstance(v, Tensor) else Tensor(v) for v in values])
        parts = list(result) if isinstance(result, (tuple, list)) else [result]
        floats = [ops.reshape(ops.where(ops.isnan(p), 0.0, p), (-1,)) for p in parts
                  if np.asarray(p).dtype.kind == "f"]
        return floats[0] if len(floats) == 1 else ops.concatenate(floats, axis=0)
    return f


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_jvp_matches_a_central_difference_along_the_tangent(name):
    _, input_names, wrt = cases.CASES[name]
    wrt = gradient_ops.WRT.get(name, wrt)
    arrays = [cases.INPUTS[n].astype(np.float64) if cases.INPUTS[n].dtype.kind == "f"
              else cases.INPUTS[n] for n in input_names]
    if name in gradient_ops.LOWER_TRIANGLE_READ:  # symmetric directions keep them symmetric
        tangents = [(lambda t: t + t.T)(np.random.default_rng(1).normal(size=arrays[i].shape))
                    for i in wrt]
    else:
        tangents = [np.random.default_rng(1).normal(size=arrays[i].shape) for i in wrt]
    f = _function(name, arrays, wrt)
    points = [arrays[i] for i in wrt]
    value, pushed = ops.jvp(f, [Tensor(p) for p in points], [Tensor(t) for t in tangents])
    ahead = np.asarray(f(*[Tensor(p + STEP * t) for p, t in zip(points, tangents)]))
    behind = np.asarray(f(*[Tensor(p - STEP * t) for p, t in zip(points, tangents)]))
    np.testing.assert_allclose(np.asarray(value), np.asarray(f(*[Tensor(p) for p in points])))
    np.testing.assert_allclose(np.asarray(pushed), (ahead - behind) / (2 * STEP),
                               rtol=1e-6, atol=1e-7)


def _dense_model(activation, last="tanh"):
    import numnet as keras
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,), dtype="float64"),
                              keras.layers.Dense(5, activation=activation, dtype="float64"),
                              keras.layers.Dense(3, activation=last, dtype="float64")])
    model.predict(np.zeros((1, 4)), verbose=0)  # its weights now sit in one store
    return model


@pytest.mark.parametrize("activation", ["relu", "tanh", "softmax", "linear"])
def test_jvp_through_a_dense_model_with_its_weights_fixed(activation):
    model = _dense_model(activation)
    rng = np.random.default_rng(2)
    x, v = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    value, pushed = ops.jvp(model, [Tensor(x)], [Tensor(v)])
    ahead = np.asarray(model(Tensor(x + STEP * v)))
    behind = np.asarray(model(Tensor(x - STEP * v)))
    np.testing.assert_allclose(np.asarray(pushed), (ahead - behind) / (2 * STEP), rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_array_equal(np.asarray(value), np.asarray(model(Tensor(x))))


@pytest.mark.parametrize("activation", ["linear", "tanh", "softplus"])
def test_a_gradient_penalty_has_its_gradient(activation):
    """d/dW of |d model / dx|^2 (WGAN-GP's penalty) needs second derivatives through the
    Dense products and the activations' f''."""
    import numnet as keras
    model = _dense_model(activation, last=activation)
    x = Tensor(np.random.default_rng(3).normal(size=(3, 4)))

    def penalty(weights):
        model.set_weights(weights)
        with keras.GradientTape() as outer:
            with keras.GradientTape() as inner:
                inner.watch(x)
                total = ops.sum(model(x))
            gx = inner.gradient(total, x)
            value = ops.sum(gx * gx)
        return float(np.asarray(value)), outer.gradient(value, model.trainable_weights)

    weights = model.get_weights()
    _, grads = penalty(weights)
    for k in (0, 1):  # the first kernel and bias
        numeric = np.zeros_like(weights[k])
        for index in np.ndindex(weights[k].shape):
            for sign in (1, -1):
                moved = [w.copy() for w in weights]
                moved[k][index] += sign * STEP
                numeric[index] += sign * penalty(moved)[0] / (2 * STEP)
        if activation == "linear":  # the biases do not move the input gradient
            assert k == 0 or grads[k] is None
        if grads[k] is not None:
            np.testing.assert_allclose(np.asarray(grads[k]), numeric, rtol=1e-6, atol=1e-8)
