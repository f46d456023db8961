"""Pooling: max / average over sliding windows, and their adaptive forms.

Max pooling and the window geometry are the op layer's (``ember.ops.pooling``, re-exported
here). Average pooling sums each window; adaptive average pooling is one averaging matrix
per spatial dim.
"""
from __future__ import annotations

import math

import numpy as np

import ember
from ember.nn.functional.sampling import _index_tensor
from ember.dispatch.public_op import dispatch_point
from ember.dispatch.tracing import guarded
from ember.ops.creation import ntuple as _ntuple
from ember.ops.indexing import _first_outside, _index_bounds
from ember.ops.out import _title
from ember.ops.pooling import (as_batched as _batched, max_pool1d, max_pool1d_with_indices,  # noqa: F401
                               max_pool2d, max_pool2d_with_indices, max_pool3d, pad_for_windows as _pad_for_windows,
                               pick as _pick, pool_geometry as _pool_geometry, windows_of as _windows_of)

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
           "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
           "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool1d_with_indices",
           "adaptive_max_pool2d_with_indices", "lp_pool1d", "lp_pool2d", "max_unpool1d", "max_unpool2d",
           "max_unpool3d"]


def _max_unpool(input, indices, nd, kernel_size, stride, padding, output_size, name):
    """Scatter each value to the position ``indices`` gives it in a zero plane (max pooling's inverse)."""
    kernel = _ntuple(kernel_size, nd, "kernel_size")
    stride = kernel if stride is None else _ntuple(stride, nd, "stride")
    padding = _ntuple(padding, nd, "padding")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}: Expected {nd + 1}D or {nd + 2}D input, but got input of size: "
                           f"{list(input.shape)}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor ({list(input.shape)}) "
                           f"but got indices tensor with shape: {list(indices.shape)}")
    batched = input.ndim == nd + 2
    x, idx = (input, indices) if batched else (input.unsqueeze(0), indices.unsqueeze(0))
    default = [(x.shape[2 + i] - 1) * stride[i] - 2 * padding[i] + kernel[i] for i in range(nd)]
    if output_size is None:
        sizes = default
    else:
        if len(output_size) == nd + 2:  # the leading N, C are dropped, as PyTorch does
            output_size = output_size[2:]
        if len(output_size) != nd:
            raise ValueError(f"output_size should be a sequence containing {nd} or {nd + 2} elements, but it has a "
                             f"length of '{len(output_size)}'")
        sizes = [int(s) for s in output_size]
        for i in range(nd):
            low, high = default[i] - stride[i], default[i] + stride[i]
            if not low < sizes[i] < high:
                raise ValueError(f"invalid output_size \"{output_size}\" (dim {i} must be between {low} and "
                                 f"{high})")
    if indices.dtype is not ember.int64:
        raise RuntimeError(f"elements in indices should be type int64 but got: {_title(indices.dtype)}")
    n, c = x.shape[:2]
    plane = 1
    for s in sizes:
        plane *= s
    flat_idx = idx.reshape(n, c, -1)
    guarded(_check_unpool_indices, flat_idx, plane, tuple(sizes if nd > 1 else [*sizes, 1]))
    zeros = ember.zeros((n, c, plane), dtype=x.dtype, device=x.device)
    out = ember.scatter(zeros, 2, flat_idx, x.reshape(n, c, -1)).reshape(n, c, *sizes)
    return out if batched else out.squeeze(0)


def _check_unpool_indices(flat_idx, plane, volume):
    """RuntimeError naming the offending index if one lies outside the output plane (PyTorch's message)."""
    bounds = _index_bounds(flat_idx)
    if bounds is not None and (bounds[0] < 0 or bounds[1] >= plane):
        bad = _first_outside(flat_idx, 0, plane, last=True)  # PyTorch's kernel reports the last one
        raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size "
                           f"{'x'.join(str(v) for v in volume)})")


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of ``max_pool1d``: each value goes back to the position its index gives, zeros elsewhere.

    Args:
        input: the pooled values, ``(N, C, L)`` or ``(C, L)``.
        indices: the indices ``max_pool1d(..., return_indices=True)`` returned, of ``input``'s shape:
            row-major positions in each output plane.
        kernel_size: the pooling's window size, an int or a 1-tuple.
        stride: the pooling's stride, an int or a 1-tuple; ``None`` (the default) means ``kernel_size``.
        padding: the pooling's padding, an int or a 1-tuple (default 0).
        output_size: the spatial size wanted, as 1 ints (or 3, the leading ``N, C`` being ignored), to
            recover an input size the pooling rounded away; each must lie strictly between ``default - stride``
            and ``default + stride``. ``None`` (the default) gives the default size below.

    Returns:
        A new tensor ``(N, C, L_out)`` (no ``N`` for an unbatched input) of ``input``'s dtype, where by
        default ``out = (in - 1) * stride - 2 * padding + kernel_size`` for each spatial dimension.

    Raises:
        RuntimeError: for an input of the wrong number of dimensions, or ``indices`` of another shape, not int64,
            or with a position outside the output plane.
        ValueError: for an ``output_size`` of the wrong length or out of the range above.
    """
    return _max_unpool(input, indices, 1, kernel_size, stride, padding, output_size, "max_unpool1d")


@dispatch_point("max_unpool2d")
def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of ``max_pool2d``: each value goes back to the position its index gives, zeros elsewhere.

    Args:
        input: the pooled values, ``(N, C, H, W)`` or ``(C, H, W)``.
        indices: the indices ``max_pool2d(..., return_indices=True)`` returned, of ``input``'s shape:
            row-major positions in each output plane.
        kernel_size: the pooling's window size, an int or a pair (H, W).
        stride: the pooling's stride, an int or a pair (H, W); ``None`` (the default) means ``kernel_size``.
        padding: the pooling's padding, an int or a pair (H, W) (default 0).
        output_size: the spatial size wanted, as 2 ints (or 4, the leading ``N, C`` being ignored), to
            recover an input size the pooling rounded away; each must lie strictly between ``default - stride``
            and ``default + stride``. ``None`` (the default) gives the default size below.

    Returns:
        A new tensor ``(N, C, H_out, W_out)`` (no ``N`` for an unbatched input) of ``input``'s dtype, where by
        default ``out = (in - 1) * stride - 2 * padding + kernel_size`` for each spatial dimension.

    Raises:
        RuntimeError: for an input of the wrong number of dimensions, or ``indices`` of another shape, not int64,
            or with a position outside the output plane.
        ValueError: for an ``output_size`` of the wrong length or out of the range above.
    """
    return _max_unpool(input, indices, 2, kernel_size, stride, padding, output_size, "max_unpool2d")


@dispatch_point("max_unpool3d")
def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of ``max_pool3d``: each value goes back to the position its index gives, zeros elsewhere.

    Args:
        input: the pooled values, ``(N, C, D, H, W)`` or ``(C, D, H, W)``.
        indices: the indices ``max_pool3d(..., return_indices=True)`` returned, of ``input``'s shape:
            row-major positions in each output plane.
        kernel_size: the pooling's window size, an int or a triple (D, H, W).
        stride: the pooling's stride, an int or a triple (D, H, W); ``None`` (the default) means ``kernel_size``.
        padding: the pooling's padding, an int or a triple (D, H, W) (default 0).
        output_size: the spatial size wanted, as 3 ints (or 5, the leading ``N, C`` being ignored), to
            recover an input size the pooling rounded away; each must lie strictly between ``default - stride``
            and ``default + stride``. ``None`` (the default) gives the default size below.

    Returns:
        A new tensor ``(N, C, D_out, H_out, W_out)`` (no ``N`` for an unbatched input) of ``input``'s dtype, where by
        default ``out = (in - 1) * stride - 2 * padding + kernel_size`` for each spatial dimension.

    Raises:
        RuntimeError: for an input of the wrong number of dimensions, or ``indices`` of another shape, not int64,
            or with a position outside the output plane.
        ValueError: for an ``output_size`` of the wrong length or out of the range above.
    """
    return _max_unpool(input, indices, 3, kernel_size, stride, padding, output_size, "max_unpool3d")


# ---------------------------------------------------------------- average pooling
def _divisor_1d(size, out, kernel, stride, padding, count_include_pad):
    """How many elements each window of one spatial dim averages over (PyTorch's rule)."""
    starts = np.arange(out) * stride - padding
    ends = np.minimum(starts + kernel, size + padding)
    if count_include_pad:
        return ends - starts
    return np.minimum(ends, size) - np.maximum(starts, 0)


def _avg_pool(input, nd, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, name):
    x, batched = _batched(input, nd, name)
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"\"{name}\" not implemented for '{x.dtype}'")
    kernel, stride, padding, dilation, out = _pool_geometry(x, nd, kernel_size, stride, padding, 1, ceil_mode,
                                                            name)
    padded = _pad_for_windows(x, kernel, stride, padding, dilation, out, 0)
    total = _windows_of(padded, kernel, stride, dilation).sum(-1)
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError(f"{name}: divisor must be not zero")
        result = total / divisor_override
    else:
        counts = np.ones((), dtype=np.float64)
        for i in range(nd):
            d = _divisor_1d(x.shape[2 + i], out[i], kernel[i], stride[i], padding[i], count_include_pad)
            counts = np.multiply.outer(counts, d)
        if np.all(counts == counts.flat[0]):
            result = total / float(counts.flat[0])
        else:
            result = total / ember.tensor(counts, dtype=x.dtype, device=x.device)
    return result if batched else result.squeeze(0)


@dispatch_point("avg_pool1d")
def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-d average pooling: the mean of each sliding window over (N, C, L) or (C, L).

    Args:
        input: ``(N, C, L)``, or ``(C, L)`` without a batch dimension; a floating point tensor.
        kernel_size: the window size, an int or a 1-tuple.
        stride: the step between neighbouring windows, an int or a 1-tuple; ``None`` (the default) means
            ``kernel_size``.
        padding: an int or a 1-tuple (default 0): zeros added on both sides of each spatial dimension; at
            most half of ``kernel_size``.
        ceil_mode: round the output size up instead of down, keeping a last partial window (as long as it
            starts inside the input or its left padding).
        count_include_pad: whether the padding zeros count in a window's divisor (default ``True``); the part
            of a window that ``ceil_mode`` lets run past the padding never counts.

    Returns:
        A new tensor ``(N, C, L_out)`` (no ``N`` for an unbatched input), where for each spatial
        dimension ``out = floor((in + 2 * padding - kernel_size) / stride) + 1`` (``ceil`` with ``ceil_mode``).

    Raises:
        RuntimeError: for an input of the wrong number of dimensions or an integer dtype, a non-positive
            ``kernel_size`` or ``stride``, a ``padding`` that is negative or over half the window, or an
            output size that is not positive.
    """
    return _avg_pool(input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None, "avg_pool1d")


@dispatch_point("avg_pool2d")
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-d average pooling: the mean of each sliding window over (N, C, H, W) or (C, H, W).

    Args:
        input: ``(N, C, H, W)``, or ``(C, H, W)`` without a batch dimension; a floating point tensor.
        kernel_size: the window size, an int or a pair (H, W).
        stride: the step between neighbouring windows, an int or a pair (H, W); ``None`` (the default) means
            ``kernel_size``.
        padding: an int or a pair (H, W) (default 0): zeros added on both sides of each spatial dimension; at
            most half of ``kernel_size``.
        ceil_mode: round the output size up instead of down, keeping a last partial window (as long as it
            starts inside the input or its left padding).
        count_include_pad: whether the padding zeros count in a window's divisor (default ``True``); the part
            of a window that ``ceil_mode`` lets run past the padding never counts.
        divisor_override: if given, every window sum is divided by this number instead of by a count.

    Returns:
        A new tensor ``(N, C, H_out, W_out)`` (no ``N`` for an unbatched input), where for each spatial
        dimension ``out = floor((in + 2 * padding - kernel_size) / stride) + 1`` (``ceil`` with ``ceil_mode``).

    Raises:
        RuntimeError: for an input of the wrong number of dimensions or an integer dtype, a non-positive
            ``kernel_size`` or ``stride``, a ``padding`` that is negative or over half the window, or an
            output size that is not positive, or a zero ``divisor_override``.
    """
    return _avg_pool(input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
                     "avg_pool2d")


@dispatch_point("avg_pool3d")
def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """3-d average pooling: the mean of each sliding window over (N, C, D, H, W) or (C, D, H, W).

    Args:
        input: ``(N, C, D, H, W)``, or ``(C, D, H, W)`` without a batch dimension; a floating point tensor.
        kernel_size: the window size, an int or a triple (D, H, W).
        stride: the step between neighbouring windows, an int or a triple (D, H, W); ``None`` (the default) means
            ``kernel_size``.
        padding: an int or a triple (D, H, W) (default 0): zeros added on both sides of each spatial dimension; at
            most half of ``kernel_size``.
        ceil_mode: round the output size up instead of down, keeping a last partial window (as long as it
            starts inside the input or its left padding).
        count_include_pad: whether the padding zeros count in a window's divisor (default ``True``); the part
            of a window that ``ceil_mode`` lets run past the padding never counts.
        divisor_override: if given, every window sum is divided by this number instead of by a count.

    Returns:
        A new tensor ``(N, C, D_out, H_out, W_out)`` (no ``N`` for an unbatched input), where for each spatial
        dimension ``out = floor((in + 2 * padding - kernel_size) / stride) + 1`` (``ceil`` with ``ceil_mode``).

    Raises:
        RuntimeError: for an input of the wrong number of dimensions or an integer dtype, a non-positive
            ``kernel_size`` or ``stride``, a ``padding`` that is negative or over half the window, or an
            output size that is not positive, or a zero ``divisor_override``.
    """
    return _avg_pool(input, 3, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
                     "avg_pool3d")


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """1-d power-average pooling: (sum of x ** p over each window) ** (1 / p), over (N, C, L) or (C, L).

    ``p = 1`` is sum pooling; as ``p`` grows the result approaches max pooling. The elements are raised to
    ``p`` as they are, not their absolute values, so a window whose sum of powers is negative gives NaN.

    Args:
        input: ``(N, C, L)``, or ``(C, L)`` without a batch dimension; a floating point tensor.
        norm_type: the power ``p``.
        kernel_size: the window size, an int or a 1-tuple.
        stride: the step between neighbouring windows, an int or a 1-tuple; ``None`` (the default) means
            ``kernel_size``.
        ceil_mode: round the output size up instead of down, keeping a last partial window.

    Returns:
        A new tensor ``(N, C, L_out)`` (no ``N`` for an unbatched input), where for each spatial
        dimension ``out = floor((in - kernel_size) / stride) + 1`` (``ceil`` with ``ceil_mode``); there is no
        padding.
    """
    kernel = _ntuple(kernel_size, 1, "kernel_size")
    pooled = avg_pool1d(input.pow(norm_type), kernel, stride, 0, ceil_mode)
    return (ember.sign(pooled) * ember.relu(ember.abs(pooled))).mul(kernel[0]).pow(1.0 / norm_type)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """2-d power-average pooling: (sum of x ** p over each window) ** (1 / p), over (N, C, H, W) or (C, H, W).

    ``p = 1`` is sum pooling; as ``p`` grows the result approaches max pooling. The elements are raised to
    ``p`` as they are, not their absolute values, so a window whose sum of powers is negative gives NaN.

    Args:
        input: ``(N, C, H, W)``, or ``(C, H, W)`` without a batch dimension; a floating point tensor.
        norm_type: the power ``p``.
        kernel_size: the window size, an int or a pair (H, W).
        stride: the step between neighbouring windows, an int or a pair (H, W); ``None`` (the default) means
            ``kernel_size``.
        ceil_mode: round the output size up instead of down, keeping a last partial window.

    Returns:
        A new tensor ``(N, C, H_out, W_out)`` (no ``N`` for an unbatched input), where for each spatial
        dimension ``out = floor((in - kernel_size) / stride) + 1`` (``ceil`` with ``ceil_mode``); there is no
        padding.
    """
    kernel = _ntuple(kernel_size, 2, "kernel_size")
    pooled = avg_pool2d(input.pow(norm_type), kernel, stride, 0, ceil_mode)
    return (ember.sign(pooled) * ember.relu(ember.abs(pooled))).mul(kernel[0] * kernel[1]).pow(1.0 / norm_type)


# ---------------------------------------------------------------- adaptive pooling
def _adaptive_bounds(size, out):
    """PyTorch's adaptive windows: [floor(i * size / out), ceil((i + 1) * size / out))."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def _output_size(x, nd, output_size, name):
    if isinstance(output_size, int):
        sizes = (output_size,) * nd
    else:
        sizes = tuple(output_size)
        if len(sizes) == 1:
            sizes = sizes * nd
        if len(sizes) != nd:
            raise ValueError(f"{name}: output_size must be an int or a sequence of {nd} ints, got {output_size}")
    sizes = tuple(x.shape[2 + i] if s is None else int(s) for i, s in enumerate(sizes))
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"{name}: elements of output_size must be greater than or equal to 0 but received "
                           f"{list(sizes)}")
    for i in range(nd):
        if x.shape[2 + i] == 0 and sizes[i] > 0:
            raise RuntimeError(f"{name}(): Expected input to have non-zero size for non-batch dimensions, but "
                               f"input has sizes {list(x.shape)} with dimension {2 + i} being empty")
    return sizes


def _adaptive_avg(x, sizes):
    """Average over adaptive windows of every spatial dim of (N, C, *S): one matmul per dim."""
    out = x
    for i, o in enumerate(sizes):
        size = x.shape[2 + i]
        if o == size:
            continue
        starts, ends = _adaptive_bounds(size, o)
        matrix = np.zeros((size, o))
        for j in range(o):
            matrix[starts[j]:ends[j], j] = 1.0 / (ends[j] - starts[j])
        m = ember.tensor(matrix, dtype=x.dtype, device=x.device)
        out = ember.matmul(out.movedim(2 + i, -1), m).movedim(-1, 2 + i)
    return out if out is not x else ember.clone(x)


def _adaptive_avg_pool(input, nd, output_size, name):
    x, batched = _batched(input, nd, name)
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"\"{name}\" not implemented for '{x.dtype}'")
    out = _adaptive_avg(x, _output_size(x, nd, output_size, name))
    return out if batched else out.squeeze(0)


def adaptive_avg_pool1d(input, output_size):
    """1-d adaptive average pooling: the mean of as many windows as the output size asks for.

    Output position ``i`` of a spatial dimension averages the input positions from ``floor(i * in / out)``
    up to (not including) ``ceil((i + 1) * in / out)``, so the windows cover the input and may overlap by one.

    Args:
        input: ``(N, C, L)``, or ``(C, L)`` without a batch dimension; a floating point tensor.
        output_size: the spatial size wanted, an int or a 1-tuple; an entry ``None`` keeps that input size.

    Returns:
        A new tensor ``(N, C, *output_size)`` (no ``N`` for an unbatched input).

    Raises:
        ValueError: if ``output_size`` has the wrong number of entries.
        RuntimeError: for an input of the wrong number of dimensions or an integer dtype, a negative output
            size, or an empty spatial dimension asked to give a non-empty one.
    """
    return _adaptive_avg_pool(input, 1, output_size, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input, output_size):
    """2-d adaptive average pooling: the mean of as many windows as the output size asks for.

    Output position ``i`` of a spatial dimension averages the input positions from ``floor(i * in / out)``
    up to (not including) ``ceil((i + 1) * in / out)``, so the windows cover the input and may overlap by one.

    Args:
        input: ``(N, C, H, W)``, or ``(C, H, W)`` without a batch dimension; a floating point tensor.
        output_size: the spatial size wanted, an int or a pair (H, W); an entry ``None`` keeps that input size.

    Returns:
        A new tensor ``(N, C, *output_size)`` (no ``N`` for an unbatched input).

    Raises:
        ValueError: if ``output_size`` has the wrong number of entries.
        RuntimeError: for an input of the wrong number of dimensions or an integer dtype, a negative output
            size, or an empty spatial dimension asked to give a non-empty one.
    """
    return _adaptive_avg_pool(input, 2, output_size, "adaptive_avg_pool2d")


@dispatch_point("adaptive_avg_pool3d")
def adaptive_avg_pool3d(input, output_size):
    """3-d adaptive average pooling: the mean of as many windows as the output size asks for.

    Output position ``i`` of a spatial dimension averages the input positions from ``floor(i * in / out)``
    up to (not including) ``ceil((i + 1) * in / out)``, so the windows cover the input and may overlap by one.

    Args:
        input: ``(N, C, D, H, W)``, or ``(C, D, H, W)`` without a batch dimension; a floating point tensor.
        output_size: the spatial size wanted, an int or a triple (D, H, W); an entry ``None`` keeps that input size.

    Returns:
        A new tensor ``(N, C, *output_size)`` (no ``N`` for an unbatched input).

    Raises:
        ValueError: if ``output_size`` has the wrong number of entries.
        RuntimeError: for an input of the wrong number of dimensions or an integer dtype, a negative output
            size, or an empty spatial dimension asked to give a non-empty one.
    """
    return _adaptive_avg_pool(input, 3, output_size, "adaptive_avg_pool3d")


def _adaptive_max_pool(input, nd, output_size, return_indices, name):
    x, batched = _batched(input, nd, name)
    sizes = _output_size(x, nd, output_size, name)
    # every window padded to the longest one by repeating its last element (the max is unchanged,
    # and argmax still picks the first occurrence), then one advanced index gathers them all
    positions = []
    for i in range(nd):
        starts, ends = _adaptive_bounds(x.shape[2 + i], sizes[i])
        longest = int((ends - starts).max()) if sizes[i] else 1
        positions.append(np.minimum(starts[:, None] + np.arange(longest)[None, :], ends[:, None] - 1))
    grids = np.ix_(*[p.reshape(-1) for p in positions])
    index = [_index_tensor(g, x.device) for g in grids]
    flat = x[(slice(None), slice(None)) + tuple(index)]             # (N, C, o0*k0, o1*k1, ...)
    split = list(x.shape[:2])
    for p in positions:
        split += list(p.shape)
    flat = flat.reshape(split)                                    # (N, C, o0, k0, o1, k1, ...)
    order = [0, 1] + [2 + 2 * i for i in range(nd)] + [3 + 2 * i for i in range(nd)]
    windows = flat.permute(order).reshape(*x.shape[:2], *sizes, -1)
    which = ember.argmax(windows, -1, keepdim=True)
    result = _pick(windows, which, windows.ndim - 1)
    if return_indices:
        plane = np.zeros([p.shape[0] for p in positions] + [p.shape[1] for p in positions], dtype=np.int64)
        for i, p in enumerate(positions):
            stride = int(np.prod(x.shape[3 + i:]))
            shape = [1] * (2 * nd)
            shape[i], shape[nd + i] = p.shape
            plane = plane + p.reshape(shape) * stride
        plane = _index_tensor(plane.reshape(*sizes, -1), x.device)
        indices = ember.gather(plane.expand(*x.shape[:2], *plane.shape), -1, which).squeeze(-1)
        if not batched:
            return result.squeeze(0), indices.squeeze(0)
        return result, indices
    return result if batched else result.squeeze(0)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """1-d adaptive max pooling: the largest value of as many windows as the output size asks for.

    The windows are those of ``adaptive_avg_pool1d``: output position ``i`` of a spatial dimension covers
    the input positions from ``floor(i * in / out)`` up to (not including) ``ceil((i + 1) * in / out)``.

    Args:
        input: ``(N, C, L)``, or ``(C, L)`` without a batch dimension.
        output_size: the spatial size wanted, an int or a 1-tuple; an entry ``None`` keeps that input size.
        return_indices: also return where each maximum was.

    Returns:
        A new tensor ``(N, C, *output_size)`` (no ``N`` for an unbatched input). With ``return_indices``, a
        tuple ``(values, indices)``: ``indices`` is int64 of the same shape, the row-major position of each
        maximum in its ``L`` input plane (the first one when several elements are equal).

    Raises:
        ValueError: if ``output_size`` has the wrong number of entries.
        RuntimeError: for an input of the wrong number of dimensions, a negative output size, or an empty
            spatial dimension asked to give a non-empty one.
    """
    return _adaptive_max_pool(input, 1, output_size, return_indices, "adaptive_max_pool1d")


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """2-d adaptive max pooling: the largest value of as many windows as the output size asks for.

    The windows are those of ``adaptive_avg_pool2d``: output position ``i`` of a spatial dimension covers
    the input positions from ``floor(i * in / out)`` up to (not including) ``ceil((i + 1) * in / out)``.

    Args:
        input: ``(N, C, H, W)``, or ``(C, H, W)`` without a batch dimension.
        output_size: the spatial size wanted, an int or a pair (H, W); an entry ``None`` keeps that input size.
        return_indices: also return where each maximum was.

    Returns:
        A new tensor ``(N, C, *output_size)`` (no ``N`` for an unbatched input). With ``return_indices``, a
        tuple ``(values, indices)``: ``indices`` is int64 of the same shape, the row-major position of each
        maximum in its ``H * W`` input plane (the first one when several elements are equal).

    Raises:
        ValueError: if ``output_size`` has the wrong number of entries.
        RuntimeError: for an input of the wrong number of dimensions, a negative output size, or an empty
            spatial dimension asked to give a non-empty one.
    """
    return _adaptive_max_pool(input, 2, output_size, return_indices, "adaptive_max_pool2d")


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    """``adaptive_max_pool1d`` with ``return_indices=True``: the pooled values and where each maximum was.

    Args:
        input, output_size: as in ``adaptive_max_pool1d``.
        return_indices: ignored; the indices are always returned.

    Returns:
        A tuple ``(values, indices)``, as ``adaptive_max_pool1d(..., return_indices=True)`` gives.
    """
    return _adaptive_max_pool(input, 1, output_size, True, "adaptive_max_pool1d")


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    """``adaptive_max_pool2d`` with ``return_indices=True``: the pooled values and where each maximum was.

    Args:
        input, output_size: as in ``adaptive_max_pool2d``.
        return_indices: ignored; the indices are always returned.

    Returns:
        A tuple ``(values, indices)``, as ``adaptive_max_pool2d(..., return_indices=True)`` gives.
    """
    return _adaptive_max_pool(input, 2, output_size, True, "adaptive_max_pool2d")
