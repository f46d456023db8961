"""AdaptiveLogSoftmaxWithLoss (``nn.modules.adaptive``): the adaptive softmax of Grave et al.,
"Efficient softmax approximation for GPUs" (2016).

The classes are split by ``cutoffs`` into a frequent shortlist and tail clusters. A head layer
scores the shortlist plus one entry per cluster; each cluster has a small two-layer projection
scoring its own classes. ``log p(class) = log p_head(class)`` for the shortlist and
``log p_head(cluster) + log p_cluster(class)`` otherwise, so only the clusters a batch's targets
fall in are evaluated.
"""
from __future__ import annotations

from collections import namedtuple

import ember
from ember.core import dtype as dt
from ember.nn import functional as F
from ember.nn.modules.container import ModuleList, Sequential
from ember.nn.modules.linear import Linear
from ember.nn.modules.module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """Adaptive softmax: log probabilities over many classes with a cheap head and per-cluster tails.

    Args:
        in_features: the number of input features.
        n_classes: the number of classes.
        cutoffs: increasing class indices in ``[1, n_classes - 1]`` where the clusters start.
        div_value: cluster ``i``'s hidden size is ``in_features // div_value ** (i + 1)`` (default 4.0).
        head_bias: give the head layer a bias (default False).
        device: where the parameters are created.
        dtype: their dtype.

    Shape:
        input ``(N, in_features)`` or ``(in_features,)``; target ``(N)`` or ``()`` class indices; ``forward``
        returns ``(output, loss)``: the target log probabilities ``(N)`` (or ``()``) and their negated mean.
    """

    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False, device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted in an increasing "
                             "order, where each value is between 1 and n_classes-1")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, device=device, dtype=dtype)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hidden, bias=False, device=device, dtype=dtype),
                                        Linear(hidden, size, bias=False, device=device, dtype=dtype)))

    def reset_parameters(self) -> None:
        """Re-draw the head's and every cluster's weights."""
        self.head.reset_parameters()
        for projection, scores in self.tail:
            projection.reset_parameters()
            scores.reset_parameters()

    def forward(self, input, target):
        """The log probability of each target and the loss (their negated mean).

        Args:
            input: ``(N, in_features)`` or ``(in_features,)``.
            target: ``(N)`` or ``()`` class indices.

        Returns:
            A named tuple ``(output, loss)``.
        """
        batched = input.ndim == 2
        if input.ndim not in (1, 2):
            raise RuntimeError("1D target tensor expects 2D input tensors, but found inputs with size "
                               f"{list(input.shape)}")
        if target.ndim != input.ndim - 1:
            raise RuntimeError(f"Input and target should have the same size in the batch dimension: input "
                               f"{list(input.shape)}, target {list(target.shape)}")
        if not batched:
            input, target = input.unsqueeze(0), target.unsqueeze(0)
        if input.shape[0] != target.shape[0]:
            raise RuntimeError(f"Input and target should have the same size in the batch dimension, got "
                               f"{input.shape[0]} and {target.shape[0]}")
        batch = target.shape[0]
        output = ember.zeros(batch, dtype=input.dtype, device=input.device)
        head_index = ember.zeros(batch, dtype=dt.int64, device=input.device)
        covered = 0
        bounds = [0] + self.cutoffs
        for i in range(len(bounds) - 1):
            low, high = bounds[i], bounds[i + 1]
            rows = ((target >= low) & (target < high)).nonzero().squeeze(-1)
            if rows.numel() == 0:
                continue
            selected = target.index_select(0, rows)
            covered += rows.numel()
            if i == 0:   # the shortlist: the head scores the class itself
                head_index = head_index.index_copy(0, rows, selected.to(dt.int64))
                continue
            scores = F.log_softmax(self.tail[i - 1](input.index_select(0, rows)), 1)
            local = scores.gather(1, (selected - low).to(dt.int64).unsqueeze(1)).squeeze(1)
            output = output.index_copy(0, rows, local)
            head_index = head_index.index_fill(0, rows, self.shortlist_size + i - 1)
        if covered != batch:
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but values in range "
                               f"[{target.min().item()}, {target.max().item()}] were found. ")
        head = F.log_softmax(self.head(input), 1)
        output = output + head.gather(1, head_index.unsqueeze(1)).squeeze(1)
        loss = (-output).mean()
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _full_log_prob(self, input, head_output):
        head = F.log_softmax(head_output, 1)
        parts = [head[:, :self.shortlist_size]]
        for i, cluster in enumerate(self.tail):
            parts.append(F.log_softmax(cluster(input), 1) + head[:, self.shortlist_size + i].unsqueeze(1))
        return ember.cat(parts, 1)

    def log_prob(self, input):
        """The log probabilities of every class.

        Args:
            input: ``(N, in_features)`` or ``(in_features,)``.

        Returns:
            ``(N, n_classes)`` (or ``(n_classes,)``) log probabilities.
        """
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        out = self._full_log_prob(x, self.head(x))
        return out if batched else out.squeeze(0)

    def predict(self, input):
        """The most likely class of each input.

        Args:
            input: ``(N, in_features)`` or ``(in_features,)``.

        Returns:
            ``(N)`` (or ``()``) int64 class indices.
        """
        return self.log_prob(input).argmax(-1)
