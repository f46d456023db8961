"""OpenCL C sources of the non-elementwise kernels, as Python string templates.

Each function returns one program's source for one specialization (dtypes, and the
size of the shape/stride arrays): shapes, strides and sizes are run-time arguments
packed in a struct of int64 passed by value (``*_meta`` below, filled by the
launchers in ``reductions.py``, ``linalg.py`` and ``indexing.py`` in the same order).
"""
from __future__ import annotations

from ember.plugins.opencl import cltypes as T

OFFSET = """
inline long ember_off(long i, long nd, const long* shape, const long* st) {
    if (nd == 1) return i * st[0];
    long o = 0;
    for (int d = (int)nd - 1; d >= 0; --d) { long c = i % shape[d]; i /= shape[d]; o += c * st[d]; }
    return o;
}
"""


def _head(state, maxd, extra=""):
    return f"{T.header(state.fp64)}\n#define MAXD {maxd}\n{OFFSET}\n{extra}\n"


# ---------------------------------------------------------------- reductions
REDUCE_META = "typedef struct { long nout; long nred; long kd; long rd; long split; long chunk; long kshape[MAXD]; " \
              "long kst[MAXD]; long rshape[MAXD]; long rst[MAXD]; long ost[MAXD]; } red_meta;"


def reduction(state, maxd, ls, in_c, out_c, acc, init, combine, pre=None):
    """``reduce_wg`` (a work-group per output, or per part of one when ``m.split > 1``: then
    it writes ``split`` partial results per output, contiguously) and ``reduce_item`` (a
    work-item per output)."""
    load = T.load(in_c, "in", "base + ember_off(r, m.rd, m.rshape, m.rst)")
    value = f"({acc})({load})" if pre is None else pre.replace("LOAD", load)
    store_wg = T.store(out_c, "out", "(m.split > 1 ? out_off + o : out_off + ember_off(ko, m.kd, m.kshape, m.ost))",
                       "v", acc)
    store_item = T.store(out_c, "out", "out_off + ember_off(o, m.kd, m.kshape, m.ost)", "v", acc)
    return _head(state, maxd) + f"""
{REDUCE_META}
#define COMBINE(x, y) ({combine})
__kernel __attribute__((reqd_work_group_size({ls}, 1, 1)))
void reduce_wg(__global {out_c.storage}* out, long out_off, __global const {in_c.storage}* in, long in_off, red_meta m) {{
    __local {acc} part[{ls}];
    int lid = get_local_id(0);
    for (long o = get_group_id(0); o < m.nout * m.split; o += get_num_groups(0)) {{
        long ko = o / m.split, r0 = (o % m.split) * m.chunk;
        long r1 = min(m.nred, r0 + m.chunk);
        long base = in_off + ember_off(ko, m.kd, m.kshape, m.kst);
        {acc} x = {init};
        for (long r = r0 + lid; r < r1; r += {ls}) {{ {acc} y = {value}; x = COMBINE(x, y); }}
        part[lid] = x;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int s = {ls} / 2; s > 0; s >>= 1) {{
            if (lid < s) {{ {acc} x = part[lid]; {acc} y = part[lid + s]; part[lid] = COMBINE(x, y); }}
            barrier(CLK_LOCAL_MEM_FENCE);
        }}
        if (lid == 0) {{ {acc} v = part[0]; {store_wg} }}
        barrier(CLK_LOCAL_MEM_FENCE);
    }}
}}
__kernel void reduce_item(__global {out_c.storage}* out, long out_off, __global const {in_c.storage}* in, long in_off,
                          red_meta m) {{
    for (long o = get_global_id(0); o < m.nout; o += get_global_size(0)) {{
        long base = in_off + ember_off(o, m.kd, m.kshape, m.kst);
        {acc} x = {init};
        for (long r = 0; r < m.nred; ++r) {{ {acc} y = {value}; x = COMBINE(x, y); }}
        {acc} v = x;
        {store_item}
    }}
}}
"""


def arg_reduction(state, maxd, ls, in_c, largest: bool):
    ct = in_c.compute
    cmp = ">" if largest else "<"
    if in_c.kind == "f":
        better = (f"(bi < 0 || (isnan(bv) ? (isnan(v) && i < bi) : (isnan(v) || v {cmp} bv || (v == bv && i < bi))))")
    else:
        better = f"(bi < 0 || v {cmp} bv || (v == bv && i < bi))"
    load = T.load(in_c, "in", "base + ember_off(r, m.rd, m.rshape, m.rst)")
    return _head(state, maxd) + f"""
{REDUCE_META}
#define BETTER(v, i, bv, bi) {better}
__kernel __attribute__((reqd_work_group_size({ls}, 1, 1)))
void arg_wg(__global long* out, long out_off, __global const {in_c.storage}* in, long in_off, red_meta m) {{
    __local {ct} pv[{ls}];
    __local long pi[{ls}];
    int lid = get_local_id(0);
    for (long o = get_group_id(0); o < m.nout; o += get_num_groups(0)) {{
        long base = in_off + ember_off(o, m.kd, m.kshape, m.kst);
        {ct} bv = 0; long bi = -1;
        for (long r = lid; r < m.nred; r += {ls}) {{ {ct} v = {load}; long i = r; if (BETTER(v, i, bv, bi)) {{ bv = v; bi = i; }} }}
        pv[lid] = bv; pi[lid] = bi;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int s = {ls} / 2; s > 0; s >>= 1) {{
            if (lid < s && pi[lid + s] >= 0) {{
                {ct} v = pv[lid + s]; long i = pi[lid + s]; {ct} bv2 = pv[lid]; long bi2 = pi[lid];
                if (BETTER(v, i, bv2, bi2)) {{ pv[lid] = v; pi[lid] = i; }}
            }}
            barrier(CLK_LOCAL_MEM_FENCE);
        }}
        if (lid == 0) out[out_off + ember_off(o, m.kd, m.kshape, m.ost)] = pi[0] < 0 ? 0 : pi[0];
        barrier(CLK_LOCAL_MEM_FENCE);
    }}
}}
"""


# ---------------------------------------------------------------- scans along one dim
SCAN_META = "typedef struct { long nlines; long len; long kd; long st; long ost; long kshape[MAXD]; long kst[MAXD]; " \
            "long kost[MAXD]; } scan_meta;"


def scan(state, maxd, in_c, out_c, acc, init, combine):
    load = T.load(in_c, "in", "ib + j * m.st")
    store = T.store(out_c, "out", "ob + j * m.ost", "x", acc)
    return _head(state, maxd) + f"""
{SCAN_META}
__kernel void scan(__global {out_c.storage}* out, long out_off, __global const {in_c.storage}* in, long in_off,
                   scan_meta m) {{
    for (long o = get_global_id(0); o < m.nlines; o += get_global_size(0)) {{
        long ib = in_off + ember_off(o, m.kd, m.kshape, m.kst);
        long ob = out_off + ember_off(o, m.kd, m.kshape, m.kost);
        {acc} x = {init};
        for (long j = 0; j < m.len; ++j) {{ {acc} y = ({acc})({load}); x = ({combine}); {store} }}
    }}
}}
"""


# ---------------------------------------------------------------- matmul
GEMM_META = "typedef struct { long M; long N; long K; long nb; long bd; long sam; long sak; long sbk; long sbn; " \
            "long scm; long scn; long bshape[MAXD]; long bsa[MAXD]; long bsb[MAXD]; long bsc[MAXD]; } mm_meta;"

TILE = 16      # work-group is TILE x TILE work-items
BLOCK = 8      # each work-item computes BLOCK x BLOCK outputs: a work-group covers 128 x 128
KTILE = 16     # the K extent of the tiles staged in local memory


def gemm(state, maxd, in_c, out_c, acc):
    ts, wb, tk = TILE, BLOCK, KTILE
    tm = ts * wb
    loads_a = (tm * tk) // (ts * ts)
    la = T.load(in_c, "A", "pa + (row0 + am) * m.sam + (t + ak) * m.sak")
    lb = T.load(in_c, "B", "pb + (t + bk) * m.sbk + (col0 + bn) * m.sbn")
    store = T.store(out_c, "C", "pc + r * m.scm + c * m.scn", "x[i][j]", acc)
    return _head(state, maxd) + f"""
{GEMM_META}
__kernel __attribute__((reqd_work_group_size({ts}, {ts}, 1)))
void gemm(__global {out_c.storage}* C, long offc, __global const {in_c.storage}* A, long offa,
          __global const {in_c.storage}* B, long offb, mm_meta m) {{
    __local {acc} As[{tk}][{tm}];
    __local {acc} Bs[{tk}][{tm}];
    int lc = get_local_id(0), lr = get_local_id(1);
    int tid = lr * {ts} + lc;
    long col0 = get_group_id(0) * {tm}, row0 = get_group_id(1) * {tm};
    for (long b = get_group_id(2); b < m.nb; b += get_num_groups(2)) {{
        long pa = offa + ember_off(b, m.bd, m.bshape, m.bsa);
        long pb = offb + ember_off(b, m.bd, m.bshape, m.bsb);
        long pc = offc + ember_off(b, m.bd, m.bshape, m.bsc);
        {acc} x[{wb}][{wb}];
        for (int i = 0; i < {wb}; ++i) for (int j = 0; j < {wb}; ++j) x[i][j] = 0;
        for (long t = 0; t < m.K; t += {tk}) {{
            for (int l = 0; l < {loads_a}; ++l) {{
                int e = tid + l * {ts * ts};
                int am = e / {tk}, ak = e % {tk};
                As[ak][am] = (row0 + am < m.M && t + ak < m.K) ? ({acc})({la}) : ({acc})0;
                int bk = e / {tm}, bn = e % {tm};
                Bs[bk][bn] = (t + bk < m.K && col0 + bn < m.N) ? ({acc})({lb}) : ({acc})0;
            }}
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int k = 0; k < {tk}; ++k) {{
                {acc} a[{wb}], bv[{wb}];
                for (int i = 0; i < {wb}; ++i) a[i] = As[k][lr + i * {ts}];
                for (int j = 0; j < {wb}; ++j) bv[j] = Bs[k][lc + j * {ts}];
                for (int i = 0; i < {wb}; ++i) for (int j = 0; j < {wb}; ++j) x[i][j] += a[i] * bv[j];
            }}
            barrier(CLK_LOCAL_MEM_FENCE);
        }}
        for (int i = 0; i < {wb}; ++i) for (int j = 0; j < {wb}; ++j) {{
            long r = row0 + lr + i * {ts}, c = col0 + lc + j * {ts};
            if (r < m.M && c < m.N) {{ {store} }}
        }}
    }}
}}
"""


# ---------------------------------------------------------------- indexing
def index_meta(nidx):
    return ("typedef struct { long n; long nd; long xd; long shape[MAXD]; long xsize[MAXD]; long xst[MAXD]; "
            f"long src[MAXD]; long vst[MAXD]; long ist[{max(nidx, 1)}][MAXD]; }} ix_meta;")


def _index_common(nidx):
    ptrs = "".join(f", __global const long* i{k}, long ioff{k}" for k in range(nidx))
    ioffs = "".join(f"long io{k} = ioff{k}; " for k in range(nidx))
    isteps = "".join(f"io{k} += c * m.ist[{k}][d]; " for k in range(nidx))
    picks = "".join(f"if (s == -{k + 1}) c = i{k}[io{k}]; " for k in range(nidx))
    body = f"""
        long rem = gid, vo = 0; {ioffs}
        long cs[MAXD];
        for (int d = (int)m.nd - 1; d >= 0; --d) {{
            long c = rem % m.shape[d]; rem /= m.shape[d]; cs[d] = c; vo += c * m.vst[d]; {isteps}
        }}
        long xo = 0;
        for (int j = 0; j < (int)m.xd; ++j) {{
            long s = m.src[j], c = 0;
            if (s >= 0) c = cs[s];
            else {{ {picks} if (c < 0) c += m.xsize[j]; }}
            xo += c * m.xst[j];
        }}"""
    return ptrs, body


def take(state, maxd, nidx, c):
    ptrs, body = _index_common(nidx)
    return _head(state, maxd) + f"""
{index_meta(nidx)}
__kernel void take(__global {c.raw}* out, long out_off, __global const {c.raw}* x, long x_off{ptrs}, ix_meta m) {{
    for (long gid = get_global_id(0); gid < m.n; gid += get_global_size(0)) {{
        {body}
        out[out_off + vo] = x[x_off + xo];
    }}
}}
"""


def put(state, maxd, nidx, c, reduce, atomic):
    """x[indexed places] (op)= values; ``reduce`` None (store) or a C expression over old, v."""
    ptrs, body = _index_common(nidx)
    ct = c.compute
    storage = c.storage
    if reduce is None:
        update = "x[x_off + xo] = values[values_off + vo];"
        helper = ""
        storage = c.raw
    else:
        value = T.load(c, "values", "values_off + vo")
        if atomic:
            helper = atomic_update(c, reduce)
            update = f"ember_atomic_update(x + x_off + xo, ({ct})({value}));"
        else:
            helper = ""
            old = T.load(c, "x", "x_off + xo")
            update = (f"{{ {ct} old = {old}; {ct} v = ({ct})({value}); "
                      + T.store(c, "x", "x_off + xo", f"({reduce})", ct) + " }")
    ext = "#pragma OPENCL EXTENSION cl_khr_int64_base_atomics : enable\n" if atomic and c.bits == 64 else ""
    return _head(state, maxd, ext + helper) + f"""
{index_meta(nidx)}
__kernel void put(__global {storage}* x, long x_off, __global const {storage}* values, long values_off{ptrs},
                  ix_meta m) {{
    for (long gid = get_global_id(0); gid < m.n; gid += get_global_size(0)) {{
        {body}
        {update}
    }}
}}
"""


def atomic_update(c, reduce):
    """``ember_atomic_update(p, v)``: *p = reduce(old=*p, v) by compare-and-swap on the
    32- or 64-bit word holding the element (8- and 16-bit types share a 32-bit word)."""
    ct = c.compute
    if c.bits == 64:
        as_val = "as_double" if c.name == "float64" else "as_long"
        to_bits = "as_ulong" if c.name == "float64" else "(ulong)"
        return f"""
inline void ember_atomic_update(__global {c.storage}* p, {ct} v) {{
    volatile __global ulong* w = (volatile __global ulong*)p;
    ulong seen = *w, want;
    do {{ want = seen; {ct} old = {as_val}(want); ulong nb = {to_bits}(({ct})({reduce}));
         seen = atom_cmpxchg(w, want, nb); }} while (seen != want);
}}"""
    if c.bits == 32:
        as_val = "as_float" if c.name == "float32" else "as_int"
        to_bits = "as_uint" if c.name == "float32" else "(uint)"
        return f"""
inline void ember_atomic_update(__global {c.storage}* p, {ct} v) {{
    volatile __global uint* w = (volatile __global uint*)p;
    uint seen = *w, want;
    do {{ want = seen; {ct} old = {as_val}(want); uint nb = {to_bits}(({ct})({reduce}));
         seen = atomic_cmpxchg(w, want, nb); }} while (seen != want);
}}"""
    # 8 and 16 bits: the aligned 32-bit word around the element
    mask = "0xffu" if c.bits == 8 else "0xffffu"
    if c.name == "float16":
        decode = "ushort hb = (ushort)bits; float old = vload_half(0, (const half*)&hb);"
        encode = "ushort nbh; vstore_half_rte((float)(r), 0, (half*)&nbh); uint nb = nbh;"
    elif c.name == "bfloat16":
        decode = "float old = ember_bf2f((ushort)bits);"
        encode = "uint nb = ember_f2bf((float)(r));"
    elif c.kind == "b":
        decode = f"{ct} old = ({ct})bits;"
        encode = "uint nb = (r) != 0;"
    else:
        decode = f"{ct} old = ({ct})({c.storage})bits;"
        encode = f"uint nb = (uint)({'u' if c.bits == 8 else 'u'}{'char' if c.bits == 8 else 'short'})({c.storage})(r);"
    return f"""
inline void ember_atomic_update(__global {c.storage}* p, {ct} v) {{
    ulong addr = (ulong)p;
    volatile __global uint* w = (volatile __global uint*)(addr & ~(ulong)3);
    uint shift = (uint)(addr & 3) * 8;
    uint seen = *w, want;
    do {{
        want = seen;
        uint bits = (want >> shift) & {mask};
        {decode}
        {ct} r = ({ct})({reduce});
        {encode}
        uint next = (want & ~({mask} << shift)) | ((nb & {mask}) << shift);
        seen = atomic_cmpxchg(w, want, next);
    }} while (seen != want);
}}"""


# ---------------------------------------------------------------- sort (bitonic, stable by index tie-break)
SORT_META = "typedef struct { long rows; long n; long P; long kd; long st; long ost; long kshape[MAXD]; " \
            "long kst[MAXD]; long kost[MAXD]; } sort_meta;"


def sort(state, maxd, c, descending):
    ct = c.compute
    if c.kind == "f":
        if descending:
            before = ("if (an || bn) return (an && bn) ? ia < ib : an; "
                      "if (va > vb) return 1; if (va < vb) return 0; return ia < ib;")
        else:
            before = ("if (an || bn) return (an && bn) ? ia < ib : bn; "
                      "if (va < vb) return 1; if (va > vb) return 0; return ia < ib;")
        nan = "int an = isnan(va), bn = isnan(vb);"
    else:
        op1, op2 = (">", "<") if descending else ("<", ">")
        before = f"if (va {op1} vb) return 1; if (va {op2} vb) return 0; return ia < ib;"
        nan = ""
    load_in = T.load(c, "in", "ib + j * m.st")
    return _head(state, maxd) + f"""
{SORT_META}
inline int ember_before({ct} va, long ia, {ct} vb, long ib, long n) {{
    if (ia >= n) return 0;
    if (ib >= n) return 1;
    {nan}
    {before}
}}
__kernel void sort_init(__global {ct}* keys, __global long* idx, __global const {c.storage}* in, long in_off,
                        sort_meta m) {{
    for (long g = get_global_id(0); g < m.rows * m.P; g += get_global_size(0)) {{
        long o = g / m.P, j = g % m.P;
        long ib = in_off + ember_off(o, m.kd, m.kshape, m.kst);
        keys[g] = j < m.n ? ({ct})({load_in}) : ({ct})0;
        idx[g] = j;
    }}
}}
__kernel void sort_step(__global {ct}* keys, __global long* idx, long j, long k, sort_meta m) {{
    for (long g = get_global_id(0); g < m.rows * m.P; g += get_global_size(0)) {{
        long t = g % m.P, partner = t ^ j;
        if (partner <= t) continue;
        long h = g - t + partner;
        {ct} va = keys[g], vb = keys[h];
        long ia = idx[g], ib = idx[h];
        int up = (t & k) == 0;
        int swap = up ? ember_before(vb, ib, va, ia, m.n) : ember_before(va, ia, vb, ib, m.n);
        if (swap) {{ keys[g] = vb; keys[h] = va; idx[g] = ib; idx[h] = ia; }}
    }}
}}
__kernel void sort_out(__global {c.storage}* values, long v_off, __global long* indices, long i_off,
                       __global const {ct}* keys, __global const long* idx, sort_meta m) {{
    for (long g = get_global_id(0); g < m.rows * m.n; g += get_global_size(0)) {{
        long o = g / m.n, j = g % m.n;
        long ob = ember_off(o, m.kd, m.kshape, m.kost) + j * m.ost;
        long src = o * m.P + j;
        {T.store(c, "values", "v_off + ob", "keys[src]", ct)}
        indices[i_off + ob] = idx[src];
    }}
}}
"""


# ---------------------------------------------------------------- nonzero / unique helpers
def nonzero(state, maxd, c):
    load = T.load(c, "x", "x_off + ember_off(gid, m.nd, m.shape, m.st)")
    return _head(state, maxd) + f"""
typedef struct {{ long n; long nd; long shape[MAXD]; long st[MAXD]; }} nz_meta;
__kernel void nz_flags(__global long* flags, __global const {c.storage}* x, long x_off, nz_meta m) {{
    for (long gid = get_global_id(0); gid < m.n; gid += get_global_size(0))
        flags[gid] = ({load}) != 0;
}}
__kernel void nz_fill(__global long* out, __global const long* flags, __global const long* pos, nz_meta m) {{
    for (long gid = get_global_id(0); gid < m.n; gid += get_global_size(0)) {{
        if (!flags[gid]) continue;
        long row = pos[gid] - 1, rem = gid;
        for (int d = (int)m.nd - 1; d >= 0; --d) {{ out[row * m.nd + d] = rem % m.shape[d]; rem /= m.shape[d]; }}
    }}
}}
"""


def unique(state, c):
    ct = c.compute
    same = "(a == b || (isnan(a) && isnan(b)))" if c.kind == "f" else "(a == b)"
    return _head(state, 1) + f"""
__kernel void uq_flags(__global long* flags, __global const {c.storage}* sv, long n) {{
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) {{
        if (i == 0) {{ flags[i] = 1; continue; }}
        {ct} a = {T.load(c, "sv", "i")}, b = {T.load(c, "sv", "i - 1")};
        flags[i] = !{same};
    }}
}}
__kernel void uq_fill(__global {c.raw}* values, __global long* starts, __global long* inverse,
                      __global const {c.raw}* sv, __global const long* perm, __global const long* flags,
                      __global const long* group, long n) {{
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) {{
        long g = group[i] - 1;
        if (flags[i]) {{ values[g] = sv[i]; starts[g] = i; }}
        inverse[perm[i]] = g;
    }}
}}
__kernel void uq_counts(__global long* counts, __global const long* starts, long count, long n) {{
    for (long u = get_global_id(0); u < count; u += get_global_size(0))
        counts[u] = (u + 1 < count ? starts[u + 1] : n) - starts[u];
}}
"""


# ---------------------------------------------------------------- random: Philox4x64-10
PHILOX = """
inline void ember_philox(ulong seed, ulong offset, ulong block, ulong* out) {
    ulong c0 = offset + 1 + block;
    ulong c1 = c0 < offset ? 1 : 0, c2 = 0, c3 = 0;
    ulong k0 = seed, k1 = 0;
    for (int round = 0; round < 10; ++round) {
        if (round > 0) { k0 += 0x9E3779B97F4A7C15UL; k1 += 0xBB67AE8584CAA73BUL; }
        ulong lo0 = 0xD2E7470EE14C6C93UL * c0, hi0 = mul_hi(0xD2E7470EE14C6C93UL, c0);
        ulong lo1 = 0xCA5A826395121157UL * c2, hi1 = mul_hi(0xCA5A826395121157UL, c2);
        ulong n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}
"""


def philox(state, c, normal: bool, bits: int):
    """One word per element (uniform) or one pair of words per two elements (normal)."""
    store = lambda idx, v, vt: T.store(c, "out", f"out_off + {idx}", v, vt)  # noqa: E731
    if not normal:
        if state.fp64:
            u = f"(double)(w[b] >> {64 - bits}) * {1.0 / 2 ** bits!r}"
            vt = "double"
        else:
            u = f"(float)(w[b] >> {64 - bits}) * {1.0 / 2 ** bits!r}f"
            vt = "float"
        return _head(state, 1, PHILOX) + f"""
__kernel void philox_uniform(__global {c.storage}* out, long out_off, long n, ulong seed, ulong offset) {{
    for (long blk = get_global_id(0); blk * 4 < n; blk += get_global_size(0)) {{
        ulong w[4];
        ember_philox(seed, offset, (ulong)blk, w);
        for (int b = 0; b < 4; ++b) {{
            long i = blk * 4 + b;
            if (i < n) {{ {store("i", u, vt)} }}
        }}
    }}
}}
"""
    ft = "double" if state.fp64 else "float"
    scale = "(1.0 / 9007199254740992.0)" if state.fp64 else "(1.0f / 16777216.0f)"
    shift = 11 if state.fp64 else 40
    two_pi = "6.283185307179586" if state.fp64 else "6.2831853f"
    return _head(state, 1, PHILOX) + f"""
__kernel void philox_normal(__global {c.storage}* out, long out_off, long n, ulong seed, ulong offset) {{
    for (long blk = get_global_id(0); blk * 4 < n; blk += get_global_size(0)) {{
        ulong w[4];
        ember_philox(seed, offset, (ulong)blk, w);
        for (int p = 0; p < 2; ++p) {{
            {ft} u1 = ({ft})1 - ({ft})(w[2 * p] >> {shift}) * {scale};
            {ft} u2 = ({ft})(w[2 * p + 1] >> {shift}) * {scale};
            {ft} r = sqrt(({ft})-2 * log(u1)), a = {two_pi} * u2;
            long i = blk * 4 + 2 * p;
            if (i < n) {{ {store("i", "r * cos(a)", ft)} }}
            if (i + 1 < n) {{ {store("i + 1", "r * sin(a)", ft)} }}
        }}
    }}
}}
"""


# ---------------------------------------------------------------- fused softmax / log_softmax
def softmax(state, maxd, ls, c, log: bool):
    acc = "double" if c.name == "float64" else "float"
    load = T.load(c, "in", "ib + j * m.st")
    out = ("x - mx - lse" if log else "exp(x - mx) / s")
    store = T.store(c, "out", "ob + j * m.ost", out, acc)
    keep, last = "", f"{acc} x = {load}; {store}"
    if not log and c.storage == acc:  # keep exp(x - max) in the output: one exp per element
        keep = "out[ob + j * m.ost] = e;"
        last = "out[ob + j * m.ost] /= s;"
    return _head(state, maxd) + f"""
{SCAN_META}
__kernel __attribute__((reqd_work_group_size({ls}, 1, 1)))
void softmax(__global {c.storage}* out, long out_off, __global const {c.storage}* in, long in_off, scan_meta m) {{
    __local {acc} part[{ls}];
    int lid = get_local_id(0);
    for (long o = get_group_id(0); o < m.nlines; o += get_num_groups(0)) {{
        long ib = in_off + ember_off(o, m.kd, m.kshape, m.kst);
        long ob = out_off + ember_off(o, m.kd, m.kshape, m.kost);
        {acc} mx = -INFINITY;
        for (long j = lid; j < m.len; j += {ls}) {{ {acc} x = {load}; mx = (x > mx || isnan(x)) ? x : mx; }}
        part[lid] = mx;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int s = {ls} / 2; s > 0; s >>= 1) {{
            if (lid < s) {{ {acc} a = part[lid], b = part[lid + s]; part[lid] = (b > a || isnan(b)) ? b : a; }}
            barrier(CLK_LOCAL_MEM_FENCE);
        }}
        mx = part[0];
        // no shift special case for an infinite max: +inf (or an all -inf slice) gives NaN, as in PyTorch
        barrier(CLK_LOCAL_MEM_FENCE);
        {acc} s = 0;
        for (long j = lid; j < m.len; j += {ls}) {{ {acc} x = {load}; {acc} e = exp(x - mx); s += e; {keep} }}
        part[lid] = s;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int t = {ls} / 2; t > 0; t >>= 1) {{
            if (lid < t) part[lid] += part[lid + t];
            barrier(CLK_LOCAL_MEM_FENCE);
        }}
        s = part[0];
        {acc} lse = log(s);
        for (long j = lid; j < m.len; j += {ls}) {{ {last} }}
        barrier(CLK_LOCAL_MEM_FENCE);
    }}
}}
"""


# ---------------------------------------------------------------- einsum: a generic contraction
def einsum(state, maxd, nops, c, acc):
    ptrs = "".join(f", __global const {c.storage}* p{k}, long off{k}" for k in range(nops))
    init = " ".join(f"long o{k} = off{k};" for k in range(nops))
    step = " ".join(f"o{k} += cc * m.st[{k}][d];" for k in range(nops))
    qinit = " ".join(f"long q{k} = o{k};" for k in range(nops))
    qstep = " ".join(f"q{k} += cc * m.cst[{k}][d];" for k in range(nops))
    product = " * ".join(f"({acc})({T.load(c, f'p{k}', f'q{k}')})" for k in range(nops))
    store = T.store(c, "out", "oo", "x", acc)
    return _head(state, maxd) + f"""
typedef struct {{ long n; long nd; long shape[MAXD]; long ost[MAXD]; long cn; long cd; long cshape[MAXD];
                 long st[{nops}][MAXD]; long cst[{nops}][MAXD]; }} es_meta;
__kernel void einsum(__global {c.storage}* out, long out_off{ptrs}, es_meta m) {{
    for (long gid = get_global_id(0); gid < m.n; gid += get_global_size(0)) {{
        long rem = gid, oo = out_off;
        {init}
        for (int d = (int)m.nd - 1; d >= 0; --d) {{
            long cc = rem % m.shape[d]; rem /= m.shape[d]; oo += cc * m.ost[d]; {step}
        }}
        {acc} x = 0;
        for (long r = 0; r < m.cn; ++r) {{
            long rr = r;
            {qinit}
            for (int d = (int)m.cd - 1; d >= 0; --d) {{
                long cc = rr % m.cshape[d]; rr /= m.cshape[d]; {qstep}
            }}
            x += {product};
        }}
        {store}
    }}
}}
"""


# ---------------------------------------------------------------- index bounds
def bounds(state, maxd):
    return _head(state, maxd) + """
typedef struct { long n; long nd; long shape[MAXD]; long st[MAXD]; } nz_meta;
__kernel void bounds(__global int* flag, __global const long* idx, long off, long size, nz_meta m) {
    for (long gid = get_global_id(0); gid < m.n; gid += get_global_size(0)) {
        long v = idx[off + ember_off(gid, m.nd, m.shape, m.st)];
        if (v < -size || v >= size) flag[0] = 1;
    }
}
"""
