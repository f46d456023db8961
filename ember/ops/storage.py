"""Typed storages and PyTorch's legacy tensor types.

* ``TypedStorage``: a tensor's memory seen as a flat sequence of its dtype
  (``Tensor.storage()``). It is a 1-d view of the tensor's base, so writing an element
  (``t.storage()[0] = 5``) changes every tensor of that memory, on every device.
* ``ember.FloatStorage`` and friends (and ``ember.cuda.FloatStorage``): the legacy typed
  storage classes; calling one makes a ``TypedStorage`` of that dtype, and ``isinstance``
  answers for any ``TypedStorage`` of that dtype and device type, as PyTorch's do.
* ``ember.FloatTensor`` and friends (and ``ember.cuda.FloatTensor``): the legacy typed
  tensor constructors (``FloatTensor(2, 3)``, ``FloatTensor([1, 2])``,
  ``FloatTensor(storage)``); ``isinstance(t, ember.FloatTensor)`` is True for a float32 CPU
  tensor. They are not subclasses of ``Tensor`` (nor are PyTorch's).
"""
from __future__ import annotations

import numbers

from ember.core import dtype as dt
from ember.core.autograd import no_grad
from ember.core.device import device as _Device
from ember.core.tensor import Size, Tensor
from ember.ops.memory import UntypedStorage
from ember.ops.public import public

# The legacy names, one per dtype (PyTorch's).
LEGACY_NAMES = {
    dt.float32: "Float", dt.float64: "Double", dt.float16: "Half", dt.bfloat16: "BFloat16", dt.int8: "Char",
    dt.int16: "Short", dt.int32: "Int", dt.int64: "Long", dt.uint8: "Byte", dt.bool_: "Bool",
    dt.complex64: "ComplexFloat", dt.complex128: "ComplexDouble",
}
_TENSOR_DTYPES = (dt.float32, dt.float64, dt.float16, dt.bfloat16, dt.int8, dt.int16, dt.int32, dt.int64,
                  dt.uint8, dt.bool_)  # PyTorch has no ComplexFloatTensor class


def _ops():
    from ember.ops import creation
    return creation


def _is_cuda_type(device_type: str) -> bool:
    return device_type in ("cuda", "rocm")


# ---------------------------------------------------------------- TypedStorage
def _flat_view(base: Tensor) -> Tensor:
    """A 1-d tensor over all of ``base``'s memory, sharing it."""
    if base.is_contiguous():
        return base.reshape(-1)
    if base.device.type == "cpu":  # e.g. a Fortran-ordered numpy result: its memory in memory order
        from ember.ops.creation import from_numpy
        import numpy as np
        array = base._data
        flat = array.ravel(order="K")
        if np.shares_memory(flat, array):
            return from_numpy(flat) if base.dtype is not dt.bfloat16 else base.reshape(-1)
    return base.reshape(-1)


class TypedStorage:
    """A tensor's memory as a flat sequence of its dtype (``Tensor.storage()``).

    ``TypedStorage(size, dtype=, device=)`` makes a zero-filled one, ``TypedStorage(sequence)``
    one holding the values, ``TypedStorage(wrap_storage=untyped, dtype=)`` views an
    ``UntypedStorage``'s memory.

    Args:
        args: nothing, a size, or a sequence of values.
        wrap_storage: an ``UntypedStorage`` to view.
        dtype: the element type (default: the default dtype).
        device: the device (default: the CPU).
    """
    is_sparse = False

    def __init__(self, *args, wrap_storage=None, dtype=None, device=None, _internal=False):
        ember = _ops()
        dtype = dtype if dtype is not None else dt.get_default_dtype()
        if wrap_storage is not None:
            if args:
                raise RuntimeError("No positional arguments should be given when using `wrap_storage`")
            if not isinstance(wrap_storage, UntypedStorage):
                raise TypeError(f"expected an UntypedStorage for wrap_storage, got {type(wrap_storage).__name__}")
            base = wrap_storage._base
            flat = _flat_view(base)
            if base.dtype is not dtype:
                flat = flat.view(dt.uint8).view(dtype) if base.numel() else ember.empty(0, dtype=dtype,
                                                                                          device=base.device)
            self._set(flat)
            return
        device = _Device("cpu") if device is None else _Device(device)
        if len(args) > 1:
            raise TypeError(f"TypedStorage takes at most one positional argument (a size or a sequence), got "
                            f"{len(args)}")
        if not args:
            self._set(ember.empty(0, dtype=dtype, device=device))
        elif isinstance(args[0], numbers.Integral) and not isinstance(args[0], bool):
            if args[0] < 0:
                raise RuntimeError(f"Storage size must be non-negative, got {args[0]}")
            self._set(ember.zeros(int(args[0]), dtype=dtype, device=device))
        elif isinstance(args[0], Tensor):
            raise TypeError("TypedStorage cannot be made from a tensor: use tensor.storage()")
        else:
            self._set(ember.tensor(list(args[0]), dtype=dtype, device=device).reshape(-1))

    def _set(self, flat: Tensor):
        self._flat = flat

    @classmethod
    def _of(cls, tensor: Tensor) -> "TypedStorage":
        storage = object.__new__(cls)
        storage._set(_flat_view(tensor if tensor._base is None else tensor._base))
        return storage

    # ---- what it is
    @property
    def dtype(self):
        """The element type."""
        return self._flat.dtype

    @property
    def device(self):
        """The device the memory is on."""
        return self._flat.device

    @property
    def is_cuda(self) -> bool:
        """Whether the memory is on a GPU (``cuda``)."""
        return _is_cuda_type(self.device.type)

    def size(self) -> int:
        """The number of elements."""
        return self._flat.numel()

    def __len__(self):
        return self.size()

    def element_size(self) -> int:
        """Bytes per element."""
        return self.dtype.itemsize

    def nbytes(self) -> int:
        """The storage's size in bytes."""
        return self.size() * self.element_size()

    def data_ptr(self) -> int:
        """The address of the first element (as ``Tensor.data_ptr``)."""
        return self._flat.data_ptr()

    def untyped(self) -> UntypedStorage:
        """The same memory as an ``UntypedStorage`` (counted in bytes)."""
        return UntypedStorage(self._flat if self._flat._base is None else self._flat._base)

    @property
    def _untyped_storage(self) -> UntypedStorage:
        return self.untyped()

    def type(self, dtype=None, non_blocking=False):
        """The legacy class name, or a copy as another legacy storage type.

        Args:
            dtype: a legacy storage class or its name; None to ask for the name.

        Returns:
            ``"ember.FloatStorage"`` (``"ember.cuda.FloatStorage"`` on a GPU), or a new storage.
        """
        prefix = "ember.cuda." if self.is_cuda else "ember."
        if dtype is None:
            return f"{prefix}{LEGACY_NAMES[self.dtype]}Storage"
        target = getattr(dtype, "dtype", None) or _LEGACY_STORAGES_BY_NAME.get(str(dtype).split(".")[-1])
        if target is None:
            raise TypeError(f"invalid storage type {dtype!r}")
        return self._cast(target)

    def pickle_storage_type(self) -> str:
        """The legacy class name a checkpoint records (``"FloatStorage"``)."""
        return f"{LEGACY_NAMES[self.dtype]}Storage"

    def is_shared(self) -> bool:
        """Whether the memory is shared between processes (as ``Tensor.is_shared``)."""
        return self._flat.is_shared()

    def share_memory_(self) -> "TypedStorage":
        """Move the memory to shared memory: already the case on GPUs; CPU storages stay where they are.

        Returns:
            The storage itself.
        """
        return self

    def is_pinned(self, device="cuda") -> bool:
        """Whether the (CPU) memory is page-locked."""
        return self._flat.is_pinned()

    def pin_memory(self, device="cuda") -> "TypedStorage":
        """A copy in page-locked memory."""
        return TypedStorage._of(self._flat.pin_memory())

    # ---- elements
    def _index(self, idx) -> int:
        if not isinstance(idx, numbers.Integral) or isinstance(idx, bool):
            raise TypeError(f"can't index a {self.type()} with {type(idx).__name__}")
        n = self.size()
        if idx < -n or idx >= n:
            raise IndexError(f"index {idx} out of range for storage of size {n}")
        return int(idx) % n if n else 0

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            raise RuntimeError("slices are only supported in UntypedStorage.__getitem__")
        return self._flat[self._index(idx)].item()

    def __setitem__(self, idx, value):
        with no_grad():
            if isinstance(idx, slice):
                self._flat[idx] = value
            else:
                self._flat[self._index(idx)] = value

    def __iter__(self):
        return iter(self.tolist())

    def tolist(self) -> list:
        """The elements as a Python list."""
        return self._flat.tolist()

    def fill_(self, value) -> "TypedStorage":
        """Set every element to ``value``.

        Returns:
            The storage itself.
        """
        with no_grad():
            self._flat.fill_(value)
        return self

    def copy_(self, source, non_blocking=None) -> "TypedStorage":
        """Copy ``source``'s elements (same size) into this storage.

        Args:
            source: a ``TypedStorage`` (any dtype or device) or an ``UntypedStorage``.

        Returns:
            The storage itself.
        """
        values = source._flat if isinstance(source, TypedStorage) else TypedStorage(
            wrap_storage=source, dtype=self.dtype)._flat
        if values.numel() != self.size():
            raise RuntimeError(f"size mismatch: copying a storage of {values.numel()} elements into one of "
                               f"{self.size()}")
        with no_grad():
            self._flat.copy_(values)
        return self

    def clone(self) -> "TypedStorage":
        """A copy with its own memory."""
        return TypedStorage._of(self._flat.clone())

    # ---- moves and casts (copies)
    def to(self, device=None, non_blocking=False) -> "TypedStorage":
        """The storage on ``device`` (itself when already there)."""
        if device is None or _Device(device) == self.device:
            return self
        return TypedStorage._of(self._flat.to(device, non_blocking=non_blocking))

    def cpu(self) -> "TypedStorage":
        """The storage on the CPU (itself when already there)."""
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False) -> "TypedStorage":
        """The storage on a GPU (itself when already there)."""
        target = "cuda" if device is None else f"cuda:{device}" if isinstance(device, int) else device
        return self.to(target, non_blocking=non_blocking)

    def _cast(self, dtype) -> "TypedStorage":
        return self if dtype is self.dtype else TypedStorage._of(self._flat.to(dtype))

    def double(self):
        """A float64 copy (itself when already float64)."""
        return self._cast(dt.float64)

    def float(self):
        """A float32 copy (itself when already float32)."""
        return self._cast(dt.float32)

    def half(self):
        """A float16 copy (itself when already float16)."""
        return self._cast(dt.float16)

    def bfloat16(self):
        """A bfloat16 copy (itself when already bfloat16)."""
        return self._cast(dt.bfloat16)

    def long(self):
        """An int64 copy (itself when already int64)."""
        return self._cast(dt.int64)

    def int(self):
        """An int32 copy (itself when already int32)."""
        return self._cast(dt.int32)

    def short(self):
        """An int16 copy (itself when already int16)."""
        return self._cast(dt.int16)

    def char(self):
        """An int8 copy (itself when already int8)."""
        return self._cast(dt.int8)

    def byte(self):
        """A uint8 copy (itself when already uint8)."""
        return self._cast(dt.uint8)

    def bool(self):
        """A bool copy (itself when already bool)."""
        return self._cast(dt.bool_)

    def complex_float(self):
        """A complex64 copy (itself when already complex64)."""
        return self._cast(dt.complex64)

    def complex_double(self):
        """A complex128 copy (itself when already complex128)."""
        return self._cast(dt.complex128)

    @classmethod
    def from_buffer(cls, buffer, byte_order="native", count=-1, offset=0, dtype=None):
        """A CPU storage holding a copy of a bytes-like object's elements.

        Args:
            buffer: the bytes.
            byte_order: ``"native"``, ``"little"`` or ``"big"``.
            count: how many elements (-1: all from ``offset``).
            offset: the first byte.
            dtype: the element type (default: the class's, else uint8).

        Returns:
            A ``TypedStorage``.
        """
        import numpy as np
        dtype = dtype if dtype is not None else getattr(cls, "dtype", None)
        dtype = dtype if isinstance(dtype, dt.dtype) else dt.uint8
        np_dtype = np.dtype(dtype.numpy)
        if byte_order in ("little", "big"):
            np_dtype = np_dtype.newbyteorder("<" if byte_order == "little" else ">")
        elif byte_order != "native":
            raise ValueError(f"byte_order must be 'native', 'little' or 'big', got {byte_order!r}")
        array = np.frombuffer(buffer, dtype=np_dtype, count=count, offset=offset).astype(dtype.numpy)
        from ember.ops.creation import from_numpy
        return TypedStorage._of(from_numpy(array.copy()))

    def __eq__(self, other):
        return isinstance(other, TypedStorage) and other.data_ptr() == self.data_ptr() and \
            other.dtype is self.dtype and other.size() == self.size() and other.device == self.device

    def __hash__(self):
        return hash((self.data_ptr(), self.size()))

    def __repr__(self):
        values = "\n".join(f" {v}" for v in self.tolist())
        head = values + "\n" if values else ""
        return f"{head}[ember.storage.TypedStorage(dtype={self.dtype}, device={self.device}) of size {self.size()}]"


TypedStorage.__module__ = "ember"
public(TypedStorage, name="TypedStorage")


# ---------------------------------------------------------------- legacy typed classes
class _LegacyStorageMeta(type):
    """``ember.FloatStorage``: calling makes a ``TypedStorage`` of the dtype; isinstance checks dtype and device."""

    def __call__(cls, *args, wrap_storage=None, device=None, **kwargs):
        if _is_cuda_type(cls._device_type):
            _require_gpu(cls)
            device = device or "cuda"
        return TypedStorage(*args, wrap_storage=wrap_storage, dtype=cls.dtype, device=device)

    def __instancecheck__(cls, obj):
        return isinstance(obj, TypedStorage) and obj.dtype is cls.dtype and \
            (_is_cuda_type(obj.device.type) if _is_cuda_type(cls._device_type) else obj.device.type == "cpu")

    def __repr__(cls):
        return f"<class '{cls.__module__}.{cls.__name__}'>"


class _LegacyTensorMeta(type):
    """``ember.FloatTensor``: the legacy constructor; isinstance checks dtype and device."""

    def __call__(cls, *args, device=None, **kwargs):
        ember = _ops()
        if kwargs:
            raise TypeError(f"{cls.__name__}() got unexpected keyword arguments {sorted(kwargs)}; it takes only "
                            f"sizes, data, a tensor or a storage, and device=")
        if _is_cuda_type(cls._device_type):
            _require_gpu(cls)
            device = device or "cuda"
        elif device is not None and _Device(device).type != cls._device_type:
            raise RuntimeError(f"legacy constructor expects device type: {cls._device_type} but device type: "
                               f"{_Device(device).type} was passed")
        device = device or cls._device_type
        if len(args) == 1 and isinstance(args[0], Tensor):
            t = args[0]
            if t.dtype is not cls.dtype or _is_cuda_type(t.device.type) != _is_cuda_type(cls._device_type):
                raise TypeError(f"expected {cls.__module__}.{cls.__name__} (got {t.type()})")
            return t.detach()
        if len(args) == 1 and isinstance(args[0], TypedStorage):
            s = args[0]
            if s.dtype is not cls.dtype:
                raise TypeError(f"expected a {LEGACY_NAMES[cls.dtype]}Storage, got {s.type()}")
            return s._flat.detach()
        if len(args) == 1 and isinstance(args[0], Size) or args and all(
                isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args):
            shape = tuple(args[0]) if len(args) == 1 and isinstance(args[0], Size) else args  # a tuple is data
            return ember.zeros(*shape, dtype=cls.dtype, device=device) if shape else \
                ember.empty(0, dtype=cls.dtype, device=device)
        if not args:
            return ember.empty(0, dtype=cls.dtype, device=device)
        if len(args) == 1:
            return ember.tensor(args[0], dtype=cls.dtype, device=device)
        raise TypeError(f"{cls.__name__}() takes sizes, one sequence of data, a tensor or a storage; got "
                        f"{tuple(type(a).__name__ for a in args)}")

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype and \
            bool(getattr(obj, "is_sparse", False)) == cls._sparse and \
            (_is_cuda_type(obj.device.type) if _is_cuda_type(cls._device_type) else obj.device.type == "cpu")

    def __repr__(cls):
        return f"<class '{cls.__module__}.{cls.__name__}'>"

    @property
    def is_cuda(cls) -> bool:
        return _is_cuda_type(cls._device_type)

    @property
    def is_sparse(cls) -> bool:
        return cls._sparse


class _LegacySparseTensorMeta(_LegacyTensorMeta):
    """``ember.cuda.sparse.FloatTensor``: the legacy sparse COO constructor; isinstance checks layout too."""

    def __call__(cls, *args, device=None, **kwargs):
        from ember.ops.sparse import sparse_coo_tensor
        creation = _ops()
        if kwargs:
            raise TypeError(f"{cls.__name__}() got unexpected keyword arguments {sorted(kwargs)}")
        if _is_cuda_type(cls._device_type):
            _require_gpu(cls)
        device = device or cls._device_type
        if len(args) in (2, 3) and isinstance(args[0], Tensor) and isinstance(args[1], Tensor):
            size = tuple(args[2]) if len(args) == 3 else None
            return sparse_coo_tensor(args[0], args[1], size, dtype=cls.dtype, device=device)
        if len(args) == 1 and isinstance(args[0], Size):
            args = tuple(args[0])
        if not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args):
            raise TypeError(f"{cls.__name__}() takes sizes, or indices, values and a size")
        size = args or (0,)
        indices = creation.zeros(len(size), 0, dtype=dt.int64, device=device)
        return sparse_coo_tensor(indices, creation.zeros(0, dtype=cls.dtype, device=device), size, dtype=cls.dtype,
                                 device=device)


def _require_gpu(cls):
    from ember.dispatch.registry import REGISTRY
    try:
        REGISTRY.available_backend("cuda")
    except RuntimeError as e:
        raise TypeError(f"type {cls.__module__}.{cls.__name__} not available: {e}") from None


_CACHE: dict = {}


def legacy_tensor_types(device_type: str = "cpu") -> dict:
    """The legacy tensor classes of a device type, by name (``{"FloatTensor": ..., ...}``).

    Args:
        device_type: ``"cpu"`` (``ember.FloatTensor``) or ``"cuda"`` (``ember.cuda.FloatTensor``).

    Returns:
        A dict from name to class.
    """
    key = ("tensor", device_type)
    if key not in _CACHE:
        module = "ember.cuda" if _is_cuda_type(device_type) else "ember"
        _CACHE[key] = {f"{LEGACY_NAMES[d]}Tensor": _LegacyTensorMeta(
            f"{LEGACY_NAMES[d]}Tensor", (), {"dtype": d, "_device_type": device_type, "__module__": module,
                                              "_sparse": False,
                                              "__doc__": f"Legacy constructor of {d} tensors on {device_type}."})
            for d in _TENSOR_DTYPES}
    return _CACHE[key]


def legacy_sparse_tensor_types(device_type: str = "cpu") -> dict:
    """The legacy sparse COO tensor classes of a device type, by name (``ember.cuda.sparse.FloatTensor``, ...).

    Args:
        device_type: ``"cpu"`` or ``"cuda"``.

    Returns:
        A dict from name to class.
    """
    key = ("sparse", device_type)
    if key not in _CACHE:
        module = "ember.cuda.sparse" if _is_cuda_type(device_type) else "ember.sparse"
        _CACHE[key] = {f"{LEGACY_NAMES[d]}Tensor": _LegacySparseTensorMeta(
            f"{LEGACY_NAMES[d]}Tensor", (), {"dtype": d, "_device_type": device_type, "__module__": module,
                                              "_sparse": True,
                                              "__doc__": f"Legacy constructor of sparse COO {d} tensors on "
                                                         f"{device_type}."})
            for d in (dt.float64, dt.float32, dt.float16, dt.bfloat16, dt.int64, dt.int32, dt.int16, dt.int8,
                      dt.uint8)}
    return _CACHE[key]


def legacy_storage_types(device_type: str = "cpu") -> dict:
    """The legacy storage classes of a device type, by name (``{"FloatStorage": ..., ...}``).

    Args:
        device_type: ``"cpu"`` or ``"cuda"``.

    Returns:
        A dict from name to class.
    """
    key = ("storage", device_type)
    if key not in _CACHE:
        module = "ember.cuda" if _is_cuda_type(device_type) else "ember"
        _CACHE[key] = {f"{name}Storage": _LegacyStorageMeta(
            f"{name}Storage", (), {"dtype": d, "_device_type": device_type, "__module__": module,
                                   "__doc__": f"Legacy typed storage of {d} on {device_type}.",
                                   "from_buffer": classmethod(lambda cls, *a, **k: TypedStorage.from_buffer(
                                       *a, **{"dtype": cls.dtype, **k}))})
            for d, name in LEGACY_NAMES.items()}
    return _CACHE[key]


def legacy_type(t):
    """The legacy tensor class ``t`` names: the class itself, or ``"torch.FloatTensor"`` /
    ``"ember.cuda.HalfTensor"`` style names.

    Raises:
        ValueError: for a name that is no legacy tensor type.
    """
    if isinstance(t, _LegacyTensorMeta):
        return t
    *prefix, name = str(t).split(".")
    found = legacy_tensor_types("cuda" if "cuda" in prefix else "cpu").get(name)
    if found is None or (prefix and prefix[0] not in ("torch", "ember")):
        raise ValueError(f"invalid type: '{t}'")
    return found


_LEGACY_STORAGES_BY_NAME = {name: cls.dtype for name, cls in legacy_storage_types("cpu").items()}
for _name, _cls in {**legacy_tensor_types("cpu"), **legacy_storage_types("cpu")}.items():
    public(_cls, name=_name)


# ---------------------------------------------------------------- functions and Tensor methods
@public
def is_storage(obj) -> bool:
    """Whether ``obj`` is a storage (typed or untyped).

    Args:
        obj: any object.

    Returns:
        A bool.
    """
    return isinstance(obj, (TypedStorage, UntypedStorage))


@public
def set_default_tensor_type(t) -> None:
    """Deprecated: set the default floating dtype (and, for a ``cuda`` type, the default device).

    Args:
        t: a legacy floating tensor class (``ember.DoubleTensor``) or its name (``"torch.DoubleTensor"``).

    Raises:
        TypeError: for a non-floating or unknown type.
    """
    if isinstance(t, str):
        try:
            t = legacy_type(t)
        except ValueError as e:
            raise TypeError(str(e)) from None
    if not isinstance(t, _LegacyTensorMeta):
        raise TypeError("invalid type object: only floating-point types are supported as the default type")
    if not t.dtype.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    from ember.core.flags import set_default_device
    dt.set_default_dtype(t.dtype)
    set_default_device("cuda" if t.is_cuda else None)


@public(function=False, method=True)
def storage(self) -> TypedStorage:
    """The tensor's memory as a ``TypedStorage`` of its dtype; the storage shares the memory.

    Returns:
        A ``TypedStorage`` over the tensor's base.
    """
    return TypedStorage._of(self)


@public(function=False, method=True)
def storage_type(self):
    """The legacy storage class of the tensor's dtype and device (``ember.FloatStorage``).

    Returns:
        A class.
    """
    return legacy_storage_types("cuda" if self.is_cuda else "cpu")[f"{LEGACY_NAMES[self.dtype]}Storage"]


_IN_USE: list = []  # (event, native array): memory kept from reuse until the event's stream passes it


@public(function=False, method=True)
def record_stream(self, stream) -> None:
    """Mark the tensor's memory as used by ``stream``: it is not given to new tensors, even after
    this one is freed, until the work queued on ``stream`` so far is done.

    Args:
        stream: an ``ember.cuda.Stream``.

    Raises:
        RuntimeError: for a non-cuda tensor or another kind of stream.
    """
    if not hasattr(stream, "cupy_stream"):
        raise RuntimeError(f"record_stream expects an ember.cuda.Stream, got {type(stream).__name__}")
    if not self.is_cuda:
        raise RuntimeError(f"record_stream expects a cuda tensor, got one on {self.device}")
    _IN_USE[:] = [(event, array) for event, array in _IN_USE if not event.query()]
    base = self if self._base is None else self._base
    _IN_USE.append((stream.record_event(), base._data))
