"""Neural-network ops: activations, the fused dense op, the losses, dropout.

The formulas live in the kernel table (`numnet.kernels`); this module makes
them primitives. Each activation is a primitive whose backward is a second
primitive, `NAME_grad`, reading the input and/or the output as the kernel
says. `dense` is `activation(x @ kernel + bias)` in one primitive, with its
three gradients as three named primitives the compiled step can fuse.
Cross-entropies read the logits a softmax or sigmoid output kept (as Keras'
TensorFlow backend does) and differentiate them in closed form. `logsumexp`
(a reduction safe for rows of -inf, as Circle loss needs) is here too.
"""

import math as _math
from functools import partial

from numnet.autodiff.ops.arithmetic import add, matmul
from numnet.autodiff.ops.core import (
    Primitive, Tensor, broadcast_to, cast, float_tensor, no_gradient, operand, shape_of, sum_to,
    wrap, xp,
)
from numnet.autodiff.ops import math as _math_ops
from numnet.autodiff.ops.reductions import sum as _sum
from numnet.autodiff.ops.shape import getitem
from numnet.backend import (
    blas, bound_ufunc, copies_left, enclosing_rows, global_generator, uniform_at_least,
    uniform_at_least_kernel,
)
from numnet.autodiff.parameters import kernel_block, stacked_block
from numnet.autodiff.tensor import keep_logits, kept_logits
from numnet.kernels import ACTIVATIONS, LOSSES
from numnet.kernels import losses as LOSSES_MODULE
from numnet.kernels.activations import relu_operands


def _second_order(g, inputs, output, needs, **attrs):
    raise NotImplementedError(
        "Second derivatives through this backward rule are not supported by numnet.")


# ------------------------------------------------------------ activations
def _activation_primitives(kernel):
    """The forward primitive of an activation kernel and its `_grad` primitive."""
    reads = kernel.reads

    def split(xy):
        x = xy[0] if "x" in reads else None
        y = xy[-1] if "y" in reads else None
        return x, y

    def grad_compute(g, *xy, **params):
        x, y = split(xy)
        return kernel.backward(g, x, y, **params)

    def grad_into(out, g, *xy, **params):
        x, y = split(xy)
        return kernel.backward(g, x, y, out=out, **params)

    def grad_vjp(gg, inputs, output, needs, **params):
        """The backward `g -> J^T g` is linear in `g`: its gradient there is `J gg`, the
        backward itself where the Jacobian is symmetric (elementwise ones, softmax,
        sparsemax). Through what it reads (`x` or `y`) it is `gg * g * f''` (`_curvature`)."""
        along_g = _transposed_backward(kernel.name, grad, gg, inputs, params) \
            if needs[0] else None
        if not any(needs[1:]):
            return (along_g,) + (None,) * (len(inputs) - 1)
        g, read = inputs[0], inputs[1:]
        x = read[0] if "x" in reads else None
        y = read[-1] if "y" in reads else None
        through_x, through_y = _curvature(kernel.name, gg, g, x, y, params)
        return (along_g,) + tuple(part for part, letter in
                                  ((through_x, "x"), (through_y, "y")) if letter in reads)

    grad = Primitive(kernel.name + "_grad", grad_compute, grad_vjp, into=grad_into)

    def vjp(g, inputs, output, needs, **params):
        if not reads:
            return (g,)
        args = [g] + ([inputs[0]] if "x" in reads else []) + ([output] if "y" in reads else [])
        return (grad(*args, **params),)

    forward = Primitive(kernel.name, lambda x, **params: kernel.forward(x, **params), vjp,
                        into=lambda out, x, **params: kernel.forward(x, out=out, **params))
    return forward, grad


ACTIVATION_PRIMITIVES = {name: _activation_primitives(kernel)
                         for name, kernel in ACTIVATIONS.items() if kernel.reads}


def _typed(value, like):
    """`value` as a 0-d array of `like`'s dtype: a bound ufunc call skips converting a Python
    number at every replay (the result is the same)."""
    return xp.asarray(value, dtype=like.dtype)


_FLOAT_MASK_LIMIT = 3200  # `_relu_grad_bind`'s two routes measured to cost the same at 32 x 101


def _relu_grad_bind(out, g, y):
    """`g * (y > 0)` as two bound calls. Where `y` is columns of a wider buffer (a Dense
    input's `[x, 1]`, a joined buffer), the mask is taken over the whole buffer, one
    contiguous pass, and its columns of `y` used: the same mask, at about half the cost of
    a pass over the strided rows of `y`.

    Where `g` and `out` are the same columns of buffers as wide
    (`engine.rewrite.widen_relu_gradients`), the product runs over the whole rows too. Up
    to `_FLOAT_MASK_LIMIT` entries the mask is then floats, `sign(y)` (1 where `y > 0`,
    0 where `y == 0`, as `y = relu(x) >= 0`; a NaN in `y` gives NaN where the eager mask
    gives 0): a product of floats and booleans costs more to set up than that pass.
    """
    whole, columns = enclosing_rows(y)
    (whole_g, columns_g), (whole_out, columns_out) = enclosing_rows(g), enclosing_rows(out)
    if whole.shape == whole_g.shape == whole_out.shape and columns == columns_g == columns_out:
        g, out, columns = whole_g, whole_out, slice(None)
        if whole.size < _FLOAT_MASK_LIMIT:
            mask = xp.empty(whole.shape, dtype=y.dtype)
            return [partial(xp.sign, whole, out=mask), partial(xp.multiply, g, mask, out=out)]
    mask = xp.empty(whole.shape, dtype=bool)
    return [partial(xp.greater, whole, _typed(0, y), out=mask),
            partial(xp.multiply, g, mask[:, columns], out=out)]


ACTIVATION_PRIMITIVES["relu"][1].bind = _relu_grad_bind


# ------------------------------------------------------ second derivatives
# Each activation's backward `g * D` (D = f' as the kernel computes it, from x or from y)
# differentiated with respect to what it reads: `gg * g * dD/dx` or `dD/dy`, in numnet's
# ops (so third derivatives follow where those ops have them). Piecewise-linear ones have
# D constant almost everywhere: no second derivative.
_PIECEWISE_LINEAR = {"relu", "relu6", "leaky_relu", "relu_with_options", "hard_tanh",
                     "hard_sigmoid", "hard_shrink", "soft_shrink", "threshold",
                     "sparse_sigmoid"}


def _sigmoid_of(x):
    return ACTIVATION_PRIMITIVES["sigmoid"][0](x)


def _silu_curvature(x):
    s = _sigmoid_of(x)
    return s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s))


def _gelu_curvature(x, approximate):
    if not approximate:  # D = Phi(x) + x phi(x): D' = phi(x) (2 - x**2)
        density = _math_ops.exp(x * x * -0.5) * (1.0 / _math.sqrt(2.0 * _math.pi))
        return density * (2.0 - x * x)
    # D = (1 + t) / 2 + x (1 - t**2) u' / 2 for t = tanh(u), u = c (x + a x**3)
    c, a = _math.sqrt(2.0 / _math.pi), 0.044715
    t = ACTIVATION_PRIMITIVES["tanh"][0](c * (x + a * x * x * x))
    slope, bend = c * (1.0 + 3.0 * a * x * x), 6.0 * a * c * x
    flat = 1.0 - t * t
    return flat * slope + 0.5 * x * (flat * bend - 2.0 * t * flat * slope * slope)


def _mish_curvature(x):
    # D = t + x (1 - t**2) s for t = tanh(softplus(x)), s = sigmoid(x)
    t = ACTIVATION_PRIMITIVES["tanh"][0](ACTIVATION_PRIMITIVES["softplus"][0](x))
    s = _sigmoid_of(x)
    return (1.0 - t * t) * s * (2.0 + x * (1.0 - s - 2.0 * t * s))


_CURVATURE = {  # name -> (the input D reads, dD/d(that input) as a function of x, y, params)
    "gelu": ("x", lambda x, y, p: _gelu_curvature(x, p.get("approximate", False))),
    "mish": ("x", lambda x, y, p: _mish_curvature(x)),
    "sigmoid": ("y", lambda x, y, p: 1.0 - 2.0 * y),
    "tanh": ("y", lambda x, y, p: -2.0 * y),
    "exponential": ("y", lambda x, y, p: 1.0),
    "softplus": ("x", lambda x, y, p: (lambda s: s * (1.0 - s))(_sigmoid_of(x))),
    "log_sigmoid": ("x", lambda x, y, p: -_sigmoid_of(x) * _sigmoid_of(-x)),
    "softsign": ("x", lambda x, y, p: -2.0 * _math_ops.sign(x) / (1.0 + _math_ops.abs(x)) ** 3),
    "silu": ("x", lambda x, y, p: _silu_curvature(x)),
    "tanh_shrink": ("x", lambda x, y, p: (lambda t: 2.0 * t * (1.0 - t * t))(
        ACTIVATION_PRIMITIVES["tanh"][0](x))),
    "sparse_plus": ("x", lambda x, y, p: _math_ops.where(_math_ops.abs(x) < 1.0, 0.5, 0.0)),
    "celu": ("x", lambda x, y, p: _math_ops.where(
        x < 0.0, _math_ops.exp(_math_ops.minimum(x, 0.0) / p.get("alpha", 1.0))
        / p.get("alpha", 1.0), 0.0)),
    "hard_silu": ("x", lambda x, y, p: _math_ops.where(_math_ops.abs(x) < 3.0, 1.0 / 3.0, 0.0)),
    "squareplus": ("x", lambda x, y, p: 0.5 * p.get("b", 4) / (x * x + p.get("b", 4)) ** 1.5),
    # D = where(x > 0, 1, y + alpha) (elu), where(x >= 0, scale, y + scale * alpha) (selu)
    "elu": ("y", lambda x, y, p: _math_ops.where(x > 0.0, 0.0, 1.0)),
    "selu": ("y", lambda x, y, p: _math_ops.where(x >= 0.0, 0.0, 1.0)),
}


def _transposed_backward(name, grad, gg, inputs, params):
    """`J gg` for the backward `g -> J^T g` of activation `name` (inputs: `g`, then what
    it reads)."""
    if name == "log_softmax":  # J = I - 1 softmax^T: J gg = gg - sum(softmax * gg)
        y = inputs[-1]
        return gg - _sum(_math_ops.exp(y) * gg, axis=params.get("axis", -1), keepdims=True)
    if name == "glu":
        raise NotImplementedError("Second derivatives through glu are not supported by "
                                  "numnet; gradients are.")
    return grad(gg, *inputs[1:], **params)


def _curvature(name, gg, g, x, y, params):
    """The gradients of an activation's backward `g * D` through x and through y (None
    where D does not depend on it), for the upstream `gg`."""
    if name in _PIECEWISE_LINEAR:
        return None, None
    if name in ("softmax", "log_softmax"):  # D acts along `axis`: y's gradient in full
        axis = params.get("axis", -1)
        if name == "softmax":  # backward y * (g - sum(g * y))
            total = _sum(g * y, axis=axis, keepdims=True)
            return None, gg * (g - total) - g * _sum(gg * y, axis=axis, keepdims=True)
        return None, -gg * _math_ops.exp(y) * _sum(g, axis=axis, keepdims=True)
    if name not in _CURVATURE:
        raise NotImplementedError(
            f"Second derivatives through {name} (its f'') are not supported by numnet; "
            f"gradients and jvp are.")
    letter, derivative = _CURVATURE[name]
    part = gg * g * derivative(x, y, params)
    return (part, None) if letter == "x" else (None, part)


def softmax_scratch(shape, dtype, axis=-1):
    """The two buffers a replayed softmax along `axis` keeps its row maxima and sums in."""
    reduced = list(shape)
    reduced[axis] = 1
    return xp.empty(reduced, dtype=dtype), xp.empty(reduced, dtype=dtype)


def _softmax_bind(out, x, axis=-1, scratch=None):
    scratch = softmax_scratch(x.shape, out.dtype, axis) if scratch is None else scratch
    return partial(ACTIVATIONS["softmax"].forward, x, out, axis, scratch)


ACTIVATION_PRIMITIVES["softmax"][0].bind = _softmax_bind


def _tanh_grad_bind(out, g, y):
    # g * (1 - y * y), the kernel's order
    scratch = xp.empty(y.shape, dtype=y.dtype)
    return [partial(xp.multiply, y, y, out=scratch),
            partial(xp.subtract, _typed(1, y), scratch, out=scratch),
            partial(xp.multiply, g, scratch, out=out)]


def _sigmoid_grad_bind(out, g, y):
    # (g * y) * (1 - y), the kernel's order
    scratch = xp.empty(y.shape, dtype=y.dtype)
    return [partial(xp.multiply, g, y, out=out), partial(xp.subtract, _typed(1, y), y, out=scratch),
            partial(xp.multiply, out, scratch, out=out)]


ACTIVATION_PRIMITIVES["tanh"][1].bind = _tanh_grad_bind
ACTIVATION_PRIMITIVES["sigmoid"][1].bind = _sigmoid_grad_bind


def _relu_bind(out, x):
    """relu as bound `maximum` calls against shared zeros (`kernels.activations.relu_operands`)."""
    operands = relu_operands(x, out)
    if operands is None:
        return partial(xp.maximum, x, _typed(0, x), out=out)
    return [partial(xp.maximum, x_part, zeros, out=out_part)
            for x_part, zeros, out_part in operands]


ACTIVATION_PRIMITIVES["relu"][0].bind = _relu_bind
# Activations that are one ufunc call: bound directly (no Python frame per replay).
for _name, _ufunc, _extra in (("tanh", xp.tanh, ()), ("exponential", xp.exp, ())):
    ACTIVATION_PRIMITIVES[_name][0].bind = (
        lambda out, x, _u=_ufunc, _e=_extra: partial(_u, x, *[_typed(e, x) for e in _e],
                                                     out=out))


def activation(name, x, **params):
    """Applies the activation kernel `name` of the kernel table as a primitive."""
    return ACTIVATION_PRIMITIVES[name][0](operand(x), **params)


def sigmoid(x):
    """1 / (1 + exp(-x)); keeps its logits so cross-entropy can use them."""
    x = operand(x)
    return keep_logits(activation("sigmoid", x), x)


def tanh(x):
    """Hyperbolic tangent (of integers as `floatx()`, as in Keras)."""
    return activation("tanh", float_tensor(x))


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0), with Keras' optional leak, cap and threshold (only `x > threshold` passes)."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return activation("relu", x)
    return activation("relu_with_options", x, negative_slope=negative_slope,
                      max_value=max_value, threshold=threshold)


def relu6(x):
    """min(max(x, 0), 6); the gradient passes on the open interval (0, 6), as in Keras."""
    return activation("relu6", x)


def leaky_relu(x, negative_slope=0.2):
    """x for x >= 0, negative_slope * x otherwise."""
    return activation("leaky_relu", x, negative_slope=negative_slope)


def elu(x, alpha=1.0):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return activation("elu", x, alpha=alpha)


def selu(x):
    """Scaled ELU with the self-normalizing constants."""
    return activation("selu", x)


def softplus(x):
    """log(1 + exp(x)), computed without overflow."""
    return activation("softplus", x)


def softsign(x):
    """x / (1 + |x|)."""
    return activation("softsign", x)


def silu(x):
    """x * sigmoid(x), also called swish."""
    return activation("silu", x)


swish = silu


def gelu(x, approximate=True):
    """Gaussian error linear unit: x * Phi(x), or its tanh approximation.

    `approximate=True` is `keras.ops.gelu`'s default; `numnet.activations.gelu`
    (like `keras.activations.gelu`) defaults to the exact form.
    """
    return activation("gelu", x, approximate=bool(approximate))


def mish(x):
    """x * tanh(softplus(x))."""
    return activation("mish", x)


def hard_sigmoid(x):
    """relu6(x + 3) / 6, Keras 3's piecewise-linear sigmoid."""
    return activation("hard_sigmoid", x)


def exponential(x):
    """e ** x."""
    return activation("exponential", x)


def linear(x):
    """The identity."""
    return operand(x)


def _along_axes(name, x, axis):
    """Applies the kernel `name` (softmax or log-softmax) over several axes (None: all).

    The kept axes move to the front and the reduced ones are flattened into one
    last axis, as `keras.ops.softmax` does for a tuple `axis`; the kernel itself
    always works along a single axis.
    """
    from numnet.autodiff.ops.shape import reshape, transpose
    ndim = x.ndim
    axes = tuple(range(ndim)) if axis is None else tuple(sorted(a % ndim for a in axis))
    kept = [a for a in range(ndim) if a not in axes]
    moved = transpose(x, tuple(kept + list(axes)))
    flat = reshape(moved, tuple(x.shape[a] for a in kept) + (-1,))
    result = reshape(activation(name, flat, axis=-1), moved.shape)
    order = kept + list(axes)
    return transpose(result, tuple(sorted(range(ndim), key=order.__getitem__)))


def _single_axis(axis, ndim):
    """`axis` as one int when it names one axis, else None (several axes, or all)."""
    if isinstance(axis, (tuple, list)):
        axis = tuple(axis)
        return axis[0] if len(axis) == 1 else None
    if axis is None:
        return 0 if ndim == 1 else None
    return axis


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along `axis` (an int, a tuple of axes, or None for all).

    Keeps its logits for cross-entropy (as Keras' TensorFlow backend does).
    """
    x = operand(x)
    single = _single_axis(axis, x.ndim)
    if single is None:
        return _along_axes("softmax", x, axis)
    if -x.ndim <= single < x.ndim and x.shape[single] == 1:
        import warnings
        warnings.warn(
            f"You are using a softmax over axis {single} of a tensor of shape {x.shape}. "
            "This axis has size 1. The softmax operation will always return the value 1, "
            "which is likely not what you intended. Did you mean to use a sigmoid instead?",
            stacklevel=2)
    return keep_logits(activation("softmax", x, axis=single), x)


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along `axis` (an int, a tuple of axes, or None for all)."""
    x = operand(x)
    single = _single_axis(axis, x.ndim)
    if single is None:
        return _along_axes("log_softmax", x, axis)
    return activation("log_softmax", x, axis=single)


def celu(x, alpha=1.0):
    """Continuously differentiable ELU: max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1)."""
    return activation("celu", x, alpha=float(alpha))


def glu(x, axis=-1):
    """Gated linear unit: a * sigmoid(b), where a and b are the halves of x along `axis`."""
    return activation("glu", x, axis=axis)


def hard_tanh(x):
    """clip(x, -1, 1)."""
    return activation("hard_tanh", x)


def hard_silu(x):
    """x * hard_sigmoid(x), also called hard swish."""
    return activation("hard_silu", x)


hard_swish = hard_silu


def hard_shrink(x, threshold=0.5):
    """x where |x| > threshold, else 0."""
    return activation("hard_shrink", x, threshold=threshold)


def soft_shrink(x, threshold=0.5):
    """x - threshold above threshold, x + threshold below -threshold, else 0."""
    return activation("soft_shrink", x, threshold=threshold)


def threshold(x, threshold, default_value):
    """x where x > threshold, else `default_value`."""
    return activation("threshold", x, threshold=threshold, default_value=default_value)


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x), computed without overflow."""
    return activation("log_sigmoid", x)


def tanh_shrink(x):
    """x - tanh(x)."""
    return activation("tanh_shrink", x)


def sparse_plus(x):
    """0 for x <= -1, (x + 1)^2 / 4 for -1 < x < 1, x for x >= 1: a piecewise softplus."""
    return activation("sparse_plus", x)


def sparse_sigmoid(x):
    """0 for x <= -1, (x + 1) / 2 for -1 < x < 1, 1 for x >= 1: a piecewise sigmoid."""
    return activation("sparse_sigmoid", x)


def squareplus(x, b=4):
    """(x + sqrt(x^2 + b)) / 2: a smooth ReLU made of algebraic operations only."""
    return activation("squareplus", x, b=b)


def sparsemax(x, axis=-1):
    """The Euclidean projection of x onto the probability simplex along `axis`.

    Like softmax its outputs along `axis` sum to 1, but many are exactly 0
    (Martins & Astudillo, 2016).
    """
    return activation("sparsemax", x, axis=axis)


def _logsumexp(x, axis=None, keepdims=False):
    largest = xp.max(x, axis=axis, keepdims=True)
    shift = xp.where(xp.isfinite(largest), largest, 0)  # rows of -inf stay -inf, not NaN
    with xp.errstate(divide="ignore"):
        total = xp.log(xp.sum(xp.exp(x - shift), axis=axis, keepdims=True)) + shift
    if not keepdims:
        total = total.reshape(xp.sum(x, axis=axis).shape)
    return total.astype(x.dtype, copy=False)


def _kept_shape(shape, axis):
    """`shape` with the reduced axes kept as 1s (`keepdims=True`)."""
    if axis is None:
        return (1,) * len(shape)
    axes = {a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,))}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _logsumexp_grad(g, x, total, axis=None):
    """`g * exp(x - logsumexp(x))` (softmax weights); 0 along a reduction of -inf only."""
    kept = _kept_shape(x.shape, axis)
    total = total.reshape(kept)
    shift = xp.where(xp.isfinite(total), total, 0)
    return (xp.exp(x - shift) * g.reshape(kept)).astype(x.dtype, copy=False)


LOGSUMEXP_GRAD = Primitive("logsumexp_grad", _logsumexp_grad, _second_order)


def _logsumexp_vjp(g, inputs, output, needs, axis=None, keepdims=False):
    return (LOGSUMEXP_GRAD(g, inputs[0], output, axis=axis),)


LOGSUMEXP = Primitive("logsumexp", _logsumexp, _logsumexp_vjp)


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) along `axis`, computed without overflow (-inf where all are -inf)."""
    if isinstance(axis, list):
        axis = tuple(axis)
    return LOGSUMEXP(operand(x), axis=axis, keepdims=bool(keepdims))


_STEPS = {name: Primitive(name, ACTIVATIONS[name].forward, no_gradient,
                          into=lambda out, x, _f=ACTIVATIONS[name].forward: _f(x, out=out))
          for name in ("heaviside", "sign")}


def heaviside(x1, x2=1.0):
    """Step: 1 for x1 > 0, 0 for x1 < 0, and `x2` where x1 is 0 (1 by default: the TLU's
    step; Keras' `heaviside` takes `x2` as its second argument). No gradient."""
    step = _STEPS["heaviside"](operand(x1))
    if isinstance(x2, (int, float)) and x2 == 1.0:
        return step
    from numnet.autodiff.ops.math import equal, where
    return where(equal(x1, 0), x2, step)


def sign_step(x):
    """Step: -1, 0 or 1 by the sign of x. No gradient, like `heaviside`."""
    return _STEPS["sign"](operand(x))


# ------------------------------------------------------------- dense
# Activations the dense primitive applies itself, in place on x @ kernel + bias.
# (Sigmoid and softmax stay separate ops so that cross-entropy can use their logits.)
FUSABLE = ("linear", "relu", "tanh", "sigmoid")


def _dense_compute(x, kernel, bias=None, activation="linear"):
    z = x @ kernel
    if bias is not None:
        z += bias
    if activation != "linear":
        ACTIVATIONS[activation].forward(z, out=z)
    return z


def _dense_into(out, x, kernel, bias=None, activation="linear"):
    xp.matmul(x, kernel, out=out)
    if bias is not None:
        out += bias
    if activation != "linear":
        ACTIVATIONS[activation].forward(out, out=out)
    return out


def _rows(a):
    return a if a.ndim == 2 else a.reshape(-1, a.shape[-1])


def _input_grad_product(kernel):
    """`dz @ kernel.T`'s function: with one unit (a contraction of length 1) the product
    is an outer product, the same numbers from a broadcast multiply at less cost."""
    return xp.multiply if kernel.shape[-1] == 1 else xp.matmul


# The three gradient products are bilinear in their inputs: their own gradients are
# products again (second derivatives through Dense layers, and `jvp`).
def _input_grad_vjp(gg, inputs, output, needs):
    dz, kernel = inputs  # dz @ kernel.T
    return (matmul(gg, kernel) if needs[0] else None,
            DENSE_KERNEL_GRAD(gg, dz) if needs[1] else None)


def _kernel_grad_vjp(gg, inputs, output, needs):
    x, dz = inputs  # rows(x).T @ rows(dz)
    return (DENSE_INPUT_GRAD(dz, gg) if needs[0] else None,
            matmul(x, gg) if needs[1] else None)


def _input_grad_compute(dz, kernel, out=None):
    """`dz @ kernel.T` (through a column-ordered copy of `dz` where `copies_left`, as a
    replay's bound product does)."""
    product = _input_grad_product(kernel)
    left = xp.asfortranarray(dz) if product is xp.matmul and copies_left(dz, kernel.T) \
        else dz
    return product(left, kernel.T, out=out)


def _input_grad_bind(out, dz, kernel):
    """`dz @ kernel.T` into `out`; where `out` is the left part of an `(m, k + 1)` buffer
    (`engine.rewrite.widen_relu_gradients`) and `kernel` the top of a `[kernel; bias]`
    block, `dz @ block.T` into the whole rows: the same columns, and a last one unused."""
    rows, columns = enclosing_rows(out)
    block = kernel_block(kernel)
    if block is not None and rows.shape[1] == out.shape[1] + 1 and columns.start == 0:
        kernel, out = block, rows
    return bound_ufunc(_input_grad_product(kernel), [dz, kernel.T], out)


DENSE_INPUT_GRAD = Primitive(
    "dense_input_grad", _input_grad_compute, _input_grad_vjp,
    into=lambda out, dz, kernel: _input_grad_compute(dz, kernel, out=out),
    bind=_input_grad_bind)
DENSE_KERNEL_GRAD = Primitive(
    "dense_kernel_grad", lambda x, dz: _rows(x).T @ _rows(dz), _kernel_grad_vjp,
    into=lambda out, x, dz: xp.matmul(_rows(x).T, _rows(dz), out=out),
    bind=lambda out, x, dz: partial(xp.matmul, _rows(x).T, _rows(dz), out=out))
BIAS_GRAD = Primitive(
    "bias_grad", lambda dz: xp.add.reduce(_rows(dz), axis=0),
    lambda gg, inputs, output, needs: (broadcast_to(gg, shape_of(inputs[0])),),
    into=lambda out, dz: xp.add.reduce(_rows(dz), axis=0, out=out),
    bind=lambda out, dz: partial(xp.add.reduce, _rows(dz), 0, None, out))


def _dense_vjp(g, inputs, output, needs, activation):
    x, kernel = inputs[0], inputs[1]
    dz = g if activation == "linear" else ACTIVATION_PRIMITIVES[activation][1](g, output)
    gx = DENSE_INPUT_GRAD(dz, kernel) if needs[0] else None
    gk = DENSE_KERNEL_GRAD(x, dz) if needs[1] else None
    if len(inputs) == 2:
        return gx, gk
    return gx, gk, BIAS_GRAD(dz) if needs[2] else None


def _dense_bind(out, x, kernel, bias=None, activation="linear"):
    """`_dense_into` as up to three calls bound once (a replay then runs no Python for it)."""
    calls = [partial(xp.matmul, x, kernel, out=out)]
    if bias is not None:
        calls.append(partial(xp.add, out, bias, out=out))
    if activation != "linear":
        calls.append(partial(ACTIVATIONS[activation].forward, out, out=out))
    return calls


DENSE = Primitive("dense", _dense_compute, _dense_vjp, into=_dense_into, bind=_dense_bind)


# A kernel stored directly above its bias (a model's parameter store lays Dense
# weights out that way) is one (inputs + 1, units) block: `x @ kernel + bias` is
# then one product `[x, 1] @ block`, and the kernel and bias gradients are one
# product `[x, 1].T @ dz`. Eager calls and compiled replays compute it the same
# way, so they agree bit for bit.
def _widened(x):
    """`[x, 1]`: a copy of the 2-D `x` with a column of ones appended."""
    wide = xp.empty((x.shape[0], x.shape[1] + 1), dtype=x.dtype)
    wide[:, :-1] = x
    wide[:, -1] = 1
    return wide


def _stacked_compute(x, kernel, bias, activation):
    z = _widened(x) @ stacked_block(kernel, bias)
    if activation != "linear":
        ACTIVATIONS[activation].forward(z, out=z)
    return z


def _stacked_bind(out, x, kernel, bias, activation, wide=None, out_wide=None):
    """Replay kernels of the stacked dense op; `wide` is x's own widened buffer if it has one.

    `out_wide` is the `[out, 1]` buffer `out` is the left part of, when the next stacked
    Dense reads it: an activation that keeps the ones (`ActivationKernel.keeps_one`: relu,
    elu, ...) then runs over the whole buffer, one contiguous pass, about twice as fast as
    a pass over the strided rows of `out`.
    """
    calls = []
    if wide is None:
        wide = xp.ones((x.shape[0], x.shape[1] + 1), dtype=x.dtype)
        calls.append(partial(xp.copyto, wide[:, :-1], x))
    calls.append(partial(xp.matmul, wide, stacked_block(kernel, bias), out=out))
    if activation != "linear":
        whole = out_wide is not None and ACTIVATIONS[activation].keeps_one
        calls += _activation_in_place(activation, out_wide if whole else out)
    return calls


def _activation_in_place(name, out):
    """The replay calls applying activation `name` to `out` in place."""
    bind = ACTIVATION_PRIMITIVES[name][0].bind
    calls = partial(ACTIVATIONS[name].forward, out, out) if bind is None else bind(out, out)
    return calls if isinstance(calls, list) else [calls]


def _param_grad_bind(out, x, dz, wide=None, update=None):
    """Replay kernels of `[x, 1].T @ dz` (into `out`).

    `update` (see `numnet.engine.sgd_fusion`): when `update.step.learning_rate`
    is set, the product does the SGD step on `update.weights` (the kernel-and-bias
    block) instead, with the kernel's L2 factor `update.decay` as weight decay;
    when it is None, `out` gets the gradients, L2 term included.
    """
    calls = []
    if wide is None:
        wide = xp.ones((x.shape[0], x.shape[1] + 1), dtype=x.dtype)
        calls.append(partial(xp.copyto, wide[:, :-1], x))
    product = partial(xp.matmul, wide.T, dz, out=out)
    if update is None:
        calls.append(product)
        return calls
    calls.append(_fused_sgd_call(product, out, wide.T, dz, update))
    return calls


def _fused_sgd_call(product, out, a, dz, update):
    """The replay call of one fused Dense product (see `_param_grad_bind`)."""
    weights, step, decay = update.weights, update.step, update.decay
    if decay is None:
        whole = blas.product_into(a, dz, weights)
        kernel_part = bias_part = None
    else:
        whole = None
        kernel_part = blas.scaling_product_into(a[:-1], dz, weights[:-1])
        bias_part = blas.product_into(a[-1:], dz, weights[-1:])
        decayed = xp.empty(weights[:-1].shape, dtype=weights.dtype)

    def gradients():
        product()
        if decay is not None:  # + decay * kernel: the L2 penalty's gradient
            xp.multiply(weights[:-1], decay, out=decayed)
            xp.add(out[:-1], decayed, out=out[:-1])

    def run():
        lr = step.learning_rate
        if lr is None:
            gradients()
        elif whole is not None:
            whole(-lr, 1.0)
        elif kernel_part is not None and bias_part is not None:
            kernel_part(-lr, 1.0 - lr * decay)
            bias_part(-lr, 1.0)
        else:  # no direct BLAS call: the same step in NumPy calls
            gradients()
            xp.multiply(out, lr, out=out)
            xp.subtract(weights, out, out=weights)
    return run


def _param_grad_vjp(gg, inputs, output, needs):
    x, dz = inputs  # [x, 1].T @ dz
    kernel_rows = getitem(gg, slice(None, -1))
    return (DENSE_INPUT_GRAD(dz, kernel_rows) if needs[0] else None,
            add(matmul(x, kernel_rows), getitem(gg, -1)) if needs[1] else None)


DENSE_PARAM_GRAD = Primitive(
    "dense_param_grad", lambda x, dz: _widened(x).T @ dz, _param_grad_vjp,
    bind=_param_grad_bind)


def _stacked_vjp(g, inputs, output, needs, activation):
    x, kernel = inputs[0], inputs[1]
    dz = g if activation == "linear" else ACTIVATION_PRIMITIVES[activation][1](g, output)
    gx = DENSE_INPUT_GRAD(dz, kernel) if needs[0] else None
    if not (needs[1] or needs[2]):
        return gx, None, None
    block = DENSE_PARAM_GRAD(x, dz)
    return gx, getitem(block, slice(None, -1)), getitem(block, -1)


DENSE_STACKED = Primitive("dense_stacked", _stacked_compute, _stacked_vjp, bind=_stacked_bind)


def dense(x, kernel, bias=None, activation="linear"):
    """activation(x @ kernel + bias) as one op, for the activations in `FUSABLE`.

    Fusing keeps a Dense layer to a single node and lets the backward pass skip
    the input gradient when nothing upstream needs it. A kernel stored right
    above its bias takes the stacked form (see `stacked_block`).
    """
    if activation not in FUSABLE:
        raise ValueError(f"dense() fuses only {FUSABLE}; received activation={activation!r}.")
    x, kernel = operand(x), operand(kernel)
    if bias is None:
        return DENSE(x, kernel, activation=activation)
    bias = operand(bias)
    if x.ndim == 2 and stacked_block(kernel.data, bias.data) is not None:
        return DENSE_STACKED(x, kernel, bias, activation=activation)
    return DENSE(x, kernel, bias, activation=activation)


# --------------------------------------------------------------- losses
def _loss_primitives(name):
    """The value primitive of a loss kernel and its gradient primitive.

    Inputs: `(target, output)` and, for cross-entropies on logits whose
    activation already computed the probabilities, those probabilities third.
    """
    kernel = LOSSES[name]

    def value(target, output, *probabilities, **params):
        return kernel.value(target, output, **params)

    def grad_compute(target, output, g, *probabilities, **params):
        if probabilities:
            params["probabilities"] = probabilities[0]
        return kernel.gradient(target, output, g, **params)

    def grad_into(out, target, output, g, *probabilities, **params):
        if probabilities:
            params["probabilities"] = probabilities[0]
        return kernel.gradient(target, output, g, out=out, **params)

    grad = Primitive(name + "_grad", grad_compute, _second_order, into=grad_into)

    def vjp(g, inputs, output, needs, **params):
        target, out = inputs[0], inputs[1]
        return (None, grad(target, out, g, *inputs[2:], **params)) + (None,) * len(inputs[2:])

    forward = Primitive(name, value, vjp)
    if kernel.scratch is not None:
        def value_bind(out, target, output, *probabilities, **params):
            return partial(kernel.value, target, output, out=out,
                           scratch=kernel.scratch(output), **params)

        def grad_bind(out, target, output, g, *probabilities, **params):
            if probabilities:
                params["probabilities"] = probabilities[0]
            return partial(kernel.gradient, target, output, g, out=out,
                           scratch=kernel.scratch(output), **params)
        forward.bind, grad.bind = value_bind, grad_bind
    return forward, grad


LOSS_PRIMITIVES, LOSS_GRADIENTS = {}, {}
for _name in LOSSES:
    LOSS_PRIMITIVES[_name], LOSS_GRADIENTS[_name] = _loss_primitives(_name)


def _with_fallback(bind, prim):
    """`bind`, or the primitive's generic `into` when `bind` declines (returns None)."""
    def bound(out, *arrays, **attrs):
        kernel = bind(out, *arrays, **attrs)
        return kernel if kernel is not None else partial(prim.into, out, *arrays, **attrs)
    return bound


# Mean squared error on the difference `output - target`, itself an op: a metric (or
# the gradient) computing the same difference shares it (see engine.rewrite.merge_common).
def _mean_square_bind(out, diff):
    if not diff.ndim:
        return None
    if diff.shape[-1] == 1:  # one entry per sample: its square is the mean
        rows = diff.reshape(out.shape)
        return partial(xp.multiply, rows, rows, out=out)
    square = xp.empty(diff.shape, dtype=diff.dtype)
    calls = [partial(xp.multiply, diff, diff, out=square),
             partial(xp.add.reduce, square, -1, None, out),
             partial(xp.multiply, out, _typed(1.0 / diff.shape[-1], out), out=out)]
    return calls


def _mean_square_vjp(g, inputs, output, needs):
    """d mean(diff ** 2, -1) / d diff = diff * (g * 2 / n): a constant `g` (a plain mean
    of the loss) makes the scale a constant too, leaving one product per step."""
    from numnet.autodiff.ops.arithmetic import multiply
    from numnet.autodiff.ops.shape import expand_dims
    diff = inputs[0]
    if not diff.ndim:
        return (multiply(diff, multiply(g, 2.0)),)
    return (multiply(diff, expand_dims(multiply(g, 2.0 / diff.shape[-1]), -1)),)


MEAN_SQUARE = Primitive("mean_square", lambda diff: LOSSES_MODULE.mean_square(diff),
                        _mean_square_vjp)
MEAN_SQUARE.bind = _with_fallback(_mean_square_bind, MEAN_SQUARE)


def _logits_of(output, from_logits):
    """Uses the logits a softmax/sigmoid kept, as Keras' TensorFlow backend does.

    Returns (logits or probabilities tensor, from_logits, [the probabilities
    already computed from those logits] or []).
    """
    output = operand(output)
    if not from_logits and kept_logits(output) is not None:
        return kept_logits(output), True, [output]
    return output, from_logits, []


def _target(target, dtype=None):
    target = operand(target)
    if not isinstance(target, Tensor):
        target = wrap(xp.asarray(target))
    if dtype is not None and target.data.dtype != dtype:
        target = cast(target, dtype)
    return target


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """-log p[target] per sample; `target` holds class indices."""
    output, from_logits, probabilities = _logits_of(output, from_logits)
    if axis not in (-1, output.ndim - 1):
        raise ValueError(f"sparse_categorical_crossentropy supports axis=-1 only, got {axis}.")
    return LOSS_PRIMITIVES["sparse_categorical_crossentropy"](
        _target(target), output, *probabilities, from_logits=from_logits)


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """-sum(target * log p) per sample; `target` is one-hot (or soft) labels."""
    output, from_logits, probabilities = _logits_of(output, from_logits)
    target = _target(target, output.data.dtype)
    if target.shape != output.shape:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape. "
            f"Received: target.shape={target.shape}, output.shape={output.shape}"
        )
    if probabilities and axis not in (-1, output.ndim - 1):
        probabilities = []
    return LOSS_PRIMITIVES["categorical_crossentropy"](
        target, output, *probabilities, from_logits=from_logits, axis=axis)


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise -(t log p + (1 - t) log(1 - p)) (not yet averaged over the last axis)."""
    output, from_logits, probabilities = _logits_of(output, from_logits)
    return LOSS_PRIMITIVES["binary_crossentropy"](
        _target(target, output.data.dtype), output, *probabilities, from_logits=from_logits)


def mean_squared_error(target, output):
    """mean((output - target) ** 2) over the last axis: the difference, then one op on it."""
    from numnet.autodiff.ops.arithmetic import subtract
    output = operand(output)
    return MEAN_SQUARE(subtract(output, _target(target, output.data.dtype)))


def cosine_similarity(target, output, axis=-1):
    """-sum(unit(target) * unit(output)) along `axis` (Keras' loss sign), as one op."""
    output = operand(output)
    return LOSS_PRIMITIVES["cosine_similarity"](_target(target, output.data.dtype), output,
                                                axis=axis)


def binary_focal_crossentropy(target, output, apply_class_balancing=False, alpha=0.25,
                              gamma=2.0, from_logits=False):
    """Elementwise binary focal cross-entropy (not yet averaged over the last axis).

    Reads the logits a sigmoid output kept, as Keras' TensorFlow backend does
    for the cross-entropy inside the focal loss.
    """
    output, from_logits, probabilities = _logits_of(output, from_logits)
    return LOSS_PRIMITIVES["binary_focal_crossentropy"](
        _target(target, output.data.dtype), output, *probabilities,
        apply_class_balancing=bool(apply_class_balancing), alpha=float(alpha),
        gamma=float(gamma), from_logits=from_logits)


def categorical_focal_crossentropy(target, output, alpha=0.25, gamma=2.0, axis=-1):
    """Categorical focal cross-entropy of probabilities along `axis`, per sample."""
    output = operand(output)
    return LOSS_PRIMITIVES["categorical_focal_crossentropy"](
        _target(target, output.data.dtype), output, alpha=float(alpha), gamma=float(gamma),
        axis=axis)


def categorical_generalized_cross_entropy(labels, output, q=0.5):
    """(1 - p[label] ** q) / q per sample; `labels` hold class indices."""
    return LOSS_PRIMITIVES["categorical_generalized_cross_entropy"](
        _target(labels), operand(output), q=float(q))


# ------------------------------------------------------------ reductions
def _weighted_sum(values, weights=None, scale=1.0):
    if weights is None:
        total = xp.add.reduce(values, axis=None)
    elif weights.shape == values.shape and values.ndim == 1:
        total = xp.matmul(values, weights)
    else:
        total = xp.add.reduce(values * weights, axis=None)
    return xp.asarray(total * scale, dtype=values.dtype)


def _weighted_sum_vjp(g, inputs, output, needs, scale):
    values = inputs[0]
    grad = _broadcast(g * scale, values.shape)
    if len(inputs) > 1:
        grad = grad * inputs[1]
    return (grad,) + (None,) * (len(inputs) - 1)


def _broadcast(x, shape):
    from numnet.autodiff.ops.core import broadcast_to
    return broadcast_to(x, shape)


def _weighted_sum_bind(out, values, weights=None, scale=1.0, unscaled=None):
    """The replay calls of `weighted_sum`; with `unscaled` (a compiled step's option), the sum
    is left in that 0-d array before the scaling: a running mean of the same values adds
    it (see `engine.rewrite.share_batch_sums`)."""
    total = out if unscaled is None else unscaled
    if weights is None:
        calls = [partial(xp.add.reduce, values, None, None, total)]
    elif weights.shape == values.shape and values.ndim == 1:
        calls = [partial(xp.matmul, values, weights, out=total)]
    else:
        return None
    # (a 0-d product: `bound_ufunc` runs it as Python float arithmetic, the same bits)
    return calls + [bound_ufunc(xp.multiply, [total, _typed(scale, out)], out)]


WEIGHTED_SUM = Primitive("weighted_sum", _weighted_sum, _weighted_sum_vjp)
WEIGHTED_SUM.bind = _with_fallback(_weighted_sum_bind, WEIGHTED_SUM)


def weighted_sum(values, weights=None, scale=1.0):
    """`scale * sum(values * weights)`: the reduction every loss ends with."""
    values = operand(values)
    if weights is None:
        return WEIGHTED_SUM(values, scale=scale)
    return WEIGHTED_SUM(values, _target(weights, values.data.dtype), scale=scale)


def _affine_vjp(g, inputs, output, needs):
    x, shift, scale = inputs
    scaled = g * scale
    return (sum_to(scaled, shape_of(x)) if needs[0] else None,
            sum_to(scaled, shape_of(shift)) if needs[1] else None,
            sum_to(g * (x + shift), shape_of(scale)) if needs[2] else None)


def _affine_compute(x, shift, scale):
    out = xp.empty(x.shape, dtype=x.dtype)  # row order, even for strided `x` (a column slice)
    blocks = _row_blocks(out, x, shift, scale)
    if blocks is None:
        return (x + shift) * scale
    return _affine_in_blocks(out, x, shift, scale, blocks)


def _affine_into(out, x, shift, scale):
    blocks = _row_blocks(out, x, shift, scale)
    if blocks is None:
        xp.add(x, shift, out=out)
        out *= scale
        return out
    return _affine_in_blocks(out, x, shift, scale, blocks)


def _affine_in_blocks(out, x, shift, scale, blocks):
    """`(x + shift) * scale` into `out` by the blocks of `_row_blocks`."""
    rows, tiles = blocks
    block = out[:rows].reshape(rows // tiles, -1)
    if x.flags.c_contiguous:
        xp.add(x[:rows].reshape(block.shape), xp.tile(shift.reshape(-1), tiles), out=block)
    else:
        xp.copyto(out, x)
        block += xp.tile(shift.reshape(-1), tiles)
    block *= xp.tile(scale.reshape(-1), tiles)
    rest = out[rows:]  # the last rows, fewer than a block's
    if x.flags.c_contiguous:
        xp.copyto(rest, x[rows:])
    rest += shift
    rest *= scale
    return out


_BLOCK_WIDTH = 512  # elements per row of a block (see `_row_blocks`)


def _row_blocks(out, x, shift, scale):
    """For many rows of a few features: (rows, tiles) to compute the first `rows` rows as
    rows of `tiles` rows each, with `shift` and `scale` tiled; None when not worth it.

    NumPy broadcasts a per-feature vector with an inner loop as long as a row: for the
    8 features of a table that is a call per row. Tiled, the elementwise numbers are the
    same and the inner loop is a few hundred long (Normalization over a whole dataset).
    """
    if out.ndim != 2 or x.shape != out.shape or not out.flags.c_contiguous:
        return None
    features = out.shape[1]
    tiles = _BLOCK_WIDTH // max(features, 1)
    if tiles < 4 or len(out) < 4 * tiles or x.dtype != out.dtype:
        return None
    for vector in (shift, scale):  # one value per feature, broadcast over the rows
        if vector.dtype != out.dtype or vector.ndim > 2 or vector.size != features or \
                vector.shape[-1] != features:
            return None
    return len(out) - len(out) % tiles, tiles


AFFINE = Primitive("affine", _affine_compute, _affine_vjp, into=_affine_into)


def affine(x, shift, scale):
    """`(x + shift) * scale` as one op (feature scaling); `shift` and `scale` broadcast."""
    x = operand(x)
    dtype = x.data.dtype
    return AFFINE(x, _target(shift, dtype), _target(scale, dtype))


# ---------------------------------------------------------------- random
def _dropout_mask(shape, rate, generator, dtype):
    keep = uniform_at_least(generator or global_generator(), shape, rate)
    return (keep * (1.0 / (1.0 - rate))).astype(dtype)


def _dropout_mask_into(out, shape, rate, generator, dtype):
    keep = uniform_at_least(generator or global_generator(), shape, rate)
    xp.multiply(keep, 1.0 / (1.0 - rate), out=out, casting="unsafe")
    return out


def _dropout_mask_bind(out, shape, rate, generator, dtype):
    """`_dropout_mask_into` on buffers made once: the same draws and the same numbers (the
    booleans copied into `out`, then scaled: two passes that cost less than one product of
    booleans and floats, which NumPy runs through a casting loop)."""
    keep = xp.empty(shape, dtype=bool)
    draw = uniform_at_least_kernel(keep, rate)
    scale = xp.asarray(1.0 / (1.0 - rate), dtype=out.dtype)

    def run():
        draw(generator or global_generator())
        xp.copyto(out, keep)
        xp.multiply(out, scale, out=out)
    return run


DROPOUT_MASK = Primitive("dropout_mask", _dropout_mask, no_gradient, into=_dropout_mask_into,
                         kind="random", bind=_dropout_mask_bind)


def dropout_mask(shape, rate, generator=None, dtype="float32"):
    """A mask of 0 (probability `rate`) and `1 / (1 - rate)`, drawn from `generator`.

    `generator=None` draws from numnet's global generator as it is at each call
    (so `set_random_seed` applies to compiled steps too).
    """
    return DROPOUT_MASK(shape=tuple(shape), rate=float(rate), generator=generator,
                        dtype=xp.dtype(dtype))
