"""Rprop (Riedmiller & Braun): per-coordinate step sizes adapted from the gradient's sign alone."""
from __future__ import annotations

from ember.ops.creation import full_like, zeros_like
from ember.ops.elementwise import where
from ember.optim.optimizer import Optimizer, check_lr, increment_step, scalar, step_tensor

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Rprop: resilient backpropagation, with per-coordinate step sizes adapted from the gradient's sign alone.

    For each step (g the gradient, negated when ``maximize``; s starts at lr)::

        same sign as the previous gradient:  s = min(s * eta_plus, step_max)
        sign flipped:                        s = max(s * eta_minus, step_min), and g = 0 for this step
        otherwise (a zero):                  s unchanged
        p -= sign(g) * s

    State: ``step``, ``prev`` (the previous g), ``step_size`` (s).

    Args:
        params: the parameters to optimize: an iterable of tensors, of ``(name, tensor)`` pairs, or of
            parameter-group dicts (see :class:`Optimizer`).
        lr: the initial step size of every coordinate. Default: ``1e-2``.
        etas: ``(eta_minus, eta_plus)``, the factors that shrink and grow the step sizes; they must satisfy
            ``0 < eta_minus < 1 < eta_plus``. Default: ``(0.5, 1.2)``.
        step_sizes: ``(step_min, step_max)``, the bounds of the step sizes. Default: ``(1e-6, 50)``.
        maximize: if ``True``, the objective is maximized (the gradient is negated). Default: ``False``.
        differentiable: if ``True``, the step runs with autograd enabled so that the update itself can be
            differentiated through. Default: ``False``.
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
        """Creates the state of ``param`` before its first update.

        It holds ``step`` 0, a zeroed ``prev`` and ``step_size`` filled with ``lr``.

        Args:
            param: the parameter.
            group: its parameter group.

        Returns:
            The new state dict.
        """
        return {"step": step_tensor(), "prev": zeros_like(param),
                "step_size": full_like(param, scalar(group["lr"]))}

    def update(self, param, grad, state, group):
        """Applies one Rprop step to ``param`` in place and advances its ``state``.

        Args:
            param: the parameter to update.
            grad: its gradient.
            state: its state dict.
            group: its parameter group, holding the options.
        """
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
