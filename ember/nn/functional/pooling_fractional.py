"""Fractional max pooling (``F.fractional_max_pool2d/3d``), 3-d adaptive max pooling and
``F.max_pool3d_with_indices``.

Fractional max pooling (Graham, 2014) takes the maximum over ``kernel_size`` windows whose
starts step by a non-integer ratio ``alpha = (in - k) / (out - 1)``: for a sample ``u`` in [0, 1)
per (batch, channel) plane and dimension, window ``i`` starts at
``floor((i + u) * alpha) - floor(u * alpha)`` and the last window ends at the input's edge.
The samples are PyTorch's ``_random_samples`` (``(N, C, nd)``: for 2-d the last dim holds the
width sample then the height sample, for 3-d depth, height, width); unless given they are
drawn uniformly from the global generator.
"""
from __future__ import annotations

import ember
from ember.dispatch.public_op import dispatch_point
from ember.core import dtype as dt
from ember.nn.functional.pooling import _adaptive_max_pool
from ember.ops.creation import ntuple as _ntuple
from ember.ops.pooling import as_batched as _batched, max_pool3d

__all__ = ["fractional_max_pool2d", "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d_with_indices", "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices",
           "max_pool3d_with_indices"]

_DIM_NAMES = {2: ("height", "width"), 3: ("time", "height", "width")}


def _fractional_sizes(x, nd, kernel, output_size, output_ratio, name):
    spatial = x.shape[2:]
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an output_ratio")
    if output_size is None:
        ratio = _ntuple_float(output_ratio, nd)
        for r in ratio:
            if not 0 < r < 1:
                raise ValueError(f"{name} requires output_ratio to either be a single Int or tuple of Ints "
                                 f"in the range (0, 1), got {output_ratio}")
        output_size = [int(s * r) for s, r in zip(spatial, ratio)]
    sizes = _ntuple(output_size, nd, "output_size")
    for size, k, s, what in zip(sizes, kernel, spatial, _DIM_NAMES[nd]):
        if size + k - 1 > s:
            raise RuntimeError(f"{name}(): pool {what} {k} too large relative to input {what} {s}")
    return sizes


def _ntuple_float(value, n):
    if isinstance(value, (int, float)):
        return (float(value),) * n
    value = tuple(float(v) for v in value)
    return value * n if len(value) == 1 else value


def _starts(u, size, out, k):
    """Window starts (N, C, out) along one dim, from the samples ``u`` (N, C)."""
    if out == 1:
        return ember.full((*u.shape, 1), size - k, dtype=dt.int64, device=u.device)
    alpha = float(ember.tensor(size - k, dtype=u.dtype) / ember.tensor(out - 1, dtype=u.dtype))
    steps = ember.arange(out - 1, device=u.device, dtype=u.dtype)
    # computed in the samples' dtype, as PyTorch does, so the truncations agree
    first = ((steps + u.unsqueeze(-1)) * alpha).floor() - (u * alpha).floor().unsqueeze(-1)
    last = ember.full((*u.shape, 1), size - k, dtype=dt.int64, device=u.device)
    return ember.cat([first.to(dt.int64), last], -1)


def _fractional_max_pool(input, nd, kernel_size, output_size, output_ratio, return_indices, samples, name):
    x, batched = _batched(input, nd, name)
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"\"{name}\" not implemented for '{x.dtype}'")
    kernel = _ntuple(kernel_size, nd, "kernel_size")
    sizes = _fractional_sizes(x, nd, kernel, output_size, output_ratio, name)
    n, c = x.shape[:2]
    spatial = x.shape[2:]
    if samples is None:
        samples = ember.rand(n, c, nd, dtype=x.dtype, device=x.device)
    if tuple(samples.shape) != (n, c, nd):
        raise RuntimeError(f"{name}(): expected _random_samples of shape {[n, c, nd]}, got {list(samples.shape)}")
    samples = samples.to(device=x.device)
    # the sample of each spatial dim: 2-d keeps (width, height), 3-d (time, height, width)
    order = (1, 0) if nd == 2 else (0, 1, 2)
    flat = None   # flat in-plane index of every window element: (N, C, *out, *kernel)
    for d in range(nd):
        starts = _starts(samples[..., order[d]], spatial[d], sizes[d], kernel[d])           # (N, C, out_d)
        rows = starts.unsqueeze(-1) + ember.arange(kernel[d], device=x.device)              # (N, C, out_d, k_d)
        stride = 1
        for s in spatial[d + 1:]:
            stride *= s
        shape = [n, c] + [1] * (2 * nd)
        shape[2 + d], shape[2 + nd + d] = sizes[d], kernel[d]
        term = rows.reshape(shape) * stride
        flat = term if flat is None else flat + term
    flat = flat.reshape(n, c, *sizes, -1)
    plane = x.reshape(n, c, -1)
    windows = plane.gather(2, flat.reshape(n, c, -1)).reshape(flat.shape)
    which = ember.argmax(windows, -1, keepdim=True)
    values = windows.gather(-1, which).squeeze(-1)
    if not batched:
        values = values.squeeze(0)
    if not return_indices:
        return values
    indices = flat.gather(-1, which).squeeze(-1)
    return values, indices if batched else indices.squeeze(0)


@dispatch_point("fractional_max_pool2d")
def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """2-d fractional max pooling: maxima over ``kernel_size`` windows placed at pseudo-random fractional steps.

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``; a floating point tensor.
        kernel_size: the window size, an int or a pair (kH, kW).
        output_size: the output size, an int or a pair (H_out, W_out).
        output_ratio: instead of ``output_size``, its ratio to the input size, in (0, 1).
        return_indices: also return where each maximum was.
        _random_samples: ``(N, C, 2)`` samples in [0, 1) (width, then height) fixing the window
            placement; drawn uniformly when None.

    Returns:
        ``(N, C, H_out, W_out)`` maxima (no ``N`` unbatched); with ``return_indices`` a pair
        ``(values, indices)``, the indices int64 row-major positions in the ``H * W`` input plane.
    """
    return _fractional_max_pool(input, 2, kernel_size, output_size, output_ratio, return_indices, _random_samples,
                                "fractional_max_pool2d")


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """``fractional_max_pool2d`` returning ``(values, indices)`` whatever ``return_indices`` says.

    Args:
        input, kernel_size, output_size, output_ratio, _random_samples: as in ``fractional_max_pool2d``.
        return_indices: ignored; the indices are always returned.

    Returns:
        A tuple ``(values, indices)``.
    """
    return _fractional_max_pool(input, 2, kernel_size, output_size, output_ratio, True, _random_samples,
                                "fractional_max_pool2d")


@dispatch_point("fractional_max_pool3d")
def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """3-d fractional max pooling: maxima over ``kernel_size`` windows placed at pseudo-random fractional steps.

    Args:
        input: ``(N, C, T, H, W)`` or ``(C, T, H, W)``; a floating point tensor.
        kernel_size: the window size, an int or a triple (kT, kH, kW).
        output_size: the output size, an int or a triple (T_out, H_out, W_out).
        output_ratio: instead of ``output_size``, its ratio to the input size, in (0, 1).
        return_indices: also return where each maximum was.
        _random_samples: ``(N, C, 3)`` samples in [0, 1) (time, height, width) fixing the window
            placement; drawn uniformly when None.

    Returns:
        ``(N, C, T_out, H_out, W_out)`` maxima (no ``N`` unbatched); with ``return_indices`` a pair
        ``(values, indices)``, the indices int64 row-major positions in the ``T * H * W`` input volume.
    """
    return _fractional_max_pool(input, 3, kernel_size, output_size, output_ratio, return_indices, _random_samples,
                                "fractional_max_pool3d")


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """``fractional_max_pool3d`` returning ``(values, indices)`` whatever ``return_indices`` says.

    Args:
        input, kernel_size, output_size, output_ratio, _random_samples: as in ``fractional_max_pool3d``.
        return_indices: ignored; the indices are always returned.

    Returns:
        A tuple ``(values, indices)``.
    """
    return _fractional_max_pool(input, 3, kernel_size, output_size, output_ratio, True, _random_samples,
                                "fractional_max_pool3d")


@dispatch_point("adaptive_max_pool3d")
def adaptive_max_pool3d(input, output_size, return_indices=False):
    """3-d adaptive max pooling: the largest value of as many windows as the output size asks for.

    Output position ``i`` of a spatial dim covers the input positions ``floor(i * in / out)`` up to
    (not including) ``ceil((i + 1) * in / out)``.

    Args:
        input: ``(N, C, D, H, W)``, or ``(C, D, H, W)`` without a batch dimension.
        output_size: an int or a triple (D, H, W); an entry ``None`` keeps that input size.
        return_indices: also return where each maximum was.

    Returns:
        ``(N, C, *output_size)`` maxima (no ``N`` unbatched); with ``return_indices`` a pair
        ``(values, indices)``, the indices int64 row-major positions in the ``D * H * W`` input volume.
    """
    return _adaptive_max_pool(input, 3, output_size, return_indices, "adaptive_max_pool3d")


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    """``adaptive_max_pool3d`` returning ``(values, indices)`` whatever ``return_indices`` says.

    Args:
        input, output_size: as in ``adaptive_max_pool3d``.
        return_indices: ignored; the indices are always returned.

    Returns:
        A tuple ``(values, indices)``.
    """
    return _adaptive_max_pool(input, 3, output_size, True, "adaptive_max_pool3d")


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    """``max_pool3d`` returning ``(values, indices)`` whatever ``return_indices`` says.

    Args:
        input, kernel_size, stride, padding, dilation, ceil_mode: as in ``max_pool3d``.
        return_indices: ignored; the indices are always returned.

    Returns:
        A tuple ``(values, indices)``: the indices are int64 row-major positions in the ``D * H * W``
        input volume, as ``max_unpool3d`` takes them.
    """
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)
