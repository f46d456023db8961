"""The connectionist temporal classification loss (``F.ctc_loss``, ``torch.ctc_loss``).

The loss is ``-log p(target | input)``, summed over every alignment of the target to the input
frames (blanks between and around the labels, repeats collapsed). It is computed with the
forward (alpha) recursion in log space, vectorized over the batch and the extended label
positions; the backward pass runs the backward (beta) recursion and gives PyTorch's gradient
``exp(log_probs) - occupancy`` (the log-softmax-friendly form: through a ``log_softmax`` it is the
exact gradient of the logits). Both recursions are written in ember ops, so they run on every
backend.
"""
from __future__ import annotations

import ember
from ember.dispatch.public_op import dispatch_point
from ember.autograd.function import Function
from ember.core import dtype as dt
from ember.core.tensor import Tensor

__all__ = ["ctc_loss"]

_NEG = float("-inf")


def _lse3(a, b, c):
    """log(exp(a) + exp(b) + exp(c)) elementwise, -inf where all three are -inf (no NaN)."""
    m = ember.maximum(ember.maximum(a, b), c)
    m = ember.where(ember.isinf(m), ember.zeros_like(m), m)
    return m + ember.log(ember.exp(a - m) + ember.exp(b - m) + ember.exp(c - m))


def _shift(x, k, fill=_NEG):
    """``x`` moved ``k`` places along the last dim (right for k > 0), filled with ``fill``."""
    n = x.shape[-1]
    pad = ember.full((*x.shape[:-1], abs(k)), fill, dtype=x.dtype, device=x.device)
    if k > 0:
        return ember.cat([pad, x[..., :n - k]], -1) if n > k else pad[..., :n]
    return ember.cat([x[..., -k:], pad], -1) if n > -k else pad[..., :n]


class _CTCLoss(Function):
    """Per-sample negative log likelihood; the backward pass is the beta recursion."""

    @staticmethod
    def forward(ctx, log_probs, ext, skip, input_lengths, target_lengths, zero_infinity):
        T, N, _ = log_probs.shape
        S = ext.shape[1]
        lp_ext = log_probs.gather(2, ext.unsqueeze(0).expand(T, N, S))          # (T, N, S')
        positions = ember.arange(S, device=log_probs.device)
        steps_left = input_lengths.unsqueeze(1)                                  # (N, 1)
        neg = ember.full((N, S), _NEG, dtype=log_probs.dtype, device=log_probs.device)
        alpha = ember.where(positions < 2, lp_ext[0], neg)
        alphas = [alpha]
        for t in range(1, T):
            step = _lse3(alpha, _shift(alpha, 1), ember.where(skip, _shift(alpha, 2), neg)) + lp_ext[t]
            alpha = ember.where(steps_left > t, step, alpha)   # a finished sample keeps its last alpha
            alphas.append(alpha)
        last = (2 * target_lengths).unsqueeze(1)
        end = alpha.gather(1, last).squeeze(1)
        before = ember.where(target_lengths > 0, alpha.gather(1, (last - 1).clamp(min=0)).squeeze(1),
                             ember.full_like(end, _NEG))
        m = ember.maximum(end, before)
        m = ember.where(ember.isinf(m), ember.zeros_like(m), m)
        nll = -(m + ember.log(ember.exp(end - m) + ember.exp(before - m)))
        ctx.save_for_backward(log_probs, lp_ext, ext, skip, input_lengths, target_lengths, nll)
        ctx.alphas = ember.stack(alphas)
        ctx.zero_infinity = zero_infinity
        if zero_infinity:
            nll = ember.where(ember.isinf(nll), ember.zeros_like(nll), nll)
        return nll

    @staticmethod
    def backward(ctx, grad):
        log_probs, lp_ext, ext, skip, input_lengths, target_lengths, nll = ctx.saved_tensors
        T, N, S = lp_ext.shape
        positions = ember.arange(S, device=log_probs.device)
        neg = ember.full((N, S), _NEG, dtype=log_probs.dtype, device=log_probs.device)
        ends = (positions == (2 * target_lengths).unsqueeze(1)) | \
            ((positions == (2 * target_lengths - 1).unsqueeze(1)) & (target_lengths > 0).unsqueeze(1))
        last_step = (input_lengths - 1).unsqueeze(1)
        skip_next = _shift(skip, -2, False)   # the jump s -> s + 2 is allowed
        beta = neg
        betas = [None] * T
        for t in range(T - 1, -1, -1):
            step = _lse3(beta, _shift(beta, -1), ember.where(skip_next, _shift(beta, -2), neg)) + lp_ext[t]
            start = ember.where(ends, lp_ext[t], neg)
            beta = ember.where(last_step == t, start, ember.where(last_step > t, step, neg))
            betas[t] = beta
        beta = ember.stack(betas)                                                # (T, N, S')
        finite = ~ember.isinf(nll)
        safe_nll = ember.where(finite, nll, ember.zeros_like(nll))
        occupancy = ember.exp(ctx.alphas + beta - lp_ext + safe_nll.view(1, N, 1))
        per_class = ember.zeros_like(log_probs).scatter_add(2, ext.unsqueeze(0).expand(T, N, S), occupancy)
        active = (ember.arange(T, device=log_probs.device).unsqueeze(1) < input_lengths).unsqueeze(2)
        out = ember.where(active, ember.exp(log_probs) - per_class, ember.zeros_like(log_probs))
        scale = grad
        if ctx.zero_infinity:
            scale = ember.where(finite, grad, ember.zeros_like(grad))
        else:
            scale = ember.where(finite, grad, ember.full_like(grad, float("nan")))
        return out * scale.view(1, N, 1), None, None, None, None, None


def _lengths(value, name, device):
    if isinstance(value, Tensor):
        value = value.reshape(-1).tolist()
    elif isinstance(value, int):
        value = [value]
    return ember.tensor([int(v) for v in value], dtype=dt.int64, device=device)


@dispatch_point("ctc_loss")
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """The connectionist temporal classification loss between frame-wise log probabilities and label sequences.

    Args:
        log_probs: ``(T, N, C)`` (or ``(T, C)`` unbatched) log probabilities over ``C`` classes, blank
            included, e.g. a ``log_softmax`` over dim 2; float32 or float64.
        targets: ``(N, S)`` padded label sequences, or the 1-D concatenation of the ``N`` sequences
            (``sum(target_lengths)`` labels); they must not contain ``blank``.
        input_lengths: ``(N)`` tensor or sequence: the frames used of each input (at most ``T``).
        target_lengths: ``(N)`` tensor or sequence: the length of each target.
        blank: the class index of the blank label (default 0).
        reduction: ``'none'`` (one loss per sample), ``'mean'`` (each loss divided by its target
            length, then the batch mean; the default) or ``'sum'``.
        zero_infinity: replace infinite losses (inputs too short for their targets) and their
            gradients by zero.

    Returns:
        A 0-d tensor, or ``(N)`` losses with ``reduction='none'`` (0-d for an unbatched input).
    """
    if not isinstance(log_probs, Tensor) or not isinstance(targets, Tensor):
        raise TypeError("ctc_loss(): log_probs and targets must be Tensors")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_probs.dtype not in (dt.float32, dt.float64):
        raise NotImplementedError(f"\"ctc_loss\" not implemented for '{log_probs.dtype}'")
    if targets.dtype.is_floating_point or targets.dtype.is_complex:
        raise RuntimeError(f"ctc_loss(): targets must be an integer tensor, got {targets.dtype}")
    unbatched = log_probs.ndim == 2
    if log_probs.ndim not in (2, 3):
        raise RuntimeError(f"ctc_loss(): expected log_probs of 2 or 3 dims (T, [N,] C), got {log_probs.ndim}")
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    T, N, C = lp.shape
    device = lp.device
    in_len = _lengths(input_lengths, "input_lengths", device)
    tgt_len = _lengths(target_lengths, "target_lengths", device)
    lengths_in, lengths_tgt = in_len.tolist(), tgt_len.tolist()
    if len(lengths_in) != N:
        raise RuntimeError(f"Expected input_lengths to have {N} values (the batch size), got {len(lengths_in)}")
    if len(lengths_tgt) != N:
        raise RuntimeError(f"Expected target_lengths to have {N} values (the batch size), got {len(lengths_tgt)}")
    if not 0 <= blank < C:
        raise RuntimeError(f"blank must be in label range [0, {C}), got {blank}")
    for n, length in enumerate(lengths_in):
        if length > T:
            raise RuntimeError(f"Expected input_lengths to have value at most {T}, but got value {length}")
        if length < 0:
            raise RuntimeError(f"Expected input_lengths to be non-negative, got {length} for sample {n}")
    if unbatched:
        targets = targets.reshape(1, -1)
    targets = targets.to(device=device, dtype=dt.int64)
    if targets.ndim == 1:   # concatenated: unpack into padded rows
        if sum(lengths_tgt) > targets.shape[0]:
            raise RuntimeError(f"Expected targets to have at least {sum(lengths_tgt)} labels (the sum of "
                               f"target_lengths), got {targets.shape[0]}")
        width = max(lengths_tgt + [0])
        rows, offset = [], 0
        for length in lengths_tgt:
            row = targets[offset:offset + length]
            rows.append(ember.cat([row, ember.full((width - length,), blank, dtype=dt.int64, device=device)]))
            offset += length
        targets = ember.stack(rows) if rows else targets.reshape(0, 0)
    else:
        for length in lengths_tgt:
            if length > targets.shape[1]:
                raise RuntimeError(f"Expected tensor to have size at least {length} at dimension 1, but got size "
                                   f"{targets.shape[1]} for argument #2 'targets'")
    width = targets.shape[1]
    labels_used = ember.arange(width, device=device) < tgt_len.unsqueeze(1)
    labels = ember.where(labels_used, targets, ember.full_like(targets, blank))   # padding reads as blank
    # extended labels: blank, l1, blank, l2, ..., blank  (2 * width + 1 positions)
    ext = ember.full((N, 2 * width + 1), blank, dtype=dt.int64, device=device)
    if width:
        ext[:, 1::2] = labels
    # the skip s-2 -> s is allowed into a label that differs from the label before it
    previous = ember.cat([ember.full((N, 2), blank, dtype=dt.int64, device=device), ext[:, :-2]], 1)
    skip = (ext != blank) & (ext != previous)
    loss = _CTCLoss.apply(lp, ext, skip, in_len, tgt_len, bool(zero_infinity))
    if unbatched:
        loss = loss.squeeze(0)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    per_label = loss / tgt_len.clamp(min=1).to(loss.dtype).reshape(loss.shape)
    return per_label.mean()
