"""Scalar helpers the generated fused loops (``fusion.py``) call, one per op that is more than
an expression. Imported only by a generated module (so only once numba is wanted).

The helpers are ordinary njit functions: LLVM inlines them into the loop body (the loop of
the issue's chain vectorizes to 8-wide AVX code), and numba's own IR-level inlining
(``inline="always"``) doubled the compile time of a long program for no speed.
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit
from numba.core import types
from numba.extending import intrinsic

from ember.plugins.cpu._loops import erf32

__all__ = ["erf32", "erf64", "exp32", "tanh32", "sigmoid32", "sigmoid64", "gelu32", "gelu64", "gelu_tanh32",
           "gelu_tanh64", "ipow", "maximum", "minimum"]

_FLAGS = {"contract"}
inline = njit(fastmath=_FLAGS, cache=True, error_model="numpy")


@intrinsic
def _bits_to_f32(typingctx, bits):
    """The float32 whose bit pattern is the int32 ``bits`` (a bitcast LLVM can vectorize)."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return sig, codegen


@inline
def _pow2(n):
    # 2**n for int32 n in [-126, 127], built from its exponent bits
    return _bits_to_f32((n + np.int32(127)) << np.int32(23))


# libm's expf is a call LLVM cannot vectorize, and every chain with exp, sigmoid or tanh would
# run one element at a time; this exp is straight-line float32 arithmetic instead.
# exp(x) = 2**n * exp(r), n = round(x / ln 2), r = x - n ln 2 (ln 2 in two parts, so n ln 2 is
# exact), |r| <= ln(2)/2, and exp(r) by its Taylor series to r**7 (truncation below 6e-9,
# a tenth of float32's unit roundoff). 2**n is applied in two halves, so that results in
# the subnormal range and overflow to inf come out as in libm.
@inline
def exp32(x):
    y = np.float32(-104.0) if x < np.float32(-104.0) else (np.float32(89.0) if x > np.float32(89.0) else x)
    # adding 1.5 * 2**23 rounds to an integer in float32 arithmetic (no call to round or floor)
    t = y * np.float32(1.4426950408889634) + np.float32(12582912.0)
    nf = t - np.float32(12582912.0)
    r = y - nf * np.float32(0.693359375)
    r = r - nf * np.float32(-2.1219444005469057e-04)
    p = np.float32(1.0 / 5040.0)
    p = p * r + np.float32(1.0 / 720.0)
    p = p * r + np.float32(1.0 / 120.0)
    p = p * r + np.float32(1.0 / 24.0)
    p = p * r + np.float32(1.0 / 6.0)
    p = p * r + np.float32(0.5)
    p = p * r + np.float32(1.0)
    p = p * r + np.float32(1.0)
    n = np.int32(nf)
    half = n >> np.int32(1)
    out = p * _pow2(half) * _pow2(n - half)
    return x if x != x else out  # NaN in, NaN out


# tanh: odd Taylor series near 0 (where 1 - 2/(e+1) would cancel), through exp32 elsewhere;
# the series to x**15 is within float32 rounding for |x| < 0.5
@inline
def tanh32(x):
    a = abs(x)
    z = x * x
    p = np.float32(-929569.0 / 638512875.0)
    p = p * z + np.float32(21844.0 / 6081075.0)
    p = p * z + np.float32(-1382.0 / 155925.0)
    p = p * z + np.float32(62.0 / 2835.0)
    p = p * z + np.float32(-17.0 / 315.0)
    p = p * z + np.float32(2.0 / 15.0)
    p = p * z + np.float32(-1.0 / 3.0)
    small = x + x * z * p
    big = np.float32(1.0) - np.float32(2.0) / (exp32(a + a) + np.float32(1.0))
    big = -big if x < 0 else big
    return small if a < np.float32(0.5) else big


@inline
def erf64(x):
    return math.erf(x)


@inline
def sigmoid32(x):
    # exp of a non-positive number only (no overflow), as the eager kernel; NaN takes the second branch
    e = exp32(-abs(x))
    return np.float32(1.0) / (np.float32(1.0) + e) if x >= 0 else e / (np.float32(1.0) + e)


@inline
def sigmoid64(x):
    e = math.exp(-abs(x))
    return 1.0 / (1.0 + e) if x >= 0 else e / (1.0 + e)


@inline
def gelu32(x):
    return np.float32(0.5) * x * (np.float32(1.0) + erf32(x * np.float32(0.7071067811865476)))


@inline
def gelu64(x):
    return 0.5 * x * (1.0 + math.erf(x * 0.7071067811865476))


@inline
def gelu_tanh32(x):
    inner = np.float32(0.7978845608028654) * (x + np.float32(0.044715) * (x * x * x))
    return np.float32(0.5) * x * (np.float32(1.0) + tanh32(inner))


@inline
def gelu_tanh64(x):
    inner = 0.7978845608028654 * (x + 0.044715 * (x * x * x))
    return 0.5 * x * (1.0 + math.tanh(inner))


@inline
def ipow(x, y):
    # integer power in int64 (wrapping, as the eager kernel's): a negative exponent gives what
    # PyTorch gives, 1 for a base of 1, +-1 for -1 and 0 for any other base
    if y < 0:
        if x == 1:
            return 1
        if x == -1:
            return -1 if y & 1 else 1
        return 0
    result, base, e = 1, np.int64(x), np.int64(y)
    while e:
        if e & 1:
            result = result * base
        base = base * base
        e >>= 1
    return result


@inline
def maximum(a, b):
    # NaN in either operand gives NaN (numpy's maximum, PyTorch's)
    return a if (a >= b or a != a) else b


@inline
def minimum(a, b):
    return a if (a <= b or a != a) else b
