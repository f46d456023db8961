"""AdamW (Loshchilov & Hutter): Adam whose weight decay shrinks the parameters directly."""
from __future__ import annotations

from ember.optim.adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    """Adam with ``decoupled_weight_decay=True``: each step first does ``p *= 1 - lr * weight_decay``,
    and the decay never enters the moment estimates. Default weight_decay is 1e-2.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
