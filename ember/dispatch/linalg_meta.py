"""Shape and dtype inference for the decomposition primitives (``ember.dispatch.ops``,
section "decompositions"): every input is a stack of matrices ``(*batch, m, n)``.

As in ``ember.dispatch.meta``, each function takes one ``TensorMeta`` per positional input
plus the op's attributes and says what the kernel returns; integer side results (pivots,
``info``) are int32, as LAPACK's and PyTorch's are.
"""
from __future__ import annotations

from ember.core import dtype as dt
from ember.dispatch.meta import TensorMeta, broadcast_shapes


def _real(d):
    return d.to_real() if d.is_complex else d


def cholesky(x, *, upper) -> tuple:
    """-> (L, info): the factor and one int32 per matrix (0, or the order of the failing minor)."""
    return TensorMeta(x.shape, x.dtype), TensorMeta(x.shape[:-2], dt.int32)


def qr(x, *, mode) -> tuple:
    *batch, m, n = x.shape
    k = min(m, n)
    if mode == "r":
        return TensorMeta((0,), x.dtype), TensorMeta((*batch, k, n), x.dtype)
    if mode == "complete":
        return TensorMeta((*batch, m, m), x.dtype), TensorMeta((*batch, m, n), x.dtype)
    return TensorMeta((*batch, m, k), x.dtype), TensorMeta((*batch, k, n), x.dtype)


def eigh(x, *, upper, eigenvectors) -> tuple:
    """-> (real eigenvalues ascending, eigenvectors or an empty array)."""
    vectors = x.shape if eigenvectors else (0,)
    return TensorMeta(x.shape[:-1], _real(x.dtype)), TensorMeta(vectors, x.dtype)


def eig(x) -> tuple:
    c = x.dtype.to_complex()
    return TensorMeta(x.shape[:-1], c), TensorMeta(x.shape, c)


def svd(x, *, full_matrices, compute_uv) -> tuple:
    *batch, m, n = x.shape
    k = min(m, n)
    s = TensorMeta((*batch, k), _real(x.dtype))
    if not compute_uv:
        return TensorMeta((0,), x.dtype), s, TensorMeta((0,), x.dtype)
    u, v = (m, n) if full_matrices else (k, k)
    return TensorMeta((*batch, m, u), x.dtype), s, TensorMeta((*batch, v, n), x.dtype)


def lu_factor(x, *, pivot) -> tuple:
    """-> (LU packed, int32 1-based pivots of length min(m, n), int32 info per matrix)."""
    *batch, m, n = x.shape
    return (TensorMeta(x.shape, x.dtype), TensorMeta((*batch, min(m, n)), dt.int32),
            TensorMeta(tuple(batch), dt.int32))


def pivots_to_permutation(pivots, *, m) -> TensorMeta:
    return TensorMeta(pivots.shape[:-1] + (m,), dt.int64)


def solve_triangular(a, b, *, upper, left, unitriangular) -> TensorMeta:
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return TensorMeta(batch + b.shape[-2:], b.dtype)


def det(x) -> TensorMeta:
    return TensorMeta(x.shape[:-2], x.dtype)


def slogdet(x) -> tuple:
    return TensorMeta(x.shape[:-2], x.dtype), TensorMeta(x.shape[:-2], _real(x.dtype))


def ldl_factor(x, *, hermitian) -> tuple:
    return TensorMeta(x.shape, x.dtype), TensorMeta(x.shape[:-1], dt.int32), TensorMeta(x.shape[:-2], dt.int32)


def ldl_solve(ld, pivots, b, *, hermitian) -> TensorMeta:
    batch = broadcast_shapes(ld.shape[:-2], b.shape[:-2])
    return TensorMeta(batch + b.shape[-2:], b.dtype)


def geqrf(x) -> tuple:
    *batch, m, n = x.shape
    return TensorMeta(x.shape, x.dtype), TensorMeta((*batch, min(m, n)), x.dtype)
