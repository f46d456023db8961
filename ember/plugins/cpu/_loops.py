"""The numba loops behind ``compiled.py`` (imported only on the first compiled call).

Module-level functions so that numba's ``cache=True`` can store them on disk (next to
this file, or in numba's user cache directory when that is read-only).
"""
import math

import numpy as np
from numba import njit, prange

__all__ = ["erf_f32", "erf_f64", "gelu_f32", "gelu_f64", "sum_rows"]

# reassoc lets sums vectorize and contract allows FMA; no flag that assumes away inf or NaN
_FLAGS = {"reassoc", "contract"}
jit = njit(parallel=True, cache=True, fastmath=_FLAGS, nogil=True)


@njit(inline="always", fastmath=_FLAGS, cache=True)
def erf32(x):
    # Rational minimax fit of erf on [-4, 4] (|erf| rounds to 1 in float32 beyond);
    # a comparison with NaN is false, so NaN passes through unclamped
    x = np.float32(4.0) if x > 4.0 else (np.float32(-4.0) if x < -4.0 else x)
    x2 = x * x
    p = np.float32(-2.72614225801306e-10)
    p = p * x2 + np.float32(2.77068142495902e-08)
    p = p * x2 + np.float32(-2.10102402082508e-06)
    p = p * x2 + np.float32(-5.69250639462346e-05)
    p = p * x2 + np.float32(-7.34990630326855e-04)
    p = p * x2 + np.float32(-2.95459980854025e-03)
    p = p * x2 + np.float32(-1.60960333262415e-02)
    q = np.float32(-1.45660718464996e-05)
    q = q * x2 + np.float32(-2.13374055278905e-04)
    q = q * x2 + np.float32(-1.68282697438203e-03)
    q = q * x2 + np.float32(-7.37332916720468e-03)
    q = q * x2 + np.float32(-1.42647390514189e-02)
    return x * p / q


@jit
def erf_f32(x, out):
    for i in prange(x.size):
        out[i] = erf32(x[i])


@jit
def erf_f64(x, out):
    for i in prange(x.size):
        out[i] = math.erf(x[i])


@jit
def gelu_f32(x, out):
    for i in prange(x.size):
        v = x[i]
        out[i] = np.float32(0.5) * v * (np.float32(1.0) + erf32(v * np.float32(0.7071067811865476)))


@jit
def gelu_f64(x, out):
    for i in prange(x.size):
        v = x[i]
        out[i] = 0.5 * v * (1.0 + math.erf(v * 0.7071067811865476))


# serial on purpose: inside a prange body LLVM no longer vectorizes the inner sum (measured
# 3x slower than this loop on one thread); the row loop runs without the GIL
@njit(cache=True, fastmath=_FLAGS, nogil=True)
def sum_rows(x, out, zero):
    # x: (rows, n) -> out: (rows,) in float64. Blocks of 4096 add in the input's dtype (SIMD
    # lanes; float32 accumulating in float64 does not vectorize), the block sums in float64:
    # more accurate than numpy's float32 pairwise sum on long rows
    rows, n = x.shape
    for r in range(rows):
        total = 0.0
        for start in range(0, n, 4096):
            acc = zero  # of the row's dtype, so the block adds in it
            for k in range(start, min(start + 4096, n)):
                acc += x[r, k]
            total += acc
        out[r] = total
