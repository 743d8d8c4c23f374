"""Connectionist temporal classification, as Keras' `ops.ctc_loss` and `ops.ctc_decode`.

The loss is the forward (alpha) recursion of Graves et al. in log space over the labels
with blanks between them, one step of numnet ops per time step for the whole batch, so
its gradient is the autodiff's (the backward recursion is not written out). Unreachable
states hold a large negative number instead of -inf, which keeps the gradients finite.
"""

import math as _math

from numnet.autodiff.ops.core import as_tensor, cast, xp
from numnet.autodiff.ops.math import logaddexp, where
from numnet.autodiff.ops.nn import log_softmax
from numnet.autodiff.ops.shape import concatenate, getitem, pad, take_along_axis

_UNREACHABLE = -1e30


def _labels_with_blanks(target, target_length, blank):
    """`[blank, l1, blank, l2, ..., blank]` per sample (padded with blanks), and where the
    recursion may skip a blank (between two different labels)."""
    batch, longest = target.shape
    extended = xp.full((batch, 2 * longest + 1), blank, dtype=xp.int64)
    extended[:, 1::2] = target
    skip = xp.zeros(extended.shape, dtype=bool)
    skip[:, 2:] = (extended[:, 2:] != blank) & (extended[:, 2:] != extended[:, :-2])
    inside = xp.arange(2 * longest + 1)[None, :] < (2 * target_length + 1)[:, None]
    return extended, skip & inside


def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """The negative log-likelihood of each sample's label sequence `target` (padded,
    `target_length` long) under the per-step logits `output` `(batch, steps, classes)`
    over `output_length` steps, summed over all alignments; `mask_index` is the blank."""
    logits = as_tensor(output)
    if logits.data.dtype.kind != "f":
        logits = cast(logits, "float32")
    # (read into Python, as a tensor's `__array__` tells a compiled step: it runs eagerly)
    labels = xp.asarray(target).astype(xp.int64)
    label_lengths = xp.asarray(target_length).astype(xp.int64)
    steps_used = xp.asarray(output_length).astype(xp.int64)
    batch, steps, classes = logits.shape
    blank = mask_index % classes
    if labels.ndim != 2 or labels.shape[0] != batch:
        raise ValueError(f"ctc_loss: target must be (batch, max_label_length) with batch "
                         f"{batch}; received shape {labels.shape}.")
    extended, skip = _labels_with_blanks(labels, label_lengths, blank)
    states = extended.shape[1]
    scores = log_softmax(logits, axis=-1)
    emitted = take_along_axis(scores, xp.broadcast_to(extended[:, None, :],
                                                      (batch, steps, states)), axis=2)
    start = xp.full((batch, states), _UNREACHABLE, dtype=logits.data.dtype)
    start[:, :2] = 0.0
    alpha = as_tensor(start) + getitem(emitted, (slice(None), 0))
    edge = [(0, 0), (1, 0)]
    for t in range(1, steps):
        one_back = pad(getitem(alpha, (slice(None), slice(0, -1))), edge,
                       constant_values=_UNREACHABLE)
        two_back = pad(getitem(alpha, (slice(None), slice(0, -2))), [(0, 0), (2, 0)],
                       constant_values=_UNREACHABLE)
        two_back = where(skip, two_back, _UNREACHABLE)
        step = logaddexp(logaddexp(alpha, one_back), two_back) + getitem(emitted,
                                                                       (slice(None), t))
        alpha = where((t < steps_used)[:, None], step, alpha)
    last = (2 * label_lengths)[:, None]
    ends = take_along_axis(alpha, concatenate([as_tensor(last), as_tensor(
        xp.maximum(last - 1, 0))], axis=1), axis=1)
    both = logaddexp(getitem(ends, (slice(None), 0)),
                     where(label_lengths > 0, getitem(ends, (slice(None), 1)), _UNREACHABLE))
    loss = -both
    return where(loss > -_UNREACHABLE / 2, _math.inf, loss)  # no alignment fits: inf


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1,
               merge_repeated=True, mask_index=0):
    """The best label sequences of `inputs` `(batch, steps, classes)`: with "greedy", the
    class of largest input at each step, repeats merged and blanks (`mask_index`) dropped.
    Returns `(decoded, scores)`: `decoded` `(1, batch, steps)` int32, padded with -1, and
    `scores` `(batch, 1)`, minus the sum of the steps' largest inputs (TensorFlow's)."""
    if strategy == "beam_search":
        raise NotImplementedError("ctc_decode: numnet has no beam search yet; use "
                                  "strategy='greedy'.")
    if strategy != "greedy":
        raise ValueError(f"Invalid strategy {strategy}. Supported values are 'greedy' and "
                         f"'beam_search'.")
    values = xp.asarray(inputs)
    if values.dtype.kind != "f":
        values = values.astype(xp.float32)
    lengths = xp.asarray(sequence_lengths).astype(xp.int64)
    batch, steps, classes = values.shape
    blank = mask_index % classes
    best = values.argmax(axis=-1)
    inside = xp.arange(steps)[None, :] < lengths[:, None]
    keep = inside & (best != blank)
    if merge_repeated:  # a label equal to the step before's (blank or not) repeats it
        keep[:, 1:] &= best[:, 1:] != best[:, :-1]
    rows, _ = xp.nonzero(keep)
    decoded = xp.full((1, batch, steps), -1, dtype=xp.int32)
    decoded[0, rows, (xp.cumsum(keep, axis=1) - 1)[keep]] = best[keep]
    scores = -xp.where(inside, values.max(axis=-1), 0).sum(axis=1, keepdims=True)
    return as_tensor(decoded), as_tensor(scores.astype(values.dtype))


__all__ = ["ctc_decode", "ctc_loss"]
