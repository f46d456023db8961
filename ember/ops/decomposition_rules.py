"""Backward rules of the decomposition primitives, written in ember ops (so they run on every
device and differentiate again).

The decompositions with several differentiable results (QR, eigh, SVD, slogdet) use a rule
that receives one gradient per output (``None`` where an output got none): the dispatcher
gives every float output of such an op its place in the graph (``Rule.all_outputs``).
The formulas are the standard ones PyTorch uses (real case; ``mH`` where complex needs
the conjugate): e.g. M. Seeger et al., "Auto-differentiating linear algebra" (2017) and
J. Townsend, "Differentiating the singular value decomposition" (2016).
"""
from __future__ import annotations

from ember.core.autograd import Rule
from ember.core.info import finfo
from ember.dispatch.ops import OPS
from ember.ops import complex as complex_ops
from ember.ops import creation, shape
from ember.ops import decompositions as D
from ember.ops import elementwise as ew
from ember.ops import reduction as red
from ember.ops.linalg import matmul


class AllOutputsRule(Rule):
    """A rule called with the gradients of every output (a list), not only the first one's."""
    __slots__ = ()
    all_outputs = True


def derivative(name, *, inputs=(), output=False, all_outputs=False):
    """Attach the decorated function to ``OPS[name]`` as its backward rule (see ``ember.ops.derivatives``)."""
    def register(fn):
        camel = "".join(part.capitalize() for part in name.split("_"))
        cls = AllOutputsRule if all_outputs else Rule
        OPS[name].rule = cls(fn, f"{camel}Backward0", frozenset(inputs), output)
        return fn
    return register


_mH = D._mH


def _diag(x):
    return shape.diagonal(x, 0, -2, -1)


def _diag_embed(v):
    return shape.diag_embed(v)


def _solve_tri(a, b, **kw):
    return D.solve_triangular(a, b, **kw)


def _conj(x):
    return complex_ops.conj(x) if x.dtype.is_complex else x


def _phase_check(diagonal, message):
    """PyTorch's error where a complex loss depends on the free phase of eigen- or singular vectors:
    the imaginary part of ``diag(V^H gV)`` (summed over U and V for the SVD) must vanish."""
    if diagonal.numel() and bool(red.any(ew.gt(ew.abs(complex_ops.imag(diagonal)), 1e-2)).item()):
        raise RuntimeError(message)  # (PyTorch's allclose(imag, 0, rtol=1e-2, atol=1e-2))


def _outputs(node):
    return (node.saved_output(),) + tuple(node.extra_outputs or ())


# ---------------------------------------------------------------- Cholesky
@derivative("linalg_cholesky", output=True)
def _cholesky(node, g):
    L = node.saved_output()
    if node.attrs["upper"]:
        L, g = _mH(L), _mH(g)
    # gA = L^-H phi(L^H gL) L^-1, symmetrised; phi: the lower triangle with the diagonal halved
    phi = shape.tril(matmul(_mH(L), g))
    phi = phi - 0.5 * _diag_embed(_diag(phi))
    gA = _solve_tri(_mH(L), phi, upper=True)
    gA = _solve_tri(L, gA, upper=False, left=False)
    return (0.5 * (gA + _mH(gA)),)


# ---------------------------------------------------------------- QR
def _qr_tall(Q, R, gQ, gR):
    """m >= n, reduced: gA = (gQ + Q copyltu(M)) R^-H with M = R gR^H - gQ^H Q."""
    M = 0
    if gR is not None:
        M = matmul(R, _mH(gR))
    if gQ is not None:
        M = M - matmul(_mH(gQ), Q)
    lower = shape.tril(M, -1)
    sym = lower + _mH(lower) + _diag_embed(_diag(M))   # M's lower triangle copied to the upper one
    b = matmul(Q, sym) if gQ is None else gQ + matmul(Q, sym)
    return _solve_tri(_mH(R), b, upper=False, left=False)


@derivative("linalg_qr", output=True, all_outputs=True)
def _qr(node, grads):
    gQ, gR = grads
    Q, R = _outputs(node)
    mode = node.attrs["mode"]
    m, n = node.input_shape(0)[-2:]
    if mode == "r":
        raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                           "Please use linalg.qr(A, mode='reduced') if you are going to differentiate through "
                           "linalg.qr.")
    if mode == "complete" and m > n:
        raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
    if m >= n:
        return (_qr_tall(Q, R, gQ, gR),)
    # wide: A = Q [R1 | R2] with Y = A[..., m:] = Q R2: gY = Q gR2, X = A[..., :m] by the square rule
    R1, R2 = R[..., :, :m], R[..., :, m:]
    gR1 = gR[..., :, :m] if gR is not None else None
    gY = matmul(Q, gR[..., :, m:]) if gR is not None else creation.zeros(
        *Q.shape[:-1], n - m, dtype=Q.dtype, device=Q.device)
    gQ2 = matmul(matmul(Q, R2), _mH(gR[..., :, m:])) if gR is not None else None
    if gQ2 is not None:
        gQ = gQ2 if gQ is None else gQ + gQ2
    return (shape.cat([_qr_tall(Q, R1, gQ, gR1), gY], -1),)


# ---------------------------------------------------------------- symmetric eigendecomposition
@derivative("linalg_eigh", output=True, all_outputs=True)
def _eigh(node, grads):
    gw, gV = grads
    w, V = _outputs(node)
    if not node.attrs["eigenvectors"]:
        raise RuntimeError("linalg.eigvalsh: the derivative needs the eigenvectors; they were not computed")
    inner = creation.zeros_like(V) if gV is None else matmul(_mH(V), gV)
    if V.dtype.is_complex and gV is not None:
        _phase_check(_diag(inner), "linalg_eigh_backward: The eigenvectors in the complex case are specified up to "
                     "multiplication by e^{i phi}. The specified loss function depends on this quantity, so it is "
                     "ill-defined.")
    inner = 0.5 * (inner - _mH(inner))   # the skew-Hermitian part
    E = w.unsqueeze(-2) - w.unsqueeze(-1)  # E[i, j] = w_j - w_i
    n = w.shape[-1]
    eye = creation.eye(n, dtype=w.dtype, device=w.device)
    core = inner / (E + eye)               # the diagonal (0 / 1) is replaced below
    core = core * (1 - eye)
    if gw is not None:
        core = core + _diag_embed(gw.to(core.dtype))
    return (matmul(matmul(V, core), _mH(V)),)


# ---------------------------------------------------------------- general eigendecomposition
@derivative("linalg_eig", inputs=(0,), output=True, all_outputs=True)
def _eig(node, grads):
    gw, gV = grads
    w, V = _outputs(node)
    Vh = _mH(V)
    n = w.shape[-1]
    eye = creation.eye(n, dtype=V.dtype, device=V.device)
    if gV is None:
        core = _diag_embed(gw)
    else:
        VhgV = matmul(Vh, gV)
        _phase_check(_diag(VhgV), "linalg_eig_backward: The eigenvectors in the complex case are specified up to "
                     "multiplication by e^{i phi}. The specified loss function depends on this quantity, so it is "
                     "ill-defined.")
        # unit-norm eigenvectors: take out the part of gV along each column's own normalisation
        core = VhgV - matmul(matmul(Vh, V), _diag_embed(complex_ops.real(_diag(VhgV)).to(V.dtype)))
        E = _conj(w.unsqueeze(-2) - w.unsqueeze(-1)) + eye   # conj(w_j - w_i), 1 on the diagonal
        core = core / E * (1 - eye)
        if gw is not None:
            core = core + _diag_embed(gw)
    gA = D.solve(Vh, matmul(core, Vh))   # V^-H core V^H
    return (complex_ops.real(gA) if not node.input_dtype(0).is_complex else gA,)


# ---------------------------------------------------------------- SVD
@derivative("linalg_svd", output=True, all_outputs=True)
def _svd(node, grads):
    gU, gS, gVh = grads
    U, S, Vh = _outputs(node)
    if not node.attrs["compute_uv"]:
        raise RuntimeError("linalg.svdvals: the derivative needs U and Vh; they were not computed")
    m, n = node.input_shape(0)[-2:]
    k = S.shape[-1]
    if node.attrs["full_matrices"]:  # only the first k singular vectors take part
        U, Vh = U[..., :, :k], Vh[..., :k, :]
        gU = gU[..., :, :k] if gU is not None else None
        gVh = gVh[..., :k, :] if gVh is not None else None
    if gU is None and gVh is None:
        core = _diag_embed(gS.to(U.dtype))
        return (matmul(matmul(U, core), Vh),)
    eye = creation.eye(k, dtype=S.dtype, device=S.device)
    S2 = S * S
    E = S2.unsqueeze(-2) - S2.unsqueeze(-1) + eye   # E[i, j] = s_j^2 - s_i^2 (1 on the diagonal)
    core = 0
    J = matmul(_mH(U), gU) if gU is not None else None
    K = matmul(Vh, _mH(gVh)) if gVh is not None else None
    if U.dtype.is_complex:  # the loss must not depend on the free phase of each pair of singular vectors
        both = J if K is None else K if J is None else J + K
        _phase_check(_diag(both), "svd_backward: The singular vectors in the complex case are specified up to "
                     "multiplication by e^{i phi}. The specified loss function depends on this phase term, making it "
                     "ill-defined.")
    if J is not None:
        core = (J - _mH(J)) * S.unsqueeze(-2)
    if K is not None:
        core = core + S.unsqueeze(-1) * (K - _mH(K))
    core = core / E * (1 - eye)
    if U.dtype.is_complex and J is not None:  # the phase gauge's diagonal term: i Im(diag(U^H gU)) / S
        core = core + _diag_embed(complex_ops.imag(_diag(J)) / S * 1j)
    if gS is not None:
        core = core + _diag_embed(gS.to(core.dtype))
    gA = matmul(U, core)
    if m > k and gU is not None:  # the part of gU outside U's column space
        gUS = gU / S.unsqueeze(-2)
        gA = gA + gUS - matmul(U, matmul(_mH(U), gUS))
    gA = matmul(gA, Vh)
    if n > k and gVh is not None:
        gVS = gVh / S.unsqueeze(-1)
        gA = gA + matmul(U, gVS - matmul(matmul(gVS, _mH(Vh)), Vh))
    return (gA,)


# ---------------------------------------------------------------- LU
def _lu_square(L, U, gL, gU):
    """gA' = L^-H [tril(L^H gL, -1) + triu(gU U^H)] U^-H, the gradient of P^T A for square L, U."""
    phi = shape.tril(matmul(_mH(L), gL), -1) + shape.triu(matmul(gU, _mH(U)))
    x = _solve_tri(_mH(L), phi, upper=True, unitriangular=True)
    return _solve_tri(_mH(U), x, upper=False, left=False)


@derivative("linalg_lu_factor", output=True)
def _lu_factor(node, g):
    LU = node.saved_output()
    pivots = node.extra_outputs[0]
    m, n = LU.shape[-2:]
    k = min(m, n)
    P = D._permutation_matrix(pivots, m, LU.dtype, LU.device)
    eye = creation.eye(m, dtype=LU.dtype, device=LU.device)
    L = shape.tril(LU[..., :, :k], -1) + eye[:, :k]
    U = shape.triu(LU[..., :k, :])
    gL = shape.tril(g[..., :, :k], -1)
    gU = shape.triu(g[..., :k, :])
    if m == n:
        gA = _lu_square(L, U, gL, gU)
    elif m < n:  # wide: U = [U1 | U2]; U2 = L^-1 P^T A2
        U1, U2, gU1, gU2 = U[..., :, :m], U[..., :, m:], gU[..., :, :m], gU[..., :, m:]
        phi = shape.tril(matmul(_mH(L), gL) - matmul(gU2, _mH(U2)), -1) + shape.triu(matmul(gU1, _mH(U1)))
        gA1 = _solve_tri(_mH(U1), _solve_tri(_mH(L), phi, upper=True, unitriangular=True), upper=False, left=False)
        gA2 = _solve_tri(_mH(L), gU2, upper=True, unitriangular=True)
        gA = shape.cat([gA1, gA2], -1)
    else:  # tall: L = [L1; L2]; L2 = A2 U^-1
        L1, L2, gL1, gL2 = L[..., :n, :], L[..., n:, :], gL[..., :n, :], gL[..., n:, :]
        phi = shape.tril(matmul(_mH(L1), gL1), -1) + shape.triu(matmul(gU, _mH(U)) - matmul(_mH(L2), gL2))
        gA1 = _solve_tri(_mH(U), _solve_tri(_mH(L1), phi, upper=True, unitriangular=True), upper=False, left=False)
        gA2 = _solve_tri(_mH(U), gL2, upper=False, left=False)
        gA = shape.cat([gA1, gA2], -2)
    return (matmul(P, gA),)


# ---------------------------------------------------------------- triangular solves
@derivative("linalg_solve_triangular", inputs=(0,), output=True)
def _solve_triangular(node, g):
    A, X = node.saved_input(0), node.saved_output()
    upper, left, unit = node.attrs["upper"], node.attrs["left"], node.attrs["unitriangular"]
    gB = _solve_tri(_mH(A), g, upper=not upper, left=left, unitriangular=unit)
    gA = None
    if node.needs_grad(0):
        gA = -matmul(gB, _mH(X)) if left else -matmul(_mH(X), gB)
        offset = 1 if unit else 0  # only the triangle the kernel read (without a unit diagonal)
        gA = shape.triu(gA, offset) if upper else shape.tril(gA, -offset)
    return gA, gB


# ---------------------------------------------------------------- determinants
def _cofactors_by_svd(A):
    """conj(det(A)) A^-H, also for singular A: conj(det(U) det(Vh)) U diag(prod_{j != i} s_j) Vh."""
    U, S, Vh = D.linalg_svd(A, full_matrices=False)
    ones = creation.ones(*S.shape[:-1], 1, dtype=S.dtype, device=S.device)
    before = red.cumprod(shape.cat([ones, S[..., :-1]], -1), -1)                 # prod_{j < i}
    after = shape.flip(red.cumprod(shape.cat([ones, shape.flip(S, [-1])[..., :-1]], -1), -1), [-1])  # j > i
    others = (before * after).to(A.dtype)
    scale = _conj(D.linalg_det(U) * D.linalg_det(Vh)).unsqueeze(-1).unsqueeze(-1)
    return scale * matmul(U * others.unsqueeze(-2), Vh)


@derivative("linalg_det", inputs=(0,), output=True)
def _det(node, g):
    A, d = node.saved_input(0), node.saved_output()
    if A.shape[-1] == 0:
        return (creation.zeros_like(A),)
    # near-singular (|det| small against ||A||^n, where A^-1 is inaccurate or does not exist): the cofactor
    # matrix through the SVD, as PyTorch does for singular matrices; the SVD formula holds everywhere
    n = A.shape[-1]
    magnitude = ew.abs(A.detach())
    scale = ew.pow(red.sum(magnitude * magnitude, (-2, -1)), n / 2)
    small = ew.le(ew.abs(d.detach()), scale * (finfo(A.dtype.to_real()).eps ** 0.5))
    singular = bool(red.any(small).item()) if d.numel() else False
    if singular:
        cof = _cofactors_by_svd(A)
    else:
        inverse, _ = D.inv_ex(A)
        cof = _conj(d).unsqueeze(-1).unsqueeze(-1) * _mH(inverse)
    return (g.unsqueeze(-1).unsqueeze(-1) * cof,)


@derivative("linalg_slogdet", inputs=(0,), output=True, all_outputs=True)
def _slogdet(node, grads):
    gsign, glogabs = grads
    A = node.saved_input(0)
    # gA = c A^-H with c = g_logabsdet + i Im(conj(sign) g_sign): a real sign is locally constant
    c = None if glogabs is None else glogabs
    if A.dtype.is_complex and gsign is not None:
        sign = node.saved_output()
        phase = complex_ops.imag(_conj(sign) * gsign) * 1j
        c = phase if c is None else c + phase
    if c is None:
        return (creation.zeros_like(A),)
    inverse, _ = D.inv_ex(A)
    return (c.unsqueeze(-1).unsqueeze(-1) * _mH(inverse),)
