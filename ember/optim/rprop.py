"""Rprop (Riedmiller & Braun): per-coordinate step sizes adapted from the gradient's sign alone."""
from __future__ import annotations

from ember.ops.creation import full_like, zeros_like
from ember.ops.elementwise import where
from ember.optim.optimizer import Optimizer, check_lr, increment_step, scalar, step_tensor

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """For each step (g the gradient, negated when ``maximize``; s starts at lr)::

        same sign as the previous gradient:  s = min(s * eta_plus, step_max)
        sign flipped:                        s = max(s * eta_minus, step_min), and g = 0 for this step
        otherwise (a zero):                  s unchanged
        p -= sign(g) * s

    State: ``step``, ``prev`` (the previous g), ``step_size`` (s).
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False,
                 foreach=None, maximize=False, differentiable=False):
        check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def init_state(self, param, group):
        return {"step": step_tensor(), "prev": zeros_like(param),
                "step_size": full_like(param, scalar(group["lr"]))}

    def update(self, param, grad, state, group):
        eta_minus, eta_plus = group["etas"]
        step_min, step_max = group["step_sizes"]
        prev, step_size = state["prev"], state["step_size"]
        increment_step(state)
        if group["maximize"]:
            grad = -grad
        agreement = grad.mul(prev).sign()
        flipped = agreement < 0
        unchanged = full_like(step_size, 1.0)  # the factors in the step sizes' own dtype
        factor = where(agreement > 0, eta_plus, where(flipped, eta_minus, unchanged))
        step_size.mul_(factor).clamp_(step_min, step_max)
        grad = where(flipped, 0.0, grad)
        param.addcmul_(grad.sign(), step_size, value=-1)
        prev.copy_(grad)
