"""Re-reading a tensor's layout: `rearrange` (einops' notation, as Keras' `ops.rearrange`)
and `view` (the same bytes as another dtype).

`rearrange` is reshapes and one transpose, so its gradient, replay and export are theirs.
`view` reinterprets bits: it has no gradient.
"""

import re

from numnet.autodiff.ops.core import Primitive, as_tensor, no_gradient, xp
from numnet.autodiff.ops.shape import reshape, transpose
from numnet.backend import standardize_dtype

_TERM = re.compile(r"\([^()]*\)|[A-Za-z_]\w*|\S")


def _terms(side, pattern):
    """The axes of one side of a pattern: a name, or a group `(a b)` as its list of names."""
    axes = []
    for term in _TERM.findall(side):
        if term.startswith("("):
            names = term[1:-1].split()
            if not names or not all(re.fullmatch(r"[A-Za-z_]\w*", n) for n in names):
                raise ValueError(f"rearrange: the group {term!r} of {pattern!r} must hold "
                                 f"axis names.")
            axes.append(names)
        elif re.fullmatch(r"[A-Za-z_]\w*", term):
            axes.append([term])
        else:
            raise ValueError(f"rearrange: {term!r} in {pattern!r} is not an axis name or a "
                             f"group of them (numnet, as Keras, has no '...' or '1' here).")
    return axes


def _lengths(groups, shape, given, pattern):
    """Every name's length: from the input's shape, the keyword arguments, and for one
    name per group, what the group's length leaves."""
    lengths = dict(given)
    for names, size in zip(groups, shape):
        unknown = [n for n in names if n not in lengths]
        if len(unknown) > 1:
            raise ValueError(f"rearrange: the group ({' '.join(names)}) of {pattern!r} needs "
                             f"the lengths of all but one of its axes as keyword arguments.")
        known = int(xp.prod([lengths[n] for n in names if n in lengths], dtype=xp.int64))
        if unknown:
            if known == 0 or size % known:
                raise ValueError(f"rearrange: axis length {size} of {pattern!r} does not "
                                 f"split into ({' '.join(names)}) with {given}.")
            lengths[unknown[0]] = size // known
        elif known != size:
            raise ValueError(f"rearrange: the axis of length {size} is not "
                             f"({' '.join(names)}) = {known} in {pattern!r}.")
    return lengths


def rearrange(tensor, pattern, **axes_lengths):
    """Reorders, splits and merges axes by an einops pattern: `"b h w c -> b c h w"`,
    `"b h w c -> b (h w c)"`, `"b (h h1) (w w1) c -> b h w (c h1 w1)"` with `h1=2, w1=2`."""
    tensor = as_tensor(tensor)
    sides = re.split(r"\s*->\s*", pattern.strip())
    if len(sides) != 2:
        raise ValueError(f"rearrange: the pattern {pattern!r} must have the form "
                         f"'input axes -> output axes'.")
    inputs, outputs = _terms(sides[0], pattern), _terms(sides[1], pattern)
    if len(inputs) != tensor.ndim:
        raise ValueError(f"rearrange: {pattern!r} names {len(inputs)} axes; the tensor has "
                         f"{tensor.ndim} (shape {tuple(tensor.shape)}).")
    flat_in = [n for names in inputs for n in names]
    flat_out = [n for names in outputs for n in names]
    if len(set(flat_in)) != len(flat_in) or sorted(flat_in) != sorted(flat_out):
        raise ValueError(f"rearrange: both sides of {pattern!r} must name the same axes, "
                         f"each once.")
    lengths = _lengths(inputs, tensor.shape, axes_lengths, pattern)
    split = tuple(lengths[n] for n in flat_in)
    if split != tuple(tensor.shape):
        tensor = reshape(tensor, split)
    order = [flat_in.index(n) for n in flat_out]
    if order != list(range(len(order))):
        tensor = transpose(tensor, order)
    merged = tuple(int(xp.prod([lengths[n] for n in names], dtype=xp.int64))
                   for names in outputs)
    return tensor if merged == tuple(tensor.shape) else reshape(tensor, merged)


def _view_compute(x, dtype):
    if x.dtype.itemsize == dtype.itemsize or x.ndim == 0:
        return x.view(dtype)
    return xp.ascontiguousarray(x).view(dtype)


VIEW = Primitive("view", _view_compute, no_gradient)


def view(x, dtype=None):
    """The same bytes read as `dtype`: equal item sizes keep the shape; otherwise the last
    axis grows or shrinks by the ratio of the item sizes, as NumPy's `ndarray.view`."""
    x = as_tensor(x)
    target = x.data.dtype if dtype is None else xp.dtype(standardize_dtype(dtype))
    old, new = x.data.dtype.itemsize, target.itemsize
    last = x.shape[-1] if x.ndim else None
    if old != new and (last is None or (last * old) % new):
        raise ValueError(f"Cannot view array of shape {tuple(x.shape)} and dtype "
                         f"{x.data.dtype} as dtype {target} because the total number of "
                         f"bytes is not divisible by the new itemsize.")
    return VIEW(x, dtype=target)


__all__ = ["rearrange", "view"]
