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


def test_a_gradient_penalty_through_dense_products_and_its_limit():
    """d/dW of |d model / dx|^2 (WGAN-GP's penalty) needs second derivatives: through the
    Dense products they are there; through an activation's f'' numnet says it has none."""
    import numnet as keras
    model = _dense_model("linear", last="linear")
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
    first = weights[0]
    numeric = np.zeros_like(first)
    for index in np.ndindex(first.shape):
        for sign in (1, -1):
            moved = [w.copy() for w in weights]
            moved[0][index] += sign * STEP
            numeric[index] += sign * penalty(moved)[0] / (2 * STEP)
    np.testing.assert_allclose(np.asarray(grads[0]), numeric, rtol=1e-6, atol=1e-8)
    assert grads[1] is None  # the biases do not move the input gradient of a linear model
    tanh_model = _dense_model("tanh")
    with pytest.raises(NotImplementedError, match="through tanh"):
        with keras.GradientTape() as outer:
            with keras.GradientTape() as inner:
                inner.watch(x)
                total = ops.sum(tanh_model(x))
            gx = inner.gradient(total, x)
            value = ops.sum(gx * gx)
        outer.gradient(value, tanh_model.trainable_weights)
