"""The decomposition kernels of ``XpKernels`` (``ember/plugins/xp.py``), written once over ``xp``.

numpy's and CuPy's ``linalg`` work on stacks of matrices, so most kernels are one call.
Where LAPACK's raw interface is needed (LU with LAPACK pivots, LDL, triangular solves
that must not refuse singular matrices) the CPU calls scipy's LAPACK/BLAS wrappers per
matrix, and CuPy calls ``cupyx.scipy.linalg`` per matrix; what neither CuPy nor cuSOLVER
offers (sytrf, geev on old CuPy) is computed on the host and copied back.

Results keep the input's precision (float32 stays float32); half precision never gets
here (the op layer raises PyTorch's "not implemented for 'Half'").
"""
from __future__ import annotations

import numpy as np


class XpLinalg:
    """Mixed into ``XpKernels``: needs ``self.xp`` (numpy or cupy)."""

    # ---------------------------------------------------------------- helpers
    @property
    def _host(self) -> bool:
        return self.xp is np

    def _to_host(self, a):
        return a if self._host else self.xp.asnumpy(a)

    def _from_host(self, a):
        return a if self._host else self.xp.asarray(a)

    @staticmethod
    def _lapack(name, a):
        from scipy.linalg import get_lapack_funcs
        return get_lapack_funcs((name,), (a,))[0]

    @staticmethod
    def _blas(name, a):
        from scipy.linalg import get_blas_funcs
        return get_blas_funcs((name,), (a,))[0]

    def _empty(self, dtype):
        return self.xp.empty((0,), dtype=dtype)

    # ---------------------------------------------------------------- Cholesky
    def linalg_cholesky(self, x, *, upper):
        xp = self.xp
        batch, n = x.shape[:-2], x.shape[-1]
        # the upper factor of A is the conjugate transpose of the lower factor of A^H
        a = xp.conj(xp.swapaxes(x, -1, -2)) if upper else x
        info = xp.zeros(batch, dtype=xp.int32)
        if n == 0 or a.size == 0:
            return x.copy(), info
        try:
            factor = xp.linalg.cholesky(a)
            if not self._host:  # cuSOLVER does not raise: a failed minor shows as a non-positive or NaN pivot
                d = xp.real(xp.diagonal(factor, 0, -2, -1))
                bad = ~(d > 0)
                info = xp.where(bad.any(-1), bad.argmax(-1) + 1, 0).astype(xp.int32)
        except np.linalg.LinAlgError:
            factor, info = self._cholesky_each(a)
        factor = xp.tril(factor)
        if upper:
            factor = xp.conj(xp.swapaxes(factor, -1, -2))
        return xp.ascontiguousarray(factor), info

    def _cholesky_each(self, a):
        """Matrix by matrix with LAPACK's potrf, which says which minor failed."""
        batch, n = a.shape[:-2], a.shape[-1]
        flat = a.reshape(-1, n, n)
        out = np.empty_like(flat)
        info = np.zeros(flat.shape[0], dtype=np.int32)
        potrf = self._lapack("potrf", flat[0])
        for i in range(flat.shape[0]):
            c, info[i] = potrf(flat[i], lower=1, clean=1)
            out[i] = c
        return out.reshape(a.shape), info.reshape(batch)

    # ---------------------------------------------------------------- QR, eigen, SVD
    def linalg_qr(self, x, *, mode):
        xp = self.xp
        if mode == "r":
            return self._empty(x.dtype), xp.linalg.qr(x, mode="r")
        q, r = xp.linalg.qr(x, mode=mode)
        return q, r

    def linalg_eigh(self, x, *, upper, eigenvectors):
        xp = self.xp
        uplo = "U" if upper else "L"
        if not eigenvectors:
            return xp.linalg.eigvalsh(x, UPLO=uplo), self._empty(x.dtype)
        w, v = xp.linalg.eigh(x, UPLO=uplo)
        return w, v

    def linalg_eig(self, x):
        xp = self.xp
        complex_dtype = np.result_type(x.dtype, np.complex64)
        if hasattr(xp.linalg, "eig"):
            w, v = xp.linalg.eig(x)
        else:  # older CuPy: LAPACK's geev on the host
            w, v = (self._from_host(r) for r in np.linalg.eig(self._to_host(x)))
        return w.astype(complex_dtype), v.astype(complex_dtype)

    def linalg_svd(self, x, *, full_matrices, compute_uv):
        xp = self.xp
        if not compute_uv:
            return self._empty(x.dtype), xp.linalg.svd(x, compute_uv=False), self._empty(x.dtype)
        u, s, vh = xp.linalg.svd(x, full_matrices=full_matrices)
        return u, s, vh

    def linalg_det(self, x):
        return self.xp.linalg.det(x)

    def linalg_slogdet(self, x):
        sign, logabsdet = self.xp.linalg.slogdet(x)
        return sign, logabsdet

    # ---------------------------------------------------------------- LU
    def linalg_lu_factor(self, x, *, pivot):
        xp = self.xp
        *batch, m, n = x.shape
        k = min(m, n)
        if not pivot:
            lu, piv = self._lu_without_pivoting(x), xp.broadcast_to(xp.arange(1, k + 1, dtype=xp.int32),
                                                                    (*batch, k)).copy()
        elif x.size == 0:
            lu, piv = x.copy(), xp.broadcast_to(xp.arange(1, k + 1, dtype=xp.int32), (*batch, k)).copy()
        else:
            lu, piv = self._lu_each(x)
        d = xp.diagonal(lu, 0, -2, -1)
        zero = d == 0  # LAPACK's info: the first exactly-zero pivot of U, 1-based
        info = xp.where(zero.any(-1), zero.argmax(-1) + 1, 0).astype(xp.int32) if k else \
            xp.zeros(tuple(batch), dtype=xp.int32)
        return lu, piv, info

    def _lu_each(self, x):
        xp = self.xp
        *batch, m, n = x.shape
        flat = x.reshape(-1, m, n)
        lu = xp.empty_like(flat)
        piv = xp.empty((flat.shape[0], min(m, n)), dtype=xp.int32)
        if self._host:
            getrf = self._lapack("getrf", flat[0])
            for i in range(flat.shape[0]):
                lu[i], p, _ = getrf(flat[i])
                piv[i] = p + 1
        else:
            from cupyx.scipy.linalg import lu_factor
            for i in range(flat.shape[0]):
                lu[i], p = lu_factor(flat[i], check_finite=False)
                piv[i] = p + 1
        return lu.reshape(x.shape), piv.reshape(*batch, min(m, n))

    def _lu_without_pivoting(self, x):
        """Doolittle elimination, one column at a time over the whole stack (no row swaps)."""
        xp = self.xp
        lu = x.copy()
        m, n = x.shape[-2:]
        for j in range(min(m, n)):
            pivot_value = lu[..., j:j + 1, j:j + 1]
            lu[..., j + 1:, j:j + 1] = lu[..., j + 1:, j:j + 1] / pivot_value
            lu[..., j + 1:, j + 1:] -= lu[..., j + 1:, j:j + 1] * lu[..., j:j + 1, j + 1:]
        return lu

    def linalg_pivots_to_permutation(self, pivots, *, m):
        xp = self.xp
        batch = pivots.shape[:-1]
        perm = xp.broadcast_to(xp.arange(m, dtype=xp.int64), (*batch, m)).copy()
        swaps = pivots.astype(xp.int64) - 1
        positions = xp.arange(m, dtype=xp.int64)
        for i in range(pivots.shape[-1]):  # LAPACK's row interchanges, in order: swap entries i and j
            j = swaps[..., i:i + 1]
            at_i, at_j = perm[..., i:i + 1], xp.take_along_axis(perm, j, axis=-1)
            perm = xp.where(positions == i, at_j, xp.where(positions == j, at_i, perm))
        return perm

    # ---------------------------------------------------------------- triangular solves
    def linalg_solve_triangular(self, a, b, *, upper, left, unitriangular):
        xp = self.xp
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        count = int(np.prod(batch, dtype=np.int64))  # (an explicit count: -1 is ambiguous for empty arrays)
        a = xp.broadcast_to(a, batch + a.shape[-2:]).reshape((count,) + a.shape[-2:])
        out_shape = batch + b.shape[-2:]
        b = xp.broadcast_to(b, out_shape).reshape((count,) + b.shape[-2:])
        out = xp.empty(b.shape, dtype=np.result_type(a.dtype, b.dtype))
        if out.size == 0:
            return out.reshape(out_shape)
        if self._host:
            trsm = self._blas("trsm", out)
            for i in range(b.shape[0]):  # BLAS trsm: no singularity check, inf/NaN as PyTorch gives
                out[i] = trsm(1.0, a[i], b[i], side=0 if left else 1, lower=0 if upper else 1,
                              diag=1 if unitriangular else 0)
        else:
            from cupyx.scipy.linalg import solve_triangular
            for i in range(b.shape[0]):
                if left:
                    out[i] = solve_triangular(a[i], b[i], lower=not upper, unit_diagonal=unitriangular,
                                              check_finite=False)
                else:  # X A = B  <=>  A^T X^T = B^T
                    out[i] = solve_triangular(a[i], b[i].T, trans="T", lower=not upper,
                                              unit_diagonal=unitriangular, check_finite=False).T
        return out.reshape(out_shape)

    # ---------------------------------------------------------------- LDL (LAPACK sytrf / hetrf), geqrf
    def linalg_ldl_factor(self, x, *, hermitian):
        host = self._to_host(x)
        n = host.shape[-1]
        flat = host.reshape(int(np.prod(host.shape[:-2], dtype=np.int64)), n, n)
        ld = np.zeros_like(flat)
        piv = np.zeros(flat.shape[:-1], dtype=np.int32)
        info = np.zeros(flat.shape[0], dtype=np.int32)
        if n:
            sytrf = self._lapack("hetrf" if hermitian and np.iscomplexobj(host) else "sytrf", flat[0])
            for i in range(flat.shape[0]):
                f, p, info[i] = sytrf(flat[i], lower=1)
                ld[i], piv[i] = np.tril(f), p
        return (self._from_host(ld.reshape(host.shape)), self._from_host(piv.reshape(host.shape[:-1])),
                self._from_host(info.reshape(host.shape[:-2])))

    def linalg_ldl_solve(self, ld, pivots, b, *, hermitian):
        ld, pivots, b = self._to_host(ld), self._to_host(pivots), self._to_host(b)
        batch = np.broadcast_shapes(ld.shape[:-2], pivots.shape[:-1], b.shape[:-2])
        n = ld.shape[-1]
        count = int(np.prod(batch, dtype=np.int64))
        ld = np.broadcast_to(ld, batch + (n, n)).reshape(count, n, n)
        pivots = np.broadcast_to(pivots, batch + (n,)).reshape(count, n)
        out_shape = batch + b.shape[-2:]
        b = np.broadcast_to(b, out_shape).reshape((count,) + b.shape[-2:])
        out = np.empty(b.shape, dtype=np.result_type(ld.dtype, b.dtype))
        if out.size:
            sytrs = self._lapack("hetrs" if hermitian and np.iscomplexobj(ld) else "sytrs", out)
            for i in range(b.shape[0]):
                out[i], _ = sytrs(ld[i], pivots[i], b[i], lower=1)
        return self._from_host(out.reshape(out_shape))

    def linalg_geqrf(self, x):
        xp = self.xp
        m, n = x.shape[-2:]
        if x.size == 0:
            return x.copy(), xp.zeros(x.shape[:-2] + (min(m, n),), dtype=x.dtype)
        h, tau = xp.linalg.qr(x, mode="raw")  # h is LAPACK's array, transposed
        return xp.ascontiguousarray(xp.swapaxes(h, -1, -2)), tau.astype(x.dtype, copy=False)
