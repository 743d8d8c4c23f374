"""Normalization ops: `rsqrt`, `moments`, `var`, `std`, `batch_normalization`, `normalize`.

The formulas live in `numnet.kernels.normalization`; this module makes them
primitives with backward rules written in numnet ops (so a compiled step
captures the backward pass too). `moments` computes the variance around a
mean it holds constant, as TensorFlow's `nn.moments` does: its gradient
reaches the input directly and through the mean's own op.
"""

import warnings

from numnet.autodiff.ops.core import Primitive, cast, checked_axes, operand, shape_of, sum_to
from numnet.autodiff.ops.arithmetic import add, divide, multiply, negative, power, subtract
from numnet.autodiff.ops.math import abs as absolute
from numnet.autodiff.ops.math import maximum, minimum, sqrt, square, stop_gradient
from numnet.autodiff.ops.reductions import mean as reduce_mean
from numnet.autodiff.ops.reductions import sum as reduce_sum
from numnet.autodiff.ops.shape import reshape
from numnet.kernels import normalization as kernels


def _rsqrt_vjp(g, inputs, y, needs):
    return (multiply(g, multiply(multiply(y, square(y)), -0.5)),)


RSQRT = Primitive("rsqrt", kernels.rsqrt, _rsqrt_vjp,
                  into=lambda out, x: kernels.rsqrt(x, out=out))


def rsqrt(x):
    """`1 / sqrt(x)`."""
    return RSQRT(operand(x))


def _axes(axis, ndim):
    return tuple(sorted(checked_axes(axis, ndim)))


def _variance_vjp(g, inputs, output, needs, axis, keepdims):
    x, mean = inputs
    count = 1
    for a in axis:
        count *= x.shape[a]
    if not keepdims:
        g = reshape(g, tuple(1 if i in axis else n for i, n in enumerate(x.shape)))
    # d/dx mean((x - m)^2) with m held constant (its own op carries the rest)
    return multiply(subtract(x, mean), multiply(g, 2.0 / count)), None


VARIANCE = Primitive(
    "variance_around", lambda x, mean, axis, keepdims: kernels.squared_deviation_mean(
        x, mean, axis, keepdims),
    _variance_vjp,
    into=lambda out, x, mean, axis, keepdims: kernels.squared_deviation_mean(
        x, mean, axis, keepdims, out=out))


def moments(x, axes, keepdims=False, synchronized=False):
    """Mean and variance of `x` over `axes` (as `keras.ops.moments`).

    `synchronized` is accepted for Keras compatibility (one device: no effect). A
    float16 `x` is summarized in float32 (Keras' backends do the same).
    """
    x = operand(x)
    half = x.data.dtype == "float16"
    if x.data.dtype.kind != "f" or half:  # float16's range is too small for statistics
        x = cast(x, "float32")
    axes = _axes(axes, x.ndim)
    mean = reduce_mean(x, axis=axes, keepdims=True)
    variance = VARIANCE(x, mean, axis=axes, keepdims=True)
    if not keepdims:
        shape = tuple(n for i, n in enumerate(x.shape) if i not in axes)
        mean, variance = reshape(mean, shape), reshape(variance, shape)
    if half:  # back to float16, clipped to its range as Keras does (not inf)
        largest = 65504.0
        mean, variance = (cast(minimum(maximum(v, -largest), largest), "float16")
                          for v in (mean, variance))
    return mean, variance


def var(x, axis=None, keepdims=False):
    """The variance of `x` over `axis` (all axes when None), as `keras.ops.var`.

    Integer and boolean inputs give float32, as in Keras.
    """
    x = operand(x)
    return moments(x, tuple(range(x.ndim)) if axis is None else axis, keepdims=keepdims)[1]


def std(x, axis=None, keepdims=False):
    """The standard deviation of `x` over `axis` (all axes when None), as `keras.ops.std`."""
    return sqrt(var(x, axis=axis, keepdims=keepdims))


def _normalize_compute(x, mean, variance, *rest, epsilon, has_offset, has_scale):
    offset = rest[0] if has_offset else None
    scale = rest[-1] if has_scale else None
    return kernels.normalize(x, mean, variance, offset, scale, epsilon)


def _normalize_into(out, x, mean, variance, *rest, epsilon, has_offset, has_scale):
    offset = rest[0] if has_offset else None
    scale = rest[-1] if has_scale else None
    return kernels.normalize(x, mean, variance, offset, scale, epsilon, out=out)


def _normalize_vjp(g, inputs, output, needs, epsilon, has_offset, has_scale):
    x, mean, variance = inputs[:3]
    scale = inputs[-1] if has_scale else None
    inv0 = rsqrt(add(variance, epsilon))
    inv = multiply(inv0, scale) if has_scale else inv0
    centered = subtract(x, mean)
    gx = multiply(g, inv)
    grads = [gx if needs[0] else None,
             negative(sum_to(gx, shape_of(mean))) if needs[1] else None]
    if needs[2]:
        slope = multiply(multiply(inv, square(inv0)), -0.5)
        grads.append(sum_to(multiply(multiply(g, centered), slope), shape_of(variance)))
    else:
        grads.append(None)
    if has_offset:
        grads.append(sum_to(g, shape_of(inputs[3])) if needs[3] else None)
    if has_scale:
        grads.append(sum_to(multiply(multiply(g, centered), inv0), shape_of(scale))
                     if needs[-1] else None)
    return tuple(grads)


NORMALIZE = Primitive("batch_normalization", _normalize_compute, _normalize_vjp,
                      into=_normalize_into)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """`(x - mean) * scale / sqrt(variance + epsilon) + offset`, as `keras.ops.batch_normalization`.

    `mean`, `variance`, `offset` and `scale` are 1-D along `axis` of `x` (or
    already broadcastable to `x`).
    """
    x = operand(x)
    named = [(name, operand(v)) for name, v in (("mean", mean), ("variance", variance),
                                                ("offset", offset), ("scale", scale))
             if v is not None]
    for name, v in named:
        if v.ndim == 1 and v.shape[0] != x.shape[axis]:
            raise ValueError(f"Arguments `{name}` must be a vector of length `x.shape[axis]`. "
                             f"Expected: `{(x.shape[axis],)}`. Received: `{tuple(v.shape)}`.")
    args = [v for _, v in named]
    if axis not in (-1, x.ndim - 1):
        shape = [1] * x.ndim
        shape[axis] = x.shape[axis]
        args = [reshape(v, tuple(shape)) if v.ndim == 1 else v for v in args]
    return NORMALIZE(x, *args, epsilon=float(epsilon), has_offset=offset is not None,
                     has_scale=scale is not None)


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """Keras 3's layer normalization: moments over `axis`, then the affine `gamma`, `beta`
    (`epsilon`: Keras' epsilon by default). `rms_scaling=True`, deprecated in Keras, gives
    Keras' numbers for it with its warning: `x / sqrt(variance + epsilon) * gamma`
    (`scaled_by_variance`; `rms_normalization` divides by the root mean square instead)."""
    from numnet.backend import epsilon as default_epsilon
    epsilon = default_epsilon() if epsilon is None else epsilon
    rms_scaling = kwargs.pop("rms_scaling", False)
    if kwargs:
        raise TypeError(f"layer_normalization: unexpected arguments {sorted(kwargs)}.")
    if rms_scaling:
        warnings.warn(
            "You passed `rms_scaling=True`, which is deprecated. This argument incorrectly "
            "scales the input by the variance, not the root mean square. To correctly use RMS "
            "Normalization, please use `keras.ops.rms_normalization` / "
            "`keras.ops.nn.rms_normalization` instead.", stacklevel=2)
        return scaled_by_variance(x, gamma, axis, epsilon)
    x = operand(x)
    axes = _axes(axis, x.ndim)
    mean, variance = moments(x, axes, keepdims=True)
    args = [mean, variance] + [_spread(v, x, axes) for v in (beta, gamma) if v is not None]
    return NORMALIZE(x, *args, epsilon=float(epsilon), has_offset=beta is not None,
                     has_scale=gamma is not None)


def scaled_by_variance(x, gamma, axis, epsilon):
    """`x / sqrt(variance + epsilon) * gamma`, the variance over `axis` (not centred: what
    Keras' deprecated `rms_scaling=True` computes, in the op and in `LayerNormalization`)."""
    x = operand(x)
    axes = _axes(axis, x.ndim)
    _, variance = moments(x, axes, keepdims=True)
    outputs = multiply(x, rsqrt(add(variance, epsilon)))
    return outputs if gamma is None else multiply(outputs, _spread(gamma, x, axes))


def _spread(v, x, axes):
    """A weight over `axes` of `x`, reshaped to broadcast against `x` (kept as is when it
    already has `x`'s rank or the axis is the last one)."""
    v = operand(v)
    if v.ndim != x.ndim and axes != (x.ndim - 1,):
        return reshape(v, tuple(n if i in axes else 1 for i, n in enumerate(x.shape)))
    return v


def normalize(x, axis=-1, order=2, epsilon=None):
    """`x / max(norm(x), epsilon)` along `axis` (L2: `x * min(rsqrt(sum(x^2)), 1/epsilon)`)."""
    from numnet.backend import epsilon as default_epsilon
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise ValueError(f"Argument `order` must be an int >= 1. Received: order={order!r}")
    x = operand(x)
    if x.ndim == 0:
        x = reshape(x, (1,))
    epsilon = default_epsilon() if epsilon is None else epsilon
    axis = tuple(axis) if isinstance(axis, list) else axis
    if order == 2:
        inv_norm = rsqrt(reduce_sum(square(x), axis=axis, keepdims=True))
        return multiply(x, minimum(inv_norm, 1.0 / epsilon))
    norm = power(reduce_sum(power(absolute(x), float(order)), axis=axis, keepdims=True),
                 1.0 / order)
    return divide(x, maximum(norm, epsilon))


__all__ = ["batch_normalization", "layer_normalization", "moments", "normalize", "rsqrt",
           "stop_gradient"]
