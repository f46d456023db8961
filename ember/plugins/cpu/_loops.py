"""The numba loops behind ``compiled.py`` (imported only on the first compiled call).

Module-level functions so that numba's ``cache=True`` can store them on disk (next to
this file, or in numba's user cache directory when that is read-only).
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic, overload

__all__ = ["erf_f32", "erf_f64", "gelu_f32", "gelu_f64", "sum_rows", "sum_span", "softmax_rows",
           "log_softmax_rows", "softmax_columns", "exp_into", "extremum_rows", "sum_columns",
           "erf_f32_par", "erf_f64_par", "gelu_f32_par", "gelu_f64_par", "sum_rows_par", "sum_spans_par",
           "softmax_rows_par", "log_softmax_rows_par", "softmax_columns_par", "extremum_rows_par",
           "sum_columns_par", "binary_par"]

# reassoc lets sums vectorize and contract allows FMA; no flag that assumes away inf or NaN
_FLAGS = {"reassoc", "contract"}
# the serial loops that the drivers below run in chunks: error_model="numpy" drops the
# division-by-zero check that keeps LLVM from vectorizing a loop with a division
serial = njit(cache=True, fastmath=_FLAGS, nogil=True, error_model="numpy")


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


# serial, over a span [lo, hi) of flat arrays: the _par drivers run spans on the threads (inline
# in a prange body LLVM does not vectorize erf32's rational function: measured 1.6x slower)
@serial
def erf_f32(x, out, lo, hi):
    xs, ys = x[lo:hi], out[lo:hi]  # sliced: an index from 0 has no wraparound check to stop SIMD
    for i in range(xs.size):
        ys[i] = erf32(xs[i])


@serial
def erf_f64(x, out, lo, hi):
    xs, ys = x[lo:hi], out[lo:hi]
    for i in range(xs.size):
        ys[i] = math.erf(xs[i])


@serial
def gelu_f32(x, out, lo, hi):
    xs, ys = x[lo:hi], out[lo:hi]
    for i in range(xs.size):
        v = xs[i]
        ys[i] = np.float32(0.5) * v * (np.float32(1.0) + erf32(v * np.float32(0.7071067811865476)))


@serial
def gelu_f64(x, out, lo, hi):
    xs, ys = x[lo:hi], out[lo:hi]
    for i in range(xs.size):
        v = xs[i]
        ys[i] = 0.5 * v * (1.0 + math.erf(v * 0.7071067811865476))


@njit(inline="always", fastmath=_FLAGS, cache=True, error_model="numpy")
def sum_blocks(seg, zero):
    """The float64 sum of the 1-d ``seg``: blocks of 4096 add in its dtype (SIMD lanes; float32
    accumulating in float64 does not vectorize), the block sums in float64, which is more
    accurate than numpy's float32 pairwise sum on long rows. Each block is a slice indexed from
    0: a loop over ``range(start, min(start + 4096, n))`` of the whole row measured 2.2x slower
    (numba 0.68: the offset index keeps its wraparound check, and the loop its scalar form)."""
    total = 0.0
    for start in range(0, seg.size, 4096):
        block = seg[start:start + 4096]
        acc = zero  # of the row's dtype, so the block adds in it
        for k in range(block.size):
            acc += block[k]
        total += acc
    return total


# serial on purpose: inside a prange body LLVM no longer vectorizes the inner sum (measured
# 3x slower than this loop on one thread); sum_rows_par runs row ranges on several threads
@serial
def sum_rows(x, out, zero, r0, r1):
    # x: (rows, n) -> out[r0:r1], each row summed in float64 (sum_blocks), rounded to out's dtype once
    for r in range(r0, r1):
        out[r] = sum_blocks(x[r], zero)


@serial
def sum_span(x, out, zero, i, lo, hi):
    # out[i] = the sum of x[lo:hi] (1-d)
    out[i] = sum_blocks(x[lo:hi], zero)


# ---------------------------------------------------------------- exp and row max, vectorizable
# numba's math.exp is a scalar libm call (and numpy's float32 exp is not SIMD on AVX2 here):
# these are Cephes-style range reductions, exp(x) = 2^n * exp(r), |r| <= ln2/2, with the
# 2^n built from exponent bits, so LLVM vectorizes them. NaN passes through, overflow gives
# inf and underflow 0 (through the subnormals: 2^n is applied as two halves).
@intrinsic
def _bits(typingctx, x):
    """The IEEE bits of a float as the signed integer of its width."""
    width = 32 if x == types.float32 else 64
    sig = (types.int32 if width == 32 else types.int64)(x)

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(width))
    return sig, codegen


@intrinsic
def _float(typingctx, i):
    """The float whose IEEE bits are the integer ``i`` (int32 -> float32, int64 -> float64)."""
    sig = (types.float32 if i == types.int32 else types.float64)(i)

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.FloatType() if i == types.int32 else ir.DoubleType())
    return sig, codegen


@njit(inline="always", fastmath=_FLAGS, cache=True)
def _exp32(x):
    # clamped so n stays in range (NaN compares false and lands on 89: restored at the end)
    c = x if x < np.float32(89.0) else np.float32(89.0)
    c = c if c > np.float32(-104.0) else np.float32(-104.0)
    n = np.floor(c * np.float32(1.4426950408889634) + np.float32(0.5))
    r = c - n * np.float32(0.693359375)            # ln2 in two parts: exact n * hi
    r = r - n * np.float32(-2.12194440e-4)
    p = np.float32(1.9875691500e-4)
    p = p * r + np.float32(1.3981999507e-3)
    p = p * r + np.float32(8.3334519073e-3)
    p = p * r + np.float32(4.1665795894e-2)
    p = p * r + np.float32(1.6666665459e-1)
    p = p * r + np.float32(5.0000001201e-1)
    p = p * r * r + r + np.float32(1.0)
    k = np.int32(n)
    h = np.int32(k >> np.int32(1))
    p = p * _float(np.int32((h + np.int32(127)) << np.int32(23)))
    p = p * _float(np.int32((k - h + np.int32(127)) << np.int32(23)))
    return p if x == x else x


@njit(inline="always", fastmath=_FLAGS, cache=True)
def _exp64(x):
    c = x if x < 710.0 else 710.0
    c = c if c > -746.0 else -746.0
    n = np.floor(c * 1.4426950408889634 + 0.5)
    r = c - n * 6.93145751953125e-1
    r = r - n * 1.42860682030941723212e-6
    rr = r * r
    p = r * ((1.26177193074810590878e-4 * rr + 3.02994407707441961300e-2) * rr + 9.99999999999999999910e-1)
    q = ((3.00198505138664455042e-6 * rr + 2.52448340349684104192e-3) * rr + 2.27265548208155028766e-1) * rr \
        + 2.00000000000000000009e0
    e = 1.0 + 2.0 * p / (q - p)
    # 2^h as bits without a float -> int64 conversion (AVX2 has none, and it stops
    # vectorization): n + 2^52 + 1023 holds n + 1023 in its low mantissa bits
    h = np.floor(n * 0.5)
    e = e * _float(_bits(h + 4503599627371519.0) << np.int64(52))
    e = e * _float(_bits(n - h + 4503599627371519.0) << np.int64(52))
    return e if x == x else x


def _exp(x):
    """exp of a float32 or float64 scalar, vectorizable (resolved at compile time by type)."""


@overload(_exp, inline="always")
def _exp_typed(x):
    return (lambda x: _exp32(x)) if x == types.float32 else (lambda x: _exp64(x))


def _row_max(row):
    """The largest element of a 1-d float row, vectorized; a NaN gives an unspecified element."""


@overload(_row_max)
def _row_max_typed(row):
    # A float compare-select max does not vectorize without assuming no NaN; the IEEE bits
    # mapped to integers of the same order (negative floats: magnitude bits flipped) do.
    # Callers that need NaN to win check for it themselves (softmax does not: a NaN makes
    # the row's exp sum NaN whatever the max is).
    if row.dtype == types.float32:
        def impl(row):
            m = np.int32(-2147483648)
            for k in range(row.size):
                i = _bits(row[k])
                key = np.int32(i ^ np.int32(np.int32(i >> np.int32(31)) & np.int32(0x7fffffff)))
                m = key if key > m else m
            return _float(np.int32(m ^ np.int32(np.int32(m >> np.int32(31)) & np.int32(0x7fffffff))))
    else:
        def impl(row):
            m = np.int64(-9223372036854775808)
            for k in range(row.size):
                i = _bits(row[k])
                key = np.int64(i ^ ((i >> np.int64(63)) & np.int64(0x7fffffffffffffff)))
                m = key if key > m else m
            return _float(np.int64(m ^ ((m >> np.int64(63)) & np.int64(0x7fffffffffffffff))))
    return impl


@serial
def exp_into(x, out, r0, r1):
    """out[i] = exp(x[i]) for i in [r0, r1) of 1-d arrays."""
    src, dst = x[r0:r1], out[r0:r1]  # indexed from 0: no wraparound check (see sum_span)
    for i in range(src.size):
        dst[i] = _exp(src[i])


# The exp sums add blocks of 1024 in the row's dtype (SIMD lanes), the block sums in float64,
# as sum_blocks does: long float32 rows keep float64-like accuracy. Blocks are slices indexed
# from 0, for the reason sum_blocks gives (softmax over 256x1024: 579 -> 220 us on one thread).
@serial
def _exp_sum(row, o, m):
    total = 0.0
    for start in range(0, row.size, 1024):
        src, dst = row[start:start + 1024], o[start:start + 1024]
        acc = o.dtype.type(0)
        for k in range(src.size):
            e = _exp(src[k] - m)
            dst[k] = e
            acc += e
        total += acc
    return total


@serial
def _exp_shifted_sum(row, m):
    total = 0.0
    for start in range(0, row.size, 1024):
        src = row[start:start + 1024]
        acc = row.dtype.type(0)
        for k in range(src.size):
            acc += _exp(src[k] - m)
        total += acc
    return total


@serial
def softmax_rows(x, out, r0, r1):
    """Softmax of rows r0..r1 of the 2-d ``x`` into ``out``: exp(x - max) / sum.

    A row with NaN or +inf, or with every element -inf, comes out NaN (inf - inf), as in
    PyTorch."""
    for r in range(r0, r1):
        row, o = x[r], out[r]
        c = o.dtype.type(1.0 / _exp_sum(row, o, _row_max(row)))
        for k in range(o.size):
            o[k] = o[k] * c


@serial
def log_softmax_rows(x, out, r0, r1):
    """Log-softmax of rows r0..r1 of the 2-d ``x`` into ``out``: x - max - log(sum exp(x - max))."""
    for r in range(r0, r1):
        row, o = x[r], out[r]
        m = _row_max(row)
        shift = row.dtype.type(m + math.log(_exp_shifted_sum(row, m)))
        for k in range(o.size):
            o[k] = row[k] - shift


@serial
def softmax_columns(x, out, o0, o1, k0, k1, log):
    """(Log-)softmax over the middle dim of the 3-d ``x`` (outer, n, inner) into ``out``, for
    outer rows o0..o1 and inner columns k0..k1: every step runs along a contiguous inner
    row, so it vectorizes without a transposed copy (numpy's is slower than the softmax)."""
    n = x.shape[1]
    width = k1 - k0
    m = np.empty(width, x.dtype)
    total = np.empty(width, np.float64)
    for o in range(o0, o1):
        m[:] = -np.inf
        total[:] = 0.0
        for j in range(n):
            row = x[o, j, k0:k1]
            for k in range(width):
                v = row[k]
                m[k] = v if v > m[k] else m[k]   # elementwise: NaN is caught by the sum below
        for j in range(n):
            row, dst = x[o, j, k0:k1], out[o, j, k0:k1]
            for k in range(width):
                dst[k] = _exp(row[k] - m[k])  # log-softmax overwrites these below
            for k in range(width):
                total[k] += dst[k]
        if log:
            for k in range(width):
                m[k] = m[k] + math.log(total[k])
            for j in range(n):
                row, dst = x[o, j, k0:k1], out[o, j, k0:k1]
                for k in range(width):
                    dst[k] = row[k] - m[k]
        else:
            for k in range(width):
                m[k] = 1.0 / total[k]
            for j in range(n):
                dst = out[o, j, k0:k1]
                for k in range(width):
                    dst[k] = dst[k] * m[k]


def _key(v):
    """The order-preserving integer key of a float's bits (negative floats: magnitude flipped)."""


@overload(_key, inline="always")
def _key_typed(v):
    if v == types.float32:
        return lambda v: np.int32(_bits(v) ^ np.int32(np.int32(_bits(v) >> np.int32(31)) & np.int32(0x7fffffff)))
    return lambda v: np.int64(_bits(v) ^ ((_bits(v) >> np.int64(63)) & np.int64(0x7fffffffffffffff)))


def _unkey(k):
    """The float whose ``_key`` is ``k``."""


@overload(_unkey, inline="always")
def _unkey_typed(k):
    if k == types.int32:
        return lambda k: _float(np.int32(k ^ np.int32(np.int32(k >> np.int32(31)) & np.int32(0x7fffffff))))
    return lambda k: _float(np.int64(k ^ ((k >> np.int64(63)) & np.int64(0x7fffffffffffffff))))


@serial
def extremum_rows(x, out, largest, r0, r1):
    """out[r] = the max (``largest``) or min of row r of the 2-d ``x``, NaN if the row has one.

    The extremum runs on the integer keys (vectorized); ``v * 0`` summed alongside is NaN
    exactly when the row holds a NaN or an infinity, and only then is the row checked for NaN."""
    n = x.shape[1]
    for r in range(r0, r1):
        row = x[r]
        probe = row.dtype.type(0)
        if largest:
            m = _key(row.dtype.type(-np.inf))
            for k in range(n):
                key = _key(row[k])
                m = key if key > m else m
                probe += row[k] * row.dtype.type(0)
        else:
            m = _key(row.dtype.type(np.inf))
            for k in range(n):
                key = _key(row[k])
                m = key if key < m else m
                probe += row[k] * row.dtype.type(0)
        value = _unkey(m)
        if probe != probe:
            for k in range(n):
                if row[k] != row[k]:
                    value = row[k]
                    break
        out[r] = value


@serial
def sum_columns(x, out, o0, o1, k0, k1):
    """out[o, k] = the sum over the middle dim of the 3-d ``x`` (outer, n, inner), for outer
    rows o0..o1 and inner columns k0..k1, accumulated in float64 along contiguous inner rows
    (vectorized; numpy's own kernel is one thread, and slow on a column slice)."""
    n = x.shape[1]
    width = k1 - k0
    acc = np.empty(width, np.float64)
    for o in range(o0, o1):
        acc[:] = 0.0
        for j in range(n):
            row = x[o, j, k0:k1]
            for k in range(width):
                acc[k] += row[k]
        dst = out[o, k0:k1]
        for k in range(width):
            dst[k] = acc[k]


# ---------------------------------------------------------------- the parallel drivers
# Each runs one serial loop above over ``chunks`` equal ranges in a ``prange``. The serial
# loop stays a function of its own, so LLVM vectorizes it as on one thread (a loop written
# inline in a prange body does not vectorize). numba's OpenMP layer, where present, wakes its
# spinning threads in microseconds; a Python thread pool's wake-up (a futex, then the GIL)
# measured ~100 us here, more than a 1M-element row sum takes on one core.
driver = njit(parallel=True, cache=True, nogil=True)


@driver
def erf_f32_par(x, out, chunks):
    n = x.size
    for c in prange(chunks):
        erf_f32(x, out, n * c // chunks, n * (c + 1) // chunks)


@driver
def erf_f64_par(x, out, chunks):
    n = x.size
    for c in prange(chunks):
        erf_f64(x, out, n * c // chunks, n * (c + 1) // chunks)


@driver
def gelu_f32_par(x, out, chunks):
    n = x.size
    for c in prange(chunks):
        gelu_f32(x, out, n * c // chunks, n * (c + 1) // chunks)


@driver
def gelu_f64_par(x, out, chunks):
    n = x.size
    for c in prange(chunks):
        gelu_f64(x, out, n * c // chunks, n * (c + 1) // chunks)


@driver
def sum_rows_par(x, out, zero, chunks):
    rows = x.shape[0]
    for c in prange(chunks):
        sum_rows(x, out, zero, rows * c // chunks, rows * (c + 1) // chunks)


@driver
def sum_spans_par(x, out, zero, chunks):
    # out[c] = the sum of the c-th of ``chunks`` equal spans of the 1-d x
    n = x.size
    for c in prange(chunks):
        sum_span(x, out, zero, c, n * c // chunks, n * (c + 1) // chunks)


@driver
def softmax_rows_par(x, out, chunks):
    rows = x.shape[0]
    for c in prange(chunks):
        softmax_rows(x, out, rows * c // chunks, rows * (c + 1) // chunks)


@driver
def log_softmax_rows_par(x, out, chunks):
    rows = x.shape[0]
    for c in prange(chunks):
        log_softmax_rows(x, out, rows * c // chunks, rows * (c + 1) // chunks)


@driver
def extremum_rows_par(x, out, largest, chunks):
    rows = x.shape[0]
    for c in prange(chunks):
        extremum_rows(x, out, largest, rows * c // chunks, rows * (c + 1) // chunks)


@driver
def softmax_columns_par(x, out, log, by_inner, chunks):
    # chunks of the outer dim, or (``by_inner``: too few outer rows) of the inner columns
    outer, inner = x.shape[0], x.shape[2]
    for c in prange(chunks):
        if by_inner:
            softmax_columns(x, out, 0, outer, inner * c // chunks, inner * (c + 1) // chunks, log)
        else:
            softmax_columns(x, out, outer * c // chunks, outer * (c + 1) // chunks, 0, inner, log)


@driver
def sum_columns_par(x, out, by_inner, chunks):
    outer, inner = x.shape[0], x.shape[2]
    for c in prange(chunks):
        if by_inner:
            sum_columns(x, out, 0, outer, inner * c // chunks, inner * (c + 1) // chunks)
        else:
            sum_columns(x, out, outer * c // chunks, outer * (c + 1) // chunks, 0, inner)


# ---------------------------------------------------------------- add, sub, mul, div
# Same-shape contiguous float operands: numpy runs these on one thread; one IEEE operation per
# element, so the result is numpy's bit for bit (division by zero gives inf/nan, no warning).
# A write into an operand (``a * b + c`` adds into the product) has a loop over two arrays of
# its own: with three, one of them the output, LLVM's overlap check fails and the loop runs
# unvectorized (measured 2x slower).
@serial
def _apply(a, b, o, op):
    if op == 0:
        for i in range(a.size):
            o[i] = a[i] + b[i]
    elif op == 1:
        for i in range(a.size):
            o[i] = a[i] - b[i]
    elif op == 2:
        for i in range(a.size):
            o[i] = a[i] * b[i]
    else:
        for i in range(a.size):
            o[i] = a[i] / b[i]


@serial
def _apply_into_first(a, b, op):
    if op == 0:
        for i in range(a.size):
            a[i] = a[i] + b[i]
    elif op == 1:
        for i in range(a.size):
            a[i] = a[i] - b[i]
    elif op == 2:
        for i in range(a.size):
            a[i] = a[i] * b[i]
    else:
        for i in range(a.size):
            a[i] = a[i] / b[i]


@serial
def _apply_into_second(a, b, op):
    if op == 0:
        for i in range(a.size):
            b[i] = a[i] + b[i]
    elif op == 1:
        for i in range(a.size):
            b[i] = a[i] - b[i]
    elif op == 2:
        for i in range(a.size):
            b[i] = a[i] * b[i]
    else:
        for i in range(a.size):
            b[i] = a[i] / b[i]


@serial
def binary_span(x, y, out, op, into, lo, hi):
    """out[lo:hi] = x op y (op 0-3: add, sub, mul, div); ``into`` 1: out is x, 2: out is y."""
    a, b = x[lo:hi], y[lo:hi]  # indexed from 0: no wraparound check (see sum_span)
    if into == 1:
        _apply_into_first(a, b, op)
    elif into == 2:
        _apply_into_second(a, b, op)
    else:
        _apply(a, b, out[lo:hi], op)


@driver
def binary_par(x, y, out, op, into, chunks):
    n = x.size
    for c in prange(chunks):
        binary_span(x, y, out, op, into, n * c // chunks, n * (c + 1) // chunks)
