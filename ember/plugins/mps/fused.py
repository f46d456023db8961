"""Fused MLX kernels for composites of the op table (softmax, log_softmax, conv, conv_transpose,
max_pool, adam_step).

Each has its composite's calling convention (``ember/dispatch/ops.py``) and must match
the composite to within rounding; the conformance suite checks both against float64
references. ``kernels.py`` registers them (``kernels.FUSED``), only for ops the table
declares, so a composite renamed or removed there is simply not overridden.

MLX convolves channels-last (input ``(N, *spatial, C)``, weight ``(C_out, *kernel,
C_in / groups)``); PyTorch's layout is channels-first, so each conv moves the channel
axis on the way in and out (MLX makes those copies lazily, as part of the conv).
"""
from __future__ import annotations

import itertools
import math

import mlx.core as mx

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
    axis = dim if work.ndim else None
    # shift by the max first and subtract the log of the shifted sum: x - logsumexp(x) would
    # lose the small terms to the rounding of logsumexp's large value (1e4 + log 2 in float32)
    shift = mx.max(work, axis=axis, keepdims=True)
    shifted = work - shift  # an infinite max (+inf, or an all -inf slice) gives NaN, as in PyTorch
    return (shifted - mx.log(mx.sum(mx.exp(shifted), axis=axis, keepdims=True))).astype(x.dtype)


def _channels_last(a):
    return mx.moveaxis(a, 1, -1)


def _add_bias(y, bias, nd):
    return y if bias is None else y + bias.astype(y.dtype).reshape((-1,) + (1,) * nd)


def _empty_conv(x, weight, bias, out_channels, spatial):
    """A conv with nothing to sum over or nothing to produce: MLX's kernels divide by zero there."""
    y = mx.zeros((x.shape[0], out_channels) + tuple(spatial), dtype=x.dtype)
    return _add_bias(y, bias, len(spatial))


def conv(x, weight, bias, *, stride, padding, dilation, groups):
    nd = weight.ndim - 2
    if x.size == 0 or weight.size == 0:
        spatial = [(x.shape[2 + i] + 2 * padding[i] - dilation[i] * (weight.shape[2 + i] - 1) - 1) // stride[i] + 1
                   for i in range(nd)]
        return _empty_conv(x, weight, bias, weight.shape[0], spatial)
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
    if x.size == 0 or weight.size == 0:
        spatial = [(x.shape[2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1)
                   + output_padding[i] + 1 for i in range(nd)]
        return _empty_conv(x, weight, bias, c_out_g * groups, spatial)
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


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2, eps, weight_decay, step,
              decoupled_weight_decay, amsgrad, maximize):
    """ember.optim.Adam's update as one MLX expression per state array: returns their new
    values (param, exp_avg, exp_avg_sq, max_exp_avg_sq or None), which the core rebinds."""
    if maximize:
        grad = -grad
    if weight_decay:
        if decoupled_weight_decay:
            param = param * (1 - lr * weight_decay)
        else:
            grad = grad + weight_decay * param
    exp_avg = exp_avg + (1 - beta1) * (grad - exp_avg)  # lerp towards grad
    exp_avg_sq = exp_avg_sq * beta2 + (1 - beta2) * (grad * grad)
    second = exp_avg_sq
    if amsgrad:
        max_exp_avg_sq = second = mx.maximum(max_exp_avg_sq, exp_avg_sq)
    denom = mx.sqrt(second) / ((1 - beta2 ** step) ** 0.5) + eps
    param = param - (lr / (1 - beta1 ** step)) * (exp_avg / denom)
    return param, exp_avg, exp_avg_sq, (max_exp_avg_sq if amsgrad else None)


def max_pool(x, *, kernel, stride, padding, dilation, output_size):
    """(values, int64 row-major positions in each input plane) of each window's first maximum.

    The windows are ``prod(kernel)`` strided slices of the padded input, stacked last;
    argmax picks the first maximum (NaN counts as the maximum, as in PyTorch)."""
    nd = len(kernel)
    if x.size == 0:  # no planes (N or C is 0): MLX's argmax refuses empty arrays
        shape = tuple(x.shape[:2]) + tuple(output_size)
        return mx.zeros(shape, dtype=x.dtype), mx.zeros(shape, dtype=mx.int64)
    lowest = -math.inf if mx.issubdtype(x.dtype, mx.floating) else int(mx.iinfo(x.dtype).min)
    spatial = x.shape[2:]
    reach = [(output_size[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 for i in range(nd)]
    right = [reach[i] - spatial[i] - padding[i] for i in range(nd)]
    if any(padding) or any(r > 0 for r in right):
        x = mx.pad(x, [(0, 0), (0, 0)] + [(padding[i], max(right[i], 0)) for i in range(nd)],
                   constant_values=lowest)
    windows = []
    for offsets in itertools.product(*[range(k) for k in kernel]):
        key = (slice(None), slice(None)) + tuple(
            slice(offsets[i] * dilation[i], offsets[i] * dilation[i] + (output_size[i] - 1) * stride[i] + 1,
                  stride[i]) for i in range(nd))
        windows.append(x[key])
    windows = mx.stack(windows, axis=-1)                              # (N, C, *out, K)
    which = mx.argmax(windows, axis=-1, keepdims=True)
    values = mx.take_along_axis(windows, which, axis=-1).squeeze(-1)
    rest = which.squeeze(-1).astype(mx.int64)
    flat = None
    plane = 1
    for i in reversed(range(nd)):  # the last kernel dim varies fastest in a window's offset
        k_i = mx.remainder(rest, kernel[i]) if i else rest
        rest = mx.floor_divide(rest, kernel[i])
        start = mx.arange(output_size[i], dtype=mx.int64) * stride[i] - padding[i]
        start = start.reshape((output_size[i],) + (1,) * (nd - 1 - i))
        term = (start + k_i * dilation[i]) * plane
        flat = term if flat is None else flat + term
        plane *= spatial[i]
    return values, flat
