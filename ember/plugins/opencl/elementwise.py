"""Elementwise kernels, generated from one template.

``run(state, name, expr, out, inputs, ct)`` writes ``expr`` (a C expression over the
inputs named ``a``, ``b``, ``c`` — already converted to the compute type ``ct`` — and
``gid``, the element's row-major number) into every element of ``out``. Inputs are
arrays broadcastable to ``out`` (any strides, walked by index arithmetic in the kernel)
or Python scalars (kernel arguments). One program per (op, dtypes): shapes and strides
are run-time arguments; when every operand is contiguous the kernel skips the index
arithmetic.

``EXPRESSIONS`` gives each elementwise primitive's C expression per kind of compute
type, with numpy's (hence PyTorch's) semantics: NaN-propagating maximum/minimum,
Python-style remainder and floor division, shifts past the width, integer division by
zero giving 0 instead of trapping.
"""
from __future__ import annotations

import numpy as np

from ember.plugins.c_fusion import erfinv_source
from ember.plugins.opencl import cltypes as T
from ember.plugins.opencl import special
from ember.plugins.opencl.array import CLArray, broadcast_strides, merge_dims
from ember.plugins.opencl.runtime import MAX_DIMS, meta_array

_NAMES = "abcdefgh"
_SOURCES = {}  # spec -> (source, kernel name)


def _maxd(nd: int) -> int:
    if nd <= MAX_DIMS:
        return MAX_DIMS
    if nd <= 2 * MAX_DIMS:
        return 2 * MAX_DIMS
    raise NotImplementedError(f"OpenCL kernels take at most {2 * MAX_DIMS} dims after merging, got {nd}")


def _source(state, spec, expr, out_c, in_specs, ct, extras, helpers, maxd, idx):
    arrays = [i for i, (c, is_scalar) in enumerate(in_specs) if not is_scalar]
    narr = 1 + len(arrays)
    params = [f"__global {out_c.storage}* out", "long off0"]
    loads = []
    slot = 1
    for i, (c, is_scalar) in enumerate(in_specs):
        n = _NAMES[i]
        if is_scalar:
            params.append(f"{ct} {n}")
        else:
            params.append(f"__global const {c.storage}* p{i}")
            params.append(f"long off{slot}")
            loads.append(f"{ct} {n} = ({ct})({T.load(c, f'p{i}', f'o{slot}')});")
            slot += 1
    for ctype_, name in extras:
        params.append(f"{ctype_} {name}")
    params.append("ew_meta m")
    offs = ", ".join(f"o{k}" for k in range(narr))
    flat = " ".join(f"o{k} = off{k} + gid;" for k in range(narr))
    init = " ".join(f"o{k} = off{k};" for k in range(narr))
    step = " ".join(f"o{k} += c * m.st[{k}][d];" for k in range(narr))
    body = "\n        ".join(loads)
    result = T.store(out_c, "out", "o0", f"({expr})", ct)
    src = f"""{T.header(state.fp64)}
{helpers}
#define MAXD {maxd}
#define IDX {idx}
typedef struct {{ long n; long nd; long shape[MAXD]; long st[{narr}][MAXD]; }} ew_meta;
__kernel void ew({", ".join(params)}) {{
    for (long gid = get_global_id(0); gid < m.n; gid += get_global_size(0)) {{
        long {offs};
        {init}
        IDX rem = (IDX)gid;
        for (int d = (int)m.nd - 1; d >= 0; --d) {{
            IDX c = rem % (IDX)m.shape[d];
            rem /= (IDX)m.shape[d];
            {step}
        }}
        {body}
        {result}
    }}
}}
__kernel void ew_flat({", ".join(params)}) {{
    long gid = get_global_id(0);
    if (gid < m.n) {{
        long {offs};
        {flat}
        {body}
        {result}
    }}
}}
"""
    return src


def run(state, name, expr, out: CLArray, inputs, ct: str, extras=(), helpers=""):
    """Write ``expr`` over ``inputs`` into ``out`` (see the module docstring).

    ``extras``: [(C type, name, value)] more scalar arguments the expression uses.
    """
    n = out.size
    if n == 0:
        return out
    in_specs = tuple((T.ctype(x.dtype), False) if isinstance(x, CLArray) else (None, True) for x in inputs)
    arrays = [x for x in inputs if isinstance(x, CLArray)]
    strides = [out.estrides] + [broadcast_strides(x, out.shape) for x in arrays]
    shape, merged = merge_dims(out.shape, strides)
    if len(shape) <= 1 and all(st == (1,) or st == () for st in merged):
        nd = 0
    else:
        nd = len(shape)
    maxd = _maxd(nd)
    out_c = T.ctype(out.dtype)
    idx = "uint" if n < 2 ** 31 else "long"  # 32-bit index arithmetic where it fits: much faster
    spec = (name, expr, out_c.name, tuple((c.name if c else None, s) for c, s in in_specs), ct,
            tuple(e[:2] for e in extras), helpers, maxd, idx)
    found = _SOURCES.get((state.index, spec))
    if found is None:
        found = _SOURCES[(state.index, spec)] = _source(state, spec, expr, out_c, in_specs, ct,
                                                        [e[:2] for e in extras], helpers, maxd, idx)
    groups = -(-n // state.local_size)
    flat = nd == 0 and groups <= (1 << 22)
    kernel = state.kernel(found, "ew_flat" if flat else "ew")
    cnp = T.NP_OF_C[ct]
    args = [out.storage.buf, np.int64(out.offset)]
    for x in inputs:
        if isinstance(x, CLArray):
            if x.state is not state:
                raise RuntimeError(f"an OpenCL kernel got arrays of two devices (opencl:{x.device_index} "
                                   f"and opencl:{state.index})")
            args += [x.storage.buf, np.int64(x.offset)]
        else:
            args.append(_scalar(x, cnp))
    for ctype_, _, value in extras:
        args.append(T.NP_OF_C[ctype_](value))
    narr = len(strides)
    meta = [n, nd] + _pad(shape, maxd)
    for st in merged:
        meta += _pad(st, maxd)
    args.append(meta_array(meta, 2 + maxd * (1 + narr)))
    if not flat:
        groups = state.groups_for(n)
    state.launch(kernel, (groups * state.local_size,), (state.local_size,), args)
    return out


def _pad(values, size):
    values = list(values)
    return values + [0] * (size - len(values))


def _scalar(value, cnp):
    """A Python scalar as a kernel argument of numpy type ``cnp``."""
    if np.dtype(cnp).kind in "iu":
        if isinstance(value, float):
            value = int(value)
        info = np.iinfo(cnp)
        value = int(value)
        if not info.min <= value <= info.max:  # wrap, as a cast in C would
            value = int(np.array(value & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64).astype(cnp))
    return np.array(value).astype(cnp)[()]


# ---------------------------------------------------------------- numpy's semantics in C
def compute_type(*dtypes) -> str:
    """The C compute type of an op over these numpy dtypes (already promoted by the ops layer)."""
    np_types = [d for d in dtypes if d is not None]
    result = np_types[0] if len(set(np_types)) == 1 else np.result_type(*np_types)
    return T.ctype(result).compute


def kind_of(ct: str) -> str:
    return {"float": "f", "double": "f", "uchar": "u", "char": "i", "short": "i", "int": "i", "long": "i",
            "ushort": "u", "uint": "u", "ulong": "u"}[ct]


BITS = {"uchar": 8, "char": 8, "short": 16, "int": 32, "long": 64, "ushort": 16, "uint": 32, "ulong": 64}

HELPERS = {
    "sigmoid": """
inline CT ember_sigmoid_CT(CT x) {
    CT e = exp(-fabs(x));
    return x >= 0 ? (CT)1 / ((CT)1 + e) : e / ((CT)1 + e);
}""",
    "fmod_py": """
inline CT ember_pymod_CT(CT a, CT b) {
    CT mod = fmod(a, b);
    if (b == (CT)0) return mod;
    if (mod != (CT)0) { if ((b < (CT)0) != (mod < (CT)0)) mod += b; }
    else mod = copysign((CT)0, b);
    return mod;
}""",
    "floordiv": """
inline CT ember_floordiv_CT(CT a, CT b) {
    if (b == (CT)0) return a / b;
    CT mod = fmod(a, b);
    CT div = (a - mod) / b;
    if (mod != (CT)0 && ((b < (CT)0) != (mod < (CT)0))) div -= (CT)1;
    CT fl;
    if (div != (CT)0) { fl = floor(div); if (div - fl > (CT)0.5) fl += (CT)1; }
    else fl = copysign((CT)0, a / b);
    return fl;
}""",
    "imod": """
inline CT ember_imod_CT(CT a, CT b) {
    if (b == 0 || b == (CT)-1) return 0;
    CT r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}""",
    "ifloordiv": """
inline CT ember_ifloordiv_CT(CT a, CT b) {
    if (b == 0) return 0;
    if (b == (CT)-1) return (CT)(-a);
    CT q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
    return q;
}""",
    "itruncdiv": """
inline CT ember_itruncdiv_CT(CT a, CT b) {
    if (b == 0) return 0;
    if (b == (CT)-1) return (CT)(-a);
    return a / b;
}""",
    "ipow": """
inline CT ember_ipow_CT(CT a, CT b) {
    if (b < 0) return a == 1 ? (CT)1 : (a == (CT)-1 ? ((b & 1) ? (CT)-1 : (CT)1) : (CT)0);
    ulong e = (ulong)b;
    long base = (long)a, r = 1;
    while (e) { if (e & 1) r *= base; base *= base; e >>= 1; }
    return (CT)r;
}""",
    "ufloordiv": """
inline CT ember_ufloordiv_CT(CT a, CT b) { return b == 0 ? (CT)0 : (CT)(a / b); }
inline CT ember_umod_CT(CT a, CT b) { return b == 0 ? (CT)0 : (CT)(a % b); }""",
}


# (the polynomial and Newton steps are shared with the fused kernels' C generator)
HELPERS["erfinv"] = erfinv_source("(CT)NAN", "(CT)INFINITY", lambda fn: fn).replace("INLINE ", "inline ")


def helper(name: str, ct: str) -> str:
    return HELPERS[name].replace("CT", ct)


def expression(op: str, ct: str):
    """(C expression over a, b, c; helper source) for an elementwise primitive in compute type ct."""
    k = kind_of(ct)
    f = k == "f"
    if ct == "uchar":
        k = "u"
    one_arg = {
        "neg": "-a", "sqrt": "sqrt(a)", "exp": "exp(a)", "exp2": "exp2(a)", "expm1": "expm1(a)",
        "log": "log(a)", "log2": "log2(a)", "log10": "log10(a)", "log1p": "log1p(a)", "sin": "sin(a)",
        "cos": "cos(a)", "tan": "tan(a)", "asin": "asin(a)", "acos": "acos(a)", "atan": "atan(a)",
        "sinh": "sinh(a)", "cosh": "cosh(a)", "tanh": "tanh(a)", "asinh": "asinh(a)", "acosh": "acosh(a)",
        "atanh": "atanh(a)", "erf": "erf(a)",
        "floor": "floor(a)",
        "ceil": "ceil(a)", "trunc": "trunc(a)", "logical_not": "!a",
        "rsqrt": f"({ct})1 / sqrt(a)", "reciprocal": f"({ct})1 / a",
        "isnan": "isnan(a)" if f else "0", "isinf": "isinf(a)" if f else "0",
    }
    if op in one_arg:
        return one_arg[op], ""
    if op == "abs":
        return ("fabs(a)" if f else "(a < 0 ? -a : a)" if k == "i" else "a"), ""
    if op == "sign":
        if f:  # (a > 0) - (a < 0), as PyTorch computes it: NaN gives 0
            return f"({ct})((a > 0) - (a < 0))", ""
        return ("((a > 0) - (a < 0))" if k == "i" else "(a > 0)"), ""
    if op == "relu":
        return (f"(a < 0 ? ({ct})0 : a)" if k != "u" else "a"), ""
    if op == "sigmoid":
        return f"ember_sigmoid_{ct}(a)", helper("sigmoid", ct)
    if op == "erfinv":
        return f"ember_erfinv_{ct}(a)", helper("erfinv", ct)
    if op in special.UNARY or op in special.BINARY:  # the special functions: special.py
        return special.expression(op, ct)
    if op == "bitwise_not":
        return ("!a" if ct == "uchar_bool" else "~a"), ""
    binary = {"add": "a + b", "sub": "a - b", "mul": "a * b", "div": "a / b", "atan2": "atan2(a, b)",
              "eq": "a == b", "ne": "a != b", "lt": "a < b", "le": "a <= b", "gt": "a > b", "ge": "a >= b",
              "logical_and": "(a != 0) && (b != 0)", "logical_or": "(a != 0) || (b != 0)",
              "logical_xor": "(a != 0) != (b != 0)", "bitwise_and": "a & b", "bitwise_or": "a | b",
              "bitwise_xor": "a ^ b"}
    if op in binary:
        return binary[op], ""
    if op == "maximum":
        return ("((a > b) || isnan(a)) ? a : b" if f else "(a > b ? a : b)"), ""
    if op == "minimum":
        return ("((a < b) || isnan(a)) ? a : b" if f else "(a < b ? a : b)"), ""
    if op == "pow":
        return ("pow(a, b)", "") if f else (f"ember_ipow_{ct}(a, b)", helper("ipow", ct))
    if op == "remainder":
        if f:
            return f"ember_pymod_{ct}(a, b)", helper("fmod_py", ct)
        if k == "u":
            return f"ember_umod_{ct}(a, b)", helper("ufloordiv", ct)
        return f"ember_imod_{ct}(a, b)", helper("imod", ct)
    if op == "fmod":
        if f:
            return "fmod(a, b)", ""
        if k == "u":
            return f"ember_umod_{ct}(a, b)", helper("ufloordiv", ct)
        return f"((b == 0 || b == ({ct})-1) ? ({ct})0 : ({ct})(a % b))", ""
    if op == "div_floor":
        if f:
            return f"ember_floordiv_{ct}(a, b)", helper("floordiv", ct)
        if k == "u":
            return f"ember_ufloordiv_{ct}(a, b)", helper("ufloordiv", ct)
        return f"ember_ifloordiv_{ct}(a, b)", helper("ifloordiv", ct)
    if op == "div_trunc":
        if f:
            return "trunc(a / b)", ""
        if k == "u":
            return f"ember_ufloordiv_{ct}(a, b)", helper("ufloordiv", ct)
        return f"ember_itruncdiv_{ct}(a, b)", helper("itruncdiv", ct)
    if op == "bitwise_left_shift":
        bits = BITS[ct]
        return f"((b < 0 || b >= {bits}) ? ({ct})0 : ({ct})(a << b))", ""
    if op == "bitwise_right_shift":
        bits = BITS[ct]
        return f"((b < 0 || b >= {bits}) ? ({ct})(a < 0 ? -1 : 0) : ({ct})(a >> b))", ""
    raise KeyError(op)


UNARY = """neg abs sign sqrt rsqrt exp exp2 expm1 log log2 log10 log1p sin cos tan asin acos atan sinh cosh
    tanh asinh acosh atanh sigmoid relu erf erfinv floor ceil trunc reciprocal isnan isinf logical_not
    bitwise_not""".split() + list(special.UNARY)
BINARY = """add sub mul div pow atan2 remainder fmod maximum minimum eq ne lt le gt ge logical_and logical_or
    logical_xor bitwise_and bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift""".split()
BINARY += list(special.BINARY)
BOOL_RESULT = {"isnan", "isinf", "logical_not", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or",
               "logical_xor"}
