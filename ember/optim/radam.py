"""RAdam (Liu et al.): Adam with a rectified, variance-aware warm-up of the adaptive step."""
from __future__ import annotations

from ember.ops.creation import zeros_like
from ember.optim.optimizer import (Optimizer, check_at_least, check_betas, check_lr, increment_step, scalar,
                                   step_tensor)

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam: Adam with a rectified, variance-aware warm-up of the adaptive step.

    For step t (g the gradient, negated when ``maximize``)::

        p *= 1 - lr * weight_decay   if decoupled_weight_decay, else g += weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
        m_hat = m / (1 - beta1**t)
        if rho_t > 5:
            r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
            p -= lr * m_hat * r * sqrt(1 - beta2**t) / (sqrt(v) + eps)
        else:
            p -= lr * m_hat

    State: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v).

    Args:
        params: the parameters to optimize: an iterable of tensors, of ``(name, tensor)`` pairs, or of
            parameter-group dicts (see :class:`Optimizer`).
        lr: the learning rate, a number or a 1-element tensor. Default: ``1e-3``.
        betas: ``(beta1, beta2)``, the decay rates of the running averages; each in ``[0, 1)``.
            Default: ``(0.9, 0.999)``.
        eps: added to the denominator, for numerical stability. Default: ``1e-8``.
        weight_decay: weight decay coefficient, applied as an L2 term on the gradient or, with
            ``decoupled_weight_decay``, directly to the parameters. Default: ``0``.
        decoupled_weight_decay: shrink the parameters directly instead of adding the decay to the
            gradient. Default: ``False``.
        maximize: if ``True``, the objective is maximized (the gradient is negated). Default: ``False``.
        differentiable: if ``True``, the step runs with autograd enabled so that the update itself can be
            differentiated through. Default: ``False``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        check_lr(lr)
        check_at_least(eps, 0.0, "epsilon value")
        check_betas(betas)
        check_at_least(weight_decay, 0.0, "weight_decay value")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def init_state(self, param, group):
        """Creates the state of ``param`` before its first update.

        It holds ``step`` 0 and zeroed ``exp_avg`` and ``exp_avg_sq``.

        Args:
            param: the parameter.
            group: its parameter group.

        Returns:
            The new state dict.
        """
        return {"step": step_tensor(), "exp_avg": zeros_like(param), "exp_avg_sq": zeros_like(param)}

    def update(self, param, grad, state, group):
        """Applies one RAdam step to ``param`` in place and advances its ``state``.

        Args:
            param: the parameter to update.
            grad: its gradient.
            state: its state dict.
            group: its parameter group, holding the options.
        """
        lr, eps, weight_decay = scalar(group["lr"]), group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        if group["maximize"]:
            grad = -grad
        step = increment_step(state)
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param.mul_(1 - lr * weight_decay)
            else:
                grad = grad.add(param, alpha=weight_decay)
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        corrected_exp_avg = exp_avg / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive_lr = bias_correction2 ** 0.5 / exp_avg_sq.sqrt().add_(eps)
            param.add_(corrected_exp_avg * lr * adaptive_lr * rect, alpha=-1.0)
        else:
            param.add_(corrected_exp_avg * lr, alpha=-1.0)
