"""Upsampling layers over ``F.interpolate``."""
from __future__ import annotations

from ember.nn import functional as F
from ember.nn.modules.module import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]


class Upsample(Module):
    """Resamples the spatial dimensions of a batch of 1-D, 2-D or 3-D data.

    Give exactly one of ``size`` and ``scale_factor``. With a scale factor the output size
    of each spatial dim is ``floor(input_size * scale_factor)``.

    Args:
        size: the output spatial size: an int (the same for every spatial dim) or a tuple.
        scale_factor: the multiplier of each spatial size: a number or a tuple of numbers.
        mode: the resampling algorithm: ``'nearest'`` (default), ``'nearest-exact'``,
            ``'linear'`` (3-D input), ``'bilinear'`` or ``'bicubic'`` (4-D input),
            ``'trilinear'`` (5-D input), or ``'area'`` (adaptive average pooling).
        align_corners: for the linear and cubic modes only (setting it with another mode raises
            ``ValueError``): if True, the corner pixels of input and output are aligned; if
            False or None, pixel centres are scaled by the size ratio.
        recompute_scale_factor: if True, the interpolation uses the ratio of the computed
            output size to the input size instead of the given ``scale_factor``.

    Shape:
        input ``(N, C, *S_in)``, output ``(N, C, *S_out)``, with one to three spatial dims.
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        """Resample ``input`` as configured.

        Args:
            input: a tensor of shape ``(N, C, *S_in)`` with 1, 2 or 3 spatial dims.

        Returns:
            A tensor of shape ``(N, C, *S_out)``.
        """
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        """Show ``scale_factor`` (or ``size``) and ``mode``."""
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return f"{info}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour upsampling of 2-D images (``Upsample`` with ``mode='nearest'``).

    Give exactly one of ``size`` and ``scale_factor``.

    Args:
        size: the output size ``(H_out, W_out)``, or an int for both.
        scale_factor: the multiplier of height and width: a number or a pair.

    Shape:
        input ``(N, C, H, W)``, output ``(N, C, H_out, W_out)``.
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling of 2-D images with ``align_corners=True``.

    The same as ``Upsample(size, scale_factor, mode='bilinear', align_corners=True)``. Give
    exactly one of ``size`` and ``scale_factor``.

    Args:
        size: the output size ``(H_out, W_out)``, or an int for both.
        scale_factor: the multiplier of height and width: a number or a pair.

    Shape:
        input ``(N, C, H, W)``, output ``(N, C, H_out, W_out)``.
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
