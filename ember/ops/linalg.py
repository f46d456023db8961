"""Matrix products: matmul and the forms PyTorch spells out (mm, bmm, mv, dot, ...), einsum."""
from __future__ import annotations

import string

from ember.core import dtype as dt
from ember.dispatch.public_op import dispatch_point
from ember.core.call import call
from ember.core.tensor import Tensor
from ember.dispatch.meta import broadcast_shapes
from ember.dispatch.ops import OPS
from ember.ops import elementwise as ew
from ember.ops.out import _title
from ember.ops.public import public


def _same_dtype(a, b, name):
    if a.dtype is not b.dtype:
        raise RuntimeError(f"{name}: expected m1 and m2 to have the same dtype, but got: "
                           f"{a.dtype.name} != {b.dtype.name}")


@public(method=True, out=True)
@dispatch_point("matmul")
def matmul(input, other):
    """The matrix product of ``input`` and ``other``, also for vectors and stacks of matrices (the ``@`` operator).

    Two 1-D tensors give their dot product, a 0-d tensor. A 1-D ``input`` is taken as a row vector and a 1-D
    ``other`` as a column vector, and that dim is removed from the result. Tensors with more than 2 dims are
    stacks of matrices over their leading (batch) dims, which broadcast.

    Args:
        input: a tensor with at least 1 dim.
        other: a tensor with at least 1 dim, of ``input``'s dtype.

    Returns:
        A tensor of the operands' dtype.

    Raises:
        RuntimeError: an operand is 0-d, the dtypes differ, the inner dims differ, or the batch dims do not
            broadcast.
        NotImplementedError: the operands are bool and not empty (PyTorch has no bool matrix product;
            integers work).
    """
    if input.ndim == 0 or other.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{input.ndim}D and {other.ndim}D")
    _same_dtype(input, other, "matmul")
    if input.dtype is dt.bool_:
        kernel = _product_kernel(input, other)
        if kernel == "dot" or (input.numel() and other.numel()):  # (empty products run no kernel in PyTorch)
            raise ew._not_implemented(kernel, input.dtype)
    k1 = input._data.shape[-1]
    k2 = other._data.shape[-2] if other.ndim > 1 else other._data.shape[0]
    if k1 != k2:
        a = "x".join(map(str, input._data.shape[-2:] if input.ndim > 1 else (input._data.shape[0],)))
        b = "x".join(map(str, other._data.shape[-2:] if other.ndim > 1 else (other._data.shape[0],)))
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a} and {b})" if input.ndim <= 2 and
                           other.ndim <= 2 else f"matmul: inner dimensions differ ({k1} vs {k2}) for shapes "
                           f"{list(input.shape)} and {list(other.shape)}")
    if input.ndim > 2 or other.ndim > 2:
        broadcast_shapes(input._data.shape[:-2], other._data.shape[:-2] if other.ndim > 1 else ())
    return call(OPS["matmul"], input, other)


def _product_kernel(input, other):
    """The PyTorch kernel a product of these operands runs (named in its dtype errors)."""
    device = input.device.type
    if other.ndim >= 3:
        return "bmm"
    if other.ndim == 1:
        return "dot" if input.ndim == 1 else "addmv_impl_cpu" if device == "cpu" else f"addmv_{device}"
    return "addmm_impl_cpu_" if device == "cpu" else f"addmm_{device}"


@public(method=True, out=True)
@dispatch_point("mm")
def mm(input, mat2):
    """The matrix product of two 2-D tensors: ``(n, m) @ (m, p)`` gives ``(n, p)``.

    Args:
        input: a 2-D tensor of shape ``(n, m)``.
        mat2: a 2-D tensor of shape ``(m, p)``, of ``input``'s dtype.

    Returns:
        A tensor of shape ``(n, p)`` and the operands' dtype.

    Raises:
        RuntimeError: an operand is not 2-D, the dtypes differ, or the inner dims differ.
    """
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2D tensors, got {input.ndim}D and {mat2.ndim}D")
    return matmul(input, mat2)


@public(method=True, out=True)
@dispatch_point("bmm")
def bmm(input, mat2):
    """The batched matrix product of two 3-D tensors: ``(b, n, m) @ (b, m, p)`` gives ``(b, n, p)``.

    Unlike ``matmul``, the batch dim does not broadcast: both must have the same batch size.

    Args:
        input: a 3-D tensor of shape ``(b, n, m)``.
        mat2: a 3-D tensor of shape ``(b, m, p)``, of ``input``'s dtype.

    Returns:
        A tensor of shape ``(b, n, p)`` and the operands' dtype.

    Raises:
        RuntimeError: an operand is not 3-D, the batch sizes differ, the dtypes differ, or the inner dims differ.
    """
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor and batch2 must be a 3D tensor, got {input.ndim}D and "
                           f"{mat2.ndim}D")
    if input._data.shape[0] != mat2._data.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: {input._data.shape[0]} and {mat2._data.shape[0]}")
    return matmul(input, mat2)


@public(method=True, out=True)
@dispatch_point("mv")
def mv(input, vec):
    """The product of a matrix and a vector: ``(n, m) @ (m,)`` gives ``(n,)``.

    Args:
        input: a 2-D tensor of shape ``(n, m)``.
        vec: a 1-D tensor of size ``m``, of ``input``'s dtype.

    Returns:
        A 1-D tensor of size ``n`` and the operands' dtype.

    Raises:
        RuntimeError: ``input`` is not 2-D or ``vec`` not 1-D, the dtypes differ, or the sizes do not match.
    """
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.ndim}D and {vec.ndim}D")
    return matmul(input, vec)


@public(method=True, out=True)
@dispatch_point("dot")
def dot(input, other):
    """The dot product of two 1-D tensors of the same size: the sum of their elementwise products.

    Neither operand is conjugated (``vdot`` conjugates the first, ``ember/ops/complex.py``).

    Args:
        input: a 1-D tensor.
        other: a 1-D tensor of ``input``'s size and dtype.

    Returns:
        A 0-d tensor of the operands' dtype.

    Raises:
        RuntimeError: an operand is not 1-D, the sizes differ, or the dtypes differ.
    """
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    if input._data.shape != other._data.shape:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input._data.shape[0]}] and src "
                           f"[{other._data.shape[0]}] to have the same number of elements, but got "
                           f"{input._data.shape[0]} and {other._data.shape[0]} elements respectively")
    return matmul(input, other)


@public(method=True, out=True)
@dispatch_point("inner")
def inner(input, other):
    """The inner product of ``input`` and ``other`` over their last dims.

    Every leading dim of both operands is kept: ``inner(a, b)[i..., j...]`` is the dot product of
    ``a[i..., :]`` and ``b[j..., :]``.

    Args:
        input: a tensor.
        other: a tensor of ``input``'s dtype whose last dim has ``input``'s last dim's size; a 0-d operand
            multiplies the other elementwise instead.

    Returns:
        A tensor of shape ``input.shape[:-1] + other.shape[:-1]`` (0-d for two 1-D tensors).

    Raises:
        RuntimeError: the dtypes differ or the last dims do not match.
        NotImplementedError: the operands are bool.
    """
    if input.ndim == 0 or other.ndim == 0:
        return ew.mul(input, other)
    if input.dtype is not other.dtype:
        raise RuntimeError(f"inner(): both inputs should have same dtype, got {input.dtype.name} and "
                           f"{other.dtype.name}")
    k = input._data.shape[-1]
    if other._data.shape[-1] != k:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(input.shape)} and {list(other.shape)}")
    if other.ndim <= 2:
        return matmul(input, other.mT if other.ndim > 1 else other)
    rows = 1
    for size in other._data.shape[:-1]:
        rows *= size
    flat = matmul(input, other.reshape(rows, k).mT)  # input's leading dims, then other's flattened
    return flat.reshape(tuple(input.shape[:-1]) + tuple(other.shape[:-1]))


@public(method=True, aliases=("ger",), out=True)
def outer(input, vec2):
    """The outer product of two 1-D tensors: element ``(i, j)`` is ``input[i] * vec2[j]``.

    Args:
        input: a 1-D tensor of size ``n``.
        vec2: a 1-D tensor of size ``m``.

    Returns:
        A tensor of shape ``(n, m)`` and the promoted dtype.

    Raises:
        RuntimeError: an operand is not 1-D.
    """
    if input.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(f"outer: expected 1D tensors, got {input.ndim}D and {vec2.ndim}D")
    return ew.mul(input.unsqueeze(1), vec2.unsqueeze(0))


def _scaled(x, alpha):
    return x if alpha == 1 else ew.mul(x, alpha)


@public(method=True, inplace=True, out=True)
@dispatch_point("addmm")
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``, a matrix product added to a tensor.

    Args:
        input: the tensor added, broadcast against the product's shape ``(n, p)``; with ``beta=0`` it is not
            read at all (NaN or inf in it does not reach the result).
        mat1: a 2-D tensor of shape ``(n, m)``.
        mat2: a 2-D tensor of shape ``(m, p)``, of ``mat1``'s dtype.
        beta: the factor for ``input`` (default 1).
        alpha: the factor for the product (default 1).

    Returns:
        A tensor of shape ``(n, p)``.

    Raises:
        RuntimeError: ``mat1`` or ``mat2`` is not 2-D, their dtypes differ, or their inner dims differ.
    """
    product = _scaled(mm(mat1, mat2), alpha)
    return product if beta == 0 else ew.add(_scaled(input, beta), product)


@public(method=True, inplace=True, out=True)
@dispatch_point("addmv")
def addmv(input, mat, vec, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat @ vec)``, a matrix-vector product added to a tensor.

    Args:
        input: the tensor added, broadcast against the product's shape ``(n,)``; with ``beta=0`` it is not
            read at all.
        mat: a 2-D tensor of shape ``(n, m)``.
        vec: a 1-D tensor of size ``m``, of ``mat``'s dtype.
        beta: the factor for ``input`` (default 1).
        alpha: the factor for the product (default 1).

    Returns:
        A tensor of shape ``(n,)``.

    Raises:
        RuntimeError: ``mat`` is not 2-D or ``vec`` not 1-D, the three dtypes differ (even with ``beta=0``),
            or the sizes do not match.
    """
    if isinstance(input, Tensor) and isinstance(mat, Tensor) and isinstance(vec, Tensor) \
            and not (input.dtype is mat.dtype and mat.dtype is vec.dtype):  # PyTorch promotes none of them
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got {_title(input.dtype)}, "
                           f"{_title(mat.dtype)}, and {_title(vec.dtype)}")
    product = _scaled(mv(mat, vec), alpha)
    return product if beta == 0 else ew.add(_scaled(input, beta), product)


@public(method=True, inplace=True, out=True)
@dispatch_point("baddbmm")
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * bmm(batch1, batch2)``, a batched matrix product added to a tensor.

    Args:
        input: the tensor added, broadcast against the product's shape ``(b, n, p)``; with ``beta=0`` it is
            not read at all.
        batch1: a 3-D tensor of shape ``(b, n, m)``.
        batch2: a 3-D tensor of shape ``(b, m, p)``, of ``batch1``'s dtype.
        beta: the factor for ``input`` (default 1).
        alpha: the factor for the product (default 1).

    Returns:
        A tensor of shape ``(b, n, p)``.

    Raises:
        RuntimeError: as for ``bmm``, when ``batch1`` and ``batch2`` do not fit.
    """
    product = _scaled(bmm(batch1, batch2), alpha)
    return product if beta == 0 else ew.add(_scaled(input, beta), product)


@public(method=True, inplace=True, out=True)
@dispatch_point("addbmm")
def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * sum(batch1[i] @ batch2[i])``: the batch of products, summed, added to a tensor.

    Args:
        input: the tensor added, broadcast against the summed product's shape ``(n, p)``; with ``beta=0`` it
            is not read at all.
        batch1: a 3-D tensor of shape ``(b, n, m)``.
        batch2: a 3-D tensor of shape ``(b, m, p)``, of ``batch1``'s dtype.
        beta: the factor for ``input`` (default 1).
        alpha: the factor for the summed product (default 1).

    Returns:
        A tensor of shape ``(n, p)``.

    Raises:
        RuntimeError: as for ``bmm``, when ``batch1`` and ``batch2`` do not fit.
    """
    product = _scaled(bmm(batch1, batch2).sum(0), alpha)
    return product if beta == 0 else ew.add(_scaled(input, beta), product)


@public(out=True)
@dispatch_point("tensordot")
def tensordot(a, b, dims=2):
    """Contracts dims of ``a`` with dims of ``b``: the sum of products over the paired dims.

    Args:
        a: the first tensor.
        b: the second tensor, of ``a``'s dtype.
        dims: an int ``d`` pairs the last ``d`` dims of ``a`` with the first ``d`` dims of ``b`` (default 2);
            a pair ``(dims_a, dims_b)`` of ints or of equally long lists pairs ``a``'s dim ``dims_a[i]``
            with ``b``'s dim ``dims_b[i]``.

    Returns:
        A tensor whose shape is ``a``'s dims that were not contracted followed by ``b``'s.
    """
    if isinstance(dims, int):
        dims_a, dims_b = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        dims_a, dims_b = [list(d) if not isinstance(d, int) else [d] for d in dims]
    letters = iter(string.ascii_letters)
    sa = [next(letters) for _ in range(a.ndim)]
    sb = [next(letters) for _ in range(b.ndim)]
    for i, j in zip(dims_a, dims_b):
        sb[j] = sa[i]
    out_letters = [c for i, c in enumerate(sa) if i not in dims_a] + [c for j, c in enumerate(sb) if j not in dims_b]
    return einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(out_letters)}", a, b)


# ---------------------------------------------------------------- einsum
def canonical_equation(equation: str, shapes) -> str:
    """An explicit einsum equation: ellipses spelled out, the output written after '->'."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise RuntimeError(f"einsum(): {len(terms)} operands in the equation but {len(shapes)} were given")
    used = set(c for c in equation if c.isalpha())
    spare = iter(c for c in string.ascii_letters if c not in used)
    ell_rank = 0
    for term, shape in zip(terms, shapes):
        named = len(term.replace("...", ""))
        if "..." in term:
            ell_rank = max(ell_rank, len(shape) - named)
        elif named != len(shape):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) does not match "
                               f"the number of dimensions ({len(shape)}) for operand {term!r}")
    ell = "".join(next(spare) for _ in range(ell_rank))
    out_terms = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            k = len(shape) - len(term.replace("...", ""))
            term = term.replace("...", ell[ell_rank - k:] if k else "")
        out_terms.append(term)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts = {}
        for term in out_terms:
            for c in term:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return ",".join(out_terms) + "->" + out


@public
@dispatch_point("einsum")
def einsum(equation, *operands):
    """Einstein summation: multiplies ``operands`` and sums over the subscripts that ``equation`` leaves out.

    For example ``einsum("ij,jk->ik", a, b)`` is ``a @ b`` and ``einsum("ii", a)`` the trace of ``a``.

    Args:
        equation: one comma-separated term of subscript letters per operand, ``...`` standing for broadcast
            dims, then optionally ``->`` and the output's subscripts. Without ``->`` the output is the ``...``
            dims followed by the letters that appear only once, in alphabetical order.
        *operands: the tensors, all of one dtype; a single list or tuple of tensors is accepted as well.

    Returns:
        A tensor of the operands' dtype.

    Raises:
        TypeError: an operand is not a tensor.
        RuntimeError: the operands' dtypes differ, or the equation's terms or subscripts do not match the
            operands.
        NotImplementedError: non-empty bool operands are contracted (a matrix product, which PyTorch lacks for
            bool).
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for op in operands:
        if not isinstance(op, Tensor):
            raise TypeError(f"einsum(): operands must be tensors, got {type(op).__name__}")
    dtype = operands[0].dtype
    for op in operands[1:]:
        if op.dtype is not dtype:
            raise RuntimeError(f"einsum(): operands do not all have the same dtype: {dtype.name} and {op.dtype.name}")
    eq = canonical_equation(equation, [o._data.shape for o in operands])
    from ember.ops.einsum_dtype import einsum_dtype
    result = einsum_dtype(eq, dtype)  # sums over one operand widen integers to int64, as in PyTorch
    if isinstance(result, RuntimeError) and not isinstance(result, NotImplementedError):
        raise result
    if dtype is dt.bool_ and all(o.numel() for o in operands):  # (empty products run no kernel in PyTorch)
        lhs, out = eq.split("->")
        terms = lhs.split(",")
        if any(sum(c in t for t in terms) > 1 for c in set(lhs.replace(",", "")) - set(out)):
            raise ew._not_implemented("bmm", dtype)  # a contraction is a (batched) matrix product
    if isinstance(result, dt.dtype) and result is not dtype:
        operands = tuple(call(OPS["cast"], o, dtype=result) for o in operands)
    return call(OPS["einsum"], *operands, equation=eq)
