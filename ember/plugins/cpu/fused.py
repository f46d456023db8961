"""Fused numpy kernels for composites where one kernel clearly beats the decomposition.

Each function has the calling convention of its composite in ``ember/dispatch/ops.py``
and must match the composite (``ember/nn/functional``) to within rounding; the tests
compare both against float64 references.

* ``conv``: im2col as a strided view of the padded input (no Python loop over the
  kernel), one contiguous copy, one batched BLAS matmul over the groups.
* ``conv_transpose``: one matmul to columns, then col2im as one strided add per kernel
  offset.
"""
from __future__ import annotations

import itertools

import numpy as np
from numpy.lib.stride_tricks import as_strided

_LOW_PRECISION = ("float16", "bfloat16")


def _work_dtype(x):
    """numpy has no fast half-precision matmul: compute those in float32."""
    return np.float32 if x.dtype.name in _LOW_PRECISION else x.dtype


def _out_sizes(spatial, kernel, stride, dilation):
    return tuple((spatial[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1 for i in range(len(kernel)))


def conv(x, weight, bias, *, stride, padding, dilation, groups):
    out_dtype = x.dtype
    work = _work_dtype(x)
    x = x.astype(work, copy=False)
    weight = weight.astype(work, copy=False)
    nd = weight.ndim - 2
    if any(padding):
        x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    n, c = x.shape[:2]
    o = weight.shape[0]
    kernel = weight.shape[2:]
    out = _out_sizes(x.shape[2:], kernel, stride, dilation)
    # a view (C, *kernel, N, *out) of the padded input: nothing is copied until the reshape;
    # this layout makes the matmul (O, C*K) @ (C*K, N*L), which BLAS runs well for small O
    s = x.strides
    view = as_strided(
        x, shape=(c,) + tuple(kernel) + (n,) + out,
        strides=(s[1],) + tuple(s[2 + i] * dilation[i] for i in range(nd)) + (s[0],)
        + tuple(s[2 + i] * stride[i] for i in range(nd)),
        writeable=False)
    length = n * int(np.prod(out))
    ckk = c * int(np.prod(kernel))
    cols = view.reshape(groups, ckk // groups, length)
    y = np.matmul(weight.reshape(groups, o // groups, ckk // groups), cols)   # (G, O/G, N*L)
    y = y.reshape((o, n) + out)
    if bias is not None:
        y += bias.astype(work, copy=False).reshape((o,) + (1,) * (nd + 1))
    y = np.ascontiguousarray(y.swapaxes(0, 1))
    return y.astype(out_dtype, copy=False)


def conv_transpose(x, weight, bias, *, stride, padding, output_padding, dilation, groups):
    out_dtype = x.dtype
    work = _work_dtype(x)
    x = x.astype(work, copy=False)
    weight = weight.astype(work, copy=False)
    nd = weight.ndim - 2
    n, c_in = x.shape[:2]
    spatial = x.shape[2:]
    c_out_g = weight.shape[1]
    kernel = tuple(weight.shape[2:])
    kk = int(np.prod(kernel))
    length = int(np.prod(spatial))
    cg = c_in // groups
    # columns (N, G, Cout/G * K, L) = W^T x, per group
    w = weight.reshape(groups, cg, c_out_g * kk).transpose(0, 2, 1)     # (G, Cout/G*K, Cin/G)
    xm = x.reshape(n, groups, cg, length)
    cols = np.matmul(w[None], xm)                                      # (N, G, Cout/G*K, L)
    cols = cols.reshape((n, groups * c_out_g) + kernel + spatial)
    full = tuple((spatial[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 + output_padding[i]
                 for i in range(nd))
    out = np.zeros((n, groups * c_out_g) + full, dtype=work)
    for offsets in itertools.product(*[range(k) for k in kernel]):
        key = (slice(None), slice(None)) + tuple(
            slice(offsets[i] * dilation[i], offsets[i] * dilation[i] + (spatial[i] - 1) * stride[i] + 1, stride[i])
            for i in range(nd))
        out[key] += cols[(slice(None), slice(None)) + offsets]
    crop = (slice(None), slice(None)) + tuple(slice(padding[i], full[i] - padding[i]) for i in range(nd))
    out = out[crop]
    if bias is not None:
        out = out + bias.astype(work, copy=False).reshape((-1,) + (1,) * nd)
    return np.ascontiguousarray(out).astype(out_dtype, copy=False)


KERNELS = {"conv": conv, "conv_transpose": conv_transpose}
