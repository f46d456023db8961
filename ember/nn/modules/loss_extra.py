"""MultiLabelMarginLoss, the layer form of ``F.multilabel_margin_loss`` (in
``ember.nn.modules.loss`` as in PyTorch)."""
from __future__ import annotations

from ember.nn.functional.multilabel import multilabel_margin_loss
from ember.nn.modules.loss import _Loss

__all__ = ["MultiLabelMarginLoss"]


class MultiLabelMarginLoss(_Loss):
    """The multi-class multi-label hinge loss: for each sample, every (target class ``j``,
    non-target class ``i``) pair adds ``max(0, 1 - (x[j] - x[i]))``, divided by the number of classes.

    Args:
        size_average: deprecated; use ``reduction``.
        reduce: deprecated; use ``reduction``.
        reduction: ``'none'`` (one loss per sample), ``'mean'`` (default) or ``'sum'``.

    Shape:
        input ``(C)`` or ``(N, C)``; target of the same shape, int64 class indices ended by ``-1``;
        output a scalar, or ``(N)`` with ``reduction='none'``.
    """

    def forward(self, input, target):
        """Compute the loss.

        Args:
            input: the scores, ``(C)`` or ``(N, C)``.
            target: the target classes of each sample, ended by ``-1``.

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per sample.
        """
        return multilabel_margin_loss(input, target, reduction=self.reduction)
