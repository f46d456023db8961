"""LinearCrossEntropyLoss (at ``nn.modules.loss`` as in PyTorch): a linear classifier head and its
cross entropy in one criterion, over ``F.linear_cross_entropy``."""
from __future__ import annotations

import math

from ember.nn.functional.linear_cross_entropy import linear_cross_entropy
from ember.nn.modules.linear import Linear
from ember.nn.modules.loss import _WeightedLoss

__all__ = ["LinearCrossEntropyLoss"]


class LinearCrossEntropyLoss(_WeightedLoss):
    """Cross entropy of ``linear(input)`` against the target, the linear layer held by the criterion.

    Args:
        in_features: the size of each input sample.
        num_classes: the number of classes ``C``.
        out_features: ``(d_1, ..., d_K)`` for a K-dimensional loss (default ``()``).
        bias: give the linear layer a bias (default False).
        device: where the linear layer is created.
        dtype: its dtype.
        reduction: ``'none'``, ``'mean'`` (default) or ``'sum'``.
        weight: ``(C,)`` class weights, or None.
        ignore_index: a class index left out (None: -100).
        label_smoothing: in [0, 1].
        options: a ``LinearCrossEntropyOptions`` for the chunked computation, or None.

    Shape:
        input ``(N, in_features)`` or ``(in_features,)``; target as for ``CrossEntropyLoss``.
    """

    def __init__(self, in_features, num_classes, *, out_features=(), bias=False, device=None, dtype=None,
                 reduction="mean", weight=None, ignore_index=None, label_smoothing=0.0, options=None):
        if weight is not None and tuple(weight.shape) != (num_classes,):
            raise RuntimeError(f"expected weight shape to be {(num_classes,)}, got {tuple(weight.shape)}")
        if not 0 <= label_smoothing <= 1.0:
            raise RuntimeError(f"expected label_smoothing to be in range [0, 1], got {label_smoothing}")
        super().__init__(weight, None, None, reduction)
        self.num_classes = num_classes
        self.out_features = tuple(out_features)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        # Linear holds 2-d weights: the (C, *out_features, in) weight is stored flat and reshaped in forward
        self.linear = Linear(in_features, math.prod(self.out_features, start=num_classes), bias=bias,
                             device=device, dtype=dtype)
        self.options = options

    def forward(self, input, target):
        """Compute the loss.

        Args:
            input: the input samples.
            target: class indices or probabilities.

        Returns:
            The loss.
        """
        in_features = self.linear.in_features
        weight = self.linear.weight.reshape(self.num_classes, *self.out_features, in_features)
        bias = None if self.linear.bias is None else self.linear.bias.reshape(self.num_classes, *self.out_features)
        return linear_cross_entropy(input, weight, target, linear_bias=bias, weight=self.weight,
                                    reduction=self.reduction, ignore_index=self.ignore_index,
                                    label_smoothing=self.label_smoothing, options=self.options)

    def extra_repr(self) -> str:
        """Show the sizes and settings."""
        return (f"in_features={self.linear.in_features}, num_classes={self.num_classes}, "
                f"out_features={self.out_features}, bias={self.linear.bias is not None}, "
                f"reduction={self.reduction}, ignore_index={self.ignore_index}, "
                f"label_smoothing={self.label_smoothing}, options={self.options}")
