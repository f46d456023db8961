"""Adagrad (Duchi et al.): per-coordinate steps shrinking with the sum of squared gradients."""
from __future__ import annotations

from ember.ops.creation import full_like
from ember.optim.optimizer import Optimizer, check_at_least, check_lr, increment_step, scalar, step_tensor

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """For step t (g the gradient, negated when ``maximize``)::

        g += weight_decay * p
        lr_t = lr / (1 + (t - 1) * lr_decay)
        s += g * g
        p -= lr_t * g / (sqrt(s) + eps)

    State (made for every parameter at construction, as PyTorch does): ``step`` and
    ``sum`` (s), which starts at ``initial_accumulator_value``.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_lr(lr)
        check_at_least(lr_decay, 0.0, "lr_decay value")
        check_at_least(weight_decay, 0.0, "weight_decay value")
        check_at_least(initial_accumulator_value, 0.0, "initial_accumulator_value value")
        check_at_least(eps, 0.0, "epsilon value")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = self.init_state(p, group)

    def init_state(self, param, group):
        return {"step": step_tensor(), "sum": full_like(param, group["initial_accumulator_value"])}

    def update(self, param, grad, state, group):
        lr, weight_decay, eps = scalar(group["lr"]), group["weight_decay"], group["eps"]
        step = increment_step(state)
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        clr = lr / (1 + (step - 1) * group["lr_decay"])
        state_sum = state["sum"]
        state_sum.addcmul_(grad, grad, value=1)
        std = state_sum.sqrt().add_(eps)
        param.addcdiv_(grad, std, value=-clr)
