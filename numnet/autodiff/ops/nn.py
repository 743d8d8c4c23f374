"""Neural-network ops: activations, the fused dense op and the cross-entropies.

Each activation's backward rule is written in terms of its input `x` and/or
its output `y`, whichever is cheaper. Cross-entropies return one loss per
sample; `numnet.losses` applies the reduction.
"""

import math

import numpy as np

from numnet.autodiff.ops._core import Tensor, operand, record, recording, xp
from numnet.autodiff.ops.math import _unary
from numnet.backend import epsilon

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def _sigmoid(x):
    # 0.5 * (1 + tanh(x / 2)) never overflows, unlike 1 / (1 + exp(-x)).
    y = xp.multiply(x, 0.5)
    xp.tanh(y, out=y)
    y += 1
    y *= 0.5
    return y


def sigmoid(x):
    """1 / (1 + exp(-x)); keeps its logits so cross-entropy can use them."""
    out = _unary(x, _sigmoid, lambda x, y: y * (1 - y))
    out._keras_logits = operand(x)[0]
    return out


def tanh(x):
    """Hyperbolic tangent."""
    return _unary(x, xp.tanh, lambda x, y: 1 - y * y)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0), with Keras' optional leak, cap and threshold."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return _unary(x, lambda v: xp.maximum(v, 0), lambda x, y: y > 0)

    def forward(v):
        y = xp.where(v >= threshold, v, negative_slope * (v - threshold))
        return y if max_value is None else xp.minimum(y, max_value)

    def derivative(v, y):
        d = xp.where(v >= threshold, 1.0, negative_slope).astype(v.dtype)
        return d if max_value is None else d * (v < max_value)
    return _unary(x, forward, derivative)


def relu6(x):
    """min(max(x, 0), 6)."""
    return relu(x, max_value=6.0)


def leaky_relu(x, negative_slope=0.2):
    """x for x >= 0, negative_slope * x otherwise."""
    return _unary(x, lambda v: xp.where(v >= 0, v, v * negative_slope),
                  lambda x, y: xp.where(x > 0, 1.0, negative_slope).astype(x.dtype))


def elu(x, alpha=1.0):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return _unary(x, lambda v: xp.where(v > 0, v, alpha * xp.expm1(xp.minimum(v, 0))),
                  lambda x, y: xp.where(x > 0, 1.0, y + alpha).astype(x.dtype))


def selu(x):
    """Scaled ELU with the self-normalizing constants."""
    a, s = SELU_ALPHA, SELU_SCALE
    return _unary(x, lambda v: s * xp.where(v > 0, v, a * xp.expm1(xp.minimum(v, 0))),
                  lambda x, y: xp.where(x >= 0, s, y + s * a).astype(x.dtype))


def softplus(x):
    """log(1 + exp(x)), computed without overflow."""
    return _unary(x, lambda v: xp.logaddexp(v, 0).astype(v.dtype), lambda x, y: _sigmoid(x))


def softsign(x):
    """x / (1 + |x|)."""
    return _unary(x, lambda v: v / (1 + xp.abs(v)), lambda x, y: 1 / xp.square(1 + xp.abs(x)))


def silu(x):
    """x * sigmoid(x), also called swish."""
    def derivative(v, y):
        s = _sigmoid(v)
        return s + v * s * (1 - s)
    return _unary(x, lambda v: v * _sigmoid(v), derivative)


swish = silu


def _erf(v):
    """Error function to float32 precision (NumPy has none; scipy is optional)."""
    try:
        from scipy.special import erf
        return erf(v)
    except ImportError:  # pragma: no cover - scipy is a test dependency
        return xp.vectorize(math.erf, otypes=[v.dtype])(v)


def gelu(x, approximate=False):
    """Gaussian error linear unit: x * Phi(x) (or its tanh approximation)."""
    if approximate:
        c = math.sqrt(2 / math.pi)

        def forward(v):
            return 0.5 * v * (1 + xp.tanh(c * (v + 0.044715 * v ** 3)))

        def derivative(v, y):
            t = xp.tanh(c * (v + 0.044715 * v ** 3))
            return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v)
        return _unary(x, forward, derivative)

    def forward(v):
        return (0.5 * v * (1 + _erf(v / math.sqrt(2)))).astype(v.dtype)

    def derivative(v, y):
        cdf = 0.5 * (1 + _erf(v / math.sqrt(2)))
        return (cdf + v * xp.exp(-0.5 * v * v) / math.sqrt(2 * math.pi)).astype(v.dtype)
    return _unary(x, forward, derivative)


def mish(x):
    """x * tanh(softplus(x))."""
    def derivative(v, y):
        t = xp.tanh(xp.logaddexp(v, 0))
        return t + v * (1 - t * t) * _sigmoid(v)
    return _unary(x, lambda v: v * xp.tanh(xp.logaddexp(v, 0)).astype(v.dtype), derivative)


def hard_sigmoid(x):
    """relu6(x + 3) / 6, Keras 3's piecewise-linear sigmoid."""
    return _unary(x, lambda v: xp.clip(v / 6 + 0.5, 0, 1),
                  lambda x, y: ((x > -3) & (x < 3)) / 6)


def exponential(x):
    """e ** x."""
    return _unary(x, xp.exp, lambda x, y: y)


def linear(x):
    """The identity."""
    return operand(x)[0]


def _softmax(v, axis):
    # Ufunc reductions directly: the xp.max/xp.sum wrappers cost microseconds per call.
    y = v - xp.maximum.reduce(v, axis=axis, keepdims=True)
    xp.exp(y, out=y)
    y /= xp.add.reduce(y, axis=axis, keepdims=True)
    return y


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along `axis`; keeps its logits for cross-entropy."""
    x, xv = operand(x)
    out = Tensor(_softmax(xv, axis))
    out._keras_logits = x
    if recording():
        def backward(g, needs):
            y = out.data
            return (y * (g - xp.sum(g * y, axis=axis, keepdims=True)),)
        record(out, (x,), backward)
    return out


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along `axis`."""
    x, xv = operand(x)
    shifted = xv - xp.max(xv, axis=axis, keepdims=True)
    out = Tensor(shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True)))
    if recording():
        def backward(g, needs):
            return (g - xp.exp(out.data) * xp.sum(g, axis=axis, keepdims=True),)
        record(out, (x,), backward)
    return out


def heaviside(x):
    """Step: 1 for x >= 0, else 0. Forward only: its derivative is 0 almost everywhere."""
    xv = operand(x)[1]
    return Tensor((xv >= 0).astype(xv.dtype))


def sign_step(x):
    """Step: -1, 0 or 1 by the sign of x. Forward only, like `heaviside`."""
    xv = operand(x)[1]
    return Tensor(xp.sign(xv))


def affine(x, shift, scale):
    """`(x + shift) * scale` with constant `shift` and `scale`, as one op (feature scaling)."""
    x, xv = (x, x.data) if isinstance(x, Tensor) else operand(x)
    out = Tensor((xv + shift) * scale)
    if recording():
        def backward(g, needs):
            grad = g * scale
            if grad.shape != xv.shape:
                from numnet.autodiff.ops._core import unbroadcast
                grad = unbroadcast(grad, xv.shape)
            return (grad,)
        record(out, (x,), backward)
    return out


# Derivatives of the fusable activations written with the output y alone.
_FUSED_DERIVATIVES = {
    "linear": None,
    "relu": lambda y: y > 0,
    "sigmoid": lambda y: y * (1 - y),
    "tanh": lambda y: 1 - y * y,
}


def dense(x, kernel, bias=None, activation="linear"):
    """activation(x @ kernel + bias) as one op, for "linear", "relu", "sigmoid", "tanh".

    Fusing keeps a Dense layer to a single tape node and a single backward
    closure, and skips the input gradient when nothing upstream needs it.
    """
    # Layers pass Tensors and Variables: skip `operand`'s conversions for them.
    x, xv = (x, x.data) if isinstance(x, Tensor) else operand(x)
    kernel, kv = (kernel, kernel.data) if isinstance(kernel, Tensor) else operand(kernel)
    z = xv @ kv
    if bias is not None:
        bias, bv = (bias, bias.data) if isinstance(bias, Tensor) else operand(bias)
        z += bv
    if activation == "relu":
        xp.maximum(z, 0, out=z)
    elif activation == "sigmoid":
        z = _sigmoid(z)
    elif activation == "tanh":
        xp.tanh(z, out=z)
    out = Tensor(z)
    if recording():
        derivative = _FUSED_DERIVATIVES[activation]

        def backward(g, needs):
            dz = g if derivative is None else g * derivative(out.data)
            gx = gk = gb = None
            if needs[0]:
                gx = dz @ kv.T
            if needs[1]:
                if xv.ndim == 2:
                    gk = xv.T @ dz
                else:
                    gk = xv.reshape(-1, xv.shape[-1]).T @ dz.reshape(-1, dz.shape[-1])
            if bias is not None and needs[2]:
                gb = xp.add.reduce(dz.reshape(-1, dz.shape[-1]), axis=0)
            return gx, gk, gb
        parents = (x, kernel) if bias is None else (x, kernel, bias)
        record(out, parents, backward)
    return out


# --------------------------------------------------------------- losses
def _logits_of(output, from_logits):
    """Uses the logits a softmax/sigmoid kept, as Keras' TensorFlow backend does.

    Returns (logits or probabilities tensor, from_logits, the probabilities
    already computed from those logits or None).
    """
    output = operand(output)[0]
    if not from_logits and output._keras_logits is not None:
        return output._keras_logits, True, output.data
    return output, from_logits, None


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """-log p[target] per sample; `target` holds class indices."""
    output, from_logits, probabilities = _logits_of(output, from_logits)
    ov = output.data
    labels = xp.asarray(operand(target)[1])
    if labels.ndim == ov.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    labels = labels.astype(np.intp, copy=False)
    if axis not in (-1, ov.ndim - 1):
        raise ValueError(f"sparse_categorical_crossentropy supports axis=-1 only, got {axis}.")
    n_classes = ov.shape[-1]
    flat = ov.reshape(-1, n_classes)
    rows = xp.arange(flat.shape[0])
    picked = labels.reshape(-1)
    if from_logits:
        shift = flat - xp.maximum.reduce(flat, axis=1, keepdims=True)
        log_norm = xp.log(xp.add.reduce(xp.exp(shift), axis=1))
        loss = log_norm - shift[rows, picked]
    else:
        # Keras' TensorFlow form: clip, then the softmax cross-entropy of log(p).
        pc = xp.clip(flat, epsilon(), 1 - epsilon())
        pc_sum = pc.sum(axis=1)
        loss = xp.log(pc_sum) - xp.log(pc[rows, picked])
    out = Tensor(loss.reshape(labels.shape).astype(ov.dtype, copy=False))
    if recording():
        def backward(g, needs):
            gf = g.reshape(-1, 1)
            if from_logits:
                # d/dz of logsumexp(z) - z[label] = softmax(z) - onehot(label)
                grad = (_softmax(flat, axis=1) if probabilities is None
                        else probabilities.reshape(flat.shape).copy())
                grad[rows, picked] -= 1
                grad *= gf
            else:
                dp = xp.broadcast_to((1 / pc_sum)[:, None], flat.shape).copy()
                dp[rows, picked] -= 1 / pc[rows, picked]
                dp *= (flat > epsilon()) & (flat < 1 - epsilon())
                grad = dp * gf
            return (grad.reshape(ov.shape).astype(ov.dtype, copy=False),)
        record(out, (output,), backward)
    return out


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """-sum(target * log p) per sample; `target` is one-hot (or soft) labels."""
    output, from_logits, probabilities = _logits_of(output, from_logits)
    ov = output.data
    tv = xp.asarray(operand(target)[1], dtype=ov.dtype)
    if tv.shape != ov.shape:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape. "
            f"Received: target.shape={tv.shape}, output.shape={ov.shape}"
        )
    if from_logits:
        shift = ov - ov.max(axis=axis, keepdims=True)
        log_p = shift - xp.log(xp.exp(shift).sum(axis=axis, keepdims=True))
        loss = -(tv * log_p).sum(axis=axis)
    else:
        total = ov.sum(axis=axis, keepdims=True)
        p = ov / total
        pc = xp.clip(p, epsilon(), 1 - epsilon())
        loss = -(tv * xp.log(pc)).sum(axis=axis)
    out = Tensor(loss.astype(ov.dtype, copy=False))
    if recording():
        def backward(g, needs):
            ge = xp.expand_dims(g, axis)
            if from_logits:
                grad = _softmax(ov, axis) * tv.sum(axis=axis, keepdims=True) - tv
                return (grad * ge,)
            inside = (p > epsilon()) & (p < 1 - epsilon())
            dp = -tv / pc * inside  # d loss / d p
            grad = (dp - (dp * p).sum(axis=axis, keepdims=True)) / total
            return (grad * ge,)
        record(out, (output,), backward)
    return out


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise -(t log p + (1 - t) log(1 - p)) (not yet averaged over the last axis)."""
    output, from_logits, probabilities = _logits_of(output, from_logits)
    ov = output.data
    tv = xp.asarray(operand(target)[1], dtype=ov.dtype)
    if from_logits:
        loss = xp.maximum(ov, 0) - ov * tv + xp.log1p(xp.exp(-xp.abs(ov)))
    else:
        pc = xp.clip(ov, epsilon(), 1 - epsilon())
        loss = -(tv * xp.log(pc) + (1 - tv) * xp.log(1 - pc))
    out = Tensor(loss.astype(ov.dtype, copy=False))
    if recording():
        def backward(g, needs):
            if from_logits:
                return ((_sigmoid(ov) - tv) * g,)
            inside = (ov > epsilon()) & (ov < 1 - epsilon())
            return (g * (pc - tv) / (pc * (1 - pc)) * inside,)
        record(out, (output,), backward)
    return out


def mean_squared_error(target, output):
    """mean((output - target) ** 2) over the last axis, as one op."""
    output, ov = operand(output)
    tv = xp.asarray(operand(target)[1], dtype=ov.dtype)
    diff = ov - tv
    out = Tensor(xp.add.reduce(diff * diff, axis=-1) * (1.0 / diff.shape[-1]) if diff.ndim
                 else diff * diff)
    if recording():
        scale = 2.0 / ov.shape[-1] if ov.ndim else 2.0

        def backward(g, needs):
            return (diff * (g[..., None] * scale) if ov.ndim else diff * g * scale,)
        record(out, (output,), backward)
    return out


def weighted_sum(values, weights=None, scale=1.0):
    """`scale * sum(values * weights)`: the reduction every loss ends with."""
    values, vv = operand(values)
    if weights is None:
        total = xp.add.reduce(vv, axis=None)
    else:
        weights = xp.asarray(operand(weights)[1], dtype=vv.dtype)
        total = xp.sum(vv * weights) if weights.shape != vv.shape or vv.ndim != 1 \
            else xp.dot(vv, weights)
    out = Tensor(xp.asarray(total * scale, dtype=vv.dtype))
    if recording():
        def backward(g, needs):
            grad = xp.full(vv.shape, g * scale, dtype=vv.dtype)
            if weights is not None:
                grad = grad * weights
            return (grad,)
        record(out, (values,), backward)
    return out
