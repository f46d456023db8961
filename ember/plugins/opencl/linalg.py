"""matmul (a tiled GEMM: batched, broadcast and transposed operands read through their
strides) and einsum (two operands that are a batched matrix product go through the
GEMM; anything else through one generic contraction kernel)."""
from __future__ import annotations

import numpy as np

from ember.plugins.opencl import cltypes as T
from ember.plugins.opencl import sources
from ember.plugins.opencl.array import CLArray, broadcast_strides, contiguous_strides, merge_dims
from ember.plugins.opencl.elementwise import _maxd, _pad
from ember.plugins.opencl.launchers import _cast_to, _result_dtype, empty, permute, state_of, view
from ember.plugins.opencl.runtime import meta_array


def _acc(c: T.CType) -> str:
    if c.kind == "f":
        return "double" if c.compute == "double" else "float"
    return "long"


def matmul(x, y):
    st = state_of(x, y)
    dtype = _result_dtype(x, y)
    x = x if x.dtype == dtype else _cast_to(x, dtype)
    y = y if y.dtype == dtype else _cast_to(y, dtype)
    a = x.with_layout((1,) + x.shape, (0,) + x.estrides) if x.ndim == 1 else x
    b = y.with_layout(y.shape + (1,), y.estrides + (0,)) if y.ndim == 1 else y
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if b.shape[-2] != k:
        raise ValueError(f"matmul: mismatch in the contracted dimension: {x.shape} @ {y.shape}")
    batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    out = empty(st, batch + (m, n), dtype)
    _gemm(st, out, a, b, batch)
    shape = batch + ((m,) if x.ndim > 1 else ()) + ((n,) if y.ndim > 1 else ())
    return out.with_layout(shape, contiguous_strides(shape))


def _gemm(st, out, a, b, batch):
    """out[..., m, n] = a[..., m, k] @ b[..., k, n]; a and b broadcast over ``batch``."""
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if out.size == 0:
        return out
    sa = broadcast_strides(a.with_layout(a.shape[:-2], a.estrides[:-2]), batch)
    sb = broadcast_strides(b.with_layout(b.shape[:-2], b.estrides[:-2]), batch)
    bshape, (bsa, bsb, bsc) = merge_dims(batch, [sa, sb, out.estrides[:-2]])
    nb = 1
    for s in bshape:
        nb *= s
    maxd = _maxd(len(bshape))
    c = T.ctype(a.dtype)
    src = sources.gemm(st, maxd, c, T.ctype(out.dtype), _acc(c))
    meta = [m, n, k, nb, len(bshape), a.estrides[-2], a.estrides[-1], b.estrides[-2], b.estrides[-1],
            out.estrides[-2], out.estrides[-1]] + _pad(bshape, maxd) + _pad(bsa, maxd) + _pad(bsb, maxd) + \
        _pad(bsc, maxd)
    ts, span = sources.TILE, sources.TILE * sources.BLOCK
    gx, gy = -(-n // span) * ts, -(-m // span) * ts
    gz = min(nb, 65535)
    st.launch(st.kernel(src, "gemm"), (gx, gy, gz), (ts, ts, 1),
              [out.storage.buf, np.int64(out.offset), a.storage.buf, np.int64(a.offset), b.storage.buf,
               np.int64(b.offset), meta_array(meta, 11 + 4 * maxd)])
    return out


# ---------------------------------------------------------------- einsum
def _parse(equation):
    lhs, rhs = equation.split("->")
    return lhs.split(","), rhs


def _letter_strides(x: CLArray, term: str, sizes: dict) -> dict:
    """Per letter, the stride of x along it (repeated letters: the diagonal, strides summed;
    size-1 dims broadcast: stride 0)."""
    found = {}
    for letter, size, stride in zip(term, x.shape, x.estrides):
        if size == 1 and sizes[letter] != 1:
            stride = 0
        found[letter] = found.get(letter, 0) + stride
    return found


def einsum(*operands, equation):
    st = state_of(*operands)
    dtype = _result_dtype(*operands)
    operands = [o if o.dtype == dtype else _cast_to(o, dtype) for o in operands]
    terms, out_term = _parse(equation)
    sizes = {}
    for term, x in zip(terms, operands):
        for letter, size in zip(term, x.shape):
            if size != 1 or letter not in sizes:
                sizes[letter] = size
    if len(operands) == 2:
        fast = _as_matmul(st, terms, out_term, operands, sizes)
        if fast is not None:
            return fast
    strides = [_letter_strides(x, t, sizes) for t, x in zip(terms, operands)]
    contracted = sorted({l for t in terms for l in t} - set(out_term))
    out_shape = tuple(sizes[l] for l in out_term)
    out = empty(st, out_shape, dtype)
    if out.size == 0:
        return out
    n_ops = len(operands)
    maxd = _maxd(max(len(out_term), len(contracted)))
    cshape = [sizes[l] for l in contracted]
    cn = 1
    for s in cshape:
        cn *= s
    c = T.ctype(dtype)
    src = sources.einsum(st, maxd, n_ops, c, _acc(c))
    meta = [out.size, len(out_term)] + _pad(out_shape, maxd) + _pad(out.estrides, maxd) + \
        [cn, len(contracted)] + _pad(cshape, maxd)
    for s in strides:
        meta += _pad([s.get(l, 0) for l in out_term], maxd)
    for s in strides:
        meta += _pad([s.get(l, 0) for l in contracted], maxd)
    args = [out.storage.buf, np.int64(out.offset)]
    for x in operands:
        args += [x.storage.buf, np.int64(x.offset)]
    args.append(meta_array(meta, 4 + 3 * maxd + 2 * n_ops * maxd))
    st.launch(st.kernel(src, "einsum"), (st.groups_for(out.size) * st.local_size,), (st.local_size,), args)
    return out


def _as_matmul(st, terms, out_term, operands, sizes):
    """Two operands whose letters split into batch / left / right / contracted: one GEMM."""
    ta, tb = terms
    if len(set(ta)) != len(ta) or len(set(tb)) != len(tb) or len(set(out_term)) != len(out_term):
        return None
    sa, sb, so = set(ta), set(tb), set(out_term)
    if (sa - sb - so) or (sb - sa - so):  # a letter summed within one operand
        return None
    batch = [l for l in out_term if l in sa and l in sb]
    left = [l for l in out_term if l in sa and l not in sb]
    right = [l for l in out_term if l in sb and l not in sa]
    contracted = [l for l in ta if l in sb and l not in so]
    a, b = operands
    if any(a.shape[ta.index(l)] != sizes[l] or b.shape[tb.index(l)] != sizes[l] for l in batch + contracted):
        return None  # broadcast size-1 dims: leave them to the generic kernel
    pa = permute(a, dims=[ta.index(l) for l in batch + left + contracted])
    pb = permute(b, dims=[tb.index(l) for l in batch + contracted + right])
    nb_shape = tuple(sizes[l] for l in batch)
    mm, kk, nn = (int(np.prod([sizes[l] for l in g], dtype=np.int64)) for g in (left, contracted, right))
    from ember.plugins.opencl.launchers import reshape_or_copy
    a3 = reshape_or_copy(pa, nb_shape + (mm, kk))
    b3 = reshape_or_copy(pb, nb_shape + (kk, nn))
    out = empty(st, nb_shape + (mm, nn), a.dtype)
    _gemm(st, out, a3, b3, nb_shape)
    full = nb_shape + tuple(sizes[l] for l in left) + tuple(sizes[l] for l in right)
    result = view(out, shape=full)
    order = batch + left + right
    return permute(result, dims=[order.index(l) for l in out_term])
