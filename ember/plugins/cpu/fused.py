"""Fused numpy kernels for composites where one kernel clearly beats the decomposition.

Each function has the calling convention of its composite in ``ember/dispatch/ops.py``
and must match the composite (``ember/nn/functional``) to within rounding; the tests
compare both against float64 references.

* ``conv``: im2col as a strided view of the padded input (no Python loop over the
  kernel), one contiguous copy, one batched BLAS matmul over the groups.
* ``conv_transpose``: one matmul to columns, then col2im as one strided add per kernel
  offset (for stride 1 and dilation 1, the usual conv backward, one contiguous add per
  offset over the flattened output planes).
* ``softmax`` / ``log_softmax``: one in-place numpy pass after the max subtraction (the
  composite dispatches and allocates each step; numpy's exp is SIMD).
* ``max_pool``: one strided slice per kernel offset, a running maximum over them, then the
  first offset that holds it (argmax's choice); the positions for the backward pass (and
  ``return_indices``) computed from it.
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
    s = x.strides
    kernel_strides = tuple(s[2 + i] * dilation[i] for i in range(nd))
    out_strides = tuple(s[2 + i] * stride[i] for i in range(nd))
    length = n * int(np.prod(out))
    ckk = c * int(np.prod(kernel))
    cg, og = ckk // groups, o // groups
    # im2col as a strided view of the padded input; the reshape makes the one copy. The layout
    # keeps the longer of (kernel window, output row) innermost, so the copy runs over long rows:
    # small kernels (the usual conv) give (C*K, N*L) columns, large kernels (the weight
    # gradient, a conv whose kernel is the output gradient) give (N*L, C*K) rows.
    if int(np.prod(kernel)) <= int(np.prod(out)):
        view = as_strided(x, shape=(c,) + tuple(kernel) + (n,) + out,
                          strides=(s[1],) + kernel_strides + (s[0],) + out_strides, writeable=False)
        cols = view.reshape(groups, cg, length)
        y = np.matmul(weight.reshape(groups, og, cg), cols)                      # (G, O/G, N*L)
        if bias is not None:  # in place, before the transpose: the one copy below stays the only one
            y += bias.astype(work, copy=False).reshape(groups, og, 1)
        y = y.reshape((o, n) + out).swapaxes(0, 1)
    else:
        view = as_strided(x, shape=(n,) + out + (c,) + tuple(kernel),
                          strides=(s[0],) + out_strides + (s[1],) + kernel_strides, writeable=False)
        rows = view.reshape(length, groups, cg).transpose(1, 0, 2)               # (G, N*L, Cg*K)
        y = np.matmul(rows, weight.reshape(groups, og, cg).transpose(0, 2, 1))   # (G, N*L, O/G)
        if bias is not None:
            y += bias.astype(work, copy=False).reshape(groups, 1, og)
        y = np.moveaxis(y.transpose(1, 0, 2).reshape((n,) + out + (o,)), -1, 1)
    y = np.ascontiguousarray(y)
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
    full = tuple((spatial[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 + output_padding[i]
                 for i in range(nd))
    # W^T, per group: (G, Cout/G*K, Cin/G)
    w = weight.reshape(groups, cg, c_out_g * kk).transpose(0, 2, 1)
    if all(s == 1 for s in stride) and all(d == 1 for d in dilation):
        out = _col2im_unit_stride(x, w, n, groups * c_out_g, kernel, full, work)
    else:
        xm = x.reshape(n, groups, cg, length)
        cols = np.matmul(w[None], xm)                                  # (N, G, Cout/G*K, L)
        cols = cols.reshape((n, groups * c_out_g) + kernel + spatial)
        out = np.zeros((n, groups * c_out_g) + full, dtype=work)
        for offsets in itertools.product(*[range(k) for k in kernel]):
            key = (slice(None), slice(None)) + tuple(
                slice(offsets[i] * dilation[i], offsets[i] * dilation[i] + (spatial[i] - 1) * stride[i] + 1,
                      stride[i])
                for i in range(nd))
            out[key] += cols[(slice(None), slice(None)) + offsets]
    crop = (slice(None), slice(None)) + tuple(slice(padding[i], full[i] - padding[i]) for i in range(nd))
    out = out[crop]
    if bias is not None:
        out = out + bias.astype(work, copy=False).reshape((-1,) + (1,) * nd)
    return np.ascontiguousarray(out).astype(out_dtype, copy=False)


def _col2im_unit_stride(x, w, n, c_out, kernel, full, work):
    """conv_transpose's columns and col2im for stride 1 and dilation 1, as contiguous adds.

    The input's trailing spatial dims are zero-padded to the output's sizes, so that in the
    flattened output plane each kernel offset's contribution is one run of the padded
    input's length, starting at the offset's flat position (the zero columns land on
    positions that other offsets fill): one long add per offset instead of a short add per
    output row.
    """
    nd = len(kernel)
    n, c_in = x.shape[:2]
    groups = w.shape[0]
    spatial = x.shape[2:]
    widened = (spatial[0],) + tuple(full[1:])
    if widened != spatial:
        padded = np.zeros((n, c_in) + widened, dtype=work)
        padded[(slice(None), slice(None)) + tuple(slice(0, s) for s in spatial)] = x
        x = padded
    run = int(np.prod(widened))
    cols = np.matmul(w[None], x.reshape(n, groups, c_in // groups, run))   # (N, G, Cout/G*K, run)
    cols = cols.reshape(n, c_out, -1, run)
    plane_strides = [int(np.prod(full[i + 1:])) for i in range(nd)]
    rows = int(np.prod(full[1:]))
    out = np.zeros((n, c_out, (full[0] + 1) * rows), dtype=work)        # one spare row: the last runs overhang
    for k, offsets in enumerate(itertools.product(*[range(kk) for kk in kernel])):
        start = sum(o * st for o, st in zip(offsets, plane_strides))
        out[:, :, start:start + run] += cols[:, :, k]
    return out[:, :, :full[0] * rows].reshape((n, c_out) + tuple(full))


def max_pool(x, *, kernel, stride, padding, dilation, output_size):
    nd = len(kernel)
    spatial = x.shape[2:]
    floating = x.dtype.kind == "f" or x.dtype.name == "bfloat16"
    lowest = -np.inf if floating else np.iinfo(x.dtype).min
    # left padding, and right padding only as far as the last window reaches
    right = [max((output_size[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 - spatial[i] - padding[i], 0)
             for i in range(nd)]
    if any(padding) or any(right):
        x = np.pad(x, [(0, 0), (0, 0)] + [(padding[i], right[i]) for i in range(nd)], constant_values=lowest)
    # one strided slice of the output's shape per kernel offset, in row-major order: a few
    # whole-array maximum/compare passes instead of a copy of every window and an argmax
    # over a short last axis (several times faster for the usual 2x2 and 3x3 windows)
    offsets = list(itertools.product(*[range(k) for k in kernel]))
    slices = [x[(slice(None), slice(None)) + tuple(
        slice(o[i] * dilation[i], o[i] * dilation[i] + (output_size[i] - 1) * stride[i] + 1, stride[i])
        for i in range(nd))] for o in offsets]
    values = slices[0].copy()
    for window in slices[1:]:
        np.maximum(values, window, out=values)       # a NaN propagates: its window's value is NaN
    nan = np.isnan(values) if floating else None
    if nan is not None and not nan.any():
        nan = None
    # the offset of the first maximum (or the first NaN), as argmax picks
    small = len(offsets) < 128
    which = np.zeros(values.shape, dtype=np.int8 if small else np.int64)
    found = None
    for k, window in enumerate(slices):
        hit = window == values
        if nan is not None:
            hit |= nan & np.isnan(window)
        if found is None:
            found = hit
            continue
        hit = np.greater(hit, found, out=hit)        # a hit, and none at an earlier offset
        found |= hit
        which += hit.view(np.int8) * np.int8(k) if small else hit * k
    # row-major position in the input plane: window start + the offset's displacement
    plane = [int(np.prod(spatial[i + 1:], dtype=np.int64)) for i in range(nd)]
    displacement = np.array([sum(o[i] * dilation[i] * plane[i] for i in range(nd)) for o in offsets], dtype=np.int64)
    index = displacement.take(which)
    for i in range(nd):
        shape = [1] * (2 + nd)
        shape[2 + i] = output_size[i]
        index += ((np.arange(output_size[i], dtype=np.int64) * stride[i] - padding[i]) * plane[i]).reshape(shape)
    return values, index


def _softmax(x, *, dim, log=False):
    # one fused numpy pass, in place after the first subtraction: about 5x the composite
    # (which allocates and dispatches each step); numpy's exp is SIMD, numba's is scalar libm
    if x.size == 0:
        return x.copy()
    work = x.astype(np.float32) if x.dtype.name in _LOW_PRECISION else x  # half: float32 inside
    shape = work.shape
    if work.ndim == 0:
        work, dim = work.reshape(1), 0
    out = work - work.max(axis=dim, keepdims=True)  # an infinite max gives NaN, as the composite does
    if log:
        total = np.exp(out).sum(axis=dim, keepdims=True)
        out -= np.log(total, out=total)
    else:
        np.exp(out, out=out)
        out /= out.sum(axis=dim, keepdims=True)
    return out.reshape(shape).astype(x.dtype, copy=False)


def softmax(x, *, dim):
    return _softmax(x, dim=dim)


def log_softmax(x, *, dim):
    return _softmax(x, dim=dim, log=True)
