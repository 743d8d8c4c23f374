"""Losses as functions, classes and strings, as in `keras.losses`.

A loss function maps `(y_true, y_pred)` to one value per sample; a `Loss`
object then applies sample weights and the reduction (Keras' default
`"sum_over_batch_size"`: the weighted sum divided by the number of values, not
by the sum of the weights).

Every loss of Keras 3 that applies to dense outputs is here (CTC, a loss over
sequences, is not). Closed-form losses compute through the loss kernels of
`numnet.kernels.losses` (value and gradient written once); the others are
compositions of `numnet.ops`, as their docstrings say.
"""

import math


from numnet.autodiff import ops
from numnet.autodiff.ops import nn as ops_nn
from numnet.autodiff.ops.masking import combine_masks, get_keras_mask
from numnet.autodiff.tensor import Tensor
from numnet.backend import xp
from numnet.serialization import (
    deserialize_keras_object, get_registered_object, register_builtin, serialize_keras_object,
)

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _value(x):
    """The array behind a tensor or array-like (for checks only, never for the math)."""
    return x.data if isinstance(x, Tensor) else xp.asarray(x)


def _tensor(x, dtype=None):
    """`x` as a tensor (no copy of a tensor); float64 arrays become floatx, or `dtype`."""
    if not isinstance(x, Tensor):
        x = ops.convert_to_tensor(x)
    if dtype is not None and x.dtype != xp.dtype(dtype).name:
        x = ops.cast(x, dtype)
    return x


def _prediction(y_pred):
    """`y_pred` as a float tensor (float64 and integer arrays become floatx)."""
    from numnet.backend import floatx
    y_pred = _tensor(y_pred)
    if y_pred.data.dtype.kind != "f":
        y_pred = ops.cast(y_pred, floatx())
    return y_pred


def _match_rank(y_true, y_pred):
    """Squeezes or expands a trailing length-1 axis so ranks agree, as Keras does."""
    t, p = xp.shape(_value(y_true)) if not isinstance(y_true, Tensor) else y_true.shape, \
        xp.shape(y_pred) if not isinstance(y_pred, Tensor) else y_pred.shape
    if len(t) == len(p) + 1 and t[-1] == 1:
        return ops.reshape(_tensor(y_true), t[:-1]), y_pred
    if len(p) == len(t) + 1 and p[-1] == 1:
        return ops.reshape(_tensor(y_true), tuple(t) + (1,)), y_pred
    return y_true, y_pred


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Makes ranks equal when they differ by one trailing length-1 axis, as Keras does.

    The higher-rank input loses its last axis, except that a rank-1 partner gains one
    instead when `expand_rank_1` (so `(3,)` and `(3, 1)` both become `(3, 1)`).
    """
    rank1, rank2 = len(xp.shape(x1)), len(xp.shape(x2))
    if rank1 == rank2 + 1 and xp.shape(x1)[-1] == 1:
        if rank2 == 1 and expand_rank_1:
            x2 = ops.expand_dims(x2, axis=-1)
        else:
            x1 = ops.squeeze(x1, axis=-1)
    elif rank2 == rank1 + 1 and xp.shape(x2)[-1] == 1:
        if rank1 == 1 and expand_rank_1:
            x1 = ops.expand_dims(x1, axis=-1)
        else:
            x2 = ops.squeeze(x2, axis=-1)
    return x1, x2


def _require_identical_shape(y_true, y_pred, hint=""):
    """Keras' check for the cross-entropies: same rank, then same shape (no broadcasting)."""
    t, p = xp.shape(y_true), xp.shape(y_pred)
    if len(t) != len(p):
        raise ValueError(
            "Arguments `target` and `output` must have the same rank (ndim). Received: "
            f"target.shape={t}, output.shape={p}{hint}"
        )
    if t != p:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape. Received: "
            f"target.shape={t}, output.shape={p}{hint}"
        )


def _check_same_shape(name, y_true, y_pred):
    t, p = tuple(ops.shape(y_true)), tuple(ops.shape(y_pred))
    if t != p:
        try:
            xp.broadcast_shapes(t, p)
        except ValueError:
            raise ValueError(
                f"{name}: `y_true` and `y_pred` have incompatible shapes. "
                f"Received: y_true.shape={t}, y_pred.shape={p}"
            ) from None


def _target_and_prediction(y_true, y_pred, name=None):
    """`y_pred` as a float tensor, `y_true` as a tensor of its dtype, ranks matched.

    `y_true` never receives a gradient.
    """
    y_pred = _prediction(y_pred)
    y_true, y_pred = _match_rank(y_true, y_pred)
    if name is not None:
        _check_same_shape(name, y_true, y_pred)
    return _tensor(y_true, y_pred.data.dtype), y_pred


# ---------------------------------------------------------------- functions
def mean_squared_error(y_true, y_pred):
    """`mean(square(y_true - y_pred), axis=-1)`."""
    y_true, y_pred = _target_and_prediction(y_true, y_pred, "mean_squared_error")
    return ops.mean_squared_error(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """`mean(abs(y_true - y_pred), axis=-1)`."""
    y_true, y_pred = _target_and_prediction(y_true, y_pred, "mean_absolute_error")
    return ops.mean(ops.abs(ops.subtract(y_pred, y_true)), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """`100 * mean(abs((y_true - y_pred) / max(abs(y_true), epsilon)), axis=-1)`."""
    from numnet.backend import epsilon
    y_true, y_pred = _target_and_prediction(y_true, y_pred)
    denom = ops.maximum(ops.abs(y_true), epsilon())
    return ops.multiply(ops.mean(ops.abs(ops.divide(ops.subtract(y_true, y_pred), denom)), axis=-1),
                        100.0)


def mean_squared_logarithmic_error(y_true, y_pred):
    """`mean(square(log(y_true + 1) - log(y_pred + 1)), axis=-1)`."""
    from numnet.backend import epsilon
    y_true, y_pred = _target_and_prediction(y_true, y_pred)
    first = ops.log(ops.add(ops.maximum(y_pred, epsilon()), 1.0))
    second = ops.log(ops.add(ops.maximum(y_true, epsilon()), 1.0))
    return ops.mean(ops.square(ops.subtract(first, second)), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """Quadratic for `|error| <= delta`, linear beyond; averaged over the last axis."""
    y_true, y_pred = _target_and_prediction(y_true, y_pred, "huber")
    error = ops.subtract(y_pred, y_true)
    abs_error = ops.abs(error)
    quadratic = ops.multiply(ops.square(error), 0.5)
    linear = ops.subtract(ops.multiply(abs_error, delta), 0.5 * delta * delta)
    return ops.mean(ops.where(ops.less_equal(abs_error, delta), quadratic, linear), axis=-1)


def _smooth(y_true, label_smoothing, n_classes):
    if not label_smoothing:
        return y_true
    return y_true * (1.0 - label_smoothing) + label_smoothing / n_classes


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy averaged over the last axis (probabilities clipped to [eps, 1-eps])."""
    y_true, y_pred = _match_rank(y_true, _tensor(y_pred))
    _require_identical_shape(y_true, y_pred)
    y_true = _smooth(_tensor(y_true, xp.float32), label_smoothing, 2)
    return ops.mean(ops.binary_crossentropy(y_true, y_pred, from_logits=from_logits), axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Cross-entropy against one-hot targets."""
    _require_identical_shape(y_true, y_pred, hint=(
        ". categorical_crossentropy expects one-hot `y_true`; for integer class labels use "
        "'sparse_categorical_crossentropy'."))
    y_true = _smooth(_tensor(y_true, xp.float32), label_smoothing, ops.shape(y_pred)[axis])
    return ops.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def check_sparse_labels(labels, n_classes, pred_shape):
    """Raises a clear error unless every label is a whole number in [0, n_classes)."""
    if not labels.size:
        return
    low, high = labels.min(), labels.max()
    if low < 0 or high >= n_classes or (labels.dtype.kind == "f" and xp.any(labels % 1)):
        if low >= 0 and high < n_classes:
            problem = (f"a label value of {labels[labels % 1 != 0].flat[0]}, which is not a "
                       "whole number (labels are class indices)")
        else:
            problem = (f"a label value of {high if high >= n_classes else low}, which is "
                       f"outside the valid range [0, {n_classes - 1}]")
        raise ValueError(
            f"sparse_categorical_crossentropy: received {problem} for y_pred with "
            f"{n_classes} classes (shape {tuple(pred_shape)})."
        )


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Cross-entropy against integer class labels."""
    labels = _tensor(y_true)
    pred_shape = tuple(ops.shape(y_pred))
    n_classes = pred_shape[-1]
    if labels.ndim == len(pred_shape) and labels.shape[-1] == 1:
        labels = ops.reshape(labels, labels.shape[:-1])
    if tuple(labels.shape) != pred_shape[:-1]:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape up until the last "
            f"dimension: target.shape={tuple(ops.shape(y_true))}, "
            f"output.shape={pred_shape}. sparse_categorical_crossentropy expects "
            f"integer labels of shape {pred_shape[:-1]} (one per sample)."
        )
    mask = None
    if ignore_class is not None:
        mask = ops.not_equal(labels, ignore_class)
        labels = ops.where(mask, labels, 0)
    # A check of the values, not part of the computation: fit checks all labels
    # before its first step, so a compiled replay need not repeat it.
    check_sparse_labels(labels.data, n_classes, pred_shape)
    losses = ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=from_logits, axis=axis)
    if mask is not None:
        losses = ops.multiply(losses, ops.cast(mask, losses.data.dtype))
    return losses


def kl_divergence(y_true, y_pred):
    """`sum(y_true * log(y_true / y_pred), axis=-1)`, both clipped to `[epsilon, 1]`."""
    from numnet.backend import epsilon
    y_true, y_pred = _target_and_prediction(y_true, y_pred, "kl_divergence")
    y_true = ops.clip(y_true, epsilon(), 1.0)
    y_pred = ops.clip(y_pred, epsilon(), 1.0)
    return ops.sum(ops.multiply(y_true, ops.log(ops.divide(y_true, y_pred))), axis=-1)


def poisson(y_true, y_pred):
    """`mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)`."""
    from numnet.backend import epsilon
    y_true, y_pred = _target_and_prediction(y_true, y_pred, "poisson")
    log_pred = ops.log(ops.add(y_pred, epsilon()))
    return ops.mean(ops.subtract(y_pred, ops.multiply(y_true, log_pred)), axis=-1)


def _hinge_labels(y_true):
    """Keras' rule: if every label is 0 or 1, they become -1 or 1; otherwise they are kept."""
    binary = ops.all(ops.logical_or(ops.equal(y_true, 0), ops.equal(y_true, 1)))
    return ops.where(binary, ops.subtract(ops.multiply(y_true, 2.0), 1.0), y_true)


def _hinge_margins(name, y_true, y_pred):
    y_true, y_pred = _target_and_prediction(y_true, y_pred, name)
    y_true = _hinge_labels(y_true)
    return ops.maximum(ops.subtract(1.0, ops.multiply(y_true, y_pred)), 0.0)


def hinge(y_true, y_pred):
    """`mean(maximum(1 - y_true * y_pred, 0), axis=-1)`.

    Labels should be -1 or 1; 0/1 labels are converted to -1/1.
    """
    return ops.mean(_hinge_margins("hinge", y_true, y_pred), axis=-1)


def squared_hinge(y_true, y_pred):
    """`mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)` (0/1 labels become -1/1)."""
    return ops.mean(ops.square(_hinge_margins("squared_hinge", y_true, y_pred)), axis=-1)


def categorical_hinge(y_true, y_pred):
    """`maximum(neg - pos + 1, 0)` with `pos = sum(y_true * y_pred, axis=-1)` and
    `neg = max((1 - y_true) * y_pred, axis=-1)`; `y_true` is one-hot.
    """
    y_true, y_pred = _target_and_prediction(y_true, y_pred, "categorical_hinge")
    positive = ops.sum(ops.multiply(y_true, y_pred), axis=-1)
    negative = ops.max(ops.multiply(ops.subtract(1.0, y_true), y_pred), axis=-1)
    return ops.maximum(ops.add(ops.subtract(negative, positive), 1.0), 0.0)


def log_cosh(y_true, y_pred):
    """`mean(log(cosh(y_pred - y_true)), axis=-1)`, computed as
    `x + softplus(-2 x) - log(2)` so that large errors do not overflow.
    """
    y_true, y_pred = _target_and_prediction(y_true, y_pred, "log_cosh")
    error = ops.subtract(y_pred, y_true)
    value = ops.add(error, ops.softplus(ops.multiply(error, -2.0)))
    return ops.mean(ops.subtract(value, float(xp.log(2.0))), axis=-1)


def _keras_same_rank(x1, x2):
    """Keras' `squeeze_or_expand_to_same_rank`: when ranks differ by one trailing length-1
    axis, the higher-rank one loses it, unless the other is rank 1 and gains one instead."""
    r1, r2 = len(ops.shape(x1)), len(ops.shape(x2))
    if r1 == r2 + 1 and ops.shape(x1)[-1] == 1:
        return (x1, ops.expand_dims(x2, -1)) if r2 == 1 else (ops.squeeze(x1, -1), x2)
    if r2 == r1 + 1 and ops.shape(x2)[-1] == 1:
        return (ops.expand_dims(x1, -1), x2) if r1 == 1 else (x1, ops.squeeze(x2, -1))
    return x1, x2


def _require_same_shape(y_true, y_pred):
    """The cross-entropies' check (Keras' message): no silent broadcasting."""
    t, p = tuple(ops.shape(y_true)), tuple(ops.shape(y_pred))
    if t != p:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape. "
            f"Received: target.shape={t}, output.shape={p}"
        )


def _check_int_axis(axis):
    """Keras' check of the categorical losses' `axis` (a bool is not an axis)."""
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type "
                         f"{type(axis)}")


def cosine_similarity(y_true, y_pred, axis=-1):
    """Negative cosine similarity: `-sum(l2_normalize(y_true) * l2_normalize(y_pred))`.

    -1 when the vectors point the same way, 0 when orthogonal, 1 when opposite:
    minimizing it aligns predictions with targets. A kernel
    (`numnet.kernels.losses.cosine_similarity`, Keras' normalization with a
    norm floored at `epsilon`).
    """
    y_pred = _prediction(y_pred)
    y_true, y_pred = _keras_same_rank(_tensor(y_true, y_pred.data.dtype), y_pred)
    shape = xp.broadcast_shapes(tuple(y_true.shape), tuple(y_pred.shape))
    if tuple(y_true.shape) != shape:
        y_true = ops.broadcast_to(y_true, shape)
    if tuple(y_pred.shape) != shape:
        y_pred = ops.broadcast_to(y_pred, shape)
    return ops_nn.cosine_similarity(y_true, y_pred, axis=axis)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25,
                              gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary focal cross-entropy (Lin et al., 2017), averaged over `axis`.

    `(1 - p_t)**gamma * bce`, where `p_t` is the probability given to the true
    label, down-weights well-classified examples; with
    `apply_class_balancing`, positives are weighted `alpha` and negatives
    `1 - alpha`. A kernel (`numnet.kernels.losses.binary_focal_crossentropy`).
    """
    y_pred = _prediction(y_pred)
    y_true, y_pred = _match_rank(y_true, y_pred)
    _require_same_shape(y_true, y_pred)
    y_true = _smooth(_tensor(y_true, y_pred.data.dtype), label_smoothing, 2)
    values = ops_nn.binary_focal_crossentropy(
        y_true, y_pred, apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
        from_logits=from_logits)
    return ops.mean(values, axis=axis)


def _warn_single_class(name, y_pred):
    if ops.shape(y_pred)[-1] == 1:
        import warnings
        warnings.warn(
            f"In loss {name}, expected y_pred.shape to be (batch_size, num_classes) with "
            f"num_classes > 1. Received: y_pred.shape={tuple(ops.shape(y_pred))}. Consider "
            "using 'binary_crossentropy' if you only have 2 classes.", SyntaxWarning,
            stacklevel=3)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    """Categorical focal cross-entropy: `sum(alpha * (1 - p)**gamma * -y_true * log p)`.

    `p` is `y_pred` (softmaxed first with `from_logits`) normalized along
    `axis` and clipped to `[epsilon, 1 - epsilon]`, as in Keras. A kernel
    (`numnet.kernels.losses.categorical_focal_crossentropy`).
    """
    _check_int_axis(axis)
    y_pred = _prediction(y_pred)
    _require_same_shape(y_true, y_pred)
    _warn_single_class("categorical_focal_crossentropy", y_pred)
    y_true = _smooth(_tensor(y_true, y_pred.data.dtype), label_smoothing,
                     ops.shape(y_true)[-1])
    if from_logits:
        y_pred = ops.softmax(y_pred, axis=axis)
    return ops_nn.categorical_focal_crossentropy(y_true, y_pred, alpha=alpha, gamma=gamma,
                                                 axis=axis)


def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """Generalized cross-entropy (Zhang & Sabuncu, 2018): `(1 - p**q) / q`, with `p` the
    predicted probability of the integer label `y_true`; robust to noisy labels.

    `q` in (0, 1) moves it between cross-entropy (q -> 0) and mean absolute
    error (q = 1). Labels of shape `(batch, 1)` count as `(batch,)`, as for
    `sparse_categorical_crossentropy` (Keras 3.15.1 would broadcast them into a
    `(batch, batch)` matrix of losses). A kernel
    (`numnet.kernels.losses.categorical_generalized_cross_entropy`).
    """
    y_pred = _prediction(y_pred)
    labels = _tensor(y_true)
    pred_shape = tuple(ops.shape(y_pred))
    if labels.ndim == len(pred_shape) and labels.shape[-1] == 1:
        labels = ops.reshape(labels, labels.shape[:-1])
    if tuple(labels.shape) != pred_shape[:-1]:
        raise ValueError(
            "categorical_generalized_cross_entropy expects integer labels of shape "
            f"{pred_shape[:-1]} (one per sample) for y_pred of shape {pred_shape}. "
            f"Received: y_true.shape={tuple(ops.shape(y_true))}"
        )
    return ops_nn.categorical_generalized_cross_entropy(labels, y_pred, q=q)


def _sum(x, axis):
    return ops.sum(x, axis=tuple(axis) if isinstance(axis, list) else axis)


def dice(y_true, y_pred, axis=None):
    """Dice loss: `1 - 2 sum(y_true * y_pred) / (sum(y_true) + sum(y_pred) + epsilon)`.

    The sums run over `axis` (all axes by default, giving one number for the
    batch). Written with `numnet.ops` (sums and divisions; no kernel of its own).
    """
    from numnet.backend import epsilon
    y_pred = _prediction(y_pred)
    y_true, y_pred = _keras_same_rank(_tensor(y_true, y_pred.data.dtype), y_pred)
    overlap = _sum(ops.multiply(y_true, y_pred), axis)
    total = ops.add(ops.add(_sum(y_true, axis), _sum(y_pred, axis)), epsilon())
    return ops.subtract(1.0, ops.divide(ops.multiply(overlap, 2.0), total))


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """Tversky loss: `1 - TP / (TP + alpha FP + beta FN + epsilon)` (Salehi et al., 2017).

    With soft counts `TP = sum(y_true * y_pred)`, `FP = sum((1 - y_pred) * y_true)`
    and `FN = sum(y_pred * (1 - y_true))` over `axis` (as Keras counts them);
    `alpha = beta = 0.5` is the Dice loss. Written with `numnet.ops`.
    """
    from numnet.backend import epsilon
    y_pred = _prediction(y_pred)
    y_true, y_pred = _keras_same_rank(_tensor(y_true, y_pred.data.dtype), y_pred)
    overlap = _sum(ops.multiply(y_true, y_pred), axis)
    false_pos = _sum(ops.multiply(ops.subtract(1.0, y_pred), y_true), axis)
    false_neg = _sum(ops.multiply(y_pred, ops.subtract(1.0, y_true)), axis)
    total = ops.add(ops.add(ops.add(overlap, ops.multiply(false_pos, alpha)),
                            ops.multiply(false_neg, beta)), epsilon())
    return ops.subtract(1.0, ops.divide(overlap, total))


def _pair_masks(labels, ref_labels, remove_diagonal):
    """(same label, different label) masks between each query and each reference."""
    query = ops.reshape(labels, (-1, 1)) if labels.ndim == 1 else labels
    keys = ops.reshape(ref_labels, (-1, 1)) if ref_labels.ndim == 1 else ref_labels
    positive = ops.equal(query, ops.transpose(keys))
    negative = ops.logical_not(positive)
    if remove_diagonal:
        off_diagonal = ~xp.eye(math.prod(ops.shape(query)), math.prod(ops.shape(keys)),
                               dtype=bool)
        positive = ops.logical_and(positive, off_diagonal)
    return positive, negative


def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True,
           gamma=80, margin=0.4):
    """Circle loss (Sun et al., 2020) on L2-normalized embeddings with integer labels.

    Pairs of the same label are pulled together and pairs of different labels
    pushed apart, each weighted by how far it is from its optimum; the
    references are the batch itself unless `ref_labels` / `ref_embeddings` are
    given. Written with `numnet.ops` (a matrix product, masks, `logsumexp`); a
    sample with no pair of either kind has loss 0 and, in `Circle`, does not
    count in the average.
    """
    y_pred = _prediction(y_pred)
    labels = ops.cast(_tensor(y_true), "int32")
    references = y_pred if ref_embeddings is None else _tensor(ref_embeddings,
                                                               y_pred.data.dtype)
    ref_labels = labels if ref_labels is None else ops.cast(_tensor(ref_labels), "int32")
    distances = ops.maximum(ops.subtract(1.0, ops.matmul(y_pred, ops.transpose(references))),
                            0.0)
    positive, negative = _pair_masks(labels, ref_labels, remove_diagonal)
    dtype = distances.data.dtype
    pos_weights = ops.maximum(ops.multiply(ops.add(distances, margin),
                                           ops.cast(positive, dtype)), 0.0)
    neg_weights = ops.maximum(ops.multiply(ops.subtract(1.0 + margin, distances),
                                           ops.cast(negative, dtype)), 0.0)
    pos_terms = ops.multiply(ops.multiply(pos_weights, ops.subtract(margin, distances)),
                             -float(gamma))
    neg_terms = ops.multiply(ops.multiply(neg_weights, ops.subtract(1.0 - margin, distances)),
                             float(gamma))
    pos_loss = ops.logsumexp(ops.where(positive, pos_terms, -math.inf), axis=1)
    neg_loss = ops.logsumexp(ops.where(negative, neg_terms, -math.inf), axis=1)
    return ops.softplus(ops.add(pos_loss, neg_loss))


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error


def _rank_matched(weights, shape, what="sample_weight"):
    """Sample weights with a rank the values' `shape` broadcasts with.

    As Keras does, a trailing length-1 axis beyond the values' rank is
    dropped; weights of lower rank gain trailing axes (per-sample weights of
    per-sample-and-step values). Weights may also broadcast the values (a
    scalar loss times per-sample weights gives per-sample values, as in Keras).
    """
    if weights.ndim == len(shape) + 1 and weights.shape[-1] == 1:
        weights = ops.reshape(weights, weights.shape[:-1])
    if 0 < weights.ndim < len(shape):
        weights = ops.reshape(weights, tuple(weights.shape) + (1,) * (len(shape) - weights.ndim))
    try:
        xp.broadcast_shapes(tuple(weights.shape), shape)
    except ValueError:
        raise ValueError(
            f"`{what}` of shape {tuple(weights.shape)} cannot be applied to per-sample "
            f"losses of shape {shape}."
        ) from None
    return weights


def _masked_weights(weights, mask, reduction, values):
    """Keras' `apply_mask`: the mask becomes weights; averaging reductions rescale it by
    `size / count(mask)` so that they average over the unmasked values."""
    dtype = values.data.dtype
    mask = ops.cast(mask, dtype)
    if reduction in ("mean", "sum_over_batch_size"):
        valid = ops.sum(mask)
        empty = ops.equal(valid, 0)
        count = float(math.prod(ops.shape(mask)))
        scale = ops.where(empty, 0.0, ops.divide(count, ops.where(empty, 1.0, valid)))
        mask = ops.multiply(mask, scale)
    if weights is None:
        return mask
    return ops.multiply(_rank_matched(weights, tuple(mask.shape)), mask)


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size", mask=None):
    """Applies `sample_weight` (and a mask of the values) and the reduction, as Keras does.

    Scalar values (a loss already reduced, as `dice` with `axis=None`) are
    returned as they are unless weights spread them; `"mean_with_sample_weight"`
    divides by the sum of the weights as given (0 when they sum to 0).
    """
    shape = tuple(values.shape)
    weights = None if sample_weight is None else \
        _rank_matched(_tensor(sample_weight, values.data.dtype), shape)
    if mask is not None:
        weights = _masked_weights(weights, mask, reduction, values)
        # A mask of another rank than the values (a trailing length-1 axis on either)
        # lines up as Keras lines them up, rather than broadcasting to a square.
        values, weights = squeeze_or_expand_to_same_rank(values, weights)
        shape = tuple(values.shape)
    full = None
    if weights is not None:
        shape = xp.broadcast_shapes(tuple(weights.shape), shape)
        if shape != tuple(values.shape):
            values = ops.broadcast_to(values, shape)
        full = weights if tuple(weights.shape) == shape else ops.broadcast_to(weights, shape)
    if reduction in ("none", None) or shape == () or shape == (0,):
        return values if full is None else ops.multiply(values, full)
    if reduction == "sum":
        return ops.weighted_sum(values, full)
    if reduction == "mean_with_sample_weight" and weights is not None:
        total = ops.sum(weights)
        empty = ops.equal(total, 0)  # divide_no_nan, as in Keras
        return ops.where(empty, 0.0, ops.divide(ops.weighted_sum(values, full),
                                                ops.where(empty, 1.0, total)))
    return ops.weighted_sum(values, full, scale=1.0 / math.prod(shape))


# ---------------------------------------------------------------- classes
class Loss:
    """Base class: subclasses implement `call(y_true, y_pred)` returning per-sample losses.

    Args:
        name: the loss name.
        reduction: "sum_over_batch_size" (default), "sum", "mean",
            "mean_with_sample_weight" or "none".
        dtype: the dtype of the computation (floatx by default).
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"Invalid value for argument `reduction`. Expected one of {REDUCTIONS}. "
                f"Received: reduction={reduction!r}"
            )
        from numnet.backend import standardize_dtype
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction
        self._dtype = standardize_dtype(dtype)

    @property
    def dtype(self):
        """The dtype the loss computes in: `dtype` as given, else `floatx()` at construction.

        As in Keras, `y_true` and `y_pred` are converted to it (float and boolean
        values; integer targets keep their dtype, as class labels are indices), and
        the loss values are reduced in it.
        """
        return self._dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        in_mask = get_keras_mask(y_pred)  # as Keras: a mask on the predictions weighs them
        y_pred = _loss_inputs(y_pred, self._dtype, prediction=True)
        y_true = _loss_inputs(y_true, self._dtype)
        values = self.call(y_true, y_pred)
        values = _tensor(values, self._dtype if _is_float_or_int(values) else None)
        return reduce_values(values, sample_weight, self.reduction,
                             mask=combine_masks(in_mask, self._mask(values)))

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def _mask(self, values):
        """Which loss values count (a boolean tensor), or None for all; `Circle` masks zeros.

        Keras attaches this mask to the returned values; it reweights them in
        the reduction as a mask on the predictions would.
        """
        return None

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("dtype", None)
        return cls(**config)


def _loss_inputs(x, dtype, prediction=False):
    """`_as_loss_input` on each array of a structure (dicts, and lists or tuples holding
    arrays or structures: the targets of several outputs); plain lists are one array."""
    if isinstance(x, dict):
        return {key: _loss_inputs(value, dtype, prediction) for key, value in x.items()}
    if isinstance(x, (list, tuple)) and x and all(
            isinstance(item, (Tensor, xp.ndarray, list, tuple, dict)) for item in x) and \
            not all(isinstance(item, (list, tuple)) for item in x):
        items = [_loss_inputs(item, dtype, prediction) for item in x]
        return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)
    return _as_loss_input(x, dtype, prediction)


def _is_float_or_int(values):
    """Whether loss values are numbers the loss' dtype can hold (not booleans or objects)."""
    kind = _value(values).dtype.kind
    return kind in "fiu"


def _as_loss_input(x, dtype, prediction=False):
    """`x` as a tensor in the loss' dtype (what Keras' `Loss.__call__` converts to).

    Integer targets keep their dtype: class labels are used as indices, and
    the loss functions cast them where they are values.
    """
    if isinstance(x, Tensor):
        kind = x.data.dtype.kind
        if (kind == "f" or prediction or kind == "b") and x.data.dtype != xp.dtype(dtype):
            return ops.cast(x, dtype)
        return x
    array = xp.asarray(x)
    if array.dtype.kind in "fb" or prediction:
        return ops.convert_to_tensor(array, dtype=dtype)
    return ops.convert_to_tensor(array)


def _snake(name):
    from numnet.backend import to_snake_case
    return to_snake_case(name)


class LossFunctionWrapper(Loss):
    """Turns a per-sample loss function into a `Loss` (keyword args are passed through)."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or fn.__name__, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("dtype", None)
        if cls is LossFunctionWrapper:
            fn = get(config.pop("fn"))
            return cls(fn, **config)
        return cls(**config)


@register_builtin("keras.losses")
class MeanSquaredError(LossFunctionWrapper):
    """Mean of squares of errors between labels and predictions."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


@register_builtin("keras.losses")
class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors between labels and predictions."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


@register_builtin("keras.losses")
class MeanAbsolutePercentageError(LossFunctionWrapper):
    """Mean absolute percentage error."""

    def __init__(self, reduction="sum_over_batch_size",
                 name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, reduction=reduction, name=name, dtype=dtype)


@register_builtin("keras.losses")
class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """Mean squared logarithmic error."""

    def __init__(self, reduction="sum_over_batch_size",
                 name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, reduction=reduction, name=name, dtype=dtype)


@register_builtin("keras.losses")
class Huber(LossFunctionWrapper):
    """Huber loss: quadratic for small errors, linear for large ones (robust to outliers)."""

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)

    def get_config(self):
        # Keras 3.15 writes only `name` and `reduction` for Huber (its `delta` is not saved).
        return Loss.get_config(self)


@register_builtin("keras.losses")
class BinaryCrossentropy(LossFunctionWrapper):
    """Cross-entropy for binary (0 or 1) labels, one sigmoid output per label."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits


@register_builtin("keras.losses")
class CategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for one-hot labels."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits


@register_builtin("keras.losses")
class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for integer class labels."""

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 axis=-1, name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name,
                         dtype=dtype, from_logits=from_logits, ignore_class=ignore_class,
                         axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class

    def get_config(self):
        # Keras' config: `axis` is a constructor argument but is not saved.
        return {**Loss.get_config(self), "from_logits": self.from_logits,
                "ignore_class": self.ignore_class}



@register_builtin("keras.losses")
class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence between target and predicted distributions."""

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, reduction=reduction, name=name, dtype=dtype)


@register_builtin("keras.losses")
class Poisson(LossFunctionWrapper):
    """Poisson loss: `y_pred - y_true * log(y_pred)`, averaged over the last axis."""

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, reduction=reduction, name=name, dtype=dtype)


@register_builtin("keras.losses")
class Hinge(LossFunctionWrapper):
    """Hinge loss for -1/1 (or 0/1) labels."""

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, reduction=reduction, name=name, dtype=dtype)


@register_builtin("keras.losses")
class SquaredHinge(LossFunctionWrapper):
    """Squared hinge loss for -1/1 (or 0/1) labels."""

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, reduction=reduction, name=name, dtype=dtype)


@register_builtin("keras.losses")
class CategoricalHinge(LossFunctionWrapper):
    """Categorical hinge loss for one-hot labels."""

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, reduction=reduction, name=name, dtype=dtype)


@register_builtin("keras.losses")
class LogCosh(LossFunctionWrapper):
    """Logarithm of the hyperbolic cosine of the prediction error."""

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)


@register_builtin("keras.losses")
class CosineSimilarity(LossFunctionWrapper):
    """Negative cosine similarity between labels and predictions (see `cosine_similarity`).

    As in Keras, `get_config()` holds only `name` and `reduction` (`axis` is not saved).
    """

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity",
                 dtype=None):
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype,
                         axis=axis)

    def get_config(self):
        return Loss.get_config(self)


class _ConfiguredLoss(LossFunctionWrapper):
    """A wrapper whose config is Keras': `name`, `reduction` and the attributes listed."""

    _config_keys = ()

    def get_config(self):
        return {**Loss.get_config(self), **{key: getattr(self, key) for key in self._config_keys}}


@register_builtin("keras.losses")
class BinaryFocalCrossentropy(_ConfiguredLoss):
    """Binary focal cross-entropy (see `binary_focal_crossentropy`): a binary cross-entropy
    that focuses training on hard, misclassified examples."""

    _config_keys = ("from_logits", "label_smoothing", "axis", "apply_class_balancing", "alpha",
                    "gamma")

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                 label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_focal_crossentropy", dtype=None):
        super().__init__(binary_focal_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.apply_class_balancing = apply_class_balancing
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


@register_builtin("keras.losses")
class CategoricalFocalCrossentropy(_ConfiguredLoss):
    """Categorical focal cross-entropy for one-hot labels (see
    `categorical_focal_crossentropy`)."""

    _config_keys = ("from_logits", "label_smoothing", "axis", "alpha", "gamma")

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy",
                 dtype=None):
        super().__init__(categorical_focal_crossentropy, reduction=reduction, name=name,
                         dtype=dtype, alpha=alpha, gamma=gamma, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


@register_builtin("keras.losses")
class CategoricalGeneralizedCrossEntropy(_ConfiguredLoss):
    """Generalized cross-entropy for integer labels (see
    `categorical_generalized_cross_entropy`); `q` must lie in (0, 1)."""

    _config_keys = ("q",)

    def __init__(self, q=0.5, reduction="sum_over_batch_size",
                 name="categorical_generalized_cross_entropy", dtype=None):
        if not 0 < q < 1:
            raise ValueError("q must be in the interval (0, 1)")
        super().__init__(categorical_generalized_cross_entropy, reduction=reduction, name=name,
                         dtype=dtype, q=q)
        self.q = q


@register_builtin("keras.losses")
class Dice(_ConfiguredLoss):
    """Dice loss (see `dice`); with the default `axis=None` one value for the whole batch."""

    _config_keys = ("axis",)

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(dice, reduction=reduction, name=name, dtype=dtype, axis=axis)
        self.axis = axis


@register_builtin("keras.losses")
class Tversky(_ConfiguredLoss):
    """Tversky loss (see `tversky`): Dice with separate weights for false positives and
    false negatives."""

    _config_keys = ("alpha", "beta", "axis")

    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky",
                 axis=None, dtype=None):
        super().__init__(tversky, reduction=reduction, name=name, dtype=dtype, alpha=alpha,
                         beta=beta, axis=axis)
        self.alpha = alpha
        self.beta = beta
        self.axis = axis


@register_builtin("keras.losses")
class Circle(_ConfiguredLoss):
    """Circle loss for metric learning (see `circle`): `y_true` integer labels, `y_pred`
    L2-normalized embeddings. Samples whose loss is 0 are left out of the average."""

    _config_keys = ("gamma", "margin", "remove_diagonal")

    def __init__(self, gamma=80.0, margin=0.4, remove_diagonal=True,
                 reduction="sum_over_batch_size", name="circle", dtype=None):
        super().__init__(circle, reduction=reduction, name=name, dtype=dtype, gamma=gamma,
                         margin=margin, remove_diagonal=remove_diagonal)
        self.gamma = gamma
        self.margin = margin
        self.remove_diagonal = remove_diagonal

    def _mask(self, values):
        return ops.greater(values, 0.0)


ALL_FUNCTIONS = {
    fn.__name__: fn
    for fn in (mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
               mean_squared_logarithmic_error, huber, binary_crossentropy,
               categorical_crossentropy, sparse_categorical_crossentropy,
               kl_divergence, poisson, hinge, squared_hinge, categorical_hinge, log_cosh,
               cosine_similarity, binary_focal_crossentropy, categorical_focal_crossentropy,
               categorical_generalized_cross_entropy, dice, tversky, circle)
}
ALIASES = {"mse": mean_squared_error, "mae": mean_absolute_error,
           "mape": mean_absolute_percentage_error, "msle": mean_squared_logarithmic_error,
           "MSE": mean_squared_error, "MAE": mean_absolute_error,
           "MAPE": mean_absolute_percentage_error, "MSLE": mean_squared_logarithmic_error,
           "huber_loss": huber, "kld": kl_divergence, "KLD": kl_divergence,
           "bce": binary_crossentropy, "BCE": binary_crossentropy}
ALL_CLASSES = {cls.__name__: cls for cls in (
    Loss, LossFunctionWrapper, MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, Huber, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy, KLDivergence, Poisson, Hinge, SquaredHinge,
    CategoricalHinge, LogCosh, CosineSimilarity, BinaryFocalCrossentropy,
    CategoricalFocalCrossentropy, CategoricalGeneralizedCrossEntropy, Dice, Tversky, Circle)}
_CLASS_FOR_FUNCTION = {
    mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
    mean_absolute_percentage_error: MeanAbsolutePercentageError,
    mean_squared_logarithmic_error: MeanSquaredLogarithmicError, huber: Huber,
    binary_crossentropy: BinaryCrossentropy, categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    kl_divergence: KLDivergence, poisson: Poisson, hinge: Hinge, squared_hinge: SquaredHinge,
    categorical_hinge: CategoricalHinge, log_cosh: LogCosh,
    cosine_similarity: CosineSimilarity, binary_focal_crossentropy: BinaryFocalCrossentropy,
    categorical_focal_crossentropy: CategoricalFocalCrossentropy,
    categorical_generalized_cross_entropy: CategoricalGeneralizedCrossEntropy, dice: Dice,
    tversky: Tversky, circle: Circle,
}


def serialize(loss):
    """The config Keras stores for `loss` (a string for built-in functions)."""
    if callable(loss) and not isinstance(loss, Loss):
        return getattr(loss, "__name__", loss)
    return serialize_keras_object(loss)


def deserialize(name, custom_objects=None):
    """Rebuilds a loss from a name or config."""
    return get(name, custom_objects=custom_objects)


def get(identifier, custom_objects=None):
    """Returns a loss function or object for a string, config, callable or `Loss`."""
    if identifier is None:
        return None
    if isinstance(identifier, Loss) or (callable(identifier) and not isinstance(identifier, (str, dict, type))):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        found = (ALL_FUNCTIONS.get(identifier) or ALIASES.get(identifier)
                 or get_registered_object(identifier, custom_objects))
        if found is None and identifier in ALL_CLASSES:
            found = ALL_CLASSES[identifier]()
        if found is None:
            raise ValueError(
                f"Unknown loss: '{identifier}'. Expected one of "
                f"{sorted(set(ALL_FUNCTIONS) | set(ALIASES) | set(ALL_CLASSES) - {'Loss', 'LossFunctionWrapper'})}"
                ", a `numnet.losses.Loss` or a callable."
            )
        return found
    if isinstance(identifier, dict):
        return deserialize_keras_object(identifier, custom_objects=custom_objects,
                                        module_objects={**ALL_CLASSES, **ALL_FUNCTIONS},
                                        printable_module_name="loss")
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")


def as_loss_object(identifier):
    """Returns a `Loss` instance for any loss identifier (functions get their class)."""
    loss = get(identifier)
    if isinstance(loss, Loss):
        return loss
    cls = _CLASS_FOR_FUNCTION.get(loss)
    if cls is not None:
        return cls()
    return LossFunctionWrapper(loss, name=getattr(loss, "__name__", "loss"))
