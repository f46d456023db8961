"""Adamax (Kingma & Ba): Adam with the infinity norm in place of the second moment."""
from __future__ import annotations

from ember.ops.creation import zeros_like
from ember.ops.elementwise import maximum
from ember.optim.optimizer import (Optimizer, check_at_least, check_betas, check_lr, increment_step, scalar,
                                   step_tensor)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """For step t (g the gradient, negated when ``maximize``)::

        g += weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        u = max(beta2 * u, |g| + eps)
        p -= lr / (1 - beta1**t) * m / u

    State: ``step``, ``exp_avg`` (m), ``exp_inf`` (u).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        check_lr(lr)
        check_at_least(eps, 0.0, "epsilon value")
        check_betas(betas)
        check_at_least(weight_decay, 0.0, "weight_decay value")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def init_state(self, param, group):
        return {"step": step_tensor(), "exp_avg": zeros_like(param), "exp_inf": zeros_like(param)}

    def update(self, param, grad, state, group):
        lr, eps, weight_decay = scalar(group["lr"]), group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        if group["maximize"]:
            grad = -grad
        step = increment_step(state)
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        exp_avg.lerp_(grad, 1 - beta1)
        exp_inf.copy_(maximum(exp_inf.mul_(beta2), grad.abs().add_(eps)))
        clr = lr / (1 - beta1 ** step)
        param.addcdiv_(exp_avg, exp_inf, value=-clr)
