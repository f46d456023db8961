"""SGD: stochastic gradient descent with optional momentum, Nesterov momentum and weight decay."""
from __future__ import annotations

from ember.core.call import call_update
from ember.dispatch.ops import OPS
from ember.dispatch.table import DECOMPOSE, resolve
from ember.ops.creation import zeros_like
from ember.optim.optimizer import Optimizer, check_lr, scalar

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum and weight decay.

    For each step (g the gradient, negated when ``maximize``)::

        g += weight_decay * p
        b = g on the first step, else momentum * b + (1 - dampening) * g
        g = g + momentum * b if nesterov else b          (when momentum != 0)
        p -= lr * g

    State: ``momentum_buffer`` when momentum is used; nothing otherwise.

    Args:
        params: the parameters to optimize: an iterable of tensors, of ``(name, tensor)`` pairs, or of
            parameter-group dicts (see :class:`Optimizer`).
        lr: the learning rate, a number or a 1-element tensor. Default: ``1e-3``.
        momentum: momentum factor; 0 disables momentum. Default: ``0``.
        dampening: dampening of the gradient's contribution to the momentum. Default: ``0``.
        weight_decay: L2 penalty coefficient; ``weight_decay * p`` is added to the gradient. Default: ``0``.
        nesterov: use Nesterov momentum; requires a positive ``momentum`` and zero ``dampening``.
            Default: ``False``.
        maximize: if ``True``, the objective is maximized (the gradient is negated). Default: ``False``.
        differentiable: if ``True``, the step runs with autograd enabled so that the update itself can be
            differentiated through. Default: ``False``.

    Raises:
        ValueError: on a negative ``lr``, ``momentum`` or ``weight_decay``, or an invalid Nesterov setting.
    """

    _supports_sparse_grad = True  # sparse gradients (embedding(sparse=True)) take the reference path

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        check_lr(lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def update(self, param, grad, state, group):
        """Applies one SGD step to ``param`` in place and advances its ``state``.

        Args:
            param: the parameter to update.
            grad: its gradient.
            state: its state dict.
            group: its parameter group, holding the options.
        """
        lr, momentum, weight_decay = scalar(group["lr"]), group["momentum"], group["weight_decay"]
        if not group["differentiable"] and self._fused_update(param, grad, state, group, lr):
            return
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.detach().clone()
            else:
                buf.mul_(momentum).add_(grad, alpha=1 - group["dampening"])
            grad = grad.add(buf, alpha=momentum) if group["nesterov"] else buf
        param.add_(grad, alpha=-lr)

    @staticmethod
    def _fused_update(param, grad, state, group, lr) -> bool:
        """The device's fused kernel for this update, when it has one (the code above is the
        reference it is tested against)."""
        op = OPS["sgd_step"]
        if (grad.dtype is not param.dtype or grad.shape != param.shape or grad.is_sparse
                or (op.resolved.get(param.device.type) or resolve(op, param.device.type)) is DECOMPOSE):
            return False
        momentum = group["momentum"]
        buf = state.get("momentum_buffer") if momentum != 0 else None
        first = momentum != 0 and buf is None
        if first:
            buf = zeros_like(param)
        done = call_update(op, (0, 2), param, grad, buf, lr=lr, momentum=momentum, dampening=group["dampening"],
                           weight_decay=group["weight_decay"], nesterov=group["nesterov"],
                           maximize=group["maximize"], first=first)
        if done and first:
            state["momentum_buffer"] = buf
        return done


def _sgd_reference(param, grad, momentum_buffer, *, lr, momentum, dampening, weight_decay, nesterov, maximize,
                   first):
    """The ``sgd_step`` composite: SGD's update written in place with ember ops (what
    ``SGD.update`` does when the device has no fused kernel).

    Args:
        param: the parameter, updated in place.
        grad: its gradient.
        momentum_buffer: the momentum buffer (None without momentum), updated in place.
        lr, momentum, dampening, weight_decay, nesterov, maximize: the options of :class:`SGD`.
        first: the buffer is yet to be filled (it becomes the gradient).

    Returns:
        None.
    """
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad.add(param, alpha=weight_decay)
    if momentum != 0:
        if first:
            momentum_buffer.copy_(grad)
        else:
            momentum_buffer.mul_(momentum).add_(grad, alpha=1 - dampening)
        grad = grad.add(momentum_buffer, alpha=momentum) if nesterov else momentum_buffer
    param.add_(grad, alpha=-lr)


OPS["sgd_step"].decomposition = _sgd_reference
