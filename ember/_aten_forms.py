"""The ``torch.*`` forms of layer and loss functions (``torch.dropout(x, p, train)``,
``torch.layer_norm``, ``torch.margin_ranking_loss(..., reduction=1)``, ...): PyTorch exposes its
native operators under ``torch`` with their own signatures (positional ``train``, weights
before running statistics for ``batch_norm``, ``embedding(weight, indices)``, reductions as the
ints 0 none / 1 mean / 2 sum). Each is the ``ember.nn.functional`` function with the
arguments mapped; they sit at the frontend layer because ``nn.functional`` does.
"""
from __future__ import annotations

from ember.nn import functional as F

__all__ = [
    "dropout", "dropout_", "alpha_dropout", "alpha_dropout_", "feature_alpha_dropout", "feature_alpha_dropout_",
    "feature_dropout", "feature_dropout_", "celu", "celu_", "selu", "selu_", "rrelu", "rrelu_", "threshold",
    "threshold_", "hardshrink", "prelu", "pdist", "cosine_similarity", "pairwise_distance", "pixel_shuffle",
    "pixel_unshuffle", "kl_div", "bilinear", "layer_norm", "group_norm", "batch_norm", "instance_norm",
    "embedding", "margin_ranking_loss", "hinge_embedding_loss", "triplet_margin_loss", "cosine_embedding_loss",
    "poisson_nll_loss", "binary_cross_entropy_with_logits", "rms_norm", "adaptive_avg_pool1d", "avg_pool1d",
    "adaptive_max_pool1d",
]

_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _reduce(loss, reduction):
    if reduction not in _REDUCTIONS:
        raise RuntimeError(f"{reduction} is not a valid value for reduction (0: none, 1: mean, 2: sum)")
    return loss if reduction == 0 else loss.mean() if reduction == 1 else loss.sum()


# ---------------------------------------------------------------- dropout family: (input, p, train)
def dropout(input, p, train):
    """``F.dropout(input, p, training=train)``: zero elements with probability ``p``, scale the rest by ``1/(1-p)``.

    Args:
        input: the tensor.
        p: the drop probability.
        train: apply dropout (``False``: return ``input``).

    Returns:
        A tensor of ``input``'s shape.
    """
    return F.dropout(input, p, train)


def dropout_(input, p, train):
    """In-place ``dropout``.

    Args:
        input: the tensor, overwritten.
        p: the drop probability.
        train: apply dropout.

    Returns:
        ``input``.
    """
    return input.copy_(F.dropout(input, p, train)) if train else input


def alpha_dropout(input, p, train):
    """``F.alpha_dropout(input, p, training=train)`` (keeps SELU's mean and variance).

    Args:
        input: the tensor.
        p: the drop probability.
        train: apply dropout.

    Returns:
        A tensor of ``input``'s shape.
    """
    return F.alpha_dropout(input, p, train)


def alpha_dropout_(input, p, train):
    """In-place ``alpha_dropout``.

    Args:
        input: the tensor, overwritten.
        p: the drop probability.
        train: apply dropout.

    Returns:
        ``input``.
    """
    return input.copy_(F.alpha_dropout(input, p, train)) if train else input


def feature_alpha_dropout(input, p, train):
    """``F.feature_alpha_dropout(input, p, training=train)``: alpha dropout of whole channels.

    Args:
        input: a tensor ``(N, C, *)``.
        p: the drop probability.
        train: apply dropout.

    Returns:
        A tensor of ``input``'s shape.
    """
    return F.feature_alpha_dropout(input, p, train)


def feature_alpha_dropout_(input, p, train):
    """In-place ``feature_alpha_dropout``.

    Args:
        input: the tensor, overwritten.
        p: the drop probability.
        train: apply dropout.

    Returns:
        ``input``.
    """
    return input.copy_(F.feature_alpha_dropout(input, p, train)) if train else input


def feature_dropout(input, p, train):
    """Dropout of whole channels: each ``input[n, c]`` is zeroed with probability ``p`` (the rest
    scaled by ``1/(1-p)``), as ``F.dropout1d/2d/3d`` do for any number of dimensions.

    Args:
        input: a tensor ``(N, C, *)`` of at least 2 dimensions.
        p: the drop probability.
        train: apply dropout.

    Returns:
        A tensor of ``input``'s shape.

    Raises:
        ValueError: if ``p`` is not in [0, 1].
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not train or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    from ember.ops.creation import empty
    keep = empty(*input.shape[:2], *([1] * (input.dim() - 2)), dtype=input.dtype, device=input.device)
    return input * keep.bernoulli_(1.0 - p) / (1.0 - p)


def feature_dropout_(input, p, train):
    """In-place ``feature_dropout``.

    Args:
        input: the tensor, overwritten.
        p: the drop probability.
        train: apply dropout.

    Returns:
        ``input``.
    """
    return input.copy_(feature_dropout(input, p, train)) if train else input


# ---------------------------------------------------------------- activations
def celu(input, alpha=1.0):
    """``F.celu``: ``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    Args:
        input: the tensor.
        alpha: the scale of the negative part.

    Returns:
        A tensor of ``input``'s shape.
    """
    return F.celu(input, alpha)


def celu_(input, alpha=1.0):
    """In-place ``celu``.

    Args:
        input: the tensor, overwritten.
        alpha: the scale of the negative part.

    Returns:
        ``input``.
    """
    return F.celu(input, alpha, inplace=True)


def selu(input):
    """``F.selu``: the scaled ELU with PyTorch's fixed constants.

    Args:
        input: the tensor.

    Returns:
        A tensor of ``input``'s shape.
    """
    return F.selu(input)


def selu_(input):
    """In-place ``selu``.

    Args:
        input: the tensor, overwritten.

    Returns:
        ``input``.
    """
    return F.selu(input, inplace=True)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
    """Randomized leaky ReLU: negative values scaled by a slope drawn per element from
    ``U(lower, upper)`` when training, by ``(lower + upper) / 2`` otherwise.

    Args:
        input: the tensor.
        lower: the smallest slope.
        upper: the largest slope.
        training: draw the slopes (else use their mean).
        generator: the generator the slopes are drawn from.

    Returns:
        A tensor of ``input``'s shape.
    """
    if not training:
        return F.leaky_relu(input, (lower + upper) / 2)
    from ember.ops.creation import empty_like
    slope = empty_like(input).uniform_(lower, upper, generator=generator)
    return input.where(input >= 0, input * slope)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
    """In-place ``rrelu``.

    Args:
        input: the tensor, overwritten.
        lower, upper, training, generator: as for ``rrelu``.

    Returns:
        ``input``.
    """
    return input.copy_(rrelu(input, lower, upper, training, generator))


def threshold(input, threshold, value):
    """``F.threshold``: ``x`` where ``x > threshold``, else ``value``.

    Args:
        input: the tensor.
        threshold: the cut.
        value: what replaces the values at or below it.

    Returns:
        A tensor of ``input``'s shape.
    """
    return F.threshold(input, threshold, value)


def threshold_(input, threshold, value):
    """In-place ``threshold``.

    Args:
        input: the tensor, overwritten.
        threshold: the cut.
        value: the replacement.

    Returns:
        ``input``.
    """
    return F.threshold(input, threshold, value, inplace=True)


def hardshrink(input, lambd=0.5):
    """``F.hardshrink``: ``x`` where ``|x| > lambd``, else 0.

    Args:
        input: the tensor.
        lambd: the cut.

    Returns:
        A tensor of ``input``'s shape.
    """
    return F.hardshrink(input, lambd)


def prelu(input, weight):
    """``F.prelu``: negative values scaled by the learned ``weight`` (one value, or one per channel).

    Args:
        input: the tensor.
        weight: the slopes.

    Returns:
        A tensor of ``input``'s shape.
    """
    return F.prelu(input, weight)


# ---------------------------------------------------------------- distances and shuffles
def pdist(input, p=2.0):
    """``F.pdist``: the ``p``-norm distances between every pair of rows, upper triangle flattened.

    Args:
        input: an ``(N, M)`` tensor.
        p: the norm degree.

    Returns:
        A tensor of ``N * (N - 1) / 2`` distances.
    """
    return F.pdist(input, p)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """``F.cosine_similarity``.

    Args:
        x1: a tensor.
        x2: a tensor broadcastable with ``x1``.
        dim: the dimension of the vectors.
        eps: the floor of each norm.

    Returns:
        The similarities, ``dim`` removed.
    """
    return F.cosine_similarity(x1, x2, dim, eps)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """``F.pairwise_distance``: ``|x1 - x2 + eps|_p`` over the last dimension.

    Args:
        x1: a tensor.
        x2: a tensor broadcastable with ``x1``.
        p: the norm degree.
        eps: added to the difference.
        keepdim: keep the reduced dimension.

    Returns:
        The distances.
    """
    return F.pairwise_distance(x1, x2, p, eps, keepdim)


def pixel_shuffle(input, upscale_factor):
    """``F.pixel_shuffle``: ``(*, C r^2, H, W)`` to ``(*, C, H r, W r)``.

    Args:
        input: the tensor.
        upscale_factor: ``r``.

    Returns:
        The rearranged tensor.
    """
    return F.pixel_shuffle(input, upscale_factor)


def pixel_unshuffle(input, downscale_factor):
    """``F.pixel_unshuffle``: ``(*, C, H r, W r)`` to ``(*, C r^2, H, W)``.

    Args:
        input: the tensor.
        downscale_factor: ``r``.

    Returns:
        The rearranged tensor.
    """
    return F.pixel_unshuffle(input, downscale_factor)


def bilinear(input1, input2, weight, bias=None):
    """``F.bilinear``: ``y_k = x1^T W_k x2 + b_k``.

    Args:
        input1: ``(*, in1)``.
        input2: ``(*, in2)``.
        weight: ``(out, in1, in2)``.
        bias: ``(out,)`` or None.

    Returns:
        ``(*, out)``.
    """
    return F.bilinear(input1, input2, weight, bias)


# ---------------------------------------------------------------- normalization (native argument order)
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    """``F.layer_norm``.

    Args:
        input: the tensor.
        normalized_shape: the trailing shape normalized over.
        weight, bias: the affine parameters, or None.
        eps: added to the variance.
        cudnn_enable: accepted for PyTorch's signature (ember has no cuDNN path to choose).

    Returns:
        A tensor of ``input``'s shape.
    """
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    """``F.group_norm``.

    Args:
        input: ``(N, C, *)``.
        num_groups: the number of groups of channels.
        weight, bias: per-channel affine parameters, or None.
        eps: added to the variance.
        cudnn_enabled: accepted for PyTorch's signature.

    Returns:
        A tensor of ``input``'s shape.
    """
    return F.group_norm(input, num_groups, weight, bias, eps)


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled):
    """``F.batch_norm`` with the native argument order (affine parameters before the statistics).

    Args:
        input: ``(N, C, *)``.
        weight, bias: per-channel affine parameters, or None.
        running_mean, running_var: the running statistics (updated when training), or None.
        training: normalize with the batch's statistics.
        momentum: the running statistics' update factor.
        eps: added to the variance.
        cudnn_enabled: accepted for PyTorch's signature.

    Returns:
        A tensor of ``input``'s shape.
    """
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps, cudnn_enabled):
    """``F.instance_norm`` with the native argument order.

    Args:
        input: ``(N, C, *)``.
        weight, bias: per-channel affine parameters, or None.
        running_mean, running_var: running statistics, or None.
        use_input_stats: normalize with each instance's statistics.
        momentum: the running statistics' update factor.
        eps: added to the variance.
        cudnn_enabled: accepted for PyTorch's signature.

    Returns:
        A tensor of ``input``'s shape.
    """
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """``F.rms_norm``.

    Args:
        input: the tensor.
        normalized_shape: the trailing shape normalized over.
        weight: the scale, or None.
        eps: added to the mean square (default: the dtype's machine epsilon).

    Returns:
        A tensor of ``input``'s shape.
    """
    return F.rms_norm(input, normalized_shape, weight, eps)


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """``F.embedding`` with the native order: the rows of ``weight`` at ``indices``.

    Args:
        weight: the table ``(num_embeddings, dim)``.
        indices: an integer tensor.
        padding_idx: the row that gets no gradient; ``-1`` (the native default) for none.
        scale_grad_by_freq: scale gradients by the inverse frequency of the indices in the batch.
        sparse: ask for a sparse gradient of ``weight``.

    Returns:
        A tensor ``(*indices.shape, dim)``.
    """
    return F.embedding(indices, weight, None if padding_idx < 0 else padding_idx,
                       scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


# ---------------------------------------------------------------- losses (reduction as 0 / 1 / 2)
def kl_div(input, target, reduction=1, *, log_target=False):
    """``F.kl_div`` with an int reduction; 1 is the mean over every element (not per batch).

    Args:
        input: log-probabilities.
        target: probabilities (log-probabilities with ``log_target``).
        reduction: 0 none, 1 mean, 2 sum.
        log_target: whether ``target`` is given as log-probabilities.

    Returns:
        The loss.
    """
    return _reduce(F.kl_div(input, target, reduction="none", log_target=log_target), reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=1):
    """``F.margin_ranking_loss`` with an int reduction.

    Args:
        input1, input2: the scores.
        target: 1 or -1 per pair.
        margin: the margin.
        reduction: 0 none, 1 mean, 2 sum.

    Returns:
        The loss.
    """
    return _reduce(F.margin_ranking_loss(input1, input2, target, margin, reduction="none"), reduction)


def hinge_embedding_loss(input, target, margin=1.0, reduction=1):
    """``F.hinge_embedding_loss`` with an int reduction.

    Args:
        input: the distances.
        target: 1 or -1.
        margin: the margin.
        reduction: 0 none, 1 mean, 2 sum.

    Returns:
        The loss.
    """
    return _reduce(F.hinge_embedding_loss(input, target, margin, reduction="none"), reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction=1):
    """``F.triplet_margin_loss`` with an int reduction.

    Args:
        anchor, positive, negative: the embeddings.
        margin: the margin.
        p: the norm degree of the distances.
        eps: added to the differences.
        swap: use the distance swap.
        reduction: 0 none, 1 mean, 2 sum.

    Returns:
        The loss.
    """
    return _reduce(F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap, reduction="none"),
                   reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=1):
    """``F.cosine_embedding_loss`` with an int reduction.

    Args:
        input1, input2: the embeddings.
        target: 1 or -1 per pair.
        margin: the margin for dissimilar pairs.
        reduction: 0 none, 1 mean, 2 sum.

    Returns:
        The loss.
    """
    return _reduce(F.cosine_embedding_loss(input1, input2, target, margin, reduction="none"), reduction)


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    """``F.poisson_nll_loss`` with the native, all-positional signature and an int reduction.

    Args:
        input: the predicted rates (log-rates with ``log_input``).
        target: the counts.
        log_input: whether ``input`` is a log-rate.
        full: add the Stirling term.
        eps: keeps ``log`` finite when ``log_input`` is false.
        reduction: 0 none, 1 mean, 2 sum.

    Returns:
        The loss.
    """
    return _reduce(F.poisson_nll_loss(input, target, log_input, full, eps=eps, reduction="none"), reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=1):
    """``F.binary_cross_entropy_with_logits`` with an int reduction.

    Args:
        input: the logits.
        target: the targets in [0, 1].
        weight: per-element weights, or None.
        pos_weight: the weight of positive examples per class, or None.
        reduction: 0 none, 1 mean, 2 sum.

    Returns:
        The loss.
    """
    return _reduce(F.binary_cross_entropy_with_logits(input, target, weight, reduction="none",
                                                      pos_weight=pos_weight), reduction)


# ---------------------------------------------------------------- 1-d pooling
def adaptive_avg_pool1d(input, output_size):
    """``F.adaptive_avg_pool1d``.

    Args:
        input: ``(N, C, L)`` or ``(C, L)``.
        output_size: the output length.

    Returns:
        The pooled tensor.
    """
    return F.adaptive_avg_pool1d(input, output_size)


def avg_pool1d(input, kernel_size, stride=(), padding=0, ceil_mode=False, count_include_pad=True):
    """``F.avg_pool1d``; an empty ``stride`` (the native default) means the kernel size.

    Args:
        input: ``(N, C, L)`` or ``(C, L)``.
        kernel_size: the window.
        stride: the step (empty or None: ``kernel_size``).
        padding: zero padding on both sides.
        ceil_mode: round the output length up.
        count_include_pad: count the padding in the averages.

    Returns:
        The pooled tensor.
    """
    stride = None if stride is None or (isinstance(stride, (tuple, list)) and not stride) else stride
    return F.avg_pool1d(input, kernel_size, stride, padding, ceil_mode, count_include_pad)


def adaptive_max_pool1d(input, output_size):
    """``F.adaptive_max_pool1d`` returning the indices too, as the native op does.

    Args:
        input: ``(N, C, L)`` or ``(C, L)``.
        output_size: the output length.

    Returns:
        ``(values, indices)``.
    """
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)
