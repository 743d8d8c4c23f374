"""Matrices: `inv`, `det`, `slogdet`, `logdet`, `solve`, `solve_triangular`, `cholesky`,
`cholesky_inverse`, and the decompositions `eigh`, `qr`, `svd` and `matrix_rank` (Keras'
`keras.ops` names, over the last two axes, with any leading batch axes).

The forward values are NumPy's `linalg`. The backward rules, written with the ops
themselves beside each forward, are the standard ones (Giles, "An extended collection of
matrix derivative results", 2008), with TensorFlow's symmetrized rule for `cholesky`:

- `inv`: dX = -Y^T G Y^T, where Y = X^-1;
- `det`: dX = G det(X) X^-T, and `slogdet`'s log|det|: dX = G X^-T;
- `solve(A, B)`: dB = A^-T G, dA = -dB X^T, where X is the solution;
- `cholesky(A) = L`: dA = sym(L^-T Phi(L^T G) L^-1), Phi keeping the lower triangle with a
  halved diagonal.

`solve_triangular`, `logdet` and `cholesky_inverse` are compositions of these. The
decompositions' rules are TensorFlow's (`eigh`'s keeps the lower triangle, the one NumPy
reads; `qr`'s covers tall and wide matrices; `svd`'s is infinite where singular values
repeat), so gradients agree with Keras on TensorFlow; the vectors' signs are LAPACK's.
"""

import builtins as _builtins

from numnet.autodiff.ops.arithmetic import matmul, multiply, subtract
from numnet.autodiff.ops.core import Primitive, float_tensor, no_gradient, sum_to, wrap, xp
from numnet.autodiff.ops.creation import eye
from numnet.autodiff.ops.math import equal, greater, greater_equal, log, where
from numnet.autodiff.ops.reductions import max, sum
from numnet.autodiff.ops.shape import (
    concatenate, diagonal, expand_dims, reshape, swapaxes, tril, triu,
)


def _transposed(x):
    """`x` with its last two axes swapped (each matrix of a batch transposed)."""
    return swapaxes(x, -1, -2)


def _square(x, name):
    x = float_tensor(x)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{name}: expected square matrices in the last two axes; received "
                         f"shape {tuple(x.shape)}.")
    return x


def _as_matrices(g):
    """A tensor of one value per matrix, as a (..., 1, 1) tensor that broadcasts over each."""
    return expand_dims(expand_dims(g, -1), -1)


def _inv_vjp(g, inputs, output, needs):
    inverse_t = _transposed(output)
    return (-matmul(matmul(inverse_t, g), inverse_t),)


INV = Primitive("inv", xp.linalg.inv, _inv_vjp)


def inv(x):
    """The inverse of each square matrix."""
    return INV(_square(x, "inv"))


DET = Primitive("det", xp.linalg.det, lambda g, inputs, output, needs: (
    multiply(_as_matrices(multiply(g, output)), _transposed(inv(inputs[0]))),))


def det(x):
    """The determinant of each square matrix."""
    return DET(_square(x, "det"))


_SLOGDET_SIGN = Primitive("slogdet_sign", lambda x: xp.linalg.slogdet(x)[0], no_gradient)
_LOG_ABS_DET = Primitive("log_abs_det", lambda x: xp.linalg.slogdet(x)[1],
                         lambda g, inputs, output, needs: (
                             multiply(_as_matrices(g), _transposed(inv(inputs[0]))),))


def slogdet(x):
    """`(sign, log|det|)` of each square matrix: the determinant without overflow."""
    x = _square(x, "slogdet")
    return _SLOGDET_SIGN(x), _LOG_ABS_DET(x)


def logdet(x):
    """The log of the determinant of each symmetric positive definite matrix, from its
    Cholesky factor (TensorFlow's definition: NaN when the matrix is not positive
    definite)."""
    factor = CHOLESKY(_square(x, "logdet"), allow_nan=True)
    return multiply(sum(log(diagonal(factor, axis1=-2, axis2=-1)), axis=-1), 2.0)


def _solve_vjp(g, inputs, output, needs):
    a, b = inputs
    vector = b.ndim == a.ndim - 1
    grad_b = solve(_transposed(a), g)
    grad_a = None
    if needs[0]:
        if vector:
            grad_a = -multiply(expand_dims(grad_b, -1), expand_dims(output, -2))
        else:
            grad_a = -matmul(grad_b, _transposed(output))
        grad_a = sum_to(grad_a, a.shape)
    return grad_a, (sum_to(grad_b, b.shape) if needs[1] else None)


def _solve_compute(a, b):
    if b.ndim == a.ndim - 1:  # one right-hand side per matrix
        return xp.linalg.solve(a, b[..., None])[..., 0]
    return xp.linalg.solve(a, b)


SOLVE = Primitive("solve", _solve_compute, _solve_vjp)


def solve(a, b):
    """The solution `x` of `a @ x = b` for each square matrix of `a` (`b` holds one
    right-hand side per column, or is one vector per matrix)."""
    a = _square(a, "solve")
    b = float_tensor(b)
    rows = b.shape[-1] if b.ndim == a.ndim - 1 else b.shape[-2] if b.ndim >= 2 else None
    if rows != a.shape[-1]:
        raise ValueError(f"solve: `b` of shape {tuple(b.shape)} does not match the matrices "
                         f"of `a`, of shape {tuple(a.shape)}.")
    return SOLVE(a, b)


def solve_triangular(a, b, lower=False):
    """`solve` with `a` triangular: only its lower (`lower=True`) or upper triangle is read."""
    a = _square(a, "solve_triangular")
    return solve(tril(a) if lower else triu(a), b)


def _cholesky_compute(x, allow_nan):
    try:
        return xp.linalg.cholesky(x)
    except xp.linalg.LinAlgError:
        if allow_nan:
            return xp.full(x.shape, xp.nan, dtype=x.dtype)
        raise ValueError("cholesky: the matrix is not positive definite.") from None


def _cholesky_vjp(g, inputs, output, needs, allow_nan):
    factor_inverse = inv(output)
    middle = matmul(_transposed(output), g)
    middle = subtract(tril(middle), multiply(multiply(middle, eye(output.shape[-1],
                                                                   dtype=output.dtype)), 0.5))
    grad = matmul(matmul(_transposed(factor_inverse), middle), factor_inverse)
    return (multiply(grad + _transposed(grad), 0.5),)


CHOLESKY = Primitive("cholesky", _cholesky_compute, _cholesky_vjp)


def cholesky(x, upper=False):
    """The lower triangular `L` with `L @ L.T == x`, for each symmetric positive definite
    matrix (its transpose, upper triangular, with `upper=True`); a matrix that is not
    positive definite is an error, as in Keras."""
    factor = CHOLESKY(_square(x, "cholesky"), allow_nan=False)
    return _transposed(factor) if upper else factor


def cholesky_inverse(x, upper=False):
    """The inverse of the matrix whose Cholesky factor is `x` (lower triangular, or upper
    with `upper=True`): `inv(L @ L.T)` from `L` alone."""
    x = _square(x, "cholesky_inverse")
    factor_inverse = inv(triu(x) if upper else tril(x))
    if upper:
        return matmul(factor_inverse, _transposed(factor_inverse))
    return matmul(_transposed(factor_inverse), factor_inverse)




# ------------------------------------------------------------- decompositions
def _safe_reciprocal(x):
    """1 / x, and 0 where x is 0 (TensorFlow's `_SafeReciprocal`)."""
    zero = equal(x, 0)
    return where(zero, 0.0, 1.0 / where(zero, 1.0, x))


def _eigh_values_vjp(g, inputs, output, needs):
    vectors = EIGH_VECTORS(inputs[0])
    return (_lower_symmetrized(matmul(multiply(vectors, expand_dims(g, -2)),
                                      _transposed(vectors))),)


def _eigh_vectors_vjp(g, inputs, vectors, needs):
    values = EIGH_VALUES(inputs[0])
    gaps = _safe_reciprocal(subtract(expand_dims(values, -2), expand_dims(values, -1)))
    inner = multiply(gaps, matmul(_transposed(vectors), g))
    return (_lower_symmetrized(matmul(matmul(vectors, inner), _transposed(vectors))),)


def _lower_symmetrized(grad):
    """TensorFlow's convention for a function of a symmetric matrix's lower triangle: the
    lower triangle of `grad + grad^T`, its diagonal halved."""
    both = grad + _transposed(grad)
    return subtract(tril(both), multiply(multiply(both, eye(both.shape[-1], dtype=both.dtype)),
                                         0.5))


EIGH_VALUES = Primitive("eigh_values", lambda x: xp.linalg.eigh(x)[0], _eigh_values_vjp)
EIGH_VECTORS = Primitive("eigh_vectors", lambda x: xp.linalg.eigh(x)[1], _eigh_vectors_vjp)


def eigh(x):
    """`(eigenvalues, eigenvectors)` of each symmetric matrix (its lower triangle is read),
    the eigenvalues increasing and the eigenvectors as columns."""
    x = _square(x, "eigh")
    return EIGH_VALUES(x), EIGH_VECTORS(x)


def _triangular_right_solve(x, r):
    """`x @ inv(r)^T` for upper triangular `r` (TensorFlow's `_TriangularSolve` in its QR
    gradient)."""
    return _transposed(solve(triu(r), _transposed(x)))


def _qr_grad_tall(q, r, dq, dr):
    qdq = matmul(_transposed(q), dq)
    rdr = matmul(r, _transposed(dr))
    lower = tril(subtract(qdq, _transposed(qdq)) + subtract(rdr, _transposed(rdr)))
    grad = matmul(q, dr + _triangular_right_solve(lower, r))
    return grad + _triangular_right_solve(subtract(dq, matmul(q, qdq)), r)


def _qr_vjp(gq, gr, inputs, q, r, complete):
    """TensorFlow's QR gradient (from both outputs: `QR_Q` and `QR_R` each pass a zero
    gradient for the other)."""
    a = inputs[0]
    rows, cols = a.shape[-2], a.shape[-1]
    if complete and rows > cols:
        raise NotImplementedError("The gradient of qr(mode='complete') of a tall matrix is "
                                  "not defined (as in TensorFlow); use mode='reduced'.")
    if rows >= cols:
        return _qr_grad_tall(q, r, gq, gr)
    wide = a[..., :, rows:]
    dx = _qr_grad_tall(q, r[..., :, :rows], gq + matmul(wide, _transposed(gr[..., :, rows:])),
                       gr[..., :, :rows])
    return concatenate([dx, matmul(q, gr[..., :, rows:])], axis=-1)


def _qr_compute(x, part, complete):
    return xp.linalg.qr(x, mode="complete" if complete else "reduced")[part]


def _zeros_like(t):
    return xp.zeros(t.shape, dtype=t.data.dtype)


def _qr_q_vjp(g, inputs, q, needs, complete):
    r = QR_R(inputs[0], complete=complete)
    return (_qr_vjp(g, _zeros_like(r), inputs, q, r, complete),)


def _qr_r_vjp(g, inputs, r, needs, complete):
    q = QR_Q(inputs[0], complete=complete)
    return (_qr_vjp(_zeros_like(q), g, inputs, q, r, complete),)


QR_Q = Primitive("qr_q", lambda x, complete: _qr_compute(x, 0, complete), _qr_q_vjp)
QR_R = Primitive("qr_r", lambda x, complete: _qr_compute(x, 1, complete), _qr_r_vjp)


def qr(x, mode="reduced"):
    """`(q, r)`: the orthonormal `q` and upper triangular `r` with `q @ r == x`, for each
    matrix (`mode="complete"`: `q` square)."""
    if mode not in ("reduced", "complete"):
        raise ValueError("`mode` argument value not supported. Expected one of "
                         f"{{'reduced', 'complete'}}. Received: mode={mode}")
    x = float_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"qr: expected matrices in the last two axes; received shape "
                         f"{tuple(x.shape)}.")
    complete = mode == "complete"
    return QR_Q(x, complete=complete), QR_R(x, complete=complete)


# -------------------------------------------------------------------- svd
def _diag(values):
    """Diagonal matrices with `values` (..., k) on their diagonals."""
    return multiply(expand_dims(values, -2), eye(values.shape[-1], dtype=values.dtype))


def _svd_parts(a, full_matrices):
    """u, s and v (not vh) of `a`, as recorded ops."""
    return (SVD_VECTORS(a, part=0, full_matrices=full_matrices), SINGULAR_VALUES(a),
            _transposed(SVD_VECTORS(a, part=2, full_matrices=full_matrices)))


def _svd_grad(a, grad_s, grad_u, grad_v, full_matrices):
    """TensorFlow's SVD gradient (`_SvdGrad`) for `a` (..., m, n) from the gradients of s, u
    and v (None: zero), written with the ops: infinite where singular values repeat."""
    u, s, v = _svd_parts(a, full_matrices)
    m, n = a.shape[-2], a.shape[-1]
    tall = m > n
    if tall:  # as TensorFlow: the transpose's factors are these, u and v swapped
        u, v, grad_u, grad_v, m, n = v, u, grad_v, grad_u, n, m
    if full_matrices and n - m > 1:
        raise NotImplementedError("svd gradient is not implemented for abs(m - n) > 1 when "
                                  "full_matrices is True (as in TensorFlow).")
    dtype = a.data.dtype
    grad_s = xp.zeros(s.shape, dtype=dtype) if grad_s is None else grad_s
    grad_u = xp.zeros(u.shape, dtype=dtype) if grad_u is None else grad_u
    grad_v = xp.zeros(v.shape, dtype=dtype) if grad_v is None else grad_v
    s_mat = _diag(s)
    squares = multiply(s, s)
    f = _safe_reciprocal(subtract(expand_dims(squares, -2), expand_dims(squares, -1)))
    v1, grad_v1 = v[..., :, :m], grad_v[..., :, :m]
    f_u = multiply(f, matmul(_transposed(u), grad_u))
    f_v = multiply(f, matmul(_transposed(v1), grad_v1))
    middle = (_diag(grad_s) + matmul(f_u + _transposed(f_u), s_mat)
              + matmul(s_mat, f_v + _transposed(f_v)))
    grad = matmul(u, matmul(middle, _transposed(v1)))
    if m != n:
        gv1t = _transposed(grad_v1)
        rest = subtract(gv1t, matmul(matmul(gv1t, v1), _transposed(v1)))
        if full_matrices:
            v2, grad_v2 = v[..., :, m:n], grad_v[..., :, m:n]
            rest = subtract(rest, matmul(matmul(_transposed(v1), grad_v2), _transposed(v2)))
        grad = grad + matmul(matmul(u, _diag(_safe_reciprocal(s))), rest)
    return _transposed(grad) if tall else grad


SINGULAR_VALUES = Primitive(
    "singular_values", lambda x: xp.linalg.svd(x, compute_uv=False),
    lambda g, inputs, output, needs: (_svd_grad(inputs[0], g, None, None, False),))


def _svd_vectors_vjp(g, inputs, output, needs, part, full_matrices):
    if part == 0:
        return (_svd_grad(inputs[0], None, g, None, full_matrices),)
    return (_svd_grad(inputs[0], None, None, _transposed(g), full_matrices),)


SVD_VECTORS = Primitive(
    "svd_vectors", lambda x, part, full_matrices: xp.linalg.svd(
        x, full_matrices=full_matrices)[part], _svd_vectors_vjp)


def svd(x, full_matrices=True, compute_uv=True):
    """`(u, s, vh)` with `u @ diag(s) @ vh == x` for each matrix (`full_matrices=False`:
    `u` and `vh` reduced), or just the singular values `s` (decreasing) with
    `compute_uv=False`. Differentiable as in TensorFlow (not where singular values repeat,
    nor for full matrices more than one row or column from square)."""
    x = float_tensor(x)
    values = SINGULAR_VALUES(x)
    if not compute_uv:
        return values
    full = bool(full_matrices)
    return (SVD_VECTORS(x, part=0, full_matrices=full), values,
            SVD_VECTORS(x, part=2, full_matrices=full))


def pinv(x, rcond=None):
    """The Moore-Penrose pseudo-inverse of each matrix, from its SVD, singular values at
    most `rcond` times the largest dropped (default: 10 * max(rows, columns) * the dtype's
    epsilon), as TensorFlow's `pinv`."""
    x = float_tensor(x)
    if rcond is None:
        rcond = 10 * _builtins.max(x.shape[-2:]) * float(xp.finfo(x.data.dtype).eps)
    u, s, vh = svd(x, full_matrices=False)
    cutoff = multiply(expand_dims(max(s, axis=-1), -1), rcond)
    kept = where(greater(s, cutoff), s, float("inf"))
    return matmul(_transposed(vh) / expand_dims(kept, -2), _transposed(u))


def lstsq(a, b, rcond=None):
    """The least-squares solution `x` of `a @ x = b` for the 2-D `a` (m, n) and `b` (m,)
    or (m, k), from `a`'s SVD: singular values below `rcond` times the largest are dropped
    (default: max(m, n) * the dtype's epsilon), as Keras' TensorFlow backend."""
    a, b = float_tensor(a), float_tensor(b)
    if a.shape[0] != b.shape[0]:
        raise ValueError("Leading dimensions of input arrays must match")
    if a.ndim != 2:
        raise TypeError(f"{a.ndim}-dimensional array given. Array must be two-dimensional")
    vector = b.ndim == 1
    if vector:
        b = expand_dims(b, -1)
    if b.ndim != 2:
        raise TypeError(f"{b.ndim}-dimensional array given. Array must be one or "
                        "two-dimensional")
    eps = float(xp.finfo(a.data.dtype).eps)
    rcond = eps * _builtins.max(a.shape) if rcond is None else (eps if rcond < 0 else rcond)
    u, s, vh = svd(a, full_matrices=False)
    mask = greater_equal(s, multiply(s[0], rcond))
    inverse = where(mask, 1.0 / where(mask, s, 1.0), 0.0)
    x = matmul(_transposed(vh), multiply(expand_dims(inverse, -1), matmul(_transposed(u), b)))
    return reshape(x, (-1,)) if vector else x


def _lu_factorization(a):
    """LAPACK's `getrf` in NumPy: `(lu, pivots)` of each matrix in the last two axes, by
    Gaussian elimination with partial pivoting (the row of the largest entry, the first of
    equal ones); `pivots[j]` is the row swapped with row j, as scipy's `lu_factor`."""
    shape = a.shape
    rows, cols = shape[-2:]
    steps = min(rows, cols)
    lu = a.reshape((-1, rows, cols)).copy()
    pivots = xp.zeros((lu.shape[0], steps), dtype=xp.int32)
    batch = xp.arange(lu.shape[0])
    for j in range(steps):
        chosen = j + xp.argmax(xp.abs(lu[:, j:, j]), axis=1)
        pivots[:, j] = chosen
        row = lu[batch, j].copy()
        lu[batch, j] = lu[batch, chosen]
        lu[batch, chosen] = row
        pivot = lu[:, j, j]
        nonzero = pivot != 0  # a zero column stays as it is (LAPACK reports it, goes on)
        lu[:, j + 1:, j] /= xp.where(nonzero, pivot, 1)[:, None]
        lu[:, j + 1:, j + 1:] -= lu[:, j + 1:, j, None] * lu[:, j, None, j + 1:]
    return lu.reshape(shape), pivots.reshape(shape[:-2] + (steps,))


def _no_lu_gradient(g, inputs, output, needs):
    raise NotImplementedError("lu_factor has no gradient in numnet; differentiate through "
                              "solve, det or inv instead.")


_LU_PACKED = Primitive("lu_factor", lambda x: _lu_factorization(x)[0], _no_lu_gradient)
_LU_PIVOTS = Primitive("lu_pivots", lambda x: _lu_factorization(x)[1], no_gradient)


def lu_factor(x):
    """The LU factorization with partial pivoting of each matrix `x = P L U`, as scipy's
    `lu_factor` (and Keras' on JAX and NumPy): `lu` holds `U` and, below the diagonal,
    `L`'s multipliers; `pivots` the row swaps (int32). Not differentiable."""
    x = float_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"lu_factor expects matrices (at least 2 dimensions); received shape "
                         f"{tuple(x.shape)}.")
    return _LU_PACKED(x), _LU_PIVOTS(x)


def matrix_rank(x, tol=None):
    """The number of singular values of each matrix above `tol` (default: the largest
    times max(rows, columns) times the dtype's epsilon, as NumPy and TensorFlow)."""
    x = float_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_rank expects matrices (at least 2 dimensions); received "
                         f"shape {tuple(x.shape)}.")
    return wrap(xp.asarray(xp.linalg.matrix_rank(xp.asarray(x), tol=tol)))


__all__ = ["cholesky", "cholesky_inverse", "det", "eigh", "inv", "logdet", "lstsq",
           "lu_factor", "matrix_rank", "pinv", "qr", "slogdet", "solve", "solve_triangular", "svd"]
