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
    """The best label sequences of `inputs` `(batch, steps, classes)`, `mask_index` the blank.

    "greedy": the class of largest input at each step, repeats merged (unless
    `merge_repeated=False`) and blanks dropped; `scores` `(batch, 1)` are minus the sum of
    the steps' largest inputs (TensorFlow's). "beam_search": a prefix beam search over
    the log-softmax of `inputs` (see `_beam_search`) keeping `beam_width` prefixes;
    `scores` `(batch, top_paths)` are the log-probabilities of the `top_paths` best label
    sequences, summed over their alignments. `decoded` is `(paths, batch, steps)` int32,
    padded with -1.
    """
    if strategy not in ("greedy", "beam_search"):
        raise ValueError(f"Invalid strategy {strategy}. Supported values are 'greedy' and "
                         f"'beam_search'.")
    values = xp.asarray(inputs)
    if values.dtype.kind != "f":
        values = values.astype(xp.float32)
    lengths = xp.asarray(sequence_lengths).astype(xp.int64)
    if values.ndim != 3 or lengths.shape != values.shape[:1]:
        raise ValueError(f"ctc_decode: inputs must be (batch, steps, classes) and "
                         f"sequence_lengths (batch,); received shapes {values.shape} and "
                         f"{lengths.shape}.")
    if strategy == "beam_search":
        return _beam_search_decode(values, lengths, beam_width, top_paths, mask_index)
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


def _beam_search_decode(values, lengths, beam_width, top_paths, mask_index):
    """`ctc_decode`'s beam search: each sample searched on its own (a decoder, not a
    training step: Keras' backends loop over the samples too)."""
    batch, steps, classes = values.shape
    beam_width, top_paths = int(beam_width), int(top_paths)
    if beam_width < 1 or not 1 <= top_paths <= beam_width:
        raise ValueError(f"ctc_decode: beam_width must be at least 1 and top_paths between 1 "
                         f"and beam_width; received beam_width={beam_width}, "
                         f"top_paths={top_paths}.")
    blank = (classes - 1 if mask_index is None else mask_index) % classes
    shifted = values.astype(xp.float64) - values.max(axis=-1, keepdims=True)
    log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))
    decoded = xp.full((top_paths, batch, steps), -1, dtype=xp.int32)
    scores = xp.full((batch, top_paths), -xp.inf)
    for sample in range(batch):
        paths, best = _beam_search(log_probs[sample], int(lengths[sample]), blank,
                                   beam_width, top_paths)
        decoded[:len(paths), sample] = paths
        scores[sample, :len(best)] = best
    return as_tensor(decoded), as_tensor(scores.astype(values.dtype))


def _beam_search(log_probs, length, blank, beam_width, top_paths):
    """The `top_paths` best prefixes (rows padded with -1) of a prefix beam search over the
    `(steps, classes)` log-probabilities, and their log-probabilities.

    Each prefix in the beam carries two numbers: the log-probability of the alignments so
    far that give it and end in a blank, and of those that end in its last label. A step
    keeps a prefix by a blank or by its last label again (merged), and grows it by any
    label; a label equal to the last one grows it only after a blank. Prefixes reached
    twice are merged (their probabilities summed), and the `beam_width` most probable
    stay. Ties go as in Keras (and TensorFlow): to the prefix that is larger in the order
    of class indices counted from the last class down.
    """
    steps, classes = log_probs.shape
    labels = xp.array([c for c in range(classes) if c != blank], dtype=xp.int64)
    paths = xp.full((1, steps), -1, dtype=xp.int64)
    sizes = xp.zeros(1, dtype=xp.int64)
    ends_blank, ends_label = xp.zeros(1), xp.full(1, -xp.inf)
    for t in range(steps):
        if t > 0 and t >= length:  # (the first step counts even for an empty sequence)
            break
        x = log_probs[t]
        total = xp.logaddexp(ends_blank, ends_label)
        count = len(paths)
        last = xp.where(sizes > 0, paths[xp.arange(count), xp.maximum(sizes - 1, 0)], -1)
        kept_label = xp.where(last >= 0, ends_label + x[xp.maximum(last, 0)], -xp.inf)
        grown_label = xp.where(labels[None, :] == last[:, None], ends_blank[:, None],
                               total[:, None]) + x[labels][None, :]
        grown = xp.repeat(paths, len(labels), axis=0)
        grown[xp.arange(len(grown)), xp.repeat(sizes, len(labels))] = xp.tile(labels, count)
        candidates, where_to = xp.unique(xp.concatenate([paths, grown]), axis=0,
                                         return_inverse=True)
        where_to = where_to.reshape(-1)
        ends_blank = _log_sum_by_group(xp.concatenate(
            [total + x[blank], xp.full(grown.shape[0], -xp.inf)]), where_to, len(candidates))
        ends_label = _log_sum_by_group(xp.concatenate([kept_label, grown_label.reshape(-1)]),
                                       where_to, len(candidates))
        keep = _ranked(candidates, xp.logaddexp(ends_blank, ends_label), classes)[-beam_width:]
        paths, ends_blank, ends_label = candidates[keep], ends_blank[keep], ends_label[keep]
        sizes = (paths >= 0).sum(axis=1)
    total = xp.logaddexp(ends_blank, ends_label)
    best = _ranked(paths, total, classes)[::-1][:top_paths]
    return paths[best], total[best]


def _ranked(paths, scores, classes):
    """Indices of `paths` by increasing score; among equal scores, by the paths in the order
    of class indices counted from the last class down (-1, the padding, first)."""
    keys = xp.where(paths >= 0, classes - 1 - paths, -1)
    return xp.lexsort(xp.concatenate([keys[:, ::-1].T, scores[None, :]]))


def _log_sum_by_group(scores, groups, count):
    """`log(sum(exp(scores)))` within each of `count` groups, each shifted by its largest."""
    largest = xp.full(count, -xp.inf)
    xp.maximum.at(largest, groups, scores)
    shift = xp.where(xp.isfinite(largest), largest, 0.0)
    sums = xp.zeros(count)
    xp.add.at(sums, groups, xp.exp(scores - shift[groups]))
    with xp.errstate(divide="ignore"):
        return xp.log(sums) + shift


__all__ = ["ctc_decode", "ctc_loss"]
