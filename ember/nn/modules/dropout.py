"""Dropout layers: active in training mode, the identity in eval mode."""
from __future__ import annotations

from ember.nn import functional as F
from ember.nn.modules.module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        """Show ``p`` and ``inplace``."""
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Randomly zeroes elements during training and scales the rest by ``1 / (1 - p)``.

    Each element is zeroed independently with probability ``p`` on every call, so the
    expected value of each element is unchanged. In evaluation mode (``eval()``) the layer
    is the identity.

    Args:
        p: the probability of zeroing an element, in ``[0, 1]`` (default: 0.5).
        inplace: if True, write the result into the input tensor.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def forward(self, input):
        """Apply dropout to ``input`` (in training mode only).

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape.
        """
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Randomly zeroes whole channels of 1-D feature maps during training.

    Each channel of each sample is zeroed with probability ``p`` and the kept channels are
    scaled by ``1 / (1 - p)``. In evaluation mode the layer is the identity.

    Args:
        p: the probability of zeroing a channel, in ``[0, 1]`` (default: 0.5).
        inplace: if True, write the result into the input tensor.

    Shape:
        input ``(N, C, L)`` or ``(C, L)``, output of the same shape.
    """

    def forward(self, input):
        """Apply channel dropout to ``input`` (in training mode only).

        Args:
            input: a tensor of shape ``(N, C, L)`` or ``(C, L)``.

        Returns:
            A tensor of the same shape.
        """
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Randomly zeroes whole channels (feature maps) of 2-D inputs during training.

    Each channel ``input[n, c]`` is zeroed with probability ``p`` and the kept channels are
    scaled by ``1 / (1 - p)``. In evaluation mode the layer is the identity. Dim 1 is always
    taken as the channel dim: a 3-D input is treated as ``(N, C, L)`` (with a warning).

    Args:
        p: the probability of zeroing a channel, in ``[0, 1]`` (default: 0.5).
        inplace: if True, write the result into the input tensor.

    Shape:
        input ``(N, C, H, W)``, output of the same shape.
    """

    def forward(self, input):
        """Apply channel dropout to ``input`` (in training mode only).

        Args:
            input: a tensor of shape ``(N, C, H, W)``.

        Returns:
            A tensor of the same shape.
        """
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Randomly zeroes whole channels of 3-D feature maps during training.

    Each channel is zeroed with probability ``p`` and the kept channels are scaled by
    ``1 / (1 - p)``. In evaluation mode the layer is the identity.

    Args:
        p: the probability of zeroing a channel, in ``[0, 1]`` (default: 0.5).
        inplace: if True, write the result into the input tensor.

    Shape:
        input ``(N, C, D, H, W)`` or ``(C, D, H, W)``, output of the same shape.
    """

    def forward(self, input):
        """Apply channel dropout to ``input`` (in training mode only).

        Args:
            input: a tensor of shape ``(N, C, D, H, W)`` or ``(C, D, H, W)``.

        Returns:
            A tensor of the same shape.
        """
        return F.dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Dropout for self-normalizing (SELU) networks.

    During training each element is dropped with probability ``p``: it takes SELU's
    negative saturation value, and the result is scaled and shifted so that inputs of zero
    mean and unit variance keep that mean and variance. In evaluation mode the layer is the
    identity.

    Args:
        p: the probability of dropping an element, in ``[0, 1]`` (default: 0.5).
        inplace: stored on the module and shown in its ``repr``; as in PyTorch, the layer ignores it
            and never works in place (``F.alpha_dropout`` / ``F.feature_alpha_dropout`` honour theirs).

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def forward(self, input):
        """Apply alpha dropout to ``input`` (in training mode only).

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape.
        """
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels, for SELU networks.

    During training each channel ``input[n, c]`` is dropped as a whole with probability
    ``p`` (it takes SELU's negative saturation value), then the result is scaled and shifted
    to keep zero mean and unit variance. In evaluation mode the layer is the identity.

    Args:
        p: the probability of dropping a channel, in ``[0, 1]`` (default: 0.5).
        inplace: stored on the module and shown in its ``repr``; as in PyTorch, the layer ignores it
            and never works in place (``F.alpha_dropout`` / ``F.feature_alpha_dropout`` honour theirs).

    Shape:
        input ``(N, C, *)``, output of the same shape.
    """

    def forward(self, input):
        """Apply channel-wise alpha dropout to ``input`` (in training mode only).

        Args:
            input: a tensor of shape ``(N, C, *)``.

        Returns:
            A tensor of the same shape.
        """
        return F.feature_alpha_dropout(input, self.p, self.training)
