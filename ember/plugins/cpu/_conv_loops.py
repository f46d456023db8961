"""The numba loops behind ``conv.py``: im2col, im2row, col2im and 2x2 max pooling (imported
only on the first compiled conv or pool call, never by ``import ember``).

Arrays come flattened, with their 4-d (N, C, H, W) sizes beside them (a 1-d conv or pool is
the 2-d one with H = 1), and are indexed through unsigned offsets: with signed indices numba
adds a negative-index check to every access and the copies run 3x slower. Padding is
handled by bounds, so no padded copy of the input is made (conv only: the pooling loop
takes windows inside the input).

Each loop is serial and runs a range [start, stop) of its outer index (samples, rows or
planes); its ``_par`` driver runs it over one range per thread in a ``prange`` (the loop
stays a function of its own, so it is compiled exactly as on one thread). No two ranges
write the same element, so nothing here needs atomics. Module-level functions so that
numba's ``cache=True`` can store them on disk (a driver's parallel compile takes about a
second, once).
"""
import numpy as np
from numba import njit, prange

__all__ = ["im2col", "im2row", "col2im", "max_pool2x2", "max_pool_scatter", "conv_samples", "conv_transpose_samples",
           "conv_channels", "conv_samples_par", "conv_transpose_samples_par", "conv_channels_par",
           "max_pool2x2_par", "max_pool_scatter_par"]

# no fast-math flag at all: these loops move data and add in a fixed order, and the pooling
# comparisons must see NaN as NaN
jit = njit(cache=True, nogil=True)
u = np.uint64


@njit(inline="always", cache=True)
def _valid_range(size, count, start, step):
    """[lo, hi): the k in [0, count) whose position start + k * step lies in [0, size).

    Stepped rather than divided: only the positions in the padding are stepped over (a few),
    and an integer division costs tens of cycles."""
    lo = 0
    while lo < count and start + lo * step < 0:
        lo += 1
    hi = count
    while hi > lo and start + (hi - 1) * step >= size:
        hi -= 1
    return lo, hi


@jit
def im2col(x, n_, c_, h_, w_, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, ones, cols, start, stop):
    """cols[n, (c, i, j), (y, z)] = x[n, c, y*sh - ph + i*dh, z*sw - pw + j*dw] (0 outside x):
    per sample the (C*kh*kw [+ 1], oh*ow) right operand of the forward GEMM, so that one
    batched matmul writes the (N, O, L) output directly; with ``ones`` a last row of ones,
    which a bias column of the weight turns into the bias (no pass over the output)."""
    zero = cols.dtype.type(0)
    rows = c_ * kh * kw
    height = rows + 1 if ones else rows
    length = oh * ow
    for q in range(start * rows, stop * rows):  # the samples [start, stop)
        n = q // rows
        r = q % rows
        c = r // (kh * kw)
        i = (r // kw) % kh
        j = r % kw
        x0 = j * dw - pw
        lo, hi = _valid_range(w_, ow, x0, sw)
        row = (n * height + r) * length
        for y in range(oh):
            base = row + y * ow
            iy = y * sh - ph + i * dh
            if iy < 0 or iy >= h_:
                for z in range(ow):
                    cols[u(base + z)] = zero
                continue
            src = ((n * c_ + c) * h_ + iy) * w_ + x0
            for z in range(lo):
                cols[u(base + z)] = zero
            if sw == 1:  # the usual case, contiguous: a loop LLVM vectorizes
                for z in range(lo, hi):
                    cols[u(base + z)] = x[u(src + z)]
            else:
                for z in range(lo, hi):
                    cols[u(base + z)] = x[u(src + z * sw)]
            for z in range(hi, ow):
                cols[u(base + z)] = zero
        if ones and r == 0:
            last = (n * height + rows) * length
            for k in range(length):
                cols[u(last + k)] = 1


@jit
def conv_samples(x, geometry, ones, weight, cols, out, start, stop):
    """out[n] = weight @ im2col(x[n]) for the samples [start, stop) of the flat input: one
    sample's (C*K [+ 1], L) columns at a time in ``cols``, which then stays in cache for its
    GEMM (numba's np.dot: one BLAS call, held to one thread by the caller), instead of every
    sample's columns built first and read back from memory."""
    n_, c_, h_, w_, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow = geometry
    per = c_ * h_ * w_
    flat = cols.reshape(-1)
    for n in range(start, stop):
        im2col(x[n * per:(n + 1) * per], 1, c_, h_, w_, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, ones, flat, 0, 1)
        np.dot(weight, cols, out[n])


@jit
def im2row(x, n_, c_, h_, w_, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, c0, c1, rows, start, stop):
    """rows[(n, y, z), (c - c0, i, j)] = x[n, c, y*sh - ph + i*dh, z*sw - pw + j*dw] (0 outside
    x) for the channels c in [c0, c1): the (N*oh*ow, (c1 - c0)*kh*kw) left operand of the GEMM
    when the kernel is larger than the output (conv's weight gradient, whose "kernel" is the
    output gradient and whose channels are the batch); the inner loop runs along the kernel's
    rows, the longer ones."""
    zero = rows.dtype.type(0)
    width = (c1 - c0) * kh * kw
    for r in range(start, stop):  # rows [start, stop) of N*oh*ow
        n = r // (oh * ow)
        y = (r // ow) % oh
        z = r % ow
        x0 = z * sw - pw
        lo, hi = _valid_range(w_, kw, x0, dw)
        for c in range(c0, c1):
            for i in range(kh):
                base = r * width + ((c - c0) * kh + i) * kw
                iy = y * sh - ph + i * dh
                if iy < 0 or iy >= h_:
                    for j in range(kw):
                        rows[u(base + j)] = zero
                    continue
                src = ((n * c_ + c) * h_ + iy) * w_ + x0
                for j in range(lo):
                    rows[u(base + j)] = zero
                if dw == 1:
                    for j in range(lo, hi):
                        rows[u(base + j)] = x[u(src + j)]
                else:
                    for j in range(lo, hi):
                        rows[u(base + j)] = x[u(src + j * dw)]
                for j in range(hi, kw):
                    rows[u(base + j)] = zero


@jit
def conv_channels(x, geometry, w2t, scratch, partial, c0, c1):
    """partial = im2row(x, channels [c0, c1)) @ w2t[c0*K:c1*K]: the share of a large-kernel conv
    (conv's weight gradient) that those channels (the batch's samples) contribute."""
    n_, c_, h_, w_, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow = geometry
    kk = kh * kw
    height = n_ * oh * ow
    rows = scratch[:height * (c1 - c0) * kk].reshape((height, (c1 - c0) * kk))
    im2row(x, n_, c_, h_, w_, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, c0, c1, rows.reshape(-1), 0, height)
    np.dot(rows, w2t[c0 * kk:c1 * kk], partial)


@jit
def col2im(cols, n_, h_, w_, c_, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, bias, out, start, stop):
    """out[n, c, y*sh - ph + i*dh, z*sw - pw + j*dw] += cols[(c, i, j), (n, y, z)] over the
    positions inside out (N, C, oh, ow), which starts from bias[c] (0 for an empty bias):
    the transposed conv's scatter, over output planes (no two chunks share one)."""
    length = n_ * h_ * w_
    for q in range(start, stop):  # output planes [start, stop) of N*C
        n = q // c_
        c = q % c_
        b = bias[c] if bias.size else out.dtype.type(0)
        plane = q * oh * ow
        for k in range(oh * ow):
            out[u(plane + k)] = b
        for i in range(kh):
            for j in range(kw):
                r = (c * kh + i) * kw + j
                x0 = j * dw - pw
                lo, hi = _valid_range(ow, w_, x0, sw)
                for y in range(h_):
                    oy = y * sh - ph + i * dh
                    if oy < 0 or oy >= oh:
                        continue
                    src = r * length + (n * h_ + y) * w_
                    dst = plane + oy * ow + x0
                    if sw == 1:
                        for z in range(lo, hi):
                            out[u(dst + z)] += cols[u(src + z)]
                    else:
                        for z in range(lo, hi):
                            out[u(dst + z * sw)] += cols[u(src + z)]


@jit
def conv_transpose_samples(x, wt, geometry, bias, cols, out, start, stop):
    """out[n] = col2im(wt @ x[n]) for the samples [start, stop): x (N, C_in, H*W), wt
    (C_out*K, C_in), out (N, C_out*oh*ow); one sample's (C_out*K, H*W) columns at a time in
    ``cols``, scattered while still in cache (the transposed conv's GEMM is per sample too,
    as conv_samples's is)."""
    h_, w_, c_, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw = geometry
    flat = cols.reshape(-1)
    for n in range(start, stop):
        np.dot(wt, x[n], cols)
        col2im(flat, 1, h_, w_, c_, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, bias, out[n], 0, c_)


@jit
def max_pool2x2(x, h_, w_, sh, sw, oh, ow, values, indices, start, stop):
    """2x2 max pooling, windows inside the input (no padding, no dilation), row-major window
    order: the first maximum, or the first NaN when the window holds one (its value is then
    NaN); indices are row-major positions in the input plane. Unrolled: with loops over a
    runtime 2x2 window (and the generic bounds) the pass runs 3x slower."""
    for p in range(start, stop):  # planes [start, stop)
        src = p * h_ * w_
        dst = p * oh * ow
        for y in range(oh):
            for z in range(ow):
                at = y * sh * w_ + z * sw
                a = x[u(src + at)]
                b = x[u(src + at + 1)]
                c = x[u(src + at + w_)]
                d = x[u(src + at + w_ + 1)]
                best, where = a, at
                if b > best:
                    best, where = b, at + 1
                if c > best:
                    best, where = c, at + w_
                if d > best:
                    best, where = d, at + w_ + 1
                if best != best or b != b or c != c or d != d:  # rare: the first NaN wins
                    if a != a:
                        best, where = a, at
                    elif b != b:
                        best, where = b, at + 1
                    elif c != c:
                        best, where = c, at + w_
                    else:
                        best, where = d, at + w_ + 1
                values[u(dst + y * ow + z)] = best
                indices[u(dst + y * ow + z)] = where


@jit
def max_pool_scatter(g, indices, plane_in, plane_out, out, start, stop):
    """max_pool's input gradient: out[p, indices[p, k]] += g[p, k], out (planes, plane_in)
    zeroed first; an index outside the plane adds nothing. Parallel over planes, so the adds
    of overlapping windows into one plane stay in one thread."""
    zero = out.dtype.type(0)
    for p in range(start, stop):  # planes [start, stop)
        dst = p * plane_in
        for k in range(plane_in):
            out[u(dst + k)] = zero
        src = p * plane_out
        for k in range(plane_out):
            i = indices[u(src + k)]
            if i >= 0 and i < plane_in:
                out[u(dst + i)] += g[u(src + k)]


# ---------------------------------------------------------------- the parallel drivers
# driver(args, total, chunks) runs loop(*args, start, stop) over ``chunks`` equal ranges of [0, total)
driver = njit(parallel=True, cache=True, nogil=True)


@driver
def max_pool2x2_par(args, total, chunks):
    for c in prange(chunks):
        max_pool2x2(*args, total * c // chunks, total * (c + 1) // chunks)


@driver
def max_pool_scatter_par(args, total, chunks):
    for c in prange(chunks):
        max_pool_scatter(*args, total * c // chunks, total * (c + 1) // chunks)


@driver
def conv_samples_par(x, geometry, ones, weight, scratch, out, chunks):
    # one chunk of samples per thread, each with its own columns scratch[c]: the GEMMs run on
    # these threads too, so BLAS's pool and numba's never compete for the cores
    total = out.shape[0]
    for c in prange(chunks):
        conv_samples(x, geometry, ones, weight, scratch[c], out, total * c // chunks, total * (c + 1) // chunks)


@driver
def conv_transpose_samples_par(x, wt, geometry, bias, scratch, out, chunks):
    total = out.shape[0]
    for c in prange(chunks):
        conv_transpose_samples(x, wt, geometry, bias, scratch[c], out, total * c // chunks, total * (c + 1) // chunks)


@driver
def conv_channels_par(x, geometry, w2t, scratch, partials, chunks):
    # the channels (the batch of a weight gradient) split over the threads, each with its own
    # rows and partial product, summed by the caller
    c_ = geometry[1]
    for t in prange(chunks):
        conv_channels(x, geometry, w2t, scratch[t], partials[t], c_ * t // chunks, c_ * (t + 1) // chunks)
