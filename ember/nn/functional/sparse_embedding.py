"""The row lookup behind ``embedding(..., sparse=True)`` and ``embedding_bag(..., sparse=True)``.

Forward it is ``weight.index_select(0, indices)``; backward it hands ``weight`` a sparse COO
gradient of ``weight``'s shape whose indices are the looked-up rows (duplicates kept, so it is
uncoalesced, as PyTorch's) and whose values are the incoming gradient's rows; looked-up
``padding_idx`` rows are left out of it.
"""
from __future__ import annotations

from ember.autograd.function import Function, once_differentiable


class SparseRows(Function):
    """``weight[indices]`` whose backward gives ``weight`` a sparse COO gradient."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq):
        ctx.save_for_backward(indices)
        ctx.shape = tuple(weight.shape)
        ctx.padding_idx = padding_idx
        ctx.scale_grad_by_freq = scale_grad_by_freq
        return weight.index_select(0, indices)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        from ember.ops.sparse import sparse_coo_tensor
        if ctx.scale_grad_by_freq:
            # PyTorch has no sparse kernel for it and says so when the gradient is formed
            raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with sparse gradients")
        (indices,) = ctx.saved_tensors
        if ctx.padding_idx is not None:
            keep = (indices != ctx.padding_idx).nonzero().reshape(-1)
            indices, grad = indices.index_select(0, keep), grad.index_select(0, keep)
        return sparse_coo_tensor(indices.unsqueeze(0), grad.contiguous(), ctx.shape), None, None, None


def sparse_rows(weight, indices, padding_idx=None, scale_grad_by_freq=False):
    """The rows of ``weight`` at the int64 vector ``indices``, with a sparse gradient for ``weight``.

    Args:
        weight: the ``(num_embeddings, embedding_dim)`` matrix.
        indices: a 1-D int64 tensor of row indices.
        padding_idx: a non-negative row index whose lookups get no gradient, or ``None``.
        scale_grad_by_freq: whether the caller asked for frequency scaling (refused when the gradient is formed).

    Returns:
        A ``(len(indices), embedding_dim)`` tensor.
    """
    if not weight.requires_grad:
        return weight.index_select(0, indices)
    return SparseRows.apply(weight, indices, padding_idx, scale_grad_by_freq)
