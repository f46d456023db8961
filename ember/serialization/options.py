"""``torch.serialization``'s options and hooks: load endianness, mmap flags, CRC32 records,
``skip_data``, the location-tag registry (``register_package``, ``location_tag``,
``default_restore_location``) and the small helpers programs import from it.

``ember.save`` asks :func:`location_tag` for each storage's tag and ``ember.load`` restores
each storage through :func:`default_restore_location` (after ``map_location``'s remapping), so
packages registered with :func:`register_package` take part in both.
"""
from __future__ import annotations

import contextlib
import enum
import mmap as _mmap
import shutil
import tempfile
import threading

__all__ = [
    "LoadEndianness", "get_default_load_endianness", "set_default_load_endianness", "get_default_mmap_options",
    "set_default_mmap_options", "get_crc32_options", "set_crc32_options", "SourceChangeWarning", "StorageType",
    "check_module_version_greater_or_equal", "default_restore_location", "location_tag", "mkdtemp",
    "normalize_storage_type", "register_package", "skip_data", "storage_to_tensor_type", "validate_cuda_device",
    "validate_hpu_device",
]

_STATE = {"endianness": None, "mmap_flags": _mmap.MAP_PRIVATE, "crc32": True}
_SKIP = threading.local()   # .active: inside a skip_data block


# ---------------------------------------------------------------- options
class LoadEndianness(enum.Enum):
    """The byte order ``load`` assumes for a checkpoint that records none."""
    NATIVE = 1
    LITTLE = 2
    BIG = 3


def get_default_load_endianness():
    """The byte order assumed for checkpoints without a byte-order record.

    Returns:
        A ``LoadEndianness``, or None (the default: little-endian, what such old files hold).
    """
    return _STATE["endianness"]


def set_default_load_endianness(endianness) -> None:
    """Set the byte order assumed for checkpoints without a byte-order record.

    Args:
        endianness: a ``LoadEndianness`` or None.

    Raises:
        TypeError: for anything else.
    """
    if endianness is not None and not isinstance(endianness, LoadEndianness):
        raise TypeError("Invalid argument type in function set_default_load_endianness")
    _STATE["endianness"] = endianness


def assumed_byteorder() -> str:
    """``"little"`` or ``"big"``: what ``load`` assumes without a byte-order record."""
    import sys
    chosen = _STATE["endianness"]
    if chosen is LoadEndianness.BIG:
        return "big"
    if chosen is LoadEndianness.NATIVE:
        return sys.byteorder
    return "little"


def get_default_mmap_options() -> int:
    """The ``mmap`` flags ``load(mmap=True)`` maps checkpoints with.

    Returns:
        ``mmap.MAP_PRIVATE`` (default: writes to loaded tensors stay in memory) or
        ``mmap.MAP_SHARED`` (writes go to the file).
    """
    return _STATE["mmap_flags"]


def set_default_mmap_options(flags: int) -> None:
    """Set the ``mmap`` flags of ``load(mmap=True)``; usable as a context manager that restores them.

    Args:
        flags: ``mmap.MAP_PRIVATE`` or ``mmap.MAP_SHARED``.

    Returns:
        A context manager (entering it does nothing more; leaving it restores the old flags).

    Raises:
        ValueError: for other flags.
    """
    if flags not in (_mmap.MAP_PRIVATE, _mmap.MAP_SHARED):
        raise ValueError(f"Invalid argument in function set_default_mmap_options, expected mmap.MAP_PRIVATE or "
                         f"mmap.MAP_SHARED, but got {flags}")
    previous = _STATE["mmap_flags"]
    _STATE["mmap_flags"] = flags
    return _Restore("mmap_flags", previous)


def get_crc32_options() -> bool:
    """Whether ``save`` computes the CRC32 of each record.

    Returns:
        The flag (default True).
    """
    return _STATE["crc32"]


def set_crc32_options(compute_crc32: bool) -> None:
    """Set whether ``save`` computes records' CRC32s (without them, the zip's checksums are 0: faster
    saves, which ``ember.load`` and ``torch.load`` read; zip tools report bad checksums).

    Args:
        compute_crc32: the flag.
    """
    _STATE["crc32"] = bool(compute_crc32)


class _Restore:
    def __init__(self, key, previous):
        self.key, self.previous = key, previous

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _STATE[self.key] = self.previous
        return False


class skip_data:
    """Context manager: ``save`` writes each storage's record as zero bytes of its size (to be filled
    in a later pass) and ``load`` builds tensors without reading storage bytes (they hold zeros).

    Args:
        materialize_fake_tensors: accepted for PyTorch's signature (ember has no fake tensors).
    """

    def __init__(self, materialize_fake_tensors: bool = False):
        self.materialize_fake_tensors = materialize_fake_tensors

    def __enter__(self):
        self._previous = getattr(_SKIP, "active", False)
        _SKIP.active = True
        return self

    def __exit__(self, *exc):
        _SKIP.active = self._previous
        return False


def skipping_data() -> bool:
    """Whether a ``skip_data`` block is active in this thread."""
    return getattr(_SKIP, "active", False)


# ---------------------------------------------------------------- location tags
_PACKAGES = []   # (priority, tagger, deserializer), sorted by priority


def register_package(priority: int, tagger, deserializer) -> None:
    """Register how storages on some device are tagged by ``save`` and restored by ``load``.

    Args:
        priority: lower runs first (the built-in CPU package has 10, accelerators 20).
        tagger: ``tagger(storage) -> str | None``: the location tag, or None if not its device.
        deserializer: ``deserializer(storage, location) -> storage | None``: the storage restored
            to ``location``, or None if it does not handle that location.

    Raises:
        TypeError: if ``tagger`` or ``deserializer`` is not callable or ``priority`` not an int.
    """
    if not callable(tagger):
        raise TypeError(f"tagger must be callable, but got {type(tagger)}")
    if not callable(deserializer):
        raise TypeError(f"deserializer must be callable, but got {type(deserializer)}")
    if not isinstance(priority, int):
        raise TypeError(f"expected an int priority, but got {type(priority)}")
    _PACKAGES.append((priority, tagger, deserializer))
    _PACKAGES.sort(key=lambda entry: entry[0])


def _device_of(storage):
    device = getattr(storage, "device", None)
    return None if device is None else getattr(device, "type", str(device))


def _builtin_tag(storage):
    device = getattr(storage, "device", None)
    return None if device is None else str(device)


def location_tag(storage) -> str:
    """The location tag ``save`` writes for ``storage`` (a storage or a tensor): the first registered
    tagger's answer, else its device (``"cpu"``, ``"cuda:0"``, ``"opencl:0"``).

    Args:
        storage: a storage or tensor.

    Returns:
        The tag.

    Raises:
        RuntimeError: if nothing can tag it.
    """
    for _, tagger, _ in _PACKAGES:
        tag = tagger(storage)
        if tag:
            return tag
    tag = _builtin_tag(storage)
    if tag:
        return tag
    raise RuntimeError(f"don't know how to determine data location of {type(storage).__module__}."
                       f"{type(storage).__name__}")


def default_restore_location(storage, location: str):
    """Restore a loaded storage to ``location``: the first registered deserializer that handles it,
    else ember's own (the device the tag names, if a backend provides it).

    Args:
        storage: the storage as read (on the CPU).
        location: its tag.

    Returns:
        The restored storage.

    Raises:
        RuntimeError: if no deserializer handles the tag, or its device cannot be used here.
    """
    for _, _, deserializer in _PACKAGES:
        result = deserializer(storage, location)
        if result is not None:
            return result
    from ember.core.device import KNOWN_TYPES
    kind = str(location).partition(":")[0]
    if kind not in KNOWN_TYPES:
        raise RuntimeError(f"don't know how to restore data location of {type(storage).__module__}."
                           f"{type(storage).__name__} (tagged with {location})")
    if location == "cpu":
        return storage
    from ember.serialization.checkpoint import _restore_device
    return storage.to(_restore_device(location))


def _validate(location, kind, module_name, hint):
    import importlib
    module = importlib.import_module(module_name) if module_name else None
    if module is None or not module.is_available():
        raise RuntimeError(hint)
    from ember.core.device import device
    index = device(location).index or 0
    count = module.device_count()
    if index >= count:
        raise RuntimeError(f"Attempting to deserialize object on {kind} device {index} but "
                           f"{module_name}.device_count() is {count}. Please use ember.load with map_location "
                           f"to map your storages to an existing device.")
    return index


def validate_cuda_device(location) -> int:
    """The CUDA device index a location tag names, after checking it exists here.

    Args:
        location: a tag such as ``"cuda:1"`` (or a device).

    Returns:
        The index.

    Raises:
        RuntimeError: if CUDA is unavailable or the index is out of range.
    """
    return _validate(location, "CUDA", "ember.cuda",
                     "Attempting to deserialize object on a CUDA device but ember.cuda.is_available() is False. "
                     "If you are running on a CPU-only machine, please use ember.load with "
                     "map_location=ember.device('cpu') to map your storages to the CPU.")


def validate_hpu_device(location) -> int:
    """The HPU device index a location tag names; ember has no HPU backend, so it raises.

    Args:
        location: a tag such as ``"hpu:0"``.

    Raises:
        RuntimeError: always (as PyTorch without the HPU module).
    """
    return _validate(location, "HPU", None,
                     "The HPU device module is not registered. If you are running on a CPU-only machine, please "
                     "use ember.load with map_location=ember.device('cpu') to map your storages to the CPU.")


# ---------------------------------------------------------------- small helpers
class SourceChangeWarning(Warning):
    """The source of a class saved in a (legacy) checkpoint changed since it was saved."""


class StorageType:
    """A legacy storage type named in a checkpoint (``StorageType("FloatStorage").dtype`` is float32).

    Args:
        name: the storage class's name.

    Raises:
        KeyError: for a name that is not a storage class.
    """

    def __init__(self, name):
        from ember.serialization.storage import STORAGE_TYPES
        self._name = name
        self._dtype = STORAGE_TYPES[name].dtype

    @property
    def dtype(self):
        """The element type."""
        return self._dtype

    def __str__(self):
        return f"StorageType(dtype={self._dtype})"

    __repr__ = __str__


def check_module_version_greater_or_equal(module, req_version_tuple, error_if_malformed=True) -> bool:
    """Whether ``module.__version__`` is at least ``req_version_tuple``.

    Args:
        module: a module with ``__version__`` (``"1.20.3"``).
        req_version_tuple: the required version, e.g. ``(1, 20)``.
        error_if_malformed: raise on an unreadable version (else warn and return False).

    Returns:
        A bool.

    Raises:
        RuntimeError: for a malformed version string, if ``error_if_malformed``.
    """
    version_strs = module.__version__.split(".")
    try:
        found = tuple(type(want)(version_strs[i]) for i, want in enumerate(req_version_tuple))
    except (ValueError, IndexError) as exc:
        message = (f"'{module.__name__}' module version string is malformed '{module.__version__}' and cannot be "
                   f"compared with tuple {req_version_tuple}")
        if error_if_malformed:
            raise RuntimeError(message) from exc
        import warnings
        warnings.warn(message + ", but continuing assuming that requirement is met", stacklevel=2)
        return True
    return found >= tuple(req_version_tuple)


@contextlib.contextmanager
def mkdtemp():
    """Context manager: a fresh temporary directory, removed (with its contents) on exit.

    Yields:
        The directory's path.
    """
    path = tempfile.mkdtemp()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def normalize_storage_type(storage_type):
    """The ``ember`` attribute of the same name as ``storage_type`` (legacy storage classes).

    Args:
        storage_type: a storage class.

    Returns:
        ``getattr(ember, storage_type.__name__)``.
    """
    import ember
    return getattr(ember, storage_type.__name__)


def storage_to_tensor_type(storage):
    """The legacy tensor type of a storage: ``FloatStorage`` -> ``FloatTensor`` in the storage class's module.

    Args:
        storage: a storage object.

    Returns:
        The class named like the storage's with ``Tensor`` for ``Storage``.

    Raises:
        AttributeError: if that module has no such class.
    """
    import importlib
    storage_type = type(storage)
    module = importlib.import_module(storage_type.__module__)
    return getattr(module, storage_type.__name__.replace("Storage", "Tensor"))
