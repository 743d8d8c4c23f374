"""numnet's differentiable ops (the `numnet.ops` namespace, like `keras.ops`).

Each op computes its forward value with the array module and, when a tape is
recording, attaches its backward rule right beside it.
"""

from numnet.autodiff.ops._core import broadcast_to, cast, convert_to_tensor, sum_to, unbroadcast
from numnet.autodiff.ops.arithmetic import add, divide, matmul, multiply, negative, power, subtract
from numnet.autodiff.ops.math import (
    abs, clip, cos, equal, exp, greater, greater_equal, less, less_equal, log, log1p,
    logical_and, logical_not, logical_or, maximum, minimum, not_equal, sign, sin, sqrt, square,
    stop_gradient, where,
)
from numnet.autodiff.ops.nn import (
    activation, affine,
    binary_crossentropy, categorical_crossentropy, celu, dense, dropout_mask, elu, exponential,
    gelu, glu, hard_shrink, hard_sigmoid, hard_silu, hard_swish, hard_tanh, heaviside,
    leaky_relu, linear, log_sigmoid, log_softmax, logsumexp, mish, relu, relu6, selu, sigmoid,
    sign_step, silu, soft_shrink, softmax, softplus, softsign, sparse_categorical_crossentropy,
    sparse_plus, sparse_sigmoid, sparsemax, squareplus, swish, tanh, tanh_shrink, threshold,
    mean_squared_error, weighted_sum,
)
from numnet.autodiff.ops.normalization import (
    batch_normalization, layer_normalization, moments, normalize, rsqrt, std, var,
)
from numnet.autodiff.ops.reductions import all, any, argmax, argmin, max, mean, min, sum
from numnet.autodiff.ops.state import (
    accumulate_mean, assign, assign_add, assign_sub, random_normal, random_uniform,
)
from numnet.autodiff.ops.shape import (
    concatenate, expand_dims, getitem, reshape, squeeze, stack, swapaxes, take, tile, transpose,
)

dot = matmul
true_divide = divide
pow = power
absolute = abs
amax = max
amin = min


def convert_to_numpy(x):
    """Returns the value of a tensor (or array-like) as a NumPy array."""
    from numnet.backend import xp
    return xp.asarray(getattr(x, "data", x))


def shape(x):
    """The static shape of `x` as a tuple."""
    from numnet.backend import xp
    return tuple(x.shape) if hasattr(x, "shape") else xp.shape(x)


def ones_like(x, dtype=None):
    from numnet.backend import xp
    return convert_to_tensor(xp.ones_like(convert_to_numpy(x), dtype=dtype))


def zeros_like(x, dtype=None):
    from numnet.backend import xp
    return convert_to_tensor(xp.zeros_like(convert_to_numpy(x), dtype=dtype))


def one_hot(x, num_classes, dtype=None):
    """One-hot encodes integer labels along a new last axis."""
    from numnet.backend import xp
    from numnet.backend import floatx
    labels = convert_to_numpy(x).astype(xp.intp)
    return convert_to_tensor(xp.eye(num_classes, dtype=dtype or floatx())[labels])
