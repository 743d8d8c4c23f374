"""Fourier transforms on (real, imaginary) pairs, as Keras' `ops.fft`, `fft2`, `ifft2`,
`rfft`, `irfft`, `stft` and `istft`: numnet has no complex tensors, so a complex value
travels as two float tensors.

One primitive computes the (inverse) discrete Fourier transform over the last one or two
axes and returns both parts stacked in a new first axis. Its backward rule is the same
primitive: for `y = F x` the gradient is `F^H g = N ifft(g)`, for `y = F^-1 x` it is
`fft(g) / N` (`N` the number of transformed entries), so second derivatives come too.
The real transforms and the short-time ones are compositions around it.
"""

from numnet.autodiff.ops.arithmetic import multiply
from numnet.autodiff.ops.core import Primitive, as_tensor, cast, xp
from numnet.autodiff.ops.creation import zeros
from numnet.autodiff.ops.nn_functions import extract_sequences
from numnet.autodiff.ops.shape import concatenate, flip, getitem, pad, reshape


def _transform(real, imag, inverse, axes):
    data = real.astype(xp.result_type(real.dtype, xp.complex64)) + 1j * imag
    function = (xp.fft.ifftn if inverse else xp.fft.fftn)
    out = function(data, axes=tuple(range(-axes, 0)))
    return xp.stack([out.real, out.imag]).astype(real.dtype, copy=False)


def _transform_vjp(g, inputs, output, needs, inverse, axes):
    size = 1
    for n in inputs[0].shape[len(inputs[0].shape) - axes:]:
        size *= n
    back = DFT(getitem(g, 0), getitem(g, 1), inverse=not inverse, axes=axes)
    back = multiply(back, float(size) if not inverse else 1.0 / size)
    return getitem(back, 0), getitem(back, 1)


DFT = Primitive("dft", _transform, _transform_vjp)


def _pair(x, name):
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(f"Input `x` should be a tuple of two tensors - real and imaginary. "
                         f"Received: x={x!r} ({name}).")
    real, imag = as_tensor(x[0]), as_tensor(x[1])
    if tuple(real.shape) != tuple(imag.shape):
        raise ValueError(f"{name}: the real and imaginary parts should have the same shape. "
                         f"Received: x[0].shape = {tuple(real.shape)}, x[1].shape = "
                         f"{tuple(imag.shape)}")
    if real.data.dtype.kind != "f" or real.data.dtype != imag.data.dtype:
        raise ValueError(f"{name} expects two float tensors of one dtype; received "
                         f"{real.data.dtype} and {imag.data.dtype}.")
    return real, imag


def _split(stacked):
    return getitem(stacked, 0), getitem(stacked, 1)


def fft(x):
    """The discrete Fourier transform over the last axis of `x = (real, imag)`."""
    real, imag = _pair(x, "fft")
    return _split(DFT(real, imag, inverse=False, axes=1))


def fft2(x):
    """The discrete Fourier transform over the last two axes of `x = (real, imag)`."""
    real, imag = _pair(x, "fft2")
    return _split(DFT(real, imag, inverse=False, axes=2))


def ifft2(x):
    """The inverse of `fft2` (divided by the number of entries of the last two axes)."""
    real, imag = _pair(x, "ifft2")
    return _split(DFT(real, imag, inverse=True, axes=2))


def _fitted(x, length):
    """`x` cut or zero-padded along its last axis to `length` entries."""
    size = x.shape[-1]
    if size >= length:
        return getitem(x, (Ellipsis, slice(0, length)))
    return pad(x, [(0, 0)] * (x.ndim - 1) + [(0, length - size)])


def rfft(x, fft_length=None):
    """The Fourier transform of the real `x` over its last axis (cut or zero-padded to
    `fft_length`): the `fft_length // 2 + 1` entries that determine the rest."""
    x = as_tensor(x)
    if x.data.dtype.kind != "f":
        x = cast(x, "float32")
    length = x.shape[-1] if fft_length is None else int(fft_length)
    fitted = _fitted(x, length)
    real, imag = _split(DFT(fitted, zeros(fitted.shape, fitted.data.dtype), inverse=False,
                            axes=1))
    bins = (Ellipsis, slice(0, length // 2 + 1))
    return getitem(real, bins), getitem(imag, bins)


def irfft(x, fft_length=None):
    """The real signal of length `fft_length` (default `2 (n - 1)` for `n` entries) whose
    `rfft` is `x = (real, imag)`, the spectrum's other half taken as its mirror image."""
    real, imag = _pair(x, "irfft")
    length = 2 * (real.shape[-1] - 1) if fft_length is None else int(fft_length)
    half = length // 2 + 1
    real, imag = _fitted(real, half), _fitted(imag, half)
    mirrored = (Ellipsis, slice(1, length - half + 1))  # entries 1 ... n - half, reversed
    full_real = concatenate([real, flip(getitem(real, mirrored), -1)], axis=-1)
    full_imag = concatenate([imag, -flip(getitem(imag, mirrored), -1)], axis=-1)
    return getitem(DFT(full_real, full_imag, inverse=True, axes=1), 0)


def _window(window, sequence_length, fft_length, dtype):
    """The window of a short-time transform, zero-padded to `fft_length` around its middle."""
    if window is None:
        return None
    if isinstance(window, str):
        if window not in ("hann", "hamming"):
            raise ValueError(f'If a string is passed to `window`, it must be one of `"hann"`, '
                             f'`"hamming"`. Received: window={window}')
        n = xp.arange(sequence_length, dtype=xp.float64)
        a = 0.5 if window == "hann" else 0.54
        # TensorFlow's "periodic" windows, which Keras uses: periodic for an even length,
        # symmetric (the period one less) for an odd one
        period = max(sequence_length - sequence_length % 2, 1)
        values = a - (1 - a) * xp.cos(2 * xp.pi * n / period)
        if sequence_length == 1:
            values = xp.ones(1)
    else:
        values = xp.asarray(getattr(window, "data", window), dtype=xp.float64)
        if values.shape != (sequence_length,):
            raise ValueError(f"The shape of `window` must be equal to [sequence_length]."
                             f"Received: window shape={values.shape}")
    left = (fft_length - sequence_length) // 2
    return xp.pad(values, (left, fft_length - sequence_length - left)).astype(dtype)


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """The short-time Fourier transform of the real `x` along its last axis: windows of
    `sequence_length` every `sequence_stride` (reflect-padded by `fft_length // 2` at both
    ends when `center`), each windowed and transformed by `rfft(fft_length)`. Returns
    (real, imag), each `(..., frames, fft_length // 2 + 1)`."""
    x = as_tensor(x)
    if x.data.dtype not in (xp.float32, xp.float64):
        raise TypeError(f"Invalid input type. Expected `float32` or `float64`. Received: input "
                        f"type={x.data.dtype}")
    if fft_length < sequence_length:
        raise ValueError(f"`fft_length` must equal or larger than `sequence_length`. Received: "
                         f"sequence_length={sequence_length}, fft_length={fft_length}")
    if center:
        x = pad(x, [(0, 0)] * (x.ndim - 1) + [(fft_length // 2, fft_length // 2)],
                mode="reflect")
    frames = extract_sequences(x, fft_length, sequence_stride)
    window = _window(window, sequence_length, fft_length, x.data.dtype)
    if window is not None:
        frames = multiply(frames, window)
    return rfft(frames, fft_length)


def _overlap_add(frames, step):
    """The frames `(..., count, length)` added at offsets `0, step, 2 step, ...`."""
    count, length = frames.shape[-2], frames.shape[-1]
    blocks = -(-length // step)
    frames = pad(frames, [(0, 0)] * (frames.ndim - 1) + [(0, blocks * step - length)])
    parts = reshape(frames, tuple(frames.shape[:-1]) + (blocks, step))
    total = None
    for j in range(blocks):  # block j of frame f lands at block f + j of the output
        shifted = pad(getitem(parts, (Ellipsis, j, slice(None))),
                      [(0, 0)] * (parts.ndim - 3) + [(j, blocks - 1 - j), (0, 0)])
        total = shifted if total is None else total + shifted
    joined = reshape(total, tuple(total.shape[:-2]) + ((count + blocks - 1) * step,))
    return getitem(joined, (Ellipsis, slice(0, (count - 1) * step + length)))


def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann",
          center=True):
    """The inverse of `stft`: each frame's `irfft`, weighted by the window divided by the
    sum of the squared windows overlapping there, added back in place (TensorFlow's
    `inverse_stft`), then cut to `length` (and the centring padding removed)."""
    real, imag = _pair(x, "istft")
    frames = getitem(irfft((real, imag), fft_length), (Ellipsis, slice(0, fft_length)))
    window = _window(window, sequence_length, fft_length, real.data.dtype)
    if window is not None:
        squares = xp.square(window.astype(xp.float64))
        blocks = -(-fft_length // sequence_stride)
        padded = xp.pad(squares, (0, blocks * sequence_stride - fft_length))
        denominator = xp.tile(padded.reshape(blocks, sequence_stride).sum(0), blocks)
        with xp.errstate(divide="ignore", invalid="ignore"):
            inverse = xp.where(denominator[:fft_length] > 0,
                               window / denominator[:fft_length], 0.0)
        frames = multiply(frames, inverse.astype(real.data.dtype))
    signal = _overlap_add(frames, sequence_stride)
    start = fft_length // 2 if center else 0
    if length is not None:
        end = start + int(length)
    elif center:
        end = signal.shape[-1] - fft_length // 2
    else:
        end = signal.shape[-1]
    return getitem(signal, (Ellipsis, slice(start, end)))


__all__ = ["fft", "fft2", "ifft2", "irfft", "istft", "rfft", "stft"]
