"""Matrix decompositions and what is built on them: ``ember.linalg`` and PyTorch's older top-level forms.

The decompositions that need LAPACK (Cholesky, QR, eigh, eig, SVD, LU, det/slogdet,
triangular solves, LDL, geqrf) are primitives of the op table (section
"decompositions"), with derivative rules in ``ember/ops/decomposition_rules.py``.
Everything else (inverses, solves, least squares, pseudo-inverses, ranks, the LU
helpers) is written here in ember ops, so it runs and differentiates on every backend.

``LINALG`` holds the ``ember.linalg.*`` functions (``ember/linalg`` re-exports it); the
top-level ``ember.*`` forms are registered with ``@public`` as usual. Every function
works on stacks of matrices ``(*batch, m, n)``.
"""
from __future__ import annotations

from collections import namedtuple

from ember.core import dtype as dt
from ember.core.autograd import GRAD_MODE
from ember.core.call import call, cast
from ember.core.info import finfo
from ember.core.tensor import Tensor
from ember.dispatch.meta import broadcast_shapes
from ember.dispatch.ops import OPS
from ember.dispatch.public_op import dispatch_point
from ember.ops import complex as complex_ops
from ember.ops import creation, shape
from ember.ops import elementwise as ew
from ember.ops import reduction as red
from ember.ops.linalg import matmul
from ember.ops.public import public, with_out

#: ``ember.linalg.<name>`` -> function
LINALG: dict = {}


class LinAlgError(RuntimeError):
    """A linear-algebra routine failed on its input (a singular or non-positive-definite matrix)."""


def linalg(fn=None, *, name=None, out=False):
    """Register ``fn`` as ``ember.linalg.<name>`` (with PyTorch's ``out=`` when ``out``), a dispatch
    point named ``linalg_<name>`` as in PyTorch's autocast lists (``ember.amp.policy``)."""
    def register(target):
        public_name = name or target.__name__
        point = dispatch_point(f"linalg_{public_name}")(target)
        LINALG[public_name] = with_out(point, f"linalg.{public_name}") if out else point
        return target
    return register if fn is None else register(fn)


# PyTorch's torch.return_types
linalg_qr_result = namedtuple("linalg_qr", ["Q", "R"])
linalg_svd_result = namedtuple("linalg_svd", ["U", "S", "Vh"])
linalg_eigh_result = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
linalg_eig_result = namedtuple("linalg_eig", ["eigenvalues", "eigenvectors"])
linalg_slogdet_result = namedtuple("linalg_slogdet", ["sign", "logabsdet"])
linalg_cholesky_ex_result = namedtuple("linalg_cholesky_ex", ["L", "info"])
linalg_inv_ex_result = namedtuple("linalg_inv_ex", ["inverse", "info"])
linalg_solve_ex_result = namedtuple("linalg_solve_ex", ["result", "info"])
linalg_lstsq_result = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])
linalg_lu_result = namedtuple("linalg_lu", ["P", "L", "U"])
linalg_lu_factor_result = namedtuple("linalg_lu_factor", ["LU", "pivots"])
linalg_lu_factor_ex_result = namedtuple("linalg_lu_factor_ex", ["LU", "pivots", "info"])
linalg_ldl_factor_result = namedtuple("linalg_ldl_factor", ["LD", "pivots"])
linalg_ldl_factor_ex_result = namedtuple("linalg_ldl_factor_ex", ["LD", "pivots", "info"])
svd_result = namedtuple("svd", ["U", "S", "V"])
qr_result = namedtuple("qr", ["Q", "R"])
slogdet_result = namedtuple("slogdet", ["sign", "logabsdet"])
triangular_solve_result = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])
lu_unpack_result = namedtuple("lu_unpack", ["P", "L", "U"])
geqrf_result = namedtuple("geqrf", ["a", "tau"])
lu_with_info_result = namedtuple("_lu_with_info", ["LU", "pivots", "info"])

_HALF = (dt.float16, dt.bfloat16)
_TITLE = {"float16": "Half", "bfloat16": "BFloat16", "int64": "Long", "int32": "Int", "int16": "Short",
          "int8": "Char", "uint8": "Byte", "bool": "Bool"}


# ---------------------------------------------------------------- argument checks (PyTorch's messages)
def _kernel_error(kernel, A):
    """PyTorch's NotImplementedError for a dtype its LAPACK kernel lacks (``"lu_cpu" not implemented for 'Half'``)."""
    suffix = "cpu" if A.device.type == "cpu" else A.device.type
    return ew._not_implemented(f"{kernel}_{suffix}", A.dtype)


def _floating(A, name, kernel=None, *, low=False, integers="float"):
    """Check ``A``'s dtype as PyTorch's linalg functions do.

    Args:
        A: the input tensor.
        name: the function's name in messages (``linalg.inv``).
        kernel: PyTorch's LAPACK kernel name, for its half-precision NotImplementedError.
        low: half precision raises "Low precision dtypes not supported" (inv, slogdet) instead.
        integers: "float": integers raise "Expected a floating point or complex tensor"; "kernel":
            they raise the kernel's NotImplementedError.
    """
    if not isinstance(A, Tensor):
        raise TypeError(f"{name}(): argument 'A' (position 1) must be Tensor, not {type(A).__name__}")
    if A.dtype in _HALF:
        if low or kernel is None:
            raise RuntimeError(f"{name}: Low precision dtypes not supported. Got {_TITLE[A.dtype.name]}")
        raise _kernel_error(kernel, A)
    if A.dtype.category not in (dt.FLOAT, dt.COMPLEX):
        if integers == "kernel" and kernel is not None:
            raise _kernel_error(kernel, A)
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{_TITLE[A.dtype.name]}")


def _matrix(A, name, what="A"):
    if A.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor {what} must have at least 2 dimensions.")


def _square(A, name, what="A"):
    _matrix(A, name, what)
    m, n = A.shape[-2:]
    if m != n:
        raise RuntimeError(f"{name}: {what} must be batches of square matrices, but they are {m} by {n} matrices")


def _same_dtype(A, B, name, a="A"):
    if A.dtype is not B.dtype:
        raise RuntimeError(f"{name}: Expected {a} and B to have the same dtype, but found {a} of type "
                           f"{_dtype_title(A.dtype)} and B of type {_dtype_title(B.dtype)} instead")


def _dtype_title(d):
    return {"float32": "Float", "float64": "Double", "complex64": "ComplexFloat",
            "complex128": "ComplexDouble"}.get(d.name, _TITLE.get(d.name, d.name))


def _batch_message(name, info, message):
    """Raise LinAlgError for the first failing matrix, as PyTorch words it (with its batch index)."""
    flat = info.reshape(-1).tolist() if info.ndim else [int(info.item())]
    for i, code in enumerate(flat):
        if code:
            where = f"(Batch element {i}): " if info.ndim else ""
            raise LinAlgError(f"{name}: {where}{message(code)}")


def _eye_like(A, n=None):
    n = A.shape[-1] if n is None else n
    return creation.eye(n, dtype=A.dtype, device=A.device)


def _mH(A):
    """The conjugate transpose of the last two dims."""
    return complex_ops.conj(A).mT if A.dtype.is_complex else A.mT


def _needs_grad(*tensors) -> bool:
    return GRAD_MODE.enabled and any(isinstance(t, Tensor) and t.requires_grad for t in tensors)


def _diag(A):
    return shape.diagonal(A, 0, -2, -1)


# ---------------------------------------------------------------- Cholesky
@linalg(name="cholesky_ex", out=True)
def linalg_cholesky_ex(A, *, upper=False, check_errors=False):
    """The Cholesky factor of Hermitian positive-definite matrices, and a status per matrix.

    Args:
        A: a tensor ``(*, n, n)``; only its lower (or, with ``upper``, upper) triangle is read.
        upper: return ``U`` with ``A = U^H U`` instead of ``L`` with ``A = L L^H``.
        check_errors: raise ``LinAlgError`` where a matrix is not positive-definite.

    Returns:
        A namedtuple ``(L, info)``: the factor, and int32 ``info`` (0, or the order of the leading minor
        that is not positive-definite).
    """
    _floating(A, "linalg.cholesky", "cholesky")
    _square(A, "linalg.cholesky")
    L, info = call(OPS["linalg_cholesky"], A, upper=bool(upper))
    if check_errors:
        _cholesky_errors(info)
    return linalg_cholesky_ex_result(L, info)


def _cholesky_errors(info):
    _batch_message("linalg.cholesky", info, lambda k: (
        f"The factorization could not be completed because the input is not positive-definite "
        f"(the leading minor of order {k} is not positive-definite)."))


@linalg(name="cholesky", out=True)
def linalg_cholesky(A, *, upper=False):
    """The Cholesky factor ``L`` of Hermitian positive-definite matrices: ``A = L L^H``.

    Args:
        A: a tensor ``(*, n, n)``; only its lower (or upper) triangle is read.
        upper: return the upper factor ``U`` with ``A = U^H U``.

    Returns:
        A tensor of ``A``'s shape and dtype.

    Raises:
        LinAlgError: a matrix is not positive-definite (the message names the minor and batch element).
    """
    L, info = linalg_cholesky_ex(A, upper=upper)
    _cholesky_errors(info)
    return L


@public(method=True, out=True)
@dispatch_point("cholesky")
def cholesky(input, upper=False):
    """The Cholesky factor of positive-definite matrices (``linalg.cholesky`` with ``upper`` positional).

    Args:
        input: a tensor ``(*, n, n)``.
        upper: return the upper factor ``U`` (``A = U^H U``) instead of the lower one.

    Returns:
        A tensor of ``input``'s shape.
    """
    return linalg_cholesky(input, upper=upper)


@public(method=True, out=True)
@dispatch_point("cholesky_solve")
def cholesky_solve(input, input2, upper=False):
    """Solves ``A X = B`` given the Cholesky factor of ``A``.

    Args:
        input: ``B``, a tensor ``(*, n, k)``.
        input2: the factor ``L`` (``(*, n, n)``), lower unless ``upper``.
        upper: ``input2`` is the upper factor ``U`` (``A = U^H U``).

    Returns:
        ``X``, of the broadcast batch shape and ``(n, k)``.
    """
    _floating(input, "cholesky_solve", "cholesky_solve", integers="kernel")
    _same_dtype(input, input2, "cholesky_solve")
    L = _mH(input2) if upper else input2
    y = solve_triangular(L, input, upper=False)
    return solve_triangular(_mH(L), y, upper=True)


@public(method=True, out=True)
@dispatch_point("cholesky_inverse")
def cholesky_inverse(input, upper=False):
    """The inverse of ``A`` given its Cholesky factor.

    Args:
        input: the factor ``L`` (``(*, n, n)``), lower unless ``upper``.
        upper: ``input`` is the upper factor ``U``.

    Returns:
        ``A^{-1}``, of ``input``'s shape.
    """
    _floating(input, "cholesky_inverse", "cholesky_inverse_out", integers="kernel")
    _square(input, "cholesky_inverse", "input")
    return cholesky_solve(_eye_like(input).expand(*input.shape), input, upper)


# ---------------------------------------------------------------- QR
@linalg(name="qr", out=True)
def linalg_qr(A, mode="reduced"):
    """The QR decomposition ``A = Q R``: ``Q`` with orthonormal columns, ``R`` upper triangular.

    Args:
        A: a tensor ``(*, m, n)``.
        mode: ``"reduced"`` (``Q`` is ``(m, k)``, ``R`` ``(k, n)``, ``k = min(m, n)``), ``"complete"``
            (``Q`` is ``(m, m)``, ``R`` ``(m, n)``) or ``"r"`` (only ``R``; ``Q`` is empty).

    Returns:
        A namedtuple ``(Q, R)``.
    """
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
                           f"'r', or 'complete'")
    _floating(A, "linalg.qr", "geqrf")
    _matrix(A, "linalg.qr")
    Q, R = call(OPS["linalg_qr"], A, mode=mode)
    return linalg_qr_result(Q, R)


@public(method=True, out=True)
@dispatch_point("qr")
def qr(input, some=True):
    """The QR decomposition, PyTorch's older form: ``some=False`` is ``mode="complete"``.

    Args:
        input: a tensor ``(*, m, n)``.
        some: the reduced decomposition (default) or the complete one.

    Returns:
        A namedtuple ``(Q, R)``.
    """
    Q, R = linalg_qr(input, "reduced" if some else "complete")
    return qr_result(Q, R)


@public(method=True, out=True)
@dispatch_point("geqrf")
def geqrf(input):
    """LAPACK's geqrf: ``R`` on and above the diagonal, the Householder vectors below it, and their scales.

    Args:
        input: a tensor ``(*, m, n)``.

    Returns:
        A namedtuple ``(a, tau)``; ``householder_product(a, tau)`` gives ``Q``.
    """
    _floating(input, "geqrf", "geqrf", integers="kernel")
    _matrix(input, "geqrf", "input")
    a, tau = call(OPS["linalg_geqrf"], input)
    return geqrf_result(a, tau)


@linalg(name="householder_product", out=True)
def householder_product(A, tau):
    """The first ``n`` columns of the product of Householder reflectors ``H_i = I - tau_i v_i v_i^H``.

    Args:
        A: a tensor ``(*, m, n)``, ``m >= n``, holding ``v_i`` below its diagonal (the diagonal of ``v_i`` is 1).
        tau: a tensor ``(*, k)``, ``k <= n``, the scales.

    Returns:
        A tensor ``(*, m, n)``.
    """
    _floating(A, "torch.linalg.householder_product", "orgqr", integers="kernel")
    _matrix(A, "torch.linalg.householder_product")
    m, n = A.shape[-2:]
    if m < n:
        raise RuntimeError("torch.linalg.householder_product: input.shape[-2] must be greater than or equal to "
                           "input.shape[-1]")
    k = tau.shape[-1] if tau.ndim else 0
    if k > n:
        raise RuntimeError("torch.linalg.householder_product: input.shape[-1] must be greater than or equal to "
                           "tau.shape[-1]")
    if tau.ndim != A.ndim - 1 or tuple(tau.shape[:-1]) != tuple(A.shape[:-2]):
        raise RuntimeError(f"torch.linalg.householder_product: Expected batch dimensions of tau to be equal to "
                           f"input.shape[:-2], but got {list(tau.shape[:-1])}")
    _same_dtype(A, tau, "torch.linalg.householder_product")
    unit_lower = shape.tril(A, -1) + _eye_like(A, m)[:, :n]   # column i is v_i
    Q = _eye_like(A, m)[:, :n].expand(*A.shape[:-2], m, n)
    for i in range(k - 1, -1, -1):  # Q = H_0 H_1 ... H_{k-1} [I_n; 0], applied from the right end
        v = unit_lower[..., :, i:i + 1]
        t = tau[..., i:i + 1].unsqueeze(-1)
        Q = Q - matmul(v * t, matmul(_mH(v), Q))
    return Q


@public(method=True, out=True)
@dispatch_point("orgqr")
def orgqr(input, tau):
    """``Q`` from the output of ``geqrf`` (the same as ``linalg.householder_product``).

    Args:
        input: a tensor ``(*, m, n)`` of Householder vectors.
        tau: their scales ``(*, k)``.

    Returns:
        A tensor ``(*, m, n)``.
    """
    return householder_product(input, tau)


@public(method=True, out=True)
@dispatch_point("ormqr")
def ormqr(input, tau, other, left=True, transpose=False):
    """Multiplies ``other`` by the full ``Q`` (``m x m``) of a ``geqrf`` result: ``op(Q) C`` or ``C op(Q)``.

    Args:
        input: the Householder vectors, ``(*, m, n)``.
        tau: their scales, ``(*, k)``.
        other: ``C``, ``(*, m, p)`` when ``left`` else ``(*, p, m)``.
        left: multiply from the left.
        transpose: use ``Q^H`` instead of ``Q``.

    Returns:
        A tensor of ``other``'s shape.
    """
    _floating(input, "ormqr", "ormqr", integers="kernel")
    m, n = input.shape[-2:]
    k = tau.shape[-1]
    # the full Q: the reflectors padded to m x m (reflectors beyond k have tau = 0, i.e. identity)
    square = input[..., :, :min(n, m)] if n >= m else shape.cat(
        [input, creation.zeros(*input.shape[:-1], m - n, dtype=input.dtype, device=input.device)], -1)
    taus = tau if k == m else shape.cat([tau, creation.zeros(*tau.shape[:-1], m - k, dtype=tau.dtype,
                                                             device=tau.device)], -1)
    Q = householder_product(square, taus[..., :m])
    Q = _mH(Q) if transpose else Q
    return matmul(Q, other) if left else matmul(other, Q)


# ---------------------------------------------------------------- eigenvalues
def _uplo(UPLO):
    if UPLO not in ("L", "U", "l", "u"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return UPLO.upper() == "U"


@linalg(name="eigh", out=True)
def linalg_eigh(A, UPLO="L"):
    """The eigenvalues (ascending) and orthonormal eigenvectors of Hermitian matrices.

    Args:
        A: a tensor ``(*, n, n)``; only the triangle ``UPLO`` names is read.
        UPLO: ``"L"`` (lower, the default) or ``"U"``.

    Returns:
        A namedtuple ``(eigenvalues, eigenvectors)``: real eigenvalues ``(*, n)`` and eigenvectors as the
        columns of ``(*, n, n)``.
    """
    _floating(A, "linalg.eigh", "linalg_eigh", integers="kernel")
    _square(A, "linalg.eigh")
    w, V = call(OPS["linalg_eigh"], A, upper=_uplo(UPLO), eigenvectors=True)
    return linalg_eigh_result(w, V)


@linalg(name="eigvalsh", out=True)
def linalg_eigvalsh(A, UPLO="L"):
    """The eigenvalues of Hermitian matrices, ascending.

    Args:
        A: a tensor ``(*, n, n)``.
        UPLO: which triangle to read, ``"L"`` or ``"U"``.

    Returns:
        A real tensor ``(*, n)``.
    """
    _floating(A, "linalg.eigh", "linalg_eigh", integers="kernel")
    _square(A, "linalg.eigvalsh")
    # the derivative needs the eigenvectors: compute them only then
    w, _ = call(OPS["linalg_eigh"], A, upper=_uplo(UPLO), eigenvectors=_needs_grad(A))
    return w


def _eig_input(A, name):
    if A.dtype.category == dt.FLOAT and A.dtype not in _HALF or A.dtype.is_complex:
        _square(A, name)
        return
    if A.dtype in _HALF:
        raise _kernel_error("linalg_eig_out", A)
    raise RuntimeError(f"Unknown Complex ScalarType for {_TITLE[A.dtype.name]}")


@linalg(name="eig", out=True)
def linalg_eig(A):
    """The eigenvalues and eigenvectors of square matrices, always complex.

    Args:
        A: a tensor ``(*, n, n)``.

    Returns:
        A namedtuple ``(eigenvalues, eigenvectors)`` of the complex dtype of ``A``'s precision: ``(*, n)``
        and unit-norm eigenvectors as the columns of ``(*, n, n)``.
    """
    _eig_input(A, "linalg.eig")
    w, V = call(OPS["linalg_eig"], A)
    return linalg_eig_result(w, V)


@linalg(name="eigvals", out=True)
def linalg_eigvals(A):
    """The eigenvalues of square matrices, complex.

    Args:
        A: a tensor ``(*, n, n)``.

    Returns:
        A complex tensor ``(*, n)``.
    """
    return linalg_eig(A).eigenvalues


# ---------------------------------------------------------------- SVD
def _check_driver(driver, A):
    if driver is not None and A.device.type != "cuda":
        raise RuntimeError("torch.linalg.svd: keyword argument `driver=` is only supported on CUDA inputs with "
                           "cuSOLVER backend.")
    if driver not in (None, "gesvd", "gesvdj", "gesvda"):
        raise RuntimeError(f"torch.linalg.svd: unknown driver {driver!r}; expected 'gesvd', 'gesvdj' or 'gesvda'")


@linalg(name="svd", out=True)
def linalg_svd(A, full_matrices=True, *, driver=None):
    """The singular value decomposition ``A = U diag(S) Vh``.

    Args:
        A: a tensor ``(*, m, n)``.
        full_matrices: ``U`` ``(m, m)`` and ``Vh`` ``(n, n)`` (default), else the reduced ``(m, k)`` and ``(k, n)``.
        driver: the cuSOLVER algorithm (CUDA only, as in PyTorch).

    Returns:
        A namedtuple ``(U, S, Vh)``; ``S`` real, descending, ``(*, k)``, ``k = min(m, n)``.
    """
    _floating(A, "linalg.svd", "linalg_svd")
    _matrix(A, "linalg.svd")
    _check_driver(driver, A)
    U, S, Vh = call(OPS["linalg_svd"], A, full_matrices=bool(full_matrices), compute_uv=True)
    return linalg_svd_result(U, S, Vh)


@linalg(name="svdvals", out=True)
def svdvals(A, *, driver=None):
    """The singular values of matrices, descending.

    Args:
        A: a tensor ``(*, m, n)``.
        driver: the cuSOLVER algorithm (CUDA only).

    Returns:
        A real tensor ``(*, min(m, n))``.
    """
    _floating(A, "linalg.svd", "linalg_svd")
    _matrix(A, "linalg.svd")
    _check_driver(driver, A)
    # the derivative needs U and Vh: compute them only then
    _, S, _ = call(OPS["linalg_svd"], A, full_matrices=False, compute_uv=_needs_grad(A))
    return S


@public(method=True, out=True)
@dispatch_point("svd")
def svd(input, some=True, compute_uv=True):
    """The singular value decomposition, PyTorch's older form: returns ``V``, not ``Vh``.

    Args:
        input: a tensor ``(*, m, n)``.
        some: the reduced decomposition (default) rather than the full one.
        compute_uv: with ``False``, ``U`` and ``V`` are zero-filled ``(m, m)`` and ``(n, n)`` tensors.

    Returns:
        A namedtuple ``(U, S, V)`` with ``input = U diag(S) V^H``.
    """
    if not compute_uv:
        S = svdvals(input)
        m, n = input.shape[-2:]
        batch = tuple(input.shape[:-2])
        return svd_result(creation.zeros(*batch, m, m, dtype=input.dtype, device=input.device), S,
                          creation.zeros(*batch, n, n, dtype=input.dtype, device=input.device))
    U, S, Vh = linalg_svd(input, full_matrices=not some)
    return svd_result(U, S, _mH(Vh))


# ---------------------------------------------------------------- LU
@linalg(name="lu_factor_ex", out=True)
def lu_factor_ex(A, *, pivot=True, check_errors=False):
    """The LU decomposition with partial pivoting in LAPACK's packed form, and a status per matrix.

    Args:
        A: a tensor ``(*, m, n)``.
        pivot: partial pivoting (PyTorch's CPU requires it).
        check_errors: raise where a matrix is singular.

    Returns:
        A namedtuple ``(LU, pivots, info)``: ``L`` (unit diagonal, not stored) and ``U`` packed in one
        tensor, int32 1-based row interchanges ``(*, min(m, n))``, and int32 ``info`` (0, or the 1-based
        index of the first zero on ``U``'s diagonal).
    """
    _floating(A, "linalg.lu_factor", "lu", integers="kernel")
    _matrix(A, "torch.linalg.lu_factor")
    if not pivot and A.device.type == "cpu":
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    LU, pivots, info = call(OPS["linalg_lu_factor"], A, pivot=bool(pivot))
    if check_errors:
        _batch_message("torch.linalg.lu_factor_ex", info, lambda k: (
            f"U[{k},{k}] is zero and using it on lu_solve would result in a division by zero. If you still "
            f"want to perform the factorization, consider calling linalg.lu(A, pivot) or "
            f"linalg.lu_factor_ex(A, pivot)"))
    return linalg_lu_factor_ex_result(LU, pivots, info)


@linalg(name="lu_factor", out=True)
def lu_factor(A, *, pivot=True):
    """The LU decomposition with partial pivoting, packed (``A = P L U``).

    Args:
        A: a tensor ``(*, m, n)``.
        pivot: partial pivoting.

    Returns:
        A namedtuple ``(LU, pivots)``.

    Raises:
        RuntimeError: ``U`` has a zero on its diagonal (solving with it would divide by zero).
    """
    LU, pivots, info = lu_factor_ex(A, pivot=pivot)
    flat = info.reshape(-1).tolist()
    for i, k in enumerate(flat):
        if k:
            where = f"(Batch element {i}): " if info.ndim else ""
            raise RuntimeError(f"torch.linalg.lu_factor: {where}U[{k},{k}] is zero and using it on lu_solve would "
                               f"result in a division by zero. If you still want to perform the factorization, "
                               f"consider calling linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")
    return linalg_lu_factor_result(LU, pivots)


def _permutation_matrix(pivots, m, dtype, device):
    """``P`` (``(*, m, m)``) of LAPACK's row interchanges: ``A = P L U``."""
    perm = call(OPS["linalg_pivots_to_permutation"], pivots, m=m)
    rows = creation.arange(m, device=device).reshape(m, 1)
    return cast(ew.eq(rows, perm.unsqueeze(-2)), dtype)  # P[r, i] = 1 where r = perm[i]


@public(out=True)
def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """``P``, ``L`` and ``U`` from the packed output of ``lu_factor``.

    Args:
        LU_data: the packed factors ``(*, m, n)``.
        LU_pivots: the int32 pivots ``(*, min(m, n))``.
        unpack_data: compute ``L`` and ``U`` (else they are empty).
        unpack_pivots: compute ``P`` (else it is empty).

    Returns:
        A namedtuple ``(P, L, U)``: ``(*, m, m)``, ``(*, m, k)``, ``(*, k, n)``.
    """
    if LU_pivots.dtype is not dt.int32:
        raise RuntimeError(f"lu_unpack: LU_pivots is expected to be a contiguous tensor of torch.int32 dtype. "
                           f"Note: this function is intended to be used with the output produced by "
                           f"torch.linalg.lu_factor, got {LU_pivots.dtype.name}")
    m, n = LU_data.shape[-2:]
    k = min(m, n)
    empty = creation.zeros(0, dtype=LU_data.dtype, device=LU_data.device)
    if unpack_data:
        L = shape.tril(LU_data[..., :, :k], -1) + _eye_like(LU_data, max(m, k))[:m, :k]
        U = shape.triu(LU_data[..., :k, :])
    else:
        L = U = empty
    P = _permutation_matrix(LU_pivots, m, LU_data.dtype, LU_data.device) if unpack_pivots else empty
    return lu_unpack_result(P, L, U)


@linalg(name="lu", out=True)
def linalg_lu(A, *, pivot=True):
    """The LU decomposition with partial pivoting, unpacked: ``A = P L U``.

    Args:
        A: a tensor ``(*, m, n)``.
        pivot: partial pivoting.

    Returns:
        A namedtuple ``(P, L, U)``.
    """
    LU, pivots, _ = lu_factor_ex(A, pivot=pivot)
    P, L, U = lu_unpack(LU, pivots)
    return linalg_lu_result(P, L, U)


@public(method=True)
@dispatch_point("_lu_with_info")  # PyTorch's torch.lu is _lu_with_info, on the CPU's float32 list
def lu(A, pivot=True, get_infos=False):
    """The packed LU decomposition, PyTorch's older form.

    Args:
        A: a tensor ``(*, m, n)``.
        pivot: partial pivoting.
        get_infos: also return ``info`` (and do not raise on singular matrices).

    Returns:
        ``(LU, pivots)``, or the namedtuple ``(LU, pivots, info)`` with ``get_infos``.
    """
    LU, pivots, info = lu_factor_ex(A, pivot=pivot, check_errors=not get_infos)
    return lu_with_info_result(LU, pivots, info) if get_infos else (LU, pivots)


def _as_matrix_rhs(A, B, left=True):
    """Whether ``B`` is a (batch of) vector(s) in ``A X = B``, as PyTorch decides."""
    return B.ndim == 1 or (left and B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


@linalg(name="lu_solve", out=True)
def linalg_lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """Solves ``A X = B`` (or ``X A = B``) given the packed LU decomposition of ``A``.

    Args:
        LU: the packed factors ``(*, n, n)`` from ``lu_factor``.
        pivots: their pivots ``(*, n)``.
        B: the right-hand side ``(*, n, k)`` (``(*, k, n)`` when not ``left``).
        left: solve ``A X = B`` (default) or ``X A = B``.
        adjoint: solve with ``A^H`` instead of ``A``.

    Returns:
        ``X``, of ``B``'s shape (batch dims broadcast).
    """
    _floating(LU, "linalg.lu_solve", "lu_solve", integers="kernel")
    _square(LU, "linalg.lu_solve", "LU")
    _matrix(B, "linalg.lu_solve", "B")
    _same_dtype(LU, B, "linalg.lu_solve", "LU")  # PyTorch checks the dtypes before the shapes
    n = LU.shape[-1]
    if (B.shape[-2] if left else B.shape[-1]) != n:
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {B.shape[-2]}x{B.shape[-1]})")
    P = _permutation_matrix(pivots, n, LU.dtype, LU.device)
    U_, L_ = dict(upper=True), dict(upper=False, unitriangular=True)
    LUh = _mH(LU)  # its upper triangle is L^H (unit), its lower U^H
    if left and not adjoint:      # X = U^-1 L^-1 P^T B
        y = solve_triangular(LU, matmul(P.mT, B), **L_)
        return solve_triangular(LU, y, **U_)
    if left:                      # A^H X = B:  X = P L^-H U^-H B
        y = solve_triangular(LUh, B, upper=False)
        return matmul(P, solve_triangular(LUh, y, upper=True, unitriangular=True))
    if not adjoint:               # X A = B:  X = B U^-1 L^-1 P^T
        y = solve_triangular(LU, B, left=False, **U_)
        return matmul(solve_triangular(LU, y, left=False, **L_), P.mT)
    y = matmul(B, P)              # X A^H = B:  X = B P L^-H U^-H
    y = solve_triangular(LUh, y, upper=True, left=False, unitriangular=True)
    return solve_triangular(LUh, y, upper=False, left=False)


@public(method=True, out=True)
@dispatch_point("lu_solve")
def lu_solve(b, LU_data, LU_pivots):
    """Solves ``A x = b`` from the packed LU decomposition of ``A`` (PyTorch's older argument order).

    Args:
        b: the right-hand side ``(*, n, k)``.
        LU_data: the packed factors of ``A``.
        LU_pivots: their pivots.

    Returns:
        ``x``, of ``b``'s shape.
    """
    return linalg_lu_solve(LU_data, LU_pivots, b)


# ---------------------------------------------------------------- triangular solves
@linalg(name="solve_triangular", out=True)
def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """Solves ``A X = B`` (or ``X A = B``) for triangular ``A``; only its triangle is read.

    Args:
        A: a triangular tensor ``(*, n, n)``.
        B: the right-hand side ``(*, n, k)`` (``(*, k, n)`` when not ``left``).
        upper: ``A`` is upper (else lower) triangular.
        left: solve ``A X = B`` (default) or ``X A = B``.
        unitriangular: take ``A``'s diagonal to be ones (it is not read).

    Returns:
        ``X``, of the broadcast batch shape and ``B``'s matrix shape; a singular ``A`` gives inf/NaN.
    """
    _floating(A, "linalg.solve_triangular", "triangular_solve", integers="kernel")
    _square(A, "linalg.solve_triangular")
    _matrix(B, "linalg.solve_triangular", "B")
    _same_dtype(A, B, "linalg.solve_triangular")
    n = A.shape[-1]
    if (B.shape[-2] if left else B.shape[-1]) != n:
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {B.shape[-2]}x{B.shape[-1]})")
    broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-2]))
    return call(OPS["linalg_solve_triangular"], A, B, upper=bool(upper), left=bool(left),
                unitriangular=bool(unitriangular))


@public(method=True, out=True)
@dispatch_point("triangular_solve")
def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    """Solves ``A X = b`` for triangular ``A`` (PyTorch's older form: ``b`` first, upper by default).

    Args:
        b: the right-hand side ``(*, n, k)``.
        A: the triangular matrices ``(*, n, n)``.
        upper: ``A`` is upper triangular.
        transpose: solve ``A^T X = b``.
        unitriangular: take ``A``'s diagonal to be ones.

    Returns:
        A namedtuple ``(solution, cloned_coefficient)``: ``X`` and a copy of ``A`` (broadcast).
    """
    _floating(b, "triangular_solve", "triangular_solve", integers="kernel")
    if b.ndim < 2 or A.ndim < 2:
        raise RuntimeError(f"torch.triangular_solve: Expected b to have at least 2 dimensions, but it has "
                           f"{b.ndim} dimensions instead" if b.ndim < 2 else
                           f"torch.triangular_solve: Expected A to have at least 2 dimensions, but it has "
                           f"{A.ndim} dimensions instead")
    M = A.mT if transpose else A
    X = solve_triangular(M, b, upper=upper != bool(transpose), unitriangular=unitriangular)
    batch = broadcast_shapes(tuple(b.shape[:-2]), tuple(A.shape[:-2]))
    return triangular_solve_result(X, creation.clone(A.expand(*batch, *A.shape[-2:])))


# ---------------------------------------------------------------- determinants
@linalg(name="det", out=True)
def linalg_det(A):
    """The determinants of square matrices.

    Args:
        A: a tensor ``(*, n, n)``.

    Returns:
        A tensor ``(*)``.
    """
    _floating(A, "linalg.det", "lu")
    _square(A, "linalg.det")
    return call(OPS["linalg_det"], A)


@public(method=True)
def det(input):
    """The determinants of square matrices (``linalg.det``).

    Args:
        input: a tensor ``(*, n, n)``.

    Returns:
        A tensor ``(*)``.
    """
    return linalg_det(input)


@linalg(name="slogdet", out=True)
def linalg_slogdet(A):
    """The sign and the log of the absolute value of determinants: ``det = sign * exp(logabsdet)``.

    Args:
        A: a tensor ``(*, n, n)``.

    Returns:
        A namedtuple ``(sign, logabsdet)``; a singular matrix gives sign 0 and ``-inf``.
    """
    _floating(A, "linalg.slogdet", low=True)
    _square(A, "linalg.slogdet")
    sign, logabsdet = call(OPS["linalg_slogdet"], A)
    return linalg_slogdet_result(sign, logabsdet)


@public(method=True, out=True)
def slogdet(input):
    """``(sign, logabsdet)`` of determinants (``linalg.slogdet``).

    Args:
        input: a tensor ``(*, n, n)``.

    Returns:
        A namedtuple ``(sign, logabsdet)``.
    """
    sign, logabsdet = linalg_slogdet(input)
    return slogdet_result(sign, logabsdet)


@public(method=True)
def logdet(input):
    """The log of determinants: NaN where the determinant is negative, ``-inf`` where it is 0.

    Args:
        input: a tensor ``(*, n, n)``.

    Returns:
        A tensor ``(*)``.
    """
    _floating(input, "logdet", low=True)
    _square(input, "logdet")
    sign, logabsdet = call(OPS["linalg_slogdet"], input)
    if input.dtype.is_complex:
        return ew.log(sign) + logabsdet
    return ew.where(ew.lt(sign, 0), float("nan"), logabsdet)


# ---------------------------------------------------------------- inverses and solves
def _singular(code):
    return (f"The diagonal element {code} is zero, the inversion could not be completed because the input "
            f"matrix is singular.")


@linalg(name="inv_ex", out=True)
def inv_ex(A, *, check_errors=False):
    """The inverses of square matrices, and a status per matrix (no error for singular ones).

    Args:
        A: a tensor ``(*, n, n)``.
        check_errors: raise ``LinAlgError`` where a matrix is singular.

    Returns:
        A namedtuple ``(inverse, info)``; ``info`` is LU's (0, or the first zero pivot, 1-based).
    """
    _floating(A, "linalg.inv", low=True)
    _square(A, "linalg.inv")
    LU, pivots, info = call(OPS["linalg_lu_factor"], A, pivot=True)
    if check_errors:
        _batch_message("linalg.inv", info, _singular)
    inverse = linalg_lu_solve(LU, pivots, _eye_like(A).expand(*A.shape))
    return linalg_inv_ex_result(inverse, info)


@linalg(name="inv", out=True)
def inv(A):
    """The inverses of square matrices.

    Args:
        A: a tensor ``(*, n, n)``.

    Returns:
        A tensor of ``A``'s shape.

    Raises:
        LinAlgError: a matrix is singular (the message names the zero pivot and the batch element).
    """
    return inv_ex(A, check_errors=True).inverse


@public(method=True, out=True)
@dispatch_point("inverse")
def inverse(input):
    """The inverses of square matrices (``linalg.inv``).

    Args:
        input: a tensor ``(*, n, n)``.

    Returns:
        A tensor of ``input``'s shape.
    """
    return inv(input)


@linalg(name="solve_ex", out=True)
def solve_ex(A, B, *, left=True, check_errors=False):
    """Solves ``A X = B`` (or ``X A = B``) for square ``A``, and a status per matrix.

    Args:
        A: a tensor ``(*, n, n)``.
        B: ``(*, n, k)``, or a (batch of) vector(s) ``(*, n)``; batch dims broadcast.
        left: solve ``A X = B`` (default) or ``X A = B``.
        check_errors: raise ``LinAlgError`` where ``A`` is singular.

    Returns:
        A namedtuple ``(result, info)``.
    """
    _floating(A, "linalg.solve", "lu")
    _square(A, "linalg.solve")
    _same_dtype(A, B, "linalg.solve")
    vector = _as_matrix_rhs(A, B, left)
    rhs = B.unsqueeze(-1) if vector else B
    n = A.shape[-1]
    if rhs.ndim < 2 or (rhs.shape[-2] if left else rhs.shape[-1]) != n:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {rhs.shape[-2]}x{rhs.shape[-1]})")
    broadcast_shapes(tuple(A.shape[:-2]), tuple(rhs.shape[:-2]))
    LU, pivots, info = call(OPS["linalg_lu_factor"], A, pivot=True)
    if check_errors:
        _batch_message("torch.linalg.solve_ex", info, lambda k: "The solver failed because the input matrix is "
                       "singular.")
    X = linalg_lu_solve(LU, pivots, rhs, left=left)
    return linalg_solve_ex_result(X.squeeze(-1) if vector else X, info)


@linalg(name="solve", out=True)
def solve(A, B, *, left=True):
    """Solves ``A X = B`` (or ``X A = B``) for square, invertible ``A``.

    Args:
        A: a tensor ``(*, n, n)``.
        B: ``(*, n, k)``, or a (batch of) vector(s) ``(*, n)``; batch dims broadcast.
        left: solve ``A X = B`` (default) or ``X A = B``.

    Returns:
        ``X``, of the broadcast shape.

    Raises:
        LinAlgError: ``A`` is singular.
    """
    X, info = solve_ex(A, B, left=left)
    if bool(red.any(ew.ne(info, 0)).item()) if info.numel() else False:
        raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix is singular.")
    return X


@linalg(name="tensorinv", out=True)
def tensorinv(A, ind=2):
    """The inverse of ``A`` seen as a linear map from its last dims to its first ``ind`` dims.

    Args:
        A: a tensor with ``prod(A.shape[:ind]) == prod(A.shape[ind:])``.
        ind: how many leading dims are the map's output.

    Returns:
        A tensor of shape ``A.shape[ind:] + A.shape[:ind]``.
    """
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    out_shape, in_shape = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    rows = _prod(out_shape)
    if rows != _prod(in_shape):
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {_prod(in_shape)} != {rows}")
    return inv(A.reshape(rows, rows)).reshape(*in_shape, *out_shape)


def _prod(sizes):
    p = 1
    for s in sizes:
        p *= s
    return p


@linalg(name="tensorsolve", out=True)
def tensorsolve(A, B, dims=None):
    """Solves ``tensordot(A, X, X.ndim) = B`` for ``X``.

    Args:
        A: a tensor whose first ``B.ndim`` dims are ``B``'s shape and whose remaining dims give ``X``'s.
        B: the right-hand side.
        dims: dims of ``A`` moved to the end first.

    Returns:
        ``X``, of shape ``A.shape[B.ndim:]``.
    """
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        order = [d for d in range(A.ndim) if d not in dims] + list(dims)
        A = A.permute(*order)
    x_shape = tuple(A.shape[B.ndim:])
    rows = B.numel()
    if _prod(x_shape) != rows:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           f"prod(self.shape[:other.ndim]), but got {_prod(x_shape)} != {_prod(A.shape[:B.ndim])}")
    return solve(A.reshape(rows, rows), B.reshape(rows)).reshape(*x_shape)


# ---------------------------------------------------------------- pseudo-inverse, rank, least squares
def _tolerance(S, A, atol, rtol, name):
    """PyTorch's cut-off for the singular values ``S`` (``(*, k)``): ``max(atol, rtol * S_max)``, as ``(*, 1)``;
    ``rtol`` defaults to ``eps * max(m, n)`` when neither is given, to 0 when only ``atol`` is."""
    m, n = A.shape[-2:]
    if rtol is None:
        rtol = finfo(A.dtype.to_real()).eps * max(m, n) if atol is None else 0.0
    smax = red.amax(S, -1, keepdim=True) if S.shape[-1] else creation.zeros_like(S[..., :1])
    cut = ew.mul(smax, rtol.unsqueeze(-1) if isinstance(rtol, Tensor) else rtol)
    if atol is not None:
        cut = ew.maximum(cut, atol.unsqueeze(-1) if isinstance(atol, Tensor) else creation.full_like(cut, atol))
    return cut.detach()


@linalg(name="pinv", out=True)
def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """The Moore-Penrose pseudo-inverse, from the SVD (or, ``hermitian``, the eigendecomposition).

    Args:
        A: a tensor ``(*, m, n)``.
        atol: the absolute cut-off below which singular values count as zero.
        rtol: the cut-off relative to the largest singular value (default ``eps * max(m, n)`` when
            ``atol`` is not given, else 0).
        hermitian: ``A`` is Hermitian (only its lower triangle is read).

    Returns:
        A tensor ``(*, n, m)``.
    """
    if A.dtype in _HALF or A.dtype.category not in (dt.FLOAT, dt.COMPLEX) or A.ndim < 2:
        raise RuntimeError(f"linalg.pinv({_TITLE.get(A.dtype.name, _dtype_title(A.dtype))}{list(A.shape)}): "
                           f"expected a tensor with 2 or more dimensions of float, double, cfloat or cdouble types")
    if hermitian:
        w, V = linalg_eigh(A)
        cut = _tolerance(ew.abs(w), A, atol, rtol, "linalg.pinv")
        keep = ew.gt(ew.abs(w), cut)
        w_inv = ew.where(keep, ew.reciprocal(ew.where(keep, w, 1.0)), 0.0)
        return matmul(V * w_inv.unsqueeze(-2), _mH(V))
    U, S, Vh = linalg_svd(A, full_matrices=False)
    cut = _tolerance(S, A, atol, rtol, "linalg.pinv")
    keep = ew.gt(S, cut)
    s_inv = ew.where(keep, ew.reciprocal(ew.where(keep, S, 1.0)), 0.0)
    return matmul(_mH(Vh) * cast(s_inv, A.dtype).unsqueeze(-2), _mH(U))


@public(method=True)
@dispatch_point("pinverse")
def pinverse(input, rcond=1e-15):
    """The pseudo-inverse (PyTorch's older form: ``rcond`` is the relative cut-off).

    Args:
        input: a tensor ``(*, m, n)``.
        rcond: singular values below ``rcond * max(S)`` count as zero.

    Returns:
        A tensor ``(*, n, m)``.
    """
    return pinv(input, rtol=rcond)


@linalg(name="matrix_rank", out=True)
def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, tol=None):
    """The numerical rank: how many singular values are above the cut-off.

    Args:
        A: a tensor ``(*, m, n)``.
        atol: the absolute cut-off.
        rtol: the relative cut-off (default ``eps * max(m, n)`` when ``atol`` is not given).
        hermitian: ``A`` is Hermitian (eigenvalues' magnitudes are used).
        tol: the older name of ``atol``.

    Returns:
        An int64 tensor ``(*)``.
    """
    if A.dtype.category != dt.FLOAT and not A.dtype.is_complex or A.dtype in _HALF:
        raise RuntimeError("This function doesn't handle types other than float and double")
    _matrix(A, "torch.linalg.matrix_rank")
    if tol is not None:
        atol = tol
    with_grad = GRAD_MODE.enabled
    GRAD_MODE.enabled = False  # a count: no gradient
    try:
        S = ew.abs(linalg_eigvalsh(A)) if hermitian else svdvals(A)
        cut = _tolerance(S, A, atol, rtol, "linalg.matrix_rank")
        return red.sum(ew.gt(S, cut), -1)
    finally:
        GRAD_MODE.enabled = with_grad


_LSTSQ_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


@linalg(name="lstsq", out=True)
def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares solution of ``A X = B``: ``X`` minimising ``||A X - B||``.

    Args:
        A: a tensor ``(*, m, n)``.
        B: ``(*, m, k)`` (or ``(*, m)``); batch dims broadcast.
        rcond: singular values below ``rcond * max(S)`` count as zero (default ``eps * max(m, n)``);
            not used by ``gels``.
        driver: LAPACK's algorithm: ``"gelsy"`` (default on the CPU), ``"gelsd"``, ``"gelss"`` (rank-revealing,
            the minimum-norm solution) or ``"gels"`` (full-rank ``A`` only, via QR; the only one on CUDA).

    Returns:
        A namedtuple ``(solution, residuals, rank, singular_values)``: ``X`` ``(*, n, k)``; the squared
        residuals per column where ``m > n``, every matrix has full rank and the driver is not ``gelsy``
        (else empty); the int64 ranks (not for ``gels``: empty); the singular values (``gelsd`` and ``gelss``
        only, else empty).
    """
    if A.dtype.category != dt.FLOAT and not A.dtype.is_complex or A.dtype in _HALF:
        raise RuntimeError("This function doesn't handle types other than float and double")
    _matrix(A, "torch.linalg.lstsq")
    _same_dtype(A, B, "torch.linalg.lstsq")
    gpu = A.device.type in ("cuda", "rocm")  # cuSOLVER / rocSOLVER have only gels, as in PyTorch
    if driver is None:
        driver = "gels" if gpu else "gelsy"
    if driver not in _LSTSQ_DRIVERS:
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    if gpu and driver != "gels":
        raise RuntimeError("torch.linalg.lstsq: `driver` other than `gels` is not supported on CUDA")
    vector = B.ndim == A.ndim - 1
    rhs = B.unsqueeze(-1) if vector else B
    m, n = A.shape[-2:]
    if rhs.shape[-2] != m:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    batch = broadcast_shapes(tuple(A.shape[:-2]), tuple(rhs.shape[:-2]))
    A_b = A.expand(*batch, m, n)
    rhs = rhs.expand(*batch, m, rhs.shape[-1])
    real = A.dtype.to_real()
    empty_int = creation.zeros(0, dtype=dt.int64, device=A.device)
    empty_real = creation.zeros(0, dtype=real, device=A.device)
    if driver == "gels":  # full rank: QR of A (m >= n) or of A^H (minimum norm, m < n)
        if m >= n:
            Q, R = linalg_qr(A_b)
            X = solve_triangular(R, matmul(_mH(Q), rhs), upper=True)
        else:
            Q, R = linalg_qr(_mH(A_b))
            X = matmul(Q, solve_triangular(_mH(R), rhs, upper=False))
        rank, S, full_rank = empty_int, empty_real, True
    else:
        U, S_all, Vh = linalg_svd(A_b, full_matrices=False)
        cut = _tolerance(S_all, A, None, rcond if rcond is not None and rcond >= 0 else None, "lstsq")
        keep = ew.gt(S_all, cut)
        s_inv = cast(ew.where(keep, ew.reciprocal(ew.where(keep, S_all, 1.0)), 0.0), A.dtype)
        X = matmul(_mH(Vh) * s_inv.unsqueeze(-2), matmul(_mH(U), rhs))
        rank = red.sum(keep, -1)
        full_rank = bool(red.all(ew.eq(rank, min(m, n))).item()) if rank.numel() else True
        S = S_all.detach() if driver in ("gelsd", "gelss") else empty_real
    if m > n and full_rank and driver != "gelsy":
        r = matmul(A_b, X) - rhs
        residuals = red.sum(ew.abs(r) * ew.abs(r) if A.dtype.is_complex else r * r, -2)
    else:
        residuals = empty_real
    return linalg_lstsq_result(X.squeeze(-1) if vector else X, residuals, rank, S)


@linalg(name="cond", out=True)
def cond(A, p=None):
    """The condition number of matrices in the norm ``p``.

    Args:
        A: a tensor ``(*, m, n)`` (square unless ``p`` is None, 2 or -2).
        p: ``None`` or 2 (largest over smallest singular value), -2 (the reverse), or ``"fro"``, ``"nuc"``,
            ``inf``, ``-inf``, 1, -1 (``norm(A) * norm(inv(A))``).

    Returns:
        A real tensor ``(*)``.
    """
    _floating(A, "linalg.cond", "linalg_svd")
    _matrix(A, "linalg.cond")
    if p in (None, 2, -2):
        S = svdvals(A)
        big, small = S[..., 0], S[..., -1]
        return big / small if p != -2 else small / big
    _square(A, "linalg.cond")
    from ember.ops.matrix_functions import matrix_norm
    inverse_, info = inv_ex(A)
    result = matrix_norm(A, p) * matrix_norm(inverse_, p)
    return ew.where(ew.ne(info, 0), float("inf"), result)


# ---------------------------------------------------------------- LDL
@linalg(name="ldl_factor_ex", out=True)
def ldl_factor_ex(A, *, hermitian=False, check_errors=False):
    """The LDL decomposition of symmetric (or Hermitian) matrices with Bunch-Kaufman pivoting (LAPACK's sytrf).

    Args:
        A: a tensor ``(*, n, n)``; only its lower triangle is read.
        hermitian: ``A`` is Hermitian rather than symmetric (complex inputs).
        check_errors: raise where the factorization failed.

    Returns:
        A namedtuple ``(LD, pivots, info)``: ``L`` and ``D`` packed in the lower triangle, LAPACK's int32 pivots
        (negative for 2x2 blocks of ``D``) and int32 ``info``.
    """
    _floating(A, "torch.linalg.ldl_factor_ex", "ldl_factor_kernel")
    _square(A, "torch.linalg.ldl_factor_ex")
    LD, pivots, info = call(OPS["linalg_ldl_factor"], A, hermitian=bool(hermitian))
    if check_errors:
        _batch_message("torch.linalg.ldl_factor_ex", info, lambda k: (
            f"The factorization could not be completed because the input is singular (D[{k},{k}] is zero)."))
    return linalg_ldl_factor_ex_result(LD, pivots, info)


@linalg(name="ldl_factor", out=True)
def ldl_factor(A, *, hermitian=False):
    """The LDL decomposition of symmetric matrices (``ldl_factor_ex`` that raises on failure).

    Args:
        A: a tensor ``(*, n, n)``.
        hermitian: ``A`` is Hermitian.

    Returns:
        A namedtuple ``(LD, pivots)``.
    """
    LD, pivots, _ = ldl_factor_ex(A, hermitian=hermitian, check_errors=True)
    return linalg_ldl_factor_result(LD, pivots)


@linalg(name="ldl_solve", out=True)
def ldl_solve(LD, pivots, B, *, hermitian=False):
    """Solves ``A X = B`` from the LDL decomposition of ``A``.

    Args:
        LD: the packed factors ``(*, n, n)`` from ``ldl_factor``.
        pivots: their int32 pivots ``(*, n)``.
        B: the right-hand side ``(*, n, k)``.
        hermitian: the decomposition is of a Hermitian matrix.

    Returns:
        ``X``, of the broadcast shape.
    """
    _floating(LD, "torch.linalg.ldl_solve", "ldl_solve")
    _square(LD, "torch.linalg.ldl_solve", "LD")
    _matrix(B, "torch.linalg.ldl_solve", "B")
    if pivots.dtype is not dt.int32:
        raise RuntimeError(f"torch.linalg.ldl_solve: Expected pivots to be integers. Got {pivots.dtype.name}")
    _same_dtype(LD, B, "torch.linalg.ldl_solve")
    if B.shape[-2] != LD.shape[-1]:
        raise RuntimeError(f"torch.linalg.ldl_solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({LD.shape[-1]}x{LD.shape[-1]} and {B.shape[-2]}x{B.shape[-1]})")
    return call(OPS["linalg_ldl_solve"], LD, pivots, B, hermitian=bool(hermitian))


# ---------------------------------------------------------------- removed in PyTorch 1.9: what PyTorch says
def _removed(name, advice):
    def fn(*args, **kwargs):
        raise RuntimeError(f"This function was deprecated since version 1.9 and is now removed. {advice}")
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"Removed from PyTorch in 1.9: raises RuntimeError saying what replaces it ({advice})\n\n"
                  f"    Args:\n        *args: ignored.\n\n    Returns:\n        Nothing: it always raises.\n    ")
    return fn


for _name, _advice in (("symeig", "Use `torch.linalg.eigh` (or `torch.linalg.eigvalsh`) instead."),
                       ("eig", "`torch.linalg.eig` returns complex tensors; use it (or `torch.linalg.eigvals`)."),
                       ("lstsq", "`torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`."),
                       ("matrix_rank", "Please use the `torch.linalg.matrix_rank` function instead."),
                       ("solve", "`torch.solve` is deprecated in favor of `torch.linalg.solve`.")):
    public(_removed(_name, _advice), method=_name != "matrix_rank")  # PyTorch kept no Tensor.matrix_rank
del _name, _advice
