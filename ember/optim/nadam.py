"""NAdam (Dozat): Adam with Nesterov momentum and a warming-up momentum schedule."""
from __future__ import annotations

from ember.ops.creation import zeros_like
from ember.optim.optimizer import (Optimizer, check_at_least, check_betas, check_lr, increment_step, scalar,
                                   step_tensor)

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam: Adam with Nesterov momentum and a warming-up momentum schedule.

    For step t (g the gradient, negated when ``maximize``)::

        p *= 1 - lr * weight_decay   if decoupled_weight_decay, else g += weight_decay * p
        mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        P_t = mu_1 * ... * mu_t                      (kept in state as mu_product)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        d = sqrt(v / (1 - beta2**t)) + eps
        p -= lr * (1 - mu_t) / (1 - P_t) * g / d + lr * mu_{t+1} / (1 - P_t * mu_{t+1}) * m / d

    State: ``step``, ``mu_product`` (a float32 0-d tensor, as in PyTorch), ``exp_avg``, ``exp_avg_sq``.

    Args:
        params: the parameters to optimize: an iterable of tensors, of ``(name, tensor)`` pairs, or of
            parameter-group dicts (see :class:`Optimizer`).
        lr: the learning rate, a number or a 1-element tensor. Default: ``2e-3``.
        betas: ``(beta1, beta2)``, the decay rates of the running averages; each in ``[0, 1)``.
            Default: ``(0.9, 0.999)``.
        eps: added to the denominator, for numerical stability. Default: ``1e-8``.
        weight_decay: weight decay coefficient, applied as an L2 term on the gradient or, with
            ``decoupled_weight_decay``, directly to the parameters. Default: ``0``.
        momentum_decay: how fast ``mu_t`` warms up towards ``beta1``. Default: ``4e-3``.
        decoupled_weight_decay: shrink the parameters directly instead of adding the decay to the
            gradient. Default: ``False``.
        maximize: if ``True``, the objective is maximized (the gradient is negated). Default: ``False``.
        differentiable: if ``True``, the step runs with autograd enabled so that the update itself can be
            differentiated through. Default: ``False``.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        check_lr(lr)
        check_at_least(eps, 0.0, "epsilon value")
        check_betas(betas)
        check_at_least(weight_decay, 0.0, "weight_decay value")
        check_at_least(momentum_decay, 0.0, "momentum_decay value")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def init_state(self, param, group):
        """Creates the state of ``param`` before its first update.

        It holds ``step`` 0, ``mu_product`` 1 and zeroed ``exp_avg`` and ``exp_avg_sq``.

        Args:
            param: the parameter.
            group: its parameter group.

        Returns:
            The new state dict.
        """
        return {"step": step_tensor(), "mu_product": step_tensor(1.0),
                "exp_avg": zeros_like(param), "exp_avg_sq": zeros_like(param)}

    def update(self, param, grad, state, group):
        """Applies one NAdam step to ``param`` in place and advances its ``state``.

        Args:
            param: the parameter to update.
            grad: its gradient.
            state: its state dict.
            group: its parameter group, holding the options.
        """
        lr, eps, weight_decay = scalar(group["lr"]), group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        momentum_decay = group["momentum_decay"]
        exp_avg, exp_avg_sq, mu_product = state["exp_avg"], state["exp_avg_sq"], state["mu_product"]
        if group["maximize"]:
            grad = -grad
        step = increment_step(state)
        bias_correction2 = 1 - beta2 ** step
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param.mul_(1 - lr * weight_decay)
            else:
                grad = grad.add(param, alpha=weight_decay)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
        mu_product.mul_(mu)  # rounded in the state's dtype, like PyTorch's float32 product
        product = mu_product.item()
        product_next = product * mu_next
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = exp_avg_sq.div(bias_correction2).sqrt().add_(eps)
        param.addcdiv_(grad, denom, value=-lr * (1.0 - mu) / (1.0 - product))
        param.addcdiv_(exp_avg, denom, value=-lr * mu_next / (1.0 - product_next))
