"""CrossMapLRN2d (at ``nn.modules.normalization`` as in PyTorch): local response normalization
across channels in the form of the original Lua Torch layer that PyTorch keeps."""
from __future__ import annotations

import numpy as np

import ember
from ember.nn.modules.module import Module

__all__ = ["CrossMapLRN2d"]


def _window_matrix(channels: int, size: int) -> np.ndarray:
    """``m[c, j] = 1`` where channel ``j`` enters the sum of squares that normalizes channel ``c``.

    The window is ``[c - h, c + h]`` with ``h = int((size - 1) / 2)``, clipped to the channels.
    PyTorch builds it as a running sum that never subtracts channel 0, so channel 0 stays in every
    window from ``c = h + 1`` on; the matrix keeps that, so results match PyTorch's.
    """
    half = int((size - 1) / 2 + 1) - 1
    m = np.zeros((channels, channels))
    for c in range(channels):
        m[c, max(0, c - half):min(channels, c + half + 1)] = 1.0
        if c > half:
            m[c, 0] = 1.0
    return m


class CrossMapLRN2d(Module):
    """Local response normalization across channels of a 4-D input (the Lua Torch form).

    ``y[:, c] = x[:, c] * (k + alpha / size * sum of x[:, j] ** 2 over the window of c) ** -beta``
    (see ``_window_matrix`` for the window, which includes PyTorch's treatment of channel 0).

    Args:
        size: the number of neighbouring channels in the window.
        alpha: the multiplicative factor (default 1e-4).
        beta: the exponent (default 0.75).
        k: the additive constant (default 1).

    Shape:
        input ``(N, C, H, W)``, output of the same shape.
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        """Normalize ``input`` across its channels.

        Args:
            input: a 4-D tensor ``(N, C, H, W)``.

        Returns:
            The normalized tensor, of ``input``'s shape.
        """
        if input.ndim != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.ndim}D instead.")
        window = ember.tensor(_window_matrix(input.shape[1], self.size), dtype=input.dtype, device=input.device)
        sums = ember.matmul(window, (input * input).movedim(1, -2)).movedim(-2, 1)
        return input * (sums * (self.alpha / self.size) + self.k).pow(-self.beta)

    def extra_repr(self) -> str:
        """Show ``size``, ``alpha``, ``beta`` and ``k``."""
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
