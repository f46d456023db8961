"""Accumulating sparse gradients into a leaf's ``.grad`` (PyTorch's AccumulateGrad rules).

A dense leaf can receive a sparse COO gradient (``embedding(..., sparse=True)``): the first one
becomes ``.grad`` (a copy of its own); a later sparse one is added in place, which keeps it
uncoalesced (indices and values concatenated); a dense one meeting a sparse ``.grad`` makes a new
dense ``.grad``; a sparse one meeting a dense ``.grad`` is added into it in place.
"""
from __future__ import annotations

from ember.core.layout import SparseData
from ember.core.tensor import Tensor


def is_sparse_grad(t) -> bool:
    """Whether ``t`` is a tensor with a sparse layout (its native array is the sparse placeholder).

    Args:
        t: a tensor or ``None``.

    Returns:
        A bool.
    """
    return isinstance(t, Tensor) and isinstance(t._data, SparseData)


def add_grads(a: Tensor, b: Tensor) -> Tensor:
    """``a + b`` for two gradients of one tensor, either of which may be sparse.

    Args:
        a: a gradient.
        b: another gradient of the same shape.

    Returns:
        Their sum: sparse when both are, dense otherwise.
    """
    # sparse + dense is refused for COO (as in PyTorch); dense + sparse is defined
    if is_sparse_grad(a) and not is_sparse_grad(b):
        return b + a
    return a + b


def accumulate_sparse(variable: Tensor, grad: Tensor, create_graph: bool):
    """Add ``grad`` into ``variable.grad`` where one of the two is sparse.

    Args:
        variable: the leaf.
        grad: the incoming gradient.
        create_graph: whether the backward pass records a graph (then nothing is done in place).
    """
    from ember.core.autograd import no_grad
    old = variable.grad
    if old is None:
        copy = grad.clone()
        variable.grad = copy if create_graph else copy.detach()
    elif create_graph:
        variable.grad = add_grads(old, grad)
    else:
        with no_grad():
            if is_sparse_grad(old) and not is_sparse_grad(grad):
                variable.grad = grad + old
            else:
                old.add_(grad)
