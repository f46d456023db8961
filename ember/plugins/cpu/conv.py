"""CPU convolution and pooling kernels: the fused overrides of the ``conv``,
``conv_transpose``, ``max_pool`` and ``max_pool_backward`` composites
(``ember/dispatch/ops.py``).

Each kernel has its composite's calling convention and must match the composite
(``ember/ops/convolution.py``, ``ember/ops/pooling.py``) to within rounding.

Two paths:

* compiled (numba installed; 1-d and 2-d, float32/float64, or half precision worked in
  float32; ``groups=1`` for the convs; big enough for threads to pay): im2col by a numba
  loop that handles padding by bounds (no padded copy), then BLAS: one sample at a time,
  its (C*K, L) columns in a small reused work array and at once its GEMM (numba's np.dot)
  into the (N, O, L) output, with the bias folded in (a weight column against a row of
  ones); the samples are split over the threads, GEMMs included, so the columns stay in
  the cache of the core that multiplies them and BLAS runs no threads of its own. For
  kernels larger than the output (conv's weight gradient): (N*L, C*K) rows and a GEMM per
  chunk of the channels (the batch), one chunk per thread, the partial products summed.
  conv_transpose is, per sample and split over the threads the same way, one GEMM to
  columns and a col2im. max_pool over 2x2 windows (no padding, no dilation) is one pass
  that keeps the first maximum; other windows take the numpy path (a numba loop over a
  runtime window size measured no faster than it). max_pool_backward is one scatter-add
  per plane. The loops live in ``_conv_loops.py`` and compile (or load from numba's disk
  cache) on first use; a large one runs in one chunk of samples, rows or planes per thread
  (``ember.get_num_threads()``) under numba's parallel layer (see ``PARALLEL_ELEMENTS``), the
  GEMMs in BLAS.
  conv's backward runs through these too: its derivative rules are conv / conv_transpose
  calls again (the weight gradient a conv whose "kernel" is the output gradient, which
  takes the im2row layout).
* numpy (anything else, or when numba is missing): im2col as a strided view of
  the padded input, one contiguous copy, one batched BLAS matmul over the groups;
  col2im as one strided add per kernel offset; max_pool as one strided slice per kernel
  offset with a running maximum.
"""
from __future__ import annotations

import importlib.util
import itertools
import math
import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ember.dispatch.threads import get_num_threads

_LOW_PRECISION = ("float16", "bfloat16")
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
#: below this much work (multiply-adds, or pooled elements) numpy's path costs less than
#: entering a parallel region
MIN_WORK = 1 << 15
_LOOPS = {}
_SCRATCH = threading.local()
_SCRATCH_LIMIT = 64 << 20


def _work_dtype(x):
    """numpy has no fast half-precision matmul: compute those in float32."""
    return np.float32 if x.dtype.name in _LOW_PRECISION else x.dtype


def _out_sizes(spatial, kernel, stride, dilation):
    return tuple((spatial[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1 for i in range(len(kernel)))


def _conv_numpy(x, weight, bias, *, stride, padding, dilation, groups):
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


def _conv_transpose_numpy(x, weight, bias, *, stride, padding, output_padding, dilation, groups):
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


def _max_pool_numpy(x, *, kernel, stride, padding, dilation, output_size):
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
    if any(padding) or any(right):
        # a window whose real elements are all the lowest value would pick a padded one; PyTorch
        # picks its first element inside the input
        lowest_windows = values == lowest
        if lowest_windows.any():
            first = np.zeros(tuple(output_size), dtype=which.dtype)
            for k in reversed(range(len(offsets))):  # the earliest valid offset is written last
                inside = np.ones((), dtype=bool)
                for i in range(nd):
                    at = np.arange(output_size[i]) * stride[i] - padding[i] + offsets[k][i] * dilation[i]
                    shape = [1] * nd
                    shape[i] = output_size[i]
                    inside = inside & ((at >= 0) & (at < spatial[i])).reshape(shape)
                first[inside] = k
            which = np.where(lowest_windows, first, which)
    index = displacement.take(which)
    for i in range(nd):
        shape = [1] * (2 + nd)
        shape[2 + i] = output_size[i]
        index += ((np.arange(output_size[i], dtype=np.int64) * stride[i] - padding[i]) * plane[i]).reshape(shape)
    return values, index



# ---------------------------------------------------------------- compiled paths
def _numba_available() -> bool:
    if "available" not in _LOOPS:
        _LOOPS["available"] = importlib.util.find_spec("numba") is not None
    return _LOOPS["available"]


def _loops():
    """The numba loops (``_conv_loops.py``), compiled or loaded from the disk cache on first use."""
    if "im2col" not in _LOOPS:
        from ember.plugins.cpu import _conv_loops
        _LOOPS.update({name: getattr(_conv_loops, name) for name in _conv_loops.__all__})
    return _LOOPS


#: a conv or pool loop writing fewer elements runs on the calling thread. Measured on the 2-core
#: box: the LeNet training step took 19.2 ms with its loops (0.1-1 ms each) in parallel and 9.8 ms
#: serial, since a parallel region just before a GEMM leaves an OpenMP worker spinning on the core
#: the GEMM's second OpenBLAS thread needs, and those GEMMs are most of the step.
PARALLEL_ELEMENTS = 1 << 23
#: a conv or transposed conv computed per sample (``_per_sample``) with fewer multiply-adds runs on
#: the calling thread: about 50 us of work, several times a region's start. Its GEMMs run on the
#: same threads, so the reason above does not apply.
PARALLEL_WORK = 1 << 20


def _over(name, total, elements, *args):
    """Run the loop ``name`` as ``loop(*args, 0, total)``; when it writes ``elements`` or more,
    by its driver over one range of [0, total) per thread (``ember.get_num_threads()``)."""
    from ember.plugins.cpu import compiled
    loops = _loops()
    chunks = min(total, get_num_threads())
    if chunks > 1 and elements >= PARALLEL_ELEMENTS and compiled._run(loops[name + "_par"], args, total, chunks):
        return
    loops[name](*args, 0, total)


def _work_chunks(parts: int, multiply_adds: int) -> int:
    """How many threads a conv split into ``parts`` (samples, or channels) runs on."""
    return min(parts, get_num_threads()) if multiply_adds >= PARALLEL_WORK else 1


def _per_sample(name, *args):
    """Run the per-sample loop ``name`` (``conv_samples``, ``conv_transpose_samples``), whose
    arguments end with ``scratch`` (one work array per chunk) and the output, on one thread per
    chunk when there are several: the GEMMs included, so that OpenBLAS's own threads stay out of
    it (on these per-sample products they measured slower than one thread)."""
    from ember.plugins.cpu import compiled
    loops = _loops()
    *rest, scratch, out = args
    chunks = scratch.shape[0]
    if chunks > 1 and compiled.run_blas_on_one_thread(loops[name + "_par"], *args, chunks):
        return
    loops[name](*rest, scratch[0], out, 0, out.shape[0])


def _by_channels(flat, geometry, w2t, scratch, partials):
    """partials[t] = the rows of chunk t of the channels @ their rows of ``w2t``, on one thread
    per chunk when there are several (as ``_per_sample``, the GEMMs included)."""
    from ember.plugins.cpu import compiled
    loops = _loops()
    chunks = scratch.shape[0]
    if chunks > 1 and compiled.run_blas_on_one_thread(loops["conv_channels_par"], flat, geometry, w2t, scratch,
                                                      partials, chunks):
        return
    loops["conv_channels"](flat, geometry, w2t, scratch[0], partials[0], 0, geometry[1])


def _compilable(x, weight=None, groups=1) -> bool:
    nd = x.ndim - 2
    return (nd in (1, 2) and groups == 1 and _numba_available()
            and (x.dtype in _FLOATS or x.dtype.name in _LOW_PRECISION)
            and (weight is None or weight.dtype == x.dtype))


def _scratch(slot, shape, dtype):
    """A work array of ``shape`` that this thread reuses from call to call (the im2col columns
    and GEMM results, megabytes each): a fresh one per call costs its page faults again,
    measured at a third of the copy's time. Kept only up to ``_SCRATCH_LIMIT`` bytes."""
    size = math.prod(shape)
    if size * np.dtype(dtype).itemsize > _SCRATCH_LIMIT:
        return np.empty(shape, dtype)
    buffers = _SCRATCH.__dict__.setdefault("buffers", {})
    key = (slot, np.dtype(dtype))
    buffer = buffers.get(key)
    if buffer is None or buffer.size < size:
        buffer = buffers[key] = np.empty(max(size, 1 << 16), dtype)
    return buffer[:size].reshape(shape)


def _conv_compiled(x, weight, bias, stride, padding, dilation):
    """conv on the compiled path."""
    out_dtype = x.dtype
    work = _work_dtype(x)
    nd = weight.ndim - 2
    if nd == 1:
        x, weight = x[:, :, None, :], weight[:, :, None, :]
        stride, padding, dilation = (1,) + tuple(stride), (0,) + tuple(padding), (1,) + tuple(dilation)
    x = np.ascontiguousarray(x, dtype=work)
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    oh, ow = ((h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1,
              (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1)
    length, kk = oh * ow, kh * kw
    w2 = weight.astype(work, copy=False).reshape(o, c * kk)
    geometry = (n, c, h, w, kh, kw, stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1],
                oh, ow)
    flat = x.reshape(-1)
    if kk <= length:
        # the usual conv: per sample (O, C*K [+1]) @ (C*K [+1], L), one batched matmul into the
        # output; a bias rides along as a column of the weight against a row of ones
        ones = bias is not None
        if ones:
            w2 = np.concatenate([w2, bias.astype(work, copy=False).reshape(o, 1)], axis=1)
        # one sample's columns at a time per thread, each followed by its GEMM on that thread
        chunks = _work_chunks(n, n * o * length * (c * kk + ones))
        scratch = _scratch(0, (chunks, c * kk + ones, length), work)
        out = np.empty((n, o, length), work)
        _per_sample("conv_samples", flat, geometry, ones, np.ascontiguousarray(w2), scratch, out)
    else:
        # a kernel larger than the output (conv's weight gradient): (N*L, C*K) @ (C*K, O), the
        # rows copied along the kernel's rows; the channels (the gradient's batch) split over the
        # threads, each with its share of the rows and its GEMM, the partial products summed
        chunks = _work_chunks(c, n * length * c * kk * o)
        scratch = _scratch(0, (chunks, -(-c // chunks) * kk * n * length), work)
        partials = np.empty((chunks, n * length, o), work)
        _by_channels(flat, geometry, np.ascontiguousarray(w2.T), scratch, partials)
        y = partials[0] if chunks == 1 else partials.sum(0)          # (N*L, O)
        out = y.reshape(n, length, o).transpose(0, 2, 1)
        if bias is not None:
            out = out + bias.astype(work, copy=False)[:, None]
        out = np.ascontiguousarray(out)
    out = out.reshape((n, o) + ((ow,) if nd == 1 else (oh, ow)))
    return out.astype(out_dtype, copy=False)


def _conv_transpose_compiled(x, weight, bias, stride, padding, output_padding, dilation):
    """conv_transpose on the compiled path (groups 1)."""
    out_dtype = x.dtype
    work = _work_dtype(x)
    nd = weight.ndim - 2
    if nd == 1:
        x, weight = x[:, :, None, :], weight[:, :, None, :]
        stride, padding, dilation = (1,) + tuple(stride), (0,) + tuple(padding), (1,) + tuple(dilation)
        output_padding = (0,) + tuple(output_padding)
    n, c_in, h, w = x.shape
    c_out, kh, kw = weight.shape[1:]
    kk = kh * kw
    oh = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1
    ow = (w - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1
    # per sample, (C_out*K, C_in) @ (C_in, H*W) columns, scattered into its output planes
    wt = np.ascontiguousarray(weight.astype(work, copy=False).reshape(c_in, c_out * kk).T)
    xs = np.ascontiguousarray(x, dtype=work).reshape(n, c_in, h * w)
    out = np.empty((n, c_out, oh, ow), work)
    b = np.empty(0, work) if bias is None else np.ascontiguousarray(bias, dtype=work)
    chunks = _work_chunks(n, n * c_in * c_out * kk * h * w)
    geometry = (h, w, c_out, oh, ow, kh, kw, stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1])
    _per_sample("conv_transpose_samples", xs, wt, geometry, b, _scratch(0, (chunks, c_out * kk, h * w), work),
                out.reshape(n, -1))
    if nd == 1:
        out = out.reshape(n, c_out, ow)
    return out.astype(out_dtype, copy=False)


def _max_pool_compiled(x, kernel, stride, padding, dilation, output_size):
    """max_pool on the compiled path (2-d 2x2 windows inside the input), or None for another
    geometry."""
    nd = len(kernel)
    if nd == 1:
        return None
    oh, ow = output_size
    if (tuple(kernel) != (2, 2) or any(padding) or tuple(dilation) != (1, 1)
            or (oh - 1) * stride[0] + 2 > x.shape[2] or (ow - 1) * stride[1] + 2 > x.shape[3]):
        return None
    out_dtype = x.dtype
    xc = np.ascontiguousarray(x, dtype=_work_dtype(x))
    n, c, h, w = xc.shape
    values = np.empty((n, c, oh, ow), xc.dtype)
    indices = np.empty((n, c, oh, ow), np.int64)
    _over("max_pool2x2", n * c, values.size, xc.reshape(-1), h, w, stride[0], stride[1], oh, ow, values.reshape(-1),
          indices.reshape(-1))
    return values.astype(out_dtype, copy=False), indices


# ---------------------------------------------------------------- the kernels
def conv(x, weight, bias, *, stride, padding, dilation, groups):
    """The fused ``conv``: x (N, C, *S), weight (O, C/groups, *K), bias (O,) or None."""
    if _compilable(x, weight, groups) and x.shape[0] * weight.size * math.prod(x.shape[2:]) >= MIN_WORK:
        return _conv_compiled(x, weight, bias, stride, padding, dilation)
    return _conv_numpy(x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)


def conv_transpose(x, weight, bias, *, stride, padding, output_padding, dilation, groups):
    """The fused ``conv_transpose``: x (N, C_in, *S), weight (C_in, C_out/groups, *K)."""
    if _compilable(x, weight, groups) and x.shape[0] * weight.size * math.prod(x.shape[2:]) >= MIN_WORK:
        return _conv_transpose_compiled(x, weight, bias, stride, padding, output_padding, dilation)
    return _conv_transpose_numpy(x, weight, bias, stride=stride, padding=padding,
                                 output_padding=output_padding, dilation=dilation, groups=groups)


def max_pool(x, *, kernel, stride, padding, dilation, output_size):
    """The fused ``max_pool``: (values, int64 row-major positions in each input plane)."""
    if _compilable(x) and x.size >= MIN_WORK:
        out = _max_pool_compiled(x, tuple(kernel), tuple(stride), tuple(padding), tuple(dilation), output_size)
        if out is not None:
            return out
    return _max_pool_numpy(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                           output_size=output_size)


def max_pool_backward(g, indices, *, input_shape, kernel, stride, dilation):
    """The fused ``max_pool_backward``: each output gradient added at the input position its
    window picked (``indices``, row-major in each input plane)."""
    n, c = input_shape[:2]
    plane_in, plane_out = math.prod(input_shape[2:]), math.prod(g.shape[2:])
    work = _work_dtype(g)
    if _compilable(g) and n * c * plane_in >= MIN_WORK:
        flat = np.ascontiguousarray(g, dtype=work).reshape(-1)
        where = np.ascontiguousarray(indices, dtype=np.int64).reshape(-1)
        out = np.empty(n * c * plane_in, work)
        _over("max_pool_scatter", n * c, out.size, flat, where, plane_in, plane_out, out)
        return out.reshape(tuple(input_shape)).astype(g.dtype, copy=False)
    out = np.zeros((n * c, plane_in), work)
    rows = np.arange(n * c)[:, None]
    flat, where = g.astype(work, copy=False).reshape(n * c, plane_out), indices.reshape(n * c, plane_out)
    if any(s < d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation)):  # windows overlap: add
        np.add.at(out, (rows, where), flat)
    else:
        out[rows, where] = flat
    return out.reshape(tuple(input_shape)).astype(g.dtype, copy=False)
