"""``F.linear_cross_entropy``: ``cross_entropy(linear(input, linear_weight, linear_bias), target)``.

With ``options=None`` it is exactly that. With a ``LinearCrossEntropyOptions`` the batch is split
into chunks: the forward pass keeps only each chunk's loss, and the backward pass recomputes one
chunk's logits at a time to form its gradients, so the ``(N, C)`` logits (large for vocabulary
heads) are never all in memory. Configurations the chunked form does not cover (class
probabilities as targets, multi-dimensional weights, an unbatched input) run the direct form
with a warning, as PyTorch does.
"""
from __future__ import annotations

import warnings

import ember
from ember.autograd.function import Function
from ember.core import dtype as dt
from ember.core.autograd import enable_grad, no_grad
from ember.nn.functional.loss import cross_entropy

__all__ = ["linear_cross_entropy"]


def _logits(input, linear_weight, linear_bias):
    classes_shape = tuple(linear_weight.shape[:-1])
    flat = ember.matmul(input, linear_weight.reshape(-1, linear_weight.shape[-1]).transpose(0, 1))
    if linear_bias is not None:
        flat = flat + linear_bias.reshape(-1)
    if len(classes_shape) == 1:
        return flat
    out = flat.reshape(*input.shape[:-1], *classes_shape)
    return out


class _ChunkedLinearCrossEntropy(Function):
    @staticmethod
    def forward(ctx, input, weight, bias, target, class_weight, ignore_index, smoothing, reduction, chunk, acc):
        total = None
        losses = []
        for start in range(0, input.shape[0], chunk):
            rows = slice(start, start + chunk)
            z = _logits(input[rows].to(acc), weight.to(acc), None if bias is None else bias.to(acc))
            part = cross_entropy(z, target[rows], None if class_weight is None else class_weight.to(acc),
                                 ignore_index=ignore_index, reduction="none" if reduction == "none" else "sum",
                                 label_smoothing=smoothing)
            if reduction == "none":
                losses.append(part)
            else:
                total = part if total is None else total + part
        valid = target != ignore_index
        if class_weight is None:
            denominator = valid.sum().to(acc)
        else:
            denominator = (class_weight.to(acc)[target.clamp(min=0)] * valid.to(acc)).sum()
        ctx.save_for_backward(input, weight, bias, target, class_weight)
        ctx.settings = (ignore_index, smoothing, reduction, chunk, acc, denominator)
        if reduction == "none":
            out = ember.cat(losses) if losses else ember.zeros(0, dtype=acc, device=input.device)
        elif reduction == "sum":
            out = total if total is not None else ember.zeros((), dtype=acc, device=input.device)
        else:
            out = total / denominator
        return out.to(input.dtype)

    @staticmethod
    def backward(ctx, grad):
        input, weight, bias, target, class_weight = ctx.saved_tensors
        ignore_index, smoothing, reduction, chunk, acc, denominator = ctx.settings
        grad_input = ember.zeros_like(input) if ctx.needs_input_grad[0] else None
        grad_weight = ember.zeros(weight.shape, dtype=acc, device=weight.device) if ctx.needs_input_grad[1] else None
        grad_bias = ember.zeros(bias.shape, dtype=acc, device=bias.device) \
            if bias is not None and ctx.needs_input_grad[2] else None
        w = weight.detach().to(acc).requires_grad_()
        b = None if bias is None else bias.detach().to(acc).requires_grad_()
        cw = None if class_weight is None else class_weight.detach().to(acc)
        scale = grad.to(acc) if reduction != "mean" else grad.to(acc) / denominator
        for start in range(0, input.shape[0], chunk):   # one chunk's logits at a time
            rows = slice(start, start + chunk)
            x = input[rows].detach().to(acc).requires_grad_()
            with enable_grad():
                part = cross_entropy(_logits(x, w, b), target[rows], cw, ignore_index=ignore_index,
                                     reduction="none" if reduction == "none" else "sum", label_smoothing=smoothing)
                weighted = (part * scale[rows]).sum() if reduction == "none" else part * scale
                wanted = [t for t in (x, w, b) if t is not None]
                grads = ember.autograd.grad(weighted, wanted, allow_unused=True)
            gx, gw = grads[0], grads[1]
            gb = grads[2] if b is not None else None
            with no_grad():
                if grad_input is not None:
                    grad_input[rows] = gx.to(input.dtype)
                if grad_weight is not None:
                    grad_weight += gw
                if grad_bias is not None and gb is not None:
                    grad_bias += gb
        return (grad_input, None if grad_weight is None else grad_weight.to(weight.dtype),
                None if grad_bias is None else grad_bias.to(bias.dtype), None, None, None, None, None, None, None)


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
                         ignore_index=None, label_smoothing=0.0, options=None):
    """Cross entropy of the logits ``input @ linear_weight.T + linear_bias`` against ``target``.

    Args:
        input: ``(N, in_features)`` or ``(in_features,)``.
        linear_weight: ``(C, in_features)``, or ``(C, d_1, ..., d_K, in_features)`` for a K-dimensional loss.
        target: class indices ``(N)`` / ``()`` / ``(N, d_1, ..., d_K)``, or class probabilities of the logits'
            shape.
        linear_bias: ``(C,)`` (or ``(C, d_1, ..., d_K)``) added to the logits, or None.
        weight: ``(C,)`` class weights, or None.
        reduction: ``'none'``, ``'mean'`` (default) or ``'sum'``.
        ignore_index: a class index that is left out (None: -100 for class indices).
        label_smoothing: in [0, 1], mixes the target with the uniform distribution.
        options: a ``LinearCrossEntropyOptions`` for the chunked computation, or None for the direct one.

    Returns:
        The loss: 0-d, or per sample with ``reduction='none'``.
    """
    ignore = -100 if ignore_index is None else ignore_index
    if options is not None:
        direct = None
        if input.ndim != 2 or linear_weight.ndim != 2:
            direct = "multi-dimensional weights or an unbatched input"
        elif target.dtype.is_floating_point:
            direct = "class-probability targets"
        elif linear_bias is not None and linear_bias.ndim != 1:
            direct = "a multi-dimensional bias"
        if direct is None:
            if reduction not in ("none", "mean", "sum"):
                raise ValueError(f"{reduction} is not a valid value for reduction")
            chunk, acc = options._resolve(input.shape[0], input.shape[1], linear_weight.shape[0], input.dtype,
                                          input.device.type)
            return _ChunkedLinearCrossEntropy.apply(input, linear_weight, linear_bias, target.to(dt.int64), weight,
                                                    ignore, float(label_smoothing), reduction, chunk, acc)
        warnings.warn(f"linear_cross_entropy: the chunked computation does not support {direct}; "
                      f"using the direct one")
    return cross_entropy(_logits(input, linear_weight, linear_bias), target, weight, ignore_index=ignore,
                         reduction=reduction, label_smoothing=label_smoothing)
