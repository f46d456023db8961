"""Storages: the flat memory behind tensors, as a checkpoint names and shares them.

In a checkpoint each storage is one record of raw bytes; tensors refer to a storage
with an element offset, sizes and strides. Saving finds the storage of a CPU tensor
from its numpy array: the array that owns the memory (following ``.base``) is the
storage, and the view's offset and strides are measured in elements from its start.
Loading gives each record one :class:`Storage`; tensors rebuilt from it are numpy views
of its bytes, so tensors that shared a storage share memory again.
"""
from __future__ import annotations

import numpy as np

from ember.core import dtype as dt

# PyTorch's legacy typed-storage class names, one per dtype (the name in the pickle).
STORAGE_CLASS_OF_DTYPE = {
    dt.float32: "FloatStorage", dt.float64: "DoubleStorage", dt.float16: "HalfStorage",
    dt.bfloat16: "BFloat16Storage", dt.int8: "CharStorage", dt.int16: "ShortStorage",
    dt.int32: "IntStorage", dt.int64: "LongStorage", dt.uint8: "ByteStorage", dt.bool_: "BoolStorage",
    dt.complex64: "ComplexFloatStorage", dt.complex128: "ComplexDoubleStorage",
}
DTYPE_OF_STORAGE_CLASS = {name: d for d, name in STORAGE_CLASS_OF_DTYPE.items()}
UNTYPED_STORAGE = "UntypedStorage"  # byte-addressed; its numel counts bytes

# Storage classes PyTorch has and ember's dtypes lack, for a clear error.
UNSUPPORTED_STORAGE_CLASSES = {
    "QInt8Storage": "qint8",
    "QUInt8Storage": "quint8", "QInt32Storage": "qint32", "QUInt4x2Storage": "quint4x2",
    "QUInt2x4Storage": "quint2x4",
}


class StorageType:
    """What ``torch.FloatStorage`` and friends resolve to when a checkpoint is read."""
    __slots__ = ("name", "dtype")

    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype

    def __repr__(self):
        return f"<storage type torch.{self.name}>"


STORAGE_TYPES = {name: StorageType(name, d) for name, d in DTYPE_OF_STORAGE_CLASS.items()}
STORAGE_TYPES[UNTYPED_STORAGE] = StorageType(UNTYPED_STORAGE, dt.uint8)


class Storage:
    """One loaded storage: a flat host array of ``dtype`` and the device it is restored to.

    ``map_location`` callables receive one of these with the location tag written in the
    checkpoint, and may return it moved with :meth:`to`, :meth:`cpu` or :meth:`cuda`.
    Moving only changes where tensors built from it will live; the bytes stay on the host
    until then.
    """
    __slots__ = ("_array", "dtype", "device")

    def __init__(self, array: np.ndarray, dtype, device):
        self._array = array
        self.dtype = dtype
        self.device = device

    # --- torch.TypedStorage-like surface
    def size(self) -> int:
        return int(self._array.shape[0])

    __len__ = size

    def nbytes(self) -> int:
        return int(self._array.nbytes)

    def element_size(self) -> int:
        return self.dtype.itemsize

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def to(self, device) -> "Storage":
        from ember.ops.creation import canonical_device
        return Storage(self._array, self.dtype, canonical_device(device))

    def cpu(self) -> "Storage":
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False) -> "Storage":
        if device is None:
            return self.to("cuda")
        return self.to(f"cuda:{device}" if isinstance(device, int) else device)

    def numpy(self) -> np.ndarray:
        return self._array

    def tolist(self) -> list:
        arr = self._array.astype(np.float32) if self.dtype is dt.bfloat16 else self._array
        return arr.tolist()

    def __repr__(self):
        return f"ember.serialization.Storage(dtype={self.dtype}, device='{self.device}', size={self.size()})"


# ---------------------------------------------------------------- finding a tensor's storage (saving)
def _address(arr: np.ndarray) -> int:
    return arr.__array_interface__["data"][0]


def memory_owner(arr: np.ndarray) -> np.ndarray:
    """The array at the root of ``arr``'s ``.base`` chain (its memory's owner among arrays)."""
    root = arr
    while isinstance(root.base, np.ndarray):
        root = root.base
    return root


def as_bytes(root: np.ndarray) -> np.ndarray:
    """A flat uint8 view of a C- or Fortran-contiguous array's whole memory block."""
    flat = root.ravel(order="K")
    return flat.view(np.uint8) if flat.size else np.empty(0, np.uint8)


def locate_in_root(arr: np.ndarray):
    """``(root, offset, strides)`` in elements of ``arr``'s dtype, or None when ``arr``
    cannot be described as a view of its root's memory with non-negative element strides
    (then it is saved as a fresh contiguous storage)."""
    root = memory_owner(arr)
    if not (root.flags.c_contiguous or root.flags.f_contiguous):
        return None
    itemsize = arr.dtype.itemsize
    if root.nbytes % itemsize:
        return None
    byte_offset = _address(arr) - _address(root)
    strides = arr.strides
    if byte_offset < 0 or byte_offset % itemsize or any(s < 0 or s % itemsize for s in strides):
        return None
    extent = byte_offset + (itemsize + sum((n - 1) * s for n, s in zip(arr.shape, strides)) if arr.size else 0)
    if extent > root.nbytes:
        return None
    return root, byte_offset // itemsize, tuple(s // itemsize for s in strides)


# ---------------------------------------------------------------- tensors from storages (loading)
def view_of_storage(storage: Storage, offset, size, stride) -> np.ndarray:
    """A numpy view of ``storage`` with element ``offset``, ``size`` and ``stride``.

    Everything is checked before any memory is touched: the checkpoint is untrusted.
    """
    if not isinstance(storage, Storage):
        raise TypeError(f"expected a storage to rebuild a tensor from, got {type(storage).__name__}")
    size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise RuntimeError(f"storage offset must be a non-negative integer, got {offset!r}")
    if len(size) != len(stride):
        raise RuntimeError(f"size {list(size)} and stride {list(stride)} have different lengths")
    if any(n < 0 for n in size):
        raise RuntimeError(f"size must be non-negative, got {list(size)}")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"negative strides are not supported, got {list(stride)}")
    numel = storage.size()
    count = 1
    for n in size:
        count *= n
    needed = offset + (1 + sum((n - 1) * s for n, s in zip(size, stride)) if count else 0)
    if needed > numel:
        raise RuntimeError(f"sizes {list(size)}, strides {list(stride)} and storage offset {offset} need a "
                           f"storage of {needed} elements, but the storage holds {numel}")
    array = storage._array
    itemsize = array.dtype.itemsize
    if count == 0:
        return np.empty(size, dtype=array.dtype)
    return np.ndarray(shape=size, dtype=array.dtype, buffer=array, offset=offset * itemsize,
                      strides=tuple(s * itemsize for s in stride))


def _int_tuple(value, what):
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, int) and not isinstance(v, bool)
                                                       for v in value):
        raise RuntimeError(f"tensor {what} must be a tuple of integers, got {value!r}")
    return tuple(value)
