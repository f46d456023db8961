"""Adadelta (Zeiler): steps scaled by the ratio of running RMS of updates and of gradients."""
from __future__ import annotations

from ember.ops.creation import zeros_like
from ember.optim.optimizer import Optimizer, check_at_least, check_lr, increment_step, scalar, step_tensor

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta: steps scaled by the ratio of the running RMS of past updates to that of the gradients.

    For each step (g the gradient, negated when ``maximize``)::

        g += weight_decay * p
        v = rho * v + (1 - rho) * g * g
        d = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * d * d
        p -= lr * d

    State: ``step``, ``square_avg`` (v), ``acc_delta`` (u).

    Args:
        params: the parameters to optimize: an iterable of tensors, of ``(name, tensor)`` pairs, or of
            parameter-group dicts (see :class:`Optimizer`).
        lr: factor applied to the update ``d``, a number or a 1-element tensor. Default: ``1.0``.
        rho: decay rate of the running averages, in ``[0, 1]``. Default: ``0.9``.
        eps: added inside both square roots. Default: ``1e-6``.
        weight_decay: L2 penalty coefficient; ``weight_decay * p`` is added to the gradient. Default: ``0``.
        maximize: if ``True``, the objective is maximized (the gradient is negated). Default: ``False``.
        differentiable: if ``True``, the step runs with autograd enabled so that the update itself can be
            differentiated through. Default: ``False``.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_at_least(eps, 0.0, "epsilon value")
        check_at_least(weight_decay, 0.0, "weight_decay value")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def init_state(self, param, group):
        """Creates the state of ``param`` before its first update.

        It holds ``step`` 0 and zeroed ``square_avg`` and ``acc_delta``.

        Args:
            param: the parameter.
            group: its parameter group.

        Returns:
            The new state dict.
        """
        return {"step": step_tensor(), "square_avg": zeros_like(param), "acc_delta": zeros_like(param)}

    def update(self, param, grad, state, group):
        """Applies one Adadelta step to ``param`` in place and advances its ``state``.

        Args:
            param: the parameter to update.
            grad: its gradient.
            state: its state dict.
            group: its parameter group, holding the options.
        """
        lr, rho, eps, weight_decay = scalar(group["lr"]), group["rho"], group["eps"], group["weight_decay"]
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        increment_step(state)
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)
        std = square_avg.add(eps).sqrt_()
        delta = acc_delta.add(eps).sqrt_().div_(std).mul_(grad)
        acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
        param.add_(delta, alpha=-lr)
