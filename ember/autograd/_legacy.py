"""PyTorch's legacy autograd names: ``Variable`` (a Tensor now), ``variable`` and ``NestedIOFunction``."""
from __future__ import annotations

import warnings

from ember.autograd.function import Function
from ember.core.tensor import Tensor
from ember.utils._pytree import tree_flatten, tree_unflatten

__all__ = ["Variable", "variable", "NestedIOFunction"]


class _VariableMeta(type):
    def __instancecheck__(cls, other):
        return isinstance(other, Tensor)


class Variable(metaclass=_VariableMeta):
    """The pre-0.4 wrapper type: every Tensor is a Variable now, and ``Variable(t)`` gives a tensor.

    Args:
        data: a tensor (default: an empty one).
        requires_grad: whether the result requires grad.
        volatile: removed; has no effect (a warning says to use ``no_grad``).

    Returns:
        A tensor sharing ``data``'s memory, cut off from its history, with ``requires_grad`` set.
    """

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        import ember
        if data is None:
            data = ember.empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` instead.",
                          stacklevel=2)
        t = data.detach()
        return t.requires_grad_(bool(requires_grad)) if requires_grad else t


def variable(*args, **kwargs):
    """Removed in PyTorch: use ``ember.tensor``.

    Raises:
        RuntimeError: always, as PyTorch's does.
    """
    raise RuntimeError("torch.autograd.variable(...) is deprecated, use torch.tensor(...) instead")


def _tensors(tree):
    leaves, spec = tree_flatten(tree)
    return [t for t in leaves if isinstance(t, Tensor)], leaves, spec


def _rebuild(leaves, spec, tensors):
    it = iter(tensors)
    return tree_unflatten([next(it) if isinstance(leaf, Tensor) else leaf for leaf in leaves], spec)


class NestedIOFunction(Function):
    """The legacy custom function with nested inputs and outputs (kept for old code; use ``Function``).

    Subclass it with instance methods ``forward_extended(self, *inputs)`` and
    ``backward_extended(self, *grad_outputs)``, where inputs, outputs and gradients may be nested
    tuples/lists of tensors; call an instance: ``MyFn()(x, (y, z))``. Inside them use
    ``self.save_for_backward``, ``self.saved_tensors``, ``self.mark_dirty`` and
    ``self.mark_non_differentiable``.
    """

    def __call__(self, *inputs):
        holder = self
        flat_in, in_leaves, in_spec = _tensors(inputs)

        class _Flat(Function):
            @staticmethod
            def forward(ctx, *flat):
                holder._ctx = ctx
                result = holder.forward_extended(*_rebuild(in_leaves, in_spec, [t.detach() for t in flat]))
                outs, holder._out_leaves, holder._out_spec = _tensors(result)
                return tuple(outs)

            @staticmethod
            def backward(ctx, *grads):
                nested = _rebuild(holder._out_leaves, holder._out_spec, grads)
                if not isinstance(nested, tuple):
                    nested = (nested,)
                result = holder.backward_extended(*nested)
                leaves, _ = tree_flatten(result)
                return tuple(leaves)
        _Flat.__name__ = type(self).__name__
        flat_out = _Flat.apply(*flat_in)
        return _rebuild(self._out_leaves, self._out_spec, flat_out)

    _do_forward = __call__

    def save_for_backward(self, *args):
        """Save (nested) tensors for ``backward_extended``.

        Args:
            args: tensors, or nested tuples/lists of tensors.
        """
        flat, self._saved_leaves, self._saved_spec = _tensors(args)
        self._ctx.save_for_backward(*flat)

    @property
    def saved_tensors(self):
        """What ``save_for_backward`` saved, in its nesting."""
        return _rebuild(self._saved_leaves, self._saved_spec, self._ctx.saved_tensors)

    def mark_dirty(self, *args, **kwargs):
        """Mark (nested) tensors as modified in place by ``forward_extended``."""
        self._ctx.mark_dirty(*_tensors((args, kwargs))[0])

    def mark_non_differentiable(self, *args, **kwargs):
        """Mark (nested) outputs as not differentiable."""
        self._ctx.mark_non_differentiable(*_tensors((args, kwargs))[0])

    def forward_extended(self, *input):
        """The forward computation (to override).

        Args:
            input: the call's arguments.

        Returns:
            Tensors, possibly nested.
        """
        raise NotImplementedError

    def backward_extended(self, *grad_output):
        """The backward computation (to override).

        Args:
            grad_output: the gradients of the outputs, nested like them.

        Returns:
            One gradient per input tensor (None where there is none), possibly nested.
        """
        raise NotImplementedError
