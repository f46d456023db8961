"""The parts of ``F.grid_sample`` beyond 2-d bilinear / nearest (``sampling.py``): bicubic
sampling of 4-d inputs and bilinear / nearest sampling of 5-d (volumetric) inputs.

Bicubic uses the cubic convolution kernel with ``A = -0.75`` over the 4 x 4 neighbours of each
location; each neighbour's coordinate is padded on its own (border: clamped; reflection:
mirrored, then clamped; zeros: read as 0 outside), as PyTorch does. Everything is ember ops
(gathers and weighted sums), so gradients reach both the input and the grid.
"""
from __future__ import annotations

import ember
from ember.nn.functional.sampling import _gather_pixels, _reflect, _source_coord, _unnormalize

__all__ = []

_A = -0.75   # the cubic convolution kernel's free parameter


def _cubic_weights(t):
    """The four tap weights for fractional offsets ``t`` in [0, 1): taps at -1, 0, 1, 2."""
    def near(x):   # |x| <= 1
        return ((_A + 2) * x - (_A + 3)) * x * x + 1

    def far(x):    # 1 < |x| < 2
        return ((_A * x - 5 * _A) * x + 8 * _A) * x - 4 * _A
    return far(t + 1), near(t), near(1 - t), far(2 - t)


def _pad_tap(coord, size, padding_mode, align_corners):
    """A neighbour's integer coordinate with the padding rule applied (zeros: unchanged)."""
    if padding_mode == "border":
        return ember.clamp(coord, 0, size - 1)
    if padding_mode == "reflection":
        coord = _reflect(coord, 0, 2 * (size - 1)) if align_corners else _reflect(coord, -1, 2 * size - 1)
        return ember.clamp(coord, 0, size - 1)
    return coord


def bicubic_2d(input, grid, padding_mode, align_corners):
    """Bicubic ``grid_sample`` of ``input`` (N, C, H, W) at ``grid`` (N, Ho, Wo, 2) -> (N, C, Ho, Wo)."""
    n, c, height, width = input.shape
    ix = _unnormalize(grid[..., 0], width, align_corners)
    iy = _unnormalize(grid[..., 1], height, align_corners)
    x0, y0 = ember.floor(ix).detach(), ember.floor(iy).detach()
    wx, wy = _cubic_weights(ix - x0), _cubic_weights(iy - y0)
    flat = input.reshape(n, c, height * width)
    out = None
    for i in range(4):
        yy = _pad_tap(y0 + (i - 1), height, padding_mode, align_corners).detach()
        for j in range(4):
            xx = _pad_tap(x0 + (j - 1), width, padding_mode, align_corners).detach()
            term = _gather_pixels(flat, ember.round(yy), ember.round(xx), height, width) * (wy[i] * wx[j]).unsqueeze(1)
            out = term if out is None else out + term
    return out


def _gather_voxels(flat, iz, iy, ix, depth, height, width):
    """flat (N, C, D*H*W); integer-valued float coordinates (N, Do, Ho, Wo) -> (N, C, Do, Ho, Wo), 0 outside."""
    n, c = flat.shape[:2]
    inside = (ix >= 0) & (ix <= width - 1) & (iy >= 0) & (iy <= height - 1) & (iz >= 0) & (iz <= depth - 1)
    index = ((ember.clamp(iz, 0, depth - 1) * height + ember.clamp(iy, 0, height - 1)) * width
             + ember.clamp(ix, 0, width - 1)).to(ember.int64)
    out_shape = tuple(index.shape[1:])
    index = index.reshape(n, 1, -1).expand(n, c, index[0].numel())
    values = ember.gather(flat, 2, index).reshape(n, c, *out_shape)
    return ember.where(inside.unsqueeze(1), values, 0.0)


def sample_3d(input, grid, mode, padding_mode, align_corners):
    """Trilinear or nearest ``grid_sample`` of ``input`` (N, C, D, H, W) at ``grid`` (N, Do, Ho, Wo, 3)."""
    n, c, depth, height, width = input.shape
    ix = _source_coord(grid[..., 0], width, padding_mode, align_corners)
    iy = _source_coord(grid[..., 1], height, padding_mode, align_corners)
    iz = _source_coord(grid[..., 2], depth, padding_mode, align_corners)
    flat = input.reshape(n, c, depth * height * width)
    if mode == "nearest":
        return _gather_voxels(flat, ember.round(iz).detach(), ember.round(iy).detach(), ember.round(ix).detach(),
                              depth, height, width)
    x0, y0, z0 = ember.floor(ix).detach(), ember.floor(iy).detach(), ember.floor(iz).detach()
    fx, fy, fz = ix - x0, iy - y0, iz - z0
    out = None
    for zz, wz in ((z0, 1 - fz), (z0 + 1, fz)):
        for yy, wy in ((y0, 1 - fy), (y0 + 1, fy)):
            for xx, wx in ((x0, 1 - fx), (x0 + 1, fx)):
                term = _gather_voxels(flat, zz, yy, xx, depth, height, width) * (wz * wy * wx).unsqueeze(1)
                out = term if out is None else out + term
    return out
