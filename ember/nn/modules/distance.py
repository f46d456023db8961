"""CosineSimilarity and PairwiseDistance: the layer forms of ``F.cosine_similarity`` and
``F.pairwise_distance`` (PyTorch's ``torch.nn.modules.distance``)."""
from __future__ import annotations

from ember.nn import functional as F
from ember.nn.modules.module import Module

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class CosineSimilarity(Module):
    """The cosine of the angle between ``x1`` and ``x2`` along ``dim``:
    ``x1 . x2 / (max(|x1|, eps) * max(|x2|, eps))``.

    Args:
        dim: the dimension the vectors lie along (default 1).
        eps: the floor of each norm, against division by zero.

    Shape:
        ``x1`` and ``x2`` broadcastable to each other; the output drops ``dim``.
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1, x2):
        """The cosine similarity of ``x1`` and ``x2``.

        Args:
            x1: a tensor.
            x2: a tensor broadcastable with ``x1``.

        Returns:
            The similarities, ``dim`` removed.
        """
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """The ``p``-norm distance between rows: ``|x1 - x2 + eps|_p`` along the last dimension.

    Args:
        p: the norm degree (default 2).
        eps: added to the difference, against a zero norm's undefined gradient.
        keepdim: keep the reduced dimension (of size 1).

    Shape:
        ``x1`` and ``x2`` ``(N, D)`` or ``(D,)``; the output ``(N,)`` or ``()`` (``keepdim``: ``(N, 1)``).
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1, x2):
        """The distances between ``x1`` and ``x2``.

        Args:
            x1: a tensor.
            x2: a tensor of the same (or a broadcastable) shape.

        Returns:
            The distances.
        """
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
