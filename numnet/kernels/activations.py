"""Activation kernels: each activation's forward and backward, written once.

An `ActivationKernel` holds two functions on raw arrays:

- `forward(x, out=None, **params)` returns `f(x)`, written into `out` when
  given (`out` may be `x` itself: the activation then runs in place);
- `backward(g, x, y, out=None, **params)` returns `g * f'(x)` for an upstream
  gradient `g`, reading the input `x` and/or the output `y` (`out` may be `g`).

`reads` says which of `x` and `y` the backward needs: with `"y"` alone the
caller may compute the forward in place and pass `x=None`. Softmax,
log-softmax and sparsemax are not elementwise: their backward is the full
vector-Jacobian product along `axis`; glu halves `axis` (its backward returns
the gradient of the whole input). Everything is dtype-generic: float32 in the
engine, float64 in the scikit-learn estimators.

The derivatives at kinks follow Keras on TensorFlow (which side of a
threshold or cap passes the gradient), so that compiled and Keras-trained
models agree; the table is checked against Keras' numbers by
tests/test_keras_activations.py.
"""

import math
from dataclasses import dataclass
from typing import Callable

from numnet.backend import ZEROS_CHUNK, shared_zeros, xp, zeros_operands

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


@dataclass(frozen=True)
class ActivationKernel:
    """One activation: forward and backward on raw arrays (see the module docstring)."""

    name: str
    forward: Callable
    backward: Callable
    reads: str = "x"  # "x", "y" or "xy": what `backward` reads besides `g`
    # Elementwise with f(1) == 1 exactly, whatever the parameters: the engine may run it
    # over a buffer with a column of ones (a Dense input's `[x, 1]`) in one pass.
    keeps_one: bool = False


def _product(g, d, out):
    """`g * d` into `out` (`d` is the derivative f'(x), a fresh array or a bool mask)."""
    return xp.multiply(g, d, out=out)


# ------------------------------------------------------------------ simple ones
def _linear(x, out=None):
    if out is None or out is x:
        return x
    xp.copyto(out, x)
    return out


def _linear_grad(g, x, y, out=None):
    return _linear(g, out)


def _alike_arrays(x, out):
    """Whether `x` and `out` are NumPy arrays of one shape and dtype."""
    return type(x) is xp.ndarray and type(out) is xp.ndarray and x.shape == out.shape and \
        x.dtype == out.dtype


def relu_operands(x, out):
    """The `maximum(x_part, zeros, out=out_part)` calls' operands that make `relu(x)`
    (`backend.zeros_operands`: NumPy vectorizes `maximum` of two arrays, not of an array
    and 0); None where `x` and `out` are not arrays of one shape and dtype."""
    return zeros_operands(x, out) if _alike_arrays(x, out) else None


def _relu(x, out=None):
    if type(x) is xp.ndarray and out is None:
        out = xp.empty_like(x)
    if _alike_arrays(x, out) and x.size <= ZEROS_CHUNK:  # one block, without the list
        return xp.maximum(x, shared_zeros(x.shape, x.dtype), out=out)
    operands = relu_operands(x, out)
    if operands is None:
        return xp.maximum(x, 0, out=out)
    for x_part, zeros, out_part in operands:
        xp.maximum(x_part, zeros, out=out_part)
    return out


def _relu_grad(g, x, y, out=None):
    return _product(g, y > 0, out)


def _sigmoid(x, out=None):
    # 0.5 * (1 + tanh(x / 2)) never overflows, unlike 1 / (1 + exp(-x)).
    y = xp.multiply(x, 0.5, out=out)
    xp.tanh(y, out=y)
    y += 1
    y *= 0.5
    return y


def _sigmoid_grad(g, x, y, out=None):
    # g * y * (1 - y), in scikit-learn's order (`delta *= Z; delta *= 1 - Z`).
    d = xp.multiply(g, y, out=out)
    d *= 1 - y
    return d


def _tanh(x, out=None):
    return xp.tanh(x, out=out)


def _tanh_grad(g, x, y, out=None):
    # scikit-learn's `delta *= 1 - Z ** 2`
    return _product(g, 1 - y * y, out)


def _exponential(x, out=None):
    return xp.exp(x, out=out)


def _exponential_grad(g, x, y, out=None):
    return _product(g, y, out)


# ------------------------------------------------------------ ReLU family
def _leaky_relu(x, out=None, negative_slope=0.2):
    return xp.where(x >= 0, x, x * negative_slope) if out is None else \
        _into(out, xp.where(x >= 0, x, x * negative_slope))


def _leaky_relu_grad(g, x, y, out=None, negative_slope=0.2):
    return _product(g, xp.where(x > 0, 1.0, negative_slope).astype(x.dtype), out)


def _into(out, value):
    """Copies a freshly computed `value` into `out` (for formulas without an `out=`)."""
    if out is None:
        return value
    xp.copyto(out, value)
    return out


def _relu_general(x, out=None, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras 3's `relu` with a leak, a cap and a threshold (only `x > threshold` passes)."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return _relu(x, out)
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return _leaky_relu(x, out, negative_slope=negative_slope)
    if threshold != 0.0:
        y = x * (x > threshold)
    else:
        y = xp.maximum(x, 0)
    if max_value is not None:
        xp.clip(y, 0, max_value, out=y)
    if negative_slope != 0.0:
        y -= negative_slope * xp.maximum(threshold - x, 0)
    return _into(out, y.astype(x.dtype, copy=False))


def _relu_general_grad(g, x, y, out=None, negative_slope=0.0, max_value=None, threshold=0.0):
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return _product(g, x > 0, out)
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return _leaky_relu_grad(g, x, y, out, negative_slope=negative_slope)
    if threshold != 0.0:
        passing = x > threshold
        if max_value is not None:  # the clip passes the gradient on [0, max_value]
            passing &= (x >= 0) & (x <= max_value)
    elif max_value == 6:  # relu6's own gradient
        passing = (x > 0) & (x < 6)
    else:
        passing = x > 0
        if max_value is not None:
            passing &= x <= max_value
    d = passing.astype(x.dtype)
    if negative_slope != 0.0:
        d += negative_slope * (x < threshold)
    return _product(g, d, out)


def _elu(x, out=None, alpha=1.0):
    return _into(out, xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0))))


def _elu_grad(g, x, y, out=None, alpha=1.0):
    return _product(g, xp.where(x > 0, 1.0, y + alpha).astype(x.dtype), out)


def _selu(x, out=None):
    a, s = SELU_ALPHA, SELU_SCALE
    return _into(out, s * xp.where(x > 0, x, a * xp.expm1(xp.minimum(x, 0))))


def _selu_grad(g, x, y, out=None):
    return _product(g, xp.where(x >= 0, SELU_SCALE, y + SELU_SCALE * SELU_ALPHA)
                    .astype(x.dtype), out)


# ------------------------------------------------------------- smooth ones
def _softplus(x, out=None):
    return _into(out, xp.logaddexp(x, 0).astype(x.dtype))


def _softplus_grad(g, x, y, out=None):
    return _product(g, _sigmoid(x), out)


def _softsign(x, out=None):
    return _into(out, x / (1 + xp.abs(x)))


def _softsign_grad(g, x, y, out=None):
    return _product(g, 1 / xp.square(1 + xp.abs(x)), out)


def _silu(x, out=None):
    return _into(out, x * _sigmoid(x))


def _silu_grad(g, x, y, out=None):
    s = _sigmoid(x)
    return _product(g, s + x * s * (1 - s), out)


def erf(v):
    """The error function of an array, in its dtype (NumPy has none: scipy's when it is
    installed, else Python's `math.erf` on each element)."""
    try:
        from scipy.special import erf as scipy_erf
        return scipy_erf(v)
    except ImportError:  # pragma: no cover - scipy is a test dependency
        return xp.vectorize(math.erf, otypes=[v.dtype])(v)


_GELU_C = math.sqrt(2 / math.pi)


def _gelu(x, out=None, approximate=False):
    if approximate:
        return _into(out, 0.5 * x * (1 + xp.tanh(_GELU_C * (x + 0.044715 * x ** 3))))
    return _into(out, (0.5 * x * (1 + erf(x / math.sqrt(2)))).astype(x.dtype))


def _gelu_grad(g, x, y, out=None, approximate=False):
    if approximate:
        t = xp.tanh(_GELU_C * (x + 0.044715 * x ** 3))
        d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _GELU_C * (1 + 3 * 0.044715 * x * x)
    else:
        cdf = 0.5 * (1 + erf(x / math.sqrt(2)))
        d = (cdf + x * xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)).astype(x.dtype)
    return _product(g, d, out)


def _mish(x, out=None):
    return _into(out, x * xp.tanh(xp.logaddexp(x, 0)).astype(x.dtype))


def _mish_grad(g, x, y, out=None):
    t = xp.tanh(xp.logaddexp(x, 0))
    return _product(g, (t + x * (1 - t * t) * _sigmoid(x)).astype(x.dtype), out)


def _hard_sigmoid(x, out=None):
    return _into(out, xp.clip(x / 6 + 0.5, 0, 1))


def _hard_sigmoid_grad(g, x, y, out=None):
    return _product(g, (((x > -3) & (x < 3)) / 6).astype(x.dtype), out)


# ------------------------------------------------- along an axis: softmax
def _softmax(x, out=None, axis=-1, scratch=(None, None)):
    """`scratch`: two arrays shaped like `x` reduced over `axis` (kept), reused by a replay."""
    # Ufunc reductions directly: the xp.max/xp.sum wrappers cost microseconds per call.
    peak, total = scratch  # (reductions take positional arguments: cheaper per call)
    y = xp.subtract(x, xp.maximum.reduce(x, axis, None, peak, True), out=out)
    xp.exp(y, out=y)
    return xp.divide(y, xp.add.reduce(y, axis, None, total, True), out=y)


def _softmax_grad(g, x, y, out=None, axis=-1):
    d = xp.multiply(g, y, out=out)
    total = xp.add.reduce(d, axis=axis, keepdims=True)
    xp.subtract(g, total, out=d)
    d *= y
    return d


def _log_softmax(x, out=None, axis=-1):
    shifted = x - xp.maximum.reduce(x, axis=axis, keepdims=True)
    return xp.subtract(shifted, xp.log(xp.add.reduce(xp.exp(shifted), axis=axis,
                                                         keepdims=True)), out=out)


def _log_softmax_grad(g, x, y, out=None, axis=-1):
    total = xp.add.reduce(g, axis=axis, keepdims=True)
    return xp.subtract(g, xp.exp(y) * total, out=out)


# ------------------------------------------- Keras 3's newer activations
def _mask(condition, x):
    """A boolean condition as a 0/1 array of `x`'s dtype (a derivative that is a step)."""
    return condition.astype(x.dtype)


def _relu6(x, out=None):
    return xp.clip(x, 0, 6, out=out)


def _relu6_grad(g, x, y, out=None):
    # TensorFlow's relu6 passes the gradient on the open interval (0, 6) only.
    return _product(g, (y > 0) & (y < 6), out)


def _celu(x, out=None, alpha=1.0):
    """`max(x, 0) + alpha * expm1(min(x, 0) / alpha)`: an ELU that is C1 for every alpha."""
    negative = xp.expm1(xp.minimum(x, 0) / alpha) * alpha
    return xp.add(xp.maximum(x, 0), negative, out=out)


def _celu_grad(g, x, y, out=None, alpha=1.0):
    # 1 for x > 0, exp(x / alpha) otherwise: both sides give 1 at 0, where the
    # derivative exists (TensorFlow's autodiff reports 2 there: see the docstring
    # of `numnet.activations.celu`).
    return _product(g, xp.exp(xp.minimum(x, 0) / alpha), out)


def _hard_tanh(x, out=None):
    return xp.clip(x, -1, 1, out=out)


def _hard_tanh_grad(g, x, y, out=None):
    return _product(g, (x >= -1) & (x <= 1), out)  # TensorFlow's clip: inclusive bounds


def _hard_silu(x, out=None):
    return _into(out, x * _hard_sigmoid(x))


def _hard_silu_grad(g, x, y, out=None):
    d = _hard_sigmoid(x)
    d += x * ((x > -3) & (x < 3)) * (1 / 6)
    return _product(g, d.astype(x.dtype, copy=False), out)


def _hard_shrink(x, out=None, threshold=0.5):
    return xp.multiply(x, xp.abs(x) > threshold, out=out)


def _hard_shrink_grad(g, x, y, out=None, threshold=0.5):
    return _product(g, xp.abs(x) > threshold, out)


def _soft_shrink(x, out=None, threshold=0.5):
    shrunk = xp.where(x > threshold, x - threshold, xp.where(x < -threshold, x + threshold, 0))
    return _into(out, shrunk.astype(x.dtype, copy=False))


def _soft_shrink_grad(g, x, y, out=None, threshold=0.5):
    return _product(g, (x > threshold) | (x < -threshold), out)


def _threshold(x, out=None, threshold=0.0, default_value=0.0):
    return _into(out, xp.where(x > threshold, x, default_value).astype(x.dtype, copy=False))


def _threshold_grad(g, x, y, out=None, threshold=0.0, default_value=0.0):
    return _product(g, x > threshold, out)


def _log_sigmoid(x, out=None):
    # log(sigmoid(x)) = -softplus(-x), without overflow for either sign.
    return xp.negative(xp.logaddexp(-x, 0).astype(x.dtype, copy=False), out=out)


def _log_sigmoid_grad(g, x, y, out=None):
    return _product(g, _sigmoid(-x), out)


def _tanh_shrink(x, out=None):
    return xp.subtract(x, xp.tanh(x), out=out)


def _tanh_shrink_grad(g, x, y, out=None):
    t = xp.tanh(x)
    t *= t
    return _product(g, t, out)


def _sparse_plus(x, out=None):
    """0 for x <= -1, (x + 1)^2 / 4 on (-1, 1), x from 1 on."""
    middle = xp.square(x + 1) * 0.25
    value = xp.where(x <= -1, 0, xp.where(x < 1, middle, x))
    return _into(out, value.astype(x.dtype, copy=False))


def _sparse_plus_grad(g, x, y, out=None):
    d = xp.where(x <= -1, 0, xp.where(x < 1, (x + 1) * 0.5, 1))
    return _product(g, d.astype(x.dtype, copy=False), out)


def _sparse_sigmoid(x, out=None):
    """0 for x <= -1, (x + 1) / 2 on (-1, 1), 1 from 1 on."""
    value = xp.where(x <= -1, 0, xp.where(x >= 1, 1, (x + 1) * 0.5))
    return _into(out, value.astype(x.dtype, copy=False))


def _sparse_sigmoid_grad(g, x, y, out=None):
    return _product(g, _mask((x > -1) & (x < 1), x) * x.dtype.type(0.5), out)


def _squareplus(x, out=None, b=4):
    root = xp.sqrt(x * x + x.dtype.type(b))
    root += x
    return xp.multiply(root, 0.5, out=out)


def _squareplus_grad(g, x, y, out=None, b=4):
    with xp.errstate(invalid="ignore", divide="ignore"):  # b = 0 at x = 0: NaN, as in Keras
        d = x / xp.sqrt(x * x + x.dtype.type(b))
    d += 1
    d *= 0.5
    return _product(g, d, out)


# -------------------------------------------- along an axis: glu, sparsemax
def _glu_halves(x, axis):
    size = x.shape[axis]
    if size % 2:
        raise ValueError(
            "axis size must be divisible by 2. "
            f"Received: x.shape={tuple(x.shape)} with axis={axis}"
        )
    return xp.split(x, 2, axis=axis)


def _glu(x, out=None, axis=-1):
    """`a * sigmoid(b)` where `a, b` are the two halves of `x` along `axis`."""
    a, b = _glu_halves(x, axis)
    return xp.multiply(a, _sigmoid(b), out=out)


def _glu_grad(g, x, y, out=None, axis=-1):
    a, b = _glu_halves(x, axis)
    gate = _sigmoid(b)
    grad_a = g * gate
    grad_b = grad_a * a
    grad_b *= 1 - gate
    return _into(out, xp.concatenate([grad_a, grad_b], axis=axis))


def _sparsemax(x, out=None, axis=-1):
    """The Euclidean projection of `x` onto the probability simplex along `axis`.

    Martins & Astudillo (2016): with `z` sorted in decreasing order, the
    support is the `k` largest entries with `1 + j z_j > z_1 + ... + z_j`, and
    the threshold is `tau = (z_1 + ... + z_k - 1) / k`; the output is
    `max(x - tau, 0)`, which sums to 1.
    """
    moved = xp.moveaxis(x, axis, -1)
    ranked = -xp.sort(-moved, axis=-1)
    cumulative = xp.cumsum(ranked, axis=-1)
    positions = xp.arange(1, moved.shape[-1] + 1, dtype=x.dtype)
    support = (1 + positions * ranked) > cumulative
    k = xp.add.reduce(support, axis=-1, keepdims=True)  # >= 1: the largest entry is in it
    total = xp.take_along_axis(cumulative, k - 1, axis=-1)
    tau = (total - 1) / k.astype(x.dtype)
    return _into(out, xp.moveaxis(xp.maximum(moved - tau, 0), -1, axis).astype(x.dtype,
                                                                                copy=False))


def _sparsemax_grad(g, x, y, out=None, axis=-1):
    # The Jacobian is diag(s) - s s^T / |s| on the support s (the outputs > 0).
    support = _mask(y > 0, y)
    size = xp.add.reduce(support, axis=axis, keepdims=True)
    mean = xp.add.reduce(g * support, axis=axis, keepdims=True) / size
    d = xp.subtract(g, mean, out=out)
    d *= support
    return d


# ------------------------------------------------------ perceptron steps
def _heaviside(x, out=None):
    return _into(out, (x >= 0).astype(x.dtype))


def _sign(x, out=None):
    return xp.sign(x, out=out)


def _no_gradient(g, x, y, out=None):
    """Steps: the derivative is zero almost everywhere (the perceptron uses Rosenblatt's rule)."""
    return _into(out, xp.zeros_like(g))


ACTIVATIONS = {k.name: k for k in (
    ActivationKernel("linear", _linear, _linear_grad, reads=""),
    ActivationKernel("relu", _relu, _relu_grad, reads="y", keeps_one=True),
    ActivationKernel("relu_with_options", _relu_general, _relu_general_grad, reads="x"),
    ActivationKernel("leaky_relu", _leaky_relu, _leaky_relu_grad, reads="x", keeps_one=True),
    ActivationKernel("elu", _elu, _elu_grad, reads="xy", keeps_one=True),
    ActivationKernel("selu", _selu, _selu_grad, reads="xy"),
    ActivationKernel("sigmoid", _sigmoid, _sigmoid_grad, reads="y"),
    ActivationKernel("tanh", _tanh, _tanh_grad, reads="y"),
    ActivationKernel("exponential", _exponential, _exponential_grad, reads="y"),
    ActivationKernel("softplus", _softplus, _softplus_grad, reads="x"),
    ActivationKernel("softsign", _softsign, _softsign_grad, reads="x"),
    ActivationKernel("silu", _silu, _silu_grad, reads="x"),
    ActivationKernel("gelu", _gelu, _gelu_grad, reads="x"),
    ActivationKernel("mish", _mish, _mish_grad, reads="x"),
    ActivationKernel("hard_sigmoid", _hard_sigmoid, _hard_sigmoid_grad, reads="x"),
    ActivationKernel("softmax", _softmax, _softmax_grad, reads="y"),
    ActivationKernel("log_softmax", _log_softmax, _log_softmax_grad, reads="y"),
    ActivationKernel("relu6", _relu6, _relu6_grad, reads="y", keeps_one=True),
    ActivationKernel("celu", _celu, _celu_grad, reads="x", keeps_one=True),
    ActivationKernel("hard_tanh", _hard_tanh, _hard_tanh_grad, reads="x", keeps_one=True),
    ActivationKernel("hard_silu", _hard_silu, _hard_silu_grad, reads="x"),
    ActivationKernel("hard_shrink", _hard_shrink, _hard_shrink_grad, reads="x"),
    ActivationKernel("soft_shrink", _soft_shrink, _soft_shrink_grad, reads="x"),
    ActivationKernel("threshold", _threshold, _threshold_grad, reads="x"),
    ActivationKernel("log_sigmoid", _log_sigmoid, _log_sigmoid_grad, reads="x"),
    ActivationKernel("tanh_shrink", _tanh_shrink, _tanh_shrink_grad, reads="x"),
    ActivationKernel("sparse_plus", _sparse_plus, _sparse_plus_grad, reads="x"),
    ActivationKernel("sparse_sigmoid", _sparse_sigmoid, _sparse_sigmoid_grad, reads="x"),
    ActivationKernel("squareplus", _squareplus, _squareplus_grad, reads="x"),
    ActivationKernel("glu", _glu, _glu_grad, reads="x"),
    ActivationKernel("sparsemax", _sparsemax, _sparsemax_grad, reads="y"),
    ActivationKernel("heaviside", _heaviside, _no_gradient, reads=""),
    ActivationKernel("sign", _sign, _no_gradient, reads=""),
)}
