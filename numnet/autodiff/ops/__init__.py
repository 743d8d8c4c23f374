"""numnet's differentiable ops (the `numnet.ops` namespace, like `keras.ops`).

Each op computes its forward value with the array module and, when a tape is
recording, attaches its backward rule right beside it.
"""

from numnet.autodiff.ops.core import broadcast_to, cast, convert_to_tensor, sum_to, unbroadcast
from numnet.autodiff.ops.arithmetic import add, divide, matmul, multiply, negative, power, subtract
from numnet.autodiff.ops.math import (
    abs, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, cbrt, ceil, clip, cos, cosh,
    divide_no_nan, equal, erf, erfinv, exp, exp2, expm1, fabs, floor, floor_divide, greater, i0,
    greater_equal, hypot, isfinite, isinf, isnan, less, less_equal, log, log1p, log2, log10,
    logaddexp, logical_and, logical_not, logical_or, logical_xor, maximum, minimum, mod,
    nan_to_num, nextafter, not_equal, reciprocal, round, sign, signbit, sin, sinh, sqrt,
    square,
    stop_gradient, tan, trunc, where,
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
from numnet.autodiff.ops.reductions import (
    all, amax, amin, any, argmax, argmin, count_nonzero, cumprod, cumsum, max, mean, min, prod,
    sum,
)
from numnet.autodiff.ops.state import (
    accumulate_mean, assign, assign_add, assign_sub, random_normal, random_uniform,
)
from numnet.autodiff.ops.shape import (
    concatenate, diagonal, expand_dims, flip, getitem, hstack, moveaxis, pad, ravel, repeat,
    reshape, roll, split, squeeze, stack, swapaxes, take, take_along_axis, tile, transpose, tril,
    triu, unstack, vstack,
)
from numnet.autodiff.ops.creation import (
    arange, bartlett, blackman, copy, dtype, empty, eye, full, full_like, hamming, hanning,
    identity, is_tensor, kaiser, linspace, ndim, ones, size, tri, zeros,
)
from numnet.autodiff.ops.linalg import dot, einsum, inner, norm, outer, tensordot, trace, vdot
from numnet.autodiff.ops.matrices import (
    cholesky, cholesky_inverse, det, eigh, inv, logdet, lstsq, lu_factor, matrix_rank, pinv, qr,
    slogdet, solve, solve_triangular, svd,
)
from numnet.autodiff.ops.integers import (
    bitwise_and, bitwise_invert, bitwise_left_shift, bitwise_not, bitwise_or,
    bitwise_right_shift, bitwise_xor, gcd, lcm, left_shift, right_shift,
)
from numnet.autodiff.ops.scatter import scatter, scatter_update
from numnet.autodiff.ops.numpy_functions import (
    cdist, corrcoef, correlate, cross, histogram, nonzero, unique, unravel_index,
)
from numnet.autodiff.ops.nn_functions import (
    depth_to_space, dot_product_attention, extract_sequences, psnr, space_to_depth,
)
from numnet.autodiff.ops.custom_gradient import custom_gradient
from numnet.autodiff.ops.jvp import jvp
from numnet.autodiff.ops.layout import rearrange, view
from numnet.autodiff.ops.fft import fft, fft2, ifft2, irfft, istft, rfft, stft
from numnet.autodiff.ops.ctc import ctc_decode, ctc_loss
from numnet.autodiff.ops.image import (
    affine_transform, crop_images, extract_patches, extract_patches_3d, gaussian_blur,
    hsv_to_rgb, map_coordinates, pad_images, perspective_transform, resize, rgb_to_grayscale,
    rgb_to_hsv, scale_and_translate, sobel_edges, ssim,
)
from numnet.autodiff.ops.convolution import (
    adaptive_average_pool, adaptive_max_pool, average_pool, conv, conv_transpose,
    depthwise_conv, fold, max_pool, separable_conv, unfold,
)
from numnet.autodiff.ops.sorting import argpartition, argsort, sort, top_k
from numnet.autodiff.ops.composite import (
    bincount, digitize, searchsorted, segment_max, segment_min, segment_prod, segment_sum,
    slice_update,
    angle, append, array_split, conj, conjugate, dsplit, dstack, erfc, fliplr, flipud, fmod, hsplit,
    imag, isin, isneginf, isposinf, isreal, ldexp, logaddexp2, nanstd, nanvar, real, vsplit,
    allclose, array, average, deg2rad, diag, diagflat, diff, empty_like, fmax, fmin, geomspace,
    in_top_k, isclose, kron, logspace, median, meshgrid, multi_hot, nanargmax, nanargmin,
    nancumprod, nancumsum, nanmax, nanmean, nanmedian, nanmin, nanpercentile, nanprod,
    nanquantile, nansum, percentile, ptp, quantile, rad2deg, rms_normalization, rot90,
    saturate_cast, select, sinc, slice, trapezoid, vander,
)
from numnet.autodiff.ops.control_flow import (
    associative_scan, cond, fori_loop, map, scan, switch, vectorize, vectorized_map,
    while_loop,
)

true_divide = divide
pow = power
get_item = getitem
absolute = abs


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


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """One-hot encodes integer labels along a new axis (the last by default); a label
    outside [0, num_classes) encodes as zeros, as in Keras. Not differentiable."""
    from numnet.autodiff.ops.core import Tensor, wrap
    from numnet.autodiff.ops.lookup import ONE_HOT
    from numnet.backend import floatx, xp
    if sparse:
        raise ValueError("one_hot: numnet has no sparse tensors; use sparse=False.")
    labels = x if isinstance(x, Tensor) else wrap(xp.asarray(x))
    return ONE_HOT(labels, num_classes=int(num_classes), axis=axis,
                   dtype=xp.dtype(dtype or floatx()))
