"""Adagrad (Duchi et al.): per-coordinate steps shrinking with the sum of squared gradients."""
from __future__ import annotations

from ember.ops.creation import full_like
from ember.optim.optimizer import Optimizer, check_at_least, check_lr, increment_step, scalar, step_tensor

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad: per-coordinate steps that shrink with the accumulated sum of squared gradients.

    For step t (g the gradient, negated when ``maximize``)::

        g += weight_decay * p
        lr_t = lr / (1 + (t - 1) * lr_decay)
        s += g * g
        p -= lr_t * g / (sqrt(s) + eps)

    State (made for every parameter at construction, as PyTorch does): ``step`` and
    ``sum`` (s), which starts at ``initial_accumulator_value``.

    Args:
        params: the parameters to optimize: an iterable of tensors, of ``(name, tensor)`` pairs, or of
            parameter-group dicts (see :class:`Optimizer`).
        lr: the learning rate, a number or a 1-element tensor. Default: ``1e-2``.
        lr_decay: how fast the learning rate decays with the step count. Default: ``0``.
        weight_decay: L2 penalty coefficient; ``weight_decay * p`` is added to the gradient. Default: ``0``.
        initial_accumulator_value: the starting value of ``sum``. Default: ``0``.
        eps: added to the denominator, for numerical stability. Default: ``1e-10``.
        maximize: if ``True``, the objective is maximized (the gradient is negated). Default: ``False``.
        differentiable: if ``True``, the step runs with autograd enabled so that the update itself can be
            differentiated through. Default: ``False``.
    """

    _supports_sparse_grad = True  # a sparse gradient updates only the rows it holds

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
        """Creates the state of ``param`` before its first update.

        It holds ``step`` 0 and ``sum`` filled with ``initial_accumulator_value``.

        Args:
            param: the parameter.
            group: its parameter group.

        Returns:
            The new state dict.
        """
        return {"step": step_tensor(), "sum": full_like(param, group["initial_accumulator_value"])}

    def update(self, param, grad, state, group):
        """Applies one Adagrad step to ``param`` in place and advances its ``state``.

        Args:
            param: the parameter to update.
            grad: its gradient.
            state: its state dict.
            group: its parameter group, holding the options.
        """
        lr, weight_decay, eps = scalar(group["lr"]), group["weight_decay"], group["eps"]
        step = increment_step(state)
        if group["maximize"]:
            grad = -grad
        clr = lr / (1 + (step - 1) * group["lr_decay"])
        if grad.is_sparse:
            return _sparse_update(param, grad, state["sum"], clr, weight_decay, eps)
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        state_sum = state["sum"]
        state_sum.addcmul_(grad, grad, value=1)
        std = state_sum.sqrt().add_(eps)
        param.addcdiv_(grad, std, value=-clr)


def _sparse_update(param, grad, state_sum, clr, weight_decay, eps):
    """Adagrad's step for a sparse COO gradient: only the rows it holds change (duplicates summed).

    Args:
        param: the parameter, updated in place.
        grad: its sparse gradient (already negated for ``maximize``).
        state_sum: the dense sum of squared gradients, updated in place.
        clr: this step's learning rate.
        weight_decay: the group's weight decay (must be 0).
        eps: added to the denominator.

    Raises:
        RuntimeError: if ``weight_decay`` is not 0 (PyTorch's sparse Adagrad has none either).
    """
    from ember.ops.sparse import sparse_coo_tensor
    if weight_decay != 0:
        raise RuntimeError("weight_decay option is not compatible with sparse gradients")
    grad = grad.coalesce()
    indices, values, size = grad._indices(), grad._values(), tuple(grad.shape)
    state_sum.add_(sparse_coo_tensor(indices, values.pow(2), size))
    # the accumulated sum at the gradient's entries, gathered from the dense state
    std_values = state_sum.sparse_mask(grad)._values().sqrt_().add_(eps)
    param.add_(sparse_coo_tensor(indices, values / std_values, size), alpha=-clr)
