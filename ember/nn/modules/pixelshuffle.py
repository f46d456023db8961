"""PixelShuffle and PixelUnshuffle."""
from __future__ import annotations

from ember.nn import functional as F
from ember.nn.modules.module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle"]


class PixelShuffle(Module):
    """Rearranges channels into space: ``(*, C * r^2, H, W)`` to ``(*, C, H * r, W * r)``.

    Used for sub-pixel convolution upsampling, with ``r = upscale_factor``.

    Args:
        upscale_factor: the factor ``r`` by which height and width grow.

    Shape:
        input ``(*, C * r^2, H, W)``, output ``(*, C, H * r, W * r)``.
    """

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        """Move blocks of ``r * r`` channels of ``input`` into ``r x r`` spatial patches.

        Args:
            input: a tensor of shape ``(*, C * r^2, H, W)``.

        Returns:
            A tensor of shape ``(*, C, H * r, W * r)``.
        """
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        """Show ``upscale_factor``."""
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """Rearranges space into channels, the inverse of ``PixelShuffle``.

    Args:
        downscale_factor: the factor ``r`` by which height and width shrink; both must be
            divisible by it.

    Shape:
        input ``(*, C, H * r, W * r)``, output ``(*, C * r^2, H, W)``.
    """

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        """Move each ``r x r`` spatial patch of ``input`` into ``r * r`` channels.

        Args:
            input: a tensor of shape ``(*, C, H * r, W * r)``.

        Returns:
            A tensor of shape ``(*, C * r^2, H, W)``.
        """
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        """Show ``downscale_factor``."""
        return f"downscale_factor={self.downscale_factor}"
