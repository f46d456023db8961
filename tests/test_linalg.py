"""ember.linalg beyond the conformance entries (ember/testing/opdb/linalg.py): PyTorch's errors and
exception classes, result namedtuples, the older top-level forms, batched shapes, out=, and a
least-squares fit against numpy. Numbers are checked against float64 numpy/scipy references."""
import numpy as np
import pytest
import scipy.linalg

import ember

L = ember.linalg
RNG = np.random.default_rng(12)


def t(a, **kw):
    return ember.tensor(np.asarray(a), **kw)


def spd(*batch, n=4):
    x = RNG.standard_normal((*batch, n, n))
    return x @ np.swapaxes(x, -1, -2) + n * np.eye(n)


def test_every_torch_linalg_name_exists():
    names = """LinAlgError cholesky cholesky_ex cond cross det diagonal eig eigh eigvals eigvalsh householder_product
        inv inv_ex ldl_factor ldl_factor_ex ldl_solve lstsq lu lu_factor lu_factor_ex lu_solve matmul matrix_exp
        matrix_norm matrix_power matrix_rank multi_dot norm pinv qr slogdet solve solve_ex solve_triangular svd
        svdvals tensorinv tensorsolve vander vecdot vector_norm""".split()
    assert not [n for n in names if not hasattr(L, n)]
    top = """det inverse svd qr cholesky slogdet logdet pinverse matrix_exp matrix_power cholesky_solve
        cholesky_inverse triangular_solve lu lu_solve lu_unpack geqrf orgqr ormqr chain_matmul trace cross vander
        svd_lowrank pca_lowrank nuclear_norm frobenius_norm""".split()
    assert not [n for n in top if not hasattr(ember, n)]
    methods = """det inverse cholesky qr svd slogdet logdet pinverse matrix_exp matrix_power trace cross lu
        lu_solve cholesky_solve cholesky_inverse geqrf orgqr ormqr triangular_solve""".split()
    assert not [n for n in methods if not hasattr(ember.Tensor, n)]


def test_namedtuple_fields():
    A = t(spd(2))
    assert L.qr(A)._fields == ("Q", "R")
    assert L.svd(A)._fields == ("U", "S", "Vh")
    assert ember.svd(A)._fields == ("U", "S", "V")
    assert L.eigh(A)._fields == ("eigenvalues", "eigenvectors")
    assert L.eig(A)._fields == ("eigenvalues", "eigenvectors")
    assert L.slogdet(A)._fields == ("sign", "logabsdet")
    assert L.cholesky_ex(A)._fields == ("L", "info")
    assert L.inv_ex(A)._fields == ("inverse", "info")
    assert L.solve_ex(A, A)._fields == ("result", "info")
    assert L.lu_factor_ex(A)._fields == ("LU", "pivots", "info")
    assert L.lu_factor(A)._fields == ("LU", "pivots")
    assert L.lu(A)._fields == ("P", "L", "U")
    assert L.ldl_factor(A)._fields == ("LD", "pivots")
    assert L.lstsq(A, A)._fields == ("solution", "residuals", "rank", "singular_values")
    assert ember.triangular_solve(A, A)._fields == ("solution", "cloned_coefficient")
    assert ember.geqrf(A)._fields == ("a", "tau")


def test_errors_as_pytorch():
    with pytest.raises(RuntimeError, match=r"linalg.inv: A must be batches of square matrices, but they are 2 by 3"):
        L.inv(ember.zeros(2, 3))
    with pytest.raises(L.LinAlgError, match=r"linalg.inv: \(Batch element 0\): The diagonal element 1 is zero"):
        L.inv(ember.zeros(2, 3, 3))
    assert issubclass(L.LinAlgError, RuntimeError)
    with pytest.raises(L.LinAlgError, match=r"linalg.cholesky: \(Batch element 1\): The factorization could not be "
                                            r"completed because the input is not positive-definite \(the leading "
                                            r"minor of order 2 is not positive-definite\)"):
        L.cholesky(t(np.stack([np.eye(3), np.diag([1.0, -1.0, 1.0])])))
    with pytest.raises(NotImplementedError, match="\"cholesky_cpu\" not implemented for 'Half'"):
        L.cholesky(ember.eye(3, dtype=ember.float16))
    with pytest.raises(NotImplementedError, match="\"lu_cpu\" not implemented for 'BFloat16'"):
        L.det(ember.eye(3, dtype=ember.bfloat16))
    with pytest.raises(RuntimeError, match="linalg.det: Expected a floating point or complex tensor as input. Got "
                                           "Long"):
        L.det(ember.eye(3, dtype=ember.int64))
    with pytest.raises(RuntimeError, match="linalg.det: The input tensor A must have at least 2 dimensions."):
        L.det(ember.ones(3))
    with pytest.raises(L.LinAlgError, match="The solver failed because the input matrix is singular"):
        L.solve(ember.zeros(3, 3), ember.ones(3))
    with pytest.raises(RuntimeError, match=r"Incompatible shapes of A and B for the equation AX = B \(3x3 and 4x1\)"):
        L.solve(ember.eye(3), ember.ones(4))
    with pytest.raises(RuntimeError, match="qr received unrecognized mode 'bad'"):
        L.qr(ember.ones(3, 2), mode="bad")
    with pytest.raises(RuntimeError, match="LU without pivoting is not implemented on the CPU"):
        L.lu_factor(ember.eye(3), pivot=False)
    with pytest.raises(RuntimeError, match="inputs dimension -1 must have length 3. Got 4 and 4"):
        L.cross(ember.ones(2, 4), ember.ones(2, 4))
    with pytest.raises(RuntimeError, match="Order 3 not supported"):
        L.matrix_norm(ember.ones(2, 3), ord=3)
    with pytest.raises(RuntimeError, match="This function was deprecated since version 1.9 and is now removed"):
        ember.symeig(ember.eye(3))


def test_ex_variants_report_instead_of_raising():
    L_, info = L.cholesky_ex(t(np.stack([np.eye(2), -np.eye(2)])))
    assert info.dtype is ember.int32 and info.tolist() == [0, 1]
    LU, pivots, info = L.lu_factor_ex(ember.zeros(3, 3))
    assert pivots.dtype is ember.int32 and int(info) == 1
    inverse, info = L.inv_ex(t(np.stack([np.eye(2), np.zeros((2, 2))])))
    assert info.tolist() == [0, 1] and np.allclose(inverse[0].numpy(), np.eye(2))


def test_batched_shapes():
    A = t(RNG.standard_normal((2, 3, 5, 4)))
    assert L.qr(A).Q.shape == (2, 3, 5, 4) and L.qr(A, mode="complete").Q.shape == (2, 3, 5, 5)
    assert L.qr(A, mode="r").Q.shape == (0,) and L.qr(A, mode="r").R.shape == (2, 3, 4, 4)
    U, S, Vh = L.svd(A, full_matrices=False)
    assert (U.shape, S.shape, Vh.shape) == ((2, 3, 5, 4), (2, 3, 4), (2, 3, 4, 4))
    assert L.svd(A).U.shape == (2, 3, 5, 5)
    LU, piv = L.lu_factor(A)
    assert LU.shape == (2, 3, 5, 4) and piv.shape == (2, 3, 4)
    P, Lo, Up = L.lu(A)
    assert (P.shape, Lo.shape, Up.shape) == ((2, 3, 5, 5), (2, 3, 5, 4), (2, 3, 4, 4))
    np.testing.assert_allclose((P @ Lo @ Up).numpy(), A.numpy(), atol=1e-5)
    assert L.det(t(spd(2, 3))).shape == (2, 3)
    # batch dims of A and B broadcast in solve
    B = t(RNG.standard_normal((3, 4, 2)))
    assert L.solve(t(spd(2, 1)), B).shape == (2, 3, 4, 2)


def test_old_forms():
    A = RNG.standard_normal((4, 3))
    U, S, V = ember.svd(t(A))
    np.testing.assert_allclose((U * S.unsqueeze(-2) @ V.mT).numpy(), A, atol=1e-12)  # V, not Vh
    U0, S0, V0 = ember.svd(t(A), compute_uv=False)
    assert U0.shape == (4, 4) and V0.shape == (3, 3) and not U0.numpy().any()
    assert ember.qr(t(A), some=False).Q.shape == (4, 4)
    M = spd()
    np.testing.assert_allclose(ember.cholesky(t(M), upper=True).numpy(), scipy.linalg.cholesky(M), atol=1e-12)
    np.testing.assert_allclose(t(M).inverse().numpy(), np.linalg.inv(M), atol=1e-12)
    np.testing.assert_allclose(t(M).logdet().item(), np.linalg.slogdet(M)[1], atol=1e-12)
    assert np.isnan(ember.logdet(t(-np.eye(3))).item())
    b = RNG.standard_normal((4, 2))
    X, copy = ember.triangular_solve(t(b), t(np.triu(M)))   # b first, upper by default
    np.testing.assert_allclose(X.numpy(), scipy.linalg.solve_triangular(np.triu(M), b), atol=1e-12)
    X = ember.triangular_solve(t(b), t(np.triu(M)), transpose=True).solution
    np.testing.assert_allclose(X.numpy(), np.linalg.solve(np.triu(M).T, b), atol=1e-12)
    LU, piv = ember.lu(t(M))
    np.testing.assert_allclose(ember.lu_solve(t(b), LU, piv).numpy(), np.linalg.solve(M, b), atol=1e-12)
    np.testing.assert_allclose(t(M).pinverse().numpy(), np.linalg.pinv(M), atol=1e-12)
    x = t([1, 2, 3])
    assert ember.vander(x).tolist() == [[1, 1, 1], [4, 2, 1], [9, 3, 1]]
    assert ember.vander(x, N=2, increasing=True).tolist() == [[1, 1], [1, 2], [1, 3]]
    assert L.vander(t([2.0, 3.0]), N=3).tolist() == [[1, 2, 4], [1, 3, 9]]
    a, b3 = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    with pytest.warns(UserWarning, match="without specifying the dim arg is deprecated"):
        c = ember.cross(t(a), t(b3))   # the first dim of size 3, unlike linalg.cross
    np.testing.assert_allclose(c.numpy(), np.cross(a, b3, axis=0), atol=1e-12)
    assert ember.chain_matmul(t(a), t(b3.T)).shape == (3, 3)
    np.testing.assert_allclose(ember.nuclear_norm(t(a)).item(), np.linalg.norm(a, "nuc"), atol=1e-12)
    np.testing.assert_allclose(ember.frobenius_norm(t(a), (0, 1)).item(), np.linalg.norm(a), atol=1e-12)
    np.testing.assert_allclose(t(M).matrix_power(3).numpy(), np.linalg.matrix_power(M, 3), rtol=1e-12)


def test_trace_gradient_and_dtype():
    x = t(RNG.standard_normal((3, 4)), requires_grad=True)
    ember.trace(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.eye(3, 4))
    assert ember.trace(ember.ones(2, 2, dtype=ember.int32)).dtype is ember.int64
    with pytest.raises(RuntimeError, match="trace: expected a matrix, but got tensor with dim 3"):
        ember.trace(ember.ones(2, 2, 2))


def test_least_squares_fit_agrees_with_numpy():
    x = np.linspace(0, 1, 20)
    A = np.stack([np.ones_like(x), x, x * x], 1)
    y = 1.5 - 2 * x + 0.5 * x * x + 0.01 * RNG.standard_normal(20)
    want, res, rank, sv = np.linalg.lstsq(A, y[:, None], rcond=None)
    for driver in ("gelsy", "gelsd", "gelss", "gels"):
        got = L.lstsq(t(A), t(y[:, None]), driver=driver)
        np.testing.assert_allclose(got.solution.numpy(), want, rtol=1e-9, atol=1e-12)
        if driver in ("gelsd", "gelss"):
            np.testing.assert_allclose(got.singular_values.numpy(), sv, rtol=1e-10)
            np.testing.assert_allclose(got.residuals.numpy(), res, rtol=1e-8)
        if driver != "gels":
            assert int(got.rank) == rank == 3
    # rank-deficient: the minimum-norm solution, as numpy's
    D = np.concatenate([A, A[:, :1]], 1)
    np.testing.assert_allclose(L.lstsq(t(D), t(y)).solution.numpy(), np.linalg.lstsq(D, y, rcond=None)[0],
                               atol=1e-9)


def test_out_and_method_forms():
    A = t(spd())
    out = ember.empty(0, dtype=ember.float64)
    assert L.inv(A, out=out) is out and np.allclose(out.numpy(), np.linalg.inv(A.numpy()))
    Q, R = ember.empty(0, dtype=ember.float64), ember.empty(0, dtype=ember.float64)
    result = L.qr(A, out=(Q, R))
    assert result.Q is Q and result._fields == ("Q", "R") and np.allclose((Q @ R).numpy(), A.numpy())
    assert np.allclose(A.det().item(), np.linalg.det(A.numpy()))
    assert A.slogdet()._fields == ("sign", "logabsdet")


def test_gradients_through_solve_inv_and_lu():
    M = spd(2)
    A = t(M, requires_grad=True)
    b = t(RNG.standard_normal((2, 4)), requires_grad=True)
    L.solve(A, b).sum().backward()
    x = np.linalg.solve(M, b.detach().numpy()[..., None])
    g_b = np.linalg.solve(np.swapaxes(M, -1, -2), np.ones((2, 4, 1)))
    np.testing.assert_allclose(b.grad.numpy(), g_b[..., 0], rtol=1e-10)
    np.testing.assert_allclose(A.grad.numpy(), -g_b @ np.swapaxes(x, -1, -2), rtol=1e-10, atol=1e-12)
    # double backward through inv: d/dA sum(inv(A)) has a derivative of its own
    A = t(M[0], requires_grad=True)
    (g,) = ember.autograd.grad(L.inv(A).sum(), A, create_graph=True)
    (gg,) = ember.autograd.grad(g.sum(), A)
    assert gg.shape == (4, 4) and np.isfinite(gg.numpy()).all()


def test_svd_and_eigh_gradients_of_invariants():
    # the loss depends on U and V only through U diag(S) Vh = A: its gradient is exact
    A = RNG.standard_normal((5, 3))
    x = t(A, requires_grad=True)
    U, S, Vh = L.svd(x, full_matrices=False)
    ((U * S.unsqueeze(-2) @ Vh) ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * A, rtol=1e-9, atol=1e-10)
    M = spd()
    y = t(M, requires_grad=True)
    w, V = L.eigh(y)
    (V * w.unsqueeze(-2) @ V.mT).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), np.ones((4, 4)), rtol=1e-8)


def test_matrix_rank_pinv_cond_norms():
    A = RNG.standard_normal((5, 4)) @ np.diag([3.0, 2.0, 1.0, 0.0])
    assert int(L.matrix_rank(t(A))) == np.linalg.matrix_rank(A) == 3
    cut = np.sort(np.linalg.svd(A, compute_uv=False))[-2:].mean()   # between the two largest
    assert int(L.matrix_rank(t(A), atol=cut)) == 1 and int(L.matrix_rank(t(A), rtol=0.0, atol=0.0)) >= 3
    np.testing.assert_allclose(L.pinv(t(A)).numpy(), np.linalg.pinv(A), atol=1e-10)
    M = spd()
    np.testing.assert_allclose(L.pinv(t(M), hermitian=True).numpy(), np.linalg.inv(M), atol=1e-10)
    np.testing.assert_allclose(L.cond(t(M), np.inf).item(), np.linalg.cond(M, np.inf), rtol=1e-10)
    np.testing.assert_allclose(L.norm(t(A)).item(), np.linalg.norm(A), rtol=1e-12)
    np.testing.assert_allclose(L.norm(t(A), 2).item(), np.linalg.norm(A, 2), rtol=1e-12)
    np.testing.assert_allclose(L.norm(t(A), dim=1).numpy(), np.linalg.norm(A, axis=1), rtol=1e-12)
    np.testing.assert_allclose(L.vector_norm(t(A), 0.5).item(), np.sum(np.abs(A) ** 0.5) ** 2, rtol=1e-12)
    np.testing.assert_allclose(L.vecdot(t(A), t(A)).numpy(), (A * A).sum(-1), rtol=1e-12)
    np.testing.assert_allclose(L.tensorinv(t(M.reshape(4, 2, 2)), ind=1).reshape(4, 4).numpy(), np.linalg.inv(M),
                               atol=1e-10)


def test_ldl_and_householder():
    M = RNG.standard_normal((4, 4))
    M = M + M.T   # symmetric indefinite: Bunch-Kaufman pivots
    LD, pivots = L.ldl_factor(t(M))
    assert pivots.dtype is ember.int32 and not np.triu(LD.numpy(), 1).any()
    b = RNG.standard_normal((4, 2))
    np.testing.assert_allclose(L.ldl_solve(LD, pivots, t(b)).numpy(), np.linalg.solve(M, b), atol=1e-10)
    A = RNG.standard_normal((5, 3))
    a, tau = ember.geqrf(t(A))
    Q = L.householder_product(a, tau)
    np.testing.assert_allclose(np.abs(Q.numpy()), np.abs(np.linalg.qr(A)[0]), atol=1e-12)
    C = RNG.standard_normal((5, 2))
    full = scipy.linalg.qr(A)[0]
    np.testing.assert_allclose(np.abs(ember.ormqr(a, tau, t(C), transpose=True).numpy()), np.abs(full.T @ C),
                               atol=1e-12)


# ---------------------------------------------------------------- PyTorch's gradient conventions
FIXTURE = np.load(__import__("pathlib").Path(__file__).parent / "fixtures" / "linalg_grads.npz")
_GRAD_CASES = {  # name: (function, input, which outputs carry a sign per column (1) or per row (0) of the first)
    "cholesky": (lambda A: (L.cholesky(A),), "spd", ()),
    "cholesky_upper": (lambda A: (L.cholesky(A, upper=True),), "spd", ()),
    "eigh": (lambda A: tuple(L.eigh(A)), "sym", (None, 1)),
    "svd_wide": (lambda A: tuple(L.svd(A, full_matrices=False)), "wide", (1, None, 0)),
    "qr_wide": (lambda A: tuple(L.qr(A)), "wide", (1, 0)),
    "lu_factor_tall": (lambda A: (L.lu_factor(A).LU,), "tall", ()),
    "det_singular": (lambda A: (L.det(A),), "sing", ()),
}


@pytest.mark.parametrize("name", list(_GRAD_CASES))
def test_gradients_match_pytorch(name):
    """Recorded by tests/fixtures/record_linalg_grads.py. Where a factor's columns have a free sign, the
    upstream gradient is flipped with them (PyTorch's and numpy's LAPACK may choose differently)."""
    fn, key, signs = _GRAD_CASES[name]
    A = t(FIXTURE[key], requires_grad=True)
    outs = fn(A)
    signed = next((k for k, s in enumerate(signs) if s == 1), None)
    flip = None
    if signed is not None:  # the sign of each column of the first signed factor, relative to PyTorch's
        flip = np.sign((outs[signed].detach().numpy() * FIXTURE[f"{name}_out{signed}"]).sum(-2))
    loss = 0
    for i, y in enumerate(outs):
        up = FIXTURE[f"{name}_up{i}"]
        if flip is not None and i < len(signs) and signs[i] is not None:
            up = up * (flip[None, :] if signs[i] == 1 else flip[:, None])
        loss = loss + (y * t(up)).sum()
    loss.backward()
    np.testing.assert_allclose(A.grad.numpy(), FIXTURE[f"{name}_grad"], rtol=1e-9, atol=1e-10)


# ---------------------------------------------------------------- double backward (the rules are ember ops)
def _first_grad(f, a, ups):
    x = t(a, requires_grad=True)
    ys = f(x)
    loss = sum((y * t(u)).sum() for y, u in zip(ys, ups))
    (g,) = ember.autograd.grad(loss, x, create_graph=True)
    return x, g


_SECOND_ORDER = {  # inputs symmetrised where the op reads one triangle (its gradient is symmetric)
    "cholesky": (lambda A: (L.cholesky((A + A.mT) / 2),), lambda: spd(n=3)),
    "eigh": (lambda A: tuple(L.eigh((A + A.mT) / 2)), lambda: spd(n=3) - 3 * np.eye(3)),
    "qr_wide": (lambda A: tuple(L.qr(A)), lambda: RNG.standard_normal((2, 4))),
    "svd": (lambda A: tuple(L.svd(A, full_matrices=False)), lambda: RNG.standard_normal((4, 3))),
    "lu_factor": (lambda A: (L.lu_factor(A).LU,), lambda: RNG.standard_normal((3, 3))),
    "det": (lambda A: (L.det(A),), lambda: RNG.standard_normal((3, 3))),
}


@pytest.mark.parametrize("name", list(_SECOND_ORDER))
def test_double_backward_against_differences_of_the_gradient(name):
    f, make = _SECOND_ORDER[name]
    a = make()
    ups = [RNG.standard_normal(tuple(y.shape)) for y in f(t(a))]
    v = RNG.standard_normal(a.shape)
    x, g = _first_grad(f, a, ups)
    (gg,) = ember.autograd.grad((g * t(v)).sum(), x)
    eps, numeric = 1e-6, np.zeros(a.shape)
    for i in range(a.size):
        d = np.zeros(a.size)
        d[i] = eps
        d = d.reshape(a.shape)
        up, down = (_first_grad(f, a + s * d, ups)[1].detach().numpy() for s in (1, -1))
        numeric.flat[i] = ((up - down) / (2 * eps) * v).sum()
    np.testing.assert_allclose(gg.numpy(), numeric, rtol=1e-6, atol=1e-6 * (1 + np.abs(numeric).max()))


# ---------------------------------------------------------------- complex inputs (forward and gradients, on the CPU)
def _H(x):
    return ember.conj(x).mT


def _Hn(x):
    return np.conj(np.swapaxes(x, -1, -2))


def _complex_ops():
    from ember.testing.opinfo import OpInfo, SampleInput as S
    sla = scipy.linalg

    def op(name, fn, ref, samples, result="complex128"):
        return OpInfo(f"complex.{name}", op=fn, ref=ref, dtypes=("complex128",), samples=samples,
                      grad_tol=(1e-4, 1e-5), result_dtype=result)

    one = lambda *shape: (lambda mk: [S(mk(*shape, low=-1, high=1), desc="a")])  # noqa: E731
    well = lambda mk: [S(mk(3, 3, low=-1, high=1) + 3 * np.eye(3), mk(3, 2, low=-1, high=1), desc="a")]  # noqa: E731
    # the factors with a free phase are compared through their magnitudes and products
    return [
        op("cholesky", lambda x: L.cholesky(x @ _H(x) + 3 * ember.eye(3, dtype=x.dtype)),
           lambda x: np.linalg.cholesky(x @ _Hn(x) + 3 * np.eye(3)), one(3, 3)),
        op("qr", lambda a: (*(f.abs() for f in L.qr(a)), L.qr(a).Q @ L.qr(a).R),
           lambda a: (*(np.abs(f) for f in np.linalg.qr(a)), a),
           lambda mk: [S(mk(4, 3, low=-1, high=1), desc="tall"), S(mk(2, 4, low=-1, high=1), desc="wide")],
           ("float64", "float64", "complex128")),
        op("eigh", lambda x: (L.eigh(x + _H(x)).eigenvalues, L.eigh(x + _H(x)).eigenvectors.abs()),
           lambda x: (np.linalg.eigh(x + _Hn(x))[0], np.abs(np.linalg.eigh(x + _Hn(x))[1])), one(3, 3), "float64"),
        op("svd", lambda a: (L.svd(a, False).U.abs(), L.svd(a, False).S, L.svd(a, False).Vh.abs()),
           lambda a: tuple(np.abs(f) for f in np.linalg.svd(a, full_matrices=False)),
           lambda mk: [S(mk(4, 3, low=-1, high=1), desc="tall"), S(mk(2, 3, low=-1, high=1), desc="wide")],
           "float64"),
        op("det", lambda a: L.det(a), np.linalg.det, one(3, 3)),
        op("slogdet", lambda a: L.slogdet(a), lambda a: tuple(np.linalg.slogdet(a)), one(3, 3),
           ("complex128", "float64")),
        op("solve", lambda a, b: L.solve(a, b), np.linalg.solve, well),
        op("lu_factor", lambda a: L.lu_factor(a).LU, lambda a: sla.lu_factor(a)[0], one(3, 3)),
        op("solve_triangular", lambda a, b: L.solve_triangular(a, b, upper=True),
           lambda a, b: np.linalg.solve(np.triu(a), b), well),
        op("matrix_exp", lambda a: L.matrix_exp(a), sla.expm, one(3, 3)),
        op("pinv", lambda a: L.pinv(a), np.linalg.pinv, one(4, 3)),
    ]


def test_complex_decompositions_and_their_gradients():
    from ember.testing import runner
    ops = _complex_ops()
    cases = runner.forward_cases("cpu", ops) + runner.grad_cases("cpu", ops)
    assert len(cases) > 2 * len(ops)
    for case in cases:
        case.run()


def test_complex_phase_dependent_losses_raise_as_pytorch():
    A = t(RNG.standard_normal((3, 3)) + 1j * RNG.standard_normal((3, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"svd_backward: The singular vectors in the complex case are specified up "
                                           r"to multiplication by e\^\{i phi\}"):
        L.svd(A).U.real.sum().backward()
    X = RNG.standard_normal((4, 4)) + 1j * RNG.standard_normal((4, 4))
    H = t(X + _Hn(X), requires_grad=True)
    with pytest.raises(RuntimeError, match="linalg_eigh_backward: The eigenvectors in the complex case"):
        L.eigh(H).eigenvectors.real.sum().backward()
