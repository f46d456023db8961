"""What in-place writes through views need beyond aliasing memory.

A view remembers how it was made from its base (``Tensor._view_fn``: a chain of view
ops). With that the core can (1) rebase the autograd graph after an in-place op on a
view, as PyTorch's CopySlices does, and (2) for backends whose arrays cannot alias,
write a view's new value back into its base.
"""
from __future__ import annotations

from ember.core.autograd import GRAD_MODE, Node, edge_of, no_grad
from ember.core.tensor import Tensor


class _CopySlicesRule:
    """Backward of "base with the view region replaced by ``result``"."""
    node_name = "CopySlices"
    saves_inputs = ()
    saves_output = False

    def __init__(self, view_fn):
        self.view_fn = view_fn

    def __call__(self, node, grad):
        from ember.core.call import replay_view
        from ember.ops.creation import ones_like
        with no_grad():
            keep = ones_like(grad)
            replay_view(self.view_fn, keep).zero_()
        grad_base = grad * keep
        grad_result = replay_view(self.view_fn, grad)
        return grad_base, grad_result


def rebase_view_history(view: Tensor, result: Tensor):
    from ember.core.call import replay_view
    base = view._base
    rule = _CopySlicesRule(view._view_fn)
    meta = ((base._data.shape, base.dtype, base.device), (result._data.shape, result.dtype, result.device))
    node = Node("CopySlices", rule, None, (edge_of(base), edge_of(result)), meta)
    base.grad_fn = node
    base._output_nr = 0
    base._rg = True
    prev = GRAD_MODE.enabled
    GRAD_MODE.enabled = True
    try:
        fresh = replay_view(view._view_fn, base)
    finally:
        GRAD_MODE.enabled = prev
    view.grad_fn = fresh.grad_fn
    view._output_nr = 0
    view._rg = True


def write_view_into_base(view: Tensor, base: Tensor):
    """Scatter a view's (new) values into its base, for backends without aliasing.

    The view's positions in the base are found by replaying the view on an index
    tensor; works for every view op, at the cost of one index_put.
    """
    from ember.core.call import replay_view
    from ember.ops.creation import arange
    with no_grad():
        positions = replay_view(view._view_fn, arange(base.numel(), device=base.device).view(base.shape))
        flat = base.reshape(-1)
        flat = flat.index_put((positions.reshape(-1),), _detached_alias(view).reshape(-1))
        base._data = flat.view(base.shape)._data


def _detached_alias(view: Tensor) -> Tensor:
    from ember.core.tensor import make_tensor
    return make_tensor(view._data, view.dtype, view.device)
