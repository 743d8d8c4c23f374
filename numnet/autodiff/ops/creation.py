"""Tensors made from a shape or a range (zeros, ones, full, arange, eye, linspace, tri),
and what a tensor is (`ndim`, `size`, `dtype`, `is_tensor`, `copy`).

Floats default to `floatx()`, as in Keras; integers keep NumPy's integer type.
"""

from numnet.autodiff.ops.core import Primitive, Tensor, operand, wrap, xp
from numnet.backend import floatx, standardize_dtype


def _shape(shape):
    return (int(shape),) if isinstance(shape, int) or getattr(shape, "ndim", 1) == 0 \
        else tuple(int(n) for n in shape)


def _float(dtype):
    return xp.dtype(floatx() if dtype is None else dtype)


def zeros(shape, dtype=None):
    """A tensor of zeros (`floatx()` unless `dtype` says otherwise)."""
    return wrap(xp.zeros(_shape(shape), dtype=_float(dtype)))


def ones(shape, dtype=None):
    """A tensor of ones (`floatx()` unless `dtype` says otherwise)."""
    return wrap(xp.ones(_shape(shape), dtype=_float(dtype)))


def empty(shape, dtype=None):
    """A tensor of `shape` for the caller to fill (numnet fills it with zeros)."""
    return zeros(shape, dtype)


def full(shape, fill_value, dtype=None):
    """A tensor of `shape` holding `fill_value` everywhere (`floatx()` unless `dtype` says
    otherwise, as in Keras, even for an integer `fill_value`)."""
    return wrap(xp.full(_shape(shape), xp.asarray(fill_value), dtype=_float(dtype)))


def full_like(x, fill_value, dtype=None):
    """A tensor like `x` (its shape, and its dtype unless `dtype` is given) holding
    `fill_value`."""
    x = operand(x)
    dtype = xp.asarray(getattr(x, "data", x)).dtype if dtype is None else dtype
    return full(xp.shape(getattr(x, "data", x)), fill_value, dtype)


def arange(start, stop=None, step=None, dtype=None):
    """`start, start + step, ...` up to (not including) `stop`; `arange(n)` counts from 0.

    Integers when every bound is an integer, else `floatx()`, unless `dtype` is given.
    """
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    bounds = [xp.asarray(v) if hasattr(v, "data") else v for v in (start, stop, step)]
    if dtype is None:
        dtype = xp.result_type(*bounds)
        dtype = floatx() if dtype.kind == "f" else dtype
    return wrap(xp.arange(*bounds, dtype=xp.dtype(dtype)))


def eye(N, M=None, k=0, dtype=None):
    """An `N` x `M` matrix with ones on its `k`-th diagonal (`N`, `M`, `k`: integers)."""
    return wrap(xp.eye(_integer(N, "N"), None if M is None else _integer(M, "M"),
                       _integer(k, "k"), dtype=_float(dtype)))


def _integer(value, name):
    """`value` as a Python int: an integer, or an integer 0-d tensor or array (not a float,
    as Keras refuses too)."""
    array = xp.asarray(getattr(value, "data", value))
    if array.ndim != 0 or array.dtype.kind not in "iu":
        raise TypeError(f"eye: `{name}` must be an integer; received {value!r}.")
    return int(array)


def identity(n, dtype=None):
    """The `n` x `n` identity matrix."""
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    """An `N` x `M` matrix with ones on and below its `k`-th diagonal."""
    return wrap(xp.tri(int(N), None if M is None else int(M), int(k), dtype=_float(dtype)))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """`num` evenly spaced values from `start` to `stop` (included unless `endpoint=False`),
    computed in float64 and then cast; with `retstep`, also the spacing."""
    values, spacing = xp.linspace(xp.asarray(start), xp.asarray(stop), int(num),
                                  endpoint=endpoint, retstep=True, axis=axis)
    result = wrap(values.astype(_float(dtype)))
    return (result, spacing) if retstep else result


COPY = Primitive("copy", lambda x: x.copy(), lambda g, inputs, output, needs: (g,))


def copy(x):
    """A new tensor with the values of `x` (gradients pass through)."""
    x = operand(x)
    return COPY(x if isinstance(x, Tensor) else wrap(xp.asarray(x)))


def ndim(x):
    """The number of dimensions of `x`."""
    return len(xp.shape(getattr(x, "data", x)))


def size(x):
    """The number of entries of `x`."""
    return int(xp.prod(xp.shape(getattr(x, "data", x)), dtype=int))


def dtype(x):
    """The dtype name of `x` ("float32", "int64", ...)."""
    return standardize_dtype(xp.asarray(getattr(x, "data", x)).dtype)


def is_tensor(x):
    """Whether `x` is a numnet `Tensor` (a `Variable` is one too)."""
    return isinstance(x, Tensor)


__all__ = ["arange", "copy", "dtype", "empty", "eye", "full", "full_like", "identity",
           "is_tensor", "linspace", "ndim", "ones", "size", "tri", "zeros"]


# ------------------------------------------------------------------ windows
def _window(name, make):
    def window(x):
        length = int(xp.asarray(getattr(x, "data", x)))
        return wrap(xp.asarray(make(length), dtype=floatx()))
    window.__name__ = window.__qualname__ = name
    return window


bartlett = _window("bartlett", xp.bartlett)
blackman = _window("blackman", xp.blackman)
hamming = _window("hamming", xp.hamming)
hanning = _window("hanning", xp.hanning)
bartlett.__doc__ = "The triangular (Bartlett) window of `x` points, in `floatx()`."
blackman.__doc__ = "The Blackman window of `x` points, in `floatx()`."
hamming.__doc__ = "The Hamming window of `x` points (symmetric), in `floatx()`."
hanning.__doc__ = "The Hann window of `x` points (symmetric), in `floatx()`."


def kaiser(x, beta):
    """The Kaiser window of `x` points with shape parameter `beta`, in `floatx()`."""
    return _window("kaiser", lambda length: xp.kaiser(length, float(beta)))(x)
