"""Smaller Tensor methods and their ``ember.*`` forms: resizing (``resize_``, ``resize_as_``,
``set_``, ``is_set_to``), ``nonzero_static``, ``slice_inverse``, ``as_subclass``,
``module_load``, ``conj_physical_``, ``is_distributed``, ``multinomial`` as a method, the
autograd attributes ``output_nr`` / ``grad_dtype`` / ``name``, the removed ``volatile`` and
``reinforce``, the device moves for devices ember has no backend for (xpu, ipu, mtia), and
``frombuffer`` / ``from_file``.

Resizing follows PyTorch's storage rules: a tensor resized within its storage becomes a
contiguous view of it (from its storage offset); one resized beyond it gets a larger storage
holding the old elements (then other views of the old storage no longer alias it).
"""
from __future__ import annotations

import warnings

import numpy as np

from ember.core import dtype as dt
from ember.core.autograd import no_grad
from ember.core.call import write_inplace
from ember.core.tensor import Tensor
from ember.ops import complex as cx
from ember.ops import creation, indexing, random
from ember.ops.creation import as_shape
from ember.ops.memory import storage_offset as _storage_offset
from ember.ops.public import public
from ember.ops.strided import _become, _extent, _own_storage, _storage_holder, as_strided

public(random.multinomial, function=False, method=True)  # Tensor.multinomial: the same function


def _contiguous_strides(size):
    strides, step = [], 1
    for n in reversed(size):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


# ---------------------------------------------------------------- resizing
@public(function=False, method=True)
def resize_(self, *sizes, memory_format=None) -> Tensor:
    """Resize the tensor in place to ``sizes`` (contiguous strides, from its storage offset).

    Elements already in the storage keep their values; a tensor that outgrows its storage gets a
    larger one holding the old elements, the new ones zero.

    Args:
        sizes: the new shape (ints, or one sequence).
        memory_format: accepted for PyTorch's signature (the result is contiguous).

    Returns:
        The tensor itself.

    Raises:
        RuntimeError: if the tensor requires grad, or a size is negative.
    """
    size = as_shape(sizes)
    if self._rg:
        raise RuntimeError("cannot resize variables that require grad")
    if any(n < 0 for n in size):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(size)}: {list(size)}")
    offset, stride = _storage_offset(self), _contiguous_strides(size)
    needed = offset + _extent(size, stride)
    holder = _own_storage(self)
    have = _extent(holder.shape, holder.stride())
    if needed > have:  # a larger storage, holding the old one's elements
        with no_grad():
            grown = creation.zeros(needed, dtype=self.dtype, device=self.device)
            if have:
                grown[:have] = as_strided(holder, (have,), (1,), 0)
        holder = grown
    with no_grad():
        return _become(self, as_strided(holder, size, stride, offset))


@public(function=False, method=True)
def resize(self, *sizes) -> Tensor:
    """A reshaped copy of the tensor with the same number of elements (deprecated in PyTorch: use
    ``reshape``); differentiable.

    Args:
        sizes: the new shape.

    Returns:
        A new contiguous tensor.

    Raises:
        RuntimeError: if the number of elements differs.
    """
    warnings.warn("non-inplace resize is deprecated", UserWarning, stacklevel=2)
    size = as_shape(sizes)
    n = 1
    for s in size:
        n *= s
    if n != self.numel():
        raise RuntimeError(f"requested resize to {'x'.join(map(str, size))} ({n} elements in total), but the given "
                           f"tensor has a size of {'x'.join(map(str, self.shape))} ({self.numel()} elements). "
                           f"autograd's resize can only change the shape of a given tensor, while preserving the "
                           f"number of elements. ")
    return creation.clone(self).reshape(size)


@public(function=False, method=True)
def resize_as(self, tensor) -> Tensor:
    """``resize(*tensor.shape)`` (deprecated in PyTorch).

    Args:
        tensor: the tensor whose shape to take.

    Returns:
        A new tensor of ``tensor``'s shape.
    """
    warnings.warn("non-inplace resize_as is deprecated", UserWarning, stacklevel=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return resize(self, tuple(tensor.shape))


@public(name="resize_as_", function=True, method=True)
def resize_as_inplace(input, the_template, *, memory_format=None) -> Tensor:
    """Resize ``input`` in place to ``the_template``'s shape (see ``resize_``).

    Args:
        input: the tensor to resize.
        the_template: the tensor whose shape to take.
        memory_format: accepted for PyTorch's signature.

    Returns:
        ``input``.
    """
    return resize_(input, tuple(the_template.shape))


@public(name="set_", function=False, method=True)
def set_(self, source=None, storage_offset=0, size=None, stride=None) -> Tensor:
    """Make the tensor use another tensor's or storage's memory.

    ``t.set_(other)`` shares ``other``'s storage and geometry; ``t.set_(storage, offset, size,
    stride)`` views ``storage`` (or a tensor's storage) from ``offset`` with that geometry;
    ``t.set_()`` makes ``t`` empty with a storage of its own.

    Args:
        source: a tensor, an ``UntypedStorage``, or None.
        storage_offset: the offset in elements (with ``size``).
        size: the shape (default: the source's, or the storage's length).
        stride: the strides (default: contiguous).

    Returns:
        The tensor itself.

    Raises:
        RuntimeError: if ``source``'s dtype or device differs from the tensor's.
    """
    from ember.ops.memory import UntypedStorage
    if source is None:
        return _become(self, as_strided(creation.zeros(0, dtype=self.dtype, device=self.device), (0,), (1,)))
    holder = source._base if isinstance(source, UntypedStorage) else source
    if holder.dtype is not self.dtype:
        raise RuntimeError(f"Expected object of scalar type {holder.dtype} but got scalar type {self.dtype} "
                           f"for argument 'source'")
    if holder.device != self.device:
        raise RuntimeError(f"Attempted to set the storage of a tensor on device \"{self.device}\" to a storage on "
                           f"different device \"{holder.device}\".  This is no longer allowed; the devices must "
                           f"match.")
    if isinstance(source, Tensor) and size is None:
        view = as_strided(source, tuple(source.shape), tuple(source.stride()), _storage_offset(source))
    else:
        if size is None:
            size = (_extent(holder.shape, holder.stride()) - storage_offset,)
        size = tuple(size)
        view = as_strided(holder, size, _contiguous_strides(size) if stride is None else tuple(stride),
                          storage_offset)
    if self._rg and self.grad_fn is None and view.grad_fn is None:
        view.requires_grad_(True)
    _become(self, view)
    if view.grad_fn is not None:
        self.grad_fn, self._rg = view.grad_fn, True
    return self


def _storage_of(t: Tensor):
    holder = _storage_holder(t)
    return holder if holder._base is None else holder._base


@public(function=False, method=True)
def is_set_to(self, tensor) -> bool:
    """Whether both tensors use the same storage with the same offset, sizes and strides.

    Args:
        tensor: the other tensor.

    Returns:
        A bool.
    """
    if self.device != tensor.device or self.dtype is not tensor.dtype:
        return False
    same = _storage_of(self) is _storage_of(tensor)
    if not same and getattr(self._data, "__array_interface__", None) is not None:  # numpy: same memory?
        same = self.data_ptr() - _storage_offset(self) * self.dtype.itemsize == \
            tensor.data_ptr() - _storage_offset(tensor) * tensor.dtype.itemsize
    return bool(same and _storage_offset(self) == _storage_offset(tensor) and self.shape == tensor.shape
                and self.stride() == tensor.stride())


# ---------------------------------------------------------------- indices, views
@public(method=True)
def nonzero_static(input, *, size, fill_value=-1) -> Tensor:
    """The indices of the non-zero elements, as ``nonzero``, in a result of exactly ``size`` rows:
    truncated, or padded with rows of ``fill_value``.

    Args:
        input: the tensor.
        size: the number of rows of the result.
        fill_value: the padding value (default -1).

    Returns:
        An int64 tensor of shape ``(size, input.dim())``.

    Raises:
        RuntimeError: if ``size`` is negative.
    """
    if size < 0:
        raise RuntimeError(f"nonzero_static: 'size' must be an non-negative integer, got {size}")
    found = indexing.nonzero(input)
    n = found.shape[0]
    if n >= size:
        return found[:size].clone()
    pad = creation.full((size - n, found.shape[1]), fill_value, dtype=dt.int64, device=input.device)
    from ember.ops.shape import cat
    return cat([found, pad], 0)


@public(method=True)
def slice_inverse(input, src, dim=0, start=None, end=None, step=1) -> Tensor:
    """The inverse of slicing for a view ``input`` of ``src``: a view of ``input``'s storage with
    ``src``'s sizes, strides and offset (the tensor ``input`` was sliced from).

    Args:
        input: the slice (a view).
        src: the tensor of the geometry to take.
        dim: the sliced dimension (it names the slice; the geometry is ``src``'s).
        start: the slice's start.
        end: the slice's end.
        step: the slice's step.

    Returns:
        A view sharing ``input``'s storage.
    """
    return as_strided(input, tuple(src.shape), tuple(src.stride()), _storage_offset(src))


@public(function=False, method=True)
def as_subclass(self, cls):
    """The same tensor as an instance of ``cls`` (a subclass of ``ember.Tensor``): it shares the
    memory and the autograd history.

    Args:
        cls: the Tensor subclass.

    Returns:
        An instance of ``cls``: a view of this tensor (gradients flow back to it).

    Raises:
        TypeError: if ``cls`` is not a subclass of ``ember.Tensor``.
    """
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError(f"as_subclass: expected a subclass of Tensor, got {cls!r}")
    from ember.core.call import call
    from ember.dispatch.ops import OPS
    alias = call(OPS["view"], self, shape=tuple(self.shape))  # a view: shares memory, grads reach self
    out = object.__new__(cls)
    for slot in ("_data", "dtype", "device", "_rg", "grad", "grad_fn", "_output_nr", "_base", "_view_fn",
                 "_views", "_hooks", "_retains_grad", "_version"):
        setattr(out, slot, getattr(alias, slot))
    if out._base is not None and out._base._views is not None:
        from ember.core.views import track_view
        track_view(out._base, out)
    return out


@public(function=False, method=True)
def module_load(self, other, assign=False):
    """How ``nn.Module.load_state_dict`` loads ``other`` into this parameter or buffer.

    Args:
        other: the loaded value.
        assign: whether the module takes ``other`` itself instead of copying it in.

    Returns:
        ``other`` detached when ``assign``; else this tensor, with ``other`` copied in, detached.
    """
    if assign:
        return other.detach()
    return self.copy_(other).detach()


@public(name="conj_physical_", method=True)
def conj_physical_inplace(input) -> Tensor:
    """Conjugate a complex tensor in place (a real tensor is left as it is).

    Args:
        input: the tensor.

    Returns:
        ``input``.
    """
    if input.dtype.is_complex:
        write_inplace(input, cx.conj_physical(creation.clone(input) if input._rg else input))
    return input


@public(method=True)
def is_distributed(input) -> bool:
    """Whether the tensor is a distributed one: never, in ember (as for PyTorch's dense tensors).

    Args:
        input: the tensor.

    Returns:
        False.
    """
    return False


# ---------------------------------------------------------------- autograd attributes
@public(name="output_nr", function=False, method=True)
@property
def _output_nr(self) -> int:
    """Which output of the operation that made this tensor it is (0 for a leaf or a single output)."""
    return self._output_nr


@public(name="grad_dtype", function=False, method=True)
@property
def _grad_dtype(self):
    """The dtype of this tensor's gradients: its own dtype."""
    return self.dtype


@public(name="name", function=False, method=True)
@property
def _name(self):
    """The tensor's name: None (ember has no named tensors)."""
    return None


@public(name="volatile", function=False, method=True)
@property
def _volatile(self) -> bool:
    """Removed in PyTorch: always False, with PyTorch's warning."""
    warnings.warn("volatile was removed (Variable.volatile is always False)", UserWarning, stacklevel=2)
    return False


@public(function=False, method=True)
def reinforce(self, reward):
    """Removed in PyTorch: raises, pointing to ``ember.distributions``.

    Args:
        reward: ignored.

    Raises:
        RuntimeError: always.
    """
    raise RuntimeError("reinforce() was removed.\nUse ember.distributions instead: sample from "
                       "Categorical(probs) and minimize -m.log_prob(action) * reward.")


def _absent_device(kind, error):
    def move(self, device=None, non_blocking=False, memory_format=None):
        raise error(f"ember has no {kind} backend (Torch not compiled with {kind} enabled)")
    move.__name__ = move.__qualname__ = kind.lower()
    move.__doc__ = (f"Move the tensor to an {kind} device: ember has no {kind} backend, so it raises as PyTorch "
                    f"built without one.\n\n    Raises:\n        {error.__name__}: always.\n    ")
    return move


xpu = public(_absent_device("XPU", AssertionError), name="xpu", function=False, method=True)
ipu = public(_absent_device("IPU", RuntimeError), name="ipu", function=False, method=True)
mtia = public(_absent_device("MTIA", AssertionError), name="mtia", function=False, method=True)


# ---------------------------------------------------------------- tensors over existing memory
@public
def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False) -> Tensor:
    """A 1-d CPU tensor over the memory of an object with the buffer protocol (no copy: writes go
    to the buffer).

    Args:
        buffer: a bytes-like object (bytearray, memoryview, array.array, mmap ...).
        dtype: the element type.
        count: how many elements to read (-1: all after ``offset``).
        offset: how many bytes to skip.
        requires_grad: whether autograd records operations on the result.

    Returns:
        A tensor sharing the buffer's memory (a read-only buffer gives PyTorch's warning, and writes
        to the tensor then raise).

    Raises:
        ValueError: if the buffer, count or offset do not fit each other.
    """
    view = memoryview(buffer).cast("B")
    length, item = view.nbytes, dtype.itemsize
    if length == 0 or count == 0:
        raise ValueError(f"both buffer length ({length}) and count ({count}) must not be 0")
    if not 0 <= offset < length:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than buffer length "
                         f"({length} bytes) minus 1")
    if count < 0:
        if (length - offset) % item:
            raise ValueError(f"buffer length ({length - offset} bytes) after offset ({offset} bytes) must be a "
                             f"multiple of element size ({item})")
        count = (length - offset) // item
    elif count * item > length - offset:
        raise ValueError(f"requested buffer length ({count} * {item} bytes) after offset ({offset} bytes) must "
                         f"not be greater than actual buffer length ({length} bytes)")
    if view.readonly:
        warnings.warn("The given buffer is not writable, and ember does not support non-writable tensors: "
                      "writing to the tensor will raise.", UserWarning, stacklevel=2)
    array = np.frombuffer(view, dtype=dtype.numpy, count=count, offset=offset)
    out = creation.from_numpy(array)
    if requires_grad:
        out.requires_grad_(True)
    return out


@public
def from_file(filename, shared=None, size=0, *, dtype=None, layout=None, device=None, pin_memory=False) -> Tensor:
    """A 1-d tensor of ``size`` elements read from a file.

    Args:
        filename: the file's path.
        shared: True to map the file (writes to the tensor go to the file, which grows to fit);
            False/None to read a private copy.
        size: the number of elements (0: none).
        dtype: the element type (default: the default float dtype).
        layout: accepted for PyTorch's signature.
        device: where the result lives (a non-CPU device gets a copy; default: the CPU).
        pin_memory: accepted for PyTorch's signature.

    Returns:
        A tensor of ``size`` elements.

    Raises:
        RuntimeError: if the file cannot be opened, or (not shared) is smaller than the elements asked for.
    """
    import os
    dtype = creation._resolve_dtype(dtype)
    nbytes = size * dtype.itemsize
    mode = "r+b" if shared else "rb"
    try:
        handle = open(filename, mode)
    except OSError as e:
        raise RuntimeError(f"unable to open file <{filename}> in {'read-write' if shared else 'read-only'} mode: "
                           f"{e.strerror} ({e.errno})") from None
    with handle:
        have = os.fstat(handle.fileno()).st_size
        if nbytes > have:
            if not shared:
                raise RuntimeError(f"file <{filename}> size <{have}> is smaller than the required mapping size "
                                   f"<{nbytes}>")
            handle.truncate(nbytes)
        if size == 0:
            array = np.zeros(0, dtype.numpy)
        elif shared:
            array = np.memmap(handle, dtype=dtype.numpy, mode="r+", shape=(size,))
        else:
            array = np.fromfile(handle, dtype=dtype.numpy, count=size)
    out = creation.from_numpy(np.asarray(array) if not shared else array)
    return out if device is None else out.to(device)
