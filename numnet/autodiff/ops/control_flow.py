"""Control flow in Keras' functional form: `cond`, `switch`, `while_loop`, `fori_loop`,
`scan`, `associative_scan`, `map`, `vectorized_map` and `vectorize`.

numnet runs them as the Python they describe, one op at a time, so gradients
flow through whichever branch or iterations ran. A compiled step that meets one
whose decision reads a tensor value (a `cond` on a tensor, a `while_loop`'s
condition) runs eagerly and says why, as for any Python `if` on a tensor.
"""

import re

from numnet.autodiff.ops.core import broadcast_to, convert_to_tensor, xp
from numnet.autodiff.ops.shape import concatenate, flip, getitem, reshape, stack
from numnet.tree import flatten, map_structure, pack_sequence_as


def _truth(value):
    # `bool()` of a tensor tells an open capture that Python reads a value here.
    return bool(value)


def cond(pred, true_fn, false_fn):
    """`true_fn()` if `pred` holds, else `false_fn()`."""
    return true_fn() if _truth(pred) else false_fn()


def switch(index, branches, *operands):
    """`branches[index](*operands)`, with `index` clipped into the range of `branches`."""
    position = int(index)
    return branches[min(max(position, 0), len(branches) - 1)](*operands)


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Runs `loop_vars = body(*loop_vars)` while `cond(*loop_vars)` holds (at most
    `maximum_iterations` times); returns the final `loop_vars`, in their form.

    A tuple or list of loop variables is passed as separate arguments; anything
    else as the one argument.
    """
    many = isinstance(loop_vars, (tuple, list))
    state = tuple(loop_vars) if many else (loop_vars,)
    state = map_structure(convert_to_tensor, state)
    count = 0
    while (maximum_iterations is None or count < maximum_iterations) and _truth(cond(*state)):
        state = body(*state)
        state = tuple(state) if isinstance(state, (tuple, list)) else (state,)
        count += 1
    return state if many else state[0]


def fori_loop(lower, upper, body_fun, init_val):
    """`val = body_fun(i, val)` for `i` from `lower` up to (not including) `upper`."""
    value = init_val
    for i in range(int(lower), int(upper)):
        value = body_fun(i, value)
    return value


def _slices(structure, length):
    """The `length` slices along the first axis of every leaf of `structure`."""
    leaves = [convert_to_tensor(leaf) for leaf in flatten(structure)]
    return [pack_sequence_as(structure, [getitem(leaf, i) for leaf in leaves])
            for i in range(length)]


def _stacked(results):
    """The results of each step (structures alike), stacked leaf by leaf along a new first
    axis."""
    leaves = [flatten(r) for r in results]
    return pack_sequence_as(results[0], [stack(list(group)) for group in zip(*leaves)])


def _length(structure):
    lengths = {int(xp.shape(getattr(leaf, "data", leaf))[0]) for leaf in flatten(structure)}
    if len(lengths) != 1:
        raise ValueError(f"The leaves of `xs` must have the same first dimension; found "
                         f"lengths {sorted(lengths)}.")
    return lengths.pop()


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """`carry, y = f(carry, x)` for each `x` along the first axis of `xs` (or `length`
    times with `x = None`); returns the last carry and the `y`s stacked, in `xs`' order
    also when `reverse` runs from the end."""
    if not callable(f):
        raise TypeError(f"scan: `f` should be a callable. Received: f={f!r}")
    if isinstance(unroll, bool) is False and (not isinstance(unroll, int) or unroll < 1):
        raise ValueError(f"scan: `unroll` must be an positive integer or boolean. Received: "
                         f"unroll={unroll!r}")
    if xs is None and length is None:
        raise ValueError("scan: give `xs` to scan over and/or its `length`.")
    count = _length(xs) if xs is not None else int(length)
    if xs is not None and length is not None and int(length) != count:
        raise ValueError(f"scan: length={length} does not match the length {count} of `xs`.")
    inputs = _slices(xs, count) if xs is not None else [None] * count
    order = range(count - 1, -1, -1) if reverse else range(count)
    carry, ys = init, [None] * count
    for i in order:
        carry, ys[i] = f(carry, inputs[i])
    if count == 0 or all(y is None for y in flatten(ys[0])):
        return carry, None
    return carry, _stacked(ys)


def associative_scan(f, elems, reverse=False, axis=0):
    """The running combinations `[a, f(a, b), f(f(a, b), c), ...]` of the slices of `elems`
    (a tensor or a structure of them) along `axis`, for an associative `f` that works
    elementwise along that axis.

    Combined as Keras (and JAX) do, in about `2 log2(n)` calls of `f` on whole slices:
    neighbours are combined pairwise, the half as long sequence of pairs is scanned, and
    the even positions are filled in from it. With `reverse`, the scan runs from the end.
    """
    if not callable(f):
        raise TypeError(f"`f` should be a callable. Received: f={f}")
    leaves = [convert_to_tensor(leaf) for leaf in flatten(elems)]
    if not leaves:
        return elems
    axes = [axis % leaf.ndim for leaf in leaves]
    lengths = {leaf.shape[a] for leaf, a in zip(leaves, axes)}
    if len(lengths) != 1:
        raise ValueError(f"Array inputs to associative_scan must have the same first "
                         f"dimension (along axis {axis}); found lengths {sorted(lengths)}.")
    if reverse:
        leaves = [flip(leaf, a) for leaf, a in zip(leaves, axes)]

    def along(x, a, start, stop, step=1):
        return getitem(x, (slice(None),) * a + (slice(start, stop, step),))

    def combine(first, second):
        result = f(pack_sequence_as(elems, first), pack_sequence_as(elems, second))
        return [convert_to_tensor(leaf) for leaf in flatten(result)]

    def interleave(even, odd, a):  # [e0 e1 ...], [o0 o1 ...] -> [e0 o0 e1 o1 ...]
        count = odd.shape[a]
        pairs = stack([along(even, a, 0, count), odd], axis=a + 1)
        merged = reshape(pairs, even.shape[:a] + (2 * count,) + even.shape[a + 1:])
        if even.shape[a] == count:
            return merged
        return concatenate([merged, along(even, a, count, None)], axis=a)

    def scan_level(level):
        length = level[0].shape[axes[0]]
        if length < 2:
            return level
        odd = scan_level(combine([along(x, a, 0, -1, 2) for x, a in zip(level, axes)],
                                 [along(x, a, 1, None, 2) for x, a in zip(level, axes)]))
        rest = [along(x, a, 2, None, 2) for x, a in zip(level, axes)]
        if length % 2 == 0:
            results = combine([along(o, a, 0, -1) for o, a in zip(odd, axes)], rest)
        else:
            results = combine(odd, rest)
        even = [concatenate([along(x, a, 0, 1), r], axis=a)
                for x, r, a in zip(level, results, axes)]
        return [interleave(e, o, a) for e, o, a in zip(even, odd, axes)]

    scanned = scan_level(leaves)
    if reverse:
        scanned = [flip(leaf, a) for leaf, a in zip(scanned, axes)]
    return pack_sequence_as(elems, scanned)


def map(f, xs):
    """`f` applied to each slice along the first axis of `xs` (a tensor or a structure of
    them), the results stacked."""
    count = _length(xs)
    return _stacked([f(x) for x in _slices(xs, count)])


def vectorized_map(function, elements):
    """`function` applied to each slice along the first axis of `elements` (one tensor, or
    a tuple or list of them passed as one tuple), the results stacked."""
    if isinstance(elements, (list, tuple)):
        return map(lambda parts: function(tuple(parts)), list(elements))
    return map(function, elements)


_CORE = r"\(\s*(?:\w+(?:\s*,\s*\w+)*)?\s*\)"


def _core_dims(signature):
    """`"(m,n),(n)->(m)"` as ([("m", "n"), ("n",)], [("m",)]): each operand's core axes."""
    compact = signature.replace(" ", "")
    if not re.fullmatch(rf"{_CORE}(,{_CORE})*->{_CORE}(,{_CORE})*", compact):
        raise ValueError(f"vectorize: not a valid signature: {signature!r} (expected the form "
                         f"'(m,n),(n)->(m)').")
    sides = compact.split("->")
    return [[tuple(filter(None, group.split(","))) for group in re.findall(r"\(([^()]*)\)", side)]
            for side in sides]


def vectorize(pyfunc, *, excluded=None, signature=None):
    """`pyfunc` applied across the leading ("loop") axes of its arguments, broadcast
    together, as NumPy's and JAX's `vectorize`: without `signature` to each entry, with one
    (`"(n),(n)->()"`) to each block of the named core axes. Positions or names in
    `excluded` (and keyword arguments) pass through whole. The results are stacked back
    into the loop shape; gradients flow through `pyfunc`'s ops."""
    excluded = set(excluded or ())

    def vectorized(*args, **kwargs):
        positions = [i for i in range(len(args)) if i not in excluded]
        operands = [convert_to_tensor(args[i]) for i in positions]
        inputs_core, outputs_core = _core_dims(signature) if signature else \
            ([()] * len(operands), None)
        if len(inputs_core) != len(operands):
            raise ValueError(f"vectorize: the signature {signature!r} has {len(inputs_core)} "
                             f"inputs; {len(operands)} arguments are vectorized.")
        sizes, loops = {}, []
        for x, core in zip(operands, inputs_core):
            if x.ndim < len(core):
                raise ValueError(f"vectorize: an argument of shape {tuple(x.shape)} has fewer "
                                 f"axes than its core axes {core} of {signature!r}.")
            for name, size in zip(core, x.shape[x.ndim - len(core):]):
                if sizes.setdefault(name, size) != size:
                    raise ValueError(f"vectorize: core axis {name!r} is {sizes[name]} and "
                                     f"{size} in {signature!r}.")
            loops.append(tuple(x.shape[:x.ndim - len(core)]))
        loop = tuple(xp.broadcast_shapes(*loops)) if loops else ()
        count = int(xp.prod(loop, dtype=xp.int64))
        flat = [reshape(broadcast_to(x, loop + tuple(x.shape[x.ndim - len(core):])),
                        (count,) + tuple(x.shape[x.ndim - len(core):]))
                for x, core in zip(operands, inputs_core)]

        def call(index):
            full = list(args)
            for position, x in zip(positions, flat):
                full[position] = getitem(x, index)
            return pyfunc(*full, **kwargs)

        if count == 0:
            raise ValueError("vectorize: the loop axes are empty; there is nothing to map.")
        results = [call(i) for i in range(count)]
        many = isinstance(results[0], (tuple, list))
        columns = list(zip(*results)) if many else [results]
        outputs = []
        for k, column in enumerate(columns):
            stacked = stack([convert_to_tensor(r) for r in column])
            core = tuple(stacked.shape[1:])
            if outputs_core is not None and k < len(outputs_core):
                wanted = tuple(sizes.get(name) for name in outputs_core[k])
                if len(core) != len(wanted) or any(
                        w is not None and w != c for w, c in zip(wanted, core)):
                    raise ValueError(f"vectorize: output {k} has core shape {core}, not "
                                     f"{outputs_core[k]} of {signature!r}.")
            outputs.append(reshape(stacked, loop + core))
        return type(results[0])(outputs) if many else outputs[0]
    vectorized.__name__ = getattr(pyfunc, "__name__", "vectorized")
    vectorized.__doc__ = getattr(pyfunc, "__doc__", None)
    return vectorized


__all__ = ["associative_scan", "cond", "fori_loop", "map", "vectorize", "scan", "switch", "vectorized_map", "while_loop"]
