"""``torch.PyTorchFileReader`` / ``torch.PyTorchFileWriter``: record-level access to PyTorch's zip
archive format (what ``save`` writes), over ember's reader and writer (:mod:`.zipformat`)."""
from __future__ import annotations

import os
import sys

import numpy as np

from ember.serialization.zipformat import ArchiveReader, ArchiveWriter, archive_name_for_path

__all__ = ["PyTorchFileReader", "PyTorchFileWriter"]


class PyTorchFileWriter:
    """Writes named records into a PyTorch zip archive.

    Args:
        file: a path or a writable binary file object.
        compute_crc32: whether records get CRC32 checksums.
        storage_alignment: accepted for PyTorch's signature (records are 64-byte aligned).
    """

    def __init__(self, file, compute_crc32=True, storage_alignment=64):
        self._owned = isinstance(file, (str, os.PathLike))
        self._file = open(file, "wb") if self._owned else file
        name = archive_name_for_path(os.fspath(file)) if self._owned else "archive"
        self._writer = ArchiveWriter(self._file, name)
        self._crc = compute_crc32
        self._written = set()
        self._min_version = 3
        self._ended = False

    def archive_name(self) -> str:
        """The archive's folder name (``"archive"`` for a file object)."""
        return self._writer.archive_name

    def write_record(self, name: str, data, size: int = None) -> None:
        """Write record ``name`` holding ``data`` (bytes or a buffer; ``size`` bytes of it if given).

        Raises:
            RuntimeError: if the record was written already or the archive is finished.
        """
        if self._ended:
            raise RuntimeError("PyTorchFileWriter: the archive is finished (write_end_of_file was called)")
        if name in self._written:
            raise RuntimeError(f"Tried to serialize file twice: {name}")
        view = memoryview(data).cast("B")
        if size is not None:
            view = view[:size]
        from ember.serialization import options
        previous = options.get_crc32_options()
        options.set_crc32_options(self._crc)
        try:
            self._writer.write_record(name, view)
        finally:
            options.set_crc32_options(previous)
        self._written.add(name)

    def write_record_metadata(self, name: str, size: int) -> None:
        """Write record ``name`` of ``size`` zero bytes (its place, to be filled in a later pass)."""
        self.write_record(name, np.zeros(size, np.uint8))

    def set_min_version(self, version: int) -> None:
        """Raise the format version recorded in the archive's ``version`` record."""
        self._min_version = max(self._min_version, int(version))

    def get_all_written_records(self) -> set:
        """The names of the records written so far."""
        return set(self._written)

    def serialization_id(self) -> str:
        """The archive's id: a checksum of its records and random digits (written at the end)."""
        if not hasattr(self, "_id"):
            self._id = self._writer.serialization_id()
        return self._id

    def write_end_of_file(self) -> None:
        """Write the ``version``, ``byteorder`` and id records and the zip's directory; close an owned file."""
        if self._ended:
            return
        if "version" not in self._written:
            self.write_record("version", f"{self._min_version}\n".encode())
        if "byteorder" not in self._written:
            self.write_record("byteorder", sys.byteorder.encode())
        self.write_record(".data/serialization_id", self.serialization_id().encode())
        self._writer.finish()
        self._ended = True
        if self._owned:
            self._file.close()
        else:
            flush = getattr(self._file, "flush", None)
            if flush is not None:
                flush()


class PyTorchFileReader:
    """Reads named records of a PyTorch zip archive.

    Args:
        file: a path or a readable, seekable binary file object.
    """

    def __init__(self, file):
        self._file = open(file, "rb") if isinstance(file, (str, os.PathLike)) else file
        self._reader = ArchiveReader(self._file)

    def _check(self, name):
        if not self._reader.has_record(name):
            raise RuntimeError(f"PytorchStreamReader failed locating file {name}: file not found")

    def get_all_records(self) -> list:
        """The record names, in archive order."""
        return self._reader.names()

    def has_record(self, name: str) -> bool:
        """Whether record ``name`` exists."""
        return self._reader.has_record(name)

    def get_record(self, name: str) -> bytes:
        """The bytes of record ``name``.

        Raises:
            RuntimeError: if there is no such record.
        """
        self._check(name)
        return self._reader.read(name)

    def get_record_size(self, name: str) -> int:
        """The size of record ``name`` in bytes."""
        self._check(name)
        return self._reader.record_size(name)

    def get_record_offset(self, name: str) -> int:
        """Where record ``name``'s bytes start in the file."""
        self._check(name)
        return self._reader.data_offset(name)

    get_record_offset_no_read = get_record_offset

    def get_record_header_offset(self, name: str) -> int:
        """Where record ``name``'s local zip header starts in the file."""
        self._check(name)
        return self._reader._info(name).header_offset

    def get_storage_from_record(self, name: str, numel: int, dtype):
        """Record ``name`` read as a 1-d tensor of ``numel`` elements of ``dtype``."""
        from ember.ops.creation import from_numpy
        self._check(name)
        raw = np.empty(numel * dtype.itemsize, np.uint8)
        self._reader.read_into(name, raw)
        return from_numpy(raw.view(dtype.numpy))

    def serialization_id(self) -> str:
        """The archive's id record, or "" if it has none."""
        name = ".data/serialization_id"
        return self._reader.read(name).decode() if self._reader.has_record(name) else ""
