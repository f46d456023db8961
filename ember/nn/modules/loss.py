"""Loss layers: modules over ``ember.nn.functional``'s losses."""
from __future__ import annotations

from ember.nn import functional as F
from ember.nn.functional.loss import _legacy_reduction
from ember.nn.modules.module import Module

__all__ = [
    "L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss", "NLLLoss",
    "CrossEntropyLoss", "KLDivLoss", "CosineEmbeddingLoss", "MarginRankingLoss", "TripletMarginLoss",
    "TripletMarginWithDistanceLoss", "HingeEmbeddingLoss", "SoftMarginLoss", "MultiLabelSoftMarginLoss",
    "MultiMarginLoss", "PoissonNLLLoss", "GaussianNLLLoss",
]


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = _legacy_reduction(size_average, reduce)
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class L1Loss(_Loss):
    """Measures the mean absolute error ``|input - target|``, elementwise.

    Args:
        size_average: deprecated; use ``reduction``. When it or ``reduce`` is given (with a
            warning), False means ``'sum'``.
        reduce: deprecated; use ``reduction``. When given, False means ``'none'``.
        reduction: ``'none'`` (one loss per element), ``'mean'`` (default, their mean) or
            ``'sum'``.

    Shape:
        input ``(*)``, target of the same shape; output a scalar, or ``(*)`` with
        ``reduction='none'``. A target of another shape broadcasts, with a warning.
    """

    def forward(self, input, target):
        """Compute the absolute error.

        Args:
            input: the prediction.
            target: the ground truth, the same shape as ``input``.

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per element.
        """
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """Measures the mean squared error ``(input - target) ** 2``, elementwise.

    Args:
        size_average: deprecated; use ``reduction``. When it or ``reduce`` is given (with a
            warning), False means ``'sum'``.
        reduce: deprecated; use ``reduction``. When given, False means ``'none'``.
        reduction: ``'none'`` (one loss per element), ``'mean'`` (default, their mean) or
            ``'sum'``.

    Shape:
        input ``(*)``, target of the same shape; output a scalar, or ``(*)`` with
        ``reduction='none'``. A target of another shape broadcasts, with a warning.
    """

    def forward(self, input, target):
        """Compute the squared error.

        Args:
            input: the prediction.
            target: the ground truth, the same shape as ``input``.

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per element.
        """
        return F.mse_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """A squared error near zero and an absolute error beyond ``beta``.

    With ``d = |input - target|``, the loss is ``0.5 * d ** 2 / beta`` where ``d < beta`` and
    ``d - 0.5 * beta`` elsewhere; ``beta = 0`` gives the L1 loss. Less sensitive to outliers
    than ``MSELoss``.

    Args:
        size_average: deprecated; use ``reduction``. When it or ``reduce`` is given (with a
            warning), False means ``'sum'``.
        reduce: deprecated; use ``reduction``. When given, False means ``'none'``.
        reduction: ``'none'`` (one loss per element), ``'mean'`` (default, their mean) or
            ``'sum'``.
        beta: where the loss turns from quadratic to linear; at least 0 (default: 1).

    Shape:
        input ``(*)``, target of the same shape; output a scalar, or ``(*)`` with
        ``reduction='none'``.
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        """Compute the smooth L1 loss.

        Args:
            input: the prediction.
            target: the ground truth, the same shape as ``input``.

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per element.
        """
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """The Huber loss: a squared error near zero and a scaled absolute error beyond ``delta``.

    With ``d = |input - target|``, the loss is ``0.5 * d ** 2`` where ``d < delta`` and
    ``delta * (d - 0.5 * delta)`` elsewhere (``SmoothL1Loss`` times ``delta``).

    Args:
        reduction: ``'none'`` (one loss per element), ``'mean'`` (default, their mean) or
            ``'sum'``.
        delta: where the loss turns from quadratic to linear; greater than 0 (default: 1).

    Shape:
        input ``(*)``, target of the same shape; output a scalar, or ``(*)`` with
        ``reduction='none'``.
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        """Compute the Huber loss.

        Args:
            input: the prediction.
            target: the ground truth, the same shape as ``input``.

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per element.
        """
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_WeightedLoss):
    """Measures the binary cross entropy between probabilities and targets.

    ``loss = -weight * (target * log(input) + (1 - target) * log(1 - input))``, each log
    clamped to at least -100 so that probabilities of exactly 0 or 1 give finite values.

    Args:
        weight: an optional tensor, broadcastable to the input, rescaling each element's loss.
        size_average: deprecated; use ``reduction``. When it or ``reduce`` is given (with a
            warning), False means ``'sum'``.
        reduce: deprecated; use ``reduction``. When given, False means ``'none'``.
        reduction: ``'none'`` (one loss per element), ``'mean'`` (default, their mean) or
            ``'sum'``.

    Shape:
        input ``(*)`` of probabilities in ``[0, 1]``, target of the same shape with values in
        ``[0, 1]``; output a scalar, or ``(*)`` with ``reduction='none'``.
    """

    def forward(self, input, target):
        """Compute the binary cross entropy.

        Args:
            input: probabilities in ``[0, 1]``, such as the output of a sigmoid.
            target: the target probabilities, the same shape as ``input``.

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per element.
        """
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """A sigmoid followed by the binary cross entropy, computed stably from the logits.

    With logits ``x``, ``loss = -weight * (pos_weight * target * log(sigmoid(x))
    + (1 - target) * log(1 - sigmoid(x)))``, computed without overflow for logits of any size.

    Args:
        weight: an optional tensor, broadcastable to the input, rescaling each element's loss.
        size_average: deprecated; use ``reduction``. When it or ``reduce`` is given (with a
            warning), False means ``'sum'``.
        reduce: deprecated; use ``reduction``. When given, False means ``'none'``.
        reduction: ``'none'`` (one loss per element), ``'mean'`` (default, their mean) or
            ``'sum'``.
        pos_weight: an optional weight of the positive term, broadcast against the input
            (typically one value per class along the last dim); above 1 it raises recall.

    Shape:
        input ``(*)`` of logits, target of the same shape with values in ``[0, 1]``; output a
        scalar, or ``(*)`` with ``reduction='none'``.
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        """Compute the binary cross entropy of ``sigmoid(input)``.

        Args:
            input: the logits.
            target: the target probabilities, the same shape as ``input``.

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per element.
        """
        return F.binary_cross_entropy_with_logits(input, target, self.weight, pos_weight=self.pos_weight,
                                                  reduction=self.reduction)


class NLLLoss(_WeightedLoss):
    """The negative log likelihood loss: ``-input[class]`` for the target class of each sample.

    Feed it log-probabilities (``LogSoftmax`` output); ``CrossEntropyLoss`` does both steps.
    With class weights the loss of a sample is ``-weight[target] * input[target]``, and
    ``'mean'`` divides the sum by the total weight of the counted targets.

    Args:
        weight: an optional 1-D tensor of ``C`` per-class weights.
        size_average: deprecated; use ``reduction``. When it or ``reduce`` is given (with a
            warning), False means ``'sum'``.
        ignore_index: a target value that contributes no loss and no weight (default: -100).
        reduce: deprecated; use ``reduction``. When given, False means ``'none'``.
        reduction: ``'none'`` (one loss per element), ``'mean'`` (default, their mean) or
            ``'sum'``.

    Shape:
        input ``(N, C)``, ``(C)`` or ``(N, C, d1, ..., dk)``; target ``(N)``, ``()`` or
        ``(N, d1, ..., dk)`` of class indices in ``[0, C)``; output a scalar, or the target's
        shape with ``reduction='none'``.
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        """Compute the negative log likelihood.

        Args:
            input: log-probabilities with classes on dim 1 (dim 0 when unbatched).
            target: integer class indices, the input's shape without the class dim.

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per target.
        """
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """The cross entropy between logits and targets: ``log_softmax`` over the classes, then ``NLLLoss``.

    The target is either integer class indices, or class probabilities (a float tensor of the
    input's shape), for which the loss of a sample is ``-sum_c weight[c] * p[c] * logp[c]``.

    Args:
        weight: an optional 1-D tensor of ``C`` per-class weights.
        size_average: deprecated; use ``reduction``. When it or ``reduce`` is given (with a
            warning), False means ``'sum'``.
        ignore_index: for class-index targets, a value that contributes no loss (default: -100).
        reduce: deprecated; use ``reduction``. When given, False means ``'none'``.
        reduction: ``'none'`` (one loss per sample), ``'mean'`` (default) or ``'sum'``. With class
            indices ``'mean'`` divides the sum by the total weight of the counted targets; with
            probabilities, by the number of samples.
        label_smoothing: in ``[0, 1]``: the target is mixed with the uniform distribution over
            the ``C`` classes by this amount (default: 0).

    Shape:
        input ``(N, C)``, ``(C)`` or ``(N, C, d1, ..., dk)`` of logits; target ``(N)``, ``()`` or
        ``(N, d1, ..., dk)`` of class indices, or probabilities of the input's shape; output a
        scalar, or one loss per sample with ``reduction='none'``.
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        """Compute the cross entropy.

        Args:
            input: unnormalized logits with classes on dim 1 (dim 0 when unbatched).
            target: integer class indices (the input's shape without the class dim) or class
                probabilities (the input's shape).

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per sample.
        """
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class KLDivLoss(_Loss):
    """The Kullback-Leibler divergence of the target distribution from the predicted one.

    ``input`` holds log-probabilities; the pointwise loss is ``target * (log(target) - input)``
    (0 where ``target`` is 0), or ``exp(target) * (target - input)`` with ``log_target``.

    Args:
        size_average: deprecated; use ``reduction``. When it or ``reduce`` is given (with a
            warning), False means ``'sum'``.
        reduce: deprecated; use ``reduction``. When given, False means ``'none'``.
        reduction: ``'none'``, ``'batchmean'`` (the sum divided by the batch size: the true KL
            divergence), ``'sum'`` or ``'mean'`` (default; divides by the number of elements and
            warns that ``'batchmean'`` is the mathematically correct choice).
        log_target: if True, ``target`` holds log-probabilities too.

    Shape:
        input ``(*)``, target of the same shape; output a scalar, or ``(*)`` with
        ``reduction='none'``.
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        """Compute the KL divergence.

        Args:
            input: the predicted log-probabilities.
            target: the target probabilities (log-probabilities with ``log_target``), the same shape.

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per element.
        """
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class CosineEmbeddingLoss(_Loss):
    """A loss that pulls pairs together or pushes them apart by their cosine similarity.

    For a pair ``(x1, x2)`` the loss is ``1 - cos(x1, x2)`` where the target is 1 and
    ``max(0, cos(x1, x2) - margin)`` where it is -1.

    Args:
        margin: the similarity below which dissimilar pairs cost nothing; values in ``[0, 0.5]``
            suit most uses (default: 0).
        size_average: deprecated; use ``reduction``. When it or ``reduce`` is given (with a
            warning), False means ``'sum'``.
        reduce: deprecated; use ``reduction``. When given, False means ``'none'``.
        reduction: ``'none'`` (one loss per element), ``'mean'`` (default, their mean) or
            ``'sum'``.

    Shape:
        input1 and input2 ``(N, D)`` or ``(D)``; target ``(N)`` or ``()`` of 1 and -1; output a
        scalar, or ``(N)`` with ``reduction='none'``.
    """

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        """Compute the cosine embedding loss.

        Args:
            input1: the first vectors, ``(N, D)`` or ``(D)``.
            input2: the second vectors, of the same shape.
            target: 1 for similar pairs and -1 for dissimilar ones, ``(N)`` or ``()``.

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per pair.
        """
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """A ranking loss: ``max(0, -target * (input1 - input2) + margin)``.

    A target of 1 asks for ``input1`` to rank higher than ``input2`` (by at least ``margin``),
    -1 for the opposite.

    Args:
        margin: the required gap (default: 0).
        size_average: deprecated; use ``reduction``. When it or ``reduce`` is given (with a
            warning), False means ``'sum'``.
        reduce: deprecated; use ``reduction``. When given, False means ``'none'``.
        reduction: ``'none'`` (one loss per element), ``'mean'`` (default, their mean) or
            ``'sum'``.

    Shape:
        input1, input2 and target of the same number of dims, such as ``(N)``; output a scalar,
        or their broadcast shape with ``reduction='none'``.
    """

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        """Compute the margin ranking loss.

        Args:
            input1: the first scores.
            input2: the second scores.
            target: 1 or -1 per pair.

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per element.
        """
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """The triplet loss ``max(d(a, p) - d(a, n) + margin, 0)`` with a p-norm distance.

    It asks each anchor to be closer to its positive example than to its negative example,
    by at least ``margin``.

    Args:
        margin: the required gap; greater than 0 (default: 1).
        p: the norm degree of the pairwise distance (default: 2).
        eps: a small constant added to the differences for numerical stability (default: 1e-6).
        swap: if True, use ``min(d(a, n), d(p, n))`` as the negative distance.
        size_average: deprecated; use ``reduction``. When it or ``reduce`` is given (with a
            warning), False means ``'sum'``.
        reduce: deprecated; use ``reduction``. When given, False means ``'none'``.
        reduction: ``'none'`` (one loss per element), ``'mean'`` (default, their mean) or
            ``'sum'``.

    Shape:
        anchor, positive and negative ``(N, D)`` or ``(D)``; output a scalar, or ``(N)`` with
        ``reduction='none'``.
    """

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got {margin} instead")
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor, positive, negative):
        """Compute the triplet loss.

        Args:
            anchor: the anchor embeddings.
            positive: embeddings that should be close to the anchors.
            negative: embeddings that should be far from the anchors.

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per triplet.
        """
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p, eps=self.eps,
                                     swap=self.swap, reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """The triplet loss ``max(d(a, p) - d(a, n) + margin, 0)`` with any distance function ``d``.

    Args:
        distance_function: a callable ``d(x, y)`` returning one non-negative distance per pair;
            None (default) uses the euclidean ``F.pairwise_distance``.
        margin: the required gap; greater than 0 (default: 1).
        swap: if True, use ``min(d(a, n), d(p, n))`` as the negative distance.
        reduction: ``'none'`` (one loss per element), ``'mean'`` (default, their mean) or
            ``'sum'``.

    Shape:
        anchor, positive and negative ``(N, *)`` as the distance function takes them; output a
        scalar, or ``(N)`` with ``reduction='none'``.
    """

    def __init__(self, *, distance_function=None, margin: float = 1.0, swap: bool = False,
                 reduction: str = "mean"):
        super().__init__(reduction=reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got "
                             f"{margin} instead")
        self.distance_function = distance_function
        self.margin = margin
        self.swap = swap

    def forward(self, anchor, positive, negative):
        """Compute the triplet loss.

        Args:
            anchor: the anchor embeddings.
            positive: embeddings that should be close to the anchors.
            negative: embeddings that should be far from the anchors.

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per triplet.
        """
        return F.triplet_margin_with_distance_loss(anchor, positive, negative,
                                                   distance_function=self.distance_function, margin=self.margin,
                                                   swap=self.swap, reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """A hinge loss for targets of 1 and -1.

    The loss is ``input`` where the target is 1 and ``max(0, margin - input)`` where it is -1.

    Typically ``input`` is a distance between two inputs, small for similar pairs.

    Args:
        margin: the value the input must reach for a -1 target (default: 1).
        size_average: deprecated; use ``reduction``. When it or ``reduce`` is given (with a
            warning), False means ``'sum'``.
        reduce: deprecated; use ``reduction``. When given, False means ``'none'``.
        reduction: ``'none'`` (one loss per element), ``'mean'`` (default, their mean) or
            ``'sum'``.

    Shape:
        input ``(*)``, target of the same shape; output a scalar, or ``(*)`` with
        ``reduction='none'``.
    """

    def __init__(self, margin: float = 1.0, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input, target):
        """Compute the hinge embedding loss.

        Args:
            input: the scores (such as distances).
            target: 1 or -1 per element.

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per element.
        """
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """The two-class logistic loss ``log(1 + exp(-target * input))``, for targets of 1 and -1.

    Args:
        size_average: deprecated; use ``reduction``. When it or ``reduce`` is given (with a
            warning), False means ``'sum'``.
        reduce: deprecated; use ``reduction``. When given, False means ``'none'``.
        reduction: ``'none'`` (one loss per element), ``'mean'`` (default, their mean) or
            ``'sum'``.

    Shape:
        input ``(*)``, target of the same shape; output a scalar, or ``(*)`` with
        ``reduction='none'``.
    """

    def forward(self, input, target):
        """Compute the soft margin loss.

        Args:
            input: the scores.
            target: 1 or -1 per element.

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per element.
        """
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """A multi-label one-versus-all logistic loss.

    For each sample, the binary cross entropy of ``sigmoid(input)`` against a 0/1 target is
    averaged over the ``C`` classes.

    Args:
        weight: an optional per-class weight, ``(C,)``.
        size_average: deprecated; use ``reduction``. When it or ``reduce`` is given (with a
            warning), False means ``'sum'``.
        reduce: deprecated; use ``reduction``. When given, False means ``'none'``.
        reduction: ``'none'`` (one loss per element), ``'mean'`` (default, their mean) or
            ``'sum'``.

    Shape:
        input ``(N, C)`` of logits, target ``(N, C)`` of 0 and 1; output a scalar, or ``(N)``
        with ``reduction='none'``.
    """

    def forward(self, input, target):
        """Compute the multi-label soft margin loss.

        Args:
            input: the logits, ``(N, C)``.
            target: 1 for the classes present and 0 otherwise, ``(N, C)``.

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per sample.
        """
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """A multi-class hinge loss.

    For a sample with target class ``y`` the loss is
    ``sum over i != y of max(0, margin - x[y] + x[i]) ** p / C``, times ``weight[y]`` when
    class weights are given.

    Args:
        p: 1 (default) or 2; other values raise ``ValueError``.
        margin: the required gap between the target score and the others (default: 1).
        weight: an optional per-class weight, ``(C,)``.
        size_average: deprecated; use ``reduction``. When it or ``reduce`` is given (with a
            warning), False means ``'sum'``.
        reduce: deprecated; use ``reduction``. When given, False means ``'none'``.
        reduction: ``'none'`` (one loss per element), ``'mean'`` (default, their mean) or
            ``'sum'``.

    Shape:
        input ``(N, C)`` or ``(C)``; target ``(N)`` or ``()`` of class indices; output a scalar,
        or ``(N)`` with ``reduction='none'``.
    """

    def __init__(self, p: int = 1, margin: float = 1.0, weight=None, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError("only p == 1 and p == 2 supported")
        self.p = p
        self.margin = margin

    def forward(self, input, target):
        """Compute the multi-class hinge loss.

        Args:
            input: the class scores, ``(N, C)`` or ``(C)``.
            target: the class index of each sample, ``(N)`` or ``()``.

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per sample.
        """
        return F.multi_margin_loss(input, target, p=self.p, margin=self.margin, weight=self.weight,
                                   reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    """The negative log likelihood of a Poisson-distributed target.

    With ``log_input`` the loss is ``exp(input) - target * input``; otherwise
    ``input - target * log(input + eps)``.

    Args:
        log_input: if True (default), ``input`` is the log of the rate; if False, the rate itself.
        full: if True, add Stirling's approximation of ``log(target!)``
            (``target * log(target) - target + 0.5 * log(2 * pi * target)``, for targets above 1).
        size_average: deprecated; use ``reduction``. When it or ``reduce`` is given (with a
            warning), False means ``'sum'``.
        eps: keeps the log finite when ``log_input`` is False (default: 1e-8).
        reduce: deprecated; use ``reduction``. When given, False means ``'none'``.
        reduction: ``'none'`` (one loss per element), ``'mean'`` (default, their mean) or
            ``'sum'``.

    Shape:
        input ``(*)``, target of the same shape; output a scalar, or ``(*)`` with
        ``reduction='none'``.
    """

    def __init__(self, log_input: bool = True, full: bool = False, size_average=None, eps: float = 1e-8,
                 reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def forward(self, log_input, target):
        """Compute the Poisson negative log likelihood.

        Args:
            log_input: the predicted log-rate (or rate, when ``self.log_input`` is False).
            target: the observed counts.

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per element.
        """
        return F.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full, eps=self.eps,
                                  reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """The negative log likelihood of the target under a Gaussian with predicted mean and variance.

    ``loss = 0.5 * (log(var) + (input - target) ** 2 / var)``, plus ``0.5 * log(2 * pi)`` with
    ``full``; ``var`` is clamped to at least ``eps`` (the clamp does not stop its gradient).

    Args:
        full: if True, include the constant term.
        eps: the smallest variance used (default: 1e-6).
        reduction: ``'none'`` (one loss per element), ``'mean'`` (default, their mean) or
            ``'sum'``.

    Shape:
        input ``(N, *)`` or ``(*)``, target of the same shape; var of the same shape, or with
        the last dim of size 1 or left out (one variance shared over the last dim), or a
        non-negative number; output a scalar, or the input's shape with ``reduction='none'``.
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        self.full = full
        self.eps = eps

    def forward(self, input, target, var):
        """Compute the Gaussian negative log likelihood.

        Args:
            input: the predicted means.
            target: the observed values, the same shape as ``input``.
            var: the predicted variances (non-negative), as described in the class.

        Returns:
            A 0-d tensor, or with ``reduction='none'`` one loss per element.
        """
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)


from ember.nn.modules.loss_extra import MultiLabelMarginLoss  # noqa: E402,F401  (defined beside; PyTorch's path is this module)
from ember.nn.modules.ctc import CTCLoss  # noqa: E402,F401  (defined beside; PyTorch's path is this module)
from ember.nn.modules.linear_cross_entropy import LinearCrossEntropyLoss  # noqa: E402,F401  (defined beside)
