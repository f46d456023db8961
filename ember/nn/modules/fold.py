"""Fold and Unfold (col2im / im2col) layers over ``F.fold`` / ``F.unfold``."""
from __future__ import annotations

from ember.nn import functional as F
from ember.nn.modules.module import Module

__all__ = ["Fold", "Unfold"]


class Fold(Module):
    """Sums sliding local blocks back into an image (col2im), the inverse layout of ``Unfold``.

    Column ``l`` of the input holds the ``C * kh * kw`` values of block ``l`` (channel-major);
    each block is added into the output at its position, so overlapping blocks sum. Only
    2-D images are supported.

    Args:
        output_size: the spatial size ``(H, W)`` of the output (an int means ``(H, H)``).
        kernel_size: the block size ``(kh, kw)`` (an int for a square block).
        dilation: the spacing between the elements of a block (default: 1).
        padding: the implicit zero padding on both sides of each spatial dim, cropped from the
            output (default: 0).
        stride: the step between blocks (default: 1).

    Shape:
        input ``(N, C * kh * kw, L)`` or ``(C * kh * kw, L)``, where ``L`` is the number of
        block positions that fit in the padded output; output ``(N, C, H, W)`` or ``(C, H, W)``.
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input):
        """Sum the blocks of ``input`` into an image of size ``output_size``.

        Args:
            input: a tensor of shape ``(N, C * kh * kw, L)`` or ``(C * kh * kw, L)``.

        Returns:
            A tensor of shape ``(N, C, *output_size)`` or ``(C, *output_size)``.
        """
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        """Show the output size, kernel size, dilation, padding and stride."""
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Unfold(Module):
    """Extracts sliding local blocks of an image into columns (im2col).

    Each output column holds the ``C * kh * kw`` values of one block, channel-major. Only
    2-D images are supported.

    Args:
        kernel_size: the block size ``(kh, kw)`` (an int for a square block).
        dilation: the spacing between the elements of a block (default: 1).
        padding: the implicit zero padding added on both sides of each spatial dim (default: 0).
        stride: the step between blocks (default: 1).

    Shape:
        input ``(N, C, H, W)`` or ``(C, H, W)``, output ``(N, C * kh * kw, L)`` or
        ``(C * kh * kw, L)``, where ``L`` is the number of block positions.
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input):
        """Extract the blocks of ``input``.

        Args:
            input: a tensor of shape ``(N, C, H, W)`` or ``(C, H, W)``.

        Returns:
            A tensor of shape ``(N, C * kh * kw, L)`` or ``(C * kh * kw, L)``.
        """
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        """Show the kernel size, dilation, padding and stride."""
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")
