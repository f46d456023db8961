"""AdamW (Loshchilov & Hutter): Adam whose weight decay shrinks the parameters directly."""
from __future__ import annotations

from ember.optim.adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    """AdamW: Adam whose weight decay shrinks the parameters directly.

    This is Adam with ``decoupled_weight_decay=True``: each step first does
    ``p *= 1 - lr * weight_decay``, and the decay never enters the moment estimates.
    Default weight_decay is 1e-2. State: as :class:`Adam`.

    Args:
        params: the parameters to optimize: an iterable of tensors, of ``(name, tensor)`` pairs, or of
            parameter-group dicts (see :class:`Optimizer`).
        lr: the learning rate, a number or a 1-element tensor. Default: ``1e-3``.
        betas: ``(beta1, beta2)``, the decay rates of the running averages; each in ``[0, 1)``.
            Default: ``(0.9, 0.999)``.
        eps: added to the denominator, for numerical stability. Default: ``1e-8``.
        weight_decay: the decoupled decay coefficient. Default: ``1e-2``.
        amsgrad: use the running maximum of the second moment (AMSGrad). Default: ``False``.
        maximize: if ``True``, the objective is maximized (the gradient is negated). Default: ``False``.
        differentiable: if ``True``, the step runs with autograd enabled so that the update itself can be
            differentiated through. Default: ``False``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
