"""OpInfos for matrix products: matmul and its spelled-out forms, einsum, addmm/baddbmm."""
from __future__ import annotations

import operator as O

import numpy as np

from ember.testing import dtypes as D
from ember.testing.opinfo import STRIDED, TRANSPOSED, OpInfo, SampleInput as S

OPS = []
#: PyTorch's CPU matmul covers the integer types too (cuBLAS does not: backends may differ)
DTYPES = D.FLOATS + ("int64", "int32")
TOL = {"float16": (1e-2, 1e-2), "bfloat16": (2e-2, 5e-2), "float32": (1e-5, 1e-5)}


def _add(op):
    OPS.append(op)
    return op


def _m(mk, *shape):
    return mk(*shape, low=-2, high=2) if mk.is_float else mk(*shape, low=-3, high=4)


def _matmul_samples(mk):
    cases = [((4,), (4,), "1d_1d"), ((3, 4), (4,), "2d_1d"), ((4,), (4, 5), "1d_2d"), ((3, 4), (4, 5), "2d_2d"),
             ((2, 3, 4), (2, 4, 5), "batched"), ((2, 1, 3, 4), (5, 4, 2), "broadcast_batch"),
             ((2, 3, 4), (4, 5), "3d_2d"), ((4,), (2, 4, 5), "1d_3d"), ((2, 3, 4), (4,), "3d_1d"),
             ((3, 0), (0, 4), "empty_inner"), ((0, 3, 4), (4, 2), "empty_batch")]
    for sa, sb, desc in cases:
        yield S(_m(mk, *sa), _m(mk, *sb), desc=desc)
    yield S(_m(mk, 3, 4), _m(mk, 4, 5), desc="transposed", layout=TRANSPOSED)
    yield S(_m(mk, 2, 3, 4), _m(mk, 4, 2), desc="strided", layout=STRIDED)


_add(OpInfo("matmul", ref=np.matmul, samples=_matmul_samples, dtypes=DTYPES, method="matmul", operator=O.matmul,
            tol=TOL))


def _mm_samples(mk):
    yield S(_m(mk, 3, 4), _m(mk, 4, 5), desc="2d")
    yield S(_m(mk, 1, 4), _m(mk, 4, 1), desc="row_col")
    yield S(_m(mk, 3, 0), _m(mk, 0, 2), desc="empty_inner")
    yield S(_m(mk, 0, 4), _m(mk, 4, 2), desc="empty_rows")
    yield S(_m(mk, 3, 4), _m(mk, 4, 5), desc="transposed", layout=TRANSPOSED)
    yield S(_m(mk, 3, 4), _m(mk, 4, 3), desc="strided", layout=STRIDED)


def _bmm_samples(mk):
    yield S(_m(mk, 2, 3, 4), _m(mk, 2, 4, 5), desc="3d")
    yield S(_m(mk, 0, 3, 4), _m(mk, 0, 4, 5), desc="empty_batch")
    yield S(_m(mk, 2, 3, 0), _m(mk, 2, 0, 5), desc="empty_inner")
    yield S(_m(mk, 2, 3, 4), _m(mk, 2, 4, 5), desc="transposed", layout=TRANSPOSED)
    yield S(_m(mk, 2, 3, 4), _m(mk, 2, 4, 3), desc="strided", layout=STRIDED)


def _mv_samples(mk):
    yield S(_m(mk, 3, 4), _m(mk, 4), desc="2d_1d")
    yield S(_m(mk, 3, 0), _m(mk, 0), desc="empty_inner")
    yield S(_m(mk, 3, 4), _m(mk, 4), desc="transposed", layout=TRANSPOSED)
    yield S(_m(mk, 3, 4), _m(mk, 4), desc="strided", layout=STRIDED)


def _dot_samples(mk):
    yield S(_m(mk, 5), _m(mk, 5), desc="1d")
    yield S(_m(mk, 0), _m(mk, 0), desc="empty")
    yield S(_m(mk, 4), _m(mk, 4), desc="strided", layout=STRIDED)


def _outer_samples(mk):
    yield S(_m(mk, 3), _m(mk, 4), desc="1d")
    yield S(_m(mk, 0), _m(mk, 4), desc="empty")
    yield S(_m(mk, 3), _m(mk, 2), desc="strided", layout=STRIDED)


_add(OpInfo("mm", ref=np.matmul, samples=_mm_samples, dtypes=DTYPES, method="mm", tol=TOL))
_add(OpInfo("bmm", ref=np.matmul, samples=_bmm_samples, dtypes=DTYPES, method="bmm", tol=TOL))
_add(OpInfo("mv", ref=np.matmul, samples=_mv_samples, dtypes=DTYPES, method="mv", tol=TOL))
_add(OpInfo("dot", ref=np.dot, samples=_dot_samples, dtypes=DTYPES, method="dot", tol=TOL))
_add(OpInfo("outer", ref=np.outer, samples=_outer_samples, dtypes=D.ALL_BUT_BOOL, method="outer", aliases=("ger",),
            tol=TOL))


# ---------------------------------------------------------------- einsum
EQUATIONS = [
    ("ij,jk->ik", [(3, 4), (4, 5)], "matmul"),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)], "batched"),
    ("ii->i", [(4, 4)], "diagonal"),
    ("bii->b", [(2, 3, 3)], "batched_trace"),
    ("ij->ji", [(3, 4)], "transpose"),
    ("ij->", [(3, 4)], "sum_all"),
    ("i,i->", [(5,), (5,)], "dot"),
    ("i,j->ij", [(3,), (4,)], "outer"),
    ("ij,kj->ik", [(3, 4), (2, 4)], "contract_last"),
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 2)], "ellipsis"),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)], "three_operands"),
    ("ij,jk", [(3, 4), (4, 2)], "implicit_output"),
    ("ij,jk->ik", [(3, 0), (0, 2)], "empty_inner"),
]


def einsum(*operands, equation):
    import ember
    return ember.einsum(equation, *operands)


def _einsum_list(*operands, equation):
    import ember
    return ember.einsum(equation, list(operands))


def _einsum_ref(*operands, equation):
    return np.einsum(equation, *operands)


def _einsum_samples(mk):
    for eq, shapes, desc in EQUATIONS:
        arrays = [_m(mk, *s) for s in shapes]
        yield S(arrays[0], *arrays[1:], desc=desc, kwargs=dict(equation=eq))
    yield S(_m(mk, 3, 4), _m(mk, 4, 5), desc="transposed", kwargs=dict(equation="ij,jk->ik"), layout=TRANSPOSED)
    yield S(_m(mk, 3, 4), _m(mk, 4, 5), desc="operand_list", kwargs=dict(equation="ij,jk->ik"))


_add(OpInfo("einsum", op=einsum, ref=_einsum_ref, samples=_einsum_samples, dtypes=DTYPES, tol=TOL,
            # PyTorch sums a one-operand equation's dropped subscripts with sum(): integers widen to int64
            result_dtype=lambda s, d: "int64" if not D.is_float(d) and not s.args and (
                lambda lhs, out: len(set(lhs)) > len(out))(*s.kwargs["equation"].split("->")) else d))
_add(OpInfo("einsum_list", op=_einsum_list, ref=_einsum_ref, supports_grad=False, dtypes=("float32", "int64"),
            samples=lambda mk: (s for s in _einsum_samples(mk) if s.desc == "operand_list"), tol=TOL))


# ---------------------------------------------------------------- add + product
def _addmm_ref(input, a, b, beta=1, alpha=1):
    product = alpha * np.matmul(a, b)
    return product if beta == 0 else beta * input + product


def _scales(mk):
    return dict(beta=0.5, alpha=2.0) if mk.is_float else dict(beta=2, alpha=3)


def _addmm_samples(mk):
    yield S(_m(mk, 3, 5), _m(mk, 3, 4), _m(mk, 4, 5), desc="2d")
    yield S(_m(mk, 5), _m(mk, 3, 4), _m(mk, 4, 5), desc="broadcast_bias")
    yield S(_m(mk, 3, 5), _m(mk, 3, 4), _m(mk, 4, 5), desc="beta_alpha", kwargs=_scales(mk))
    yield S(_m(mk, 3, 5), _m(mk, 3, 4), _m(mk, 4, 5), desc="transposed", layout=TRANSPOSED)
    yield S(_m(mk, 3, 2), _m(mk, 3, 0), _m(mk, 0, 2), desc="empty_inner")
    if mk.is_float:
        bias = _m(mk, 3, 5)
        bias[0, 0] = np.nan
        yield S(bias, _m(mk, 3, 4), _m(mk, 4, 5), desc="beta0_ignores_nan", kwargs=dict(beta=0), grad=False)


def _baddbmm_samples(mk):
    yield S(_m(mk, 2, 3, 5), _m(mk, 2, 3, 4), _m(mk, 2, 4, 5), desc="3d")
    yield S(_m(mk, 3, 5), _m(mk, 2, 3, 4), _m(mk, 2, 4, 5), desc="broadcast_input")
    yield S(_m(mk, 2, 3, 5), _m(mk, 2, 3, 4), _m(mk, 2, 4, 5), desc="beta_alpha", kwargs=_scales(mk))
    yield S(_m(mk, 2, 3, 5), _m(mk, 2, 3, 4), _m(mk, 2, 4, 5), desc="transposed", layout=TRANSPOSED)
    if mk.is_float:
        bias = _m(mk, 2, 3, 5)
        bias[1, 0, 0] = np.nan
        yield S(bias, _m(mk, 2, 3, 4), _m(mk, 2, 4, 5), desc="beta0_ignores_nan", kwargs=dict(beta=0), grad=False)


_add(OpInfo("addmm", ref=_addmm_ref, samples=_addmm_samples, dtypes=DTYPES, method="addmm", tol=TOL))
_add(OpInfo("baddbmm", ref=_addmm_ref, samples=_baddbmm_samples, dtypes=DTYPES, method="baddbmm", tol=TOL))


# ---------------------------------------------------------------- decompositions (ember.linalg)
# float32 + float64 only and a few small samples each: every entry runs on every device.
# Factors with a sign (or phase) freedom are compared through invariants: squared entries of
# Q, U, V (a column's sign flips its square not), reconstructions and eigen-residuals.
DECOMP = ("float32", "float64")
DTOL = {"float32": (2e-4, 2e-4)}
DGRAD = (1e-4, 1e-5)  # central differences through a factorization lose a few digits


def _ln(name):
    """``ember.linalg.<name>`` as an OpInfo op (the runner looks plain names up on ``ember``)."""
    def fn(*args, **kwargs):
        import ember
        return getattr(ember.linalg, name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = f"linalg_{name}"
    return fn


def _well(mk, *shape, shift=3.0):
    """Random matrices with ``shift`` added to the diagonal: invertible, well conditioned."""
    a = mk(*shape, low=-1, high=1)
    return (a + shift * np.eye(shape[-1], dtype=a.dtype)).astype(a.dtype)


def _spd_np(x):
    return x @ np.swapaxes(x, -1, -2) + x.shape[-1] * np.eye(x.shape[-1])


def _spd(x):
    import ember
    return x @ x.mT + x.shape[-1] * ember.eye(x.shape[-1], dtype=x.dtype, device=x.device)


def _cholesky(x, upper=False):
    import ember
    return ember.linalg.cholesky(_spd(x), upper=upper)


def _cholesky_ref(x, upper=False):
    L = np.linalg.cholesky(_spd_np(x))
    return np.swapaxes(L, -1, -2) if upper else L


def _cholesky_samples(mk):
    yield S(mk(2, 3, 3, low=-1, high=1), desc="batched")
    yield S(mk(3, 3, low=-1, high=1), desc="upper", kwargs=dict(upper=True))


_add(OpInfo("linalg.cholesky", op=_cholesky, ref=_cholesky_ref, samples=_cholesky_samples, dtypes=DECOMP,
            tol=DTOL, grad_tol=DGRAD))


def _qr(a, mode="reduced"):
    import ember
    Q, R = ember.linalg.qr(a, mode=mode)
    # a complete Q's extra columns are any orthonormal basis of the complement: check Q^T Q = I there
    return (Q.mT @ Q if mode == "complete" else Q * Q), R * R, Q @ R


def _qr_ref(a, mode="reduced"):
    Q, R = np.linalg.qr(a, mode=mode)
    return (np.swapaxes(Q, -1, -2) @ Q if mode == "complete" else Q * Q), R * R, Q @ R


def _qr_samples(mk):
    yield S(mk(4, 3, low=-1, high=1), desc="tall")
    yield S(mk(2, 3, 3, low=-1, high=1), desc="batched_square")
    yield S(mk(3, 4, low=-1, high=1), desc="wide")
    yield S(mk(4, 2, low=-1, high=1), desc="complete", kwargs=dict(mode="complete"), grad=False)


_add(OpInfo("linalg.qr", op=_qr, ref=_qr_ref, samples=_qr_samples, dtypes=DECOMP, tol=DTOL, grad_tol=DGRAD))


def _eigh(x, UPLO="L"):
    import ember
    w, V = ember.linalg.eigh(x + x.mT, UPLO=UPLO)
    return w, V * V


def _eigh_ref(x, UPLO="L"):
    w, V = np.linalg.eigh(x + np.swapaxes(x, -1, -2), UPLO=UPLO)
    return w, V * V


def _eigh_samples(mk):
    yield S(mk(2, 3, 3, low=-1, high=1), desc="batched")
    yield S(mk(4, 4, low=-1, high=1), desc="upper", kwargs=dict(UPLO="U"))


_add(OpInfo("linalg.eigh", op=_eigh, ref=_eigh_ref, samples=_eigh_samples, dtypes=DECOMP, tol=DTOL,
            grad_tol=DGRAD))


def _eigvalsh(x):
    import ember
    return ember.linalg.eigvalsh(x + x.mT)


_add(OpInfo("linalg.eigvalsh", op=_eigvalsh, ref=lambda x: np.linalg.eigvalsh(x + np.swapaxes(x, -1, -2)),
            samples=lambda mk: [S(mk(3, 3, low=-1, high=1), desc="square")], dtypes=DECOMP, tol=DTOL,
            grad_tol=DGRAD))


def _eig(a):
    import ember
    w, V = ember.linalg.eig(a)
    # functions of the eigenpairs free of each eigenvector's phase: sums of powers, V diag(w) V^-1 = A, |V|
    return w.real.sum(-1), (w * w).imag.sum(-1), (V * w.unsqueeze(-2)) @ ember.linalg.inv(V), V.abs()


def _eig_ref(a):
    w, V = np.linalg.eig(a)
    return w.real.sum(-1), (w * w).imag.sum(-1), a, np.abs(V)


# complex128 only: the devices without complex128 (mps) skip it (their PyTorch has no eig)
_add(OpInfo("linalg.eig", op=_eig, ref=_eig_ref, dtypes=("complex128",), grad_tol=DGRAD,
            result_dtype=("float64", "float64", "complex128", "float64"),
            samples=lambda mk: [S(mk(2, 3, 3, low=-1, high=1), desc="batched")], tol=DTOL))


def _svd(a, full_matrices=False):
    import ember
    U, S_, Vh = ember.linalg.svd(a, full_matrices=full_matrices)
    return U * U, S_, Vh * Vh


def _svd_ref(a, full_matrices=False):
    U, S_, Vh = np.linalg.svd(a, full_matrices=full_matrices)
    return U * U, S_, Vh * Vh


def _svd_samples(mk):
    yield S(mk(4, 3, low=-1, high=1), desc="tall")
    yield S(mk(2, 2, 3, low=-1, high=1), desc="batched_wide")
    # PyTorch ignores the gradient of the extra columns of a full U or Vh: forward only
    yield S(mk(3, 2, low=-1, high=1), desc="full", kwargs=dict(full_matrices=True), grad=False)


_add(OpInfo("linalg.svd", op=_svd, ref=_svd_ref, samples=_svd_samples, dtypes=DECOMP, tol=DTOL, grad_tol=DGRAD))
_add(OpInfo("linalg.svdvals", op=_ln("svdvals"), ref=lambda a: np.linalg.svd(a, compute_uv=False),
            samples=lambda mk: [S(mk(3, 4, low=-1, high=1), desc="wide")], dtypes=DECOMP, tol=DTOL, grad_tol=DGRAD))


def _det_samples(mk):
    yield S(mk(2, 3, 3, low=-1, high=1), desc="batched")
    a = mk(3, 3, low=-1, high=1)
    a[2] = a[0] + a[1]   # singular: the gradient is the cofactor matrix (through the SVD)
    yield S(a, desc="singular")


_add(OpInfo("linalg.det", op=_ln("det"), ref=np.linalg.det, samples=_det_samples, dtypes=DECOMP, tol=DTOL,
            method="det", grad_tol=DGRAD))
_add(OpInfo("linalg.slogdet", op=_ln("slogdet"), ref=lambda a: tuple(np.linalg.slogdet(a)), method="slogdet",
            samples=lambda mk: [S(mk(2, 3, 3, low=-1, high=1), desc="batched")], dtypes=DECOMP, tol=DTOL,
            grad_tol=DGRAD))
_add(OpInfo("linalg.inv", op=_ln("inv"), ref=np.linalg.inv, method="inverse", aliases=("inverse",),
            samples=lambda mk: [S(_well(mk, 2, 3, 3), desc="batched")], dtypes=DECOMP, tol=DTOL, grad_tol=DGRAD))


def _solve_ref(a, b, left=True):
    if not left:
        return np.swapaxes(np.linalg.solve(np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2)), -1, -2)
    if b.ndim == 1:
        return np.linalg.solve(a, b[:, None])[:, 0]
    return np.linalg.solve(a, b)


def _solve_samples(mk):
    yield S(_well(mk, 2, 3, 3), mk(2, 3, 2, low=-1, high=1), desc="batched")
    yield S(_well(mk, 3, 3), mk(3, low=-1, high=1), desc="vector")
    yield S(_well(mk, 3, 3), mk(2, 3, low=-1, high=1), desc="right", kwargs=dict(left=False))


_add(OpInfo("linalg.solve", op=_ln("solve"), ref=_solve_ref, samples=_solve_samples, dtypes=DECOMP, tol=DTOL,
            grad_tol=DGRAD))


def _lu_factor_ref(a):
    import scipy.linalg
    m, n = a.shape[-2:]
    flat = a.reshape(-1, m, n)
    out = [scipy.linalg.lapack.dgetrf(x)[:2] for x in flat]
    return (np.stack([o[0] for o in out]).reshape(a.shape),
            (np.stack([o[1] for o in out]) + 1).reshape(a.shape[:-2] + (min(m, n),)).astype(np.int32))


def _lu_factor_samples(mk):
    yield S(mk(2, 3, 3, low=-1, high=1), desc="batched")
    yield S(mk(3, 5, low=-1, high=1), desc="wide")
    yield S(mk(5, 3, low=-1, high=1), desc="tall")


_add(OpInfo("linalg.lu_factor", op=_ln("lu_factor"), ref=_lu_factor_ref, samples=_lu_factor_samples,
            dtypes=DECOMP, tol=DTOL, grad_tol=DGRAD, result_dtype=lambda s, d: (d, "int32")))


def _lu(a):
    import ember
    P, L, U = ember.linalg.lu(a)
    return P @ L @ U, P


def _lu_ref(a):
    import scipy.linalg
    P, _, _ = scipy.linalg.lu(a)
    return a, P


_add(OpInfo("linalg.lu", op=_lu, ref=_lu_ref, samples=lambda mk: [S(mk(2, 4, 3, low=-1, high=1), desc="tall")],
            dtypes=DECOMP, tol=DTOL, grad_tol=DGRAD))


def _solve_triangular_ref(a, b, upper, left=True, unitriangular=False):
    t = np.triu(a) if upper else np.tril(a)
    if unitriangular:
        t = t - np.diag(np.diagonal(t)) + np.eye(t.shape[-1])
    return _solve_ref(t, b, left)


def _solve_triangular_samples(mk):
    yield S(_well(mk, 2, 3, 3), mk(2, 3, 2, low=-1, high=1), desc="upper", kwargs=dict(upper=True))
    yield S(_well(mk, 3, 3), mk(2, 3, low=-1, high=1), desc="lower_right", kwargs=dict(upper=False, left=False))
    yield S(mk(3, 3, low=-1, high=1), mk(3, 2, low=-1, high=1), desc="unit",
            kwargs=dict(upper=False, unitriangular=True))


_add(OpInfo("linalg.solve_triangular", op=_ln("solve_triangular"), ref=_solve_triangular_ref,
            samples=_solve_triangular_samples, dtypes=DECOMP, tol=DTOL, grad_tol=DGRAD))


def _ldl(x, b):
    import ember
    LD, pivots = ember.linalg.ldl_factor(x + x.mT)
    return ember.linalg.ldl_solve(LD, pivots, b)


_add(OpInfo("linalg.ldl", op=_ldl, ref=lambda x, b: np.linalg.solve(x + np.swapaxes(x, -1, -2), b),
            samples=lambda mk: [S(mk(2, 4, 4, low=-1, high=1), mk(2, 4, 2, low=-1, high=1), desc="batched")],
            dtypes=DECOMP, tol={"float32": (1e-3, 1e-3)}, supports_grad=False))


def _householder(a):
    import ember
    h, tau = ember.geqrf(a)
    Q = ember.linalg.householder_product(h, tau)
    return Q * Q, (Q.mT @ a) * (Q.mT @ a)


def _householder_ref(a):
    Q, R = np.linalg.qr(a)
    return Q * Q, R * R


# geqrf has no derivative (as in PyTorch): the forward check covers geqrf and householder_product
_add(OpInfo("householder_product", op=_householder, ref=_householder_ref, supports_grad=False,
            samples=lambda mk: [S(mk(2, 4, 3, low=-1, high=1), desc="batched")], dtypes=DECOMP, tol=DTOL))
_add(OpInfo("linalg.householder_product", op=_ln("householder_product"), grad_tol=DGRAD,
            ref=lambda a, tau: _householder_np(a, tau), dtypes=DECOMP, tol=DTOL,
            samples=lambda mk: [S(mk(4, 3, low=-1, high=1), mk(2, low=0.5, high=1.5), desc="two_reflectors")]))


def _householder_np(a, tau):
    m, n = a.shape
    Q = np.eye(m)[:, :n]
    v = np.tril(a, -1) + np.eye(m)[:, :n]
    H = np.eye(m)
    for i in range(tau.shape[-1]):
        H = H @ (np.eye(m) - tau[i] * np.outer(v[:, i], v[:, i]))
    return H @ Q


def _lstsq(a, b, driver=None):
    import ember
    return ember.linalg.lstsq(a, b, driver=driver).solution


_add(OpInfo("linalg.lstsq", op=_lstsq, ref=lambda a, b, driver=None: np.linalg.lstsq(a, b, rcond=None)[0],
            samples=lambda mk: [S(mk(5, 3, low=-1, high=1), mk(5, 2, low=-1, high=1), desc="gelsy"),
                                S(mk(5, 3, low=-1, high=1), mk(5, 2, low=-1, high=1), desc="gels",
                                  kwargs=dict(driver="gels"))],
            dtypes=DECOMP, tol={"float32": (1e-3, 1e-3)}, grad_tol=DGRAD))
_add(OpInfo("linalg.pinv", op=_ln("pinv"), ref=np.linalg.pinv, dtypes=DECOMP, tol={"float32": (1e-3, 1e-3)},
            samples=lambda mk: [S(mk(4, 3, low=-1, high=1), desc="tall")], grad_tol=DGRAD))


def _matrix_exp_ref(a):
    import scipy.linalg
    return np.stack([scipy.linalg.expm(x) for x in a.reshape(-1, *a.shape[-2:])]).reshape(a.shape)


_add(OpInfo("linalg.matrix_exp", op=_ln("matrix_exp"), ref=_matrix_exp_ref, method="matrix_exp",
            aliases=("matrix_exp",), dtypes=DECOMP, tol=DTOL, grad_tol=DGRAD,
            samples=lambda mk: [S(mk(2, 3, 3, low=-1, high=1), desc="batched")]))
_add(OpInfo("linalg.matrix_power", op=_ln("matrix_power"), ref=np.linalg.matrix_power, method="matrix_power",
            aliases=("matrix_power",), dtypes=DECOMP, tol=DTOL,
            samples=lambda mk: [S(mk(2, 3, 3, low=-1, high=1), 3, desc="cube"),
                                S(_well(mk, 3, 3), -2, desc="inverse_square")]))


def _matrix_norm_ref(a, ord="fro"):
    return np.linalg.norm(a, ord, axis=(-2, -1))


_add(OpInfo("linalg.matrix_norm", op=_ln("matrix_norm"), ref=_matrix_norm_ref, dtypes=DECOMP, tol=DTOL,
            samples=lambda mk: [S(mk(2, 3, 4), desc=f"ord_{o}", kwargs=dict(ord=o))
                                for o in ("fro", "nuc", 2, 1, np.inf)], grad_tol=DGRAD))
_add(OpInfo("linalg.vector_norm", op=_ln("vector_norm"), dtypes=DECOMP, tol=DTOL,
            ref=lambda x, ord=2, dim=None: np.linalg.norm(x.reshape(-1) if dim is None else x, ord, axis=dim),
            samples=lambda mk: [S(mk(2, 5), desc="all"), S(mk(2, 5), desc="p3_dim", kwargs=dict(ord=3, dim=1))]))
_add(OpInfo("linalg.cond", op=_ln("cond"), ref=np.linalg.cond, dtypes=DECOMP, tol=DTOL, grad_tol=DGRAD,
            samples=lambda mk: [S(_well(mk, 3, 3), desc="two"), S(_well(mk, 3, 3), "fro", desc="fro")]))
_add(OpInfo("linalg.cross", op=_ln("cross"), ref=lambda a, b: np.cross(a, b), dtypes=DECOMP + ("int64",),
            samples=lambda mk: [S(_m(mk, 2, 3), _m(mk, 1, 3), desc="broadcast")]))
_add(OpInfo("linalg.multi_dot", op=lambda *ts: __import__("ember").linalg.multi_dot(ts),
            ref=lambda *a: np.linalg.multi_dot(a), dtypes=DECOMP, tol=DTOL,
            samples=lambda mk: [S(mk(3), mk(3, 4), mk(4, 2), desc="vector_first")]))
_add(OpInfo("trace", ref=np.trace, method="trace", dtypes=DECOMP + ("int64",),
            samples=lambda mk: [S(_m(mk, 3, 4), desc="rect")]))
