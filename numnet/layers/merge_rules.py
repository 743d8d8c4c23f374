"""How the merging layers treat masks and mixed dtypes, as in Keras 3.

- `merged_mask` (`Add`, `Subtract`, `Average`, ...): with every input masked,
  an entry is real where any input's is; with one input unmasked, no mask;
- `concatenated_mask` (`Concatenate`): the masks (all-True for unmasked
  inputs) joined along the concatenation axis, reduced over the last axis;
- `masked_multiply`, `masked_extreme` (`Multiply`, `Maximum`, `Minimum`):
  masked entries are left out of the product / extreme, and the output gets
  the OR of the masks when every input has one;
- `common_float`: integer inputs joined with float ones become floats of
  the float inputs' dtype (Keras' type promotion, not NumPy's float64).
"""

from numnet.autodiff import ops
from numnet.autodiff.ops.masking import get_keras_mask, set_keras_mask


def _check(inputs, mask):
    if not isinstance(mask, (tuple, list)):
        raise ValueError(f"`mask` should be a list. Received: mask={mask}")
    if not isinstance(inputs, (tuple, list)):
        raise ValueError(f"`inputs` should be a list. Received: inputs={inputs}")
    if len(mask) != len(inputs):
        raise ValueError(
            "The lists `inputs` and `mask` should have the same length. Received: "
            f"inputs of length {len(inputs)}, and mask={mask} of length {len(mask)}")


def merged_mask(inputs, mask):
    """The OR of the input masks (None unless every input is masked)."""
    if mask is None:
        return None
    _check(inputs, mask)
    if any(m is None for m in mask):
        return None
    output = mask[0]
    for m in mask[1:]:
        output = ops.logical_or(output, m)
    return output


def concatenated_mask(inputs, mask, axis):
    """The mask of a concatenation along `axis` (None if no input is masked)."""
    if mask is None:
        return None
    _check(inputs, mask)
    if all(m is None for m in mask):
        return None
    masks = []
    for x, m in zip(inputs, mask):
        if m is None:
            masks.append(ops.broadcast_to(True, tuple(x.shape)))
        elif m.ndim < x.ndim:
            masks.append(ops.broadcast_to(ops.expand_dims(m, -1), tuple(x.shape)))
        else:
            masks.append(m)
    return ops.any(ops.concatenate(masks, axis=axis), axis=-1)


def common_float(inputs):
    """Integer inputs cast to the inputs' float dtype, as Keras promotes int64 + float32 to
    float32 (NumPy would make it float64); unchanged when no input is a float."""
    dtypes = [x.data.dtype for x in inputs if hasattr(x, "data")]
    floats = [d for d in dtypes if d.kind == "f"]
    if not floats or len(floats) == len(dtypes):
        return inputs
    target = max(floats, key=lambda d: d.itemsize)
    return [x if x.data.dtype.kind == "f" else ops.cast(x, target) for x in inputs]


def _spread(mask, x):
    return ops.broadcast_to(ops.expand_dims(mask, -1), tuple(x.shape))


def masked_multiply(inputs):
    """The product of the inputs, masked entries counting as 1 (then 0 in the output)."""
    masks = [get_keras_mask(x) for x in inputs]
    every = all(m is not None for m in masks)
    output = output_mask = None
    for x, mask in zip(inputs, masks):
        if mask is not None:
            mask = _spread(mask, x)
            x = ops.where(mask, x, ops.cast(1, x.dtype))
            if every:
                output_mask = mask if output_mask is None else ops.logical_or(output_mask, mask)
        output = x if output is None else ops.multiply(output, x)
    if every:
        output = ops.where(output_mask, output, ops.cast(0, output.dtype))
        set_keras_mask(output, ops.any(output_mask, axis=-1))
    return output


def masked_extreme(op, inputs):
    """`op` (maximum or minimum) over the inputs, skipping masked entries."""
    output = output_mask = None
    for x in inputs:
        mask = get_keras_mask(x)
        if mask is not None:
            mask = _spread(mask, x)
        if output is None:
            output, output_mask = x, mask
            continue
        if mask is not None:
            x = ops.where(mask, x, output)
        if output_mask is not None:
            output = ops.where(output_mask, output, x)
        output_mask = ops.logical_or(output_mask, mask) if mask is not None and \
            output_mask is not None else None
        output = op(output, x)
    if output_mask is not None:
        set_keras_mask(output, ops.any(output_mask, axis=-1))
    return output


__all__ = ["common_float", "concatenated_mask", "masked_extreme", "masked_multiply", "merged_mask"]
