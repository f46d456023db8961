"""CTCLoss, the layer form of ``F.ctc_loss`` (at ``nn.modules.loss`` as in PyTorch)."""
from __future__ import annotations

from ember.nn.functional.ctc import ctc_loss
from ember.nn.modules.loss import _Loss

__all__ = ["CTCLoss"]


class CTCLoss(_Loss):
    """The connectionist temporal classification loss: ``-log p(target | input)`` over all alignments.

    Args:
        blank: the class index of the blank label (default 0).
        reduction: ``'none'``, ``'mean'`` (each loss divided by its target length, then the batch mean;
            the default) or ``'sum'``.
        zero_infinity: replace infinite losses (inputs too short for their targets) and their gradients by 0.

    Shape:
        log_probs ``(T, N, C)`` or ``(T, C)``; targets ``(N, S)`` or the 1-D concatenation of the targets;
        input_lengths and target_lengths ``(N)``; output a scalar, or ``(N)`` with ``reduction='none'``.
    """

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False):
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        """Compute the loss.

        Args:
            log_probs: the frame-wise log probabilities ``(T, N, C)``.
            targets: the label sequences.
            input_lengths: the frames used of each input.
            target_lengths: the length of each target.

        Returns:
            A 0-d tensor, or one loss per sample with ``reduction='none'``.
        """
        return ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
                        self.zero_infinity)
