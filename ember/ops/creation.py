"""Tensor creation, conversion between dtypes and devices, and host interop."""
from __future__ import annotations

import numbers

import numpy as np

from ember.core import dtype as dt
from ember.core.call import backend_of, call, cast
from ember.core.device import as_device
from ember.core.device import device as Device
from ember.core.tensor import Tensor, make_tensor
from ember.core.transfer import (CPU, canonical_device, check_dtype_supported, create, from_host,
                                 record_transfer, to_device, to_numpy)
from ember.dispatch.ops import OPS
from ember.ops.public import public

def as_shape(size) -> tuple:
    """A shape from the forms PyTorch accepts: f(2, 3), f((2, 3)), f([2, 3]), f(ember.Size)."""
    if len(size) == 1 and not isinstance(size[0], int):
        size = size[0]
        if isinstance(size, Tensor):
            size = size.tolist()
    return tuple(int(s) for s in size)


def ntuple(value, n, name) -> tuple:
    """``value`` as a tuple of ``n`` ints (an int or a 1-element sequence is repeated), as
    kernel_size / stride / padding arguments are given; ``name`` is used in the error."""
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} values, "
                           f"but got {name}={list(value)}")
    return value


def _resolve_dtype(dtype, default=None):
    if dtype is None:
        return default or dt.get_default_dtype()
    if isinstance(dtype, dt.dtype):
        return dtype
    if dtype is float:  # Python's types name PyTorch's 64-bit dtypes
        return dt.float64
    if dtype is int:
        return dt.int64
    if dtype is bool:
        return dt.bool_
    return dt.from_numpy_dtype(dtype)


# ---------------------------------------------------------------- from data
def _infer_numpy(data):
    if isinstance(data, Tensor):
        return to_numpy(data.detach())
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
        return np.array([_infer_numpy(x) for x in data])
    arr = np.asarray(data)
    if isinstance(data, np.ndarray) or isinstance(data, np.generic):
        return arr
    if arr.dtype.kind == "f":
        return arr.astype(dt.get_default_dtype().numpy)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "b":
        return arr
    if arr.dtype == object:
        raise TypeError(f"could not infer a dtype from {type(data).__name__} data")
    return arr


@public
def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    arr = _infer_numpy(data)
    if dtype is not None:
        arr = arr.astype(_resolve_dtype(dtype).numpy)
    elif arr.dtype.kind not in "biuf" or np.dtype(arr.dtype) not in dt._BY_NUMPY:
        if arr.dtype.kind == "f":
            arr = arr.astype(np.float64)
        dt.from_numpy_dtype(arr.dtype)  # raises a TypeError naming the numpy dtype
    # np.ascontiguousarray would turn a 0-d array into a 1-d one
    out = from_host(np.asarray(arr, order="C"), device, requires_grad)
    return _pin_tensor(out) if pin_memory else out


@public(aliases=("asarray",))
def as_tensor(data, dtype=None, device=None) -> Tensor:
    if isinstance(data, Tensor):
        out = data
        if dtype is not None and _resolve_dtype(dtype) is not out.dtype:
            out = out.to(_resolve_dtype(dtype))
        if device is not None and canonical_device(device) != out.device:
            out = to_device(out, device)
        return out
    if isinstance(data, np.ndarray) and (device is None or canonical_device(device) is CPU) and (
            dtype is None or _resolve_dtype(dtype).numpy == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


@public
def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with ``array``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return make_tensor(array, dt.from_numpy_dtype(array.dtype), CPU)


@public
def from_dlpack(obj) -> Tensor:
    if isinstance(obj, Tensor):
        return obj
    return from_numpy(np.from_dlpack(obj))


# ---------------------------------------------------------------- filled tensors
@public
def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None, out=None) -> Tensor:
    if dtype is None:
        dtype = dt.scalar_dtype(fill_value) if not isinstance(fill_value, bool) else dt.bool_
    dtype = _resolve_dtype(dtype)
    return create("full", device, requires_grad, shape=as_shape((size,)), value=fill_value, dtype=dtype)


@public
def zeros(*shape, size=None, dtype=None, device=None, requires_grad=False, layout=None, out=None) -> Tensor:
    shape = as_shape(shape if size is None else (size,))  # zeros(2, 3), zeros((2, 3)), zeros(size=(2, 3))
    return create("full", device, requires_grad, shape=shape, value=0, dtype=_resolve_dtype(dtype))


@public
def ones(*shape, size=None, dtype=None, device=None, requires_grad=False, layout=None, out=None) -> Tensor:
    shape = as_shape(shape if size is None else (size,))
    return create("full", device, requires_grad, shape=shape, value=1, dtype=_resolve_dtype(dtype))


@public
def empty(*shape, size=None, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False,
          memory_format=None, out=None) -> Tensor:
    result = zeros(*shape, size=size, dtype=dtype, device=device, requires_grad=requires_grad)
    return _pin_tensor(result) if pin_memory else result


def _like(t, dtype, device):
    return (_resolve_dtype(dtype) if dtype is not None else t.dtype,
            t.device if device is None else device)


@public
def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return create("full", device, requires_grad, shape=input._data.shape, value=0, dtype=dtype)


@public
def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return create("full", device, requires_grad, shape=input._data.shape, value=1, dtype=dtype)


@public
def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return create("full", device, requires_grad, shape=input._data.shape, value=fill_value, dtype=dtype)


@public
def empty_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    return zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


@public(function=False, method=True)
def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


@public(function=False, method=True)
def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return zeros(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


@public(function=False, method=True)
def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return ones(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


@public(function=False, method=True)
def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                requires_grad=requires_grad)


@public(function=False, method=True)
def new_empty(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return new_zeros(self, *size, dtype=dtype, device=device, requires_grad=requires_grad)


@public
def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    if end is None:
        start, end = 0, start
    values = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = values
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"upper bound and larger bound inconsistent with step sign: "
                           f"start={start}, end={end}, step={step}")
    if dtype is None:
        dtype = dt.get_default_dtype() if any(isinstance(v, float) for v in values) else dt.int64
    return create("arange", device, requires_grad, start=start, end=end, step=step, dtype=_resolve_dtype(dtype))


@public
def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    if steps < 0:
        raise RuntimeError(f"number of steps must be non-negative, got {steps}")
    dtype = _resolve_dtype(dtype)
    if steps == 1:
        return full((1,), start, dtype=dtype, device=device, requires_grad=requires_grad)
    idx = create("arange", device, start=0, end=steps, step=1, dtype=dt.float64)
    step = (end - start) / max(steps - 1, 1)
    # fill from both ends so the last element is exactly ``end``, as PyTorch does
    half = steps // 2
    from ember.ops.elementwise import where
    values = where(idx < half, start + step * idx, end - step * (steps - 1 - idx))
    out = values.to(dtype)
    return out.requires_grad_(True) if requires_grad else out


@public
def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    exps = linspace(start, end, steps, dtype=dt.float64, device=device)
    out = (base ** exps).to(_resolve_dtype(dtype))
    return out.requires_grad_(True) if requires_grad else out


@public
def eye(n, m=None, *, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    m = n if m is None else m
    rows = arange(n, device=device).view(n, 1)
    cols = arange(m, device=device).view(1, m)
    out = (rows == cols).to(_resolve_dtype(dtype))
    return out.requires_grad_(True) if requires_grad else out


# ---------------------------------------------------------------- dtype and device conversion
def _parse_to(args, kwargs):
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, dt.dtype) or a in (float, int, bool):
            dtype = a
        elif isinstance(a, (str, Device, int)):
            device = a
        elif isinstance(a, bool):
            continue
        else:
            raise TypeError(f"to() received an invalid combination of arguments: {a!r}")
    return dtype, device, copy


@public(function=False, method=True)
def to(self, *args, **kwargs) -> Tensor:
    non_blocking = bool(kwargs.get("non_blocking", False))
    dtype, device, copy = _parse_to(args, dict(kwargs))
    out = self
    if device is not None:
        out = to_device(out, device, non_blocking)
    if dtype is not None:
        out = cast(out, _resolve_dtype(dtype))
    if copy and out is self:
        out = self.clone()
    return out


@public(function=False, method=True)
def cpu(self) -> Tensor:
    return to_device(self, CPU)


@public(function=False, method=True)
def cuda(self, device=None, non_blocking=False) -> Tensor:
    return to_device(self, "cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device),
                     non_blocking)


# ---------------------------------------------------------------- page-locked (pinned) host memory
def _pinning_backend(device):
    """The accelerator backend whose pinned memory is meant (PyTorch's default: cuda)."""
    return backend_of("cuda" if device is None else as_device(device).type)


def _pin_tensor(t: Tensor, device=None) -> Tensor:
    if t.device.type != "cpu":
        raise RuntimeError(f"cannot pin '{t.device}' memory: only CPU tensors can be pinned")
    backend = _pinning_backend(device)
    if backend.is_pinned(t._data):
        return t
    return record_transfer(make_tensor(backend.pin(np.asarray(t._data, order="C")), t.dtype, CPU), t)


@public(function=False, method=True)
def pin_memory(self, device=None) -> Tensor:
    """A copy of this CPU tensor in page-locked memory, from which copies to ``device``
    (default ``cuda``) can be asynchronous (``.to(device, non_blocking=True)``)."""
    return _pin_tensor(self, device)


@public(function=False, method=True)
def is_pinned(self, device=None) -> bool:
    if self.device.type != "cpu":
        return False
    try:
        backend = _pinning_backend(device)
    except RuntimeError:  # no such accelerator here: nothing can be pinned for it
        return False
    return backend.is_pinned(self._data)


@public(name="float", function=False, method=True)
def float_(self) -> Tensor:
    return cast(self, dt.float32)


@public(function=False, method=True)
def double(self) -> Tensor:
    return cast(self, dt.float64)


@public(function=False, method=True)
def half(self) -> Tensor:
    return cast(self, dt.float16)


@public(function=False, method=True)
def bfloat16(self) -> Tensor:
    return cast(self, dt.bfloat16)


@public(function=False, method=True)
def long(self) -> Tensor:
    return cast(self, dt.int64)


@public(name="int", function=False, method=True)
def int_(self) -> Tensor:
    return cast(self, dt.int32)


@public(function=False, method=True)
def short(self) -> Tensor:
    return cast(self, dt.int16)


@public(function=False, method=True)
def char(self) -> Tensor:
    return cast(self, dt.int8)


@public(function=False, method=True)
def byte(self) -> Tensor:
    return cast(self, dt.uint8)


@public(name="bool", function=False, method=True)
def bool_(self) -> Tensor:
    return cast(self, dt.bool_)


@public(function=False, method=True)
def type_as(self, other: Tensor) -> Tensor:
    return cast(self, other.dtype)


@public(name="type", function=False, method=True)
def type_(self, dtype=None):
    if dtype is None:
        return f"ember.{self.dtype.name}"
    return cast(self, _resolve_dtype(dtype))


# ---------------------------------------------------------------- copies and aliases
@public(method=True)
def clone(input: Tensor, *, memory_format=None) -> Tensor:
    return call(OPS["clone"], input)


@public(function=False, method=True)
def contiguous(self, memory_format=None) -> Tensor:
    return self if is_contiguous(self) else call(OPS["clone"], self)


@public(function=False, method=True)
def is_contiguous(self, memory_format=None) -> bool:
    data = self._data
    flags = getattr(data, "flags", None)
    return True if flags is None else bool(flags.c_contiguous)


@public(function=False, method=True)
def detach(self) -> Tensor:
    out = _memory_alias(self)
    from ember.core.tensor import version_counter
    out._version = version_counter(self)
    return out


def _memory_alias(self) -> Tensor:
    """A graph-free tensor sharing ``self``'s memory (detach, .data).

    Where arrays alias, sharing the native array is enough. Where they cannot, the alias
    is linked to the base like a view whose last step is an identity marked detached, so
    writes propagate but autograd does not treat it as a view.
    """
    out = make_tensor(self._data, self.dtype, self.device)
    if not backend_of(self.device.type).aliasing_views:
        from ember.core.call import link_detached_alias
        link_detached_alias(out, self)
    return out


@public(function=False, method=True)
def detach_(self) -> Tensor:
    self.grad_fn = None
    self._rg = False
    return self


def _get_data(self) -> Tensor:
    return _memory_alias(self)


def _set_data(self, value: Tensor):
    self._data, self.dtype, self.device = value._data, value.dtype, value.device


public(property(_get_data, _set_data, doc="The tensor's values without its autograd history (shares memory)."),
       name="data", function=False, method=True)


@public(function=False, method=True)
def numpy(self, *, force=False) -> np.ndarray:
    if self._rg and not force:
        raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
    if self.device.type != "cpu" and not force:
        raise TypeError(f"can't convert {self.device} device type tensor to numpy. "
                        f"Use Tensor.cpu() to copy the tensor to host memory first.")
    return to_numpy(self)


@public(function=False, method=True)
def item(self):
    n = self.numel()
    if n != 1:
        raise RuntimeError(f"a Tensor with {n} elements cannot be converted to Scalar")
    value = to_numpy(self).reshape(()).item() if self.device.type != "cpu" else self._data.item()
    if self.dtype is dt.bfloat16:
        value = float(value)
    return value


@public(function=False, method=True)
def tolist(self):
    arr = to_numpy(self)
    if self.dtype is dt.bfloat16:
        arr = arr.astype(np.float32)
    return arr.tolist()


@public(function=False, method=True)
def __array__(self, dtype=None, copy=None):
    arr = numpy(self) if self.device.type == "cpu" else to_numpy(self)
    return arr if dtype is None else arr.astype(dtype)


@public(function=False, method=True)
def __dlpack__(self, stream=None, **kwargs):
    if self._rg:
        raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
    return self._data.__dlpack__(**({} if stream is None else {"stream": stream}), **kwargs)


@public(function=False, method=True)
def __dlpack_device__(self):
    return self._data.__dlpack_device__()


@public(function=False, method=True)
def __float__(self):
    return float(item(self))


@public(function=False, method=True)
def __int__(self):
    return int(item(self))


@public(function=False, method=True)
def __index__(self):
    if self.dtype.is_floating_point or self.dtype is dt.bool_ or self.numel() != 1:
        raise TypeError("only integer tensors of a single element can be converted to an index")
    return int(item(self))


@public
def is_floating_point(input: Tensor) -> bool:
    return input.dtype.is_floating_point


@public
def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


@public
def numel(input: Tensor) -> int:
    return input.numel()


def _legacy_new(cls, *args, dtype=None, device=None, requires_grad=False):
    """``ember.Tensor(2, 3)`` (uninitialised float) and ``ember.Tensor([1, 2])`` (from data)."""
    if args and all(isinstance(a, numbers.Integral) for a in args):
        t = zeros(*args, dtype=dtype, device=device)
    elif len(args) == 1:
        t = tensor(args[0], dtype=dtype or dt.get_default_dtype(), device=device)
    elif not args:
        t = zeros(0, dtype=dtype, device=device)
    else:
        raise TypeError(f"Tensor() got an invalid combination of arguments: {args}")
    if cls is not Tensor:
        t = _rewrap(cls, t)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rewrap(cls, t: Tensor):
    out = object.__new__(cls)
    for slot in Tensor.__slots__:
        if slot != "__weakref__":
            setattr(out, slot, getattr(t, slot))
    return out
