"""Normalization kernels: the formulas of BatchNormalization and LayerNormalization.

- `rsqrt`: `1 / sqrt(x)`;
- `squared_deviation_mean`: the variance around a given mean,
  `mean((x - mean) ** 2)` over `axis` (TensorFlow's `nn.moments` computes it
  so, with the mean held constant);
- `normalize`: TensorFlow's `nn.batch_normalization`,
  `x * inv + (offset - mean * inv)` with `inv = scale / sqrt(variance + epsilon)`.

Dtype-generic functions on arrays; `out` (when given) receives the result.
"""

from numnet.backend import xp


def rsqrt(x, out=None):
    """`1 / sqrt(x)`, into `out` when given."""
    y = xp.sqrt(x, out=out)
    return xp.reciprocal(y, out=y)


def squared_deviation_mean(x, mean, axis, keepdims, out=None):
    """`mean((x - mean) ** 2)` over `axis` (`mean` broadcasts against `x`)."""
    deviation = xp.subtract(x, mean)
    xp.multiply(deviation, deviation, out=deviation)
    return xp.mean(deviation, axis=axis, keepdims=keepdims, out=out)


def scale_of(variance, scale, epsilon):
    """`scale / sqrt(variance + epsilon)` (`scale` may be None: 1)."""
    inv = rsqrt(xp.add(variance, epsilon))
    if scale is not None:
        inv = xp.multiply(inv, scale)
    return inv


def normalize(x, mean, variance, offset, scale, epsilon, out=None):
    """`x * inv + (offset - mean * inv)`, `inv = scale / sqrt(variance + epsilon)`."""
    inv = scale_of(variance, scale, epsilon)
    shift = xp.multiply(mean, inv)
    xp.negative(shift, out=shift)
    if offset is not None:
        shift = xp.add(offset, shift)
    y = xp.multiply(x, inv, out=out)
    return xp.add(y, shift, out=y)


__all__ = ["normalize", "rsqrt", "scale_of", "squared_deviation_mean"]
