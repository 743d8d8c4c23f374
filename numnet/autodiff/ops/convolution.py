"""Convolutions and pooling, as Keras' `ops.conv`, `depthwise_conv`, `separable_conv`,
`conv_transpose`, `max_pool`, `average_pool`, the adaptive pools, `unfold` and `fold`
(1, 2 or 3 spatial axes, channels last or first).

Each window of the input is gathered (`take` along each spatial axis, after padding as
TensorFlow's "same" does), then a convolution is one product of the windows with the
kernel, and a pooling a maximum or a mean over the windows' axes. The gradients are
those of the gather and of the product: no convolution primitive of its own, so a
compiled step replays it and `jvp` and second derivatives come with it. `conv_transpose`
and `fold` are the adjoints of `conv` and `unfold` (as TensorFlow defines them), computed
as those ops' gradients. numnet's models are MLPs: this serves custom layers and ports of
Keras code, not speed.
"""

import builtins as _builtins

from numnet.autodiff import tape as _tape  # (a module: tape.py imports the ops in turn)
from numnet.autodiff.ops.arithmetic import divide, matmul, multiply
from numnet.autodiff.ops.core import as_tensor, xp
from numnet.autodiff.ops.creation import zeros
from numnet.autodiff.ops.math import where
from numnet.autodiff.ops.reductions import max, sum
from numnet.autodiff.ops.shape import concatenate, getitem, pad, reshape, take, transpose


def _per_axis(value, count, name):
    values = (value,) * count if isinstance(value, int) else tuple(value)
    if len(values) != count or not all(isinstance(v, int) and v >= 1 for v in values):
        raise ValueError(f"`{name}` must be a positive integer or {count} of them; received "
                         f"{value!r}.")
    return values


def _channels_last(x, data_format, name):
    x = as_tensor(x)
    if x.ndim not in (3, 4, 5):
        raise ValueError(f"{name} expects inputs of rank 3, 4 or 5 (batch, 1 to 3 spatial "
                         f"axes, channels); received shape {tuple(x.shape)}.")
    if data_format in (None, "channels_last"):
        return x, False
    if data_format != "channels_first":
        raise ValueError(f"{name}: data_format must be 'channels_last' or 'channels_first'; "
                         f"received {data_format!r}.")
    return transpose(x, (0,) + tuple(range(2, x.ndim)) + (1,)), True


def _back(y, first):
    return transpose(y, (0, y.ndim - 1) + tuple(range(1, y.ndim - 1))) if first else y


def _windows(x, window, strides, dilations, padding, fill, name):
    """The windows of the channels-last `x`: `(batch, *out, *window, channels)`."""
    padding = padding.lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"{name}: padding must be 'valid' or 'same'; received {padding!r}.")
    spatial = x.shape[1:-1]
    widths, outs = [(0, 0)], []
    for size, k, s, d in zip(spatial, window, strides, dilations):
        span = (k - 1) * d + 1
        if padding == "same":
            out = -(-size // s)
            total = _builtins.max((out - 1) * s + span - size, 0)
            widths.append((total // 2, total - total // 2))
        else:
            out = (size - span) // s + 1 if size >= span else 0
            widths.append((0, 0))
        outs.append(out)
    if 0 in outs:
        raise ValueError(f"{name}: the operation resulted in an empty output (input "
                         f"{tuple(x.shape)}, window {tuple(window)}, strides {tuple(strides)}, "
                         f"dilation {tuple(dilations)}, padding {padding!r}).")
    widths.append((0, 0))
    if any(w != (0, 0) for w in widths):
        x = pad(x, widths, constant_values=fill)
    for i, (out, k, s, d) in enumerate(zip(outs, window, strides, dilations)):
        index = xp.arange(out)[:, None] * s + xp.arange(k)[None, :] * d
        x = take(x, index, axis=1 + 2 * i)  # (..., out_i, k_i, ...)
    count = len(outs)
    order = [0] + [1 + 2 * i for i in range(count)] + [2 + 2 * i for i in range(count)]
    return transpose(x, order + [x.ndim - 1]), outs


def _convolve(x, kernel, strides, padding, dilation_rate, name):
    """The convolution of the channels-last `x` with `kernel (*window, c_in / groups, c_out)`."""
    kernel = as_tensor(kernel)
    count = x.ndim - 2
    if kernel.ndim != count + 2:
        raise ValueError(f"{name}: the kernel must have rank {count + 2} for inputs of rank "
                         f"{x.ndim}; received shape {tuple(kernel.shape)}.")
    window = tuple(kernel.shape[:count])
    channels, per_group, units = x.shape[-1], kernel.shape[-2], kernel.shape[-1]
    if channels % per_group or units % (channels // per_group):
        raise ValueError(f"{name}: the number of input channels must match the kernel's "
                         f"(times a number of groups): the inputs' {channels} channels do not "
                         f"split into groups of the kernel's {per_group} input channels "
                         f"(kernel shape {tuple(kernel.shape)}).")
    groups = channels // per_group
    patches, outs = _windows(x, window, _per_axis(strides, count, "strides"),
                             _per_axis(dilation_rate, count, "dilation_rate"), padding, 0.0,
                             name)
    size = int(xp.prod(window, dtype=xp.int64))
    rows = reshape(patches, (-1, size, channels))
    out_per_group = units // groups
    results = []
    for g in range(groups):
        part = getitem(rows, (slice(None), slice(None), slice(g * per_group, (g + 1) * per_group)))
        weights = getitem(kernel, (Ellipsis, slice(g * out_per_group, (g + 1) * out_per_group)))
        results.append(matmul(reshape(part, (-1, size * per_group)),
                              reshape(weights, (size * per_group, out_per_group))))
    joined = results[0] if groups == 1 else concatenate(results, axis=-1)
    return reshape(joined, (x.shape[0],) + tuple(outs) + (units,))


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """The N-D convolution (cross-correlation, as Keras') of `inputs` with `kernel` of shape
    `(*window, input_channels / groups, output_channels)`: grouped when the inputs have
    `groups` times the kernel's input channels."""
    x, first = _channels_last(inputs, data_format, "conv")
    return _back(_convolve(x, kernel, strides, padding, dilation_rate, "conv"), first)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """Each input channel convolved with its own `multiplier` filters: `kernel` is
    `(*window, channels, multiplier)`; output channel `c * multiplier + m`."""
    x, first = _channels_last(inputs, data_format, "depthwise_conv")
    kernel = as_tensor(kernel)
    shape = tuple(kernel.shape)
    spread = reshape(kernel, shape[:-2] + (1, shape[-2] * shape[-1]))
    return _back(_convolve(x, spread, strides, padding, dilation_rate, "depthwise_conv"), first)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid",
                   data_format=None, dilation_rate=1):
    """A depthwise convolution, then a pointwise (1 x 1) one mixing its channels."""
    x, first = _channels_last(inputs, data_format, "separable_conv")
    kernel = as_tensor(depthwise_kernel)
    shape = tuple(kernel.shape)
    spread = reshape(kernel, shape[:-2] + (1, shape[-2] * shape[-1]))
    deep = _convolve(x, spread, strides, padding, dilation_rate, "separable_conv")
    return _back(_convolve(deep, pointwise_kernel, 1, "valid", 1, "separable_conv"), first)


def _pool(inputs, pool_size, strides, padding, data_format, name, fill):
    x, first = _channels_last(inputs, data_format, name)
    count = x.ndim - 2
    window = _per_axis(pool_size, count, "pool_size")
    steps = window if strides is None else _per_axis(strides, count, "strides")
    patches, outs = _windows(x, window, steps, (1,) * count, padding, fill, name)
    return x, first, patches, tuple(range(1 + count, 1 + 2 * count)), window, steps


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """The maximum of each window (`strides` default to `pool_size`; "same" pads with
    -inf, so padding never wins)."""
    x, first, patches, axes, _, _ = _pool(inputs, pool_size, strides, padding, data_format,
                                          "max_pool", -xp.inf)
    return _back(max(patches, axis=axes), first)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """The mean of each window; with "same", of the window's entries inside the input only
    (as TensorFlow's)."""
    x, first, patches, axes, window, steps = _pool(inputs, pool_size, strides, padding,
                                                   data_format, "average_pool", 0.0)
    total = sum(patches, axis=axes)
    if padding.lower() == "valid":
        return _back(divide(total, float(xp.prod(window, dtype=xp.int64))), first)
    ones = as_tensor(xp.ones((1,) + tuple(x.shape[1:-1]) + (1,), dtype=x.data.dtype))
    counted, _ = _windows(ones, window, steps, (1,) * len(window), "same", 0.0, "average_pool")
    return _back(divide(total, sum(counted, axis=axes)), first)


def _adjoint(forward, shape, dtype, cotangent):
    """`A^T c` for the linear map `forward` (`A z`, `z` of `shape`): the gradient of
    `sum(A z * c)` with respect to `z`, itself made of ops (so it differentiates too)."""
    point = zeros(shape, dtype)
    with _tape.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(point)
        total = sum(multiply(forward(point), cotangent))
    return tape.gradient(total, point)


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None,
                   data_format=None, dilation_rate=1):
    """The transposed convolution (the gradient of `conv` with respect to its input, as
    TensorFlow's): `kernel` is `(*window, output_channels, input_channels)`; the output
    size per axis is Keras' (`output_padding` adds to it)."""
    x, first = _channels_last(inputs, data_format, "conv_transpose")
    kernel = as_tensor(kernel)
    count = x.ndim - 2
    if kernel.ndim != count + 2 or kernel.shape[-1] != x.shape[-1]:
        raise ValueError(f"conv_transpose: the number of input channels must match the "
                         f"kernel's: the kernel {tuple(kernel.shape)} must be (*window, "
                         f"output_channels, {x.shape[-1]}) for inputs {tuple(x.shape)}.")
    strides = _per_axis(strides, count, "strides")
    dilations = _per_axis(dilation_rate, count, "dilation_rate")
    extra = (None,) * count if output_padding is None else \
        ((output_padding,) * count if isinstance(output_padding, int) else tuple(output_padding))
    sizes = []
    for size, k, s, d, more in zip(x.shape[1:-1], kernel.shape[:count], strides, dilations,
                                   extra):
        span = (k - 1) * d + 1
        if padding.lower() == "valid":
            sizes.append((size - 1) * s + span + (_builtins.max(span, s) - span
                                                  if more is None else more))
        else:
            sizes.append(size * s if more is None else (size - 1) * s + span % 2 + more)
    for size, out, k, s, d in zip(x.shape[1:-1], sizes, kernel.shape[:count], strides,
                                  dilations):
        span = (k - 1) * d + 1
        back = -(-out // s) if padding.lower() == "same" else (out - span) // s + 1
        if back != size:
            raise ValueError(f"conv_transpose: output_padding={output_padding!r} gives an "
                             f"output of {out} where a convolution would not come back to "
                             f"{size}; it must be smaller than the stride {s}.")
    shape = (x.shape[0],) + tuple(sizes) + (kernel.shape[-2],)
    result = _adjoint(lambda z: _convolve(z, kernel, strides, padding, dilations,
                                          "conv_transpose"), shape, x.data.dtype, x)
    return _back(result, first)


def _channels_first_windows(x, kernel_size, dilation, padding, stride, name):
    """`unfold`'s blocks of the NCHW-style `x`: `(N, C * prod(window), L)`."""
    x = as_tensor(x)
    count = x.ndim - 2
    window = _per_axis(kernel_size, count, "kernel_size")
    pads = (padding,) * count if isinstance(padding, int) else tuple(padding)
    moved = transpose(x, (0,) + tuple(range(2, x.ndim)) + (1,))
    moved = pad(moved, [(0, 0)] + [(p, p) for p in pads] + [(0, 0)])
    patches, outs = _windows(moved, window, _per_axis(stride, count, "stride"),
                             _per_axis(dilation, count, "dilation"), "valid", 0.0, name)
    # (N, *out, *window, C) -> (N, C, *window, *out)
    order = (0, patches.ndim - 1) + tuple(range(1 + count, 1 + 2 * count)) + \
        tuple(range(1, 1 + count))
    blocks = transpose(patches, order)
    size = int(xp.prod(window, dtype=xp.int64))
    return reshape(blocks, (x.shape[0], x.shape[1] * size, int(xp.prod(outs, dtype=xp.int64))))


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """The sliding blocks of the `(N, C, *spatial)` input (zero-padded by `padding`), as
    PyTorch's `unfold`: `(N, C * prod(kernel_size), L)` for `L` block positions."""
    return _channels_first_windows(x, kernel_size, dilation, padding, stride, "unfold")


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The inverse layout of `unfold` (its adjoint): blocks `(N, C * prod(kernel_size), L)`
    summed back into an `(N, C, *output_size)` tensor where they overlap."""
    x = as_tensor(x)
    count = len(tuple(output_size)) if not isinstance(output_size, int) else 2
    window = _per_axis(kernel_size, count, "kernel_size")
    size = int(xp.prod(window, dtype=xp.int64))
    if x.ndim != 3 or x.shape[1] % size:
        raise ValueError(f"fold expects a 3D input of blocks (N, C * {size}, L); received "
                         f"shape {tuple(x.shape)}.")
    shape = (x.shape[0], x.shape[1] // size) + _per_axis(output_size, count, "output_size")
    return _adjoint(lambda z: _channels_first_windows(z, window, dilation, padding, stride,
                                                      "fold"), shape, x.data.dtype, x)


def _adaptive(inputs, output_size, data_format, name, reduce):
    """Pools whose windows split each axis as evenly as possible: window `i` of an axis of
    `n` entries pooled to `m` covers `[floor(i n / m), ceil((i + 1) n / m))`."""
    x, first = _channels_last(inputs, data_format, name)
    count = x.ndim - 2
    outs = _per_axis(output_size, count, "output_size")
    for i, m in enumerate(outs):
        n, axis = x.shape[1 + i], 1 + i
        starts = xp.arange(m) * n // m
        ends = -(-(xp.arange(1, m + 1) * n) // m)
        length = int((ends - starts).max())
        positions = starts[:, None] + xp.arange(length)[None, :]
        inside = (positions < ends[:, None]).reshape((m, length) + (1,) * (x.ndim - axis - 1))
        gathered = take(x, xp.minimum(positions, n - 1), axis=axis)  # (..., m, length, ...)
        x = reduce(gathered, inside, axis + 1)
    return _back(x, first)


def adaptive_average_pool(inputs, output_size, data_format=None):
    """The mean over each of `output_size` windows per spatial axis (PyTorch's adaptive
    pooling, as Keras')."""
    def mean(values, inside, axis):
        total = sum(where(inside, values, 0.0), axis=axis)
        return divide(total, xp.sum(inside, axis=1).astype(values.data.dtype))
    return _adaptive(inputs, output_size, data_format, "adaptive_average_pool", mean)


def adaptive_max_pool(inputs, output_size, data_format=None):
    """The maximum over each of `output_size` windows per spatial axis."""
    return _adaptive(inputs, output_size, data_format, "adaptive_max_pool",
                     lambda values, inside, axis: max(where(inside, values, -xp.inf), axis=axis))


__all__ = ["adaptive_average_pool", "adaptive_max_pool", "average_pool", "conv",
           "conv_transpose", "depthwise_conv", "fold", "max_pool", "separable_conv", "unfold"]
