"""Indexing kernels: index, gather (reads through index arrays), index_put, scatter (writes,
with atomic compare-and-swap updates for accumulation), nonzero and unique (data-dependent
sizes), sort (bitonic, stable).

Host steps (each a read of a few bytes, where the size of a result depends on the data):
  * ``nonzero``: the number of non-zero elements (the last element of a device scan)
  * ``unique``: the number of distinct values (likewise)
  * ``index`` / ``index_put`` / ``gather`` / ``scatter``: one flag saying whether an index
    is out of range, so that a bad index raises IndexError as in PyTorch instead of
    reading or writing outside the buffer
"""
from __future__ import annotations

import numpy as np

from ember.core import dtype as dt
from ember.dispatch.ops import INDEX_SLOT
from ember.plugins.opencl import cltypes as T
from ember.plugins.opencl import sources
from ember.plugins.opencl.array import CLArray, broadcast_strides, contiguous_strides, merge_dims
from ember.plugins.opencl.elementwise import _maxd, _pad
from ember.plugins.opencl.launchers import clone, empty, full, to_numpy, view
from ember.plugins.opencl.reductions import cumsum
from ember.plugins.opencl.runtime import meta_array


# ---------------------------------------------------------------- shared: the ix_meta layout
def _ix_meta(shape, x, src, vst, index_strides, maxd):
    n = 1
    for s in shape:
        n *= s
    nidx = max(len(index_strides), 1)
    m = [n, len(shape), x.ndim] + _pad(shape, maxd) + _pad(x.shape, maxd) + _pad(x.estrides, maxd) + \
        _pad(src, maxd) + _pad(vst, maxd)
    for st in index_strides or [()]:
        m += _pad(st, maxd)
    return meta_array(m, 3 + 5 * maxd + nidx * maxd)


def _check_bounds(st, idx: CLArray, size: int, dim: int):
    if idx.size == 0:
        return
    shape, (strides,) = merge_dims(idx.shape, [idx.estrides])
    maxd = _maxd(len(shape))
    flag = full(shape=(1,), value=0, dtype=dt.int32, index=st.index)
    n = idx.size
    st.launch(st.kernel(sources.bounds(st, maxd), "bounds"), (st.groups_for(n) * st.local_size,),
              (st.local_size,), [flag.storage.buf, idx.storage.buf, np.int64(idx.offset), np.int64(size),
                                 meta_array([n, len(shape)] + _pad(shape, maxd) + _pad(strides, maxd), 2 + 2 * maxd)])
    if to_numpy(flag)[0]:
        host = to_numpy(idx)
        bad = host[(host < -size) | (host >= size)].reshape(-1)[0]
        raise IndexError(f"index {int(bad)} is out of bounds for dimension {dim} with size {size}")


def _advanced_layout(x, indices, key):
    """(result shape, src map, per-index strides over the result) of numpy's advanced indexing."""
    key = list(key) + [slice(None)] * (x.ndim - len(key))
    pos = [i for i, k in enumerate(key) if isinstance(k, str) and k == INDEX_SLOT]
    bshape = tuple(np.broadcast_shapes(*(t.shape for t in indices)))
    rest = [d for d in range(x.ndim) if d not in pos]
    adjacent = pos == list(range(pos[0], pos[0] + len(pos)))
    src = [0] * x.ndim
    if adjacent:
        start = pos[0]
        shape = tuple(x.shape[:start]) + bshape + tuple(x.shape[pos[-1] + 1:])
        for d in rest:
            src[d] = d if d < start else d - len(pos) + len(bshape)
    else:
        start = 0
        shape = bshape + tuple(x.shape[d] for d in rest)
        for i, d in enumerate(rest):
            src[d] = len(bshape) + i
    for k, d in enumerate(pos):
        src[d] = -(k + 1)
    index_strides = []
    for t in indices:
        st = [0] * len(shape)
        st[start:start + len(bshape)] = broadcast_strides(t, bshape)
        index_strides.append(st)
    return shape, src, index_strides, pos


def _index_args(indices):
    args = []
    for t in indices:
        args += [t.storage.buf, np.int64(t.offset)]
    return args


def _take(st, x, out, shape, src, index_strides, indices):
    if out.size == 0:
        return out
    maxd = _maxd(max(len(shape), x.ndim))
    c = T.ctype(x.dtype)
    k = st.kernel(sources.take(st, maxd, len(indices), c), "take")
    st.launch(k, (st.groups_for(out.size) * st.local_size,), (st.local_size,),
              [out.storage.buf, np.int64(out.offset), x.storage.buf, np.int64(x.offset)] + _index_args(indices)
              + [_ix_meta(shape, x, src, list(out.estrides), index_strides, maxd)])
    return out


def _put(st, x, values, shape, src, vst, index_strides, indices, reduce):
    n = 1
    for s in shape:
        n *= s
    if n == 0:
        return x
    maxd = _maxd(max(len(shape), x.ndim))
    c = T.ctype(x.dtype)
    atomic = reduce is not None and (c.bits != 64 or st.int64_atomics)
    k = st.kernel(sources.put(st, maxd, len(indices), c, reduce, atomic), "put")
    serial = reduce is not None and not atomic
    size = (1,) if serial else (st.groups_for(n) * st.local_size,)
    st.launch(k, size, (1,) if serial else (st.local_size,),
              [x.storage.buf, np.int64(x.offset), values.storage.buf, np.int64(values.offset)]
              + _index_args(indices) + [_ix_meta(shape, x, src, vst, index_strides, maxd)])
    return x


def _as_array(st, value, dtype):
    if isinstance(value, CLArray):
        return value
    return full(shape=(), value=value, dtype=dt.from_numpy_dtype(dtype), index=st.index)


# ---------------------------------------------------------------- index / index_put
def index(x, *indices, key):
    st = x.state
    shape, src, index_strides, pos = _advanced_layout(x, indices, key)
    for t, d in zip(indices, pos):
        _check_bounds(st, t, x.shape[d], d)
    out = empty(st, shape, x.dtype)
    return _take(st, x, out, shape, src, index_strides, indices)


_REDUCE = {
    "add": "old + v", "multiply": "old * v", "sum": "old + v", "prod": "old * v",
}


def _reduce_expr(reduce, c: T.CType):
    if reduce in _REDUCE:
        return _REDUCE[reduce]
    if reduce in ("amax", "amin"):
        cmp = ">=" if reduce == "amax" else "<="
        if c.kind == "f":
            return f"((isnan(old) || old {cmp} v) ? old : v)"
        return f"(old {cmp} v ? old : v)"
    raise ValueError(f"unknown scatter reduction '{reduce}'")


def index_put(x, values, *indices, key, accumulate):
    st = x.state
    shape, src, index_strides, pos = _advanced_layout(x, indices, key)
    for t, d in zip(indices, pos):
        _check_bounds(st, t, x.shape[d], d)
    values = _as_array(st, values, x.dtype)
    if values.dtype != x.dtype:
        from ember.plugins.opencl.launchers import _cast_to
        values = _cast_to(values, x.dtype)
    vst = broadcast_strides(values, shape)
    return _put(st, x, values, shape, src, vst, index_strides, indices,
                _reduce_expr("add", T.ctype(x.dtype)) if accumulate else None)


# ---------------------------------------------------------------- gather / scatter
def gather(x, index, *, dim):
    st = x.state
    out = empty(st, index.shape, x.dtype)
    if x.ndim == 0:
        return _take(st, x, out, index.shape, [], [], [])
    _check_bounds(st, index, x.shape[dim], dim)
    src = [d if d != dim else -1 for d in range(x.ndim)]
    return _take(st, x, out, index.shape, src, [list(index.estrides)], [index])


def scatter(x, index, src, *, dim, reduce):
    st = x.state
    out = clone(x)
    if x.ndim == 0:
        out1 = view(out, shape=(1,))
        idx1 = index.with_layout((1,) * max(index.ndim, 1), (0,) * max(index.ndim, 1)) if index.ndim == 0 else \
            view(clone(index), shape=(index.size,))
        if isinstance(src, CLArray):
            src = view(clone(src), shape=(src.size,)) if src.ndim else src.with_layout((1,), (0,))
        scatter_into(st, out1, idx1, src, 0, reduce)
        return out
    scatter_into(st, out, index, src, dim, reduce)
    return out


def scatter_into(st, out, index, src, dim, reduce):
    _check_bounds(st, index, out.shape[dim], dim)
    values = _as_array(st, src, out.dtype)
    if values.dtype != out.dtype:
        from ember.plugins.opencl.launchers import _cast_to
        values = _cast_to(values, out.dtype)
    vst = list(values.estrides) if values.ndim else [0] * index.ndim
    srcmap = [d if d != dim else -1 for d in range(out.ndim)]
    _put(st, out, values, index.shape, srcmap, vst, [list(index.estrides)], [index],
         None if reduce is None else _reduce_expr(reduce, T.ctype(out.dtype)))


# ---------------------------------------------------------------- nonzero
def _cumsum_1d(flags):
    return cumsum(flags, dim=0)


def nonzero(x):
    st = x.state
    nd = x.ndim
    n = x.size
    if n == 0:
        return empty(st, (0, nd), np.int64)
    maxd = _maxd(nd)
    src = sources.nonzero(st, maxd, T.ctype(x.dtype))
    flags = empty(st, (n,), np.int64)
    meta = meta_array([n, nd] + _pad(x.shape, maxd) + _pad(x.estrides, maxd), 2 + 2 * maxd)
    size = (st.groups_for(n) * st.local_size,)
    st.launch(st.kernel(src, "nz_flags"), size, (st.local_size,),
              [flags.storage.buf, x.storage.buf, np.int64(x.offset), meta])
    pos = _cumsum_1d(flags)
    count = int(to_numpy(pos.with_layout((), (), pos.offset + n - 1)))
    out = empty(st, (count, nd), np.int64)
    if count and nd:
        st.launch(st.kernel(src, "nz_fill"), size, (st.local_size,),
                  [out.storage.buf, flags.storage.buf, pos.storage.buf, meta])
    return out


# ---------------------------------------------------------------- sort
def _sort(x, dim, descending):
    st = x.state
    values = empty(st, x.shape, x.dtype)
    indices = empty(st, x.shape, np.int64)
    if x.ndim == 0:
        from ember.plugins.opencl.launchers import copy_
        copy_(values, x)
        copy_(indices, 0)
        return values, indices
    if x.size == 0:
        return values, indices
    n = x.shape[dim]
    p = 1
    while p < n:
        p *= 2
    kdims = [d for d in range(x.ndim) if d != dim]
    kshape, (kst, kost) = merge_dims([x.shape[d] for d in kdims],
                                     [[x.estrides[d] for d in kdims], [values.estrides[d] for d in kdims]])
    rows = 1
    for s in kshape:
        rows *= s
    maxd = _maxd(len(kshape))
    c = T.ctype(x.dtype)
    src = sources.sort(st, maxd, c, descending)
    keys = empty(st, (rows * p,), T.NP_OF_C[c.compute])
    idx = empty(st, (rows * p,), np.int64)
    meta = meta_array([rows, n, p, len(kshape), x.estrides[dim], values.estrides[dim]] + _pad(kshape, maxd)
                      + _pad(kst, maxd) + _pad(kost, maxd), 6 + 3 * maxd)
    total = rows * p
    size, local = (st.groups_for(total) * st.local_size,), (st.local_size,)
    st.launch(st.kernel(src, "sort_init"), size, local,
              [keys.storage.buf, idx.storage.buf, x.storage.buf, np.int64(x.offset), meta])
    step = st.kernel(src, "sort_step")
    k = 2
    while k <= p:
        j = k // 2
        while j > 0:
            st.launch(step, size, local, [keys.storage.buf, idx.storage.buf, np.int64(j), np.int64(k), meta])
            j //= 2
        k *= 2
    st.launch(st.kernel(src, "sort_out"), (st.groups_for(rows * n) * st.local_size,), local,
              [values.storage.buf, np.int64(0), indices.storage.buf, np.int64(0), keys.storage.buf,
               idx.storage.buf, meta])
    return values, indices


def sort(x, *, dim, descending, stable):
    return _sort(x, dim % x.ndim if x.ndim else 0, descending)


# ---------------------------------------------------------------- unique
def unique(x, *, return_inverse, return_counts):
    st = x.state
    n = x.size
    if n == 0:
        return empty(st, (0,), x.dtype), empty(st, x.shape, np.int64), empty(st, (0,), np.int64)
    flat = x if x.is_contiguous() else clone(x)
    flat = flat.with_layout((n,), (1,))
    sv, perm = _sort(flat, 0, False)
    c = T.ctype(x.dtype)
    src = sources.unique(st, c)
    flags = empty(st, (n,), np.int64)
    size, local = (st.groups_for(n) * st.local_size,), (st.local_size,)
    st.launch(st.kernel(src, "uq_flags"), size, local, [flags.storage.buf, sv.storage.buf, np.int64(n)])
    group = _cumsum_1d(flags)
    count = int(to_numpy(group.with_layout((), (), n - 1)))
    values = empty(st, (count,), x.dtype)
    starts = empty(st, (count,), np.int64)
    inverse = empty(st, (n,), np.int64)
    st.launch(st.kernel(src, "uq_fill"), size, local,
              [values.storage.buf, starts.storage.buf, inverse.storage.buf, sv.storage.buf, perm.storage.buf,
               flags.storage.buf, group.storage.buf, np.int64(n)])
    counts = empty(st, (count,), np.int64)
    st.launch(st.kernel(src, "uq_counts"), (st.groups_for(count) * st.local_size,), local,
              [counts.storage.buf, starts.storage.buf, np.int64(count), np.int64(n)])
    return values, inverse.with_layout(x.shape, contiguous_strides(x.shape)), counts
