"""Adam (Kingma & Ba), with optional AMSGrad and decoupled (AdamW-style) weight decay."""
from __future__ import annotations

from ember.core.call import call_update
from ember.core.tensor import Tensor
from ember.dispatch.ops import OPS
from ember.ops.creation import zeros_like
from ember.ops.elementwise import maximum
from ember.optim.optimizer import (Optimizer, check_at_least, check_betas, check_lr, increment_step, scalar,
                                   step_tensor)

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam: adaptive moment estimation, with optional AMSGrad and decoupled weight decay.

    For step t (g the gradient, negated when ``maximize``)::

        p *= 1 - lr * weight_decay      if decoupled_weight_decay, else g += weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)           (amsgrad; used in place of v below)
        p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    State: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v), ``max_exp_avg_sq`` (amsgrad).

    Args:
        params: the parameters to optimize: an iterable of tensors, of ``(name, tensor)`` pairs, or of
            parameter-group dicts (see :class:`Optimizer`).
        lr: the learning rate, a number or a 1-element tensor. Default: ``1e-3``.
        betas: ``(beta1, beta2)``, the decay rates of the two moment estimates; each in ``[0, 1)``, both
            floats or both tensors. Default: ``(0.9, 0.999)``.
        eps: added to the denominator, for numerical stability. Default: ``1e-8``.
        weight_decay: weight decay coefficient, applied as an L2 term on the gradient or, with
            ``decoupled_weight_decay``, directly to the parameters. Default: ``0``.
        amsgrad: use the running maximum of ``v`` (AMSGrad). Default: ``False``.
        maximize: if ``True``, the objective is maximized (the gradient is negated). Default: ``False``.
        differentiable: if ``True``, the step runs with autograd enabled so that the update itself can be
            differentiated through. Default: ``False``.
        decoupled_weight_decay: shrink the parameters directly (as :class:`AdamW`) instead of adding the
            decay to the gradient. Default: ``False``.

    Raises:
        ValueError: on a negative ``lr``, ``eps`` or ``weight_decay``, or invalid ``betas``.
    """

    _sparse_grad_error = "Adam does not support sparse gradients, please consider SparseAdam instead"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        check_lr(lr)
        check_at_least(eps, 0.0, "epsilon value")
        check_betas(betas)
        check_at_least(weight_decay, 0.0, "weight_decay value")
        if not (all(isinstance(b, float) for b in betas) or all(isinstance(b, Tensor) for b in betas)):
            raise ValueError(f"betas must be either both floats or both Tensors, got {betas}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def init_state(self, param, group):
        """Creates the state of ``param`` before its first update.

        It holds ``step`` 0 and zeroed ``exp_avg`` and ``exp_avg_sq`` (and ``max_exp_avg_sq`` with
        ``amsgrad``).

        Args:
            param: the parameter.
            group: its parameter group.

        Returns:
            The new state dict.
        """
        state = {"step": step_tensor(), "exp_avg": zeros_like(param), "exp_avg_sq": zeros_like(param)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = zeros_like(param)
        return state

    def update(self, param, grad, state, group):
        """Applies one Adam step to ``param`` in place and advances its ``state``.

        Uses the device's fused Adam kernel when it has one and ``differentiable`` is off.

        Args:
            param: the parameter to update.
            grad: its gradient.
            state: its state dict.
            group: its parameter group, holding the options.
        """
        lr, eps, weight_decay = scalar(group["lr"]), group["eps"], group["weight_decay"]
        beta1, beta2 = (scalar(b) for b in group["betas"])
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        step = increment_step(state)
        if not group["differentiable"] and self._fused_update(param, grad, state, group, step):
            return
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param.mul_(1 - lr * weight_decay)
            else:
                grad = grad.add(param, alpha=weight_decay)
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        if group["amsgrad"]:
            max_exp_avg_sq = state["max_exp_avg_sq"]
            max_exp_avg_sq.copy_(maximum(max_exp_avg_sq, exp_avg_sq))
            exp_avg_sq = max_exp_avg_sq
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
        param.addcdiv_(exp_avg, denom, value=-step_size)

    @staticmethod
    def _fused_update(param, grad, state, group, step) -> bool:
        """The device's fused kernel for this update, when it has one (the code above is the
        reference it is tested against)."""
        if grad.dtype is not param.dtype or grad.shape != param.shape:
            return False
        beta1, beta2 = (scalar(b) for b in group["betas"])
        return call_update(OPS["adam_step"], (0, 2, 3, 4), param, grad, state["exp_avg"], state["exp_avg_sq"],
                           state.get("max_exp_avg_sq"), lr=scalar(group["lr"]), beta1=beta1, beta2=beta2,
                           eps=group["eps"], weight_decay=group["weight_decay"], step=step,
                           decoupled_weight_decay=group["decoupled_weight_decay"], amsgrad=group["amsgrad"],
                           maximize=group["maximize"])
