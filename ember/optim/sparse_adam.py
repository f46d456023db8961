"""SparseAdam: Adam for sparse gradients (e.g. from ``nn.Embedding(sparse=True)``), lazy in its moments."""
from __future__ import annotations

from ember.core.tensor import Tensor
from ember.ops.creation import zeros_like
from ember.optim.optimizer import Optimizer, scalar

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """Adam that touches only the entries a sparse gradient names.

    For the rows (indices) present in the coalesced gradient g at step t, and only those::

        m = m + (1 - beta1) * (g - m)
        v = v + (1 - beta2) * (g * g - v)
        p -= lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m / (sqrt(v) + eps)

    The other entries of the parameter and of its moments are left as they are. State:
    ``step`` (a Python int, as PyTorch keeps it here), ``exp_avg``, ``exp_avg_sq``.

    Args:
        params: the dense parameters to optimize: an iterable of tensors, of ``(name, tensor)`` pairs, or of
            parameter-group dicts (see :class:`Optimizer`).
        lr: the learning rate. Default: ``1e-3``.
        betas: ``(beta1, beta2)``, the decay rates of the two moments, each in ``[0, 1)``. Default: ``(0.9, 0.999)``.
        eps: added to the denominator. Default: ``1e-8``.
        maximize: if ``True``, the objective is maximized (the gradient is negated). Default: ``False``.

    Raises:
        ValueError: on an invalid ``lr``, ``eps`` or ``betas``, or sparse or complex parameters.
    """

    _supports_sparse_grad = True  # sparse gradients are the only kind it takes (update() rejects dense ones)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        for i, beta in enumerate(betas[:2]):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))
        sparse_params, complex_params = [], []
        for index, group in enumerate(self.param_groups):
            for d_index, param in enumerate(group["params"]):
                if getattr(param, "is_sparse", False):
                    sparse_params.append([index, d_index])
                if param.is_complex():
                    complex_params.append([index, d_index])
        if sparse_params:
            raise ValueError(f"Sparse params at indices {sparse_params}: SparseAdam requires dense parameter tensors")
        if complex_params:
            raise ValueError(f"Complex params at indices {complex_params}: SparseAdam does not support complex "
                             "parameters")

    def _check_grad_layouts(self, group):
        """Refuse a dense gradient for the whole group before any parameter moves, as PyTorch does."""
        for p in group["params"]:
            if p.grad is not None and not getattr(p.grad, "is_sparse", False):
                raise RuntimeError("SparseAdam does not support dense gradients, please consider Adam instead")

    def init_state(self, param, group):
        """Creates the state of ``param`` before its first update: ``step`` 0 and zeroed moments.

        Args:
            param: the parameter.
            group: its parameter group.

        Returns:
            The new state dict.
        """
        return {"step": 0, "exp_avg": zeros_like(param), "exp_avg_sq": zeros_like(param)}

    def update(self, param, grad, state, group):
        """Applies one SparseAdam step to the entries of ``param`` that ``grad`` names.

        Args:
            param: the parameter to update.
            grad: its sparse gradient.
            state: its state dict.
            group: its parameter group, holding the options.

        Raises:
            RuntimeError: if the gradient is dense.
        """
        if not getattr(grad, "is_sparse", False):
            raise RuntimeError("SparseAdam does not support dense gradients, please consider Adam instead")
        state["step"] += 1
        step = state["step"]
        lr, eps = scalar(group["lr"]), group["eps"]
        beta1, beta2 = group["betas"]
        grad = grad.coalesce()
        values = grad.values()
        if values.numel() == 0:
            return
        if group["maximize"]:
            values = -values
        where = tuple(grad.indices())   # one index tensor per sparse dimension; coalesced, so no repeats
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        old_avg, old_sq = exp_avg[where], exp_avg_sq[where]
        new_avg = values.sub(old_avg).mul_(1 - beta1).add_(old_avg)
        new_sq = (values * values).sub_(old_sq).mul_(1 - beta2).add_(old_sq)
        exp_avg[where] = new_avg
        exp_avg_sq[where] = new_sq
        step_size = lr * (1 - beta2 ** step) ** 0.5 / (1 - beta1 ** step)
        param[where] = param[where] - step_size * new_avg / (new_sq.sqrt() + eps)
