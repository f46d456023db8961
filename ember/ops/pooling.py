"""Max pooling: the ``max_pool`` composite and the window geometry every pooling shares.

Windows come from ``convolution.windows`` (strided slices of the padded input, or a reshape
when windows do not overlap). Max pooling picks each window's first maximum with argmax and
selects it, so its gradient flows to exactly that element, as in PyTorch, and the same
argmax gives ``return_indices``. It is the ``max_pool`` composite of the op table, which a
backend may run as a fused kernel (the CPU does); the derivative of the fused kernel
(``ember/ops/derivatives.py``) uses ``max_pool_input_grad``. ``ember.nn.functional``
re-exports the public functions and builds average and adaptive pooling on the helpers.
"""
from __future__ import annotations

import math

import numpy as np

from ember.core.info import iinfo
from ember.dispatch.public_op import dispatch_point
from ember.dispatch.ops import OPS
from ember.ops.convolution import windows as _conv_windows
from ember.ops.creation import arange, ntuple as _ntuple, tensor, zeros
from ember.ops.elementwise import where
from ember.ops.indexing import scatter, scatter_add
from ember.ops.public import public
from ember.ops.reduction import argmax, run_composite
from ember.ops.shape import constant_pad_nd as _pad_constant


# ---------------------------------------------------------------- geometry
def as_batched(input, nd, name):
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor for input, but got "
                           f"input of size: {list(input.shape)}")
    return (input, True) if input.ndim == nd + 2 else (input.unsqueeze(0), False)


def pool_geometry(x, nd, kernel_size, stride, padding, dilation, ceil_mode, name):
    kernel = _ntuple(kernel_size, nd, "kernel_size")
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) \
        else _ntuple(stride, nd, "stride")
    padding = _ntuple(padding, nd, "padding")
    dilation = _ntuple(dilation, nd, "dilation")
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{name}: kernel_size must be greater than zero, but got kernel_size={list(kernel)}")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{name}: stride must be greater than zero, but got stride={list(stride)}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{name}: dilation must be greater than zero, but got dilation={list(dilation)}")
    for i in range(nd):
        effective = dilation[i] * (kernel[i] - 1) + 1
        if padding[i] < 0 or padding[i] > effective // 2:
            raise RuntimeError(f"{name}: pad should be at most half of effective kernel size, but got "
                               f"pad={padding[i]}, kernel_size={kernel[i]} and dilation={dilation[i]}")
    out = []
    for i in range(nd):
        size = x.shape[2 + i]
        span = size + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1
        o = (-(-span // stride[i]) if ceil_mode else span // stride[i]) + 1
        if ceil_mode and (o - 1) * stride[i] >= size + padding[i]:
            o -= 1  # the last window must start inside the input or its left padding
        out.append(o)
    if min(out) <= 0:
        raise RuntimeError(f"{name}: Given input size: {tuple(x.shape[1:])}. Calculated output size: "
                           f"({', '.join(str(o) for o in out)}). "
                           f"Output size is too small")
    return kernel, stride, padding, dilation, tuple(out)


def pad_for_windows(x, kernel, stride, padding, dilation, out, value):
    """Pad left by ``padding`` and right as far as the last window reaches (crop if less)."""
    amounts = []
    for i in reversed(range(len(kernel))):
        reach = (out[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1
        amounts += [padding[i], reach - x.shape[2 + i] - padding[i]]
    if any(amounts):
        return _pad_constant(x, tuple(amounts), value)
    return x


# ---------------------------------------------------------------- max pooling
def _lowest(dtype):
    return -math.inf if dtype.is_floating_point else iinfo(dtype).min


def _max_pool(input, nd, kernel_size, stride, padding, dilation, ceil_mode, return_indices, name):
    x, batched = as_batched(input, nd, name)
    kernel, stride, padding, dilation, out = pool_geometry(x, nd, kernel_size, stride, padding, dilation,
                                                            ceil_mode, name)
    result, indices = run_composite(OPS["max_pool"], x, kernel=kernel, stride=stride,
                                    padding=padding, dilation=dilation, output_size=out)
    if not return_indices:
        return result if batched else result.squeeze(0)
    if not batched:
        result, indices = result.squeeze(0), indices.squeeze(0)
    return result, indices


def _max_pool_reference(x, *, kernel, stride, padding, dilation, output_size):
    """The ``max_pool`` composite: (values, int64 row-major positions in each input plane)."""
    padded = pad_for_windows(x, kernel, stride, padding, dilation, output_size, _lowest(x.dtype))
    windows = windows_of(padded, kernel, stride, dilation)        # (N, C, *out, K)
    which = argmax(windows, -1, keepdim=True)
    result = pick(windows, which, windows.ndim - 1)
    indices = _flat_indices(which.squeeze(-1), x.shape[2:], kernel, stride, padding, dilation, output_size)
    return result, indices


OPS["max_pool"].decomposition = _max_pool_reference


def max_pool_input_grad(grad, indices, input_shape, *, kernel, stride, dilation):
    """d(max_pool)/d(input): each output's gradient goes to the element it picked (used by the
    derivative rule of the fused ``max_pool``)."""
    n, c = input_shape[:2]
    plane = 1
    for s in input_shape[2:]:
        plane *= s
    empty_planes = zeros((n, c, plane), dtype=grad.dtype, device=grad.device)
    flat_grad, flat_indices = grad.reshape(n, c, -1), indices.reshape(n, c, -1)
    overlapping = any(s < d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))
    if overlapping:  # an element may be picked by several windows: add
        out = scatter_add(empty_planes, 2, flat_indices, flat_grad)
    else:
        out = scatter(empty_planes, 2, flat_indices, flat_grad)
    return out.reshape(input_shape)


def _max_pool_backward_reference(g, indices, *, input_shape, kernel, stride, dilation):
    """The ``max_pool_backward`` composite: ``max_pool_input_grad`` in ember ops."""
    return max_pool_input_grad(g, indices, input_shape, kernel=kernel, stride=stride, dilation=dilation)


OPS["max_pool_backward"].decomposition = _max_pool_backward_reference


def pick(windows, which, dim):
    """windows[..., which, ...] along ``dim`` (dropped), differentiable to exactly the picked element.

    A one-hot select and a sum rather than ``gather``: the same value and gradient, but the
    backward pass is elementwise instead of a scatter-add.
    """
    positions = arange(windows.shape[dim], device=windows.device)
    shape = [1] * windows.ndim
    shape[dim] = windows.shape[dim]
    chosen = positions.reshape(shape) == which
    return where(chosen, windows, 0).sum(dim)  # an int 0: a float one would promote integer windows


def windows_of(x, kernel, stride, dilation):
    """(N, C, *out, K): the windows, each flattened along the last dim."""
    return _conv_windows(x, kernel, stride, dilation, kernel_last=True)


def _flat_indices(offset, spatial, kernel, stride, padding, dilation, out):
    """Row-major index into the input plane of each window's chosen element."""
    nd = len(kernel)
    flat = None
    rest = offset
    for i in reversed(range(nd)):  # the last kernel dim varies fastest in the window's flat offset
        k_i = rest % kernel[i] if i else rest
        rest = rest // kernel[i]
        shape = [1] * (2 + nd)
        shape[2 + i] = out[i]
        start = tensor(np.arange(out[i]).reshape(shape) * stride[i] - padding[i], device=offset.device)
        pos = start + k_i * dilation[i]
        plane = 1
        for s in spatial[i + 1:]:
            plane *= s
        term = pos * plane
        flat = term if flat is None else flat + term
    return flat


@public
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1-d max pooling: the largest value of each sliding window over (N, C, L) or (C, L).

    Args:
        input: ``(N, C, L)``, or ``(C, L)`` without a batch dimension.
        kernel_size: the window size, an int or a 1-tuple.
        stride: the step between neighbouring windows, an int or a 1-tuple; ``None`` (the default) means
            ``kernel_size``.
        padding: an int or a 1-tuple (default 0): padding added on both sides of each spatial dimension,
            never chosen as a maximum; at most half the effective window size ``dilation * (kernel_size - 1) + 1``.
        dilation: the spacing between the elements of a window, an int or a 1-tuple (default 1).
        ceil_mode: round the output size up instead of down, keeping a last partial window (as long as it
            starts inside the input or its left padding).
        return_indices: also return where each maximum was.

    Returns:
        A new tensor ``(N, C, L_out)`` (no ``N`` for an unbatched input), where for each spatial
        dimension ``out = floor((in + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1`` (``ceil``
        with ``ceil_mode``). With ``return_indices``, a tuple ``(values, indices)``: ``indices`` is int64 of the
        same shape, the row-major position of each maximum in its ``L`` input plane (the first one when
        several elements are equal), as ``max_unpool1d`` takes it.

    Raises:
        RuntimeError: for an input of the wrong number of dimensions, a non-positive ``kernel_size``,
            ``stride`` or ``dilation``, a ``padding`` that is negative or over half the window, or an output
            size that is not positive.
    """
    return _max_pool(input, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices, "max_pool1d")


@public
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-d max pooling: the largest value of each sliding window over (N, C, H, W) or (C, H, W).

    Args:
        input: ``(N, C, H, W)``, or ``(C, H, W)`` without a batch dimension.
        kernel_size: the window size, an int or a pair (H, W).
        stride: the step between neighbouring windows, an int or a pair (H, W); ``None`` (the default) means
            ``kernel_size``.
        padding: an int or a pair (H, W) (default 0): padding added on both sides of each spatial dimension,
            never chosen as a maximum; at most half the effective window size ``dilation * (kernel_size - 1) + 1``.
        dilation: the spacing between the elements of a window, an int or a pair (H, W) (default 1).
        ceil_mode: round the output size up instead of down, keeping a last partial window (as long as it
            starts inside the input or its left padding).
        return_indices: also return where each maximum was.

    Returns:
        A new tensor ``(N, C, H_out, W_out)`` (no ``N`` for an unbatched input), where for each spatial
        dimension ``out = floor((in + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1`` (``ceil``
        with ``ceil_mode``). With ``return_indices``, a tuple ``(values, indices)``: ``indices`` is int64 of the
        same shape, the row-major position of each maximum in its ``H * W`` input plane (the first one when
        several elements are equal), as ``max_unpool2d`` takes it.

    Raises:
        RuntimeError: for an input of the wrong number of dimensions, a non-positive ``kernel_size``,
            ``stride`` or ``dilation``, a ``padding`` that is negative or over half the window, or an output
            size that is not positive.
    """
    return _max_pool(input, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices, "max_pool2d")


@public
@dispatch_point("max_pool3d")
def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """3-d max pooling: the largest value of each sliding window over (N, C, D, H, W) or (C, D, H, W).

    Args:
        input: ``(N, C, D, H, W)``, or ``(C, D, H, W)`` without a batch dimension.
        kernel_size: the window size, an int or a triple (D, H, W).
        stride: the step between neighbouring windows, an int or a triple (D, H, W); ``None`` (the default) means
            ``kernel_size``.
        padding: an int or a triple (D, H, W) (default 0): padding added on both sides of each spatial dimension,
            never chosen as a maximum; at most half the effective window size ``dilation * (kernel_size - 1) + 1``.
        dilation: the spacing between the elements of a window, an int or a triple (D, H, W) (default 1).
        ceil_mode: round the output size up instead of down, keeping a last partial window (as long as it
            starts inside the input or its left padding).
        return_indices: also return where each maximum was.

    Returns:
        A new tensor ``(N, C, D_out, H_out, W_out)`` (no ``N`` for an unbatched input), where for each spatial
        dimension ``out = floor((in + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1`` (``ceil``
        with ``ceil_mode``). With ``return_indices``, a tuple ``(values, indices)``: ``indices`` is int64 of the
        same shape, the row-major position of each maximum in its ``D * H * W`` input plane (the first one when
        several elements are equal), as ``max_unpool3d`` takes it.

    Raises:
        RuntimeError: for an input of the wrong number of dimensions, a non-positive ``kernel_size``,
            ``stride`` or ``dilation``, a ``padding`` that is negative or over half the window, or an output
            size that is not positive.
    """
    return _max_pool(input, 3, kernel_size, stride, padding, dilation, ceil_mode, return_indices, "max_pool3d")


@public
def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    """``max_pool1d`` with ``return_indices=True``: the pooled values and where each maximum was.

    Args:
        input, kernel_size, stride, padding, dilation, ceil_mode: as in ``max_pool1d``.
        return_indices: ignored; the indices are always returned.

    Returns:
        A tuple ``(values, indices)``, as ``max_pool1d(..., return_indices=True)`` gives.
    """
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# nn.functional only: PyTorch has no torch.max_pool2d_with_indices
def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    """``max_pool2d`` with ``return_indices=True``: the pooled values and where each maximum was.

    Args:
        input, kernel_size, stride, padding, dilation, ceil_mode: as in ``max_pool2d``.
        return_indices: ignored; the indices are always returned.

    Returns:
        A tuple ``(values, indices)``, as ``max_pool2d(..., return_indices=True)`` gives.
    """
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)
