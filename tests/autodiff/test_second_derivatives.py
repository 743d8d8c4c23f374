"""Second derivatives through each activation's backward rule (`g * f'`, differentiated
through `g` and through what it reads: `f''`), checked against central differences of the
first gradient, in float64: the gradient penalty and Hessian-vector products need them."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import numnet as keras
from numnet import GradientTape, ops
from numnet.autodiff import Tensor
from numnet.kernels.activations import ACTIVATIONS

_spec = importlib.util.spec_from_file_location(
    "gradient_helpers", Path(__file__).with_name("test_gradients.py"))
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
numeric_grad = _helpers.numeric_grad

# Activations without a second derivative in numnet (a clear error instead): glu and
# sparsemax (along an axis), the steps.
WITHOUT = {"glu", "sparsemax", "heaviside", "sign_step", "linear"}
WITH = sorted(name for name in ACTIVATIONS if name not in WITHOUT
              and ACTIVATIONS[name].reads)
RNG = np.random.default_rng(4)


def _first_gradient(name, x):
    """d/dx of sum(w * f(x) + f(x)**2 / 2): its upstream `g = w + f(x)` reads x too."""
    w = np.linspace(-1.0, 1.5, x.size).reshape(x.shape)
    with GradientTape() as tape:
        tape.watch(x)
        y = ops.activation(name, x) if name != "threshold" else \
            keras.activations.threshold(x, 0.3, -1.0)
        total = ops.sum(y * w + y * y * 0.5)
    return tape.gradient(total, x)


@pytest.mark.parametrize("name", WITH)
def test_the_gradient_of_the_gradient_matches_central_differences(name):
    # away from the kinks (0, +-1, +-3, 6) of the piecewise ones
    x = RNG.uniform(-2.5, 2.5, size=(3, 4))
    x = np.where(np.abs(np.abs(x) - np.round(np.abs(x))) < 0.1, x + 0.25, x)
    u = RNG.normal(size=x.shape)
    point = Tensor(x)
    with GradientTape() as outer:
        outer.watch(point)
        score = ops.sum(_first_gradient(name, point) * u)
    analytic = np.asarray(outer.gradient(score, point))
    numeric = numeric_grad(lambda a: float(np.sum(np.asarray(_first_gradient(name, Tensor(a)))
                                                   * u)), [x.copy()], 0)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7)


def test_the_approximate_gelu_has_its_own():
    x = RNG.uniform(-2.5, 2.5, size=(3, 4))
    u = RNG.normal(size=x.shape)

    def first(t):
        with GradientTape() as tape:
            tape.watch(t)
            total = ops.sum(ops.gelu(t, approximate=True) * u)
        return tape.gradient(total, t)
    point = Tensor(x)
    with GradientTape() as outer:
        outer.watch(point)
        score = ops.sum(first(point))
    numeric = numeric_grad(lambda a: float(np.sum(np.asarray(first(Tensor(a))))), [x.copy()], 0)
    np.testing.assert_allclose(np.asarray(outer.gradient(score, point)), numeric, rtol=1e-6,
                               atol=1e-7)


def test_an_activation_without_one_says_so():
    point = Tensor(RNG.normal(size=(2, 6)))
    with GradientTape() as outer:
        outer.watch(point)
        with GradientTape() as inner:
            inner.watch(point)
            total = ops.sum(ops.glu(point) ** 2)
        score = ops.sum(inner.gradient(total, point))
    with pytest.raises(NotImplementedError, match="glu"):
        outer.gradient(score, point)
