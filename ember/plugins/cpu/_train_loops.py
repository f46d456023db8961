"""The numba loops behind ``training.py``: optimizer updates and layer_norm, one pass each.

Imported only on the first call that needs them (``training._loops``), never by
``import ember``. Module-level functions so that numba's ``cache=True`` stores them on disk.
Every loop has a serial and a ``prange`` twin: entering a parallel region costs several
microseconds, which small parameters (biases) never win back.

Floating-point contract as in ``_loops.py``: only ``reassoc`` and ``contract``; inf and NaN
propagate as in the numpy reference kernels.
"""
import numpy as np
from numba import njit, prange

from ember.plugins.cpu._loops import sum_blocks

__all__ = ["adam_serial", "adam_parallel", "adam_amsgrad_serial", "adam_amsgrad_parallel", "sgd_serial", "sgd_parallel",
           "layer_norm_fwd_serial", "layer_norm_fwd_parallel",
           "layer_norm_bwd_serial", "layer_norm_bwd_parallel", "relu_backward_serial"]

_FLAGS = {"reassoc", "contract"}
# error_model="numpy": a float division by zero gives inf/nan, as numpy (and PyTorch) do, instead of
# a checked ZeroDivisionError, whose branch stops LLVM from vectorizing the loops (measured 8x)
_inline = njit(inline="always", fastmath=_FLAGS, cache=True, error_model="numpy")
_serial = njit(cache=True, fastmath=_FLAGS, nogil=True, error_model="numpy")
_parallel = njit(cache=True, fastmath=_FLAGS, nogil=True, error_model="numpy", parallel=True)

# The scalars come in the arrays' dtype, so that float32 arrays compute in float32 lanes as the
# numpy reference kernel does (a float64 scalar would widen every element and halve the lanes).


@_inline
def _adam_moments(i, p, g, m, v, one_minus_beta1, beta2, one_minus_beta2, l2, decay, sign):
    # the moment updates of ember.optim.Adam for element i -> (decayed p, new m, new v). sign (-1 to
    # maximize, else 1) and decay (1 - lr * weight_decay when decoupled, else 1) multiply exactly:
    # fewer branches, so that LLVM still vectorizes
    grad = g[i] * sign
    w = p[i] * decay
    if l2 != 0:
        grad = grad + l2 * w
    mi = m[i] + one_minus_beta1 * (grad - m[i])
    vi = v[i] * beta2 + one_minus_beta2 * (grad * grad)
    m[i] = mi
    v[i] = vi
    return w, mi, vi


# Without amsgrad the loop touches four arrays: few enough pairs for LLVM's runtime alias checks,
# so it vectorizes (a fifth array, max_exp_avg_sq, makes it scalar: the amsgrad loops are apart)
@_inline
def _adam_one(i, p, g, m, v, one_minus_beta1, beta2, one_minus_beta2, eps, l2, decay, step_size, bc2_sqrt,
              sign):
    w, mi, vi = _adam_moments(i, p, g, m, v, one_minus_beta1, beta2, one_minus_beta2, l2, decay, sign)
    p[i] = w - step_size * (mi / (np.sqrt(vi) / bc2_sqrt + eps))


@_inline
def _adam_amsgrad_one(i, p, g, m, v, vmax, one_minus_beta1, beta2, one_minus_beta2, eps, l2, decay, step_size,
                      bc2_sqrt, sign):
    w, mi, vi = _adam_moments(i, p, g, m, v, one_minus_beta1, beta2, one_minus_beta2, l2, decay, sign)
    previous = vmax[i]
    second = vi if (vi != vi or vi > previous) else previous  # np.maximum's rule: a NaN on either side wins
    vmax[i] = second
    p[i] = w - step_size * (mi / (np.sqrt(second) / bc2_sqrt + eps))


# s: the scalars in the arrays' dtype: 1 - beta1, beta2, 1 - beta2, eps, the L2 coefficient, the
# decoupled decay factor, the step size, sqrt(bias correction 2), the sign of the gradient
@_serial
def adam_serial(p, g, m, v, s):
    a, b, c, eps, l2, decay, step_size, bc2, sign = s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]
    for i in range(p.size):
        _adam_one(i, p, g, m, v, a, b, c, eps, l2, decay, step_size, bc2, sign)


@_parallel
def adam_parallel(p, g, m, v, s):
    a, b, c, eps, l2, decay, step_size, bc2, sign = s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]
    for i in prange(p.size):
        _adam_one(i, p, g, m, v, a, b, c, eps, l2, decay, step_size, bc2, sign)


@_serial
def adam_amsgrad_serial(p, g, m, v, vmax, s):
    a, b, c, eps, l2, decay, step_size, bc2, sign = s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]
    for i in range(p.size):
        _adam_amsgrad_one(i, p, g, m, v, vmax, a, b, c, eps, l2, decay, step_size, bc2, sign)


@_parallel
def adam_amsgrad_parallel(p, g, m, v, vmax, s):
    a, b, c, eps, l2, decay, step_size, bc2, sign = s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]
    for i in prange(p.size):
        _adam_amsgrad_one(i, p, g, m, v, vmax, a, b, c, eps, l2, decay, step_size, bc2, sign)


@_inline
def _sgd_one(i, p, g, buf, lr, momentum, one_minus_dampening, l2, sign, nesterov, first):
    # the update of ember.optim.SGD for element i (momentum != 0 when buf is a real buffer)
    grad = g[i] * sign
    if l2 != 0:
        grad = grad + l2 * p[i]
    if momentum != 0:
        b = grad if first else buf[i] * momentum + one_minus_dampening * grad
        buf[i] = b
        grad = grad + momentum * b if nesterov else b
    p[i] = p[i] - lr * grad


# s: the scalars in the arrays' dtype: lr, momentum, 1 - dampening, weight_decay, the gradient's sign
@_serial
def sgd_serial(p, g, buf, s, nesterov, first):
    lr, momentum, one_minus_dampening, l2, sign = s[0], s[1], s[2], s[3], s[4]
    for i in range(p.size):
        _sgd_one(i, p, g, buf, lr, momentum, one_minus_dampening, l2, sign, nesterov, first)


@_parallel
def sgd_parallel(p, g, buf, s, nesterov, first):
    lr, momentum, one_minus_dampening, l2, sign = s[0], s[1], s[2], s[3], s[4]
    for i in prange(p.size):
        _sgd_one(i, p, g, buf, lr, momentum, one_minus_dampening, l2, sign, nesterov, first)


@_inline
def _ln_fwd_row(r, x, w, b, y, mean, rstd, eps, has_w, has_b, zero):
    # the mean first, then the centred squares (no cancellation), then one pass writing y. Rows
    # and blocks are slices indexed from 0 (see _loops.sum_blocks: offset indices do not vectorize)
    row, out = x[r], y[r]
    n = row.size
    mean[r] = sum_blocks(row, zero) / n
    m = mean[r]  # in the row's dtype, so that the passes below stay in its SIMD lanes
    total = 0.0
    for start in range(0, n, 1024):
        block = row[start:start + 1024]
        acc = zero
        for k in range(block.size):
            d = block[k] - m
            acc += d * d
        total += acc
    rstd[r] = 1.0 / np.sqrt(total / n + eps)
    inv = rstd[r]
    for k in range(n):
        v = (row[k] - m) * inv
        if has_w:
            v = v * w[k]
        if has_b:
            v = v + b[k]
        out[k] = v


@_serial
def layer_norm_fwd_serial(x, w, b, y, mean, rstd, eps, has_w, has_b, zero):
    for r in range(x.shape[0]):
        _ln_fwd_row(r, x, w, b, y, mean, rstd, eps, has_w, has_b, zero)


@_parallel
def layer_norm_fwd_parallel(x, w, b, y, mean, rstd, eps, has_w, has_b, zero):
    for r in prange(x.shape[0]):
        _ln_fwd_row(r, x, w, b, y, mean, rstd, eps, has_w, has_b, zero)


@_inline
def _ln_bwd_rows(c, chunks, x, g, w, mean, rstd, gx, dw, db, has_w, need_gx, zero):
    # rows of chunk c: grad_x = rstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat)) with
    # gxhat = g * w, and this chunk's partial column sums of g * xhat (weight) and g (bias). All
    # in the arrays' dtype (SIMD lanes); the caller keeps chunks short and adds them in float64
    rows, n = x.shape
    lo = c * rows // chunks
    hi = (c + 1) * rows // chunks
    dwc, dbc = dw[c], db[c]
    for r in range(lo, hi):
        mu = mean[r]
        inv = rstd[r]
        xr, gr = x[r], g[r]
        s1 = zero
        s2 = zero
        for k in range(n):
            xh = (xr[k] - mu) * inv
            gk = gr[k]
            dwc[k] += gk * xh
            dbc[k] += gk
            gh = gk * w[k] if has_w else gk
            s1 += gh
            s2 += gh * xh
        if need_gx:
            s1 /= n
            s2 /= n
            gxr = gx[r]
            for k in range(n):
                gh = gr[k] * w[k] if has_w else gr[k]
                gxr[k] = inv * (gh - s1 - ((xr[k] - mu) * inv) * s2)


@_serial
def layer_norm_bwd_serial(x, g, w, mean, rstd, gx, dw, db, has_w, need_gx, zero):
    chunks = dw.shape[0]
    for c in range(chunks):
        _ln_bwd_rows(c, chunks, x, g, w, mean, rstd, gx, dw, db, has_w, need_gx, zero)


@_parallel
def layer_norm_bwd_parallel(x, g, w, mean, rstd, gx, dw, db, has_w, need_gx, zero):
    chunks = dw.shape[0]
    for c in prange(chunks):
        _ln_bwd_rows(c, chunks, x, g, w, mean, rstd, gx, dw, db, has_w, need_gx, zero)



@_serial
def relu_backward_serial(g, y, out, zero):
    # one pass over flat arrays (zero: of their dtype, so the select stays in its lanes);
    # `y <= 0`, not `not y > 0`: a NaN output passes its gradient, as in PyTorch
    for i in range(out.size):
        out[i] = zero if y[i] <= 0 else g[i]
