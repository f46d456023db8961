"""``ember.sparse``: PyTorch's ``torch.sparse``: products, sums and softmax of sparse tensors,
the invariant-check switch, and gradcheck for functions of sparse tensors.

The tensors themselves (``ember.sparse_coo_tensor``, ``Tensor.to_sparse*``) and how dense ops
meet them are in ``ember.ops.sparse``.
"""
from __future__ import annotations

import functools

from ember.core.tensor import Tensor
from ember.ops import sparse as _sp
from ember.sparse.semi_structured import (SparseSemiStructuredTensor, SparseSemiStructuredTensorCUSPARSELT,
                                          SparseSemiStructuredTensorCUTLASS, to_sparse_semi_structured)

__all__ = ["mm", "addmm", "sum", "softmax", "log_softmax", "check_sparse_tensor_invariants",
           "as_sparse_gradcheck", "to_sparse_semi_structured", "SparseSemiStructuredTensor",
           "SparseSemiStructuredTensorCUTLASS", "SparseSemiStructuredTensorCUSPARSELT"]

mm = _sp.sparse_mm
sum = _sp.sparse_sum  # noqa: A001  (torch.sparse.sum shadows the builtin there too)
softmax = _sp.sparse_softmax
log_softmax = _sp.sparse_log_softmax


def addmm(mat, mat1, mat2, *, beta=1.0, alpha=1.0):
    """``beta * mat + alpha * (mat1 @ mat2)`` for sparse ``mat1``; gradients flow to its values.

    Args:
        mat: the dense matrix added.
        mat1: a sparse ``(n, m)`` matrix.
        mat2: a dense ``(m, p)`` matrix.
        beta: the factor of ``mat``.
        alpha: the factor of the product.

    Returns:
        A dense ``(n, p)`` tensor.
    """
    return _sp.sparse_addmm(mat, mat1, mat2, beta=beta, alpha=alpha)


class check_sparse_tensor_invariants:
    """Turn the index checks of the sparse constructors on (or off) globally, within a ``with``
    block, or for the calls of a decorated function.

    Args:
        enable: whether the checks are on inside the block (default ``True``).
    """

    def __init__(self, enable=True):
        self.state = bool(enable)
        self.saved = None

    @staticmethod
    def is_enabled() -> bool:
        """Whether the sparse constructors check their invariants by default.

        Returns:
            A bool (``False`` unless enabled).
        """
        return _sp._CHECK_INVARIANTS[0]

    @staticmethod
    def enable():
        """Make the sparse constructors check their invariants by default."""
        _sp._CHECK_INVARIANTS[0] = True

    @staticmethod
    def disable():
        """Make the sparse constructors skip the invariant checks by default."""
        _sp._CHECK_INVARIANTS[0] = False

    def __enter__(self):
        if self.saved is not None:
            raise RuntimeError("This context manager instance is already activated. Use a different context "
                               "manager instance for context nesting.")
        self.saved = _sp._CHECK_INVARIANTS[0]
        _sp._CHECK_INVARIANTS[0] = self.state
        return self

    def __exit__(self, *exc):
        _sp._CHECK_INVARIANTS[0] = self.saved
        self.saved = None

    def __call__(self, fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with check_sparse_tensor_invariants(self.state):
                return fn(*args, **kwargs)
        return run


def as_sparse_gradcheck(gradcheck):
    """Extend a gradcheck function to functions whose inputs or outputs are sparse tensors.

    Each sparse input that requires grad is checked through its values (the function gets the
    sparse tensor rebuilt around them); sparse outputs are compared through ``to_dense()``.

    Args:
        gradcheck: ``ember.autograd.gradcheck`` or a ``functools.partial`` of it.

    Returns:
        A function with gradcheck's signature, ``(func, inputs, **kwargs)``.
    """
    def sparse_gradcheck(func, inputs, **kwargs):
        inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
        rebuild = []
        flat = []
        for x in inputs:
            if isinstance(x, _sp.SparseTensor) and x.requires_grad:
                pattern = x.detach()
                flat.append(x._val.detach().requires_grad_(True))
                rebuild.append(functools.partial(_sp._replace, pattern))
            else:
                flat.append(x)
                rebuild.append(None)

        def dense_func(*args):
            out = func(*(r(a) if r is not None else a for r, a in zip(rebuild, args)))
            dense = lambda o: o.to_dense() if isinstance(o, _sp.SparseTensor) else o  # noqa: E731
            return dense(out) if isinstance(out, Tensor) else tuple(dense(o) for o in out)
        return gradcheck(dense_func, tuple(flat), **kwargs)
    functools.update_wrapper(sparse_gradcheck, gradcheck, assigned=("__name__", "__qualname__"))
    return sparse_gradcheck
