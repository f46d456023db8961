"""``F.multilabel_margin_loss``: the multi-class multi-label hinge loss, as ember ops (so it runs
and differentiates on every backend)."""
from __future__ import annotations

import ember
from ember.nn.functional.loss import _check_tensors, _reduce, _resolve_reduction
from ember.ops.out import _title

__all__ = ["multilabel_margin_loss"]


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Multi-label hinge loss: for each sample, every (target class ``j``, non-target class ``i``)
    pair adds ``max(0, 1 - (x[j] - x[i]))``, and the sum is divided by the number of classes.

    The target classes of a sample are the entries of its ``target`` row up to the first ``-1``.

    Args:
        input: scores ``(C,)`` or ``(N, C)``.
        target: int64 class indices of ``input``'s shape, ended by ``-1`` (or filling the row).
        size_average: deprecated; use ``reduction``.
        reduce: deprecated; use ``reduction``.
        reduction: ``'none'`` (one loss per sample), ``'mean'`` (default) or ``'sum'``.

    Returns:
        A 0-d tensor, or with ``reduction='none'`` ``(N,)`` (0-d for a ``(C,)`` input).

    Raises:
        RuntimeError: for a non-int64 target, a target of another shape, or an index out of range.
    """
    _check_tensors("multilabel_margin_loss", input=input, target=target)
    reduction = _resolve_reduction(size_average, reduce, reduction)
    if target.dtype is not ember.int64:
        raise RuntimeError(f"expected scalar type Long but found {_title(target.dtype)}")
    if input.dim() > 2 or tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: {list(input.shape)}")
    single = input.dim() <= 1
    x = input.reshape(1, -1) if single else input
    y = target.reshape(1, -1) if single else target
    classes = x.shape[1]
    if y.numel() and bool(((y < -1) | (y >= classes)).any()):
        raise RuntimeError("argument #2 'target' is out of range")
    # slots before the first -1 name target classes (a repeated class counts once per slot)
    valid = (y != -1).long().cumprod(dim=1).bool()
    index = y.clamp(min=0)
    hits = ember.nn.functional.one_hot(index, classes).bool() & valid.unsqueeze(-1)   # (N, slot, C)
    is_target = hits.any(dim=1)                                                       # (N, C)
    scores = x.gather(1, index)                                                       # (N, slot)
    margins = (1 - scores.unsqueeze(-1) + x.unsqueeze(1)).clamp(min=0)                # (N, slot, C)
    keep = valid.unsqueeze(-1) & ~is_target.unsqueeze(1)
    loss = (margins * keep.to(x.dtype)).sum(dim=(1, 2)) / classes
    return _reduce(loss.reshape(()) if single else loss, reduction)

