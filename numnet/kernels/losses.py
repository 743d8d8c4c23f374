"""Loss kernels: each closed-form loss's value and gradient, written once.

A `LossKernel` holds two functions on raw arrays:

- `value(target, output, **params)` returns one loss per sample (per entry
  for binary cross-entropy, which `numnet.losses` then averages over the
  last axis, as Keras does);
- `gradient(target, output, g, **params)` returns d(sum(g * value))/d(output)
  for an upstream gradient `g` shaped like the value;
- optionally `scratch(output)`, buffers both reuse when a replay calls them.

The cross-entropies take `from_logits`. With logits their gradient is the
closed form `softmax(z) - target` (or `sigmoid(z) - target`), as in Keras'
TensorFlow backend, which is how a softmax or sigmoid output layer followed
by its cross-entropy trains: the loss reads the logits the activation kept.
With probabilities they follow Keras' clipping (`epsilon` <= p <= 1 - epsilon,
no gradient outside). `probabilities` may pass the already computed softmax
or sigmoid of the logits to save recomputing it.

The focal cross-entropies, the cosine similarity and the generalized
cross-entropy of Keras 3 are here too (Dice, Tversky and Circle are
compositions of ops in `numnet.losses`).
"""

from dataclasses import dataclass
from typing import Callable

from numnet.backend import epsilon, xp
from numnet.kernels.activations import ACTIVATIONS

_softmax = ACTIVATIONS["softmax"].forward
_sigmoid = ACTIVATIONS["sigmoid"].forward


@dataclass(frozen=True)
class LossKernel:
    """One loss: per-sample value and its gradient (see the module docstring)."""

    name: str
    value: Callable
    gradient: Callable
    # Optional: makes, from an output array, the buffers both functions accept as
    # `scratch=` (and then `out=`), so a replay allocates nothing per call.
    scratch: Callable = None


# ------------------------------------------------------------ mean squared error
def mean_square(diff):
    """mean(diff ** 2) over the last axis: the squared error of a difference `output - target`."""
    if not diff.ndim:
        return diff * diff
    total = xp.add.reduce(diff * diff, axis=-1)
    return total if diff.shape[-1] == 1 else total * (1.0 / diff.shape[-1])


def mean_square_gradient(diff, g, out=None):
    """d sum(g * mean_square(diff)) / d diff = diff * (g * 2 / n)."""
    scale = 2.0 / diff.shape[-1] if diff.ndim else 2.0
    scaled = g * scale
    return xp.multiply(diff, scaled[..., None] if diff.ndim else scaled, out=out)


def mean_squared_error(target, output):
    return mean_square(output - target)


def mean_squared_error_gradient(target, output, g, out=None):
    return mean_square_gradient(output - target, g, out=out)


# ---------------------------------------------------------- sparse categorical
class SparseScratch:
    """The buffers a replayed sparse cross-entropy writes at every call, made once.

    Without one, each call allocates the same arrays afresh (`rows` and the
    integer labels included); the numbers are the same either way.
    """

    def __init__(self, output, allocate=True):
        rows = output.size // output.shape[-1] if output.shape[-1] else 0
        self.rows = xp.arange(rows)

        def empty(shape, dtype=output.dtype):
            return xp.empty(shape, dtype=dtype) if allocate else None
        self.labels = empty(rows, xp.intp)
        self.peak = empty((rows, 1))
        self.shift = empty((rows, output.shape[-1]))
        self.total = empty(rows)
        self.picked = empty(rows)


def _flat_labels(labels, output, into=None):
    """Integer labels, one per row of `output` flattened to (rows, classes)."""
    labels = xp.asarray(labels)
    if labels.ndim == output.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if into is None:
        return labels.reshape(-1).astype(xp.intp, copy=False)
    xp.copyto(into, labels.reshape(-1), casting="unsafe")
    return into


def sparse_categorical_crossentropy(labels, output, from_logits=False, out=None, scratch=None,
                                    softmax_stats=None):
    """-log p[label] per sample; `labels` hold class indices.

    With logits: logsumexp(z) - z[label], as `log(sum(exp(z - max))) - (z[label] - max)`.
    `out`: where to write the losses; `scratch`: a `SparseScratch` for `output`'s shape;
    `softmax_stats`: the row maxima and sums of `exp(z - max)` a softmax of these very
    logits just computed (its scratch): the same numbers, without computing them again.
    """
    flat = output.reshape(-1, output.shape[-1])
    work = scratch if scratch is not None else SparseScratch(output, allocate=False)
    picked = _flat_labels(labels, output, work.labels)
    direct = out is not None and out.flags.c_contiguous and out.dtype == output.dtype
    if from_logits:
        if softmax_stats is None:
            peak = xp.maximum.reduce(flat, axis=1, keepdims=True, out=work.peak)
            shift = xp.subtract(flat, peak, out=work.shift)
            at_label = shift[work.rows, picked]
            total = xp.add.reduce(xp.exp(shift, out=shift), axis=1, out=work.total)
        else:
            peak, total = (a.reshape(-1) for a in softmax_stats)
            at_label = xp.subtract(flat[work.rows, picked], peak, out=work.picked)
        log_total = xp.log(total, out=work.total)
        loss = xp.subtract(log_total, at_label, out=out.reshape(-1) if direct else None)
    else:
        # Keras' TensorFlow form: clip, then the softmax cross-entropy of log(p).
        pc = xp.clip(flat, epsilon(), 1 - epsilon())
        loss = xp.log(xp.add.reduce(pc, axis=1)) - xp.log(pc[work.rows, picked])
        direct = False
    if out is None:
        return loss.reshape(output.shape[:-1]).astype(output.dtype, copy=False)
    if not direct:
        xp.copyto(out, loss.reshape(out.shape), casting="unsafe")
    return out


def sparse_categorical_crossentropy_gradient(labels, output, g, from_logits=False,
                                             probabilities=None, out=None, scratch=None):
    flat = output.reshape(-1, output.shape[-1])
    work = scratch if scratch is not None else SparseScratch(output, allocate=False)
    picked = _flat_labels(labels, output, work.labels)
    rows = work.rows
    gf = g.reshape(-1, 1)
    if from_logits:
        # d/dz of logsumexp(z) - z[label] = softmax(z) - onehot(label)
        grad = None if out is None else out.reshape(flat.shape)
        if probabilities is None:
            grad = _softmax(flat, grad, axis=1)
        elif grad is None:
            grad = probabilities.reshape(flat.shape).copy()
        else:
            xp.copyto(grad, probabilities.reshape(flat.shape))
        grad[rows, picked] -= 1
        grad *= gf
        return out if out is not None else grad.reshape(output.shape)
    pc = xp.clip(flat, epsilon(), 1 - epsilon())
    grad = xp.broadcast_to((1 / xp.add.reduce(pc, axis=1))[:, None], flat.shape).copy()
    grad[rows, picked] -= 1 / pc[rows, picked]
    grad *= (flat > epsilon()) & (flat < 1 - epsilon())
    grad *= gf
    grad = grad.reshape(output.shape).astype(output.dtype, copy=False)
    if out is None:
        return grad
    xp.copyto(out, grad)
    return out


# ----------------------------------------------------------------- categorical
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """-sum(target * log p) along `axis`; `target` holds one-hot (or soft) labels."""
    if from_logits:
        shift = output - output.max(axis=axis, keepdims=True)
        log_p = shift - xp.log(xp.exp(shift).sum(axis=axis, keepdims=True))
        loss = -(target * log_p).sum(axis=axis)
    else:
        p = output / output.sum(axis=axis, keepdims=True)
        loss = -(target * xp.log(xp.clip(p, epsilon(), 1 - epsilon()))).sum(axis=axis)
    return loss.astype(output.dtype, copy=False)


def categorical_crossentropy_gradient(target, output, g, from_logits=False, axis=-1,
                                      probabilities=None, out=None):
    ge = xp.expand_dims(g, axis)
    if from_logits:
        p = probabilities if probabilities is not None else _softmax(output, axis=axis)
        grad = p * target.sum(axis=axis, keepdims=True) - target
    else:
        total = output.sum(axis=axis, keepdims=True)
        p = output / total
        pc = xp.clip(p, epsilon(), 1 - epsilon())
        dp = -target / pc * ((p > epsilon()) & (p < 1 - epsilon()))  # d loss / d p
        grad = (dp - (dp * p).sum(axis=axis, keepdims=True)) / total
    return xp.multiply(grad, ge, out=out)


# ---------------------------------------------------------------------- binary
def binary_crossentropy(target, output, from_logits=False):
    """Elementwise -(t log p + (1 - t) log(1 - p)) (not yet averaged over the last axis)."""
    if from_logits:
        loss = xp.maximum(output, 0) - output * target + xp.log1p(xp.exp(-xp.abs(output)))
    else:
        pc = xp.clip(output, epsilon(), 1 - epsilon())
        loss = -(target * xp.log(pc) + (1 - target) * xp.log(1 - pc))
    return loss.astype(output.dtype, copy=False)


def binary_crossentropy_gradient(target, output, g, from_logits=False, probabilities=None,
                                 out=None):
    if from_logits:
        p = probabilities if probabilities is not None else _sigmoid(output)
        return xp.multiply(p - target, g, out=out)
    pc = xp.clip(output, epsilon(), 1 - epsilon())
    inside = (output > epsilon()) & (output < 1 - epsilon())
    return xp.multiply(g * (pc - target) / (pc * (1 - pc)), inside, out=out)


# ----------------------------------------------------------- cosine similarity
def _unit_vectors(x, axis):
    """`x * min(1 / ||x||, 1 / epsilon)` along `axis` (Keras' `normalize`), and whether the
    norm was large enough for the `1 / ||x||` branch (the only one with a gradient)."""
    squares = xp.add.reduce(x * x, axis=axis, keepdims=True)
    with xp.errstate(divide="ignore"):
        inverse = 1 / xp.sqrt(squares)
    cap = x.dtype.type(1 / epsilon())
    unclipped = inverse <= cap
    inverse = xp.minimum(inverse, cap)
    return x * inverse, inverse, unclipped


def cosine_similarity(target, output, axis=-1):
    """`-sum(unit(target) * unit(output))` along `axis`: -1 when they point the same way."""
    t, _, _ = _unit_vectors(target, axis)
    p, _, _ = _unit_vectors(output, axis)
    return xp.negative(xp.add.reduce(t * p, axis=axis)).astype(output.dtype, copy=False)


def cosine_similarity_gradient(target, output, g, axis=-1, out=None):
    # d/dp of -t.p/|p| = -(t - (t.u) u) / |p| with u = p/|p|; the capped branch is constant.
    t, _, _ = _unit_vectors(target, axis)
    u, inverse, unclipped = _unit_vectors(output, axis)
    along = xp.add.reduce(t * u, axis=axis, keepdims=True) * unclipped
    grad = t - along * u
    grad *= -inverse
    return xp.multiply(grad, xp.expand_dims(g, axis), out=out)


# ------------------------------------------------------------- binary focal
def _focal_parts(target, output, from_logits, probabilities):
    """(p, cross-entropy, d cross-entropy / d output) of the binary focal loss."""
    if from_logits:
        p = probabilities if probabilities is not None else _sigmoid(output)
        bce = xp.maximum(output, 0) - output * target + xp.log1p(xp.exp(-xp.abs(output)))
        return p, bce, p - target
    eps = epsilon()
    pc = xp.clip(output, eps, 1 - eps)
    bce = -(target * xp.log(pc) + (1 - target) * xp.log(1 - pc))
    inside = (output > eps) & (output < 1 - eps)
    return output, bce, (pc - target) / (pc * (1 - pc)) * inside


def _class_balance(target, alpha):
    return target * alpha + (1 - target) * (1 - alpha)


def binary_focal_crossentropy(target, output, apply_class_balancing=False, alpha=0.25,
                              gamma=2.0, from_logits=False, probabilities=None):
    """Elementwise `(1 - p_t)**gamma * bce` (Lin et al., 2017), optionally class-balanced.

    `p_t` is the probability given to the true label; the cross-entropy is
    Keras' (clipped probabilities, or the logits' exact form).
    """
    p, bce, _ = _focal_parts(target, output, from_logits, probabilities)
    p_t = target * p + (1 - target) * (1 - p)
    loss = xp.power(1 - p_t, gamma) * bce
    if apply_class_balancing:
        loss *= _class_balance(target, alpha)
    return loss.astype(output.dtype, copy=False)


def binary_focal_crossentropy_gradient(target, output, g, apply_class_balancing=False,
                                       alpha=0.25, gamma=2.0, from_logits=False,
                                       probabilities=None, out=None):
    p, bce, dbce = _focal_parts(target, output, from_logits, probabilities)
    miss = 1 - (target * p + (1 - target) * (1 - p))  # 1 - p_t
    factor = xp.power(miss, gamma)
    # d(1 - p_t)**gamma / dp = -gamma (1 - p_t)**(gamma - 1) (2 t - 1)
    dfactor = 0 if gamma == 0 else -gamma * xp.power(miss, gamma - 1) * (2 * target - 1)
    if from_logits:
        dfactor = dfactor * (p * (1 - p))
    grad = dfactor * bce + factor * dbce
    if apply_class_balancing:
        grad *= _class_balance(target, alpha)
    return xp.multiply(grad, g, out=out, casting="unsafe")


# -------------------------------------------------------- categorical focal
def _normalized_clipped(output, axis):
    total = xp.add.reduce(output, axis=axis, keepdims=True)
    share = output / total
    eps = epsilon()
    return total, share, xp.clip(share, eps, 1 - eps), (share > eps) & (share < 1 - eps)


def categorical_focal_crossentropy(target, output, alpha=0.25, gamma=2.0, axis=-1):
    """`sum(alpha * (1 - p)**gamma * -target * log p)` along `axis`, on probabilities.

    `p` is `output` normalized to sum 1 along `axis` and clipped to
    `[epsilon, 1 - epsilon]`, as in Keras (logits are softmaxed before).
    """
    _, _, pc, _ = _normalized_clipped(output, axis)
    loss = alpha * xp.power(1 - pc, gamma) * (-target * xp.log(pc))
    return xp.add.reduce(loss, axis=axis).astype(output.dtype, copy=False)


def categorical_focal_crossentropy_gradient(target, output, g, alpha=0.25, gamma=2.0, axis=-1,
                                            out=None):
    total, share, pc, inside = _normalized_clipped(output, axis)
    rest = 1 - pc
    dpc = -xp.power(rest, gamma) * target / pc
    if gamma != 0:
        dpc += gamma * xp.power(rest, gamma - 1) * target * xp.log(pc)
    dshare = alpha * dpc * inside
    # through the normalization share = output / total
    grad = (dshare - xp.add.reduce(dshare * share, axis=axis, keepdims=True)) / total
    return xp.multiply(grad, xp.expand_dims(g, axis), out=out, casting="unsafe")


# ---------------------------------------------- generalized cross-entropy
def _picked(labels, output):
    """(rows, classes, valid, p): each sample's probability of its label (0 if out of range)."""
    flat = output.reshape(-1, output.shape[-1])
    labels = xp.asarray(labels).reshape(-1).astype(xp.intp)
    valid = (labels >= 0) & (labels < flat.shape[1])
    classes = xp.where(valid, labels, 0)
    rows = xp.arange(flat.shape[0])
    return rows, classes, valid, xp.where(valid, flat[rows, classes], 0)


def categorical_generalized_cross_entropy(labels, output, q=0.5):
    """`(1 - p**q) / q` with `p` the probability of the integer label (Zhang & Sabuncu, 2018).

    Between cross-entropy (q -> 0) and mean absolute error (q = 1): robust to
    noisy labels. A label outside `[0, classes)` counts as probability 0, as
    Keras' one-hot encoding makes it.
    """
    _, _, _, p = _picked(labels, output)
    loss = (1 - xp.power(p, q)) / q
    return loss.reshape(output.shape[:-1]).astype(output.dtype, copy=False)


def categorical_generalized_cross_entropy_gradient(labels, output, g, q=0.5, out=None):
    rows, classes, valid, p = _picked(labels, output)
    grad = xp.zeros(output.shape, dtype=output.dtype) if out is None else out
    if out is not None:
        grad[...] = 0
    flat = grad.reshape(-1, output.shape[-1])
    with xp.errstate(divide="ignore"):
        flat[rows, classes] = xp.where(valid, -xp.power(p, q - 1), 0) * g.reshape(-1)
    return grad


LOSSES = {k.name: k for k in (
    LossKernel("mean_squared_error", mean_squared_error, mean_squared_error_gradient),
    LossKernel("sparse_categorical_crossentropy", sparse_categorical_crossentropy,
               sparse_categorical_crossentropy_gradient, SparseScratch),
    LossKernel("categorical_crossentropy", categorical_crossentropy,
               categorical_crossentropy_gradient),
    LossKernel("binary_crossentropy", binary_crossentropy, binary_crossentropy_gradient),
    LossKernel("cosine_similarity", cosine_similarity, cosine_similarity_gradient),
    LossKernel("binary_focal_crossentropy", binary_focal_crossentropy,
               binary_focal_crossentropy_gradient),
    LossKernel("categorical_focal_crossentropy", categorical_focal_crossentropy,
               categorical_focal_crossentropy_gradient),
    LossKernel("categorical_generalized_cross_entropy", categorical_generalized_cross_entropy,
               categorical_generalized_cross_entropy_gradient),
)}


def scikit_learn_loss(y, p, sample_weight, loss):
    """scikit-learn's MLP data terms: half squared error, log loss, half Poisson deviance.

    Their own definitions (scikit-learn's clipping at the dtype's machine epsilon,
    its reductions), which numnet's scikit-learn estimators reproduce in float64;
    their gradient with respect to the output layer's pre-activation is
    `p - y` (canonical links), which the estimators compute in place.
    """
    if loss == "squared_error":
        r = (y - p) ** 2
    elif loss == "poisson":
        with xp.errstate(divide="ignore", invalid="ignore"):
            r = xp.where(y > 0, y * xp.log(y / p), 0.0) - y + p
    else:
        eps = xp.finfo(p.dtype).eps
        q = xp.clip(p, eps, 1 - eps)
        if loss == "binary_log_loss":
            r = -(y * xp.log(q) + (1 - y) * xp.log1p(-q))
        else:
            r = -(y * xp.log(q))
            if p.shape[1] == 1:
                r = r - (1 - y) * xp.log1p(-q)
    if sample_weight is None:
        per_output = r.mean(axis=0)
    else:
        per_output = sample_weight @ r / sample_weight.sum()
    value = per_output.mean() if loss == "squared_error" else per_output.sum()
    return float(0.5 * value if loss == "squared_error" else value)
