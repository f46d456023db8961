"""Tensor: a backend-native array plus its dtype, device and autograd fields.

A Tensor does no math: operators and methods are the public op functions of
``ember.ops``, attached to this class there (one definition each).
"""
from __future__ import annotations

from ember.core import dtype as dt


class Size(tuple):
    """A tensor shape, ``torch.Size``-like."""

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self):
        return f"ember.Size([{', '.join(map(str, self))}])"

    def __getitem__(self, item):
        r = tuple.__getitem__(self, item)
        return Size(r) if isinstance(item, slice) else r

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))


class VersionCounter:
    """Shared by a tensor and all its views; bumped by every in-place write."""
    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class Tensor:
    __slots__ = ("_data", "dtype", "device", "_rg", "grad", "grad_fn", "_output_nr",
                 "_version", "_base", "_view_fn", "_views", "_hooks", "_retains_grad", "__weakref__")

    # Tensor(...) as a constructor is ember.tensor's job; ember.ops sets __new__ semantics.

    # ---- metadata
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim=None):
        shape = self._data.shape
        if dim is None:
            return Size(shape)
        return shape[_wrap_dim(dim, len(shape))]

    @property
    def ndim(self) -> int:
        return len(self._data.shape)

    def dim(self) -> int:
        return len(self._data.shape)

    ndimension = dim

    def numel(self) -> int:
        n = 1
        for s in self._data.shape:
            n *= s
        return n

    nelement = numel

    def element_size(self) -> int:
        return self.dtype.itemsize

    def stride(self, dim=None):
        """Strides in elements (the native array's, or row-major ones where it has none)."""
        data = self._data
        strides = getattr(data, "strides", None)
        if strides is not None:
            itemsize = self.dtype.itemsize
            strides = tuple(s // itemsize for s in strides)
        else:
            strides, step = [], 1
            for s in reversed(data.shape):
                strides.append(step)
                step *= max(s, 1)
            strides = tuple(reversed(strides))
        return strides if dim is None else strides[_wrap_dim(dim, len(strides))]

    def get_device(self) -> int:
        """-1 for CPU tensors, else the device index (PyTorch's convention)."""
        return -1 if self.device.type == "cpu" else (self.device.index or 0)

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True):
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use "
                               "a computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        if requires_grad and not self.dtype.is_floating_point:
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients, got {self.dtype}")
        self._rg = bool(requires_grad)
        return self

    @property
    def retains_grad(self) -> bool:
        """True for a non-leaf tensor after ``retain_grad()``."""
        return self._retains_grad

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def is_cpu(self) -> bool:
        return self.device.type == "cpu"

    @property
    def is_floating_point_dtype(self) -> bool:
        return self.dtype.is_floating_point

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def is_complex(self) -> bool:
        return False

    @property
    def _version_value(self) -> int:
        return 0 if self._version is None else self._version.value

    def __len__(self):
        if not self._data.shape:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __hash__(self):
        return id(self)

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self.numel()} elements is ambiguous")
        return bool(self.item())

    def __repr__(self):
        from ember.core.printing import tensor_repr
        return tensor_repr(self)

    __str__ = __repr__


def make_tensor(data, dtype, device, requires_grad=False):
    """Wrap a native array (no copy). The hot path's constructor."""
    t = object.__new__(Tensor)
    t._data = data
    t.dtype = dtype
    t.device = device
    t._rg = requires_grad
    t.grad = None
    t.grad_fn = None
    t._output_nr = 0
    t._version = None
    t._base = None
    t._view_fn = None
    t._views = None       # live views of this base, kept only on backends that cannot alias
    t._hooks = None
    t._retains_grad = False
    return t


def version_counter(t: Tensor) -> VersionCounter:
    if t._version is None:
        t._version = VersionCounter()
    return t._version


def _wrap_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


wrap_dim = _wrap_dim
