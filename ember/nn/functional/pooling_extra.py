"""3-d power-average pooling (``F.lp_pool3d``), the 3-d form of ``F.lp_pool2d``."""
from __future__ import annotations

import ember
from ember.nn.functional.pooling import avg_pool3d
from ember.ops.creation import ntuple as _ntuple

__all__ = ["lp_pool3d"]


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """3-d power-average pooling: (sum of x ** p over each window) ** (1 / p), over (N, C, D, H, W) or (C, D, H, W).

    ``p = 1`` is sum pooling; as ``p`` grows the result approaches max pooling. The elements are raised to
    ``p`` as they are, not their absolute values, so a window whose sum of powers is negative gives NaN.

    Args:
        input: ``(N, C, D, H, W)``, or ``(C, D, H, W)`` without a batch dimension; a floating point tensor.
        norm_type: the power ``p``.
        kernel_size: the window size, an int or a triple (D, H, W).
        stride: the step between windows, an int or a triple; ``None`` (the default) means ``kernel_size``.
        ceil_mode: round the output size up instead of down, keeping a last partial window.

    Returns:
        A new tensor ``(N, C, D_out, H_out, W_out)`` (no ``N`` for an unbatched input), each
        ``out = floor((in - kernel_size) / stride) + 1`` (``ceil`` with ``ceil_mode``); no padding.
    """
    kernel = _ntuple(kernel_size, 3, "kernel_size")
    pooled = avg_pool3d(input.pow(norm_type), kernel, stride, 0, ceil_mode)
    # sum = average * window volume; a negative sum of powers stays negative and gives NaN, as in PyTorch
    return (ember.sign(pooled) * ember.relu(ember.abs(pooled))).mul(kernel[0] * kernel[1] * kernel[2]).pow(1.0 / norm_type)
