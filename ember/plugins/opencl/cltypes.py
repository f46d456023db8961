"""How each ember dtype lives in OpenCL C: storage type, the type arithmetic runs in,
and the load/store expressions (the two 16-bit floats are stored as 16 bits and
computed in float: ``float16`` through the core ``vload_half``/``vstore_half_rte``,
which need no extension, and ``bfloat16`` by shifting its bits into a float and
rounding to nearest even on the way back).
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

BF16 = np.dtype(ml_dtypes.bfloat16)


class CType:
    __slots__ = ("np", "name", "storage", "compute", "kind", "bits", "raw")

    def __init__(self, np_dtype, storage, compute, kind, bits):
        self.np = np.dtype(np_dtype)
        self.name = "bfloat16" if self.np == BF16 else self.np.name
        self.storage = storage      # C type of an element in memory
        self.compute = compute      # C type arithmetic on it runs in
        self.kind = kind            # 'b' bool, 'i' signed, 'u' unsigned, 'f' float
        self.bits = bits
        # the type copies move it as (no arithmetic): half needs cl_khr_fp16 for plain loads
        self.raw = "ushort" if storage == "half" else storage

    def __repr__(self):
        return f"CType({self.name})"


_TABLE = [
    CType(np.bool_, "uchar", "uchar", "b", 8),
    CType(np.uint8, "uchar", "uchar", "u", 8),
    CType(np.int8, "char", "char", "i", 8),
    CType(np.int16, "short", "short", "i", 16),
    CType(np.int32, "int", "int", "i", 32),
    CType(np.int64, "long", "long", "i", 64),
    CType(np.float16, "half", "float", "f", 16),
    CType(BF16, "ushort", "float", "f", 16),
    CType(np.float32, "float", "float", "f", 32),
    CType(np.float64, "double", "double", "f", 64),
    CType(np.uint16, "ushort", "ushort", "u", 16),  # (PyTorch's limited unsigned types: plain C types here)
    CType(np.uint32, "uint", "uint", "u", 32),
    CType(np.uint64, "ulong", "ulong", "u", 64),
]
BY_NP = {c.np: c for c in _TABLE}
BY_NAME = {c.name: c for c in _TABLE}

# numpy dtype of each compute C type (scalar kernel arguments are passed as these)
NP_OF_C = {"uchar": np.uint8, "char": np.int8, "short": np.int16, "int": np.int32, "long": np.int64,
           "float": np.float32, "double": np.float64, "ulong": np.uint64, "uint": np.uint32, "ushort": np.uint16}


def ctype(np_dtype) -> CType:
    return BY_NP[np.dtype(np_dtype)]


def load(c: CType, ptr: str, idx: str) -> str:
    """An expression reading element ``idx`` of ``ptr`` as ``c.compute``."""
    if c.name == "float16":
        return f"vload_half(0, ({ptr}) + ({idx}))"
    if c.name == "bfloat16":
        return f"ember_bf2f(({ptr})[{idx}])"
    return f"({ptr})[{idx}]"


def store(c: CType, ptr: str, idx: str, value: str, value_type: str) -> str:
    """A statement writing ``value`` (of C type ``value_type``) to element ``idx`` of ``ptr``."""
    if c.name == "float16":
        v = value if value_type == "double" else f"(float)({value})"
        return f"vstore_half_rte({v}, 0, ({ptr}) + ({idx}));"
    if c.name == "bfloat16":
        return f"({ptr})[{idx}] = ember_f2bf((float)({value}));"
    if c.kind == "b":
        return f"({ptr})[{idx}] = (uchar)(({value}) != 0);"
    return f"({ptr})[{idx}] = ({c.storage})({value});"


def compute_np(np_dtype):
    """The numpy dtype a scalar of this dtype's compute type is passed as."""
    return NP_OF_C[ctype(np_dtype).compute]


PRELUDE = r"""
inline float ember_bf2f(ushort v) { return as_float(((uint)v) << 16); }
inline ushort ember_f2bf(float f) {
    uint u = as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (ushort)(u >> 16);
}
"""


def header(fp64: bool) -> str:
    ext = "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n" if fp64 else ""
    return ext + PRELUDE
