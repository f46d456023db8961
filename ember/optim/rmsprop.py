"""RMSprop (Hinton): divide the gradient by a running root-mean-square of recent gradients."""
from __future__ import annotations

from ember.ops.creation import zeros_like
from ember.optim.optimizer import Optimizer, check_at_least, check_lr, increment_step, scalar, step_tensor

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop: divides the gradient by a running root-mean-square of recent gradients.

    For each step (g the gradient, negated when ``maximize``)::

        g += weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        a = alpha * a + (1 - alpha) * g;  denom = sqrt(v - a * a) + eps   (centered)
                                          denom = sqrt(v) + eps           (otherwise)
        b = momentum * b + g / denom;  p -= lr * b                        (momentum > 0)
        p -= lr * g / denom                                               (otherwise)

    State: ``step``, ``square_avg`` (v), ``momentum_buffer`` (b), ``grad_avg`` (a, centered).

    Args:
        params: the parameters to optimize: an iterable of tensors, of ``(name, tensor)`` pairs, or of
            parameter-group dicts (see :class:`Optimizer`).
        lr: the learning rate, a number or a 1-element tensor. Default: ``1e-2``.
        alpha: smoothing constant of the running averages. Default: ``0.99``.
        eps: added to the denominator, for numerical stability. Default: ``1e-8``.
        weight_decay: L2 penalty coefficient; ``weight_decay * p`` is added to the gradient. Default: ``0``.
        momentum: momentum factor; 0 disables momentum. Default: ``0``.
        centered: normalize by an estimate of the gradient's variance (subtracting the squared running
            mean) instead of its raw second moment. Default: ``False``.
        maximize: if ``True``, the objective is maximized (the gradient is negated). Default: ``False``.
        differentiable: if ``True``, the step runs with autograd enabled so that the update itself can be
            differentiated through. Default: ``False``.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        check_lr(lr)
        check_at_least(eps, 0.0, "epsilon value")
        check_at_least(momentum, 0.0, "momentum value")
        check_at_least(weight_decay, 0.0, "weight_decay value")
        check_at_least(alpha, 0.0, "alpha value")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def init_state(self, param, group):
        """Creates the state of ``param`` before its first update.

        It holds ``step`` 0 and a zeroed ``square_avg`` (plus ``momentum_buffer`` when ``momentum > 0`` and
        ``grad_avg`` when ``centered``).

        Args:
            param: the parameter.
            group: its parameter group.

        Returns:
            The new state dict.
        """
        state = {"step": step_tensor(), "square_avg": zeros_like(param)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = zeros_like(param)
        if group["centered"]:
            state["grad_avg"] = zeros_like(param)
        return state

    def update(self, param, grad, state, group):
        """Applies one RMSprop step to ``param`` in place and advances its ``state``.

        Args:
            param: the parameter to update.
            grad: its gradient.
            state: its state dict.
            group: its parameter group, holding the options.
        """
        lr, alpha, eps = scalar(group["lr"]), group["alpha"], group["eps"]
        weight_decay, momentum = group["weight_decay"], group["momentum"]
        if group["maximize"]:
            grad = -grad
        increment_step(state)
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        square_avg = state["square_avg"]
        square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg.lerp_(grad, 1 - alpha)
            avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
        else:
            avg = square_avg.sqrt()
        avg.add_(eps)
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf.mul_(momentum).addcdiv_(grad, avg)
            param.add_(buf, alpha=-lr)
        else:
            param.addcdiv_(grad, avg, value=-lr)
