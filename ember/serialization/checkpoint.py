"""``ember.save`` and ``ember.load``: PyTorch's checkpoint format, read and written.

``save`` pickles the object (see :mod:`.pickler`) and writes the zip archive (see
:mod:`.zipformat`); to a path it writes a temporary file beside the target, flushes and
fsyncs it and renames it over the target, so a failure mid-save leaves an earlier file
at that path whole. ``load`` reads the archive, restores each storage to the device its
location tag or ``map_location`` names, and unpickles with the weights-only unpickler
unless ``weights_only=False``.
"""
from __future__ import annotations

import io
import mmap
import os
import pickle
import sys
import tempfile

import numpy as np

from ember.core.device import device as Device
from ember.serialization import options
from ember.serialization.pickler import CheckpointPickler
from ember.serialization.storage import Storage
from ember.serialization.unpickler import WeightsUnpickler, full_unpickler_class
from ember.serialization.zipformat import ArchiveReader, ArchiveWriter, archive_name_for_path

DEFAULT_PROTOCOL = 2
FORMAT_VERSION = "1"
STORAGE_ALIGNMENT = "64"
ARCHIVE_VERSION = "3\n"


# ---------------------------------------------------------------- save
def _is_path(f) -> bool:
    return isinstance(f, (str, os.PathLike))


def save(obj, f, pickle_module=pickle, pickle_protocol=DEFAULT_PROTOCOL, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False) -> None:
    """Save ``obj`` to ``f`` (a path or a writable binary file object) as a PyTorch checkpoint.

    Tensors that share memory are stored once and share it again after loading.
    Writing to a path is atomic: the file appears whole, or an earlier one stays.
    """
    if not _use_new_zipfile_serialization:
        raise RuntimeError("ember.save writes only the zip checkpoint format; the legacy format "
                           "(_use_new_zipfile_serialization=False) is not supported")
    if pickle_module is not pickle:
        raise RuntimeError(f"ember.save pickles with its own pickler; pickle_module={pickle_module!r} "
                           f"is not supported")
    if not isinstance(pickle_protocol, int) or not 2 <= pickle_protocol <= pickle.HIGHEST_PROTOCOL:
        raise ValueError(f"pickle_protocol must be an integer from 2 to {pickle.HIGHEST_PROTOCOL}, "
                         f"got {pickle_protocol!r}")
    buffer = io.BytesIO()
    pickler = CheckpointPickler(buffer, protocol=pickle_protocol)
    pickler.dump(obj)
    pickled = buffer.getbuffer()
    if _is_path(f):
        path = os.fspath(f)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        _write_atomically(path, lambda fh: _write_archive(fh, archive_name_for_path(path), pickled,
                                                          pickler.storages, _disable_byteorder_record))
    elif hasattr(f, "write"):
        _write_archive(f, "archive", pickled, pickler.storages, _disable_byteorder_record)
        flush = getattr(f, "flush", None)
        if flush is not None:
            flush()
    else:
        raise TypeError(f"ember.save expects a path or a writable file object, got {type(f).__name__}")


def _write_archive(file, archive_name, pickled, storages, disable_byteorder) -> None:
    writer = ArchiveWriter(file, archive_name)
    writer.write_record("data.pkl", pickled)
    writer.write_record(".format_version", FORMAT_VERSION)
    writer.write_record(".storage_alignment", STORAGE_ALIGNMENT)
    if not disable_byteorder:
        writer.write_record("byteorder", sys.byteorder)
    skip = options.skipping_data()  # skip_data(): the records keep their size, holding zeros
    for key, record in storages.items():
        writer.write_record(f"data/{key}", np.zeros(memoryview(record.data).nbytes, np.uint8) if skip
                            else record.data)
    writer.write_record("version", ARCHIVE_VERSION)
    writer.write_record(".data/serialization_id", writer.serialization_id())
    writer.finish()


def _default_file_mode() -> int:
    umask = None
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    umask = int(line.split()[1], 8)
                    break
    except OSError:
        pass
    if umask is None:
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def _write_atomically(path: str, write) -> None:
    """Run ``write(file)`` on a temporary file beside ``path``, then move it over ``path``."""
    if os.path.islink(path):
        path = os.path.realpath(path)  # replace the file the link points to, keep the link
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise RuntimeError(f"cannot save to '{path}': parent directory '{directory}' does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save to '{path}': it is a directory")
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = _default_file_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync directories; the rename itself is done
    finally:
        os.close(fd)


# ---------------------------------------------------------------- load
def _restore_device(location: str):
    from ember.ops.creation import canonical_device
    if location == "cpu":
        return canonical_device("cpu")
    try:
        return canonical_device(location)
    except RuntimeError as exc:
        raise RuntimeError(f"the checkpoint has a storage on device '{location}', which cannot be restored "
                           f"here ({exc}); pass map_location='cpu' (or another available device) to "
                           f"ember.load to put its storages there") from None


def _location_mapper(map_location):
    """``(storage, location) -> Storage`` as PyTorch interprets ``map_location``."""
    def default(storage, location):  # registered packages first (ember.serialization.register_package)
        return options.default_restore_location(storage, location)

    if map_location is None:
        return default
    if isinstance(map_location, dict):
        table = {str(k): str(v) for k, v in map_location.items()}
        return lambda storage, location: default(storage, table.get(location, location))
    if isinstance(map_location, (str, bytes)):
        target = map_location.decode() if isinstance(map_location, bytes) else map_location
        return lambda storage, location: default(storage, target)
    if isinstance(map_location, Device):
        target = str(map_location)
        return lambda storage, location: default(storage, target)
    if callable(map_location):
        def call(storage, location):
            result = map_location(storage, location)
            if result is None:
                return default(storage, location)
            if not isinstance(result, Storage):
                raise TypeError(f"map_location returned a {type(result).__name__}; it must return the storage "
                                f"it was given (optionally moved with .to(), .cpu() or .cuda()) or None")
            return result
        return call
    raise TypeError(f"map_location must be None, a string, an ember.device, a dict or a callable, "
                    f"got {type(map_location).__name__}")


class _StorageSource:
    """Loads each storage record once (by key) and hands out Storages of it."""

    def __init__(self, reader: ArchiveReader, mmap_path, map_location, byteorder):
        self._reader = reader
        self._mmap_path = mmap_path
        self._restore = _location_mapper(map_location)
        self._swap = byteorder != sys.byteorder
        self._bytes: dict[str, np.ndarray] = {}
        self._swapped: set[str] = set()
        self._restored: dict[str, tuple] = {}

    def _raw(self, key: str) -> np.ndarray:
        raw = self._bytes.get(key)
        if raw is None:
            name = f"data/{key}"
            size = self._reader.record_size(name)
            offset = self._reader.data_offset(name) if self._mmap_path is not None else None
            if options.skipping_data():  # skip_data(): tensors get their shapes, not the bytes
                raw = np.zeros(size, dtype=np.uint8)
            elif offset is not None and size:
                shared = options.get_default_mmap_options() == mmap.MAP_SHARED  # writes go to the file
                raw = np.memmap(self._mmap_path, dtype=np.uint8, mode="r+" if shared else "c", offset=offset,
                                shape=(size,))
            else:
                raw = np.empty(size, dtype=np.uint8)
                self._reader.read_into(name, raw)
            self._bytes[key] = raw
        return raw

    def __call__(self, dtype, key, location, numel) -> Storage:
        """The storage ``key`` as ``dtype``, restored once per key (map_location sees it once)."""
        cached = self._restored.get(key)
        if cached is not None and cached[0] is dtype and cached[1] == numel:
            return cached[2]
        storage = self._load(dtype, key, location, numel)
        self._restored[key] = (dtype, numel, storage)
        return storage

    def _load(self, dtype, key, location, numel) -> Storage:
        raw = self._raw(key)
        nbytes = numel * dtype.itemsize
        if nbytes > raw.nbytes:
            raise RuntimeError(f"storage '{key}' should hold {numel} elements of {dtype} ({nbytes} bytes), but "
                               f"its record has {raw.nbytes} bytes")
        typed = raw[:nbytes].view(dtype.numpy)
        if self._swap and dtype.itemsize > 1 and key not in self._swapped:
            typed.byteswap(inplace=True)
            self._swapped.add(key)
        return self._restore(Storage(typed, dtype, _restore_device("cpu")), location)


def _open_for_reading(f):
    if _is_path(f):
        return open(f, "rb"), True
    if not hasattr(f, "read"):
        raise TypeError(f"ember.load expects a path or a readable binary file object, got {type(f).__name__}")
    seekable = getattr(f, "seekable", None)
    if seekable is None or not seekable():
        return io.BytesIO(f.read()), True
    return f, False


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Load an object saved by ``ember.save`` or ``torch.save`` (the zip format).

    ``weights_only`` (default True) resolves only allow-listed globals: tensors,
    containers, dtypes, devices, ``OrderedDict`` and what
    :func:`ember.serialization.add_safe_globals` added. ``weights_only=False`` unpickles
    anything, running the file's code: use it only for files you trust.
    ``map_location`` is None (restore each storage where it was saved), a device (or its
    name), a dict from saved location to new location, or ``callable(storage, location)``.
    ``mmap=True`` maps storages from the file (copy-on-write) instead of reading them.
    """
    if weights_only is None:
        weights_only = pickle_module is None
    if weights_only and pickle_module is not None:
        raise RuntimeError("ember.load cannot load weights only with an explicit pickle_module; pass "
                           "weights_only=False to use your pickle_module (only for trusted files)")
    if mmap and not _is_path(f):
        raise ValueError(f"ember.load(mmap=True) needs a file path, got {type(f).__name__}")
    pickle_load_args.setdefault("encoding", "utf-8")
    file, owned = _open_for_reading(f)
    try:
        start = file.tell()
        magic = file.read(4)
        file.seek(start)
        if magic[:2] != b"PK":
            raise RuntimeError("ember.load reads the zip checkpoint format that torch.save has written since "
                               "PyTorch 1.6; this file is not a zip archive (a legacy-format or corrupt file). "
                               "Re-save it with a current torch.save.")
        reader = ArchiveReader(file)
        if not reader.has_record("data.pkl"):
            if reader.has_record("constants.pkl"):
                raise RuntimeError("this file is a TorchScript archive (torch.jit.save); ember.load reads "
                                   "torch.save checkpoints only")
            raise RuntimeError(f"checkpoint archive '{reader.archive_name}' has no data.pkl record")
        byteorder = options.assumed_byteorder()  # for files without the record (set_default_load_endianness)
        if reader.has_record("byteorder"):
            byteorder = reader.read("byteorder").decode("ascii", "replace").strip()
            if byteorder not in ("little", "big"):
                raise RuntimeError(f"checkpoint has an unknown byte order record {byteorder!r}")
        source = _StorageSource(reader, os.fspath(f) if mmap else None, map_location, byteorder)
        data = io.BytesIO(reader.read("data.pkl"))
        if weights_only:
            unpickler = WeightsUnpickler(data, source, **pickle_load_args)
        else:
            base = pickle.Unpickler if pickle_module is None else pickle_module.Unpickler
            unpickler = full_unpickler_class(base)(data, source, **pickle_load_args)
        return unpickler.load()
    finally:
        if owned:
            file.close()
