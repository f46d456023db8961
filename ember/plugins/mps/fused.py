"""Fused MLX kernels for composites of the op table (softmax, log_softmax, conv, conv_transpose).

Each has its composite's calling convention (``ember/dispatch/ops.py``) and must match
the composite to within rounding; the conformance suite checks both against float64
references. ``build()`` returns only those whose op the table declares, so a composite
renamed or removed there is simply not overridden.

MLX convolves channels-last (input ``(N, *spatial, C)``, weight ``(C_out, *kernel,
C_in / groups)``); PyTorch's layout is channels-first, so each conv moves the channel
axis on the way in and out (MLX makes those copies lazily, as part of the conv).
"""
from __future__ import annotations

import mlx.core as mx

from ember.dispatch.ops import OPS

_LOW_PRECISION = (mx.float16, mx.bfloat16)


def softmax(x, *, dim):
    if x.size == 0:
        return mx.array(x)
    if x.ndim == 0:
        return mx.softmax(x.reshape(1), axis=0, precise=True).reshape(())
    return mx.softmax(x, axis=dim, precise=True)  # precise: half precision accumulates in float32


def log_softmax(x, *, dim):
    if x.size == 0:  # MLX's logsumexp refuses empty arrays
        return mx.array(x)
    work = x.astype(mx.float32) if x.dtype in _LOW_PRECISION else x
    if work.ndim == 0:
        return (work - mx.logsumexp(work, keepdims=True)).astype(x.dtype)
    return (work - mx.logsumexp(work, axis=dim, keepdims=True)).astype(x.dtype)


def _channels_last(a):
    return mx.moveaxis(a, 1, -1)


def _add_bias(y, bias, nd):
    return y if bias is None else y + bias.astype(y.dtype).reshape((-1,) + (1,) * nd)


def conv(x, weight, bias, *, stride, padding, dilation, groups):
    nd = weight.ndim - 2
    y = mx.conv_general(_channels_last(x), _channels_last(weight), stride=list(stride), padding=list(padding),
                        kernel_dilation=list(dilation), groups=groups)
    return _add_bias(mx.moveaxis(y, -1, 1), bias, nd)


def conv_transpose(x, weight, bias, *, stride, padding, output_padding, dilation, groups):
    """The transposed conv as the conv it is the gradient of: the input dilated by the stride,
    padded by ``dilation * (k - 1) - padding`` (plus ``output_padding`` at the end), convolved
    with the flipped kernel, its in/out channels swapped within each group."""
    nd = weight.ndim - 2
    c_in, c_out_g = weight.shape[:2]
    kernel = weight.shape[2:]
    # (C_in, C_out/G, *k) -> (G, C_out/G, *k, C_in/G) -> (C_out, *k, C_in/G)
    w = weight.reshape((groups, c_in // groups, c_out_g) + tuple(kernel))
    w = mx.transpose(w, (0, 2) + tuple(range(3, 3 + nd)) + (1,))
    w = w.reshape((groups * c_out_g,) + tuple(kernel) + (c_in // groups,))
    low = [dilation[i] * (kernel[i] - 1) - padding[i] for i in range(nd)]
    high = [low[i] + output_padding[i] for i in range(nd)]
    y = mx.conv_general(_channels_last(x), w, stride=1,
                        padding=([max(v, 0) for v in low], [max(v, 0) for v in high]),
                        kernel_dilation=list(dilation), input_dilation=list(stride), groups=groups, flip=True)
    if any(v < 0 for v in low + high):  # more padding than the kernel reaches: crop instead
        y = y[(slice(None),) + tuple(slice(max(-low[i], 0), y.shape[1 + i] - max(-high[i], 0))
                                     for i in range(nd))]
    return _add_bias(mx.moveaxis(y, -1, 1), bias, nd)


_FUSED = {"softmax": softmax, "log_softmax": log_softmax, "conv": conv, "conv_transpose": conv_transpose}


def build() -> dict:
    """{composite name: fused kernel} for the composites the op table declares."""
    return {name: kernel for name, kernel in _FUSED.items() if name in OPS}
