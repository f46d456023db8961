"""Adamax (Kingma & Ba): Adam with the infinity norm in place of the second moment."""
from __future__ import annotations

from ember.ops.creation import zeros_like
from ember.ops.elementwise import maximum
from ember.optim.optimizer import (Optimizer, check_at_least, check_betas, check_lr, increment_step, scalar,
                                   step_tensor)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax: the variant of Adam that uses an infinity norm in place of the second moment.

    For step t (g the gradient, negated when ``maximize``)::

        g += weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        u = max(beta2 * u, |g| + eps)
        p -= lr / (1 - beta1**t) * m / u

    State: ``step``, ``exp_avg`` (m), ``exp_inf`` (u).

    Args:
        params: the parameters to optimize: an iterable of tensors, of ``(name, tensor)`` pairs, or of
            parameter-group dicts (see :class:`Optimizer`).
        lr: the learning rate, a number or a 1-element tensor. Default: ``2e-3``.
        betas: ``(beta1, beta2)``, the decay rates of the running averages; each in ``[0, 1)``.
            Default: ``(0.9, 0.999)``.
        eps: added to ``|g|`` inside the maximum. Default: ``1e-8``.
        weight_decay: L2 penalty coefficient; ``weight_decay * p`` is added to the gradient. Default: ``0``.
        maximize: if ``True``, the objective is maximized (the gradient is negated). Default: ``False``.
        differentiable: if ``True``, the step runs with autograd enabled so that the update itself can be
            differentiated through. Default: ``False``.
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
        """Creates the state of ``param`` before its first update.

        It holds ``step`` 0 and zeroed ``exp_avg`` and ``exp_inf``.

        Args:
            param: the parameter.
            group: its parameter group.

        Returns:
            The new state dict.
        """
        return {"step": step_tensor(), "exp_avg": zeros_like(param), "exp_inf": zeros_like(param)}

    def update(self, param, grad, state, group):
        """Applies one Adamax step to ``param`` in place and advances its ``state``.

        Args:
            param: the parameter to update.
            grad: its gradient.
            state: its state dict.
            group: its parameter group, holding the options.
        """
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
