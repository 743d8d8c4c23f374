"""Products of tensors beyond `matmul` (outer, inner, vdot, tensordot, einsum), trace and
norms.

Most are written with other ops (a reshape, a transpose, a `matmul`), so their
gradients come from those; `einsum` has its own rule: the gradient of one
operand is an einsum of the other operands with the output's gradient.
"""

from numnet.autodiff.ops.core import (
    Primitive, broadcast_to, cast, float_tensor, operand, promoted_tensors, wrap, xp,
)
from numnet.autodiff.ops.arithmetic import matmul, multiply, power
from numnet.autodiff.ops.math import abs, sqrt, square
from numnet.autodiff.ops.matrices import svd
from numnet.autodiff.ops.reductions import max, min, sum
from numnet.autodiff.ops.shape import diagonal, ravel, reshape, transpose


def outer(x1, x2):
    """The products of every entry of `x1` with every entry of `x2` (both flattened)."""
    return multiply(reshape(ravel(x1), (-1, 1)), reshape(ravel(x2), (1, -1)))


def vdot(x1, x2):
    """The sum of the products of the entries of `x1` and `x2` (both flattened)."""
    return sum(multiply(ravel(x1), ravel(x2)))


def _axes_pairs(axes, ndim1, ndim2):
    if isinstance(axes, int):
        return list(range(ndim1 - axes, ndim1)), list(range(axes))
    first, second = axes
    first = [first] if isinstance(first, int) else list(first)
    second = [second] if isinstance(second, int) else list(second)
    return [a % ndim1 for a in first], [a % ndim2 for a in second]


def tensordot(x1, x2, axes=2):
    """Sums the products of `x1` and `x2` over pairs of axes: the last `axes` of `x1` with
    the first `axes` of `x2`, or the two lists of `axes`."""
    x1, x2 = operand(x1), operand(x2)
    summed1, summed2 = _axes_pairs(axes, x1.ndim, x2.ndim)
    if [x1.shape[a] for a in summed1] != [x2.shape[a] for a in summed2]:
        raise ValueError(f"tensordot: the summed axes have different lengths: {x1.shape} "
                         f"axes {summed1} and {x2.shape} axes {summed2}.")
    free1 = [a for a in range(x1.ndim) if a not in summed1]
    free2 = [a for a in range(x2.ndim) if a not in summed2]
    length = int(xp.prod([x1.shape[a] for a in summed1], dtype=int))
    left = reshape(transpose(x1, free1 + summed1), (-1, length))
    right = reshape(transpose(x2, summed2 + free2), (length, -1))
    return reshape(matmul(left, right), tuple(x1.shape[a] for a in free1) +
                   tuple(x2.shape[a] for a in free2))


def dot(x1, x2):
    """NumPy's `dot`: a product with a scalar, the matrix product for vectors and matrices,
    and for more axes the sums of products over the last axis of `x1` and the
    second-to-last of `x2` (the last when `x2` is a vector), every pair of their other
    axes kept (not the batched product of `matmul`)."""
    x1, x2 = operand(x1), operand(x2)
    rank1, rank2 = getattr(x1, "ndim", 0), getattr(x2, "ndim", 0)
    if rank1 == 0 or rank2 == 0:
        return multiply(x1, x2)
    if rank2 == 1 or (rank1 <= 2 and rank2 <= 2):
        return matmul(x1, x2)
    return tensordot(x1, x2, axes=([-1], [-2]))


def inner(x1, x2):
    """Sums of products over the last axes of `x1` and `x2` (a product when one is a
    scalar)."""
    x1, x2 = operand(x1), operand(x2)
    if getattr(x1, "ndim", 0) == 0 or getattr(x2, "ndim", 0) == 0:
        return multiply(x1, x2)
    return tensordot(x1, x2, axes=([-1], [-1]))


# ------------------------------------------------------------------ einsum
def _einsum_terms(subscripts, count):
    """The operands' subscripts and the output's, with NumPy's rule for an implicit output
    (the letters used once, in alphabetical order)."""
    subscripts = subscripts.replace(" ", "")
    inputs, arrow, output = subscripts.partition("->")
    terms = inputs.split(",")
    if len(terms) != count:
        raise ValueError(f"einsum: {subscripts!r} names {len(terms)} operands; "
                         f"{count} were given.")
    if not arrow:
        letters = "".join(terms)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c != "."))
    return terms, output


def _einsum_vjp(g, inputs, output, needs, subscripts):
    terms, out = _einsum_terms(subscripts, len(inputs))
    grads = []
    for i, (term, need) in enumerate(zip(terms, needs)):
        if not need:
            grads.append(None)
            continue
        if "." in term + out or len(set(term)) != len(term):
            raise NotImplementedError(
                f"einsum: the gradient of {subscripts!r} is not supported (it has '...' or "
                "a letter repeated within one operand); write it with matmul, transpose, "
                "diagonal or sum.")
        others = [t for j, t in enumerate(terms) if j != i]
        reached = set("".join(others) + out)
        kept = "".join(c for c in term if c in reached)
        grad = einsum(",".join(others + [out]) + "->" + kept,
                      *[x for j, x in enumerate(inputs) if j != i], g)
        if kept != term:  # letters summed in this operand alone: every entry gets g
            grad = broadcast_to(reshape(grad, tuple(
                inputs[i].shape[n] if c in reached else 1 for n, c in enumerate(term))),
                inputs[i].shape)
        grads.append(grad)
    return tuple(grads)


EINSUM = Primitive("einsum", lambda *xs, subscripts: xp.asarray(xp.einsum(subscripts, *xs)),
                   _einsum_vjp)


def einsum(subscripts, *operands):
    """Einstein summation over the operands, as `np.einsum` (and `keras.ops.einsum`)."""
    _einsum_terms(subscripts, len(operands))  # the operand count, checked with a clear error
    tensors = [operand(x) for x in operands]
    tensors = [x if hasattr(x, "data") else wrap(xp.asarray(x)) for x in tensors]
    return EINSUM(*promoted_tensors(tensors), subscripts=subscripts)


def trace(x, offset=0, axis1=0, axis2=1):
    """The sum of the `offset`-th diagonal of the planes of `axis1` and `axis2`."""
    return sum(diagonal(x, offset, axis1, axis2), axis=-1)


# ------------------------------------------------------------------- norms
def _vector_norm(x, ord, axis, keepdims):
    if ord is None or ord == 2:
        return sqrt(sum(square(x), axis=axis, keepdims=keepdims))
    if ord == float("inf"):
        return max(abs(x), axis=axis, keepdims=keepdims)
    if ord == float("-inf"):
        return min(abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        from numnet.autodiff.ops.math import not_equal
        return sum(cast(not_equal(x, 0), x.data.dtype), axis=axis, keepdims=keepdims)
    if ord == 1:
        return sum(abs(x), axis=axis, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order {ord!r} for vectors: {ord!r} is for matrices "
                         f"(two axes).")
    return power(sum(power(abs(x), ord), axis=axis, keepdims=keepdims), 1.0 / ord)


def _matrix_norm(x, ord, axes, keepdims):
    rows, cols = axes
    if ord in (None, "fro"):
        return sqrt(sum(square(x), axis=axes, keepdims=keepdims))
    if ord in (1, -1, float("inf"), float("-inf")):
        summed, other = (rows, cols) if ord in (1, -1) else (cols, rows)
        sums = sum(abs(x), axis=summed, keepdims=True)
        pick = max if ord in (1, float("inf")) else min
        result = pick(sums, axis=other, keepdims=True)
    elif ord in (2, -2, "nuc"):  # from the singular values (their gradients are svd's)
        others = [a for a in range(x.ndim) if a not in axes]
        values = svd(transpose(x, others + [rows, cols]), compute_uv=False)
        pick = {2: max, -2: min, "nuc": sum}[ord]
        result = reshape(pick(values, axis=-1), tuple(
            1 if i in axes else n for i, n in enumerate(x.shape)))
    else:
        raise ValueError(f"Invalid norm order {ord!r} for matrices: use 'fro', 'nuc', 1, -1, "
                         f"2, -2, inf or -inf.")
    return result if keepdims else reshape(result, tuple(
        n for i, n in enumerate(x.shape) if i not in axes))


def norm(x, ord=None, axis=None, keepdims=False):
    """A vector norm (one axis, or a 1-D `x`) or a matrix norm (two axes, or a 2-D `x` with
    `ord`), as `np.linalg.norm`; with no `axis` and no `ord`, the 2-norm of all entries.

    Vector `ord`: None or 2, 1, inf, -inf, 0 or any p; matrix `ord`: "fro", "nuc", 1, -1,
    2, -2, inf, -inf (the last three through the singular values).
    """
    x = float_tensor(x)
    if axis is None:
        if ord is None:
            result = sqrt(sum(square(x)))
            return reshape(result, (1,) * x.ndim) if keepdims else result
        axis = tuple(range(x.ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if any(not -x.ndim <= a < x.ndim for a in axes) or len(set(a % x.ndim for a in axes)) \
            < len(axes):
        raise ValueError(f"norm: axis={axis!r} is out of bounds or repeated for a tensor of "
                         f"{x.ndim} dimension(s).")
    axes = tuple(a % x.ndim for a in axes)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError(f"norm: `axis` must name one or two axes; received {axis!r}.")


__all__ = ["dot", "einsum", "inner", "norm", "outer", "tensordot", "trace", "vdot"]
