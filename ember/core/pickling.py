"""Pickle and deepcopy support for Tensors.

A pickled tensor is its values as a host (numpy) array, its dtype, its device name and
its ``requires_grad`` flag, plus the instance ``__dict__`` of subclasses. The autograd
graph never travels: an unpickled tensor is a leaf, as in PyTorch. Unpickling puts the
values back on the named device, so the device's backend must be available there.
"""
from __future__ import annotations

import copy

from ember.core.tensor import Tensor, make_tensor

_TENSOR_SLOTS = tuple(s for s in Tensor.__slots__ if s != "__weakref__")


def rebuild_tensor(cls, array, dtype, device_name, requires_grad, state=None):
    """The inverse of :func:`tensor_reduce_ex` (the function pickle calls on load)."""
    from ember.core.call import backend_of
    from ember.core.transfer import canonical_device
    device = canonical_device(device_name)
    t = make_tensor(backend_of(device.type).from_numpy(array, device.index), dtype, device, bool(requires_grad))
    if cls is not Tensor:
        sub = object.__new__(cls)
        for slot in _TENSOR_SLOTS:
            setattr(sub, slot, getattr(t, slot))
        t = sub
    if state:
        t.__dict__.update(state)
    return t


def tensor_reduce_ex(self, protocol):
    from ember.core.transfer import to_numpy
    state = getattr(self, "__dict__", None) or None
    return (rebuild_tensor, (type(self), to_numpy(self), self.dtype, str(self.device), self._rg, state))


def tensor_deepcopy(self, memo):
    """A leaf copy with its own storage; ``.grad`` is copied too (PyTorch keeps it)."""
    if self.grad_fn is not None:
        raise RuntimeError("deepcopy is only supported for leaf tensors (tensors created by the user, not "
                           f"by an operation); this tensor was produced by {self.grad_fn.name()}")
    found = memo.get(id(self))
    if found is not None:
        return found
    fn, args = tensor_reduce_ex(self, 4)
    new = fn(*copy.deepcopy(args, memo))
    memo[id(self)] = new
    if self.grad is not None:
        new.grad = copy.deepcopy(self.grad, memo)
    return new
