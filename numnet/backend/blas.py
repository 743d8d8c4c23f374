"""A matrix product that adds into its output, straight from the BLAS NumPy uses.

`numpy.matmul(a, b, out=c)` overwrites `c`. BLAS' `gemm` computes
`c = alpha * a @ b + beta * c`, so a plain gradient-descent step on a
weight matrix, `w -= lr * x.T @ dz`, is one call that reads `w` as it writes
it: no gradient array, no separate pass over the weights. `product_into`
binds that call to fixed arrays; the engine uses it for plain SGD (see
`numnet.engine.sgd_fusion`).

The function is looked up in the BLAS library NumPy loaded (found through
threadpoolctl, which numnet already uses to choose thread counts), under the
names OpenBLAS and MKL give it, and checked once against `numpy.matmul` on
small products before it is used. Where none is found or the check fails
(another BLAS, or `NUMNET_DIRECT_BLAS=0`), `product_into` returns None and
callers keep NumPy's own products.
"""

import ctypes
import os

from numnet.backend.array_module import xp
from numnet.backend.threads import CROSSOVER_FLOPS

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
# (symbol prefix, symbol suffix, integer type): OpenBLAS as NumPy's wheels ship it
# (64-bit integers), then the usual 32-bit-integer names.
_NAMES = (("scipy_cblas_", "64_", ctypes.c_int64), ("cblas_", "64_", ctypes.c_int64),
          ("scipy_cblas_", "", ctypes.c_int), ("cblas_", "", ctypes.c_int))
_FOUND = {}


def _gemm(dtype):
    """The cblas `?gemm` for float32 or float64 arrays and its integer type, or None."""
    if dtype not in _FOUND:
        _FOUND[dtype] = _lookup(dtype)
    return _FOUND[dtype]


def available(dtype):
    """Whether `product_into` can bind arrays of `dtype`."""
    return _gemm(xp.dtype(dtype)) is not None


def _lookup(dtype):
    if os.environ.get("NUMNET_DIRECT_BLAS", "1") == "0":
        return None
    letter = {xp.dtype("float32"): "s", xp.dtype("float64"): "d"}.get(dtype)
    if letter is None:
        return None
    for library in _numpy_first():
        if library.internal_api not in ("openblas", "mkl"):
            continue
        handle = getattr(library, "dynlib", None)
        for prefix, suffix, integer in _NAMES:
            function = getattr(handle, f"{prefix}{letter}gemm{suffix}", None)
            if function is None:
                continue
            scalar = ctypes.c_float if letter == "s" else ctypes.c_double
            function.restype = None
            function.argtypes = [ctypes.c_int] * 3 + [integer] * 3 + [
                scalar, ctypes.c_void_p, integer, ctypes.c_void_p, integer,
                scalar, ctypes.c_void_p, integer]
            found = (function, integer)
            return found if _agrees(found, dtype) else None
    return None


def _numpy_first():
    """The loaded BLAS libraries, the one shipped inside NumPy's installation first (another
    package, SciPy say, may have loaded its own copy)."""
    from threadpoolctl import ThreadpoolController  # its own: threads keeps the first list
    numpy_home = os.path.dirname(os.path.dirname(os.path.abspath(xp.__file__)))
    libraries = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
    return sorted(libraries, key=lambda c: not (
        os.path.abspath(c.filepath).startswith(os.path.join(numpy_home, "numpy"))))


def _agrees(found, dtype):
    """Checks the function on small products, every transposition, against NumPy's."""
    rng = xp.random.default_rng(0)
    for a_transposed in (False, True):
        for b_transposed in (False, True):
            a = rng.normal(size=(5, 3) if a_transposed else (3, 5)).astype(dtype)
            b = rng.normal(size=(4, 5) if b_transposed else (5, 4)).astype(dtype)
            a, b = (a.T if a_transposed else a), (b.T if b_transposed else b)
            c = rng.normal(size=(3, 4)).astype(dtype)
            expected = -0.5 * xp.matmul(a, b) + 2 * c
            _bind(found, a, b, c)(-0.5, 2.0)
            if not xp.allclose(c, expected, rtol=1e-4, atol=1e-5):
                return False
    return True


# OpenBLAS' builds for AVX-512 cores multiply small float32 matrices on a direct path,
# without packing them, for every transposition but one: `a @ b.T` with `a` in row order
# takes the general path, about twice as slow there (benchmarks/README.md, 2026-11-30). The
# same product with `a` copied into column order first (both operands then read
# transposed) takes the direct path; the copy of `a` (the smaller operand in a backward
# pass: batch rows by units) costs far less. Measured on SkylakeX for 16 to 128 rows.
_DIRECT_PATH_CORES = ("skylakex", "cooperlake", "sapphirerapids")
_DIRECT_PATH_LIMIT = 100 ** 3  # multiply-adds
_DIRECT_PATH = []


def copy_left_pays(rows, inner, columns, dtype, direct_path=None):
    """Whether `a @ b.T`, `a` (rows, inner) and `b` (columns, inner) both in row order, is
    faster with `a` first copied into column order (see `_DIRECT_PATH_CORES`); `direct_path`
    says whether NumPy's BLAS has that path (default: `has_direct_path()`)."""
    if direct_path is None:
        direct_path = has_direct_path()
    return bool(direct_path) and xp.dtype(dtype) == xp.float32 and inner >= 50 and \
        rows * columns >= 1600 and rows * inner * columns <= _DIRECT_PATH_LIMIT


def has_direct_path():
    """Whether NumPy's BLAS is an OpenBLAS built for an AVX-512 core, with its direct
    small-matrix path (looked up once; never with `NUMNET_DIRECT_BLAS=0`)."""
    if not _DIRECT_PATH:
        _DIRECT_PATH.append(os.environ.get("NUMNET_DIRECT_BLAS", "1") != "0" and any(
            library.internal_api == "openblas" and
            str(getattr(library, "architecture", "")).lower() in _DIRECT_PATH_CORES
            for library in _numpy_first()[:1]))
    return _DIRECT_PATH[0]


def _operand(array):
    """(pointer, transposed, leading dimension) of a 2-D operand BLAS can read as is: rows
    (or columns, then read transposed) of unit stride, evenly spaced."""
    size = array.itemsize
    rows, columns = array.shape
    row_step, column_step = array.strides
    if (column_step == size or columns == 1) and row_step % size == 0 and \
            row_step // size >= max(1, columns):
        return array.ctypes.data, False, row_step // size
    if (row_step == size or rows == 1) and column_step % size == 0 and \
            column_step // size >= max(1, rows):
        return array.ctypes.data, True, column_step // size
    return None


def product_into(a, b, c):
    """A function `(alpha, beta)` computing `c = alpha * a @ b + beta * c` in place.

    `a` and `b` may be transposed or row-sliced views of contiguous arrays; `c`
    must have rows of unit stride; all three share a float dtype. Returns None when no direct
    BLAS call is available for them. The arrays are bound: they must not move.
    """
    found = _gemm(c.dtype)
    if found is None or a.ndim != 2 or b.ndim != 2 or c.ndim != 2 or \
            not c.flags.writeable or _operand(c) is None or _operand(c)[1] or \
            a.dtype != c.dtype or b.dtype != c.dtype or \
            a.shape[1] != b.shape[0] or c.shape != (a.shape[0], b.shape[1]) or \
            _operand(a) is None or _operand(b) is None or 0 in a.shape or 0 in b.shape:
        return None
    return _bind(found, a, b, c)


def scaling_product_into(a, b, c):
    """`product_into` for calls with `beta != 1` (an SGD step with weight decay): one product,
    or one per row block of `a` and `c` where `scaling_blocks` says so."""
    whole = product_into(a, b, c)
    edges = scaling_blocks(*a.shape, b.shape[1], c.dtype) if whole is not None else None
    if edges is None:
        return whole
    blocks = [_bind(_gemm(c.dtype), a[start:stop], b, c[start:stop])
              for start, stop in zip(edges, edges[1:])]

    def product(alpha, beta):
        for block in blocks:
            block(alpha, beta)
    return product


def scaling_blocks(rows, inner, columns, dtype, direct_path=None):
    """Row edges splitting a `(rows, inner) @ (inner, columns)` product called with
    `beta != 1` into blocks that each take the direct path, or None to keep one product.

    Above the direct path's size, OpenBLAS scales all of `c` by `beta` in a pass of its
    own before it adds the product; on the direct path it scales as it adds. So where
    that path exists (`direct_path`, default `has_direct_path()`) and one thread does the
    product (below `threads.CROSSOVER_FLOPS`), blocks pay: for W6's 784 x 300 kernel at
    batch 32, eight blocks take 162 us against 180 us for one product, which takes 164 us
    with `beta = 1` (`benchmarks/bench_w6_kernels.py`, 2026-11-30).
    """
    if direct_path is None:
        direct_path = has_direct_path()
    per_block = _DIRECT_PATH_LIMIT // max(1, inner * columns)
    if not direct_path or xp.dtype(dtype) != xp.float32 or per_block == 0 or \
            rows <= per_block or 2 * rows * inner * columns >= CROSSOVER_FLOPS:
        return None
    count = -(-rows // per_block)
    return [rows * i // count for i in range(count + 1)]


def _bind(found, a, b, c):
    function, integer = found
    (pa, a_transposed, lda), (pb, b_transposed, ldb) = _operand(a), _operand(b)
    m, k = a.shape
    n = b.shape[1]
    head = (_ROW_MAJOR, _TRANS if a_transposed else _NO_TRANS,
            _TRANS if b_transposed else _NO_TRANS, m, n, k)
    pc, _, ldc = _operand(c)

    def product(alpha, beta, _arrays=(a, b, c)):  # (holds the memory the pointers point to)
        function(*head, alpha, pa, lda, pb, ldb, beta, pc, ldc)
    return product
