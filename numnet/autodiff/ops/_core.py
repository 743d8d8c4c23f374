"""What every op needs: turning inputs into tensors, recording, and `unbroadcast`."""

import numpy as np

from numnet.autodiff.tape import _ACTIVE_TAPES, record
from numnet.autodiff.tensor import Tensor
from numnet.backend import floatx, xp


def convert_to_tensor(x, dtype=None):
    """Returns `x` as a `Tensor` (float64 input becomes `floatx()` unless `dtype` says otherwise)."""
    if isinstance(x, Tensor):
        if dtype is not None and x.dtype != np.dtype(dtype).name:
            return Tensor(x.data.astype(dtype))
        return x
    return Tensor(x, dtype=dtype)


def operand(x):
    """Splits an op input into (tensor, raw value used in the arithmetic).

    Python scalars stay Python scalars in the arithmetic so that NumPy treats
    them as weakly typed (`float32 * 2.0` stays float32).
    """
    if isinstance(x, Tensor):
        return x, x.data
    if isinstance(x, (int, float, bool)):
        return Tensor(xp.asarray(x)), x
    value = xp.asarray(x)
    if value.dtype == np.float64:
        value = value.astype(floatx())
    return Tensor(value), value


def operands(a, b):
    """Like `operand` for both inputs of a binary op.

    A float array constant takes the dtype of the tensor it meets, so a
    float64 NumPy array does not silently promote a float32 computation (nor
    get rounded in a float64 one).
    """
    a_is, b_is = isinstance(a, Tensor), isinstance(b, Tensor)
    if a_is and not b_is and isinstance(b, xp.ndarray) and b.dtype.kind == "f" \
            and a.data.dtype.kind == "f":
        return (a, a.data), (Tensor(b.astype(a.data.dtype, copy=False)), b.astype(a.data.dtype, copy=False))
    if b_is and not a_is and isinstance(a, xp.ndarray) and a.dtype.kind == "f" \
            and b.data.dtype.kind == "f":
        a = a.astype(b.data.dtype, copy=False)
        return (Tensor(a), a), (b, b.data)
    return operand(a), operand(b)


def recording():
    """True when an op should build its backward closure."""
    return bool(_ACTIVE_TAPES)


def unbroadcast(grad, shape):
    """Sums `grad` over the axes that broadcasting added or stretched, back to `shape`."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


__all__ = ["Tensor", "convert_to_tensor", "operand", "operands", "record", "recording", "unbroadcast", "xp"]
