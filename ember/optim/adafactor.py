"""Adafactor (Shazeer & Stern): Adam-like steps with a factored second-moment estimate."""
from __future__ import annotations

from ember.core.tensor import Tensor
from ember.ops.creation import zeros, zeros_like
from ember.optim.optimizer import Optimizer, increment_step, scalar, step_tensor

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """Adafactor: relative step sizes and a second moment kept as row and column factors.

    For step t (g the gradient, negated when ``maximize``)::

        beta2_t = 1 - t ** beta2_decay      (the weight of the new g * g)
        rho = min(lr, 1 / sqrt(t));  alpha = max(eps2, RMS(p)) * rho
        p *= 1 - lr * weight_decay
        matrices (dim > 1), over the last two dims:
            R = lerp(R, mean(g * g, -1), beta2_t);  C = lerp(C, mean(g * g, -2), beta2_t)
            v = R @ C / max(mean(R, -2), eps1)
        vectors:  v = lerp(v, g * g, beta2_t)
        u = g / sqrt(max(v, eps1 ** 2))
        p -= alpha / max(1, RMS(u) / d) * u

    State: ``step``, and ``row_var``/``col_var`` (matrices) or ``variance`` (vectors).

    Args:
        params: the parameters to optimize: an iterable of tensors, of ``(name, tensor)`` pairs, or of
            parameter-group dicts (see :class:`Optimizer`).
        lr: the largest relative step size. Default: ``1e-2``.
        beta2_decay: the exponent of the second moment's decay schedule (<= 0). Default: ``-0.8``.
        eps: ``(eps1, eps2)``: eps1 bounds the variance estimate below (``None``: the machine epsilon of
            the parameter's dtype), eps2 bounds the parameter RMS used for scaling. Default: ``(None, 1e-3)``.
        d: the clipping threshold of the update's RMS (>= 1). Default: ``1.0``.
        weight_decay: decoupled weight decay coefficient. Default: ``0.0``.
        maximize: if ``True``, the objective is maximized (the gradient is negated). Default: ``False``.

    Raises:
        ValueError: on an invalid ``lr``, ``beta2_decay``, ``eps``, ``d`` or ``weight_decay``.
    """

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)

    def init_state(self, param, group):
        """Creates the state of ``param`` before its first update.

        Matrices (and higher) get zeroed row and column factors (the last and the
        second-to-last dimension reduced to 1); vectors and scalars a zeroed ``variance``.

        Args:
            param: the parameter.
            group: its parameter group.

        Raises:
            RuntimeError: for complex parameters or sparse gradients.

        Returns:
            The new state dict.
        """
        if param.is_complex():
            raise RuntimeError("Adafactor does not support complex parameters")
        if getattr(param.grad, "is_sparse", False):
            raise RuntimeError("Adafactor does not support sparse gradients")
        state = {"step": step_tensor()}
        if param.dim() > 1:
            row_shape, col_shape = list(param.shape), list(param.shape)
            row_shape[-1] = 1
            col_shape[-2] = 1
            state["row_var"] = zeros(row_shape, dtype=param.dtype, device=param.device)
            state["col_var"] = zeros(col_shape, dtype=param.dtype, device=param.device)
        else:
            state["variance"] = zeros_like(param)
        return state

    def update(self, param, grad, state, group):
        """Applies one Adafactor step to ``param`` in place and advances its ``state``.

        Args:
            param: the parameter to update.
            grad: its gradient.
            state: its state dict.
            group: its parameter group, holding the options.
        """
        from ember.core.info import finfo
        lr, weight_decay, d = scalar(group["lr"]), group["weight_decay"], group["d"]
        eps1, eps2 = group["eps"]
        if eps1 is None:
            eps1 = finfo(param.dtype).eps
        if group["maximize"]:
            grad = -grad
        step = increment_step(state)
        one_minus_beta2 = step ** group["beta2_decay"]
        rho = min(lr, 1 / step ** 0.5)
        alpha = max(eps2, float(param.norm(2).item()) / param.numel() ** 0.5) * rho
        if weight_decay != 0:
            param.mul_(1 - lr * weight_decay)
        if grad.dim() > 1:
            row_var, col_var = state["row_var"], state["col_var"]
            squared = grad * grad
            row_var.lerp_(squared.mean(dim=-1, keepdim=True), one_minus_beta2)
            col_var.lerp_(squared.mean(dim=-2, keepdim=True), one_minus_beta2)
            var_estimate = (row_var @ col_var).div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
        else:
            variance = state["variance"]
            variance.lerp_(grad * grad, one_minus_beta2)
            var_estimate = variance.clone()   # the update below must not write into the state
        update = var_estimate.clamp_(min=eps1 * eps1).rsqrt_().mul_(grad)
        denom = max(1.0, float(update.norm(2).item()) / (update.numel() ** 0.5 * d))
        param.add_(update, alpha=-alpha / denom)
