"""Tensor creation, conversion between dtypes and devices, and host interop."""
from __future__ import annotations

import numbers

import numpy as np

from ember.core import dtype as dt
from ember.core.call import backend_of, call, cast as _cast
from ember.core.device import as_device
from ember.core.device import device as Device
from ember.core.tensor import Tensor, make_tensor
from ember.core.info import finfo
from ember.core.transfer import (CPU, canonical_device, check_dtype_supported, create, from_host,
                                 record_transfer, to_device, to_numpy)
from ember.dispatch.ops import OPS
from ember.dispatch.tracing import host_read, recorded
from ember.ops.public import public
from ember.core import flags as _flags

_WARNED = {"complex_to_real": False}  # PyTorch warns once per process (every time under set_warn_always)


def cast(t: Tensor, dtype) -> Tensor:
    """``t`` as ``dtype`` (``t`` itself when it already is one); complex to real keeps the real part,
    with PyTorch's one-time warning."""
    if t.dtype.is_complex and not dtype.is_complex and (
            not _WARNED["complex_to_real"] or _flags.is_warn_always_enabled()):
        import warnings
        _WARNED["complex_to_real"] = True
        warnings.warn("Casting complex values to real discards the imaginary part", UserWarning, stacklevel=3)
    if dtype in _LIMITED and t.device.type != "cpu":  # float8 off the CPU: the backend's TypeError
        check_dtype_supported(dtype, t.device)
    return _cast(t, dtype)


_LIMITED = frozenset(dt.LIMITED_DTYPES)


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
    if isinstance(value, numbers.Integral) or (isinstance(value, Tensor) and value.ndim == 0
                                                and value.dtype.category < dt.FLOAT):
        return (int(value),) * n  # PyTorch's int-list arguments take a 0-d integer tensor as one int
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
    if isinstance(dtype, (str, numbers.Number)):
        # PyTorch takes dtype objects only (numpy dtypes are ember's own convenience)
        raise TypeError(f"argument 'dtype' must be ember.dtype, not {type(dtype).__name__}")
    return dt.from_numpy_dtype(dtype)


# ---------------------------------------------------------------- from data
def _element_dtype(x):
    """The dtype one element of nested data contributes, as PyTorch infers it: tensors and numpy
    scalars their own, Python numbers the default ones; PyTorch's errors for anything else."""
    if isinstance(x, Tensor):
        if x.numel() != 1:  # PyTorch converts each element to a number: its errors say so
            if x.dtype.is_floating_point:
                raise ValueError("only one element tensors can be converted to Python scalars")
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return x.dtype
    if isinstance(x, np.generic):
        return dt.from_numpy_dtype(x.dtype)
    if isinstance(x, bool):
        return dt.bool_
    if isinstance(x, numbers.Integral):
        return dt.int64
    if isinstance(x, numbers.Real):
        return dt.get_default_dtype()
    if isinstance(x, numbers.Complex):
        return dt.default_complex_dtype()
    if isinstance(x, str):
        raise TypeError(f"new(): invalid data type '{type(x).__name__}'")
    raise RuntimeError(f"Could not infer dtype of {type(x).__name__}")


def _plain(data):
    """``data`` (numbers, lists, tuples, one-element tensors) as nested lists of Python numbers,
    and the dtype PyTorch infers for it."""
    found = None
    if isinstance(data, np.ndarray):  # an array inside a list: its values, in its dtype
        if data.ndim == 0:
            raise TypeError("len() of unsized object")
        return data.tolist(), dt.from_numpy_dtype(data.dtype)
    if isinstance(data, (list, tuple, range)):
        out = []
        for x in data:
            value, d = _plain(x)
            out.append(value)
            found = d if found is None else dt.promote_types(found, d) if d is not None else found
        return out, found
    d = _element_dtype(data)
    return (data.item() if isinstance(data, (Tensor, np.generic)) else data), d


def _fits(values: np.ndarray, dtype) -> bool:
    """Whether integers ``values`` convert to integer ``dtype`` as PyTorch allows: within the
    dtype's range, and for unsigned dtypes negative values down to ``-max`` (they wrap)."""
    info = np.iinfo(dtype.numpy)
    low = -int(info.max) if info.min == 0 else int(info.min)
    return not values.size or (int(values.min()) >= low and int(values.max()) <= int(info.max))


def _from_data(data, dtype):
    """(numpy array, its ember dtype) for ``ember.tensor(data, dtype=...)``, with PyTorch's
    inference and its errors for values a dtype cannot hold."""
    if isinstance(data, Tensor):
        arr = to_numpy(data.detach())
        return (arr, data.dtype) if dtype is None else (arr.astype(dtype.numpy), dtype)
    if isinstance(data, (np.ndarray, np.generic)):
        arr = np.asarray(data)
        if dtype is not None:
            return arr.astype(dtype.numpy), dtype
        if arr.dtype.kind == "f" and np.dtype(arr.dtype) not in dt._BY_NUMPY:
            arr = arr.astype(np.float64)  # float128 and friends: the widest float ember has
        return arr, dt.from_numpy_dtype(arr.dtype)  # raises a TypeError naming an unknown numpy dtype
    plain, inferred = _plain(data)
    inferred = inferred or dt.get_default_dtype()  # an empty list
    target = dtype or inferred
    if inferred.category == dt.INT:
        try:
            arr = np.array(plain, dtype=np.int64)
        except OverflowError:
            if dtype is dt.uint64:  # beyond int64: uint64 holds up to 2**64 - 1
                try:
                    return np.array(plain, dtype=np.uint64), dtype
                except OverflowError:
                    pass
            if dtype is None or dtype.category != dt.FLOAT:
                raise (ValueError("Overflow when unpacking long long") if dtype is None else
                       RuntimeError(f"value cannot be converted to type {target.name} without overflow")) from None
            arr = np.array(plain, dtype=np.float64)
    elif inferred.category == dt.COMPLEX:
        if target.category != dt.COMPLEX:  # PyTorch converts each element: complex to real is refused
            raise TypeError("must be real number, not complex" if target.category == dt.FLOAT else
                            "'complex' object cannot be interpreted as an integer")
        arr = np.array(plain, dtype=np.complex128)
    else:
        arr = np.array(plain, dtype=np.float64 if inferred.category == dt.FLOAT else np.bool_)
    if target.category == dt.INT and target is not dt.int64 or (target is dt.int64 and arr.dtype.kind == "f"):
        whole = np.trunc(arr) if arr.dtype.kind == "f" else arr
        if arr.dtype.kind == "f" and not np.isfinite(arr).all() or not _fits(whole, target):
            raise RuntimeError(f"value cannot be converted to type {target.name} without overflow")
        return whole.astype(np.int64).astype(target.numpy), target
    if target._ops is not None:  # float8 (PyTorch's rounding and saturation), float4 (refused)
        return dt.limited_cast(arr, target.numpy, target.name), target
    with np.errstate(over="ignore"):  # a float beyond the dtype's range becomes inf, as in PyTorch
        return arr.astype(target.numpy), target


@public
def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """A new tensor holding a copy of ``data``.

    Args:
        data: a Python number, a (nested) list or tuple of numbers or tensors, a numpy array
            or scalar, or a tensor (its values are copied, without autograd history).
        dtype: the result's dtype: an ``ember.dtype``, a numpy dtype, or Python's ``float``, ``int``
            or ``bool`` (meaning ``float64``, ``int64``, ``bool``). By default it is inferred:
            ``bool`` for booleans, ``int64`` for Python ints,
            ``ember.get_default_dtype()`` for Python floats, its complex counterpart (``complex64``)
            for Python complex numbers, and the array's own dtype for numpy data and tensors.
        device: where the result lives (default: the CPU).
        requires_grad: whether autograd records operations on the result (floating and complex dtypes
            only).
        pin_memory: put the result in page-locked host memory (CPU results only).

    Returns:
        A new leaf tensor.

    Raises:
        TypeError: if ``data`` holds strings or tensors of several elements, or a numpy dtype
            with no ember equivalent.
        ValueError: for ragged nested lists, or Python ints beyond int64.
        RuntimeError: if no dtype can be inferred from an element (None, a dict, ...); a value
            ``dtype`` cannot hold; ``requires_grad`` with a dtype that is not floating point;
            ``pin_memory`` when the result is not on the CPU or no CUDA backend is available.
    """
    arr, _ = _from_data(data, None if dtype is None else _resolve_dtype(dtype))
    # np.ascontiguousarray would turn a 0-d array into a 1-d one
    out = from_host(np.asarray(arr, order="C"), device, requires_grad)
    return _pin_tensor(out) if pin_memory else out


@public(aliases=("asarray",))
def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, avoiding a copy where possible; ``asarray`` is another name.

    A tensor already of the requested dtype and device is returned itself (otherwise it is
    converted as by ``Tensor.to``, keeping its autograd history); a numpy array that needs no
    conversion and goes to the CPU is wrapped without a copy, sharing its memory. Other data
    is copied as by ``ember.tensor``.

    Args:
        data: a tensor, a numpy array, or anything ``ember.tensor`` accepts.
        dtype: the result's dtype (default: ``data``'s own, or the one ``ember.tensor`` infers).
        device: where the result lives (default: a tensor's own device, else the CPU).

    Returns:
        A tensor, possibly ``data`` itself or sharing memory with it.
    """
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
    """A CPU tensor sharing memory with a numpy array: writes to either are seen by the other.

    Args:
        array: a numpy array of a dtype ember has (bool, uint8, int8/16/32/64, float16/32/64,
            bfloat16).

    Returns:
        A CPU tensor of ``array``'s shape and dtype.

    Raises:
        TypeError: if ``array`` is not a numpy array or its dtype has no ember equivalent.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return make_tensor(array, dt.from_numpy_dtype(array.dtype), CPU)


@public
def from_dlpack(obj) -> Tensor:
    """A tensor sharing memory with an object that supports the DLPack protocol.

    Args:
        obj: an ember tensor (returned itself) or a host-memory array with ``__dlpack__``,
            such as a numpy array; it is imported through ``numpy.from_dlpack``.

    Returns:
        A CPU tensor sharing ``obj``'s memory, or ``obj`` itself if it is an ember tensor.
    """
    if isinstance(obj, Tensor):
        return obj
    return from_numpy(np.from_dlpack(obj))


# ---------------------------------------------------------------- filled tensors
@public(out=True)
def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None) -> Tensor:
    """A tensor of the given shape with every element set to ``fill_value``.

    Args:
        size: the shape, a sequence of ints (or an ``ember.Size``).
        fill_value: the value (a Python number).
        dtype: the result's dtype (default: from ``fill_value``: ``bool`` for a bool, ``int64``
            for an int, ``ember.get_default_dtype()`` for a float).
        device: where the result lives (default: the CPU).
        requires_grad: whether autograd records operations on the result.
        layout: ``ember.strided`` (default); sparse layouts are refused, as in PyTorch.

    Returns:
        A new tensor of shape ``size``.

    Raises:
        RuntimeError: if a size is negative, or ``layout`` is sparse.
    """
    if layout is not None and layout.name != "strided":
        raise RuntimeError("full(...) is not implemented for sparse layout")
    if dtype is None:
        dtype = dt.scalar_dtype(fill_value) if not isinstance(fill_value, bool) else dt.bool_
    dtype = _resolve_dtype(dtype)
    if isinstance(size, numbers.Integral):
        raise TypeError(f"full(): argument 'size' (position 1) must be tuple of ints, not {type(size).__name__}")
    return create("full", device, requires_grad, shape=as_shape((size,)), value=fill_scalar(fill_value, dtype),
                  dtype=dtype)


def fill_scalar(value, dtype):
    """``value`` as a fill value of ``dtype``, with PyTorch's rules: a float into an integer
    dtype is truncated; a value outside the dtype's range raises (negative values wrap
    into an unsigned dtype down to ``-max``)."""
    if isinstance(value, Tensor):
        value = value.item()
    if dtype is dt.bool_ or isinstance(value, bool):
        return value
    if dtype.category == dt.COMPLEX:
        return complex(value)
    if isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real):
        if value.imag != 0:  # PyTorch's wording for a complex value a real dtype cannot hold
            raise RuntimeError(f"value cannot be converted to type {dtype.name} without overflow")
        value = value.real
    if dtype.category == dt.FLOAT:
        # PyTorch checks float32 only: half precision overflows to inf
        if dtype is dt.float32 and isinstance(value, numbers.Real) and np.isfinite(value) and \
                abs(value) > float(finfo(dtype).max):
            raise RuntimeError(f"value cannot be converted to type {dtype.name} without overflow")
        return value
    if isinstance(value, float):
        if not np.isfinite(value):
            raise RuntimeError(f"value cannot be converted to type {dtype.name} without overflow")
        value = int(value)  # truncated toward zero, as C++ converts
    if not _fits(np.array([int(value)], dtype=object), dtype):
        raise RuntimeError(f"value cannot be converted to type {dtype.name} without overflow")
    return int(value) % (1 << 8 * dtype.itemsize) if value < 0 and not dtype.is_signed else int(value)


@public(out=True)
def zeros(*shape, size=None, dtype=None, device=None, requires_grad=False, layout=None) -> Tensor:
    """A tensor filled with zeros.

    Args:
        shape: the shape, as separate ints (``zeros(2, 3)``) or one sequence (``zeros((2, 3))``).
        size: the shape as a keyword instead (``zeros(size=(2, 3))``).
        dtype: the result's dtype (default: ``ember.get_default_dtype()``).
        device: where the result lives (default: the CPU).
        requires_grad: whether autograd records operations on the result.
        layout: ``ember.strided`` (default) or a sparse layout (then a sparse tensor with no stored elements).

    Returns:
        A new tensor of the given shape.

    Raises:
        RuntimeError: if a size is negative.
    """
    shape = as_shape(shape if size is None else (size,))  # zeros(2, 3), zeros((2, 3)), zeros(size=(2, 3))
    if layout is not None and layout.name != "strided":
        from ember.ops.sparse import sparse_zeros
        return sparse_zeros(shape, layout, _resolve_dtype(dtype), device, requires_grad)
    return create("full", device, requires_grad, shape=shape, value=0, dtype=_resolve_dtype(dtype))


@public(out=True)
def ones(*shape, size=None, dtype=None, device=None, requires_grad=False, layout=None) -> Tensor:
    """A tensor filled with ones.

    Args:
        shape: the shape, as separate ints (``ones(2, 3)``) or one sequence (``ones((2, 3))``).
        size: the shape as a keyword instead (``ones(size=(2, 3))``).
        dtype: the result's dtype (default: ``ember.get_default_dtype()``).
        device: where the result lives (default: the CPU).
        requires_grad: whether autograd records operations on the result.
        layout: ``ember.strided`` (default); sparse layouts are refused, as in PyTorch.

    Returns:
        A new tensor of the given shape.

    Raises:
        RuntimeError: if a size is negative, or ``layout`` is sparse.
    """
    shape = as_shape(shape if size is None else (size,))
    if layout is not None and layout.name != "strided":
        raise RuntimeError("full(...) is not implemented for sparse layout")
    return create("full", device, requires_grad, shape=shape, value=1, dtype=_resolve_dtype(dtype))


@public(out=True)
def empty(*shape, size=None, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False,
          memory_format=None) -> Tensor:
    """A new tensor of the given shape; unlike PyTorch's, its elements are always zero.

    Args:
        shape: the shape, as separate ints (``empty(2, 3)``) or one sequence (``empty((2, 3))``).
        size: the shape as a keyword instead (``empty(size=(2, 3))``).
        dtype: the result's dtype (default: ``ember.get_default_dtype()``).
        device: where the result lives (default: the CPU).
        requires_grad: whether autograd records operations on the result.
        layout: ``ember.strided`` (default) or a sparse layout (then a sparse tensor with no stored elements).
        pin_memory: put the result in page-locked host memory (CPU results only).
        memory_format: accepted for PyTorch compatibility; results are always contiguous.

    Returns:
        A new zero-filled tensor of the given shape.

    Raises:
        RuntimeError: if a size is negative.
    """
    result = zeros(*shape, size=size, dtype=dtype, device=device, requires_grad=requires_grad, layout=layout)
    return _pin_tensor(result) if pin_memory else result


def _like(t, dtype, device):
    return (_resolve_dtype(dtype) if dtype is not None else t.dtype,
            t.device if device is None else device)


@public
def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    """A tensor of zeros with ``input``'s shape, and its dtype and device unless given.

    Args:
        input: the tensor whose shape is copied.
        dtype: the result's dtype (default: ``input.dtype``).
        device: the result's device (default: ``input.device``).
        requires_grad: whether autograd records operations on the result.
        memory_format: accepted for PyTorch compatibility; results are always contiguous.

    Returns:
        A new tensor.
    """
    dtype, device = _like(input, dtype, device)
    if input.layout.name != "strided":  # a sparse input: a sparse result with no stored elements
        from ember.ops.sparse import sparse_zeros
        return sparse_zeros(input._data.shape, input.layout, dtype, device, requires_grad)
    return create("full", device, requires_grad, shape=input._data.shape, value=0, dtype=dtype)


@public
def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    """A tensor of ones with ``input``'s shape, and its dtype and device unless given.

    Args:
        input: the tensor whose shape is copied.
        dtype: the result's dtype (default: ``input.dtype``).
        device: the result's device (default: ``input.device``).
        requires_grad: whether autograd records operations on the result.
        memory_format: accepted for PyTorch compatibility; results are always contiguous.

    Returns:
        A new tensor.
    """
    dtype, device = _like(input, dtype, device)
    return create("full", device, requires_grad, shape=input._data.shape, value=1, dtype=dtype)


@public
def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    """A tensor filled with ``fill_value``, with ``input``'s shape, and its dtype and device unless given.

    Args:
        input: the tensor whose shape is copied.
        fill_value: the value, converted to the result's dtype.
        dtype: the result's dtype (default: ``input.dtype``).
        device: the result's device (default: ``input.device``).
        requires_grad: whether autograd records operations on the result.
        memory_format: accepted for PyTorch compatibility; results are always contiguous.

    Returns:
        A new tensor.
    """
    dtype, device = _like(input, dtype, device)
    return create("full", device, requires_grad, shape=input._data.shape, value=fill_scalar(fill_value, dtype),
                  dtype=dtype)


@public
def empty_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    """A new tensor with ``input``'s shape, and its dtype and device unless given; its elements are zero.

    Args:
        input: the tensor whose shape is copied.
        dtype: the result's dtype (default: ``input.dtype``).
        device: the result's device (default: ``input.device``).
        requires_grad: whether autograd records operations on the result.
        memory_format: accepted for PyTorch compatibility; results are always contiguous.

    Returns:
        A new zero-filled tensor.
    """
    return zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


@public(function=False, method=True)
def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor holding a copy of ``data``, with this tensor's dtype and device unless given.

    Args:
        data: anything ``ember.tensor`` accepts.
        dtype: the result's dtype (default: this tensor's).
        device: the result's device (default: this tensor's).
        requires_grad: whether autograd records operations on the result.

    Returns:
        A new leaf tensor.
    """
    return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


@public(function=False, method=True)
def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of zeros of the given shape, with this tensor's dtype and device unless given.

    Args:
        size: the shape, as separate ints or one sequence.
        dtype: the result's dtype (default: this tensor's).
        device: the result's device (default: this tensor's).
        requires_grad: whether autograd records operations on the result.

    Returns:
        A new tensor.
    """
    return zeros(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


@public(function=False, method=True)
def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ones of the given shape, with this tensor's dtype and device unless given.

    Args:
        size: the shape, as separate ints or one sequence.
        dtype: the result's dtype (default: this tensor's).
        device: the result's device (default: this tensor's).
        requires_grad: whether autograd records operations on the result.

    Returns:
        A new tensor.
    """
    return ones(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


@public(function=False, method=True)
def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of the given shape filled with ``fill_value``, with this tensor's dtype and device unless given.

    Args:
        size: the shape, a sequence of ints.
        fill_value: the value, converted to the result's dtype.
        dtype: the result's dtype (default: this tensor's).
        device: the result's device (default: this tensor's).
        requires_grad: whether autograd records operations on the result.

    Returns:
        A new tensor.
    """
    return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                requires_grad=requires_grad)


@public(function=False, method=True)
def new_empty(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor of the given shape, with this tensor's dtype and device unless given; its elements are zero.

    Args:
        size: the shape, as separate ints or one sequence.
        dtype: the result's dtype (default: this tensor's).
        device: the result's device (default: this tensor's).
        requires_grad: whether autograd records operations on the result.

    Returns:
        A new zero-filled tensor.
    """
    return new_zeros(self, *size, dtype=dtype, device=device, requires_grad=requires_grad)


@public(out=True)
def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A 1-d tensor of the values from ``start`` up to (not including) ``end``, ``step`` apart.

    ``arange(n)`` gives ``0, 1, ..., n - 1``.

    Args:
        start: the first value; when ``end`` is not given, this is ``end`` and the start is ``0``.
        end: the bound, which is not included.
        step: the difference between neighbouring values (default: ``1``; may be negative).
            ``start``, ``end`` and ``step`` may be numbers or one-element tensors.
        dtype: the result's dtype (default: ``ember.get_default_dtype()`` if any of the three is
            a float, else ``int64``).
        device: where the result lives (default: the CPU).
        requires_grad: whether autograd records operations on the result.

    Returns:
        A 1-d tensor of ``ceil((end - start) / step)`` elements.

    Raises:
        RuntimeError: if ``step`` is zero, a bound is not finite, or the step's sign does not lead
            from ``start`` to ``end``.
        ValueError: if an integer dtype turns a fractional ``step`` into 0.
        NotImplementedError: for ``dtype=ember.bool``.
    """
    if end is None:
        start, end = 0, start
    values = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = values
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if not all(np.isfinite(v) for v in (start, end)):
        raise RuntimeError(f"unsupported range: {start} -> {end}")
    if (end - start) * step < 0:
        raise RuntimeError(f"upper bound and lower bound inconsistent with step sign (start={start}, end={end}, "
                           f"step={step})")
    if dtype is None:
        dtype = dt.get_default_dtype() if any(isinstance(v, float) for v in values) else dt.int64
    dtype = _resolve_dtype(dtype)
    if dtype is dt.bool_:
        raise NotImplementedError("\"arange\" not implemented for 'Bool'")
    if dtype.is_complex:
        raise NotImplementedError(f"\"arange_{canonical_device(device).type}\" not implemented for "
                                  f"'{'ComplexDouble' if dtype is dt.complex128 else 'ComplexFloat'}'")
    if dtype.category == dt.INT:  # PyTorch steps integer ranges in integers: 1.5 steps by 1
        start, end, step = int(start), end, int(step)
        if step == 0:
            raise ValueError(f"step must be nonzero (the step {values[2]} is 0 in {dtype.name})")
    return create("arange", device, requires_grad, start=start, end=end, step=step, dtype=dtype)


def _widest_float(device):
    """float64 where the device has it (mps does not, as in PyTorch), else float32."""
    device = canonical_device(device)
    return dt.float64 if dt.float64 in backend_of(device.type).supported_dtypes(device.index) else dt.float32


@public(out=True)
def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A 1-d tensor of ``steps`` evenly spaced values from ``start`` to ``end``, both included.

    Args:
        start: the first value.
        end: the last value.
        steps: how many values (``0`` gives an empty tensor, ``1`` just ``start``).
        dtype: the result's dtype (default: ``ember.get_default_dtype()``); the values are
            computed in ``float64`` (``float32`` on devices without it) and then converted.
        device: where the result lives (default: the CPU).
        requires_grad: whether autograd records operations on the result.

    Returns:
        A 1-d tensor of ``steps`` elements.

    Raises:
        RuntimeError: if ``steps`` is negative.
    """
    if steps < 0:
        raise RuntimeError(f"number of steps must be non-negative, got {steps}")
    dtype = _resolve_dtype(dtype)
    if steps == 1:
        return full((1,), start, dtype=dtype, device=device, requires_grad=requires_grad)
    idx = create("arange", device, start=0, end=steps, step=1, dtype=_widest_float(device))
    step = (end - start) / max(steps - 1, 1)
    # fill from both ends so the last element is exactly ``end``, as PyTorch does
    half = steps // 2
    from ember.ops.elementwise import where
    values = where(idx < half, start + step * idx, end - step * (steps - 1 - idx))
    out = values.to(dtype)
    return out.requires_grad_(True) if requires_grad else out


@public(out=True)
def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A 1-d tensor of ``steps`` values from ``base ** start`` to ``base ** end``, evenly spaced in exponent.

    Args:
        start: the first exponent.
        end: the last exponent (included).
        steps: how many values.
        base: the base of the powers (default: ``10.0``).
        dtype: the result's dtype (default: ``ember.get_default_dtype()``).
        device: where the result lives (default: the CPU).
        requires_grad: whether autograd records operations on the result.

    Returns:
        A 1-d tensor of ``steps`` elements: ``base ** linspace(start, end, steps)``.

    Raises:
        RuntimeError: if ``steps`` is negative.
    """
    exps = linspace(start, end, steps, dtype=_widest_float(device), device=device)
    out = (base ** exps).to(_resolve_dtype(dtype))
    return out.requires_grad_(True) if requires_grad else out


@public(out=True)
def eye(n, m=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A 2-d tensor with ones on the main diagonal and zeros elsewhere.

    Args:
        n: the number of rows.
        m: the number of columns (default: ``n``).
        dtype: the result's dtype (default: ``ember.get_default_dtype()``).
        device: where the result lives (default: the CPU).
        requires_grad: whether autograd records operations on the result.

    Returns:
        A new tensor of shape ``(n, m)``.
    """
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
    flags = []  # positional bools: non_blocking, then copy (PyTorch's order)
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, bool):
            flags.append(a)
        elif isinstance(a, dt.dtype) or a in (float, int, bool):
            dtype = a
        elif isinstance(a, (str, Device, int)):
            device = a
        else:
            raise TypeError(f"to() received an invalid combination of arguments: {a!r}")
    if len(flags) > 1:
        copy = flags[1]
    return dtype, device, copy


@public(function=False, method=True)
def to(self, *args, **kwargs) -> Tensor:
    """The tensor converted to another dtype and/or moved to another device.

    Accepted forms: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)`` (take
    ``other``'s dtype and device), and the keywords below. The conversion is differentiable.

    Args:
        args: a dtype (an ``ember.dtype``, or Python's ``float``/``int``/``bool``), a device (a
            string, an ``ember.device`` or an int index), or a tensor.
        dtype: the target dtype, as a keyword.
        device: the target device, as a keyword.
        non_blocking: let a copy between the host and an accelerator run asynchronously where
            the backend supports it (from or into pinned memory).
        copy: return a new tensor even when nothing needs to change (default: ``False``).
        memory_format: accepted for PyTorch compatibility and ignored.

    Returns:
        The tensor itself when it already has the requested dtype and device (and ``copy`` is
        false), else a new tensor.

    Raises:
        TypeError: for an unknown keyword or an argument that is not a dtype, device or tensor.
    """
    flags = [a for a in args if isinstance(a, bool)]
    non_blocking = bool(kwargs.get("non_blocking", flags[0] if flags else False))
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
    """The tensor on the CPU: itself if it is already there, else a (differentiable) copy."""
    return to_device(self, CPU)


@public(function=False, method=True)
def cuda(self, device=None, non_blocking=False) -> Tensor:
    """The tensor on a CUDA device: itself if it is already there, else a (differentiable) copy.

    Args:
        device: the CUDA device, as an index or a device (default: the current CUDA device).
        non_blocking: let the copy run asynchronously where possible (from pinned memory).

    Returns:
        A tensor on the CUDA device.
    """
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
    """A copy of this CPU tensor in page-locked (pinned) host memory.

    Copies from pinned memory to an accelerator can be asynchronous
    (``.to(device, non_blocking=True)``).

    Args:
        device: the accelerator the memory is pinned for (default: ``cuda``).

    Returns:
        The tensor itself if it is already pinned, else a pinned copy (differentiable).

    Raises:
        RuntimeError: if the tensor is not on the CPU, or ``device``'s backend is not available.
    """
    return _pin_tensor(self, device)


@public(function=False, method=True)
def is_pinned(self, device=None) -> bool:
    """Whether the tensor is in page-locked (pinned) host memory.

    Args:
        device: the accelerator the memory would be pinned for (default: ``cuda``).

    Returns:
        ``False`` for tensors not on the CPU and where that accelerator is not available.
    """
    if self.device.type != "cpu":
        return False
    try:
        backend = _pinning_backend(device)
    except RuntimeError:  # no such accelerator here: nothing can be pinned for it
        return False
    return backend.is_pinned(self._data)


@public(name="float", function=False, method=True)
def float_(self) -> Tensor:
    """The tensor as ``float32`` (itself if it already is); the same as ``self.to(ember.float32)``."""
    return cast(self, dt.float32)


@public(function=False, method=True)
def double(self) -> Tensor:
    """The tensor as ``float64`` (itself if it already is); the same as ``self.to(ember.float64)``."""
    return cast(self, dt.float64)


@public(function=False, method=True)
def half(self) -> Tensor:
    """The tensor as ``float16`` (itself if it already is); the same as ``self.to(ember.float16)``."""
    return cast(self, dt.float16)


@public(function=False, method=True)
def bfloat16(self) -> Tensor:
    """The tensor as ``bfloat16`` (itself if it already is); the same as ``self.to(ember.bfloat16)``."""
    return cast(self, dt.bfloat16)


@public(function=False, method=True)
def long(self) -> Tensor:
    """The tensor as ``int64`` (itself if it already is); the same as ``self.to(ember.int64)``."""
    return cast(self, dt.int64)


@public(name="int", function=False, method=True)
def int_(self) -> Tensor:
    """The tensor as ``int32`` (itself if it already is); the same as ``self.to(ember.int32)``."""
    return cast(self, dt.int32)


@public(function=False, method=True)
def short(self) -> Tensor:
    """The tensor as ``int16`` (itself if it already is); the same as ``self.to(ember.int16)``."""
    return cast(self, dt.int16)


@public(function=False, method=True)
def char(self) -> Tensor:
    """The tensor as ``int8`` (itself if it already is); the same as ``self.to(ember.int8)``."""
    return cast(self, dt.int8)


@public(function=False, method=True)
def byte(self) -> Tensor:
    """The tensor as ``uint8`` (itself if it already is); the same as ``self.to(ember.uint8)``."""
    return cast(self, dt.uint8)


@public(name="bool", function=False, method=True)
def bool_(self) -> Tensor:
    """The tensor as ``bool`` (itself if it already is); the same as ``self.to(ember.bool)``."""
    return cast(self, dt.bool_)


@public(function=False, method=True)
def type_as(self, other: Tensor) -> Tensor:
    """The tensor converted to ``other``'s dtype (itself if it already has it).

    Args:
        other: the tensor whose dtype is taken; its device is not.

    Returns:
        A tensor with ``other.dtype``.
    """
    return cast(self, other.dtype)


@public(name="type", function=False, method=True)
def type_(self, dtype=None):
    """The dtype's name, or the tensor converted to another dtype.

    Args:
        dtype: the target dtype (an ``ember.dtype``, Python's ``float``/``int``/``bool``, or a
            numpy dtype); ``None`` to ask for the name.

    Returns:
        With no ``dtype``, the legacy type's name as PyTorch gives it, in ember's namespace:
        ``"ember.FloatTensor"``, ``"ember.cuda.HalfTensor"`` (another device's type in its own
        namespace, ``"ember.mps.LongTensor"``); else the tensor as ``dtype`` (itself if it
        already is one).
    """
    if dtype is None:
        from ember.ops.storage import LEGACY_NAMES
        kind = LEGACY_NAMES.get(self.dtype) or self.dtype.name.title().replace("Uint", "UInt")
        place = "" if self.device.type == "cpu" else ("cuda." if self.device.type in ("cuda", "rocm")
                                                      else f"{self.device.type}.")
        return f"ember.{place}{kind}Tensor"
    if isinstance(dtype, str) or getattr(type(dtype), "__name__", "") == "_LegacyTensorMeta":
        # a legacy type (ember.DoubleTensor, ember.cuda.HalfTensor) or its name ("torch.IntTensor")
        from ember.ops.storage import legacy_type
        target = legacy_type(dtype)
        out = cast(self, target.dtype)
        return out.to("cuda") if target.is_cuda and not self.is_cuda else out.cpu() if not target.is_cuda else out
    return cast(self, _resolve_dtype(dtype))


# ---------------------------------------------------------------- copies and aliases
@public(method=True)
def clone(input: Tensor, *, memory_format=None) -> Tensor:
    """A copy of ``input`` with its own memory; gradients flow back to ``input``.

    Args:
        input: the tensor to copy.
        memory_format: accepted for PyTorch compatibility; results are always contiguous.

    Returns:
        A new tensor with ``input``'s values, shape, dtype and device.
    """
    return call(OPS["clone"], input)


@public(function=False, method=True)
def contiguous(self, memory_format=None) -> Tensor:
    """The tensor with its elements in row-major order in memory: itself if it already is, else a copy.

    Args:
        memory_format: accepted for PyTorch compatibility and ignored.

    Returns:
        A contiguous tensor with the same values.
    """
    return self if is_contiguous(self) else call(OPS["clone"], self)


@public(function=False, method=True)
def is_contiguous(self, memory_format=None) -> bool:
    """Whether the tensor's elements are stored in row-major order without gaps.

    Args:
        memory_format: accepted for PyTorch compatibility and ignored.

    Returns:
        ``True`` if contiguous; on backends whose arrays have no strides (mps), as the tensor
        would be if it shared its base's memory (a transposed view is not contiguous).
    """
    data = self._data
    flags = getattr(data, "flags", None)
    if flags is not None:
        return bool(flags.c_contiguous)
    if self._base is None:
        return True
    from ember.core.views import strided_layout
    return bool(strided_layout(self).flags.c_contiguous)


@public(function=False, method=True)
def detach(self) -> Tensor:
    """A tensor sharing this one's memory but cut off from autograd (``requires_grad=False``).

    In-place changes to either tensor are seen by both, and count as changes for autograd's
    checks on saved tensors.

    Returns:
        A new leaf tensor with the same values, dtype and device.
    """
    out = _memory_alias(self)
    from ember.core.tensor import version_counter
    out._version = version_counter(self)
    return out


@recorded
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
    """Cut the tensor off from autograd in place: it becomes a leaf that does not require grad.

    Returns:
        The tensor itself.
    """
    self.grad_fn = None
    self._rg = False
    return self


def _get_data(self) -> Tensor:
    """The tensor's values without its autograd history (shares memory)."""
    return _memory_alias(self)


def _set_data(self, value: Tensor):
    self._data, self.dtype, self.device = value._data, value.dtype, value.device


public(property(_get_data, _set_data, doc="The tensor's values without its autograd history (shares memory)."),
       name="data", function=False, method=True)


@public(function=False, method=True)
def numpy(self, *, force=False) -> np.ndarray:
    """The tensor's values as a numpy array; for a CPU tensor it shares the tensor's memory.

    Args:
        force: also convert a tensor that requires grad or is not on the CPU (by copying it
            to host memory where needed), instead of raising.

    Returns:
        A numpy array of the tensor's shape and dtype.

    Raises:
        RuntimeError: if the tensor requires grad and ``force`` is false.
        TypeError: if the tensor is not on the CPU and ``force`` is false.
    """
    if self._rg and not force:
        raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
    if self.device.type != "cpu" and not force:
        raise TypeError(f"can't convert {self.device} device type tensor to numpy. "
                        f"Use Tensor.cpu() to copy the tensor to host memory first.")
    return to_numpy(self)


@public(function=False, method=True)
def item(self):
    """The value of a one-element tensor as a Python number.

    Returns:
        A ``bool``, ``int`` or ``float``, according to the dtype.

    Raises:
        RuntimeError: if the tensor does not have exactly one element.
    """
    n = self.numel()
    if n != 1:
        raise RuntimeError(f"a Tensor with {n} elements cannot be converted to Scalar")
    if self.device.type != "cpu":
        value = to_numpy(self).reshape(()).item()   # (a trace sees the read in to_numpy)
    else:
        value = self._data.item()
        host_read(self, value)
    if self.dtype is dt.bfloat16:
        value = float(value)
    return value


@public(function=False, method=True)
def tolist(self):
    """The tensor's values as (nested) Python lists of numbers.

    Returns:
        A list nested ``ndim`` deep, or a single Python number for a 0-d tensor.
    """
    arr = to_numpy(self)
    if self.dtype is dt.bfloat16:
        arr = arr.astype(np.float32)
    return arr.tolist()


@public(function=False, method=True)
def __array__(self, dtype=None, copy=None):
    """numpy's conversion hook: ``numpy.asarray(t)`` gives the values (``dtype`` converts them)."""
    arr = numpy(self) if self.device.type == "cpu" else to_numpy(self)
    return arr if dtype is None else arr.astype(dtype)


@public(function=False, method=True)
def __dlpack__(self, stream=None, **kwargs):
    """Export the tensor's memory as a DLPack capsule (for ``from_dlpack`` in other libraries)."""
    if self._rg:
        raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
    return self._data.__dlpack__(**({} if stream is None else {"stream": stream}), **kwargs)


@public(function=False, method=True)
def __dlpack_device__(self):
    """The DLPack (device type, index) pair of the tensor's memory."""
    return self._data.__dlpack_device__()


@public(function=False, method=True)
def __float__(self):
    _check_one_element(self)
    return float(_real_number(self, "double"))


@public(function=False, method=True)
def __int__(self):
    _check_one_element(self)
    return int(_real_number(self, "long"))


@public(function=False, method=True)
def __complex__(self):
    _check_one_element(self)
    return complex(item(self))


def _real_number(t, kind):
    """A one-element tensor's value as a real Python number: a complex one must have no imaginary part
    (PyTorch's error otherwise)."""
    value = item(t)
    if isinstance(value, complex):
        if value.imag != 0:
            raise RuntimeError(f"value cannot be converted to type {kind} without overflow")
        return value.real
    return value


def _check_one_element(t):
    if t.numel() != 1:
        raise ValueError(f"only one element tensors can be converted to Python scalars (this one has "
                         f"{t.numel()} elements)")


@public(function=False, method=True)
def __format__(self, format_spec):
    """``format(t, spec)`` and f-strings: a 0-d tensor formats as its Python number; others only
    with an empty spec (their repr), as in PyTorch."""
    if self.dim() == 0:
        return format(item(self), format_spec)
    return object.__format__(self, format_spec)


@public(function=False, method=True)
def __index__(self):
    if self.dtype.is_floating_point or self.numel() != 1:
        raise TypeError("only integer tensors of a single element can be converted to an index")
    return int(item(self))  # a bool tensor indexes as 0 or 1, as in PyTorch


@public
def is_floating_point(input: Tensor) -> bool:
    """Whether ``input``'s dtype is a floating-point one (``float16``, ``bfloat16``, ``float32``, ``float64``).

    Args:
        input: a tensor.

    Returns:
        A Python bool.
    """
    return input.dtype.is_floating_point


@public
def is_inference(input: Tensor) -> bool:
    """Whether ``input`` is an inference tensor (allocated inside ``ember.inference_mode()``).

    Args:
        input: a tensor.

    Returns:
        A Python bool (``Tensor.is_inference()``).

    Raises:
        TypeError: if ``input`` is not a tensor.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"is_inference(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return input.is_inference()


@public
def is_tensor(obj) -> bool:
    """Whether ``obj`` is an ember tensor (a ``Tensor`` or an instance of a subclass).

    Args:
        obj: any object.

    Returns:
        A Python bool.
    """
    return isinstance(obj, Tensor)


@public
def numel(input: Tensor) -> int:
    """The total number of elements of ``input``.

    Args:
        input: a tensor.

    Returns:
        The product of its sizes (``1`` for a 0-d tensor).
    """
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
