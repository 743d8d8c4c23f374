"""Shape ops: reshape, transpose, concatenate, stack, slicing/gather, expand/squeeze.

Most of them return views of their input (`kind="view"`): the compiled step
binds those once instead of running them at every step.
"""

from numnet.autodiff.ops.core import (
    Primitive, Tensor, broadcast_to, checked_axes, convert_to_tensor, operand,
    promoted_tensors, wrap, xp,
)
from numnet.autodiff.primitive import READ_HOOKS


def _view(name, compute, vjp):
    return Primitive(name, compute, vjp, kind="view")


RESHAPE = _view("reshape", lambda x, shape: x.reshape(shape),
                lambda g, inputs, y, needs, shape: (reshape(g, inputs[0].shape),))


def reshape(x, newshape):
    """Reshapes `x` to `newshape` (one dimension may be -1)."""
    x = operand(x)
    shape = tuple(newshape) if not isinstance(newshape, int) else (newshape,)
    if shape and min(shape) < 0:  # (a negative dimension is rare: look closer only then)
        _check_unknown_dimensions(shape)
    if tuple(x.shape) == shape:
        return x
    return RESHAPE(x, shape=shape)


def _transpose_vjp(g, inputs, y, needs, axes):
    inverse = None if axes is None else tuple(int(i) for i in xp.argsort(axes))
    return (transpose(g, inverse),)


TRANSPOSE = _view("transpose", lambda x, axes: xp.transpose(x, axes), _transpose_vjp)


def transpose(x, axes=None):
    """Permutes the axes (reverses them by default)."""
    x = operand(x)
    if axes is not None:
        axes = tuple(axes)
        _check_permutation(axes, x.ndim)
    return TRANSPOSE(x, axes=axes)


def _check_unknown_dimensions(shape):
    """Keras' errors for a `newshape` with negative dimensions other than one -1."""
    if min(shape) < -1:
        raise ValueError("reshape: each dimension of `newshape` must be a non-negative integer "
                         f"or -1 (one unknown dimension). Received: newshape={shape}")
    if shape.count(-1) > 1:
        raise ValueError("reshape: `newshape` can have at most one unknown dimension (-1). "
                         f"Received: newshape={shape}")


def _check_permutation(axes, ndim):
    """Keras' errors for `transpose`'s `axes`, before NumPy's terser ones."""
    if len(axes) != ndim:
        raise ValueError("transpose: `axes` must be a list of the same length as the input "
                         f"shape (rank {ndim}). Received: axes={list(axes)}")
    if any(not isinstance(a, (int, xp.integer)) or not -ndim <= a < ndim for a in axes):
        raise ValueError(f"transpose: Each axis in `axes` must be an integer in [{-ndim}, "
                         f"{ndim}). Received: axes={list(axes)}")
    if sorted(int(a) % ndim for a in axes) != list(range(ndim)):
        raise ValueError("transpose: `axes` must be a valid permutation of the input's axes. "
                         f"Received: axes={list(axes)}")


def swapaxes(x, axis1, axis2):
    """Swaps two axes."""
    x = operand(x)
    axis1, axis2 = checked_axes((axis1, axis2), x.ndim)
    axes = list(range(x.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, axes)


def expand_dims(x, axis):
    """Inserts a length-1 axis."""
    x = operand(x)
    return reshape(x, xp.expand_dims(xp.empty(x.shape, dtype=bool), axis).shape)


def squeeze(x, axis=None):
    """Removes length-1 axes."""
    x = operand(x)
    return reshape(x, xp.squeeze(xp.empty(x.shape, dtype=bool), axis=axis).shape)


def _concatenate_vjp(g, inputs, output, needs, axis):
    axis = axis % output.ndim
    pieces, start = [], 0
    for x, need in zip(inputs, needs):
        stop = start + x.shape[axis]
        pieces.append(getitem(g, (slice(None),) * axis + (slice(start, stop),)) if need else None)
        start = stop
    return tuple(pieces)


CONCATENATE = Primitive(
    "concatenate", lambda *xs, axis: xp.concatenate(xs, axis=axis), _concatenate_vjp,
    into=lambda out, *xs, axis: xp.concatenate(xs, axis=axis, out=out))


def concatenate(xs, axis=0):
    """Joins tensors along an existing axis (the first by default, as in Keras), in the dtype
    Keras' promotion gives them."""
    return CONCATENATE(*promoted_tensors([convert_to_tensor(x) for x in xs]), axis=axis)


def _stack_vjp(g, inputs, output, needs, axis):
    axis = axis % output.ndim
    return tuple(getitem(g, (slice(None),) * axis + (i,)) if need else None
                 for i, need in enumerate(needs))


STACK = Primitive("stack", lambda *xs, axis: xp.stack(xs, axis=axis), _stack_vjp,
                  into=lambda out, *xs, axis: xp.stack(xs, axis=axis, out=out))


def stack(x, axis=0):
    """Stacks the tensors of the sequence `x` along a new axis (in their promoted dtype)."""
    return STACK(*promoted_tensors([convert_to_tensor(part) for part in x]), axis=axis)


# ------------------------------------------------------------- indexing
def _scatter_add(g, *indices, shape, key):
    """Zeros of `shape` with `g` added at `x[key]` (repeated indices accumulate)."""
    grad = xp.zeros(shape, dtype=g.dtype)
    xp.add.at(grad, _rebuild_key(key, indices), g)
    return grad


def _scatter_add_vjp(g, inputs, output, needs, shape, key):
    """A scatter is linear in its values: their gradient is `g[key]` (second derivatives
    through indexing, and `jvp`)."""
    indices = inputs[1:]
    return (GETITEM_GATHER(g, *indices, key=key) if indices else GETITEM(g, key=key),) + \
        (None,) * len(indices)


SCATTER_ADD = Primitive("scatter_add", _scatter_add, _scatter_add_vjp)


def _rebuild_key(key, arrays):
    """Puts the index arrays (op inputs) back into the static parts of a key."""
    arrays = iter(arrays)
    return tuple(next(arrays) if k is _ARRAY else k for k in key) if isinstance(key, tuple) \
        else (next(arrays) if key is _ARRAY else key)


class _ArraySlot:
    """Marks where an index array (an op input) goes in a static key."""

    def __repr__(self):
        return "<index array>"


_ARRAY = _ArraySlot()


def _getitem_compute(x, *indices, key):
    return x[_rebuild_key(key, indices)]


def _getitem_vjp(g, inputs, output, needs, key):
    x, indices = inputs[0], inputs[1:]
    return (SCATTER_ADD(g, *indices, shape=x.shape, key=key),) + (None,) * len(indices)


GETITEM = Primitive("getitem", _getitem_compute, _getitem_vjp, kind="view")
# With index arrays (constant or computed) NumPy copies: the same op, but pure, so a
# compiled step writes it into a buffer of its own at every replay.
GETITEM_GATHER = Primitive("getitem", _getitem_compute, _getitem_vjp)


def getitem(x, key):
    """`x[key]` for slices, integers, None, Ellipsis and integer/boolean array gathers."""
    x = operand(x)
    parts = key if isinstance(key, tuple) else (key,)
    indices, static = [], []
    for k in parts:
        if isinstance(k, Tensor):  # a computed index: an op input, so captures replay it
            if k.data.dtype == xp.bool_ and READ_HOOKS:
                # A boolean mask: the output's shape depends on its values, which a replay
                # into buffers of fixed shapes cannot follow.
                READ_HOOKS[-1](k, "a boolean mask as an index")
            indices.append(k)
            static.append(_ARRAY)
        elif isinstance(k, (list, xp.ndarray)):
            indices.append(wrap(xp.asarray(k)))
            static.append(_ARRAY)
        else:
            static.append(k)
    static = tuple(static) if isinstance(key, tuple) else static[0]
    return (GETITEM_GATHER if indices else GETITEM)(x, *indices, key=static)


def _take_vjp(g, inputs, output, needs, axis):
    x, indices = inputs
    return (SCATTER_TAKE(g, indices, shape=x.shape, axis=axis), None)


def _scatter_take(g, indices, shape, axis):
    if axis is None:
        grad = xp.zeros(int(xp.prod(shape)), dtype=g.dtype)
        xp.add.at(grad, indices.ravel(), g.ravel())
        return grad.reshape(shape)
    axis %= len(shape)  # (a negative axis counts from the end of `x`, not of `g`)
    grad = xp.zeros(shape, dtype=g.dtype)
    moved = xp.moveaxis(grad, axis, 0)
    gm = xp.moveaxis(g, tuple(range(axis, axis + indices.ndim)), tuple(range(indices.ndim)))
    xp.add.at(moved, indices, gm)
    return grad


SCATTER_TAKE = Primitive("scatter_take", _scatter_take, lambda g, inputs, output, needs, shape,
                         axis: (TAKE(g, inputs[1], axis=axis), None))  # linear: a gather
TAKE = Primitive("take", lambda x, indices, axis: xp.take(x, indices, axis=axis), _take_vjp,
                 into=lambda out, x, indices, axis: xp.take(x, indices, axis=axis, out=out))


def take(x, indices, axis=None):
    """Gathers entries of `x` at integer `indices` along `axis`."""
    x = operand(x)
    indices = indices if isinstance(indices, Tensor) else wrap(xp.asarray(indices))
    return TAKE(x, indices, axis=axis)


def tile(x, repeats):
    """`x` repeated `repeats[i]` times along axis `i`, as `keras.ops.tile` (and `np.tile`).

    Written as a reshape, a broadcast and a reshape, so its gradient sums the copies.
    """
    x = operand(x)
    repeats = (int(repeats),) if isinstance(repeats, int) else tuple(int(r) for r in repeats)
    ndim = max(x.ndim, len(repeats))
    shape = (1,) * (ndim - x.ndim) + tuple(x.shape)
    repeats = (1,) * (ndim - len(repeats)) + repeats
    spread = reshape(x, tuple(d for n in shape for d in (1, n)))
    copies = broadcast_to(spread, tuple(d for r, n in zip(repeats, shape) for d in (r, n)))
    return reshape(copies, tuple(r * n for r, n in zip(repeats, shape)))


# --------------------------------------------------- rearranging and splitting
def ravel(x):
    """`x` as one dimension."""
    return reshape(x, (-1,))


def moveaxis(x, source, destination):
    """`x` with the axes `source` moved to the positions `destination` (the others keep
    their order)."""
    x = operand(x)
    source, destination = checked_axes(source, x.ndim), checked_axes(destination, x.ndim)
    if len(source) != len(destination):
        raise ValueError(f"moveaxis: `source` ({source}) and `destination` ({destination}) "
                         "must have the same number of axes.")
    order = [n for n in range(x.ndim) if n not in source]
    for place, axis in sorted(zip(destination, source)):
        order.insert(place, axis)
    return transpose(x, tuple(order))


def flip(x, axis=None):
    """`x` with the order of its entries reversed along `axis` (all axes by default)."""
    x = operand(x)
    axes = range(x.ndim) if axis is None else checked_axes(axis, x.ndim)
    return getitem(x, tuple(slice(None, None, -1) if n in axes else slice(None)
                            for n in range(x.ndim)))


def roll(x, shift, axis=None):
    """`x` shifted by `shift` places along `axis`, the entries pushed off one end coming back
    at the other (the flattened `x` when `axis` is None)."""
    x = operand(x)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), x.shape)
    shifts = (shift,) if isinstance(shift, int) else tuple(shift)
    axes = checked_axes(axis, x.ndim)
    if len(shifts) == 1:
        shifts = shifts * len(axes)
    for n, amount in zip(axes, shifts):
        size = x.shape[n]
        cut = size - int(amount) % size if size else 0
        if cut in (0, size):
            continue
        before = (slice(None),) * n
        x = concatenate([getitem(x, before + (slice(cut, None),)),
                         getitem(x, before + (slice(None, cut),))], axis=n)
    return x


def repeat(x, repeats, axis=None):
    """Each entry of `x` repeated `repeats` times (a number, or one per entry) along `axis`
    (the flattened `x` when None)."""
    x = operand(x)
    if axis is None:
        x, axis = ravel(x), 0
    count = x.shape[axis]
    repeats = xp.asarray(repeats)  # a tensor's value is read (a capture is told)
    return take(x, xp.repeat(xp.arange(count), repeats), axis=axis)


def _triangle(x, k, lower):
    x = operand(x)
    if x.ndim < 2:
        raise ValueError(f"{'tril' if lower else 'triu'}: the input must have at least 2 "
                         f"dimensions; received shape {tuple(x.shape)}.")
    rows, cols = x.shape[-2:]
    keep = xp.tri(rows, cols, k, dtype=bool) if lower else ~xp.tri(rows, cols, k - 1, dtype=bool)
    from numnet.autodiff.ops.math import where
    return where(keep, x, wrap(xp.zeros((), dtype=x.data.dtype)))


def tril(x, k=0):
    """`x` with the entries above its `k`-th diagonal (of the last two axes) set to zero."""
    return _triangle(x, k, lower=True)


def triu(x, k=0):
    """`x` with the entries below its `k`-th diagonal (of the last two axes) set to zero."""
    return _triangle(x, k, lower=False)


def split(x, indices_or_sections, axis=0):
    """`x` cut along `axis` into equal sections (a number) or at the given indices."""
    x = operand(x)
    axis = checked_axes(axis, x.ndim)[0]
    size = x.shape[axis]
    if isinstance(indices_or_sections, int):
        if indices_or_sections <= 0 or size % indices_or_sections:
            raise ValueError(f"split: an axis of length {size} cannot be cut into "
                             f"{indices_or_sections} equal sections.")
        step = size // indices_or_sections
        cuts = [step * i for i in range(1, indices_or_sections)]  # (an empty axis: all empty)
    else:
        cuts = [int(i) for i in indices_or_sections]
    bounds = zip([0] + cuts, cuts + [size])
    return [getitem(x, (slice(None),) * axis + (slice(start, stop),)) for start, stop in bounds]


def unstack(x, num=None, axis=0):
    """The slices of `x` along `axis`, as a list."""
    x = operand(x)
    axis = checked_axes(axis, x.ndim)[0]
    if num is not None and num != x.shape[axis]:
        raise ValueError(f"unstack: num={num} does not match the length {x.shape[axis]} of "
                         f"axis {axis}.")
    return [getitem(x, (slice(None),) * axis + (i,)) for i in range(x.shape[axis])]


def hstack(xs):
    """Tensors joined along their second axis (their only axis when 1-D)."""
    xs = [convert_to_tensor(x) for x in xs]
    return concatenate(xs, axis=0 if all(x.ndim == 1 for x in xs) else 1)


def vstack(xs):
    """Tensors joined along their first axis (1-D tensors become rows)."""
    xs = [convert_to_tensor(x) for x in xs]
    return concatenate([reshape(x, (1, -1)) if x.ndim < 2 else x for x in xs], axis=0)


# ------------------------------------------------------------------ padding
def _pad_widths(pad_width, ndim):
    return [(int(b), int(a)) for b, a in xp.broadcast_to(xp.asarray(pad_width, dtype=int),
                                                           (ndim, 2))]


def _pad_vjp(g, inputs, output, needs, widths, value):
    return (getitem(g, tuple(slice(b, b + n) for (b, _), n in zip(widths, inputs[0].shape))),)


PAD = Primitive("pad", lambda x, widths, value: xp.pad(x, widths, constant_values=value),
                _pad_vjp)
_COPYING_MODES = ("edge", "reflect", "symmetric", "wrap")


def pad(x, pad_width, mode="constant", constant_values=None):
    """`x` padded by `pad_width` (a number, a `(before, after)` pair, or one pair per axis).

    `mode` is "constant" (with `constant_values`, 0 by default) or one of the
    modes that copy entries of `x`: "edge", "reflect", "symmetric", "wrap".
    """
    x = operand(x)
    widths = _pad_widths(pad_width, x.ndim)
    if mode == "constant":
        return PAD(x, widths=widths, value=0 if constant_values is None else constant_values)
    if constant_values is not None:
        raise ValueError("pad: Argument `constant_values` can only be provided when "
                         f"`mode == 'constant'`. Received: mode={mode!r}")
    if mode not in _COPYING_MODES:
        raise ValueError(f"pad: mode must be 'constant' or one of {_COPYING_MODES}; "
                         f"received {mode!r}.")
    # Pad the positions along each padded axis instead: gathers then copy (and
    # differentiate), with indices that do not depend on the other axes (a batch's size).
    for axis, (before, after) in enumerate(widths):
        if before or after:
            x = take(x, xp.pad(xp.arange(x.shape[axis]), (before, after), mode=mode), axis=axis)
    return x


# ------------------------------------------------------ gathering along an axis
def _along(indices, shape, axis):
    """The full index that picks `x[..., indices[...], ...]` along `axis` (NumPy's rule)."""
    index = []
    for n in range(len(shape)):
        if n == axis:
            index.append(indices)
        else:
            size = [1] * len(shape)
            size[n] = shape[n]
            index.append(xp.arange(shape[n]).reshape(size))
    return tuple(index)


def _scatter_along(g, indices, shape, axis):
    grad = xp.zeros(shape, dtype=g.dtype)
    xp.add.at(grad, _along(indices, shape, axis), g)
    return grad


SCATTER_ALONG = Primitive("scatter_along", _scatter_along, lambda g, inputs, output, needs,
                          shape, axis: (TAKE_ALONG(g, inputs[1], axis=axis), None))  # a gather
TAKE_ALONG = Primitive(
    "take_along_axis", lambda x, indices, axis: xp.take_along_axis(x, indices, axis),
    lambda g, inputs, output, needs, axis: (
        SCATTER_ALONG(g, inputs[1], shape=inputs[0].shape, axis=axis), None))


def take_along_axis(x, indices, axis=None):
    """`x` gathered at `indices` along `axis` (the flattened `x` when None), as
    `np.take_along_axis`: `indices` has `x`'s number of dimensions."""
    x = operand(x)
    indices = indices if isinstance(indices, Tensor) else wrap(xp.asarray(indices))
    if axis is None:
        x, axis = ravel(x), 0
    return TAKE_ALONG(x, indices, axis=checked_axes(axis, x.ndim)[0])


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The `offset`-th diagonal of the planes of `axis1` and `axis2`, as the last axis."""
    x = moveaxis(operand(x), (axis1, axis2), (-2, -1))
    rows, cols = x.shape[-2:]
    start_row, start_col = max(-offset, 0), max(offset, 0)
    count = max(0, min(rows - start_row, cols - start_col))
    steps = xp.arange(count)
    return getitem(x, (Ellipsis, steps + start_row, steps + start_col))
