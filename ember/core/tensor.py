"""Tensor: a backend-native array plus its dtype, device and autograd fields.

A Tensor does no math: operators and methods are the public op functions of
``ember.ops``, attached to this class there (one definition each).
"""
from __future__ import annotations

import functools
import threading

from ember.core import dtype as dt


class _GradMode(threading.local):
    """Grad mode and the inference flag, per thread as PyTorch's: ``no_grad()`` in one thread
    leaves the others recording, and a new thread starts with grad on (``__init__`` runs once
    per thread, at its first access)."""

    def __init__(self):
        self.enabled = True
        self.inference = False


GRAD_MODE = _GradMode()
# How many threads are inside inference mode: the hot path reads this plain list first and the
# (much slower) thread-local flag only when some thread is in the mode.
INFERENCE_THREADS = [0]
_INFERENCE_LOCK = threading.Lock()


def set_inference(flag: bool) -> None:
    """Set this thread's inference flag (``GRAD_MODE.inference``), keeping ``INFERENCE_THREADS`` in step."""
    flag = bool(flag)
    if flag != GRAD_MODE.inference:
        with _INFERENCE_LOCK:
            INFERENCE_THREADS[0] += 1 if flag else -1
        GRAD_MODE.inference = flag


class Size(tuple):
    """A tensor's shape: a tuple of ints, like ``torch.Size``.

    Indexing with a slice and adding a sequence give a ``Size`` again; other tuple
    operations behave as on a plain tuple.

    Args:
        sizes: an iterable of ints (default: empty, the shape of a 0-d tensor).

    Raises:
        TypeError: if an item is not an int.
    """

    def __new__(cls, sizes=()):
        sizes = tuple(sizes)
        for i, s in enumerate(sizes):
            if not isinstance(s, int) and not hasattr(s, "__index__"):
                raise TypeError(f"ember.Size() takes an iterable of 'int' (item {i} is '{type(s).__name__}')")
        return tuple.__new__(cls, (int(s) for s in sizes) if not all(type(s) is int for s in sizes) else sizes)

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds.

        Returns:
            The product of the sizes (``1`` for the empty shape ``()``).
        """
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self):
        return f"ember.Size([{', '.join(map(str, self))}])"

    def __getitem__(self, item):
        r = tuple.__getitem__(self, item)
        return _size(r) if isinstance(item, slice) else r

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))


_size = functools.partial(tuple.__new__, Size)  # a Size from ints without the checks: the hot path


class VersionCounter:
    """Shared by a tensor and all its views; bumped by every in-place write."""
    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class InferenceVersionCounter(VersionCounter):
    """The counter of an inference tensor (one allocated inside ``inference_mode()``): its type
    marks the tensor, and views share it, so a view of an inference tensor is one too."""
    __slots__ = ()


class Tensor:
    """A multi-dimensional array of one dtype on one device, with autograd support.

    Tensors are usually made by functions such as ``ember.tensor``, ``ember.zeros`` or
    ``ember.randn``. Calling the class works as in PyTorch's legacy constructor:
    ``ember.Tensor(2, 3)`` is a float tensor of that shape (zero-filled), ``ember.Tensor(data)``
    copies ``data`` into a tensor of the default float dtype, and ``ember.Tensor()`` is an
    empty 1-d tensor; each also accepts ``dtype``, ``device`` and ``requires_grad`` keywords.

    Attributes:
        dtype: the element type (an ``ember.dtype``).
        device: where the values live (an ``ember.device``).
        grad: the gradient accumulated by ``backward()``, or ``None``.
        grad_fn: the autograd node that made this tensor, or ``None`` for a leaf.
    """
    __slots__ = ("_data", "dtype", "device", "_rg", "grad", "grad_fn", "_output_nr",
                 "_version", "_base", "_view_fn", "_views", "_hooks", "_retains_grad", "__weakref__")

    # Tensor(...) as a constructor is ember.tensor's job; ember.ops sets __new__ semantics.

    # ---- metadata
    @property
    def shape(self) -> Size:
        """The tensor's shape, as an ``ember.Size`` (the same as ``size()``)."""
        return _size(self._data.shape)

    def size(self, dim=None):
        """The tensor's shape, or the size of one dimension.

        Args:
            dim: a dimension (negative counts from the end); ``None`` for the whole shape.

        Returns:
            An ``ember.Size`` when ``dim`` is ``None``, else the size of ``dim`` as an int.

        Raises:
            IndexError: if ``dim`` is out of range.
        """
        shape = self._data.shape
        if dim is None:
            return _size(shape)
        return shape[_wrap_dim(dim, len(shape))]

    @property
    def ndim(self) -> int:
        """The number of dimensions (``0`` for a scalar tensor)."""
        return len(self._data.shape)

    def dim(self) -> int:
        """The number of dimensions (``0`` for a scalar tensor); ``ndimension`` is another name.

        Returns:
            An int, the same as ``ndim``.
        """
        return len(self._data.shape)

    ndimension = dim

    def numel(self) -> int:
        """The total number of elements; ``nelement`` is another name.

        Returns:
            The product of the sizes (``1`` for a scalar tensor, ``0`` if any size is 0).
        """
        n = 1
        for s in self._data.shape:
            n *= s
        return n

    nelement = numel

    def element_size(self) -> int:
        """The size of one element in bytes (e.g. ``4`` for ``float32``)."""
        return self.dtype.itemsize

    @property
    def itemsize(self) -> int:
        """The size of one element in bytes (the property form of ``element_size()``)."""
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        """The size of the tensor's elements in bytes: ``numel() * itemsize``."""
        return self.numel() * self.dtype.itemsize

    def is_signed(self) -> bool:
        """Whether the dtype holds negative values (every dtype but ``bool`` and ``uint8``)."""
        return self.dtype.is_signed

    def stride(self, dim=None):
        """The step, in elements, between neighbouring elements along each dimension.

        Backends whose arrays carry strides report those; for the others (mps) a tensor has
        the strides of a contiguous row-major layout, and a view those it would have if its
        memory were shared with its base, as PyTorch's.

        Args:
            dim: a dimension (negative counts from the end); ``None`` for all of them.

        Returns:
            A tuple of ints, one per dimension, or a single int when ``dim`` is given.

        Raises:
            IndexError: if ``dim`` is out of range.
        """
        data = self._data
        strides = getattr(data, "strides", None)
        if strides is not None and 0 in data.shape:
            strides = None  # numpy gives empty arrays zero strides; PyTorch's are those of the layout
        if strides is not None:
            itemsize = self.dtype.itemsize
            strides = tuple(s // itemsize for s in strides)
        elif self._base is not None:  # a view on a backend that cannot alias: the strides it would have
            from ember.core.views import logical_strides
            strides = logical_strides(self)
        else:
            strides, step = [], 1
            for s in reversed(data.shape):
                strides.append(step)
                step *= max(s, 1)
            strides = tuple(reversed(strides))
        return strides if dim is None else strides[_wrap_dim(dim, len(strides))]

    def get_device(self) -> int:
        """The index of the tensor's device: ``-1`` for CPU tensors (PyTorch's convention).

        Returns:
            ``-1`` on the CPU, else the device's index (``0`` where the device has none).
        """
        return -1 if self.device.type == "cpu" else (self.device.index or 0)

    @property
    def is_leaf(self) -> bool:
        """Whether the tensor was not made by a recorded operation (its ``grad_fn`` is ``None``).

        Leaves that require grad get their ``.grad`` filled by ``backward()``.
        """
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        """Whether autograd records operations on this tensor so gradients can flow to it.

        Assigning to it is the same as calling ``requires_grad_(value)``.
        """
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True):
        """Set whether autograd records operations on this tensor, in place.

        Args:
            requires_grad: the new flag (default: ``True``).

        Returns:
            The tensor itself.

        Raises:
            RuntimeError: if ``requires_grad`` is false and the tensor is not a leaf, or if it
                is true and the dtype is not floating point, or if it is true on an inference
                tensor outside inference mode.
        """
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use "
                               "a computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        if requires_grad and type(self._version) is InferenceVersionCounter and not GRAD_MODE.inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside InferenceMode is not allowed.")
        if requires_grad and not (self.dtype.is_floating_point or self.dtype.is_complex):
            raise RuntimeError(f"only Tensors of floating point and complex dtype can require gradients, "
                               f"got {self.dtype}")
        self._rg = bool(requires_grad)
        return self

    def is_inference(self) -> bool:
        """Whether this is an inference tensor: one allocated inside ``ember.inference_mode()``
        (or a view of one).

        Returns:
            A bool.
        """
        return type(self._version) is InferenceVersionCounter

    @property
    def retains_grad(self) -> bool:
        """Whether ``retain_grad()`` was called on this non-leaf tensor, so ``backward()`` fills its ``.grad``."""
        return self._retains_grad

    @property
    def is_cuda(self) -> bool:
        """Whether the tensor lives on a CUDA device."""
        return self.device.type == "cuda"

    @property
    def is_cpu(self) -> bool:
        """Whether the tensor lives on the CPU."""
        return self.device.type == "cpu"

    def is_floating_point(self) -> bool:
        """Whether the dtype is a floating-point one (``float16``, ``bfloat16``, ``float32``, ``float64``)."""
        return self.dtype.is_floating_point

    def is_complex(self) -> bool:
        """Whether the dtype is complex (``complex64``, ``complex128``)."""
        return self.dtype.is_complex

    @property
    def _version_value(self) -> int:
        return 0 if self._version is None else self._version.value

    def __len__(self):
        if not self._data.shape:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        """The sub-tensors along the first dimension (a 0-d tensor cannot be iterated)."""
        if not self._data.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

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
    t._version = InferenceVersionCounter() if INFERENCE_THREADS[0] and GRAD_MODE.inference else None
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
