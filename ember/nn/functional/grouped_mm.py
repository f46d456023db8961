"""``F.grouped_mm``: one matrix multiply per group (the experts of a mixture-of-experts layer), with
a jagged dimension split by ``offs`` where an operand is 2-d. Made of ``matmul`` and ``cat``, so it
runs and differentiates on every backend."""
from __future__ import annotations

import ember
from ember.core import dtype as dt

__all__ = ["grouped_mm"]

_DTYPES = (dt.float32, dt.bfloat16, dt.float16)


def _bounds(offs, length):
    ends = [int(v) for v in offs.tolist()]
    starts = [0] + ends[:-1]
    for start, end in zip(starts, ends):
        if end < start or end > length:
            raise RuntimeError(f"grouped_mm: offs must be non-decreasing and at most {length}, got {ends}")
    return list(zip(starts, ends))


def grouped_mm(mat_a, mat_b, *, offs=None, bias=None, out_dtype=None):
    """A grouped matrix multiply.

    * ``(G, M, K) x (G, K, N) -> (G, M, N)``: a batched product (no ``offs``).
    * ``(M_total, K) x (G, K, N) -> (M_total, N)``: rows ``offs[g-1]:offs[g]`` of ``mat_a`` times ``mat_b[g]``
      (rows past ``offs[-1]`` are zero).
    * ``(G, M, K) x (K, N_total) -> (M, N_total)``: ``mat_a[g]`` times columns ``offs[g-1]:offs[g]``.
    * ``(M, K_total) x (K_total, N) -> (G, M, N)``: the products of the ``offs`` slices of the shared ``K``.

    Args:
        mat_a: the left operand, 2-d or 3-d, float32, bfloat16 or float16.
        mat_b: the right operand, 2-d or 3-d, of ``mat_a``'s dtype.
        offs: 1-d integer ends of the groups along the jagged dim (required when an operand is 2-d).
        bias: not supported (as in PyTorch); must be None.
        out_dtype: the output dtype; it must be ``mat_a``'s (None means that).

    Returns:
        The grouped product, as above.
    """
    if mat_a.dtype not in _DTYPES:
        raise RuntimeError(f"Expected mat_a to be Float32, BFloat16 or Float16 matrix, got {mat_a.dtype}")
    if mat_b.dtype is not mat_a.dtype:
        raise RuntimeError(f"Expected mat_a and mat_b to have the same dtype, got {mat_a.dtype} and {mat_b.dtype}")
    if out_dtype is not None and out_dtype is not mat_a.dtype:
        raise RuntimeError("Grouped gemm output dtype must match `mat_a` dtype")
    if bias is not None:
        raise RuntimeError("Bias not supported yet")
    if mat_a.ndim not in (2, 3) or mat_b.ndim not in (2, 3):
        raise RuntimeError(f"grouped_mm: expected 2-d or 3-d operands, got {mat_a.ndim}-d and {mat_b.ndim}-d")
    both_3d = mat_a.ndim == 3 and mat_b.ndim == 3
    if both_3d == (offs is not None):
        raise RuntimeError("Have to provide offsets if there is a 2d matrix, or no offset if both matrices are 3d")
    if mat_a.shape[-1] != mat_b.shape[-2 if mat_b.ndim == 3 else 0]:
        raise RuntimeError(f"grouped_mm: contraction sizes differ: {list(mat_a.shape)} and {list(mat_b.shape)}")
    if both_3d:
        if mat_a.shape[0] != mat_b.shape[0]:
            raise RuntimeError(f"grouped_mm: group counts differ: {mat_a.shape[0]} and {mat_b.shape[0]}")
        return ember.matmul(mat_a, mat_b)
    if mat_a.ndim == 2 and mat_b.ndim == 3:
        groups = _bounds(offs, mat_a.shape[0])
        parts = [ember.matmul(mat_a[s:e], mat_b[g]) for g, (s, e) in enumerate(groups)]
        rest = mat_a.shape[0] - (groups[-1][1] if groups else 0)
        if rest:
            parts.append(ember.zeros((rest, mat_b.shape[-1]), dtype=mat_a.dtype, device=mat_a.device))
        return ember.cat(parts, 0)
    if mat_a.ndim == 3:
        groups = _bounds(offs, mat_b.shape[1])
        parts = [ember.matmul(mat_a[g], mat_b[:, s:e]) for g, (s, e) in enumerate(groups)]
        rest = mat_b.shape[1] - (groups[-1][1] if groups else 0)
        if rest:
            parts.append(ember.zeros((mat_a.shape[1], rest), dtype=mat_a.dtype, device=mat_a.device))
        return ember.cat(parts, 1)
    groups = _bounds(offs, mat_a.shape[1])
    return ember.stack([ember.matmul(mat_a[:, s:e], mat_b[s:e]) for s, e in groups])
