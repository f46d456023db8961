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
from ember.dispatch.public_op import dispatch_point
from ember.core import dtype as dt
from ember.core.autograd import no_grad
from ember.core.tensor import Tensor
from ember.nn.functional.activation import _softplus_unit, log_softmax
from ember.nn.functional.misc import pairwise_distance
from ember.ops import elementwise as ew
from ember.ops import reduction as red
from ember.ops.creation import cast
from ember.ops.out import _title

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
@dispatch_point("l1_loss")
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error between ``input`` and ``target``.

    A warning is raised when the two shapes differ, since they are broadcast against each other.

    Args:
        input: the predictions.
        target: the targets, normally of ``input``'s shape.
        size_average: deprecated, use ``reduction``. If it or ``reduce`` is given (not ``None``), the
            pair picks the reduction instead, with a warning: ``reduce=False`` gives ``'none'``, otherwise
            ``size_average=False`` gives ``'sum'`` and anything else ``'mean'``.
        reduce: deprecated, use ``reduction``; see ``size_average``.
        reduction: ``'mean'`` (default) averages the per-element losses, ``'sum'`` adds them up, ``'none'``
            returns them unreduced.
        weight: optional tensor multiplied into the per-element losses (broadcast) before reduction;
            ``'mean'`` still divides by the number of elements.

    Returns:
        The loss: a 0-d tensor, or the per-element losses (``input``'s shape) for ``reduction='none'``.
    """
    _check_tensors("l1_loss", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _warn_size_mismatch(input, target, "l1_loss")
    loss = ew.abs(input - target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


@dispatch_point("mse_loss")
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error between ``input`` and ``target``.

    A warning is raised when the two shapes differ, since they are broadcast against each other.

    Args:
        input: the predictions.
        target: the targets, normally of ``input``'s shape.
        size_average: deprecated, use ``reduction``. If it or ``reduce`` is given (not ``None``), the
            pair picks the reduction instead, with a warning: ``reduce=False`` gives ``'none'``, otherwise
            ``size_average=False`` gives ``'sum'`` and anything else ``'mean'``.
        reduce: deprecated, use ``reduction``; see ``size_average``.
        reduction: ``'mean'`` (default) averages the per-element losses, ``'sum'`` adds them up, ``'none'``
            returns them unreduced.
        weight: optional tensor multiplied into the per-element losses (broadcast) before reduction;
            ``'mean'`` still divides by the number of elements.

    Returns:
        The loss: a 0-d tensor, or the per-element losses (``input``'s shape) for ``reduction='none'``.
    """
    _check_tensors("mse_loss", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _warn_size_mismatch(input, target, "mse_loss")
    diff = input - target
    loss = diff * diff
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


@dispatch_point("smooth_l1_loss")
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Smooth L1 loss: quadratic for small errors, linear for large ones.

    With ``d = |input - target|`` each element contributes ``0.5 * d**2 / beta`` where
    ``d < beta`` and ``d - 0.5 * beta`` elsewhere; ``beta=0`` gives the plain L1 loss.

    Args:
        input: the predictions.
        target: the targets, normally of ``input``'s shape (a warning is raised when they differ).
        size_average: deprecated, use ``reduction``. If it or ``reduce`` is given (not ``None``), the
            pair picks the reduction instead, with a warning: ``reduce=False`` gives ``'none'``, otherwise
            ``size_average=False`` gives ``'sum'`` and anything else ``'mean'``.
        reduce: deprecated, use ``reduction``; see ``size_average``.
        reduction: ``'mean'`` (default) averages the per-element losses, ``'sum'`` adds them up, ``'none'``
            returns them unreduced.
        beta: where the loss switches from quadratic to linear; must be non-negative. Default: ``1.0``.

    Returns:
        The loss: a 0-d tensor, or the per-element losses (``input``'s shape) for ``reduction='none'``.

    Raises:
        RuntimeError: if ``beta`` is negative.
    """
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


@dispatch_point("huber_loss")
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Huber loss: quadratic for errors below ``delta``, linear (with slope ``delta``) above.

    With ``d = |input - target|`` each element contributes ``0.5 * d**2`` where ``d < delta``
    and ``delta * (d - 0.5 * delta)`` elsewhere.

    Args:
        input: the predictions.
        target: the targets, normally of ``input``'s shape (a warning is raised when they differ).
        reduction: ``'mean'`` (default) averages the per-element losses, ``'sum'`` adds them up, ``'none'``
            returns them unreduced.
        delta: where the loss switches from quadratic to linear; must be positive. Default: ``1.0``.
        weight: optional tensor multiplied into the per-element losses (broadcast) before reduction.

    Returns:
        The loss: a 0-d tensor, or the per-element losses (``input``'s shape) for ``reduction='none'``.

    Raises:
        RuntimeError: if ``delta`` is not positive.
    """
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


@dispatch_point("binary_cross_entropy")
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Binary cross entropy between predicted probabilities ``input`` and targets ``target``.

    Each element contributes ``-(y * log(x) + (1 - y) * log(1 - x))``, with both logarithms
    clamped to at least -100 so that probabilities of exactly 0 or 1 stay finite.

    Args:
        input: probabilities in ``[0, 1]``.
        target: targets in ``[0, 1]`` of ``input``'s shape and dtype.
        weight: optional rescaling of each element's loss, broadcastable to ``input``.
        size_average: deprecated, use ``reduction``. If it or ``reduce`` is given (not ``None``), the
            pair picks the reduction instead, with a warning: ``reduce=False`` gives ``'none'``, otherwise
            ``size_average=False`` gives ``'sum'`` and anything else ``'mean'``.
        reduce: deprecated, use ``reduction``; see ``size_average``.
        reduction: ``'mean'`` (default) averages the per-element losses, ``'sum'`` adds them up, ``'none'``
            returns them unreduced.

    Returns:
        The loss: a 0-d tensor, or the per-element losses (``input``'s shape) for ``reduction='none'``.

    Raises:
        ValueError: if ``target``'s shape differs from ``input``'s.
        RuntimeError: if ``target``'s dtype differs from ``input``'s, or an element of either lies outside
            ``[0, 1]``.
    """
    _check_tensors("binary_cross_entropy", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size "
                         f"({input.shape}) is deprecated. Please ensure they have the same size.")
    if weight is not None:
        from ember.ops.shape import broadcast_shapes
        broadcast_shapes(target.shape, weight.shape)
        if weight.dtype is not input.dtype:
            weight = cast(weight, input.dtype)
    if target.dtype is not input.dtype:
        raise RuntimeError(f"Found dtype {_title(target.dtype)} but expected {_title(input.dtype)}")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"binary_cross_entropy\" not implemented for '{_title(input.dtype)}'")
    _check_unit_interval(input, target)
    return _reduce(_BinaryCrossEntropy.apply(input, target, weight), reduction)


def _check_unit_interval(input, target):
    """PyTorch's CPU check: every input, then every target, element in [0, 1] (NaN fails), element by element."""
    if input.numel() == 0:
        return
    with no_grad():
        bad_input = ew.logical_not(ew.logical_and(input >= 0, input <= 1))
        bad_target = ew.logical_not(ew.logical_and(target >= 0, target <= 1))
        bad = ew.logical_or(bad_input, bad_target)
        if not bool(bad.any()):
            return
        first = bad.reshape(-1).tolist().index(True)
        which = "input" if bad_input.reshape(-1).tolist()[first] else "target"
    raise RuntimeError(f"all elements of {which} should be between 0 and 1")


@dispatch_point("binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Binary cross entropy of ``sigmoid(input)`` against ``target``, computed stably from the logits.

    Each element contributes ``-(p * y * log(sigmoid(x)) + (1 - y) * log(1 - sigmoid(x)))``,
    where ``p`` is ``pos_weight`` (1 when not given); no intermediate overflows for large logits.

    Args:
        input: the logits.
        target: floating targets in ``[0, 1]`` of ``input``'s shape; the loss has their dtype.
        weight: optional rescaling of each element's loss, broadcastable to ``input``.
        size_average: deprecated, use ``reduction``. If it or ``reduce`` is given (not ``None``), the
            pair picks the reduction instead, with a warning: ``reduce=False`` gives ``'none'``, otherwise
            ``size_average=False`` gives ``'sum'`` and anything else ``'mean'``.
        reduce: deprecated, use ``reduction``; see ``size_average``.
        reduction: ``'mean'`` (default) averages the per-element losses, ``'sum'`` adds them up, ``'none'``
            returns them unreduced.
        pos_weight: optional weight of the positive term, broadcast against ``target`` (e.g. one value per
            class along the last dim).

    Returns:
        The loss: a 0-d tensor, or the per-element losses (``input``'s shape) for ``reduction='none'``.

    Raises:
        ValueError: if ``target``'s shape differs from ``input``'s.
        RuntimeError: if ``target`` is not floating.
    """
    _check_tensors("binary_cross_entropy_with_logits", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"log_sigmoid_cpu\" not implemented for '{_title(input.dtype)}'")
    # -[y log s(x) + (1-y) log(1 - s(x))] = (1 - y) x + softplus(-x)
    softplus_neg = _softplus_unit(ew.neg(input))
    log_weight = None if pos_weight is None else (pos_weight - 1.0) * target + 1.0
    if target.dtype is dt.bool_:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
                           "`logical_xor()` operator instead.")
    if not target.dtype.is_floating_point:
        raise RuntimeError(f"result type {_title(input.dtype)} can't be cast to the desired output type "
                           f"{_title(target.dtype)}")
    if log_weight is not None:
        loss = (1.0 - target) * input + log_weight * softplus_neg
    else:
        loss = (1.0 - target) * input + softplus_neg
    if weight is not None:
        loss = loss * weight
    if loss.dtype is not target.dtype:  # PyTorch computes in place into (1 - target)
        loss = cast(loss, target.dtype)
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- classification
def _check_target_dtype(target):
    if target.dtype is not dt.int64 and target.dtype is not dt.uint8:
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_title(target.dtype)}")


def _check_class_weight(weight, n_classes, prefix=""):
    if weight is not None and (weight.ndim != 1 or weight.numel() != n_classes):
        raise RuntimeError(f"{prefix}weight tensor should be defined either for all {n_classes} classes or no classes "
                           f"but got weight tensor of shape: {list(weight.shape)}")


def _check_spatial_weight(weight, n_classes):
    if weight is not None and weight.numel() != n_classes:
        raise RuntimeError("weight tensor should be defined either for all or no classes")


def _nll_layout(input, target, weight):
    """Validate a class-index target (and ``weight``) against ``input`` as PyTorch's nll_loss_nd does.

    The checks and their order are PyTorch's. Returns ``(class_dim, n_classes, target)``, the
    target of a 1-D input given as shape ``(1,)`` reshaped to ``()``.
    """
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if weight is not None and weight.dtype is not input.dtype:  # PyTorch's kernel takes one dtype
        raise RuntimeError(f"expected scalar type {_title(input.dtype)} but found {_title(weight.dtype)}")
    if input.ndim != 1 and input.shape[0] != (target.shape[0] if target.ndim else 0):
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                         f"({target.shape[0] if target.ndim else 0}).")
    if input.ndim <= 2:
        if target.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        _check_target_dtype(target)
        if input.ndim == 1 and target.ndim == 1:
            if target.shape[0] != 1:
                raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: {target.shape[0]}")
            target = target.reshape(())
        _check_class_weight(weight, input.shape[-1])
        return input.ndim - 1, input.shape[-1], target
    n_classes = input.shape[1]
    spatial = list(input.shape[2:])
    if input.ndim == 4:
        if target.ndim != 3:
            raise RuntimeError(f"only batches of spatial targets supported (3D tensors) but got targets of "
                               f"dimension: {target.ndim}")
        _check_target_dtype(target)
        _check_spatial_weight(weight, n_classes)
        if list(target.shape) != [input.shape[0]] + spatial:
            raise RuntimeError(f"size mismatch (got input: {list(input.shape)} , target: {list(target.shape)}")
    else:
        if list(target.shape[1:]) != spatial:
            raise RuntimeError(f"Expected target size {[input.shape[0]] + spatial}, got {list(target.shape)}")
        _check_target_dtype(target)
        _check_spatial_weight(weight, n_classes)
    return 1, n_classes, target


def _check_index_target(target, n_classes, ignore_index):
    """IndexError for the first target that is neither ``ignore_index`` nor in ``[0, n_classes)``."""
    if target.numel() == 0:
        return
    target = cast(target, dt.int64)
    bad = ew.logical_and(ew.ne(target, ignore_index), ew.logical_or(target < 0, target >= n_classes))
    if bool(bad.any()):
        value = int(target[bad].reshape(-1)[0])
        raise IndexError(f"Target {value} is out of bounds.")


def _plain_nll(logp, target, n_classes, ignore_index, class_dim, reduction):
    """The common case of an index target in a few ops: int64 classes, all in ``[0, C)`` and none
    ignored (checked with two reductions instead of a mask per condition), no class weights.
    None when it does not apply: the general path then ignores or reports the odd targets."""
    if target.dtype is not dt.int64 or not target.numel() or 0 <= ignore_index < n_classes:
        return None
    whole = target
    while hasattr(whole, "_level"):  # under vmap (ember.func): the bounds of the whole batch's targets
        whole = whole._value
    with no_grad():
        low, high = int(red.amin(whole)), int(red.amax(whole))
    if low < 0 or high >= n_classes:
        return None
    nll = ew.neg(logp.gather(class_dim, target.unsqueeze(class_dim)).squeeze(class_dim))
    if reduction == "none":
        return nll
    return red.sum(nll) if reduction == "sum" else red.mean(nll)


def _class_view(weight, class_dim, ndim):
    """``weight`` (C,) shaped to broadcast along ``class_dim`` of an ndim-d input."""
    return weight.reshape((weight.numel(),) + (1,) * (ndim - class_dim - 1))


def _nll(input, target, weight, ignore_index, class_dim):
    """Per-element -input[target] * weight[target] (0 where ignored), and the weights used."""
    target = cast(target, dt.int64)
    valid = ew.ne(target, ignore_index)
    safe = ew.where(valid, target, 0)
    picked = input.gather(class_dim, safe.unsqueeze(class_dim)).squeeze(class_dim)
    if weight is not None:
        w = ew.where(valid, weight.reshape(-1).index_select(0, safe.reshape(-1)).reshape(safe.shape), 0.0)
    else:
        w = cast(valid, input.dtype)
    loss = ew.where(valid, ew.neg(picked) * w, 0.0)
    return loss, w


@dispatch_point("nll_loss")
def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of class indices ``target`` under the log-probabilities ``input``.

    Each target position contributes ``-weight[c] * input[..., c, ...]`` for its class ``c``;
    positions whose target equals ``ignore_index`` contribute nothing.

    Args:
        input: log-probabilities of shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, d2, ...)``, e.g. from
            :func:`log_softmax`.
        target: class indices in ``[0, C)``, of dtype int64 or uint8 and of shape ``()`` (or ``(1,)``) for a
            1-D input, ``(N,)`` or ``(N, d1, d2, ...)``.
        weight: optional ``(C,)`` tensor of per-class weights.
        size_average: deprecated, use ``reduction``. If it or ``reduce`` is given (not ``None``), the
            pair picks the reduction instead, with a warning: ``reduce=False`` gives ``'none'``, otherwise
            ``size_average=False`` gives ``'sum'`` and anything else ``'mean'``.
        reduce: deprecated, use ``reduction``; see ``size_average``.
        ignore_index: a target value that is skipped. Default: ``-100``.
        reduction: ``'mean'`` (default) divides the weighted sum by the total weight of the targets that are
            not ignored, ``'sum'`` adds them up, ``'none'`` returns them unreduced.

    Returns:
        The loss: a 0-d tensor, or for ``reduction='none'`` one value per target position (``target``'s shape;
        ``()`` for a 1-D input).

    Raises:
        ValueError: if ``input`` is 0-d, or the batch sizes of ``input`` and ``target`` differ.
        RuntimeError: if ``target`` has another shape or dtype than these, or ``weight`` another size.
        IndexError: if a target (other than ``ignore_index``) lies outside ``[0, C)``.
    """
    _check_tensors("nll_loss", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    class_dim, n_classes, target = _nll_layout(input, target, weight)
    _check_index_target(target, n_classes, ignore_index)
    loss, w = _nll(input, target, weight, ignore_index, class_dim)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return red.sum(loss)
    return red.sum(loss) / red.sum(w)


def _check_label_smoothing(label_smoothing):
    if label_smoothing > 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")


@dispatch_point("cross_entropy_loss")
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross entropy between logits ``input`` and class indices or class probabilities.

    ``input`` is (C), (N, C) or (N, C, d1, ...). A ``target`` of input's shape holds class
    probabilities (it must be floating); any other ``target`` holds class indices (input's
    shape without the class dim). ``label_smoothing`` mixes the target with the uniform
    distribution.

    Args:
        input: unnormalized scores (logits) of shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, d2, ...)``;
            :func:`log_softmax` is applied along the class dim.
        target: either class indices in ``[0, C)`` (int64 or uint8) of shape ``()``, ``(N,)`` or
            ``(N, d1, ...)``, or floating class probabilities of ``input``'s shape.
        weight: optional ``(C,)`` tensor of per-class weights.
        size_average: deprecated, use ``reduction``. If it or ``reduce`` is given (not ``None``), the
            pair picks the reduction instead, with a warning: ``reduce=False`` gives ``'none'``, otherwise
            ``size_average=False`` gives ``'sum'`` and anything else ``'mean'``.
        reduce: deprecated, use ``reduction``; see ``size_average``.
        ignore_index: a class-index target value that is skipped. With probability targets it must be
            negative (it is then unused). Default: ``-100``.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``. With index targets ``'mean'`` divides by the
            total weight of the targets that are not ignored; with probability targets it divides by the
            number of samples (``N * d1 * ...``).
        label_smoothing: at most 1; the target becomes ``(1 - label_smoothing) * target +
            label_smoothing / C``. A value of 0 or less (or NaN) means no smoothing. Default: ``0.0``.

    Returns:
        The loss: a 0-d tensor, or for ``reduction='none'`` one value per sample (``input``'s shape without
        the class dim).

    Raises:
        ValueError: if the batch sizes of ``input`` and an index ``target`` differ.
        RuntimeError: if ``label_smoothing`` exceeds 1, a probability target is not floating (or comes with
            a non-negative ``ignore_index``), or the shapes, dtypes or ``weight`` do not fit.
        IndexError: if a class index (other than ``ignore_index``) lies outside ``[0, C)``.
    """
    _check_tensors("cross_entropy", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)

    if tuple(target.shape) == tuple(input.shape):  # class probabilities
        if not target.dtype.is_floating_point:
            raise RuntimeError(f"Expected floating point type for target with class probabilities, got "
                               f"{_title(target.dtype)}")
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        if input.ndim == 0:
            raise IndexError("Dimension specified as 1 but tensor has no dimensions")
        class_dim = 0 if input.ndim == 1 else 1
        n_classes = input.shape[class_dim]
        _check_class_weight(weight, n_classes, "cross_entropy: ")
        logp = log_softmax(input, class_dim)
        target = cast(target, logp.dtype)
        if label_smoothing > 0:
            _check_label_smoothing(label_smoothing)
            target = target * (1.0 - label_smoothing) + label_smoothing / n_classes
        terms = logp * target
        if weight is not None:
            terms = terms * _class_view(weight, class_dim, input.ndim)
        loss = ew.neg(red.sum(terms, class_dim))
        if reduction == "mean":
            if input.numel() == 0:
                return red.sum(loss) * float("nan")
            return red.sum(loss) / (input.numel() // n_classes)
        return _reduce(loss, reduction)

    smoothing = label_smoothing > 0
    if smoothing:
        _check_label_smoothing(label_smoothing)
    if input.ndim == 0:
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got 1)")
    logp = log_softmax(input, 0 if input.ndim == 1 else 1)
    unbatched_1d_target = input.ndim == 1 and target.ndim == 1
    class_dim, n_classes, target = _nll_layout(logp, target, weight)
    if weight is None and not smoothing:
        plain = _plain_nll(logp, target, n_classes, ignore_index, class_dim, reduction)
        if plain is not None:
            return plain
    _check_index_target(target, n_classes, ignore_index)
    nll, w = _nll(logp, target, weight, ignore_index, class_dim)
    if not smoothing:
        if reduction == "none":
            return nll
        if reduction == "sum":
            return red.sum(nll)
        return red.sum(nll) / red.sum(w)
    if unbatched_1d_target:  # PyTorch's in-place masking of the () smoothing term by a (1,) mask fails
        raise RuntimeError("output with shape [] doesn't match the broadcast shape [1]")
    # the uniform part: -sum_c weight_c * logp_c / C, left out where the target is ignored
    terms = logp if weight is None else logp * _class_view(weight, class_dim, input.ndim)
    valid = ew.ne(cast(target, dt.int64), ignore_index)
    smooth = ew.where(valid, ew.neg(red.sum(terms, class_dim)), 0.0)
    eps = label_smoothing
    if reduction == "none":
        return nll * (1.0 - eps) + smooth * (eps / n_classes)
    if reduction == "sum":
        return red.sum(nll) * (1.0 - eps) + red.sum(smooth) * (eps / n_classes)
    total_weight = red.sum(w)
    return (red.sum(nll) * (1.0 - eps) + red.sum(smooth) * (eps / n_classes)) / total_weight


@dispatch_point("kl_div")
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL divergence with ``input`` given as log-probabilities: sum target * (log target - input).

    ``reduction='batchmean'`` divides the sum by the batch size (the mathematical KL);
    ``'mean'`` divides by the number of elements.

    Args:
        input: log-probabilities.
        target: probabilities (or log-probabilities when ``log_target``), broadcastable with ``input``.
            Zero probabilities contribute 0.
        size_average: deprecated, use ``reduction``. If it or ``reduce`` is given (not ``None``), the
            pair picks the reduction instead, with a warning: ``reduce=False`` gives ``'none'``, otherwise
            ``size_average=False`` gives ``'sum'`` and anything else ``'mean'``.
        reduce: deprecated, use ``reduction``; see ``size_average``.
        reduction: ``'mean'`` (default, with a warning that it divides by the number of elements),
            ``'batchmean'`` (the sum divided by ``input.shape[0]``), ``'sum'`` or ``'none'``.
        log_target: if ``True``, ``target`` holds log-probabilities. Default: ``False``.

    Returns:
        The divergence: a 0-d tensor, or the per-element terms for ``reduction='none'``.
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
@dispatch_point("cosine_embedding_loss")
def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """Embedding loss from the cosine similarity of ``input1`` and ``input2``.

    A pair labelled 1 contributes ``1 - cos(x1, x2)``; a pair labelled -1 contributes
    ``max(0, cos(x1, x2) - margin)``; any other label contributes 0.

    Args:
        input1: first embeddings, ``(N, D)`` or ``(D,)``.
        input2: second embeddings, with as many dims as ``input1`` and broadcastable with it.
        target: labels 1 or -1, of shape ``(N,)`` for 2-D inputs, ``()`` for 1-D inputs.
        margin: the similarity below which dissimilar pairs cost nothing. Default: ``0.0``.
        size_average: deprecated, use ``reduction``. If it or ``reduce`` is given (not ``None``), the
            pair picks the reduction instead, with a warning: ``reduce=False`` gives ``'none'``, otherwise
            ``size_average=False`` gives ``'sum'`` and anything else ``'mean'``.
        reduce: deprecated, use ``reduction``; see ``size_average``.
        reduction: ``'mean'`` (default) averages the per-pair losses, ``'sum'`` adds them up, ``'none'``
            returns them unreduced.

    Returns:
        The loss: a 0-d tensor, or one value per pair for ``reduction='none'``.
    """
    _check_tensors("cosine_embedding_loss", input1=input1, input2=input2, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if target.ndim not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if not input1.ndim == input2.ndim == target.ndim + 1:
        raise RuntimeError(f"{target.ndim}D target tensor expects {target.ndim + 1}D input tensors, but found inputs "
                           f"with sizes {list(input1.shape)} and {list(input2.shape)}.")
    dim = target.ndim
    eps = 1e-12
    dot = red.sum(input1 * input2, dim)
    mag1 = red.sum(input1 * input1, dim) + eps
    mag2 = red.sum(input2 * input2, dim) + eps
    cos = dot / ew.sqrt(mag1 * mag2)
    positive = ew.where(ew.eq(target, 1), 1.0 - cos, 0.0)
    negative = ew.where(ew.eq(target, -1), (cos - margin).clamp(min=0.0), 0.0)
    return _reduce(positive + negative, reduction)


@dispatch_point("margin_ranking_loss")
def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """Ranking loss ``max(0, -target * (input1 - input2) + margin)``.

    A target of 1 asks for ``input1`` to rank above ``input2`` by ``margin``; -1 asks the opposite.

    Args:
        input1: first scores.
        input2: second scores.
        target: labels 1 or -1; all three tensors must have the same number of dims.
        margin: the required separation. Default: ``0.0``.
        size_average: deprecated, use ``reduction``. If it or ``reduce`` is given (not ``None``), the
            pair picks the reduction instead, with a warning: ``reduce=False`` gives ``'none'``, otherwise
            ``size_average=False`` gives ``'sum'`` and anything else ``'mean'``.
        reduce: deprecated, use ``reduction``; see ``size_average``.
        reduction: ``'mean'`` (default) averages the per-element losses, ``'sum'`` adds them up, ``'none'``
            returns them unreduced.

    Returns:
        The loss: a 0-d tensor, or the per-element losses for ``reduction='none'``.
    """
    _check_tensors("margin_ranking_loss", input1=input1, input2=input2, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} ")
    loss = (ew.neg(target) * (input1 - input2) + margin).clamp(min=0.0)
    return _reduce(loss, reduction)


@dispatch_point("hinge_embedding_loss")
def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """Hinge embedding loss: ``input`` where target is 1, max(0, margin - input) where it is -1.

    Args:
        input: the inputs, typically distances.
        target: labels 1 or -1, broadcastable with ``input``.
        margin: the margin for the -1 entries. Default: ``1.0``.
        size_average: deprecated, use ``reduction``. If it or ``reduce`` is given (not ``None``), the
            pair picks the reduction instead, with a warning: ``reduce=False`` gives ``'none'``, otherwise
            ``size_average=False`` gives ``'sum'`` and anything else ``'mean'``.
        reduce: deprecated, use ``reduction``; see ``size_average``.
        reduction: ``'mean'`` (default) averages the per-element losses, ``'sum'`` adds them up, ``'none'``
            returns them unreduced.

    Returns:
        The loss: a 0-d tensor, or the per-element losses (``input``'s shape) for ``reduction='none'``.
    """
    _check_tensors("hinge_embedding_loss", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    from_margin = ew.where(ew.ne(target, 1), (margin - input).clamp(min=0.0), 0.0)
    from_self = ew.where(ew.ne(target, -1), input, 0.0)
    return _reduce(from_margin + from_self, reduction)


@dispatch_point("soft_margin_loss")
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Two-class logistic loss ``log(1 + exp(-target * input))``, computed without overflow.

    Args:
        input: the scores.
        target: labels 1 or -1, broadcastable with ``input``.
        size_average: deprecated, use ``reduction``. If it or ``reduce`` is given (not ``None``), the
            pair picks the reduction instead, with a warning: ``reduce=False`` gives ``'none'``, otherwise
            ``size_average=False`` gives ``'sum'`` and anything else ``'mean'``.
        reduce: deprecated, use ``reduction``; see ``size_average``.
        reduction: ``'mean'`` (default) averages the per-element losses, ``'sum'`` adds them up, ``'none'``
            returns them unreduced.

    Returns:
        The loss: a 0-d tensor, or the per-element losses (``input``'s shape) for ``reduction='none'``.
    """
    _check_tensors("soft_margin_loss", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    return _reduce(_softplus_unit(ew.neg(input) * target), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Multi-label logistic loss: one binary cross entropy per class, averaged over the classes.

    Args:
        input: logits of shape ``(N, C)`` (or ``(C,)``).
        target: 0/1 labels of ``input``'s shape.
        weight: optional per-class weights, broadcast against ``input`` (e.g. shape ``(C,)``).
        size_average: deprecated, use ``reduction``. If it or ``reduce`` is given (not ``None``), the
            pair picks the reduction instead, with a warning: ``reduce=False`` gives ``'none'``, otherwise
            ``size_average=False`` gives ``'sum'`` and anything else ``'mean'``.
        reduce: deprecated, use ``reduction``; see ``size_average``.
        reduction: ``'mean'`` (default) averages the per-sample losses, ``'sum'`` adds them up, ``'none'``
            returns them unreduced.

    Returns:
        The loss: a 0-d tensor, or one value per sample (``(N,)``) for ``reduction='none'``.
    """
    _check_tensors("multilabel_soft_margin_loss", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    # -(y log s(x) + (1-y) log s(-x)) = y softplus(-x) + (1-y) softplus(x)
    loss = target * _softplus_unit(ew.neg(input)) + (1.0 - target) * _softplus_unit(input)
    if input.ndim == 0:
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    if weight is not None:
        loss = loss * weight
    loss = red.sum(loss, input.ndim - 1) / input.shape[-1]
    return _reduce(loss, reduction)


@dispatch_point("multi_margin_loss")
def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """Multi-class hinge loss: sum over i != y of max(0, margin - x[y] + x[i])^p / C.

    Args:
        input: scores of shape ``(N, C)`` or ``(C,)`` (``C > 0``; ``N`` may be 0).
        target: int64 class indices in ``[0, C)``, with ``N`` elements (1 for a 1-D input): shape ``(N,)``,
            or ``()`` for a single sample.
        p: the exponent, 1 or 2. Default: ``1``.
        margin: the required gap between the target score and the others. Default: ``1.0``.
        weight: optional ``(C,)`` per-class weights; a sample's terms are scaled by its target's weight.
        size_average: deprecated, use ``reduction``. If it or ``reduce`` is given (not ``None``), the
            pair picks the reduction instead, with a warning: ``reduce=False`` gives ``'none'``, otherwise
            ``size_average=False`` gives ``'sum'`` and anything else ``'mean'``.
        reduce: deprecated, use ``reduction``; see ``size_average``.
        reduction: ``'mean'`` (default) averages the per-sample losses, ``'sum'`` adds them up, ``'none'``
            returns them unreduced.

    Returns:
        The loss: a 0-d tensor, or for ``reduction='none'`` one value per sample (``(N,)``; ``()`` for a 0-d
        target).

    Raises:
        ValueError: if ``p`` is neither 1 nor 2, or ``weight`` is not 1-D.
        RuntimeError: if a shape or dtype does not fit, or a target lies outside ``[0, C)``.
    """
    _check_tensors("multi_margin_loss", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    ndim = input.ndim
    if not ((ndim == 2 and input.shape[1] != 0) or (ndim == 1 and input.shape[0] != 0) or ndim == 0):
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                           f"{list(input.shape)}")
    n_samples = input.shape[0] if ndim == 2 else 1
    n_classes = input.shape[-1] if ndim else 1
    if target.ndim > 1 or target.numel() != n_samples:
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to the number of input "
                           f"samples (batch size). Expected target size [{n_samples}], but got "
                           f"{list(target.shape)}. Input has shape {list(input.shape)}.")
    if weight is not None and weight.numel() != n_classes:
        raise RuntimeError(f"inconsistent weight size, expected {n_classes} but got {list(weight.shape)}")
    if target.dtype is not dt.int64:
        raise RuntimeError(f"expected scalar type Long but found {_title(target.dtype)}")
    if weight is not None and weight.dtype is not input.dtype:
        raise RuntimeError(f"expected scalar type {_title(input.dtype)} but found {_title(weight.dtype)}")
    x = input.reshape(n_samples, n_classes)
    y = target.reshape(-1)
    if n_samples and bool(ew.logical_or(y < 0, y >= n_classes).any()):
        raise RuntimeError("target out of range")
    picked = x.gather(1, y.unsqueeze(1))
    terms = (x - picked + margin).clamp(min=0.0)
    if p == 2:
        terms = terms * terms
    if weight is not None:
        terms = terms * weight.index_select(0, y).unsqueeze(1)
    from ember.ops.creation import arange
    not_target = ew.ne(arange(n_classes, device=x.device).unsqueeze(0), y.unsqueeze(1))
    loss = red.sum(ew.where(not_target, terms, 0.0), 1) / n_classes
    if target.ndim == 0:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


@dispatch_point("triplet_margin_loss")
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """Triplet loss ``max(d(a, p) - d(a, n) + margin, 0)`` with the p-norm :func:`pairwise_distance`.

    Args:
        anchor: anchor embeddings, ``(N, D)`` or ``(D,)``.
        positive: embeddings that should be close to the anchors; same number of dims.
        negative: embeddings that should be far from the anchors; same number of dims.
        margin: the required gap between the two distances. Default: ``1.0``.
        p: degree of the norm used as distance. Default: ``2``.
        eps: small constant added to the differences before taking the norm. Default: ``1e-6``.
        swap: if ``True``, the negative distance is ``min(d(a, n), d(p, n))``. Default: ``False``.
        size_average: deprecated, use ``reduction``. If it or ``reduce`` is given (not ``None``), the
            pair picks the reduction instead, with a warning: ``reduce=False`` gives ``'none'``, otherwise
            ``size_average=False`` gives ``'sum'`` and anything else ``'mean'``.
        reduce: deprecated, use ``reduction``; see ``size_average``.
        reduction: ``'mean'`` (default) averages the per-triplet losses, ``'sum'`` adds them up, ``'none'``
            returns them unreduced.

    Returns:
        The loss: a 0-d tensor, or one value per triplet for ``reduction='none'``.
    """
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
    """Triplet loss ``max(d(a, p) - d(a, n) + margin, 0)`` with a caller-chosen distance ``d``.

    Args:
        anchor: anchor inputs.
        positive: inputs that should be close to the anchors.
        negative: inputs that should be far from the anchors.
        distance_function: callable ``(x, y) -> distances``; ``None`` uses :func:`pairwise_distance`.
        margin: the required gap between the two distances; must be positive. Default: ``1.0``.
        swap: if ``True``, the negative distance is ``min(d(a, n), d(p, n))``. Default: ``False``.
        reduction: ``'mean'`` (default) averages the per-triplet losses, ``'sum'`` adds them up, ``'none'``
            returns them unreduced.

    Returns:
        The loss: a 0-d tensor, or one value per triplet for ``reduction='none'``.

    Raises:
        ValueError: if ``margin`` is not positive.
    """
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
@dispatch_point("poisson_nll_loss")
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Negative log-likelihood of ``target`` under a Poisson distribution whose rate is given by ``input``.

    The rate is ``exp(input)`` when ``log_input``, else ``input`` itself; ``full`` adds
    Stirling's approximation of ``log(target!)``.

    Args:
        input: the log-rate (``log_input=True``) or the rate.
        target: the observed counts.
        log_input: if ``True`` the loss is ``exp(input) - target * input``, else
            ``input - target * log(input + eps)``. Default: ``True``.
        full: if ``True``, add Stirling's approximation ``t * log(t) - t + 0.5 * log(2 * pi * t)`` for
            targets ``t > 1``. Default: ``False``.
        size_average: deprecated, use ``reduction``. If it or ``reduce`` is given (not ``None``), the
            pair picks the reduction instead, with a warning: ``reduce=False`` gives ``'none'``, otherwise
            ``size_average=False`` gives ``'sum'`` and anything else ``'mean'``.
        reduce: deprecated, use ``reduction``; see ``size_average``.
        eps: added to the rate before its logarithm when ``log_input=False``. Default: ``1e-8``.
        reduction: ``'mean'`` (default) averages the per-element losses, ``'sum'`` adds them up, ``'none'``
            returns them unreduced.

    Returns:
        The loss: a 0-d tensor, or the per-element losses (``input``'s shape) for ``reduction='none'``.
    """
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
    """Negative log-likelihood of ``target`` under Gaussians of mean ``input`` and variance ``var``.

    Each element contributes ``0.5 * (log(var) + (input - target)**2 / var)`` (plus
    ``0.5 * log(2 * pi)`` when ``full``); ``var`` is clamped to at least ``eps`` (without
    affecting its gradient).

    Args:
        input: the predicted means.
        target: the observed values, of ``input``'s shape.
        var: the predicted variances: a tensor of ``input``'s shape, of its shape without the last dim,
            or of its shape with one dim of size 1 (one variance shared along it); or a non-negative number.
        full: if ``True``, add the constant ``0.5 * log(2 * pi)``. Default: ``False``.
        eps: lower bound applied to ``var`` for stability. Default: ``1e-6``.
        reduction: ``'mean'`` (default) averages the per-element losses, ``'sum'`` adds them up, ``'none'``
            returns them unreduced.

    Returns:
        The loss: a 0-d tensor, or the per-element losses (``input``'s shape) for ``reduction='none'``.

    Raises:
        ValueError: if ``var`` has negative entries or an incompatible shape.
    """
    _check_tensors("gaussian_nll_loss", input=input, target=target)
    _check_reduction(reduction)
    if not isinstance(var, Tensor):
        from ember.ops.creation import full_like
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = full_like(input, var)
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif input.ndim == var.ndim and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1:
            pass  # one dim of size 1 in var, broadcast (one variance shared along it)
        else:
            raise ValueError("var is of incorrect size")
    # clamp the value, keep the gradient of var itself
    var = var + (var.detach().clamp(min=eps) - var.detach())
    diff = input - target
    loss = (ew.log(var) + diff * diff / var) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
