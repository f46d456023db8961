"""Reductions (sum prod amax amin all any argmax argmin), scans (cumsum cumprod) and the
fused softmax / log_softmax, over any dims of any strided input.

The kept dims and the reduced dims are each merged where they walk memory evenly;
the kernel gets both as run-time shapes/strides. A work-group reduces one output
(tree in local memory) when the reduced extent is large; a work-item does when it is
small; a large reduction into few outputs is split across work-groups in two passes.
"""
from __future__ import annotations

import numpy as np

from ember.plugins.opencl import cltypes as T
from ember.plugins.opencl import sources
from ember.plugins.opencl.array import CLArray, contiguous_strides, merge_dims
from ember.plugins.opencl.elementwise import _maxd, _pad
from ember.plugins.opencl.launchers import empty
from ember.plugins.opencl.runtime import meta_array

_INT_LIMITS = {"uchar": ("0", "UCHAR_MAX"), "char": ("CHAR_MIN", "CHAR_MAX"), "short": ("SHRT_MIN", "SHRT_MAX"),
               "int": ("INT_MIN", "INT_MAX"), "long": ("LONG_MIN", "LONG_MAX"), "ushort": ("0", "USHRT_MAX"),
               "uint": ("0", "UINT_MAX"), "ulong": ("0", "ULONG_MAX")}
_ACC_CTYPE = {"float": T.BY_NAME["float32"], "double": T.BY_NAME["float64"], "long": T.BY_NAME["int64"],
              "int": T.BY_NAME["int32"], "uchar": T.BY_NAME["uint8"], "char": T.BY_NAME["int8"],
              "short": T.BY_NAME["int16"], "ushort": T.BY_NAME["uint16"], "uint": T.BY_NAME["uint32"],
              "ulong": T.BY_NAME["uint64"]}


def _plan(x: CLArray, rdims, out_shape_strides=None):
    """(kept shape, [x strides, out strides] merged, reduced shape, x strides merged)."""
    kdims = [d for d in range(x.ndim) if d not in rdims]
    kshape = [x.shape[d] for d in kdims]
    ost = contiguous_strides(kshape) if out_shape_strides is None else out_shape_strides
    kshape_m, (kst, ost_m) = merge_dims(kshape, [[x.estrides[d] for d in kdims], ost])
    rshape_m, (rst,) = merge_dims([x.shape[d] for d in rdims], [[x.estrides[d] for d in rdims]])
    return kshape, kshape_m, kst, ost_m, rshape_m, rst


def _meta(nout, nred, kshape, kst, ost, rshape, rst, maxd, split=1, chunk=0):
    m = [nout, nred, len(kshape), len(rshape), split, chunk or max(nred, 1)]
    m += _pad(kshape, maxd) + _pad(kst, maxd) + _pad(rshape, maxd) + _pad(rst, maxd) + _pad(ost, maxd)
    return meta_array(m, 6 + 5 * maxd)


def _spec(name, c: T.CType, state):
    """(acc C type, init, combine, pre, out numpy dtype) of a reduction over dtype c."""
    ct = c.compute
    if name in ("sum", "prod"):
        if c.kind in "biu":
            acc, out = "long", np.dtype(np.int64)
        else:
            acc = "double" if ct == "double" or (state.fp64 and state.is_cpu) else "float"
            out = c.np
        op = "+" if name == "sum" else "*"
        return acc, "0" if name == "sum" else "1", f"x {op} y", None, out
    if name in ("amax", "amin"):
        if c.kind == "f":
            init = "-INFINITY" if name == "amax" else "INFINITY"
            cmp = ">=" if name == "amax" else "<="
            return ct, f"({ct}){init}", f"(isnan(x) || x {cmp} y) ? x : y", None, c.np
        lo, hi = _INT_LIMITS[ct] if c.kind != "b" else ("0", "1")
        cmp = ">" if name == "amax" else "<"
        return ct, lo if name == "amax" else hi, f"x {cmp} y ? x : y", None, c.np
    if name in ("all", "any"):
        return ("int", "1" if name == "all" else "0", "x & y" if name == "all" else "x | y",
                "(int)((LOAD) != 0)", np.dtype(np.bool_))
    raise KeyError(name)


def _run_reduce(name, x, rdims, keepdim):
    st = x.state
    c = T.ctype(x.dtype)
    acc, init, combine, pre, out_dtype = _spec(name, c, st)
    kshape, kshape_m, kst, ost, rshape, rst = _plan(x, rdims)
    out = empty(st, kshape, out_dtype)
    nout = out.size
    nred = 1
    for s in rshape:
        nred *= s
    if nout:
        maxd = _maxd(max(len(kshape_m), len(rshape)))
        ls = st.local_size
        src = sources.reduction(st, maxd, ls, c, T.ctype(out_dtype), acc, init, combine, pre)
        if nred >= 8 * ls and nout * 4 < st.max_groups and nred >= 4096:
            # few outputs, much to reduce: split each output's range over several work-groups
            split = max(2, min(st.max_groups // max(nout, 1), nred // (4 * ls)))
            chunk = -(-nred // split)
            acc_c = _ACC_CTYPE[acc]
            partial = empty(st, (nout * split,), acc_c.np)
            src1 = sources.reduction(st, maxd, ls, c, acc_c, acc, init, combine, pre)
            k1 = st.kernel(src1, "reduce_wg")
            groups = min(nout * split, st.max_groups)
            st.launch(k1, (groups * ls,), (ls,), [partial.storage.buf, np.int64(0), x.storage.buf,
                                                  np.int64(x.offset),
                                                  _meta(nout, nred, kshape_m, kst, ost, rshape, rst, maxd,
                                                        split, chunk)])
            pre2 = pre if pre is None else "(int)((LOAD) != 0)"
            src2 = sources.reduction(st, maxd, ls, acc_c, T.ctype(out_dtype), acc, init, combine, pre2)
            k2 = st.kernel(src2, "reduce_item")
            groups = st.groups_for(nout)
            st.launch(k2, (groups * ls,), (ls,), [out.storage.buf, np.int64(0), partial.storage.buf, np.int64(0),
                                                  _meta(nout, split, kshape_m, [k * split for k in
                                                                                contiguous_strides(kshape_m)],
                                                        ost, [split], [1], maxd)])
        else:
            wg = nred >= 2 * ls or (nred > 8 and nout < st.max_groups)
            k = st.kernel(src, "reduce_wg" if wg else "reduce_item")
            groups = min(nout, st.max_groups) if wg else st.groups_for(nout)
            st.launch(k, (groups * ls,), (ls,), [out.storage.buf, np.int64(0), x.storage.buf, np.int64(x.offset),
                                                 _meta(nout, nred, kshape_m, kst, ost, rshape, rst, maxd)])
    if keepdim:
        shape = tuple(1 if d in rdims else x.shape[d] for d in range(x.ndim))
        out = out.with_layout(shape, contiguous_strides(shape))
    return out


def reduction(name):
    """The launcher of the reduction primitive ``name`` (one of ``REDUCTIONS``)."""
    def run(x, *, dims, keepdim):
        rdims = sorted({d % x.ndim for d in dims}) if dims and x.ndim else list(range(x.ndim))
        return _run_reduce(name, x, rdims, keepdim)
    run.__name__ = name
    return run


#: the reductions over ``dims`` (``reduction(name)`` is the launcher of each)
REDUCTIONS = ("sum", "prod", "amax", "amin", "all", "any")


def _arg(largest):
    def run(x, *, dim, keepdim):
        st = x.state
        rdims = list(range(x.ndim)) if dim is None else [dim % x.ndim] if x.ndim else []
        kshape, kshape_m, kst, ost, rshape, rst = _plan(x, rdims)
        out = empty(st, kshape, np.int64)
        nred = 1
        for s in rshape:
            nred *= s
        if out.size:
            maxd = _maxd(max(len(kshape_m), len(rshape)))
            ls = st.local_size
            k = st.kernel(sources.arg_reduction(st, maxd, ls, T.ctype(x.dtype), largest), "arg_wg")
            st.launch(k, (min(out.size, st.max_groups) * ls,), (ls,),
                      [out.storage.buf, np.int64(0), x.storage.buf, np.int64(x.offset),
                       _meta(out.size, nred, kshape_m, kst, ost, rshape, rst, maxd)])
        if keepdim:
            shape = (1,) * x.ndim if dim is None else tuple(1 if d in rdims else x.shape[d] for d in range(x.ndim))
            out = out.with_layout(shape, contiguous_strides(shape))
        return out
    return run


argmax = _arg(True)
argmin = _arg(False)


# ---------------------------------------------------------------- scans and softmax: lines along one dim
def _lines(x, dim, out):
    """scan_meta for the lines of ``x`` along ``dim`` (written to ``out`` of the same shape)."""
    kdims = [d for d in range(x.ndim) if d != dim]
    kshape, (kst, kost) = merge_dims([x.shape[d] for d in kdims],
                                     [[x.estrides[d] for d in kdims], [out.estrides[d] for d in kdims]])
    maxd = _maxd(len(kshape))
    nlines = 1
    for s in kshape:
        nlines *= s
    length = x.shape[dim] if x.ndim else 1
    st_ = x.estrides[dim] if x.ndim else 0
    ost = out.estrides[dim] if x.ndim else 0
    m = [nlines, length, len(kshape), st_, ost] + _pad(kshape, maxd) + _pad(kst, maxd) + _pad(kost, maxd)
    return nlines, maxd, meta_array(m, 5 + 3 * maxd)


def _scan(name):
    def run(x, *, dim):
        st = x.state
        c = T.ctype(x.dtype)
        if c.kind in "biu":
            acc, out_dtype = "long", np.dtype(np.int64)
        else:
            acc, out_dtype = ("double" if c.compute == "double" else "float"), x.dtype
        out = empty(st, x.shape, out_dtype)
        if out.size == 0:
            return out
        dim = dim % x.ndim if x.ndim else 0
        nlines, maxd, meta = _lines(x, dim, out)
        op = "+" if name == "cumsum" else "*"
        src = sources.scan(st, maxd, c, T.ctype(out_dtype), acc, "0" if name == "cumsum" else "1", f"x {op} y")
        st.launch(st.kernel(src, "scan"), (st.groups_for(nlines) * st.local_size,), (st.local_size,),
                  [out.storage.buf, np.int64(0), x.storage.buf, np.int64(x.offset), meta])
        return out
    return run


cumsum = _scan("cumsum")
cumprod = _scan("cumprod")


def _softmax(log):
    def run(x, *, dim):
        st = x.state
        out = empty(st, x.shape, x.dtype)
        if out.size == 0:
            return out
        dim = dim % x.ndim if x.ndim else 0
        nlines, maxd, meta = _lines(x, dim, out)
        ls = st.local_size
        src = sources.softmax(st, maxd, ls, T.ctype(x.dtype), log)
        st.launch(st.kernel(src, "softmax"), (min(nlines, st.max_groups) * ls,), (ls,),
                  [out.storage.buf, np.int64(0), x.storage.buf, np.int64(x.offset), meta])
        return out
    return run


softmax = _softmax(False)        # fused overrides of the composites of the same name
log_softmax = _softmax(True)

