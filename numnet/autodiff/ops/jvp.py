"""`jvp`: forward-mode derivatives (Jacobian-vector products) from reverse mode, as Keras'
`ops.linalg.jvp`.

numnet differentiates backwards only, so `J v` is found by differentiating a backward
pass: the vector-Jacobian product `u -> J^T u` is linear in `u`, and the gradient of
`<J^T u, v>` with respect to `u` is `J v`. One tape records `fun`, its backward pass runs
from a seed `u` (zeros: the result does not depend on it) under a second tape, and that
tape differentiates `<J^T u, v>`. Every backward rule is made of numnet's ops, so this
works for any function numnet can differentiate.
"""

from numnet.autodiff.ops.arithmetic import multiply
from numnet.autodiff.ops.core import as_tensor, cast, xp
from numnet.autodiff.ops.reductions import sum
from numnet.autodiff import tape as _tape  # (a module: tape.py imports the ops in turn)
from numnet.tree import flatten, pack_sequence_as


def jvp(fun, primals, tangents, has_aux=False):
    """`(fun(*primals), J v)` for the Jacobian `J` of `fun` at `primals` and the tangents
    `v` (the same structure and shapes as `primals`); with `has_aux`, `fun` returns
    `(output, aux)` and `aux` comes third, undifferentiated."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: `primals` and `tangents` must be tuples or lists of the "
                        "arguments of `fun` and of their tangents.")
    points = [as_tensor(p) for p in flatten(primals)]
    directions = flatten(tangents)
    if len(directions) != len(points):
        raise ValueError(f"jvp: {len(directions)} tangent(s) for {len(points)} primal(s); "
                         f"give one of the same shape per primal.")
    directions = [cast(as_tensor(v), p.data.dtype) for v, p in zip(directions, points)]
    for point, direction in zip(points, directions):
        if tuple(point.shape) != tuple(direction.shape):
            raise ValueError(f"jvp: a tangent of shape {tuple(direction.shape)} for a primal "
                             f"of shape {tuple(point.shape)}.")
    # Only the primals and the seeds are watched (not the variables `fun` reads), so the
    # outer tape follows the backward pass alone.
    with _tape.GradientTape(persistent=True, watch_accessed_variables=False) as outer:
        with _tape.GradientTape(watch_accessed_variables=False) as inner:
            for point in points:
                inner.watch(point)
            result = fun(*pack_sequence_as(primals, points))
        output, aux = result if has_aux else (result, None)
        outputs = [as_tensor(out) for out in flatten(output)]
        seeds = [as_tensor(xp.zeros(out.shape, dtype=out.data.dtype)) for out in outputs]
        for seed in seeds:
            outer.watch(seed)
        pulled = inner.gradient(outputs, points, output_gradients=seeds)
        products = [sum(multiply(g, v)) for g, v in zip(pulled, directions) if g is not None]
        total = products[0] if products else None
        for product in products[1:]:
            total = total + product
    pushed = [None] * len(seeds) if total is None else outer.gradient(total, seeds)
    tangents_out = pack_sequence_as(output, [
        as_tensor(xp.zeros(out.shape, dtype=out.data.dtype)) if t is None else t
        for t, out in zip(pushed, outputs)])
    primals_out = pack_sequence_as(output, outputs)
    return (primals_out, tangents_out, aux) if has_aux else (primals_out, tangents_out)


__all__ = ["jvp"]
