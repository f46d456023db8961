"""Reading a checkpoint's pickle: the safe (weights-only) unpickler and the full one.

The weights-only unpickler resolves a global only when its ``module.name`` is on an
allow-list (containers, the ``torch._utils`` rebuild functions, storage classes,
``torch.Size``, dtypes, devices, and what :func:`add_safe_globals` added). Nothing is
imported to resolve a name, and any other global raises :class:`pickle.UnpicklingError`
before it could be called, so loading an untrusted file runs none of its code.

The full unpickler (``weights_only=False``) resolves every global as :mod:`pickle`
does, except that ``torch.*`` names resolve to their ember equivalents.
"""
from __future__ import annotations

import codecs
import collections
import contextlib
import importlib
import pickle
import warnings

from ember.core import dtype as dt
from ember.core.device import device as Device
from ember.core.tensor import Size, Tensor, make_tensor
from ember.serialization.storage import STORAGE_TYPES, UNSUPPORTED_STORAGE_CLASSES, Storage, view_of_storage


# ---------------------------------------------------------------- rebuild functions (torch._utils names)
def _cpu():
    from ember.ops.creation import CPU
    return CPU


def _tensor_on_device(array, dtype, device):
    t = make_tensor(array, dtype, _cpu())
    if device is not None and device.type != "cpu":
        from ember.ops.creation import to_device
        t = to_device(t, device)
    return t


def rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                      metadata=None):
    """``torch._utils._rebuild_tensor_v2``: a tensor viewing ``storage``."""
    array = view_of_storage(storage, storage_offset, size, stride)
    t = _tensor_on_device(array, storage.dtype, storage.device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype,
                      metadata=None):
    """``torch._utils._rebuild_tensor_v3``: like v2 over a byte storage, with the dtype given."""
    if not isinstance(dtype, dt.dtype):
        raise pickle.UnpicklingError(f"_rebuild_tensor_v3 expects a dtype, got {dtype!r}")
    if not isinstance(storage, Storage):
        raise TypeError(f"expected a storage to rebuild a tensor from, got {type(storage).__name__}")
    raw = storage._array.view("uint8")
    if raw.nbytes % dtype.itemsize:
        raise RuntimeError(f"a storage of {raw.nbytes} bytes cannot hold whole {dtype} elements")
    typed = Storage(raw.view(dtype.numpy), dtype, storage.device)
    return rebuild_tensor_v2(typed, storage_offset, size, stride, requires_grad, backward_hooks, metadata)


def rebuild_tensor(storage, storage_offset, size, stride):
    """``torch._utils._rebuild_tensor`` (older checkpoints)."""
    return rebuild_tensor_v2(storage, storage_offset, size, stride)


def _parameter_class():
    try:
        from ember.nn.parameter import Parameter
    except ImportError:
        return None
    return Parameter if isinstance(Parameter, type) else None


def _make_parameter(data, requires_grad):
    if not isinstance(data, Tensor):
        raise TypeError(f"a parameter is rebuilt from a tensor, got {type(data).__name__}")
    cls = _parameter_class()
    if cls is None:  # ember.nn not available: a leaf tensor with the same flag
        return data.requires_grad_(bool(requires_grad)) if data.dtype.is_floating_point else data
    return cls(data, requires_grad=bool(requires_grad))


def rebuild_parameter(data, requires_grad, backward_hooks=None):
    """``torch._utils._rebuild_parameter``."""
    return _make_parameter(data, requires_grad)


def rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    """``torch._utils._rebuild_parameter_with_state``: a parameter plus Python attributes."""
    param = _make_parameter(data, requires_grad)
    _apply_state(param, state)
    return param


def rebuild_from_type_v2(func, new_type, args, state):
    """``torch._tensor._rebuild_from_type_v2``: rebuild with ``func``, then give it ``new_type``."""
    if not callable(func):
        raise pickle.UnpicklingError(f"_rebuild_from_type_v2 expects a function, got {func!r}")
    result = func(*args)
    if isinstance(new_type, type) and type(result) is not new_type:
        if new_type is Tensor:
            pass
        elif _parameter_class() is not None and new_type is _parameter_class():
            result = _make_parameter(result, result.requires_grad)
        elif isinstance(new_type, type) and issubclass(new_type, Tensor):
            result = _as_subclass(result, new_type)
    _apply_state(result, state)
    return result


def _as_subclass(t: Tensor, cls):
    out = object.__new__(cls)
    for slot in Tensor.__slots__:
        if slot != "__weakref__":
            setattr(out, slot, getattr(t, slot))
    return out


def _apply_state(obj, state):
    if not state:
        return
    if isinstance(state, tuple) and len(state) == 2:  # (dict state, slots state)
        merged = dict(state[0] or {})
        merged.update(state[1] or {})
        state = merged
    if not isinstance(state, dict):
        raise pickle.UnpicklingError(f"tensor state must be a dict, got {type(state).__name__}")
    for name, value in state.items():
        try:
            setattr(obj, name, value)
        except AttributeError:
            warnings.warn(f"ember.load: dropped attribute {name!r} of a {type(obj).__name__}: "
                          f"ember tensors cannot hold extra attributes", stacklevel=3)


_TEXT_CODECS = {"latin1", "latin-1", "iso-8859-1", "iso8859-1", "utf-8", "utf8", "ascii"}


def bytes_from_text(text, encoding="latin1"):
    """``_codecs.encode`` as protocol-2 pickles use it for ``bytes``; plain text codecs only."""
    if not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode expects a str, got {type(text).__name__}")
    if not isinstance(encoding, str) or encoding.lower().replace("_", "-") not in _TEXT_CODECS:
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed when "
                                     f"loading weights only")
    return codecs.encode(text, encoding)


# ---------------------------------------------------------------- the allow-list
_TORCH_DTYPE_NAMES = {
    "float32": dt.float32, "float": dt.float32, "float64": dt.float64, "double": dt.float64,
    "float16": dt.float16, "half": dt.float16, "bfloat16": dt.bfloat16, "int8": dt.int8,
    "int16": dt.int16, "short": dt.int16, "int32": dt.int32, "int": dt.int32, "int64": dt.int64,
    "long": dt.int64, "uint8": dt.uint8, "bool": dt.bool_, "complex64": dt.complex64, "cfloat": dt.complex64,
    "complex128": dt.complex128, "cdouble": dt.complex128,
    **{d.name: d for d in dt.LIMITED_DTYPES},  # uint16/32/64, float8, float4 (saved over an UntypedStorage)
}
_TORCH_DTYPES_EMBER_LACKS = {
    "complex32", "chalf", "qint8", "quint8", "qint32", "quint4x2", "quint2x4", "bits8", "bits16",
    "int1", "int2", "int3", "int4", "int5", "int6", "int7", "uint1", "uint2", "uint3", "uint4",
    "uint5", "uint6", "uint7",
}


def _default_allowed() -> dict:
    allowed = {
        "collections.OrderedDict": collections.OrderedDict,
        "collections.Counter": collections.Counter,
        "builtins.set": set,
        "builtins.frozenset": frozenset,
        "builtins.bytearray": bytearray,
        "builtins.bytes": bytes,
        "builtins.complex": complex,
        "builtins.slice": slice,
        "_codecs.encode": bytes_from_text,
        "torch._utils._rebuild_tensor": rebuild_tensor,
        "torch._utils._rebuild_tensor_v2": rebuild_tensor_v2,
        "torch._utils._rebuild_tensor_v3": rebuild_tensor_v3,
        "torch._utils._rebuild_parameter": rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": rebuild_parameter_with_state,
        "torch._tensor._rebuild_from_type_v2": rebuild_from_type_v2,
        "torch.Size": Size,
        "torch.device": Device,
        "torch.Tensor": Tensor,
    }
    from ember.ops.sparse import layout_by_name, rebuild_sparse_tensor
    allowed["torch._utils._rebuild_sparse_tensor"] = rebuild_sparse_tensor   # sparse tensors, by their parts
    allowed["torch.serialization._get_layout"] = layout_by_name
    for name, storage_type in STORAGE_TYPES.items():
        allowed[f"torch.{name}"] = storage_type
    allowed["torch.storage.UntypedStorage"] = STORAGE_TYPES["UntypedStorage"]  # (where PyTorch's pickles name it)
    for name, d in _TORCH_DTYPE_NAMES.items():
        allowed[f"torch.{name}"] = d
    return allowed


_ALLOWED = _default_allowed()
_USER_ALLOWED: dict = {}  # "module.qualname" -> object, from add_safe_globals

# Names protocol-2 pickles spell the Python 2 way.
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


def _qualified_name(obj) -> str:
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if module is None or name is None:
        raise TypeError(f"add_safe_globals needs classes or functions (or (object, 'module.name') pairs), "
                        f"got {obj!r}")
    return f"{module}.{name}"


def add_safe_globals(safe_globals) -> None:
    """Allow these classes or functions in checkpoints loaded with ``weights_only=True``.

    Each entry is an object (found under its ``__module__.__qualname__``) or a pair
    ``(object, "module.name")`` for an object pickled under another name.
    """
    for entry in safe_globals:
        if isinstance(entry, tuple):
            if len(entry) != 2 or not isinstance(entry[1], str):
                raise TypeError(f"add_safe_globals expects (object, 'module.name') pairs, got {entry!r}")
            _USER_ALLOWED[entry[1]] = entry[0]
        else:
            _USER_ALLOWED[_qualified_name(entry)] = entry


def get_safe_globals() -> list:
    """What :func:`add_safe_globals` has allowed, as given to it."""
    return [obj if _qualified_name_or_none(obj) == name else (obj, name) for name, obj in _USER_ALLOWED.items()]


def _qualified_name_or_none(obj):
    try:
        return _qualified_name(obj)
    except TypeError:
        return None


def clear_safe_globals() -> None:
    """Forget everything :func:`add_safe_globals` allowed."""
    _USER_ALLOWED.clear()


@contextlib.contextmanager
def safe_globals(safe_globals):
    """Allow these globals inside a ``with`` block only."""
    saved = dict(_USER_ALLOWED)
    add_safe_globals(safe_globals)
    try:
        yield
    finally:
        _USER_ALLOWED.clear()
        _USER_ALLOWED.update(saved)


def resolve_allowed(module: str, name: str):
    """The object an allowed global names; raises UnpicklingError for any other."""
    module = _PY2_MODULES.get(module, module)
    full = f"{module}.{name}"
    found = _ALLOWED.get(full)
    if found is None:
        found = _USER_ALLOWED.get(full)
    if found is not None:
        return found
    if module == "torch" and name in _TORCH_DTYPES_EMBER_LACKS:
        raise pickle.UnpicklingError(f"the checkpoint holds tensors of dtype torch.{name}, which ember does not "
                                     f"support (ember dtypes: {', '.join(d.name for d in dt.ALL_DTYPES)})")
    if module == "torch" and name in UNSUPPORTED_STORAGE_CLASSES:
        raise pickle.UnpicklingError(f"the checkpoint holds a torch.{name} (dtype "
                                     f"{UNSUPPORTED_STORAGE_CLASSES[name]}), which ember does not support")
    raise pickle.UnpicklingError(
        f"Weights-only load refused the global '{full}': it is not on ember's allow-list, and loading "
        f"it could run code from the file. If you trust this checkpoint, either allow it with "
        f"ember.serialization.add_safe_globals([{full}]) (or the ember.serialization.safe_globals([...]) "
        f"context manager) and load again, or load with weights_only=False, which runs any code the "
        f"file contains.")


def resolve_full(module: str, name: str, fallback):
    """Resolve a global for ``weights_only=False``: ``torch.*`` names map to ember's."""
    module = _PY2_MODULES.get(module, module)
    full = f"{module}.{name}"
    if full in _ALLOWED:
        return _ALLOWED[full]
    if full in _USER_ALLOWED:
        return _USER_ALLOWED[full]
    if module == "torch" or module.startswith("torch."):
        if module == "torch" and name in _TORCH_DTYPES_EMBER_LACKS | set(UNSUPPORTED_STORAGE_CLASSES):
            resolve_allowed(module, name)  # raises the dtype error
        if full == "torch.nn.parameter.Parameter" and _parameter_class() is not None:
            return _parameter_class()
        ember_module = "ember" + module[len("torch"):]
        try:
            found = importlib.import_module(ember_module)
            for part in name.split("."):
                found = getattr(found, part)
            return found
        except (ImportError, AttributeError):
            raise pickle.UnpicklingError(f"the checkpoint refers to '{full}', which has no ember equivalent "
                                         f"(looked for '{ember_module}.{name}')") from None
    return fallback(module, name)


# ---------------------------------------------------------------- unpicklers
class _StorageLoading:
    """Mixin: persistent ids ``('storage', type, key, location, numel)`` become Storages."""

    def __init__(self, file, load_storage, **kwargs):
        super().__init__(file, **kwargs)
        self._load_storage = load_storage

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unsupported persistent id in checkpoint: {pid!r}")
        _, storage_type, key, location, numel = pid
        if not any(storage_type is t for t in STORAGE_TYPES.values()):
            raise pickle.UnpicklingError(f"persistent id names an unknown storage type {storage_type!r}")
        if not isinstance(key, str) or not isinstance(location, str):
            raise pickle.UnpicklingError(f"storage key and location must be strings, got {key!r}, {location!r}")
        if not isinstance(numel, int) or isinstance(numel, bool) or numel < 0:
            raise pickle.UnpicklingError(f"storage size must be a non-negative integer, got {numel!r}")
        return self._load_storage(storage_type.dtype, key, location, numel)


class WeightsUnpickler(_StorageLoading, pickle._Unpickler):
    """Resolves only allow-listed globals (``weights_only=True``).

    Built on Python's pure-Python unpickler so that the opcodes that act on objects can
    be checked too: REDUCE and NEWOBJ may only call allow-listed functions and classes,
    and BUILD (setting attributes) is limited to OrderedDict/Counter instances and
    instances of classes added with :func:`add_safe_globals`, so a file cannot change
    ember's own dtype, device or rebuild objects.
    """

    dispatch = pickle._Unpickler.dispatch.copy()

    def __init__(self, file, load_storage, **kwargs):
        super().__init__(file, load_storage, **kwargs)
        self._callables = {id(v) for v in _ALLOWED.values() if callable(v)} - {id(Tensor)}
        self._callables |= {id(v) for v in _USER_ALLOWED.values() if callable(v)}
        self._user_types = tuple(v for v in _USER_ALLOWED.values() if isinstance(v, type))

    def find_class(self, module, name):
        return resolve_allowed(module, name)

    def _check_callable(self, func, opcode):
        if id(func) not in self._callables:
            raise pickle.UnpicklingError(f"Weights-only load refused {opcode} on {func!r}: only allow-listed "
                                         f"functions and classes may be called")

    def _load_reduce(self):
        args = self.stack.pop()
        func = self.stack[-1]
        self._check_callable(func, "REDUCE")
        if type(args) is not tuple:
            raise pickle.UnpicklingError(f"REDUCE expects a tuple of arguments, got {type(args).__name__}")
        self.stack[-1] = func(*args)

    def _load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        self._check_callable(cls, "NEWOBJ")
        if not isinstance(cls, type) or type(args) is not tuple:
            raise pickle.UnpicklingError(f"NEWOBJ expects a class and a tuple, got {cls!r}")
        self.append(cls.__new__(cls, *args))

    def _load_newobj_ex(self):
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self._check_callable(cls, "NEWOBJ_EX")
        if not isinstance(cls, type) or type(args) is not tuple or type(kwargs) is not dict:
            raise pickle.UnpicklingError(f"NEWOBJ_EX expects a class, a tuple and a dict, got {cls!r}")
        self.append(cls.__new__(cls, *args, **kwargs))

    def _load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if type(inst) in (collections.OrderedDict, collections.Counter):
            if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
                raise pickle.UnpicklingError(f"BUILD state for an {type(inst).__name__} must be a dict with "
                                             f"string keys, got {type(state).__name__}")
            inst.__dict__.update(state)
        elif self._user_types and type(inst) in self._user_types:
            self.stack.append(state)
            pickle._Unpickler.load_build(self)
        else:
            raise pickle.UnpicklingError(f"Weights-only load refused to set the state of a "
                                         f"{type(inst).__module__}.{type(inst).__qualname__} object (BUILD)")

    def _refuse(self):
        raise pickle.UnpicklingError("Weights-only load refused a protocol 0/1 instance opcode (INST/OBJ)")

    dispatch[pickle.REDUCE[0]] = _load_reduce
    dispatch[pickle.NEWOBJ[0]] = _load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = _load_newobj_ex
    dispatch[pickle.BUILD[0]] = _load_build
    dispatch[pickle.INST[0]] = _refuse
    dispatch[pickle.OBJ[0]] = _refuse


def full_unpickler_class(base=pickle.Unpickler):
    """An unpickler class over ``base`` that maps ``torch.*`` globals to ember."""

    class FullUnpickler(_StorageLoading, base):
        def find_class(self, module, name):
            return resolve_full(module, name, super().find_class)

    return FullUnpickler


FullUnpickler = full_unpickler_class()
