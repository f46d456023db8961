"""ChannelShuffle, the layer form of ``F.channel_shuffle`` (PyTorch's ``torch.nn.modules.channelshuffle``)."""
from __future__ import annotations

from ember.nn import functional as F
from ember.nn.modules.module import Module

__all__ = ["ChannelShuffle"]


class ChannelShuffle(Module):
    """Interleave the channels of a ``(N, C, *)`` input across ``groups`` groups (ShuffleNet).

    Args:
        groups: the number of groups; it must divide the channels.

    Shape:
        input ``(N, C, *)``, output the same.
    """

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, input):
        """The channel-shuffled ``input``.

        Args:
            input: a tensor ``(N, C, *)``, ``C`` divisible by ``groups``.

        Returns:
            A tensor of the same shape.
        """
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        """``groups=<groups>``, shown in the module's repr.

        Returns:
            The string.
        """
        return f"groups={self.groups}"
