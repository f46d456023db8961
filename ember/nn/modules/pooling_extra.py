"""LPPool3d, the layer form of ``F.lp_pool3d`` (in ``ember.nn.modules.pooling`` as in PyTorch)."""
from __future__ import annotations

from ember.nn.functional.pooling_extra import lp_pool3d
from ember.nn.modules.pooling import _LPPool

__all__ = ["LPPool3d"]


class LPPool3d(_LPPool):
    """Applies 3-D power-average pooling: ``(sum of x ** p over each window) ** (1 / p)``.

    ``p = 1`` gives sum pooling; larger ``p`` weighs the largest values more.

    Args:
        norm_type: the exponent ``p``.
        kernel_size: the window size: an int or a tuple of 3 ints.
        stride: the step between windows (default: ``kernel_size``).
        ceil_mode: if True, round the output size up instead of down.

    Shape:
        input ``(N, C, D, H, W)`` or ``(C, D, H, W)``,
        output ``(N, C, D_out, H_out, W_out)`` or ``(C, D_out, H_out, W_out)``.
    """

    _pool = staticmethod(lp_pool3d)
