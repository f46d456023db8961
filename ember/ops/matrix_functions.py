"""``ember.linalg``'s composites that need no decomposition of their own (norms, powers, the
exponential, products, cross products, Vandermonde matrices) and the top-level forms
PyTorch keeps (trace, chain_matmul, cross, vander, nuclear/frobenius norms, the low-rank SVD
and PCA). All are written in ember ops: they run and differentiate on every backend.
"""
from __future__ import annotations

import math
import numbers
import warnings

from ember.core import dtype as dt
from ember.core.call import cast
from ember.dispatch.meta import broadcast_shapes, normalize_dim
from ember.dispatch.public_op import dispatch_point
from ember.ops import complex as complex_ops
from ember.ops import creation, shape
from ember.ops import decompositions as D
from ember.ops import elementwise as ew
from ember.ops import reduction as red
from ember.ops.decompositions import linalg
from ember.ops.linalg import matmul
from ember.ops.public import public


def _float_or_complex(x, name):
    if x.dtype.category not in (dt.FLOAT, dt.COMPLEX):
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{D._TITLE[x.dtype.name]}")


def _resolve(dtype):
    from ember.ops.reduction import _resolve_dtype
    return _resolve_dtype(dtype)


# ---------------------------------------------------------------- norms
def _dims(dim, ndim):
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return tuple(normalize_dim(d, ndim) for d in dims)


@linalg(name="vector_norm", out=True)
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The vector ``ord``-norm of ``x``, over all its elements or over ``dim``.

    Args:
        x: a floating-point or complex tensor.
        ord: a number: ``inf`` / ``-inf`` (the largest / smallest magnitude), 0 (the count of nonzeros),
            otherwise ``sum(|x|**ord) ** (1/ord)`` (default 2).
        dim: a dim or tuple of dims (default: all of them, as one flat vector).
        keepdim: keep the reduced dims as size 1.
        dtype: compute in this dtype (``x`` is cast first).

    Returns:
        A real tensor.
    """
    if not isinstance(ord, numbers.Number):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' must be Number, not {type(ord).__name__}")
    _float_or_complex(x, "linalg.vector_norm")
    if dtype is not None:
        x = cast(x, _resolve(dtype))
    dims = _dims(dim, x.ndim)
    a = ew.abs(x)
    over = () if dims is None else dims
    if ord in (math.inf, -math.inf):
        if x.numel() == 0:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {'inf' if ord > 0 else '-inf'} norm on an "
                               f"empty tensor because the operation does not have an identity")
        return red.amax(a, over, keepdim) if ord > 0 else red.amin(a, over, keepdim)
    if ord == 0:
        return cast(red.sum(ew.ne(a, 0), dims, keepdim), a.dtype)
    if ord == 1:
        return red.sum(a, dims, keepdim)
    if ord == 2:
        return ew.sqrt(red.sum(a * a, dims, keepdim))
    return ew.pow(red.sum(ew.pow(a, ord), dims, keepdim), 1.0 / ord)


@linalg(name="matrix_norm", out=True)
def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """A matrix norm of ``A`` over the two dims ``dim``.

    Args:
        A: a floating-point or complex tensor with at least 2 dims.
        ord: ``"fro"`` (default), ``"nuc"`` (the sum of singular values), ``inf`` / ``-inf`` (max / min
            row sum of magnitudes), 1 / -1 (max / min column sum), 2 / -2 (largest / smallest singular value).
        dim: the two dims holding the matrices.
        keepdim: keep them as size 1.
        dtype: compute in this dtype.

    Returns:
        A real tensor.
    """
    _float_or_complex(A, "linalg.matrix_norm")
    D._matrix(A, "linalg.matrix_norm")
    if ord in ("nuc", 2, -2) and A.dtype in D._HALF:
        # the singular values have no half kernel; PyTorch checks the input's dtype, before dtype=
        raise RuntimeError(f"linalg.matrix_norm: Low precision dtypes not supported. Got {D._TITLE[A.dtype.name]}")
    if dtype is not None:
        A = cast(A, _resolve(dtype))
    d0, d1 = (normalize_dim(d, A.ndim) for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        S = D.svdvals(shape.movedim(A, (d0, d1), (-2, -1)))
        r = red.sum(S, -1) if ord == "nuc" else red.amax(S, -1) if ord == 2 else red.amin(S, -1)
        if keepdim:
            r = r.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1))
        return r
    if ord in (1, -1, math.inf, -math.inf):
        # 1: the largest column sum (sum over rows d0, then the max over d1); inf: the rows
        summed, other = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = red.sum(ew.abs(A), summed, keepdim=True)
        r = red.amax(sums, other, keepdim=True) if ord > 0 else red.amin(sums, other, keepdim=True)
        return r if keepdim else r.squeeze((d0, d1))
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


@linalg(name="norm", out=True)
def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """A vector or matrix norm, chosen from ``ord`` and ``dim`` as PyTorch does.

    Args:
        A: a floating-point or complex tensor.
        ord: None (the 2-norm of the flattened input, or Frobenius for matrices), a string (``"fro"``,
            ``"nuc"``: a matrix norm) or a number (a vector norm for one dim, a matrix norm for two).
        dim: an int (vector norm), a pair (matrix norm), or None: the whole tensor when ``ord`` is None,
            else ``A`` must be 1-D (vector norm) or 2-D (matrix norm).
        keepdim: keep the reduced dims as size 1.
        dtype: compute in this dtype.

    Returns:
        A real tensor.
    """
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) == 2 or dim is None and ord is not None and A.ndim == 2:
        return matrix_norm(A, "fro" if ord is None else ord, (-2, -1) if dim is None else dim, keepdim,
                           dtype=dtype)
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.norm: If dim is specified, it mut be of length 1 or 2. Got {list(dim or ())}"
                           if dim is not None else f"linalg.norm: If dim is not specified but ord is, the input "
                           f"must be 1D or 2D. Got {A.ndim}D.")
    if dim is None and ord is not None and A.ndim != 1:
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
                           f"Got {A.ndim}D.")
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


@public(out=True)
@dispatch_point("nuclear_norm")
def nuclear_norm(input, dim=None, keepdim=False):
    """The nuclear norm (the sum of singular values), PyTorch's deprecated form of ``matrix_norm(A, "nuc")``.

    Args:
        input: a tensor; 2-D when ``dim`` is None.
        dim: the two dims holding the matrices.
        keepdim: keep them as size 1.

    Returns:
        A real tensor.
    """
    if dim is None:
        if input.ndim != 2:
            raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {input.ndim}D input")
        dim = (-2, -1)
    return matrix_norm(input, "nuc", dim, keepdim)


@public(out=True)
@dispatch_point("frobenius_norm")
def frobenius_norm(input, dim, keepdim=False):
    """The Frobenius norm over ``dim``, PyTorch's deprecated form of ``vector_norm(A, 2, dim)``.

    Args:
        input: a tensor.
        dim: the dims to reduce.
        keepdim: keep them as size 1.

    Returns:
        A real tensor.
    """
    return vector_norm(input, 2, dim, keepdim)


# ---------------------------------------------------------------- products and powers
@linalg(name="matrix_power", out=True)
def linalg_matrix_power(A, n):
    """``A`` to the integer power ``n`` by repeated squaring (the inverse first for ``n < 0``).

    Args:
        A: a tensor ``(*, m, m)``.
        n: an int; 0 gives the identity.

    Returns:
        A tensor of ``A``'s shape.
    """
    D._square(A, "linalg.matrix_power")
    if not isinstance(n, numbers.Integral):
        raise TypeError(f"matrix_power(): argument 'n' must be int, not {type(n).__name__}")
    if n == 0:
        return creation.eye(A.shape[-1], dtype=A.dtype, device=A.device).expand(*A.shape).clone()
    if n < 0:
        A, n = D.inv(A), -n
    result, base = None, A
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result if result is not A else creation.clone(A)


@public(method=True, out=True)
def matrix_power(input, n):
    """``input`` to the integer power ``n`` (``linalg.matrix_power``).

    Args:
        input: a tensor ``(*, m, m)``.
        n: an int.

    Returns:
        A tensor of ``input``'s shape.
    """
    return linalg_matrix_power(input, n)


# Taylor series of degree 18 after scaling ||A / 2^s||_1 <= 1/2: the truncation error is below 1e-23,
# under float64's rounding; matmuls only, so the derivative (and the double derivative) comes for free.
_EXP_DEGREE = 18


@linalg(name="matrix_exp")
def linalg_matrix_exp(A):
    """The matrix exponential ``sum_k A^k / k!``, by scaling and squaring a Taylor polynomial.

    Args:
        A: a floating-point or complex tensor ``(*, n, n)``.

    Returns:
        A tensor of ``A``'s shape and dtype.
    """
    _float_or_complex(A, "linalg.matrix_exp")
    D._square(A, "linalg.matrix_exp")
    if A.numel() == 0:
        return creation.clone(A)
    work = cast(A, dt.float32) if A.dtype in D._HALF else A
    norm1 = float(red.amax(matrix_norm(work.detach(), 1)).item()) if work.ndim else 0.0
    squarings = max(0, math.ceil(math.log2(norm1 / 0.5))) if norm1 > 0.5 and math.isfinite(norm1) else 0
    X = work / (2.0 ** squarings) if squarings else work
    eye = creation.eye(A.shape[-1], dtype=work.dtype, device=A.device)
    # Horner: I + X (I + X/2 (I + X/3 (...)))
    result = eye + X / _EXP_DEGREE
    for k in range(_EXP_DEGREE - 1, 0, -1):
        result = eye + matmul(X, result) / k
    for _ in range(squarings):
        result = matmul(result, result)
    return cast(result, A.dtype)


@public(method=True)
def matrix_exp(input):
    """The matrix exponential (``linalg.matrix_exp``).

    Args:
        input: a tensor ``(*, n, n)``.

    Returns:
        A tensor of ``input``'s shape.
    """
    return linalg_matrix_exp(input)


@linalg(name="multi_dot", out=True)
def multi_dot(tensors):
    """The product of several matrices, multiplied in the order that costs the fewest operations.

    Args:
        tensors: a sequence of 2-D tensors; the first and last may be 1-D (a row and a column vector).

    Returns:
        A tensor: 2-D, or 1-D / 0-d where the ends were vectors.
    """
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    first_vec, last_vec = tensors[0].ndim == 1, tensors[-1].ndim == 1
    mats = list(tensors)
    if first_vec:
        mats[0] = mats[0].unsqueeze(0)
    if last_vec:
        mats[-1] = mats[-1].unsqueeze(-1)
    for i, t in enumerate(mats):
        if t.ndim != 2:
            where = "first" if i == 0 else "last" if i == len(mats) - 1 else None
            raise RuntimeError(f"multi_dot(): the {where} tensor must be 1D or 2D but got {tensors[i].ndim}D"
                               if where else f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
        if t.dtype is not mats[0].dtype:
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but tensor 0 is "
                               f"{mats[0].dtype.name} and tensor {i} {t.dtype.name}")
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {list(mats[i].shape)} and "
                               f"{list(mats[i + 1].shape)} cannot be multiplied")
    result = _chain(mats, _order(mats), 0, len(mats) - 1)
    if first_vec:
        result = result.squeeze(0)
    if last_vec:
        result = result.squeeze(-1)
    return result


def _order(mats):
    """The classic matrix-chain dynamic programme: split[i][j] is where to split the product i..j."""
    dims = [m.shape[0] for m in mats] + [mats[-1].shape[1]]
    n = len(mats)
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def _chain(mats, split, i, j):
    if i == j:
        return mats[i]
    k = split[i][j]
    return matmul(_chain(mats, split, i, k), _chain(mats, split, k + 1, j))


@public(out=True)
@dispatch_point("chain_matmul")
def chain_matmul(*matrices):
    """The product of 2-D matrices, PyTorch's deprecated form of ``linalg.multi_dot``.

    Args:
        *matrices: 2-D tensors (one is returned as a copy).

    Returns:
        A 2-D tensor.
    """
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    for i, t in enumerate(matrices):
        if t.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {t.ndim}, expected 2 instead.")
    if len(matrices) == 1:
        return creation.clone(matrices[0])
    return multi_dot(matrices)


@linalg(name="vecdot", out=True)
def vecdot(x, y, *, dim=-1):
    """The dot products of vectors along ``dim`` (``x`` conjugated): ``sum(conj(x) * y, dim)``.

    Args:
        x: a floating-point or complex tensor.
        y: a tensor broadcast against ``x``, of its dtype.
        dim: the dim holding the vectors.

    Returns:
        A tensor of the broadcast shape without ``dim``.
    """
    _float_or_complex(x, "linalg.vecdot")
    if x.dtype is not y.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
                           f"{D._dtype_title(x.dtype)} and y of type {D._dtype_title(y.dtype)} instead")
    xs = complex_ops.conj(x) if x.dtype.is_complex else x
    return red.sum(xs * y, dim)


@public(method=True)
@dispatch_point("trace")
def trace(input):
    """The sum of the main diagonal of a 2-D tensor.

    Args:
        input: a 2-D tensor.

    Returns:
        A 0-d tensor; integers and bool sum to int64.
    """
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return red.sum(shape.diagonal(input, 0, 0, 1))


def _cross(input, other, dim):
    if input.ndim != other.ndim:
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions.")
    # PyTorch's kernel takes one dtype: no promotion, and no bool kernel
    if input.dtype is not other.dtype:
        raise RuntimeError(f"expected scalar type {D._dtype_title(input.dtype)} but found "
                           f"{D._dtype_title(other.dtype)}")
    if input.dtype is dt.bool_:
        raise NotImplementedError("\"cross\" not implemented for 'Bool'")
    shape_ = broadcast_shapes(tuple(input.shape), tuple(other.shape))
    d = normalize_dim(dim, len(shape_))
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[d]} and "
                           f"{other.shape[d]}")
    a, b = input.expand(*shape_), other.expand(*shape_)
    a0, a1, a2 = shape.unbind(a, d)
    b0, b1, b2 = shape.unbind(b, d)
    return shape.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


@linalg(name="cross", out=True)
def linalg_cross(input, other, *, dim=-1):
    """The cross products of 3-vectors along ``dim``.

    Args:
        input: a tensor with size 3 along ``dim``.
        other: a tensor of as many dims, broadcast against ``input``.
        dim: the dim holding the vectors (default the last).

    Returns:
        A tensor of the broadcast shape.
    """
    return _cross(input, other, dim)


@public(method=True, out=True)
@dispatch_point("cross")
def cross(input, other, dim=None):
    """The cross products of 3-vectors; without ``dim``, along the first dim of size 3 (with PyTorch's warning).

    Args:
        input: a tensor.
        other: a tensor of as many dims, broadcast against ``input``.
        dim: the dim holding the vectors.

    Returns:
        A tensor of the broadcast shape.
    """
    if dim is None:
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the dim "
                      "explicitly or simply use torch.linalg.cross.\nThe default value of dim will change to agree "
                      "with that of linalg.cross in a future release.", UserWarning, stacklevel=2)
        sizes = broadcast_shapes(tuple(input.shape), tuple(other.shape))
        dim = next((i for i, s in enumerate(sizes) if s == 3), -1)
    return _cross(input, other, dim)


@linalg(name="vander")
def linalg_vander(x, *, N=None):
    """Vandermonde matrices with increasing powers: ``out[..., i, j] = x[..., i] ** j``.

    Args:
        x: a tensor ``(*, n)`` (floating point, complex or integer).
        N: the number of columns (default ``n``).

    Returns:
        A tensor ``(*, n, N)``.
    """
    if x.dtype in D._HALF or x.dtype is dt.bool_:
        raise RuntimeError(f"linalg.vander supports floating point, complex, and integer tensors, but got "
                           f"{D._TITLE[x.dtype.name]}")
    if x.ndim < 1:
        raise RuntimeError("linalg.vander: x must have at least one dimension")
    return _vander_columns(x, N)


def _vander_columns(x, N):
    """``x[..., i] ** j`` for ``j < N``; integers in int64, as PyTorch's cumulative product gives."""
    N = x.shape[-1] if N is None else N
    if N < 0:
        raise RuntimeError(f"N must be non-negative.")
    if x.dtype.category < dt.FLOAT:
        x = cast(x, dt.int64)
    if N == 0:
        return creation.zeros(*x.shape, 0, dtype=x.dtype, device=x.device)
    # cumulative products keep integer dtypes exact and differentiate everywhere (x = 0 included)
    ones = creation.ones(*x.shape, 1, dtype=x.dtype, device=x.device)
    if N == 1:
        return ones
    powers = red.cumprod(x.unsqueeze(-1).expand(*x.shape, N - 1), -1)
    return shape.cat([ones, cast(powers, x.dtype)], -1)


@public
def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of a 1-D tensor; decreasing powers unless ``increasing``.

    Args:
        x: a 1-D tensor.
        N: the number of columns (default ``len(x)``).
        increasing: powers ``0, 1, ...`` from the left (else ``N - 1, ...`` down to 0).

    Returns:
        A 2-D tensor ``(len(x), N)``.
    """
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    if N is not None and N < 0:
        raise RuntimeError("N must be non-negative.")
    # torch.vander computes in half precision, which linalg.vander refuses
    v = _vander_columns(x, N)
    return v if increasing else shape.flip(v, [-1])


@linalg(name="diagonal")
def linalg_diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonals of matrices (a view), by default of the last two dims.

    Args:
        A: a tensor with at least 2 dims.
        offset: which diagonal (positive: above the main one).
        dim1: the first dim of the matrices.
        dim2: the second.

    Returns:
        A view of ``A`` with ``dim1`` and ``dim2`` replaced by a last dim holding the diagonal.
    """
    return shape.diagonal(A, offset, dim1, dim2)


# ---------------------------------------------------------------- randomized low-rank SVD and PCA
def _low_rank_basis(A, q, niter, M):
    """An orthonormal basis ``Q`` (``(*, m, q)``) of A's dominant column space, by subspace iteration."""
    from ember.ops.random import randn
    m, n = A.shape[-2:]
    R = randn(*A.shape[:-2], n, q, dtype=A.dtype, device=A.device)
    X = matmul(A, R) if M is None else matmul(A, R) - matmul(M, R)
    Q = D.linalg_qr(X).Q
    for _ in range(niter):
        Z = matmul(D._mH(A), Q) if M is None else matmul(D._mH(A), Q) - matmul(D._mH(M), Q)
        Z = D.linalg_qr(Z).Q
        X = matmul(A, Z) if M is None else matmul(A, Z) - matmul(M, Z)
        Q = D.linalg_qr(X).Q
    return Q


@public
def svd_lowrank(A, q=6, niter=2, M=None):
    """An approximate rank-``q`` SVD by randomized subspace iteration (Halko et al., 2009).

    Args:
        A: a tensor ``(*, m, n)``.
        q: the rank (default 6; at most ``min(m, n)``).
        niter: subspace iterations (default 2).
        M: subtracted from ``A`` first (broadcast), e.g. the column means.

    Returns:
        ``(U, S, V)`` with ``A - M ~ U diag(S) V^H``: ``(*, m, q)``, ``(*, q)``, ``(*, n, q)``.
    """
    q = 6 if q is None else q
    niter = 2 if niter is None else niter
    if M is not None:
        M = M.expand(*A.shape)
    Q = _low_rank_basis(A, q, niter, M)
    B = matmul(D._mH(Q), A) if M is None else matmul(D._mH(Q), A) - matmul(D._mH(Q), M)
    U, S, Vh = D.linalg_svd(B, full_matrices=False)
    return matmul(Q, U), S, D._mH(Vh)


@public
def pca_lowrank(A, q=None, center=True, niter=2):
    """Principal components of the rows of ``A`` by a randomized low-rank SVD.

    Args:
        A: a tensor ``(*, m, n)``: ``m`` samples of ``n`` features.
        q: the number of components (default ``min(6, m, n)``).
        center: subtract the column means first.
        niter: subspace iterations.

    Returns:
        ``(U, S, V)`` of the (centered) ``A``; the principal directions are the columns of ``V``.
    """
    m, n = A.shape[-2:]
    q = min(6, m, n) if q is None else q
    if not 0 <= q <= min(m, n):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than min(m, n)={min(m, n)}")
    if niter < 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if not center:
        return svd_lowrank(A, q, niter)
    mean = red.mean(A, -2, keepdim=True)
    return svd_lowrank(A, q, niter, M=mean)


