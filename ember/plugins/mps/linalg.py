"""The decomposition primitives of the ``mps`` backend on ``mlx.core.linalg``.

MLX's linalg routines run only on its CPU stream (LAPACK), so every call passes
``stream=mx.cpu``, on a Mac as on Linux. What MLX has no routine for (eig, LDL, geqrf)
is not here: those ops take the counted CPU fallback, and so do complex inputs (``real_only``).
The names are listed in ``kernels.LINALG``. Each function has its op's calling convention
(``ember.dispatch.ops``, section "decompositions") and mirrors the numpy kernels of
``ember/plugins/xp_linalg.py``.
"""
from __future__ import annotations

import mlx.core as mx

_CPU = mx.cpu


def real_only(name, kernel, backend):
    """``kernel`` for real arrays; complex ones (MLX's LAPACK routines take float32 only) go through the
    counted CPU fallback of the dispatch table, warned once and reported like any other fallback."""
    fallback = []

    def run(*args, **attrs):
        if any(isinstance(a, mx.array) and a.dtype == mx.complex64 for a in args):
            if not fallback:
                from ember.dispatch.ops import OPS
                from ember.dispatch.registry import REGISTRY
                from ember.dispatch.table import _make_fallback
                cpu_kernel = OPS[name].kernels[REGISTRY.backend("cpu").dispatch_key]
                fallback.append(_make_fallback(OPS[name], backend, cpu_kernel, warn=True))
            return fallback[0](*args, **attrs)
        return kernel(*args, **attrs)
    run.__wrapped__ = kernel
    return run


def _mT(a):
    return mx.swapaxes(a, -1, -2)


def _empty(dtype):
    return mx.zeros((0,), dtype=dtype)


def _first_bad(bad):
    """int32 LAPACK-style info: the 1-based index of the first True along the last dim, else 0."""
    if bad.shape[-1] == 0:
        return mx.zeros(bad.shape[:-1], dtype=mx.int32)
    first = mx.argmax(bad.astype(mx.int32), axis=-1) + 1
    return mx.where(mx.any(bad, axis=-1), first, 0).astype(mx.int32)


def linalg_cholesky(x, *, upper):
    # the upper factor of A is the transpose of the lower factor of A^T: only A's upper triangle is read
    a = _mT(x) if upper else x
    n = x.shape[-1]
    if n == 0 or x.size == 0:
        return mx.array(x), mx.zeros(x.shape[:-2], dtype=mx.int32)
    factor = mx.tril(mx.linalg.cholesky(mx.tril(a), stream=_CPU))
    # LAPACK leaves the failing minor's non-positive pivot on the diagonal (earlier ones are positive)
    d = mx.diagonal(factor, 0, -2, -1)
    info = _first_bad(~(d > 0))
    return (_mT(factor) if upper else factor), info


def linalg_qr(x, *, mode):
    m, n = x.shape[-2:]
    if mode == "complete" and m > n:
        # Householder QR of [A | I] factors A's columns first: its Q is A's complete Q, and R's first n
        # columns are A's complete R
        eye = mx.broadcast_to(mx.eye(m, dtype=x.dtype), x.shape[:-2] + (m, m))
        q, r = mx.linalg.qr(mx.concatenate([x, eye], axis=-1), stream=_CPU)
        return q, r[..., :, :n]
    q, r = mx.linalg.qr(x, stream=_CPU)
    if mode == "r":
        return _empty(x.dtype), r
    return q, r


def linalg_eigh(x, *, upper, eigenvectors):
    uplo = "U" if upper else "L"
    if not eigenvectors:
        return mx.linalg.eigvalsh(x, UPLO=uplo, stream=_CPU), _empty(x.dtype)
    w, v = mx.linalg.eigh(x, UPLO=uplo, stream=_CPU)
    return w, v


def linalg_svd(x, *, full_matrices, compute_uv):
    if not compute_uv:
        return _empty(x.dtype), mx.linalg.svd(x, compute_uv=False, stream=_CPU), _empty(x.dtype)
    u, s, vt = mx.linalg.svd(x, stream=_CPU)   # MLX gives the full U and Vh
    if not full_matrices:
        k = s.shape[-1]
        u, vt = u[..., :, :k], vt[..., :k, :]
    return u, s, vt


def linalg_lu_factor(x, *, pivot):
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the mps device")
    *batch, m, n = x.shape
    k = min(m, n)
    if x.size == 0:
        piv = mx.broadcast_to(mx.arange(1, k + 1, dtype=mx.int32), tuple(batch) + (k,))
        return mx.array(x), piv, mx.zeros(tuple(batch), dtype=mx.int32)
    lu, piv = mx.linalg.lu_factor(x, stream=_CPU)   # 0-based LAPACK row interchanges
    info = _first_bad(mx.diagonal(lu, 0, -2, -1) == 0)
    return lu, piv.astype(mx.int32) + 1, info


def linalg_pivots_to_permutation(pivots, *, m):
    batch = pivots.shape[:-1]
    perm = mx.broadcast_to(mx.arange(m, dtype=mx.int64), tuple(batch) + (m,))
    swaps = pivots.astype(mx.int64) - 1
    positions = mx.arange(m, dtype=mx.int64)
    for i in range(pivots.shape[-1]):  # LAPACK's row interchanges, in order: swap entries i and j
        j = swaps[..., i:i + 1]
        at_i, at_j = perm[..., i:i + 1], mx.take_along_axis(perm, j, axis=-1)
        perm = mx.where(positions == i, at_j, mx.where(positions == j, at_i, perm))
    return perm


def linalg_solve_triangular(a, b, *, upper, left, unitriangular):
    n = a.shape[-1]
    t = mx.triu(a) if upper else mx.tril(a)
    if unitriangular:  # the diagonal is taken to be ones, whatever a holds there
        eye = mx.eye(n, dtype=a.dtype)
        t = t * (1 - eye) + eye
    if not left:       # X A = B  <=>  A^T X^T = B^T
        t, b, upper = _mT(t), _mT(b), not upper
    batch = tuple(mx.broadcast_shapes(t.shape[:-2], b.shape[:-2])) if t.ndim > 2 or b.ndim > 2 else ()
    t = mx.broadcast_to(t, batch + t.shape[-2:])
    b = mx.broadcast_to(b, batch + b.shape[-2:])
    if b.size == 0:
        x = mx.zeros(b.shape, dtype=b.dtype)
    else:
        x = mx.linalg.solve_triangular(t, b, upper=upper, stream=_CPU)
    return x if left else _mT(x)


def linalg_det(x):
    if x.shape[-1] == 0:
        return mx.ones(x.shape[:-2], dtype=x.dtype)
    return mx.linalg.det(x, stream=_CPU)


def linalg_slogdet(x):
    if x.shape[-1] == 0:
        return mx.ones(x.shape[:-2], dtype=x.dtype), mx.zeros(x.shape[:-2], dtype=x.dtype)
    sign, logabsdet = mx.linalg.slogdet(x, stream=_CPU)
    return sign, logabsdet
