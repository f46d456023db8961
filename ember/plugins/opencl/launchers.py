"""The launchers of the elementwise, view, copy, creation and random primitives, and the
array helpers (``empty``, ``clone``, ``copy_``, host transfers) the other launchers use.

Each launcher has its primitive's calling convention (``ember/dispatch/ops.py``): native
arrays (``CLArray``) and Python scalars in, ``CLArray`` out. Reductions, matmul/einsum
and indexing live in ``reductions.py``, ``linalg.py`` and ``indexing.py``; ``kernels.py``
puts them all in the kernel table.
"""
from __future__ import annotations

import math

import numpy as np

from ember.core import dtype as dt
from ember.plugins.opencl import cltypes as T
from ember.plugins.opencl import elementwise as ew
from ember.plugins.opencl import sources
from ember.plugins.opencl.array import CLArray, broadcast_strides, contiguous_strides, reshape_strides
from ember.dispatch.philox import SIGNIFICAND_BITS

def state_of(*args):
    for a in args:
        if isinstance(a, CLArray):
            return a.state
    raise TypeError("an OpenCL kernel got no device array")


def empty(state, shape, dtype):
    return CLArray.empty(state, shape, dtype)


# ---------------------------------------------------------------- elementwise
def unary(name):
    """The launcher of the unary elementwise primitive ``name`` (one of ``elementwise.UNARY``)."""
    def run(x):
        st = x.state
        c = T.ctype(x.dtype)
        op = name
        if c.kind == "b":
            if name in ("abs", "sign", "relu"):
                return clone(x)
            if name == "bitwise_not":
                op = "logical_not"
        ct = c.compute
        expr, helpers = ew.expression(op, ct)
        out = empty(st, x.shape, np.bool_ if name in ew.BOOL_RESULT else x.dtype)
        return ew.run(st, op, expr, out, [x], ct, helpers=helpers)
    run.__name__ = name
    return run


def _result_dtype(*operands):
    """PyTorch's promotion of the operands (Python scalars take part only by category)."""
    arrays = [o.dtype for o in operands if isinstance(o, CLArray)]
    if len(set(arrays)) == 1 and len(arrays) == len(operands):
        return arrays[0]
    result = None
    for d in arrays:
        d = dt.from_numpy_dtype(d)
        result = d if result is None else dt.promote_types(result, d)
    scalars = [o for o in operands if not isinstance(o, CLArray)]
    category = max((dt.scalar_dtype(s).category for s in scalars), default=None)
    return dt.result_dtype(result, None, category).numpy


def _broadcast_shape(*operands):
    return np.broadcast_shapes(*(o.shape for o in operands if isinstance(o, CLArray)))


def binary(name, expr_name=None):
    """The launcher of the binary elementwise primitive ``name`` (one of ``elementwise.BINARY``),
    computing the expression of ``expr_name`` (default: ``name``)."""
    expr_name = expr_name or name

    def run(x, y):
        st = state_of(x, y)
        dtype = _result_dtype(x, y)
        ct = T.ctype(dtype).compute
        expr, helpers = ew.expression(expr_name, ct)
        out_dtype = np.bool_ if name in ew.BOOL_RESULT else dtype
        out = empty(st, _broadcast_shape(x, y), out_dtype)
        return ew.run(st, expr_name, expr, out, [x, y], ct, helpers=helpers)
    run.__name__ = name
    return run


def div_rounding(x, y, *, mode):
    return binary("div_rounding", "div_floor" if mode == "floor" else "div_trunc")(x, y)


def round_(x, *, decimals):
    st = x.state
    ct = T.ctype(x.dtype).compute
    out = empty(st, x.shape, x.dtype)
    if T.ctype(x.dtype).kind != "f":
        return copy_(out, x)
    if decimals == 0:
        return ew.run(st, "round", "rint(a)", out, [x], ct)
    scale = 10.0 ** abs(decimals)
    expr = "rint(a * s) / s" if decimals > 0 else "rint(a / s) * s"
    return ew.run(st, "round", expr, out, [x], ct, extras=[(ct, "s", scale)])


def where(cond, x, y):
    st = state_of(cond, x, y)
    dtype = _result_dtype(x, y) if isinstance(x, CLArray) or isinstance(y, CLArray) else np.result_type(x, y)
    ct = T.ctype(dtype).compute
    out = empty(st, _broadcast_shape(cond, x, y), dtype)
    if isinstance(cond, CLArray) and T.ctype(cond.dtype).kind == "f":
        cond = _cast_to(cond, np.bool_)
    return ew.run(st, "where", "(a != 0) ? b : c", out, [cond, x, y], ct)


def _conversion(src: np.dtype, dst: np.dtype) -> str:
    """The expression converting ``a`` (src's compute type) for a store into dst."""
    s, d = T.ctype(src), T.ctype(dst)
    # float -> uint32/uint64 out of range: the values PyTorch's (x86) CPU casts give, spelled out
    if s.kind == "f" and d.name == "uint32":
        return ("(a >= 0 ? (a >= 9223372036854775808.0f ? 0u : (uint)(long)a)"
                " : (a >= -2147483648.0f ? (uint)(int)a : 2147483648u))")
    if s.kind == "f" and d.name == "uint64":
        # each C conversion below is of an in-range value: an out-of-range (ulong) cast is undefined,
        # and PoCL's result for negative values changed between releases (wrapped, then saturated)
        return ("(a >= 18446744073709551616.0f ? (ulong)0 : a >= 0 ? (ulong)a"
                " : a >= -9223372036854775808.0f ? (ulong)(long)a : (ulong)0x8000000000000000UL)")
    if s.kind == "f" and d.kind in "iu" and d.bits < 64:
        return "(long)a"  # through int64, so out-of-range values wrap as numpy's casts do
    return "a"


def _cast_to(x, dtype):
    dtype = np.dtype(dtype)
    out = empty(x.state, x.shape, dtype)
    ct = T.ctype(x.dtype).compute
    return ew.run(x.state, "cast", _conversion(x.dtype, dtype), out, [x], ct)


def cast(x, *, dtype):
    return _cast_to(x, dtype.numpy)


# ---------------------------------------------------------------- copies and writes
def clone(x):
    out = empty(x.state, x.shape, x.dtype)
    return ew.run(x.state, "copy", "a", out, [x], T.ctype(x.dtype).compute)


def _overlaps(a: CLArray, b: CLArray) -> bool:
    if a.storage is not b.storage or a.size == 0 or b.size == 0:
        return False
    def extent(x):
        lo = hi = x.offset
        for s, st in zip(x.shape, x.estrides):
            if st > 0:
                hi += (s - 1) * st
            else:
                lo += (s - 1) * st
        return lo, hi
    (alo, ahi), (blo, bhi) = extent(a), extent(b)
    return alo <= bhi and blo <= ahi


def copy_(dst, src):
    if isinstance(src, CLArray):
        if _overlaps(dst, src) and not (src.offset == dst.offset and src.estrides == dst.estrides
                                        and src.shape == dst.shape):
            src = clone(src)
        ct = T.ctype(src.dtype).compute
        expr = _conversion(src.dtype, dst.dtype)
    else:
        if isinstance(src, np.ndarray):
            src = src.item()
        ct = T.ctype(dst.dtype).compute
        expr = "a"
    return ew.run(dst.state, "copy", expr, dst, [src], ct)


# ---------------------------------------------------------------- views (metadata only)
def view_dtype(x, *, dtype):
    """The same buffer read as ``dtype``: offset and strides rescaled by the itemsize ratio (the op
    layer has checked that the last dim is contiguous and that everything divides)."""
    new = np.dtype(dtype.numpy)
    old = x.dtype.itemsize
    if new.itemsize == old:
        return CLArray(x.storage, x.offset, x.shape, x.estrides, new)
    scale = lambda v: v * old // new.itemsize  # noqa: E731
    shape = x.shape[:-1] + (scale(x.shape[-1]),)
    strides = tuple(scale(st) for st in x.estrides[:-1]) + (1,)
    return CLArray(x.storage, scale(x.offset), shape, strides, new)


def view(x, *, shape):
    shape = tuple(shape)
    strides = reshape_strides(x.shape, x.estrides, shape)
    if strides is None:
        raise RuntimeError(
            f"view size is not compatible with input tensor's size and stride (at least one dimension "
            f"spans across two contiguous subspaces): cannot view shape {tuple(x.shape)} as "
            f"{shape}. Use .reshape(...) instead.")
    return x.with_layout(shape, strides)


def permute(x, *, dims):
    dims = tuple(dims) if dims else tuple(reversed(range(x.ndim)))
    return x.with_layout(tuple(x.shape[d] for d in dims), tuple(x.estrides[d] for d in dims))


def expand(x, *, shape):
    lead = len(shape) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    return x.with_layout(shape, broadcast_strides(x, shape))


def basic_index(x, *, key):
    if any(k is Ellipsis for k in key):
        i = next(i for i, k in enumerate(key) if k is Ellipsis)
        used = sum(1 for k in key if k is not None and k is not Ellipsis)
        key = key[:i] + (slice(None),) * (x.ndim - used) + key[i + 1:]
    shape, strides, offset, dim = [], [], x.offset, 0
    for k in key:
        if k is None:
            shape.append(1)
            strides.append(0)
            continue
        size, stride = x.shape[dim], x.estrides[dim]
        if isinstance(k, slice):
            start, stop, step = k.indices(size)
            n = len(range(start, stop, step))
            if n:
                offset += start * stride
            shape.append(n)
            strides.append(stride * step)
        else:
            i = int(k)
            if not -size <= i < size:
                raise IndexError(f"index {i} is out of bounds for dimension {dim} with size {size}")
            offset += (i % size) * stride
        dim += 1
    shape += x.shape[dim:]
    strides += x.estrides[dim:]
    return x.with_layout(shape, strides, offset)


def as_strided(x, *, size, stride, storage_offset, base_stride):
    # x is a base: the storage is its buffer from its first element on
    return x.with_layout(tuple(size), tuple(stride), x.offset + storage_offset)


def diagonal(x, *, offset, dim1, dim2):
    n1, n2 = x.shape[dim1], x.shape[dim2]
    s1, s2 = x.estrides[dim1], x.estrides[dim2]
    start = x.offset
    if offset >= 0:
        length = max(0, min(n1, n2 - offset))
        if length:
            start += offset * s2
    else:
        length = max(0, min(n1 + offset, n2))
        if length:
            start += -offset * s1
    keep = [d for d in range(x.ndim) if d not in (dim1, dim2)]
    return x.with_layout(tuple(x.shape[d] for d in keep) + (length,),
                         tuple(x.estrides[d] for d in keep) + (s1 + s2,), start)


# ---------------------------------------------------------------- layout copies
def _reversed(x, dims):
    shape, strides, offset = list(x.shape), list(x.estrides), x.offset
    for d in dims:
        if shape[d] > 0:
            offset += (shape[d] - 1) * strides[d]
            strides[d] = -strides[d]
    return x.with_layout(shape, strides, offset)


def flip(x, *, dims):
    return clone(_reversed(x, [d % x.ndim for d in dims]) if x.ndim else x)


def _roll_dim(x, shift, dim):
    n = x.shape[dim]
    out = empty(x.state, x.shape, x.dtype)
    if n == 0 or x.size == 0:
        return out
    shift %= n
    if shift == 0:
        return copy_(out, x)
    key_out_a = tuple(slice(None) if d != dim else slice(shift, None) for d in range(x.ndim))
    key_x_a = tuple(slice(None) if d != dim else slice(0, n - shift) for d in range(x.ndim))
    key_out_b = tuple(slice(None) if d != dim else slice(0, shift) for d in range(x.ndim))
    key_x_b = tuple(slice(None) if d != dim else slice(n - shift, None) for d in range(x.ndim))
    copy_(basic_index(out, key=key_out_a), basic_index(x, key=key_x_a))
    copy_(basic_index(out, key=key_out_b), basic_index(x, key=key_x_b))
    return out


def roll(x, *, shifts, dims):
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    if dims is None or (not isinstance(dims, int) and len(dims) == 0):
        flat = view(clone(x), shape=(x.size,))
        return view(_roll_dim(flat, sum(shifts), 0), shape=x.shape)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    out = x
    for s, d in zip(shifts, dims):
        out = _roll_dim(out, s, d % x.ndim)
    return out if out is not x else clone(x)


def cat(*xs, dim):
    st = state_of(*xs)
    dtype = _result_dtype(*xs)
    parts = list(xs)
    if any(x.ndim != 1 for x in xs):  # PyTorch lets empty 1-d tensors join any cat
        parts = [x for x in xs if not (x.ndim == 1 and x.shape[0] == 0)]
    if not parts:
        return empty(st, (0,), dtype)
    shape = list(parts[0].shape)
    shape[dim] = sum(x.shape[dim] for x in parts)
    out = empty(st, shape, dtype)
    start = 0
    for x in parts:
        n = x.shape[dim]
        key = tuple(slice(None) if d != dim else slice(start, start + n) for d in range(len(shape)))
        copy_(basic_index(out, key=key), x)
        start += n
    return out


def _triangle(x, diagonal, lower):
    st = x.state
    out = empty(st, x.shape, x.dtype)
    ct = T.ctype(x.dtype).compute
    cmp = "<=" if lower else ">="
    expr = f"(((gid % w) - ((gid / w) % h)) {cmp} diag) ? a : ({ct})0"
    return ew.run(st, "tril" if lower else "triu", expr, out, [x], ct,
                  extras=[("long", "h", x.shape[-2]), ("long", "w", max(x.shape[-1], 1)), ("long", "diag", diagonal)])


def tril(x, *, diagonal):
    return _triangle(x, diagonal, True)


def triu(x, *, diagonal):
    return _triangle(x, diagonal, False)


# ---------------------------------------------------------------- creation and random
def _state_for(index):
    from ember.plugins.opencl.runtime import state
    return state(index)


def full(*, shape, value, dtype, index):
    st = _state_for(index)
    out = empty(st, shape, dtype.numpy)
    return ew.run(st, "full", "a", out, [value], T.ctype(dtype.numpy).compute)


def arange(*, start, end, step, dtype, index):
    st = _state_for(index)
    ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    if ints:
        n = max(0, -(-(int(end) - int(start)) // int(step)))
    else:
        n = max(0, math.ceil((end - start) / step))
    out = empty(st, (n,), dtype.numpy)
    if dtype.is_floating_point:
        ft = "double" if st.fp64 else "float"
        return ew.run(st, "arange", "s0 + (TY)gid * s1".replace("TY", ft), out, [], ft,
                      extras=[(ft, "s0", float(start)), (ft, "s1", float(step))])
    return ew.run(st, "arange", "s0 + (long)gid * s1", out, [], "long",
                  extras=[("long", "s0", int(start)), ("long", "s1", int(step))])


def _philox(normal, shape, dtype, seed, offset, index):
    st = _state_for(index)
    out = empty(st, shape, dtype.numpy)
    n = out.size
    if n == 0:
        return out
    c = T.ctype(dtype.numpy)
    bits = SIGNIFICAND_BITS.get(dtype.name, 53)
    if not st.fp64:
        bits = min(bits, 24)
    src = sources.philox(st, c, normal, bits)
    k = st.kernel(src, "philox_normal" if normal else "philox_uniform")
    blocks = -(-n // 4)
    groups = st.groups_for(blocks)
    st.launch(k, (groups * st.local_size,), (st.local_size,),
              [out.storage.buf, np.int64(out.offset), np.int64(n), np.uint64(seed & 0xFFFFFFFFFFFFFFFF),
               np.uint64(offset & 0xFFFFFFFFFFFFFFFF)])
    return out


def philox_uniform(*, shape, dtype, seed, offset, index):
    return _philox(False, shape, dtype, seed, offset, index)


def philox_normal(*, shape, dtype, seed, offset, index):
    return _philox(True, shape, dtype, seed, offset, index)


def contiguous(x):
    return x if x.is_contiguous() else clone(x)


def reshape_or_copy(x, shape):
    """``x`` viewed as ``shape``, through a contiguous copy when its strides do not allow it."""
    strides = reshape_strides(x.shape, x.estrides, tuple(shape))
    if strides is None:
        x = clone(x)
        strides = contiguous_strides(shape)
    return x.with_layout(tuple(shape), strides)


def to_numpy(x: CLArray) -> np.ndarray:
    """A host copy of ``x`` (a non-contiguous ``x`` is first made contiguous on the device)."""
    host = np.empty(x.shape, dtype=x.dtype)
    if x.size == 0:
        return host
    if not x.is_contiguous():
        x = clone(x)
    st = x.state
    with st.lock:
        st.cl.enqueue_copy(st.queue, host.reshape(-1).view(np.uint8), x.storage.buf,
                           src_offset=x.offset * x.dtype.itemsize, is_blocking=True)
    return host


def from_numpy(st, array: np.ndarray) -> CLArray:
    host = np.asarray(array, order="C")
    out = CLArray.empty(st, host.shape, host.dtype)
    if host.size:
        with st.lock:
            st.cl.enqueue_copy(st.queue, out.storage.buf, host.reshape(-1).view(np.uint8), is_blocking=True)
    return out
