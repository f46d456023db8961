"""Pickling an object graph the way ``torch.save`` does.

Tensors become ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
requires_grad, OrderedDict())`` calls whose storage is a persistent id
``('storage', torch.<X>Storage, key, location, numel)``; the storage bytes go to
``data/<key>`` records. ``ember.Size``, dtypes and devices are written under their
``torch`` names, so PyTorch (and its weights-only loader) reads the pickle unchanged.

The pickler is Python's pure-Python one (``pickle._Pickler``): only it lets a subclass
write a GLOBAL opcode naming a module that need not be importable here (``torch``).
Checkpoint pickles are small (storages travel outside them), so its speed is no concern.
"""
from __future__ import annotations

import pickle
from collections import OrderedDict

import numpy as np

from ember.core import dtype as dt
from ember.core.device import device as Device
from ember.core.tensor import Size, Tensor, make_tensor
from ember.serialization.options import location_tag
from ember.serialization.storage import STORAGE_CLASS_OF_DTYPE, as_bytes, locate_in_root

_STORAGE_TAG = "storage"


class GlobalRef:
    """A name in another module, pickled as ``GLOBAL module name`` without importing it.

    One instance per name (see :func:`global_ref`), so the pickle memo reuses it as
    PyTorch's pickles reuse the real class or function.
    """
    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args, **kwargs):  # callable, as pickle's save_reduce requires; never called
        raise TypeError(f"{self.module}.{self.name} is a name written into checkpoints, not a function")

    def __repr__(self):
        return f"GlobalRef({self.module}.{self.name})"


_GLOBAL_REFS: dict = {}


def global_ref(module: str, name: str) -> GlobalRef:
    ref = _GLOBAL_REFS.get((module, name))
    if ref is None:
        ref = _GLOBAL_REFS[(module, name)] = GlobalRef(module, name)
    return ref


_PLAIN_TYPES = frozenset({str, int, float, bool, type(None), tuple, list, dict, bytes, OrderedDict, GlobalRef,
                          dt.dtype})

REBUILD_TENSOR_V2 = global_ref("torch._utils", "_rebuild_tensor_v2")
REBUILD_TENSOR_V3 = global_ref("torch._utils", "_rebuild_tensor_v3")
UNTYPED = global_ref("torch.storage", "UntypedStorage")
REBUILD_PARAMETER = global_ref("torch._utils", "_rebuild_parameter")
TORCH_SIZE = global_ref("torch", "Size")
TORCH_DEVICE = global_ref("torch", "device")


class StorageRecord:
    """A storage to be written: its key, dtype, location tag and flat host bytes."""
    __slots__ = ("key", "dtype", "location", "numel", "data")

    def __init__(self, key, dtype, location, numel, data):
        self.key, self.dtype, self.location, self.numel, self.data = key, dtype, location, numel, data


class _StorageArg:
    """Placeholder for a storage inside a tensor's reduce arguments (becomes a persistent id)."""
    __slots__ = ("record",)

    def __init__(self, record):
        self.record = record


def _parameter_class():
    try:
        from ember.nn.parameter import Parameter
    except ImportError:
        return None
    return Parameter if isinstance(Parameter, type) else None


class CheckpointPickler(pickle._Pickler):
    """Pickles ``obj`` like ``torch.save``; collects the storages in :attr:`storages`."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file, protocol=2):
        super().__init__(file, protocol=protocol)
        self.storages: dict[str, StorageRecord] = {}   # key -> record, in first-use order
        self._by_root: dict[int, StorageRecord] = {}   # id(root array) -> record
        self._roots: list = []                          # keeps roots alive while ids are in use
        self._parameter = _parameter_class()

    # -- GLOBAL for names that need not be importable
    def _save_global_ref(self, obj: GlobalRef):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("utf-8"))
        self.memoize(obj)

    dispatch[GlobalRef] = _save_global_ref

    def _save_dtype(self, obj: dt.dtype):
        # a dtype is the bare global ``torch.<name>`` (no call), as PyTorch writes it
        self.write(pickle.GLOBAL + f"torch\n{obj.name}\n".encode("utf-8"))
        self.memoize(obj)

    dispatch[dt.dtype] = _save_dtype

    def persistent_id(self, obj):
        if type(obj) is _StorageArg:
            r = obj.record
            if r.dtype in STORAGE_CLASS_OF_DTYPE:
                storage_class = global_ref("torch", STORAGE_CLASS_OF_DTYPE[r.dtype])
                return (_STORAGE_TAG, storage_class, r.key, r.location, r.numel)
            # dtypes without a typed storage class (uint16 ..., float8): PyTorch's UntypedStorage, numel in bytes
            return (_STORAGE_TAG, UNTYPED, r.key, r.location, r.numel * r.dtype.itemsize)
        return None

    def reducer_override(self, obj):
        cls = type(obj)
        if cls in _PLAIN_TYPES:  # the pure-Python pickler asks for every object: answer the common ones fast
            return NotImplemented
        if cls is Tensor:
            return self._reduce_tensor(obj)
        if cls is Size:
            return (TORCH_SIZE, (tuple(obj),))
        if cls is Device:
            # a fresh string, as PyTorch's device gives: the memo must not tie it to the "cpu" location tags
            kind = obj.type.encode().decode()
            return (TORCH_DEVICE, (kind,) if obj.index is None else (kind, obj.index))
        if isinstance(obj, Tensor):
            if hasattr(cls, "_checkpoint_reduce"):  # sparse tensors: their parts, in PyTorch's form
                return obj._checkpoint_reduce(global_ref)
            if self._parameter is not None and isinstance(obj, self._parameter):
                return (REBUILD_PARAMETER, (make_tensor(obj._data, obj.dtype, obj.device), obj.requires_grad,
                                            OrderedDict()))
            return self._reduce_tensor(obj)
        return NotImplemented

    def _reduce_tensor(self, t: Tensor):
        record, offset, stride = self._storage_of(t)
        args = (_StorageArg(record), offset, tuple(t._data.shape), stride, t.requires_grad, OrderedDict())
        if t.dtype in dt.LIMITED_DTYPES:  # over an UntypedStorage, the dtype given last, as PyTorch writes them
            return (REBUILD_TENSOR_V3, args + (t.dtype,))
        return (REBUILD_TENSOR_V2, args)

    def _storage_of(self, t: Tensor):
        if t.dtype not in STORAGE_CLASS_OF_DTYPE and t.dtype not in dt.LIMITED_DTYPES:
            raise TypeError(f"cannot save a tensor of dtype {t.dtype} in a PyTorch checkpoint")
        data = t._data
        if t.device.type == "cpu" and isinstance(data, np.ndarray):
            found = locate_in_root(data)
            if found is not None:
                root, offset, stride = found
                record = self._by_root.get(id(root))
                if record is not None and record.dtype is t.dtype:
                    return record, offset, stride
                if record is None:
                    record = self._new_record(t.dtype, location_tag(t), root.nbytes // t.dtype.itemsize,
                                              as_bytes(root))
                    self._by_root[id(root)] = record
                    self._roots.append(root)
                    return record, offset, stride
            host = np.array(data, order="C", copy=True)
            location = location_tag(t)
        else:
            from ember.ops.creation import to_numpy
            host = np.array(to_numpy(t), order="C")
            location = location_tag(t)  # the device, unless a registered package tags it
        record = self._new_record(t.dtype, location, host.size, as_bytes(host))
        return record, 0, _contiguous_strides(host.shape)

    def _new_record(self, dtype, location, numel, data):
        key = str(len(self.storages))
        record = self.storages[key] = StorageRecord(key, dtype, location, numel, data)
        return record


def _contiguous_strides(shape):
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))
