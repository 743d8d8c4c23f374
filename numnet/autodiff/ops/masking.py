"""Keras masks: a boolean tensor that rides along with the tensor it masks.

As in Keras 3, a mask is attached to a tensor as its `_keras_mask` (shape: the
tensor's shape without its last axis, True where the entry is real). Layers
that produce one (`Masking`, `Embedding(mask_zero=True)`) attach it; layers
that support masking pass it on (`Layer.compute_mask`); losses and
`MeanMetricWrapper` metrics fold it into their sample weights (`apply_mask`).
Everything here is made of numnet ops, so a compiled step replays the mask
arithmetic with the rest of the step.
"""

from numnet.autodiff.ops.core import cast, convert_to_tensor, operand
from numnet.autodiff.ops.arithmetic import divide, multiply
from numnet.autodiff.ops.math import equal, where
from numnet.autodiff.ops.reductions import sum as reduce_sum
from numnet.autodiff.ops.shape import expand_dims, squeeze


def get_keras_mask(x):
    """The mask attached to `x` (None if there is none or `x` cannot carry one).

    A symbolic `KerasTensor` carries the symbolic mask its layer computed, as in Keras.
    """
    return getattr(x, "_keras_mask", None)


def set_keras_mask(x, mask):
    """Attaches `mask` to the tensor `x` (`None` removes it)."""
    if mask is None:
        if getattr(x, "_keras_mask", None) is not None:
            x._keras_mask = None
        return
    x._keras_mask = mask


def masks_of(structure):
    """The masks of a structure's tensors, in its shape, or None when no leaf has one.

    A single tensor (or KerasTensor) gives its mask; a list/tuple/dict gives the same structure
    with each leaf's mask (None where a leaf has none), as Keras'
    `tree.map_structure(get_keras_mask, inputs)`.
    """
    if isinstance(structure, (list, tuple)):
        masks = [masks_of(item) for item in structure]
        if all(m is None for m in masks):
            return None
        return type(structure)(*masks) if hasattr(structure, "_fields") else \
            type(structure)(masks)
    if isinstance(structure, dict):
        masks = {key: masks_of(value) for key, value in structure.items()}
        return None if all(m is None for m in masks.values()) else masks
    return getattr(structure, "_keras_mask", None)  # a tensor (or a KerasTensor)


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Squeezes or expands the last axis when two ranks differ by exactly one (Keras' rule)."""
    rank1, rank2 = len(x1.shape), len(x2.shape)
    if rank1 == rank2 + 1 and x1.shape[-1] == 1:
        if rank2 == 1 and expand_rank_1:
            x2 = expand_dims(x2, -1)
        else:
            x1 = squeeze(x1, -1)
    elif rank2 == rank1 + 1 and x2.shape[-1] == 1:
        if rank1 == 1 and expand_rank_1:
            x1 = expand_dims(x1, -1)
        else:
            x2 = squeeze(x2, -1)
    return x1, x2


def apply_mask(sample_weight, mask, dtype, reduction):
    """Folds `mask` into `sample_weight`, as Keras' `losses.loss.apply_mask`.

    For the averaging reductions ("sum_over_batch_size", "mean") a real entry
    weighs `total / valid` and a masked one 0, so that the mean over all
    entries is the mean over the real ones; otherwise the mask is 0/1.
    """
    if mask is None:
        return sample_weight
    mask = operand(mask)
    if reduction in ("mean", "sum_over_batch_size"):
        total = 1.0
        for size in mask.shape:
            total *= size
        valid = reduce_sum(cast(mask, dtype))
        empty = equal(valid, 0)
        # divide_no_nan(total, valid): no real entry gives weight 0, not inf
        weight = where(empty, 0.0, divide(total, where(empty, 1.0, valid)))
        float_mask = where(cast(mask, bool), weight, 0.0)
    else:
        float_mask = cast(mask, dtype)
    if sample_weight is None:
        return float_mask
    sample_weight = convert_to_tensor(sample_weight)
    sample_weight = cast(sample_weight, dtype)
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
    return multiply(sample_weight, float_mask)


def combine_masks(first, second):
    """`first & second` (either may be None)."""
    from numnet.autodiff.ops.math import logical_and
    if first is None:
        return second
    if second is None:
        return first
    return logical_and(first, second)


__all__ = ["apply_mask", "combine_masks", "get_keras_mask", "masks_of", "set_keras_mask",
           "squeeze_or_expand_to_same_rank"]
