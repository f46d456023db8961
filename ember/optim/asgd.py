"""ASGD (Polyak & Juditsky): SGD with a decaying step size and a running average of the iterates."""
from __future__ import annotations

from ember.core import dtype as _dt
from ember.ops.creation import tensor, zeros_like
from ember.optim.optimizer import Optimizer, check_at_least, check_lr, increment_step, scalar, step_tensor

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """Averaged stochastic gradient descent.

    For step t (g the gradient, negated when ``maximize``; eta starts at lr, mu at 1)::

        g += weight_decay * p
        p *= 1 - lambd * eta
        p -= eta * g
        ax += (p - ax) * mu          (ax = p while mu == 1)
        eta = lr / (1 + lambd * lr * t) ** alpha
        mu = 1 / max(1, t - t0)

    ``ax`` is the averaged parameter (averaging starts after ``t0`` steps).
    State: ``step``, ``eta``, ``mu``, ``ax``.

    Args:
        params: the parameters to optimize: an iterable of tensors, of ``(name, tensor)`` pairs, or of
            parameter-group dicts (see :class:`Optimizer`).
        lr: the learning rate. Default: ``1e-2``.
        lambd: the decay term. Default: ``1e-4``.
        alpha: the power of the step-size decay. Default: ``0.75``.
        t0: the step at which averaging starts. Default: ``1e6``.
        weight_decay: L2 penalty added to the gradient. Default: ``0``.
        maximize: if ``True``, the objective is maximized (the gradient is negated). Default: ``False``.
        differentiable: if ``True``, the step runs with autograd enabled. Default: ``False``.

    Raises:
        ValueError: on a negative ``lr`` or ``weight_decay``.
    """

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        check_lr(lr)
        check_at_least(weight_decay, 0.0, "weight_decay value")
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def init_state(self, param, group):
        """Creates the state of ``param`` before its first update.

        It holds ``step`` 0, ``eta`` = lr, ``mu`` = 1 (float32 0-d tensors on the parameter's
        device) and a zeroed average ``ax``.

        Args:
            param: the parameter.
            group: its parameter group.

        Returns:
            The new state dict.
        """
        return {"step": step_tensor(),
                "eta": tensor(float(scalar(group["lr"])), dtype=_dt.float32, device=param.device),
                "mu": tensor(1.0, dtype=_dt.float32, device=param.device),
                "ax": zeros_like(param)}

    def update(self, param, grad, state, group):
        """Applies one ASGD step to ``param`` in place and advances its ``state``.

        Args:
            param: the parameter to update.
            grad: its gradient.
            state: its state dict.
            group: its parameter group, holding the options.
        """
        from ember.ops.complex import view_as_real
        lr, lambd, alpha, t0 = scalar(group["lr"]), group["lambd"], group["alpha"], group["t0"]
        weight_decay = group["weight_decay"]
        ax = state["ax"]
        if group["maximize"]:
            grad = -grad
        if param.is_complex():   # update real and imaginary parts as a real pair
            grad, param, ax = view_as_real(grad), view_as_real(param), view_as_real(ax)
        step = increment_step(state)
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        eta = float(state["eta"].item())
        param.mul_(1 - lambd * eta)
        param.add_(grad, alpha=-eta)
        mu = float(state["mu"].item())
        if mu != 1:
            ax.add_(param.sub(ax).mul_(mu))
        else:
            ax.copy_(param)
        state["eta"].fill_(lr / ((1 + lambd * lr * step) ** alpha))
        state["mu"].fill_(1 / max(1, step - t0))
