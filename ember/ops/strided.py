"""Views with explicit strides: ``as_strided`` and its in-place, copy and scatter forms,
``Tensor.unfold`` (sliding windows), and the strided factories ``empty_strided``,
``Tensor.new_empty_strided`` and ``empty_permuted``.

A tensor's storage is its base's memory from the base's first element (what
``storage_offset()`` counts from). ``as_strided`` is one view primitive applied to that base,
so writes through the view reach the base on every backend (MLX, which cannot alias, replays
it like any other view). Its derivative spreads the gradient over the storage, adding where
the view's elements overlap (``unfold`` windows), and reads the base's elements back.
"""
from __future__ import annotations

from ember.core.autograd import no_grad
from ember.core.call import call
from ember.core.tensor import Tensor, make_tensor
from ember.core.views import _is_whole_base
from ember.dispatch.ops import OPS
from ember.ops import creation, indexing
from ember.ops.creation import as_shape
from ember.ops.memory import storage_offset as _storage_offset
from ember.ops.public import public


def _extent(size, stride) -> int:
    """How many storage elements a (size, stride) layout spans from its first element (0 if empty)."""
    if any(n == 0 for n in size):
        return 0
    return 1 + sum((n - 1) * s for n, s in zip(size, stride))


def _check_geometry(size, stride, offset, itemsize, storage_size):
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, got strides: "
                           f"{list(stride)}")
    if any(n < 0 for n in size):
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(size)} and strides="
                           f"{list(stride)}")
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    needed = offset + _extent(size, stride) if all(n for n in size) else 0
    if needed > storage_size:
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, and "
                           f"itemsize {itemsize} requiring a storage size of {needed * itemsize} are out of bounds "
                           f"for storage of size {storage_size * itemsize}")


def _storage_holder(input: Tensor) -> Tensor:
    """The tensor whose first element starts the storage: the input itself when it is a base or an
    alias of its whole base (detach, .data: its own autograd edge), else its base."""
    if input._base is None or _is_whole_base(input._view_fn):
        return input
    if input._rg and input.grad_fn is None:
        raise RuntimeError("as_strided of a view that is itself a leaf requiring grad: the gradient would reach "
                           "its base; call it on the base, or on a clone of the view")
    return input._base


@public(method=True)
def as_strided(input, size, stride, storage_offset=None) -> Tensor:
    """A view of ``input``'s storage with the given sizes and strides (in elements).

    Args:
        input: the tensor whose storage is viewed.
        size: the view's shape.
        stride: the view's strides, one per dimension (non-negative).
        storage_offset: where in the storage the view starts (default: ``input.storage_offset()``).

    Returns:
        A tensor sharing memory with ``input``; its gradient flows to ``input``'s storage (elements
        read more than once get the sum).

    Raises:
        RuntimeError: if ``size`` and ``stride`` differ in length, a stride or size is negative, or
            the view reaches past the storage.
    """
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    offset = _storage_offset(input) if storage_offset is None else int(storage_offset)
    holder = _storage_holder(input)
    base_stride = tuple(holder.stride())
    _check_geometry(size, stride, offset, input.dtype.itemsize, _extent(holder.shape, base_stride))
    if holder is not input and holder._rg and not input._rg:  # a view of a detached alias: no history
        with no_grad():
            return call(OPS["as_strided"], holder, size=size, stride=stride, storage_offset=offset,
                        base_stride=base_stride)
    return call(OPS["as_strided"], holder, size=size, stride=stride, storage_offset=offset, base_stride=base_stride)


def as_strided_backward(g: Tensor, base_shape, *, size, stride, storage_offset, base_stride) -> Tensor:
    """The gradient for the base of ``as_strided``: ``g`` added into the storage positions it was read
    from, then read back at the base's own positions (written in ember ops: differentiable again)."""
    n = max(_extent(base_shape, base_stride), storage_offset + _extent(size, stride))
    numbered = creation.arange(n, device=g.device)
    read = call(OPS["as_strided"], numbered, size=size, stride=stride, storage_offset=storage_offset,
                base_stride=(1,))
    storage = creation.zeros(n, dtype=g.dtype, device=g.device)
    storage = indexing.index_add(storage, 0, read.reshape(-1), g.reshape(-1))
    own = call(OPS["as_strided"], numbered, size=tuple(base_shape), stride=tuple(base_stride), storage_offset=0,
               base_stride=(1,))
    return indexing.index_select(storage, 0, own.reshape(-1)).reshape(tuple(base_shape))


@public(name="as_strided_", function=True, method=True)
def as_strided_inplace(input, size, stride, storage_offset=None) -> Tensor:
    """In-place ``as_strided``: ``input`` becomes the view (same storage, new sizes and strides).

    Args:
        input: the tensor to change.
        size: the new shape.
        stride: the new strides.
        storage_offset: the new offset into the storage (default: the current one).

    Returns:
        ``input``.

    Raises:
        RuntimeError: as ``as_strided``; also for a leaf that requires grad, as any in-place op.
    """
    if input._rg and input.grad_fn is None and input._base is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    offset = _storage_offset(input) if storage_offset is None else storage_offset
    view = as_strided(_own_storage(input), size, stride, offset)
    _become(input, view)
    if view.grad_fn is not None:
        input.grad_fn, input._output_nr = view.grad_fn, view._output_nr
    return input


@public
def as_strided_copy(input, size, stride, storage_offset=None) -> Tensor:
    """A new tensor holding the values of ``input.as_strided(size, stride, storage_offset)``.

    Args:
        input: the tensor whose storage is read.
        size: the result's shape.
        stride: the strides to read with.
        storage_offset: where to start in the storage (default: ``input.storage_offset()``).

    Returns:
        A contiguous tensor (no memory shared with ``input``), differentiable.
    """
    return creation.clone(as_strided(input, size, stride, storage_offset))


@public(method=True)
def as_strided_scatter(input, src, size, stride, storage_offset=None) -> Tensor:
    """A copy of ``input`` with ``src`` written into the elements ``as_strided(size, stride, storage_offset)``
    of the copy would view.

    Args:
        input: the tensor to copy.
        src: the values to write; its shape must be ``size``.
        size: the view's shape.
        stride: the view's strides.
        storage_offset: the view's offset (default: ``input.storage_offset()``).

    Returns:
        A new tensor of ``input``'s shape, differentiable in ``input`` and ``src``.

    Raises:
        RuntimeError: if ``src``'s shape is not ``size``, or as ``as_strided``.
    """
    size = tuple(int(s) for s in size)
    if tuple(src.shape) != size:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = {list(src.shape)}, "
                           f"slice size = {list(size)}")
    out = creation.clone(input)  # contiguous: its storage is its elements in order
    offset = 0 if storage_offset is None else int(storage_offset)
    as_strided(out, size, stride, offset).copy_(src)
    return out


def _become(t: Tensor, view: Tensor) -> Tensor:
    """Make ``t`` the view ``view`` (its array, base and view chain), keeping ``t``'s identity."""
    t._data, t._base, t._view_fn = view._data, view._base, view._view_fn
    if view._base is not None and view._base._views is not None and \
            not any(v is t for v in view._base._views):  # by identity: tensors' == is elementwise
        from ember.core.views import track_view
        track_view(view._base, t)
    return t


def _own_storage(t: Tensor) -> Tensor:
    """The tensor holding ``t``'s storage; a base first becomes a view of an alias of its own array, so
    that it keeps the whole storage when it shrinks."""
    holder = _storage_holder(t)
    if holder is t and t._base is None:
        alias = make_tensor(t._data, t.dtype, t.device)
        alias._version, alias._views = t._version, t._views
        return alias
    return holder


# ---------------------------------------------------------------- sliding windows
@public(function=False, method=True)
def unfold(self, dimension, size, step) -> Tensor:
    """A view of every window of ``size`` elements, ``step`` apart, along ``dimension``.

    Args:
        dimension: the dimension to slide along (negative counts from the end).
        size: the window length.
        step: the distance between window starts (positive).

    Returns:
        A view with ``dimension`` of length ``(n - size) // step + 1`` and a new last dimension of
        length ``size`` (windows may share elements; their gradients add).

    Raises:
        IndexError: if ``dimension`` is out of range.
        RuntimeError: if ``size`` exceeds the dimension or ``step`` is not positive.
    """
    from ember.core.tensor import wrap_dim
    ndim = self.dim()
    d = wrap_dim(dimension, ndim)
    n = self.shape[d] if ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    strides = list(self.stride())
    if not ndim:
        return as_strided(self, (size,), (1,))
    shape = list(self.shape)
    shape[d] = (n - size) // step + 1
    window_stride = strides[d]
    strides[d] = strides[d] * step
    return as_strided(self, shape + [size], strides + [window_stride])


@public
def unfold_copy(input, dimension, size, step) -> Tensor:
    """A new tensor holding ``input.unfold(dimension, size, step)``.

    Args:
        input: the tensor.
        dimension: the dimension to slide along.
        size: the window length.
        step: the distance between window starts.

    Returns:
        A contiguous tensor, differentiable.
    """
    return creation.clone(unfold(input, dimension, size, step))


# ---------------------------------------------------------------- strided factories
def _strided(size, stride, dtype, device, requires_grad):
    size, stride = as_shape((size,)), tuple(int(s) for s in stride)
    dtype = creation._resolve_dtype(dtype)
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    storage = creation.zeros(_extent(size, stride), dtype=dtype, device=device)
    out = as_strided(storage, size, stride, 0)
    if requires_grad:
        out.requires_grad_(True)
    return out


@public
def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False,
                  pin_memory=False) -> Tensor:
    """A new tensor of shape ``size`` laid out with strides ``stride`` (its elements are zero).

    Args:
        size: the shape.
        stride: the strides, in elements.
        dtype: the element type (default: the default float dtype).
        layout: accepted for PyTorch's signature (``ember.strided``).
        device: where it lives (default: the default device).
        requires_grad: whether autograd records operations on it.
        pin_memory: accepted for PyTorch's signature.

    Returns:
        A tensor whose ``stride()`` is ``stride``.
    """
    return _strided(size, stride, dtype, device, requires_grad)


@public(function=False, method=True)
def new_empty_strided(self, size, stride, *, dtype=None, layout=None, device=None, requires_grad=False,
                      pin_memory=False) -> Tensor:
    """A new tensor of shape ``size`` with strides ``stride``, with this tensor's dtype and device unless given.

    Args:
        size: the shape.
        stride: the strides, in elements.
        dtype: the element type (default: this tensor's).
        layout: accepted for PyTorch's signature.
        device: where it lives (default: this tensor's device).
        requires_grad: whether autograd records operations on it.
        pin_memory: accepted for PyTorch's signature.

    Returns:
        A tensor whose ``stride()`` is ``stride`` (elements zero).
    """
    return _strided(size, stride, dtype or self.dtype, device or self.device, requires_grad)


@public
def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None, requires_grad=False,
                   pin_memory=False) -> Tensor:
    """A new tensor of shape ``size`` whose dimensions lie in memory in the order ``physical_layout``
    (outermost first): ``empty_permuted((2, 3), (1, 0))`` is laid out column-major.

    Args:
        size: the logical shape.
        physical_layout: a permutation of the dimensions, outermost in memory first.
        dtype: the element type (default: the default float dtype).
        layout: accepted for PyTorch's signature.
        device: where it lives (default: the default device).
        requires_grad: whether autograd records operations on it.
        pin_memory: accepted for PyTorch's signature.

    Returns:
        A tensor of shape ``size`` (elements zero).

    Raises:
        RuntimeError: if ``physical_layout`` is not a permutation of the dimensions.
    """
    size, order = as_shape((size,)), tuple(int(d) for d in physical_layout)
    if len(order) != len(size):
        raise RuntimeError(f"Number of dimensions in size does not match the length of the physical_layout; "
                           f"i.e. len(size) = {len(size)} is not equal to len(physical_layout) = {len(order)}")
    if sorted(order) != list(range(len(size))):
        raise RuntimeError("Duplicate dim not allowed" if len(set(order)) < len(order)
                           else f"Dimension out of range: physical_layout {list(order)}")
    stride, step = [0] * len(size), 1
    for d in reversed(order):
        stride[d] = step
        step *= max(size[d], 1)
    return _strided(size, stride, dtype, device, requires_grad)


__all__ = ["as_strided", "as_strided_inplace", "as_strided_copy", "as_strided_scatter", "unfold", "unfold_copy",
           "empty_strided", "new_empty_strided", "empty_permuted", "as_strided_backward"]
