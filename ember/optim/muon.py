"""Muon (Jordan et al.): momentum SGD whose update is orthogonalized by a Newton-Schulz iteration."""
from __future__ import annotations

import math

from ember.core.tensor import Tensor
from ember.ops.creation import zeros_like
from ember.optim.optimizer import Optimizer, scalar

__all__ = ["Muon"]


def _orthogonalize(update, coefficients, steps, eps):
    """An approximate ``U @ V.T`` of ``update = U S V.T`` by a quintic Newton-Schulz iteration in bfloat16.

    The iteration works on the wide orientation (fewer rows than columns) so the Gram
    matrices stay small; its singular values land near 1 (roughly 0.5 to 1.5).
    """
    from ember.ops.linalg import addmm
    if steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if update.dim() != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = coefficients
    x = update.bfloat16()
    tall = update.size(0) > update.size(1)
    if tall:
        x = x.T
    x = x.div(x.norm().clamp(min=eps))
    for _ in range(steps):
        gram = x @ x.T
        poly = addmm(gram, gram, gram, beta=b, alpha=c)   # b * A + c * A @ A
        x = addmm(x, poly, x, beta=a)                    # a * X + (b * A + c * A^2) @ X
    return x.T if tall else x


def _adjusted_lr(lr, adjust_lr_fn, shape):
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, rows / cols))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(rows, cols))
    else:
        ratio = 1.0
    return lr * ratio


class Muon(Optimizer):
    """Muon: MomentUm Orthogonalized by Newton-Schulz, for 2-D (hidden-layer weight) parameters.

    For each step (g the gradient)::

        B = lerp(B, g, 1 - momentum)
        U = lerp(g, B, momentum) if nesterov else B
        O = NewtonSchulz(U)                       (in bfloat16, ns_steps iterations)
        p *= 1 - lr * weight_decay
        p -= adjusted_lr * O

    with ``adjusted_lr = lr * sqrt(max(1, rows / cols))`` (``adjust_lr_fn`` None or
    ``'original'``) or ``lr * 0.2 * sqrt(max(rows, cols))`` (``'match_rms_adamw'``).
    Biases, embeddings and other non-matrix parameters belong in another optimizer.
    State: ``momentum_buffer``.

    Args:
        params: the 2-D parameters to optimize: an iterable of tensors, of ``(name, tensor)`` pairs, or of
            parameter-group dicts (see :class:`Optimizer`).
        lr: the learning rate. Default: ``1e-3``.
        weight_decay: decoupled weight decay coefficient. Default: ``0.1``.
        momentum: the momentum factor. Default: ``0.95``.
        nesterov: use Nesterov momentum. Default: ``True``.
        ns_coefficients: ``(a, b, c)`` of the quintic iteration. Default: ``(3.4445, -4.775, 2.0315)``.
        eps: floor of the norm the update is divided by before the iteration. Default: ``1e-7``.
        ns_steps: the number of Newton-Schulz iterations (< 100). Default: ``5``.
        adjust_lr_fn: ``None``, ``'original'`` or ``'match_rms_adamw'``. Default: ``None``.

    Raises:
        ValueError: on a negative ``lr``, ``momentum`` or ``weight_decay``, an unknown ``adjust_lr_fn``,
            or a parameter that is not 2-D.
    """

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(f"Muon only supports 2D parameters whereas we found a parameter with size: "
                                     f"{p.size()}")

    def init_state(self, param, group):
        """Creates the state of ``param`` before its first update: a zeroed ``momentum_buffer``.

        Args:
            param: the parameter.
            group: its parameter group.

        Raises:
            RuntimeError: for complex parameters or sparse gradients.

        Returns:
            The new state dict.
        """
        if param.is_complex():
            raise RuntimeError("Muon does not support complex parameters")
        if getattr(param.grad, "is_sparse", False):
            raise RuntimeError("Muon does not support sparse gradients")
        return {"momentum_buffer": zeros_like(param)}

    def update(self, param, grad, state, group):
        """Applies one Muon step to ``param`` in place and advances its ``state``.

        Args:
            param: the parameter to update.
            grad: its gradient.
            state: its state dict.
            group: its parameter group, holding the options.
        """
        if grad.dim() != 2:
            raise ValueError("Param gradient must be a 2D matrix")
        lr, momentum = scalar(group["lr"]), group["momentum"]
        buf = state["momentum_buffer"]
        buf.lerp_(grad, 1 - momentum)
        direction = grad.lerp(buf, momentum) if group["nesterov"] else buf
        ortho = _orthogonalize(direction, group["ns_coefficients"], group["ns_steps"], group["eps"])
        param.mul_(1 - lr * group["weight_decay"])
        param.add_(ortho.to(param.dtype), alpha=-_adjusted_lr(lr, group["adjust_lr_fn"], param.shape))
