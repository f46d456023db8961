"""Loss functions (``F.cross_entropy``, ``F.mse_loss``, ...).

Composites of ember ops. Log-probabilities come from ``log_softmax`` (shifted by the
max), and the logistic losses use a softplus that never overflows, so losses stay
finite and exact for logits of any magnitude. ``binary_cross_entropy`` is an autograd
Function: its gradient formula clamps the denominator as PyTorch does, so
probabilities of exactly 0 or 1 give finite gradients.
"""
from __future__ import annotations

import math
import warnings

from ember.autograd.function import Function
from ember.core import dtype as dt
from ember.core.tensor import Tensor
from ember.nn.functional.activation import _softplus_unit, log_softmax
from ember.nn.functional.misc import pairwise_distance
from ember.ops import elementwise as ew
from ember.ops import reduction as red
from ember.ops.creation import cast

__all__ = [
    "l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "nll_loss", "cross_entropy", "kl_div", "cosine_embedding_loss",
    "margin_ranking_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss", "hinge_embedding_loss",
    "soft_margin_loss", "multilabel_soft_margin_loss", "poisson_nll_loss", "gaussian_nll_loss",
    "multi_margin_loss",
]


# ---------------------------------------------------------------- reduction
def _legacy_reduction(size_average, reduce) -> str:
    """Map the deprecated size_average/reduce flags to a reduction string."""
    warnings.warn("size_average and reduce args will be deprecated, please use reduction='mean', 'sum' or "
                  "'none' instead.", stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _resolve_reduction(size_average, reduce, reduction) -> str:
    if size_average is not None or reduce is not None:
        return _legacy_reduction(size_average, reduce)
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return red.mean(loss)
    if reduction == "sum":
        return red.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _check_reduction(reduction):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _check_tensors(name, **tensors):
    for arg, value in tensors.items():
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' must be Tensor, not {type(value).__name__}")


def _warn_size_mismatch(input, target, name):
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"{name}: using a target size ({target.shape}) that is different to the input size "
                      f"({input.shape}). This will likely lead to incorrect results due to broadcasting. "
                      f"Please ensure they have the same size.", stacklevel=3)


# ---------------------------------------------------------------- regression
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean (or sum) absolute error."""
    _check_tensors("l1_loss", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _warn_size_mismatch(input, target, "l1_loss")
    loss = ew.abs(input - target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean (or sum) squared error."""
    _check_tensors("mse_loss", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _warn_size_mismatch(input, target, "mse_loss")
    diff = input - target
    loss = diff * diff
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Squared error / (2 beta) where |error| < beta, else |error| - beta / 2."""
    _check_tensors("smooth_l1_loss", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta, got {beta}.")
    _warn_size_mismatch(input, target, "smooth_l1_loss")
    diff = ew.abs(input - target)
    if beta == 0:
        return _reduce(diff, reduction)
    loss = ew.where(diff < beta, diff * diff * (0.5 / beta), diff - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Squared error / 2 where |error| < delta, else delta * (|error| - delta / 2)."""
    _check_tensors("huber_loss", input=input, target=target)
    _check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta, got {delta}.")
    _warn_size_mismatch(input, target, "huber_loss")
    diff = ew.abs(input - target)
    loss = ew.where(diff < delta, diff * diff * 0.5, (diff - 0.5 * delta) * delta)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- binary classification
class _BinaryCrossEntropy(Function):
    """-w * (y log x + (1 - y) log(1 - x)), each log clamped at -100 as in PyTorch."""

    @staticmethod
    def forward(ctx, input, target, weight):
        log_x = ew.log(input).clamp(min=-100.0)
        log_1mx = ew.log1p(ew.neg(input)).clamp(min=-100.0)
        loss = ew.neg(target * log_x + (1.0 - target) * log_1mx)
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(input, target, weight)
        return loss

    @staticmethod
    def backward(ctx, grad):
        input, target, weight = ctx.saved_tensors
        g = grad if weight is None else grad * weight
        grad_input = grad_target = None
        if ctx.needs_input_grad[0]:
            grad_input = g * (input - target) / ((1.0 - input) * input).clamp(min=1e-12)
        if ctx.needs_input_grad[1]:
            log_x = ew.log(input).clamp(min=-100.0)
            log_1mx = ew.log1p(ew.neg(input)).clamp(min=-100.0)
            grad_target = g * (log_1mx - log_x)
        return grad_input, grad_target, None


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Cross entropy between probabilities ``input`` and targets in [0, 1]."""
    _check_tensors("binary_cross_entropy", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size "
                         f"({input.shape}) is deprecated. Please ensure they have the same size.")
    if weight is not None:
        from ember.dispatch.meta import broadcast_shapes
        broadcast_shapes(weight.shape, input.shape)
    target = cast(target, input.dtype)
    return _reduce(_BinaryCrossEntropy.apply(input, target, weight), reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """``binary_cross_entropy(sigmoid(input), target)`` computed stably from the logits;
    ``pos_weight`` (broadcast over the last dim) weights the positive term."""
    _check_tensors("binary_cross_entropy_with_logits", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    target = cast(target, input.dtype)
    # -[y log s(x) + (1-y) log(1 - s(x))] = (1 - y) x + softplus(-x)
    softplus_neg = _softplus_unit(ew.neg(input))
    if pos_weight is not None:
        loss = (1.0 - target) * input + (target * (pos_weight - 1.0) + 1.0) * softplus_neg
    else:
        loss = (1.0 - target) * input + softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- classification
def _class_layout(input, target, name):
    """Validate (input, class-index target) shapes; return (class dim, number of classes)."""
    if input.ndim == 0:
        raise ValueError(f"{name}: input must have at least 1 dimension (classes), got a 0-d tensor")
    if input.ndim == 1:
        if target.ndim != 0:
            raise RuntimeError(f"{name}: for 1-D (unbatched) input of {input.shape[0]} classes the target must be "
                               f"0-D, got shape {list(target.shape)}")
        return 0, input.shape[0]
    if target.ndim == 0 or input.shape[0] != target.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                         f"({target.shape[0] if target.ndim else 0}).")
    expected = (input.shape[0],) + tuple(input.shape[2:])
    if tuple(target.shape) != expected:
        raise RuntimeError(f"{name}: expected target of shape {list(expected)} for input of shape "
                           f"{list(input.shape)}, got {list(target.shape)}")
    return 1, input.shape[1]


def _check_class_weight(weight, n_classes):
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != n_classes):
        raise RuntimeError(f"weight tensor should be defined either for all {n_classes} classes or no classes "
                           f"but got weight tensor of shape: {list(weight.shape)}")


def _check_index_target(target, n_classes, ignore_index, name):
    if target.dtype.is_floating_point or target.dtype is dt.bool_:
        raise RuntimeError(f"{name}: expected target of class indices with dtype int64 (Long), got {target.dtype}")
    if target.numel() == 0:
        return
    bad = ew.logical_and(ew.ne(target, ignore_index), ew.logical_or(target < 0, target >= n_classes))
    if bool(bad.any()):
        value = int(target[bad].reshape(-1)[0])
        raise IndexError(f"Target {value} is out of bounds for {n_classes} classes.")


def _class_view(weight, class_dim, ndim):
    """``weight`` (C,) shaped to broadcast along ``class_dim`` of an ndim-d input."""
    return weight.reshape((weight.shape[0],) + (1,) * (ndim - class_dim - 1))


def _nll(input, target, weight, ignore_index, class_dim):
    """Per-element -input[target] * weight[target] (0 where ignored), and the weights used."""
    target = cast(target, dt.int64)
    valid = ew.ne(target, ignore_index)
    safe = ew.where(valid, target, 0)
    picked = input.gather(class_dim, safe.unsqueeze(class_dim)).squeeze(class_dim)
    if weight is not None:
        w = ew.where(valid, weight.index_select(0, safe.reshape(-1)).reshape(safe.shape), 0.0)
    else:
        w = cast(valid, input.dtype)
    loss = ew.where(valid, ew.neg(picked) * w, 0.0)
    return loss, w


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log likelihood of class indices ``target`` under log-probabilities ``input``
    of shape (C), (N, C) or (N, C, d1, ...); the weighted mean divides by the total weight."""
    _check_tensors("nll_loss", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    class_dim, n_classes = _class_layout(input, target, "nll_loss")
    _check_class_weight(weight, n_classes)
    _check_index_target(target, n_classes, ignore_index, "nll_loss")
    loss, w = _nll(input, target, weight, ignore_index, class_dim)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return red.sum(loss)
    return red.sum(loss) / red.sum(w)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross entropy between logits ``input`` and class indices or class probabilities.

    ``input`` is (C), (N, C) or (N, C, d1, ...). An integer ``target`` holds class
    indices (shape of input without the class dim); a floating ``target`` of input's shape
    holds probabilities. ``label_smoothing`` mixes the target with the uniform distribution.
    """
    _check_tensors("cross_entropy", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input.ndim == 0:
        raise ValueError("cross_entropy: input must have at least 1 dimension (classes), got a 0-d tensor")
    class_dim = 0 if input.ndim == 1 else 1
    n_classes = input.shape[class_dim]
    _check_class_weight(weight, n_classes)
    logp = log_softmax(input, class_dim)

    if target.dtype.is_floating_point:  # class probabilities
        if tuple(target.shape) != tuple(input.shape):
            raise RuntimeError(f"cross_entropy: a floating target holds class probabilities and must have the "
                               f"input's shape {list(input.shape)}, got {list(target.shape)}")
        target = cast(target, logp.dtype)
        if label_smoothing > 0:
            target = target * (1.0 - label_smoothing) + label_smoothing / n_classes
        terms = logp * target
        if weight is not None:
            terms = terms * _class_view(weight, class_dim, input.ndim)
        loss = ew.neg(red.sum(terms, class_dim))
        if reduction == "mean":
            return red.sum(loss) / (input.numel() // n_classes if n_classes else 1)
        return _reduce(loss, reduction)

    class_dim, n_classes = _class_layout(input, target, "cross_entropy")
    _check_index_target(target, n_classes, ignore_index, "cross_entropy")
    nll, w = _nll(logp, target, weight, ignore_index, class_dim)
    if label_smoothing == 0:
        if reduction == "none":
            return nll
        if reduction == "sum":
            return red.sum(nll)
        return red.sum(nll) / red.sum(w)
    # the uniform part: -sum_c weight_c * logp_c / C, left out where the target is ignored
    terms = logp if weight is None else logp * _class_view(weight, class_dim, input.ndim)
    valid = ew.ne(target, ignore_index)
    smooth = ew.where(valid, ew.neg(red.sum(terms, class_dim)), 0.0)
    eps = label_smoothing
    if reduction == "none":
        return nll * (1.0 - eps) + smooth * (eps / n_classes)
    if reduction == "sum":
        return red.sum(nll) * (1.0 - eps) + red.sum(smooth) * (eps / n_classes)
    total_weight = red.sum(w)
    return (red.sum(nll) * (1.0 - eps) + red.sum(smooth) * (eps / n_classes)) / total_weight


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL divergence with ``input`` given as log-probabilities: sum target * (log target - input).

    ``reduction='batchmean'`` divides the sum by the batch size (the mathematical KL);
    ``'mean'`` divides by the number of elements.
    """
    _check_tensors("kl_div", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    if reduction not in ("mean", "sum", "none", "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size. "
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition. "
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      stacklevel=2)
    if log_target:
        loss = ew.exp(target) * (target - input)
    else:
        zero = ew.eq(target, 0)
        safe = ew.where(zero, 1.0, target)
        loss = ew.where(zero, 0.0, target * ew.log(safe)) - target * input
    if reduction == "batchmean":
        total = red.sum(loss)
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- embeddings and ranking
def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(x1, x2) where target is 1; max(0, cos(x1, x2) - margin) where it is -1."""
    _check_tensors("cosine_embedding_loss", input1=input1, input2=input2, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if input1.ndim not in (1, 2) or input1.shape != input2.shape:
        raise RuntimeError(f"cosine_embedding_loss: expected 1-D or 2-D inputs of the same shape, got "
                           f"{list(input1.shape)} and {list(input2.shape)}")
    if target.ndim != input1.ndim - 1:
        raise RuntimeError(f"{input1.ndim}D target tensor expects {input1.ndim - 1}D target, but got "
                           f"{target.ndim}D target")
    dim = input1.ndim - 1
    eps = 1e-12
    dot = red.sum(input1 * input2, dim)
    mag1 = red.sum(input1 * input1, dim) + eps
    mag2 = red.sum(input2 * input2, dim) + eps
    cos = dot / ew.sqrt(mag1 * mag2)
    positive = ew.where(ew.eq(target, 1), 1.0 - cos, 0.0)
    negative = ew.where(ew.eq(target, -1), (cos - margin).clamp(min=0.0), 0.0)
    return _reduce(positive + negative, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -target * (input1 - input2) + margin)."""
    _check_tensors("margin_ranking_loss", input1=input1, input2=input2, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} ")
    loss = (ew.neg(target) * (input1 - input2) + margin).clamp(min=0.0)
    return _reduce(loss, reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """``input`` where target is 1, max(0, margin - input) where it is -1."""
    _check_tensors("hinge_embedding_loss", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    from_margin = ew.where(ew.ne(target, 1), (margin - input).clamp(min=0.0), 0.0)
    from_self = ew.where(ew.ne(target, -1), input, 0.0)
    return _reduce(from_margin + from_self, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)), computed without overflow."""
    _check_tensors("soft_margin_loss", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    return _reduce(_softplus_unit(ew.neg(target * input)), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Per-class logistic loss averaged over the C classes of (N, C) input."""
    _check_tensors("multilabel_soft_margin_loss", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    # -(y log s(x) + (1-y) log s(-x)) = y softplus(-x) + (1-y) softplus(x)
    loss = target * _softplus_unit(ew.neg(input)) + (1.0 - target) * _softplus_unit(input)
    if weight is not None:
        loss = loss * weight
    loss = red.sum(loss, input.ndim - 1) / input.shape[-1]
    return _reduce(loss, reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """Multi-class hinge loss: sum over i != y of max(0, margin - x[y] + x[i])^p / C."""
    _check_tensors("multi_margin_loss", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    y = cast(target.reshape(-1), dt.int64)
    n_classes = x.shape[1]
    _check_index_target(y, n_classes, -100, "multi_margin_loss")
    picked = x.gather(1, y.unsqueeze(1))
    terms = (x - picked + margin).clamp(min=0.0)
    if p == 2:
        terms = terms * terms
    if weight is not None:
        terms = terms * weight.index_select(0, y).unsqueeze(1)
    from ember.ops.creation import arange
    not_target = ew.ne(arange(n_classes, device=x.device).unsqueeze(0), y.unsqueeze(1))
    loss = red.sum(ew.where(not_target, terms, 0.0), 1) / n_classes
    if input.ndim != 2:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """max(d(a, p) - d(a, n) + margin, 0) with the p-norm distance; ``swap`` uses
    min(d(a, n), d(p, n)) as the negative distance."""
    _check_tensors("triplet_margin_loss", anchor=anchor, positive=positive, negative=negative)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {anchor.ndim}D, positive {positive.ndim}D, and negative "
                           f"{negative.ndim}D inputs")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = ew.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce((d_pos - d_neg + margin).clamp(min=0.0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
                                      swap=False, reduction="mean"):
    """Triplet loss with any distance function (default: pairwise_distance)."""
    _check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} "
                         f"instead")
    distance = distance_function if distance_function is not None else pairwise_distance
    d_pos = distance(anchor, positive)
    d_neg = distance(anchor, negative)
    if swap:
        d_neg = ew.minimum(d_neg, distance(positive, negative))
    return _reduce((d_pos - d_neg + margin).clamp(min=0.0), reduction)


# ---------------------------------------------------------------- likelihoods
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Negative log likelihood of ``target`` under Poisson(rate); rate is exp(input) when
    ``log_input``, else input. ``full`` adds Stirling's approximation of log(target!)."""
    _check_tensors("poisson_nll_loss", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if log_input:
        loss = ew.exp(input) - target * input
    else:
        loss = input - target * ew.log(input + eps)
    if full:
        safe = ew.where(target > 1, target, 1.0)
        stirling = safe * ew.log(safe) - safe + ew.log(safe * (2 * math.pi)) * 0.5
        loss = loss + ew.where(target > 1, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 * (log(var) + (input - target)^2 / var) (+ 0.5 log(2 pi) when ``full``);
    ``var`` is clamped to at least ``eps`` (without affecting its gradient)."""
    _check_tensors("gaussian_nll_loss", input=input, target=target)
    _check_reduction(reduction)
    if not isinstance(var, Tensor):
        from ember.ops.creation import full_like
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = full_like(input, var)
    if var.shape != input.shape:
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1:
            pass
        else:
            raise ValueError(f"var is of incorrect size: got {list(var.shape)} for input of shape "
                             f"{list(input.shape)}")
    if bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    # clamp the value, keep the gradient of var itself
    var = var + (var.detach().clamp(min=eps) - var.detach())
    diff = input - target
    loss = (ew.log(var) + diff * diff / var) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
