"""Elementwise math: exp, log, sqrt, abs, square, maximum, minimum, where, clip, cast."""

import numpy as np

from numnet.autodiff.ops._core import Tensor, operand, operands, record, recording, unbroadcast, xp


def _unary(x, forward, derivative):
    """Builds `forward(x)`; `derivative(xv, yv)` gives dy/dx elementwise."""
    x, xv = operand(x)
    out = Tensor(forward(xv))
    if recording():
        record(out, (x,), lambda g, needs: (g * derivative(xv, out.data),))
    return out


def exp(x):
    """e ** x."""
    return _unary(x, xp.exp, lambda x, y: y)


def log(x):
    """Natural logarithm."""
    return _unary(x, xp.log, lambda x, y: 1 / x)


def log1p(x):
    """log(1 + x), accurate for small x."""
    return _unary(x, xp.log1p, lambda x, y: 1 / (1 + x))


def sqrt(x):
    """Square root."""
    return _unary(x, xp.sqrt, lambda x, y: 0.5 / y)


def square(x):
    """x ** 2."""
    return _unary(x, xp.square, lambda x, y: 2 * x)


def abs(x):
    """|x| (gradient 0 at 0)."""
    return _unary(x, xp.abs, lambda x, y: xp.sign(x))


def sin(x):
    """Sine."""
    return _unary(x, xp.sin, lambda x, y: xp.cos(x))


def cos(x):
    """Cosine."""
    return _unary(x, xp.cos, lambda x, y: -xp.sin(x))


def sign(x):
    """Sign of x (-1, 0, 1); not differentiable, returns a constant tensor."""
    return Tensor(xp.sign(operand(x)[1]))


def stop_gradient(x):
    """Returns the value of `x` with no gradient flowing back."""
    return Tensor(operand(x)[1])


def cast(x, dtype):
    """Casts to `dtype`; gradients flow back only between float dtypes."""
    x, xv = operand(x)
    out = Tensor(xv.astype(dtype))
    if recording() and np.issubdtype(out.data.dtype, np.floating):
        record(out, (x,), lambda g, needs: (g.astype(xv.dtype),))
    return out


def _select(a, b, pick_a):
    """Shared backward for maximum/minimum: the chosen operand gets the gradient."""
    (a, av), (b, bv) = operands(a, b)
    mask = pick_a(av, bv)
    out = Tensor(xp.where(mask, av, bv))
    if recording():
        def backward(g, needs):
            return (unbroadcast(xp.where(mask, g, 0).astype(g.dtype), a.shape) if needs[0] else None,
                    unbroadcast(xp.where(mask, 0, g).astype(g.dtype), b.shape) if needs[1] else None)
        record(out, (a, b), backward)
    return out


def maximum(a, b):
    """Elementwise maximum (ties send the gradient to `a`)."""
    return _select(a, b, xp.greater_equal)


def minimum(a, b):
    """Elementwise minimum (ties send the gradient to `a`)."""
    return _select(a, b, xp.less_equal)


def where(condition, a, b):
    """Picks `a` where `condition` holds, else `b`; the condition gets no gradient."""
    condition = operand(condition)[1].astype(bool)
    (a, av), (b, bv) = operands(a, b)
    out = Tensor(xp.where(condition, av, bv))
    if recording():
        def backward(g, needs):
            zero = xp.zeros((), dtype=g.dtype)
            return (unbroadcast(xp.where(condition, g, zero), a.shape) if needs[0] else None,
                    unbroadcast(xp.where(condition, zero, g), b.shape) if needs[1] else None)
        record(out, (a, b), backward)
    return out


def clip(x, min_value, max_value):
    """Clips to [min_value, max_value]; the gradient is zero outside the range."""
    x, xv = operand(x)
    out = Tensor(xp.clip(xv, min_value, max_value))
    if recording():
        def backward(g, needs):
            inside = (xv >= min_value) & (xv <= max_value)
            return (g * inside,)
        record(out, (x,), backward)
    return out
