"""Padding, resampling and patch rearrangement: pad, interpolate / upsample, unfold / fold,
pixel_shuffle / pixel_unshuffle, affine_grid / grid_sample.

Everything here is written in ember ops (cat, slicing, index_select, matmul), so it runs
and differentiates on every backend. ``fold`` is a transposed convolution with one-hot
weights and so uses a backend's fused ``conv_transpose`` where there is one.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

import ember
from ember.ops.creation import ntuple as _ntuple
from ember.dispatch.public_op import dispatch_point
from ember.ops.shape import constant_pad_nd as _pad_constant

__all__ = ["pad", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "unfold", "fold",
           "pixel_shuffle", "pixel_unshuffle", "affine_grid", "grid_sample"]


# ---------------------------------------------------------------- helpers shared with the other functional files
def _index_tensor(values, device):
    return ember.tensor(np.asarray(values, dtype=np.int64), device=device)


# ---------------------------------------------------------------- pad
@dispatch_point("pad")
def pad(input, pad, mode="constant", value=None):
    """Pad the last ``len(pad) // 2`` dims: ``pad = (last_left, last_right, 2nd_last_left, ...)``.

    Modes: 'constant' (``value``, default 0; negative amounts crop), 'reflect' (mirror without
    the edge), 'replicate' (repeat the edge) and 'circular' (wrap around).

    Args:
        input: the tensor.
        pad: sequence of an even number of ints, two per padded dim, starting from the last dim.
        mode: ``'constant'`` (default), ``'reflect'``, ``'replicate'`` or ``'circular'``. The non-constant
            modes pad at most the last 3 dims, of an input with one or two leading (batch/channel) dims.
        value: fill value for ``'constant'`` mode; ``None`` means 0. The other modes accept only ``None``
            or 0.

    Returns:
        The padded tensor.

    Raises:
        RuntimeError: if ``pad`` has odd length, pads more dims than ``input`` has, or a reflect /
            circular amount is too large for the dim.
        NotImplementedError: for an unknown mode or an unsupported rank with a non-constant mode.
    """
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError(f"Padding length must be divisible by 2, got padding {list(pad)}")
    n_dims = len(pad) // 2
    if n_dims > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension but "
                           f"got padding length {len(pad)} and input of dimension {input.ndim}")
    if mode == "constant":
        return _pad_constant(input, pad, 0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise ValueError(f"Padding mode \"{mode}\" doesn't take in value argument, got value={value}")
    if not 2 <= input.ndim - n_dims + 1 <= 3 or n_dims > 3:
        raise NotImplementedError(
            f"Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now; got mode '{mode}' "
            f"with padding of length {len(pad)} for an input of {input.ndim} dimensions")
    out = input
    for i in range(n_dims):
        dim = input.ndim - 1 - i
        left, right = pad[2 * i], pad[2 * i + 1]
        if left == 0 and right == 0:
            continue
        size = out.shape[dim]
        index = _pad_index(mode, size, left, right, dim, input.shape)
        out = ember.index_select(out, dim, _index_tensor(index, input.device))
    return out


def _pad_index(mode, size, left, right, dim, shape):
    positions = np.arange(-left, size + right)
    if mode == "reflect":
        if left >= size or right >= size or left < 0 or right < 0:
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({left}, {right}) at dimension {dim} of input {list(shape)}")
        positions = np.abs(positions)
        return np.where(positions >= size, 2 * (size - 1) - positions, positions)
    if mode == "replicate":
        if size == 0:
            raise RuntimeError(f"padding mode 'replicate' needs a non-empty dimension {dim} of input {list(shape)}")
        return np.clip(positions, 0, size - 1)
    if left > size or right > size:
        raise RuntimeError(f"Padding value causes wrapping around more than once: padding ({left}, {right}) at "
                           f"dimension {dim} of input {list(shape)}")
    return np.mod(positions, size)


# ---------------------------------------------------------------- pixel shuffle
def pixel_shuffle(input, upscale_factor):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r).

    Moves blocks of ``r * r`` channels into ``r x r`` spatial patches (sub-pixel convolution).

    Args:
        input: tensor of at least 3 dims whose channel dim (-3) is divisible by ``upscale_factor ** 2``.
        upscale_factor: the factor ``r`` by which height and width grow.

    Returns:
        A tensor of shape ``(*, C, H * r, W * r)``.
    """
    r = int(upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.ndim} dimension(s)")
    *batch, c, h, w = input.shape
    if r <= 0 or c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square "
                           f"of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    b = len(batch)
    x = input.reshape(*batch, c // (r * r), r, r, h, w)
    x = x.permute(*range(b), b, b + 3, b + 1, b + 4, b + 2)
    return x.reshape(*batch, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W).

    The inverse of :func:`pixel_shuffle`: each ``r x r`` spatial patch becomes ``r * r`` channels.

    Args:
        input: tensor of at least 3 dims whose height and width are divisible by ``downscale_factor``.
        downscale_factor: the factor ``r`` by which height and width shrink.

    Returns:
        A tensor of shape ``(*, C * r * r, H, W)``.
    """
    r = int(downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.ndim} dimension(s)")
    *batch, c, h, w = input.shape
    if r <= 0 or h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle expects height ({h}) and width ({w}) to be divisible by "
                           f"downscale_factor ({r})")
    b = len(batch)
    x = input.reshape(*batch, c, h // r, r, w // r, r)
    x = x.permute(*range(b), b, b + 2, b + 4, b + 1, b + 3)
    return x.reshape(*batch, c * r * r, h // r, w // r)


# ---------------------------------------------------------------- unfold / fold (im2col / col2im)
def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding local blocks: (N, C, H, W) -> (N, C * kh * kw, L), channel-major as in PyTorch.

    Each column of the result holds one ``kh x kw`` block of every channel; ``L`` is the
    number of block positions.

    Args:
        input: a 4-D ``(N, C, H, W)`` or 3-D ``(C, H, W)`` tensor.
        kernel_size: the block size, an int or a pair.
        dilation: spacing between the elements of a block, an int or a pair. Default: ``1``.
        padding: zero padding added on both sides of each spatial dim, an int or a pair. Default: ``0``.
        stride: step between block positions, an int or a pair. Default: ``1``.

    Returns:
        A tensor of shape ``(N, C * kh * kw, L)`` (``(C * kh * kw, L)`` for a 3-D input).
    """
    from ember.ops.convolution import windows as _windows
    batched = input.ndim == 4
    if input.ndim not in (3, 4):
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported (got {input.ndim}D)")
    x = input if batched else input.unsqueeze(0)
    kernel = _ntuple(kernel_size, 2, "kernel_size")
    dilation, padding, stride = (_ntuple(v, 2, n) for v, n in ((dilation, "dilation"), (padding, "padding"),
                                                                (stride, "stride")))
    sizes = [(x.shape[2 + i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
             for i in range(2)]
    if min(sizes) <= 0:
        raise RuntimeError(f"Given input with spatial size {tuple(x.shape[2:])}, kernel_size={kernel}, "
                           f"dilation={dilation}, padding={padding}, calculated shape of the array of sliding "
                           f"blocks as {tuple(sizes)}, but its components must be at least one.")
    if any(padding):
        x = _pad_constant(x, (padding[1], padding[1], padding[0], padding[0]), 0)
    cols = _windows(x, kernel, stride, dilation)  # (N, C, kh*kw, oh, ow)
    n, c = x.shape[:2]
    cols = cols.reshape(n, c * kernel[0] * kernel[1], sizes[0] * sizes[1])
    return cols if batched else cols.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum sliding local blocks back into an image: (N, C * kh * kw, L) -> (N, C, H, W).

    The counterpart of :func:`unfold`; where blocks overlap their values are added.

    Args:
        input: a 3-D ``(N, C * kh * kw, L)`` or 2-D ``(C * kh * kw, L)`` tensor.
        output_size: the spatial size ``(H, W)`` of the result, an int or a pair.
        kernel_size: the block size, an int or a pair.
        dilation: spacing between the elements of a block, an int or a pair. Default: ``1``.
        padding: implicit zero padding of the output on both sides, an int or a pair. Default: ``0``.
        stride: step between block positions, an int or a pair. Default: ``1``.

    Returns:
        A tensor of shape ``(N, C, H, W)`` (``(C, H, W)`` for a 2-D input).

    Raises:
        RuntimeError: if ``L`` or the channel size do not match the block layout.
    """
    from ember.ops.convolution import _conv_transpose
    batched = input.ndim == 3
    if input.ndim not in (2, 3):
        raise NotImplementedError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are "
                                  f"supported (got {input.ndim}D)")
    x = input if batched else input.unsqueeze(0)
    out_size = _ntuple(output_size, 2, "output_size")
    kernel = _ntuple(kernel_size, 2, "kernel_size")
    dilation, padding, stride = (_ntuple(v, 2, n) for v, n in ((dilation, "dilation"), (padding, "padding"),
                                                                (stride, "stride")))
    n, ck, length = x.shape
    k = kernel[0] * kernel[1]
    if ck % k:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, "
                           f"but got input.size(1)={ck} and kernel_size={kernel}")
    blocks = [(out_size[i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1 for i in range(2)]
    if blocks[0] * blocks[1] != length or min(blocks) <= 0:
        raise RuntimeError(f"Given output_size={out_size}, kernel_size={kernel}, dilation={dilation}, "
                           f"padding={padding}, stride={stride}, expected size of input's dimension 2 to match the "
                           f"calculated number of sliding blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, "
                           f"but got input.size(2)={length}.")
    c = ck // k
    # one-hot weights: input channel (c, kernel offset) writes only its own offset of output channel c
    eye = ember.eye(k, dtype=x.dtype, device=x.device).reshape(k, 1, *kernel)
    weight = eye.repeat(c, 1, 1, 1)
    reached = [(blocks[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 - 2 * padding[i] for i in range(2)]
    output_padding = tuple(out_size[i] - reached[i] for i in range(2))
    out = _conv_transpose(x.reshape(n, ck, *blocks), weight, None, stride=stride, padding=padding,
                          output_padding=output_padding, dilation=dilation, groups=c)
    return out if batched else out.squeeze(0)


# ---------------------------------------------------------------- interpolate
_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
_MODE_DIMS = {"linear": 1, "bilinear": 2, "trilinear": 3, "bicubic": 2}


@dispatch_point("interpolate")
def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resample the spatial dims (everything after N and C) to ``size`` or by ``scale_factor``.

    Args:
        input: tensor of shape ``(N, C, d1)``, ``(N, C, d1, d2)`` or ``(N, C, d1, d2, d3)``.
        size: the output spatial size, an int or one int per spatial dim. Exactly one of ``size`` and
            ``scale_factor`` must be given.
        scale_factor: a multiplier, or one per spatial dim; the output size is rounded down.
        mode: ``'nearest'`` (default), ``'nearest-exact'``, ``'linear'`` (3-D input), ``'bilinear'`` or
            ``'bicubic'`` (4-D), ``'trilinear'`` (5-D), or ``'area'`` (adaptive average pooling).
        align_corners: for the linear and cubic modes only: if ``True``, the corner pixels of input and
            output are aligned; ``None`` means ``False``.
        recompute_scale_factor: if ``True``, the sampling uses the ratio of the computed sizes instead of
            the given ``scale_factor``.
        antialias: must be ``False``; anti-aliasing is not implemented.

    Returns:
        A tensor of shape ``(N, C, *out_size)``.

    Raises:
        NotImplementedError: for an unknown mode, an input rank the mode does not support, or ``antialias``.
        ValueError: if both or neither of ``size`` and ``scale_factor`` are given, or ``align_corners`` is set
            for a mode that does not interpolate.
    """
    if mode not in _MODES:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) "
                                  f"for the modes: nearest | linear | bilinear | bicubic | trilinear | area | "
                                  f"nearest-exact (got {mode})")
    if antialias:
        raise NotImplementedError("interpolate(antialias=True) is not implemented in ember")
    nd = input.ndim - 2
    if nd < 1 or nd > 3:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) "
                                  f"for the modes: nearest | linear | bilinear | bicubic | trilinear | area | "
                                  f"nearest-exact (got {mode})")
    if mode in _MODE_DIMS and _MODE_DIMS[mode] != nd:
        expected = {1: "3D", 2: "4D", 3: "5D"}[_MODE_DIMS[mode]]
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {expected} input")
    if align_corners is not None and mode not in ("linear", "bilinear", "bicubic", "trilinear"):
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    align_corners = bool(align_corners)
    in_sizes = tuple(input.shape[2:])
    out_sizes, scales = _output_sizes(in_sizes, size, scale_factor, recompute_scale_factor, nd)
    if mode == "area":
        from ember.nn.functional.pooling import _adaptive_avg
        return _adaptive_avg(input, out_sizes)
    out = input
    for i in range(nd):
        dim = 2 + i
        if mode in ("nearest", "nearest-exact"):
            index = _nearest_index(in_sizes[i], out_sizes[i], scales[i], exact=mode == "nearest-exact")
            out = ember.index_select(out, dim, _index_tensor(index, input.device))
        elif mode == "bicubic":
            out = _cubic_along(out, dim, in_sizes[i], out_sizes[i], scales[i], align_corners)
        else:
            out = _linear_along(out, dim, in_sizes[i], out_sizes[i], scales[i], align_corners)
    return out


def _output_sizes(in_sizes, size, scale_factor, recompute_scale_factor, nd):
    if (size is None) == (scale_factor is None):
        raise ValueError("either size or scale_factor should be defined" if size is None
                         else "only one of size or scale_factor should be defined")
    if size is not None:
        sizes = _ntuple(size, nd, "size") if not isinstance(size, numbers.Integral) else (int(size),) * nd
        if len(sizes) != nd:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input "
                             f"with spatial dimensions of {list(in_sizes)} and output size of {list(sizes)}. "
                             f"Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                             f"(o1, o2, ...,oK) format.")
        return sizes, (None,) * nd
    factors = (float(scale_factor),) * nd if isinstance(scale_factor, numbers.Real) \
        else tuple(float(f) for f in scale_factor)
    if len(factors) != nd:
        raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got input "
                         f"with spatial dimensions of {list(in_sizes)} and scale_factor of shape {list(factors)}. "
                         f"Please provide input tensor in (N, C, d1, d2, ...,dK) format and scale_factor in "
                         f"(s1, s2, ...,sK) format.")
    sizes = tuple(int(math.floor(s * f)) for s, f in zip(in_sizes, factors))
    # the kernels use the user's factor unless asked to recompute it from the sizes
    scales = (None,) * nd if recompute_scale_factor else factors
    return sizes, scales


def _source_scale(in_size, out_size, scale, align_corners):
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    return 1.0 / scale if scale is not None and scale > 0 else in_size / out_size


def _nearest_index(in_size, out_size, scale, exact):
    ratio = _source_scale(in_size, out_size, scale, False)
    dst = np.arange(out_size, dtype=np.float64)
    src = np.floor((dst + 0.5) * ratio) if exact else np.floor(dst.astype(np.float32) * np.float32(ratio))
    return np.minimum(src.astype(np.int64), in_size - 1)


def _linear_along(x, dim, in_size, out_size, scale, align_corners):
    ratio = _source_scale(in_size, out_size, scale, align_corners)
    dst = np.arange(out_size, dtype=np.float64)
    src = dst * ratio if align_corners else np.maximum((dst + 0.5) * ratio - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    hi = np.minimum(lo + 1, in_size - 1)
    frac = src - lo
    shape = [1] * x.ndim
    shape[dim] = out_size
    w = ember.tensor(frac.reshape(shape), dtype=x.dtype, device=x.device)
    a = ember.index_select(x, dim, _index_tensor(lo, x.device))
    b = ember.index_select(x, dim, _index_tensor(hi, x.device))
    return a + (b - a) * w


def _cubic_along(x, dim, in_size, out_size, scale, align_corners):
    ratio = _source_scale(in_size, out_size, scale, align_corners)
    dst = np.arange(out_size, dtype=np.float64)
    src = dst * ratio if align_corners else (dst + 0.5) * ratio - 0.5
    base = np.floor(src).astype(np.int64)
    t = src - base
    a = -0.75  # the cubic convolution coefficient PyTorch uses

    def near(d):  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    weights = (far(t + 1), near(t), near(1 - t), far(2 - t))
    out = None
    shape = [1] * x.ndim
    shape[dim] = out_size
    for k, wk in enumerate(weights):
        index = np.clip(base - 1 + k, 0, in_size - 1)
        term = ember.index_select(x, dim, _index_tensor(index, x.device)) * \
            ember.tensor(wk.reshape(shape), dtype=x.dtype, device=x.device)
        out = term if out is None else out + term
    return out


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Resamples ``input``: an older name for :func:`interpolate` with the same behaviour.

    Args:
        input: tensor of shape ``(N, C, d1[, d2[, d3]])``.
        size: the output spatial size, an int or one per spatial dim.
        scale_factor: a multiplier, or one per spatial dim (give this or ``size``).
        mode: the resampling mode, as in :func:`interpolate`. Default: ``'nearest'``.
        align_corners: as in :func:`interpolate`.

    Returns:
        The resampled tensor, shape ``(N, C, *out_size)``.
    """
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Nearest-neighbour resampling: :func:`interpolate` with ``mode='nearest'``.

    Args:
        input: tensor of shape ``(N, C, d1[, d2[, d3]])``.
        size: the output spatial size, an int or one per spatial dim.
        scale_factor: a multiplier, or one per spatial dim (give this or ``size``).

    Returns:
        The resampled tensor, shape ``(N, C, *out_size)``.
    """
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Bilinear resampling with aligned corners: :func:`interpolate` with ``mode='bilinear', align_corners=True``.

    Args:
        input: a 4-D ``(N, C, H, W)`` tensor.
        size: the output size ``(H_out, W_out)``, or an int for both.
        scale_factor: a multiplier, or one per spatial dim (give this or ``size``).

    Returns:
        The resampled tensor, shape ``(N, C, H_out, W_out)``.
    """
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)



# ---------------------------------------------------------------- affine_grid / grid_sample
def _base_coords(size, align_corners):
    """The normalized [-1, 1] coordinate of each of ``size`` pixel centres (or corners)."""
    if align_corners:
        return np.linspace(-1.0, 1.0, size) if size > 1 else np.zeros(1)
    return (np.arange(size) * 2.0 + 1.0) / size - 1.0


def affine_grid(theta, size, align_corners=None):
    """Sampling grid (N, H, W, 2) (or (N, D, H, W, 3)) of the affine maps ``theta`` (N, 2, 3) (or (N, 3, 4)).

    The grid holds normalized coordinates in ``[-1, 1]`` (x first), ready for :func:`grid_sample`.

    Args:
        theta: floating tensor of affine matrices, ``(N, 2, 3)`` for 2-D or ``(N, 3, 4)`` for 3-D.
        size: the target size ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
        align_corners: if ``True``, -1 and 1 refer to the centres of the corner pixels; otherwise (the
            default, also for ``None``) to their outer edges.

    Returns:
        A grid of shape ``(N, H, W, 2)`` or ``(N, D, H, W, 3)``, of ``theta``'s dtype.

    Raises:
        ValueError: if ``theta`` is not floating or its shape does not match ``size``.
        NotImplementedError: if ``size`` has neither 4 nor 5 entries.
    """
    align_corners = bool(align_corners)
    if not theta.dtype.is_floating_point:
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = [int(s) for s in size]
    if len(size) == 4:
        if theta.ndim != 3 or tuple(theta.shape[1:]) != (2, 3):
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {size}. Got "
                             f"{list(theta.shape)}.")
        spatial = size[2:]
    elif len(size) == 5:
        if theta.ndim != 3 or tuple(theta.shape[1:]) != (3, 4):
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {size}. Got "
                             f"{list(theta.shape)}.")
        spatial = size[2:]
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    if theta.shape[0] != size[0]:
        raise ValueError(f"Expected theta to have the batch size {size[0]} of size, got {theta.shape[0]}")
    axes = [_base_coords(n, align_corners) for n in reversed(spatial)]  # x (width) first
    mesh = np.meshgrid(*axes[::-1], indexing="ij")                            # spatial order
    coords = [m for m in reversed(mesh)] + [np.ones_like(mesh[0])]           # (x, y[, z], 1)
    base = np.stack(coords, -1).reshape(-1, len(coords))                      # (points, nd + 1)
    base = ember.tensor(base, dtype=theta.dtype, device=theta.device)
    grid = ember.matmul(base, theta.transpose(1, 2))                          # (N, points, nd)
    return grid.reshape(size[0], *spatial, len(spatial))


def _unnormalize(coord, size, align_corners):
    if align_corners:
        return (coord + 1) * ((size - 1) / 2)
    return ((coord + 1) * size - 1) / 2


def _reflect(coord, low2, high2):
    """Fold ``coord`` into [low2 / 2, high2 / 2] by reflecting at the ends (repeatedly)."""
    if low2 == high2:
        return coord * 0
    low = low2 / 2
    span = (high2 - low2) / 2
    shifted = ember.abs(coord - low)
    extra = ember.fmod(shifted, span)
    flips = ember.floor(shifted / span)
    even = ember.remainder(flips, 2) == 0
    return ember.where(even, extra + low, span - extra + low)


def _source_coord(coord, size, padding_mode, align_corners):
    coord = _unnormalize(coord, size, align_corners)
    if padding_mode == "border":
        return ember.clamp(coord, 0, size - 1)
    if padding_mode == "reflection":
        coord = _reflect(coord, 0, 2 * (size - 1)) if align_corners else _reflect(coord, -1, 2 * size - 1)
        return ember.clamp(coord, 0, size - 1)
    return coord


def _gather_pixels(flat, iy, ix, height, width):
    """flat (N, C, H*W); iy / ix (N, Ho, Wo) integer-valued floats -> (N, C, Ho, Wo), 0 outside."""
    n, c = flat.shape[:2]
    inside = (ix >= 0) & (ix <= width - 1) & (iy >= 0) & (iy <= height - 1)
    index = (ember.clamp(iy, 0, height - 1) * width + ember.clamp(ix, 0, width - 1)).to(ember.int64)
    out_shape = tuple(index.shape[1:])
    index = index.reshape(n, 1, -1).expand(n, c, index[0].numel())
    values = ember.gather(flat, 2, index).reshape(n, c, *out_shape)
    return ember.where(inside.unsqueeze(1), values, 0.0)


@dispatch_point("grid_sampler")
def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample (N, C, H, W) ``input`` at the normalized (x, y) locations of ``grid`` (N, Ho, Wo, 2),
    or (N, C, D, H, W) ``input`` at the (x, y, z) locations of ``grid`` (N, Do, Ho, Wo, 3).

    Coordinates run from -1 (left/top/front) to 1 (right/bottom/back).

    Args:
        input: tensor of shape ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
        grid: tensor of shape ``(N, H_out, W_out, 2)`` (or ``(N, D_out, H_out, W_out, 3)``) of ``input``'s dtype.
        mode: ``'bilinear'`` (default; trilinear for 5-D), ``'nearest'`` or ``'bicubic'`` (4-D only).
        padding_mode: what is read outside the input: ``'zeros'`` (default), ``'border'`` (the nearest
            edge value) or ``'reflection'`` (mirrored at the edges).
        align_corners: if ``True``, -1 and 1 refer to the centres of the corner pixels; otherwise (the
            default, also for ``None``) to their outer edges.

    Returns:
        A tensor of shape ``(N, C, H_out, W_out)`` (``(N, C, D_out, H_out, W_out)`` for 5-D).

    Raises:
        ValueError: for an unknown ``mode`` or ``padding_mode``.
        RuntimeError: if ``grid`` has the wrong shape or dtype, the input is not 4-D or 5-D, or
            ``mode='bicubic'`` is asked of a 5-D input.
    """
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', "
                         f"but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if input.ndim not in (4, 5):
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same number of dimensions, but "
                           f"got input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if input.ndim == 5 and mode == "bicubic":
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if grid.ndim != input.ndim or grid.shape[-1] != input.ndim - 2 or grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"grid_sample(): expected grid of shape (N, *out, {input.ndim - 2}) with N = "
                           f"{input.shape[0]}, but got grid of shape {list(grid.shape)}")
    if grid.dtype is not input.dtype:
        raise RuntimeError(f"grid_sample(): expected input and grid to have the same dtype, but input has "
                           f"{input.dtype} and grid has {grid.dtype}")
    align_corners = bool(align_corners)
    if input.ndim == 5 or mode == "bicubic":   # volumetric and bicubic sampling live in grid.py
        from ember.nn.functional import grid as _grid
        if input.ndim == 5:
            return _grid.sample_3d(input, grid, mode, padding_mode, align_corners)
        return _grid.bicubic_2d(input, grid, padding_mode, align_corners)
    n, c, height, width = input.shape
    ix = _source_coord(grid[..., 0], width, padding_mode, align_corners)
    iy = _source_coord(grid[..., 1], height, padding_mode, align_corners)
    flat = input.reshape(n, c, height * width)
    if mode == "nearest":
        return _gather_pixels(flat, ember.round(iy).detach(), ember.round(ix).detach(), height, width)
    x0, y0 = ember.floor(ix).detach(), ember.floor(iy).detach()
    x1, y1 = x0 + 1, y0 + 1
    wx1, wy1 = ix - x0, iy - y0
    wx0, wy0 = 1 - wx1, 1 - wy1
    out = None
    for yy, wy in ((y0, wy0), (y1, wy1)):
        for xx, wx in ((x0, wx0), (x1, wx1)):
            term = _gather_pixels(flat, yy, xx, height, width) * (wy * wx).unsqueeze(1)
            out = term if out is None else out + term
    return out
