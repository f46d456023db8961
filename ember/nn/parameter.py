"""``nn.Parameter`` and ``nn.Buffer``.

A Parameter is a leaf Tensor that a Module registers as learnable state when it is
assigned as an attribute. It shares memory with the tensor it wraps. Results of ops on a
Parameter are plain Tensors. A Buffer is only a marker: assigning ``nn.Buffer(t)`` to a
module attribute registers ``t`` as a buffer; the module stores a plain Tensor.
"""
from __future__ import annotations

import weakref

from ember.core.tensor import Tensor, make_tensor, version_counter

__all__ = ["Parameter", "Buffer", "is_lazy", "UninitializedParameter", "UninitializedBuffer"]


def _share(cls, data: Tensor):
    """A new ``cls`` instance holding ``data``'s memory, with fresh autograd fields."""
    out = object.__new__(cls)
    out._data = data._data
    out.dtype = data.dtype
    out.device = data.device
    out._rg = False
    out.grad = None
    out.grad_fn = None
    out._output_nr = 0
    out._version = version_counter(data)
    out._base = None
    out._view_fn = None
    out._views = None
    out._hooks = None
    out._retains_grad = False
    return out


class Parameter(Tensor):
    """A tensor that is a module parameter: ``requires_grad=True`` unless told otherwise.

    Assigning a ``Parameter`` as a module attribute registers it, so it appears in
    ``parameters()`` and ``state_dict()``. It shares memory with ``data`` and starts with no
    gradient and no autograd history; results of operations on it are plain tensors.

    Args:
        data: the tensor to wrap (default: an empty tensor).
        requires_grad: whether autograd records operations on it (default: True).
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            from ember.ops.creation import empty
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): data must be a Tensor, not {type(data).__name__}")
        out = _share(cls, data)
        if requires_grad:
            out.requires_grad_(True)
        return out

    def __init__(self, data=None, requires_grad=True):
        pass  # all the work happens in __new__

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        from ember.core.autograd import no_grad
        with no_grad():
            result = type(self)(self.data.clone(), self.requires_grad)
        if self.grad is not None:
            result.grad = self.grad.detach().clone()
        result.__dict__.update({k: v for k, v in self.__dict__.items()})
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (_plain(self), self.requires_grad, dict(self.__dict__)))


def _plain(t: Tensor) -> Tensor:
    """A plain Tensor aliasing ``t``'s memory (no autograd history)."""
    return make_tensor(t._data, t.dtype, t.device)


def _rebuild_parameter(data, requires_grad, attributes):
    p = Parameter(data, requires_grad)
    p.__dict__.update(attributes)
    return p


class Buffer(Tensor):
    """A tensor meant as module state that is not learned (running statistics, masks).

    Assigning ``nn.Buffer(t)`` to a module attribute registers it as a buffer;
    ``persistent=False`` keeps it out of ``state_dict()``. It shares ``t``'s memory.

    Args:
        data: the tensor to wrap (default: an empty tensor); its ``requires_grad`` is kept.
        persistent: whether the buffer is saved in ``state_dict()`` (default: True).
    """

    def __new__(cls, data=None, *, persistent: bool = True):
        if data is None:
            from ember.ops.creation import empty
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Buffer(): data must be a Tensor, not {type(data).__name__}")
        out = _share(cls, data)
        if data.requires_grad:
            out.requires_grad_(True)
        out.persistent = persistent
        return out

    def __init__(self, data=None, *, persistent: bool = True):
        pass


def is_lazy(param) -> bool:
    """Tell whether ``param`` is a lazily shaped parameter or buffer (one not yet materialized).

    Args:
        param: any parameter or tensor.

    Returns:
        True for an ``UninitializedParameter`` or ``UninitializedBuffer``, else False.
    """
    return isinstance(param, _Uninitialized)


_NON_PERSISTENT: set = set()  # ids of live UninitializedBuffers made with persistent=False


class _Uninitialized:
    """What the uninitialized parameter and buffer share: no shape until ``materialize``."""

    __slots__ = ()
    cls_to_become = None

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the tensor its shape: new (uninitialized) memory, and the class it stands for.

        Args:
            shape: the shape to take.
            device: where to allocate (default: the device it was created on).
            dtype: the dtype to take (default: the dtype it was created with).
        """
        from ember.ops.creation import empty
        fresh = empty(tuple(shape), device=self.device if device is None else device,
                      dtype=self.dtype if dtype is None else dtype)
        object.__setattr__(self, "_data", fresh._data)
        self.dtype = fresh.dtype
        self.device = fresh.device
        self._version = None
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError("Can't access the shape of an uninitialized parameter or buffer. This error usually "
                           "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
                           "initialized one. Call `forward` to initialize the parameters before accessing their "
                           "attributes.")

    def size(self, dim=None):
        return self.shape

    def __repr__(self):
        return f"<{type(self).__name__}>"

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        return (type(self), (self.requires_grad, None, self.dtype))

    def _checkpoint_reduce(self, global_ref):
        # in a checkpoint it is PyTorch's class called with requires_grad, as torch.save writes it
        return (global_ref("torch.nn.parameter", type(self).__name__), (self.requires_grad,))


class UninitializedParameter(_Uninitialized, Parameter):
    """A parameter whose shape is not known yet (a lazy module's, until its first forward).

    ``materialize(shape)`` gives it memory of that shape and turns it into an ``nn.Parameter``.

    Args:
        requires_grad: whether the parameter, once materialized, requires grad (default: True).
        device: where it will be allocated.
        dtype: its dtype (default: ``ember.get_default_dtype()``).
    """

    __slots__ = ()
    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        from ember.ops.creation import empty
        out = _share(cls, empty(0, device=device, dtype=dtype))
        if requires_grad:
            out.requires_grad_(True)
        return out

    def __init__(self, requires_grad=True, device=None, dtype=None):
        pass

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = type(self)(self.requires_grad, self.device, self.dtype)
        return memo[id(self)]


class UninitializedBuffer(_Uninitialized, Tensor):
    """A buffer whose shape is not known yet (a lazy module's, until its first forward).

    ``materialize(shape)`` gives it memory of that shape and turns it into a plain Tensor.

    Args:
        requires_grad: whether the buffer requires grad (default: False).
        device: where it will be allocated.
        dtype: its dtype (default: ``ember.get_default_dtype()``).
        persistent: whether the buffer is saved in ``state_dict()`` (default: True).
    """

    __slots__ = ()
    cls_to_become = Tensor

    def __new__(cls, requires_grad=False, device=None, dtype=None, persistent=True):
        from ember.ops.creation import empty
        out = _share(cls, empty(0, device=device, dtype=dtype))
        if requires_grad:
            out.requires_grad_(True)
        return out

    def __init__(self, requires_grad=False, device=None, dtype=None, persistent=True):
        # no instance dict (the class must turn into a plain Tensor), so the flag lives beside it
        if not persistent:
            _NON_PERSISTENT.add(id(self))
            weakref.finalize(self, _NON_PERSISTENT.discard, id(self))

    @property
    def persistent(self) -> bool:
        """Whether the buffer is saved in ``state_dict()`` once registered."""
        return id(self) not in _NON_PERSISTENT

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = type(self)(self.requires_grad, self.device, self.dtype)
        return memo[id(self)]
