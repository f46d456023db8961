"""The zip container of a PyTorch checkpoint: writing it record by record, reading it back.

A checkpoint is an uncompressed ("stored") zip archive whose entries all live under one
top-level folder, the *archive name* (the file's stem, or ``archive`` for file objects):

    <name>/data.pkl                 the pickled object graph
    <name>/.format_version          "1"
    <name>/.storage_alignment       "64"
    <name>/byteorder                "little" or "big"
    <name>/data/<key>               raw bytes of one storage, one record per storage
    <name>/version                  "3\\n"
    <name>/.data/serialization_id   40 decimal digits

The writer reproduces the byte layout PyTorch's writer produces, so that files look the
same to any tool: every record's bytes start at a multiple of 64 (padding travels in a
local-header extra field with id ``FB`` filled with ``Z``), local headers carry zero
CRC and sizes and set general-purpose flag bit 3, the real values follow the data in a
data descriptor, DOS dates are zero, and a ZIP64 end-of-central-directory record and
locator always precede the classic end record. ZIP64 extra fields are added per entry
only where a size or offset needs more than 32 bits.

The reader takes the central directory from :mod:`zipfile` and reads record bytes
itself, straight into a caller's array, or maps them from the file.
"""
from __future__ import annotations

import random
import struct
import zipfile
import zlib

ALIGNMENT = 64
ZIP64_LIMIT = 0xFFFFFFFF  # sizes/offsets at or above this need ZIP64 fields (patchable in tests)

_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")           # 30 bytes
_CENTRAL_HEADER = struct.Struct("<IHHHHHHIIIHHHHHII")   # 46 bytes
_DESCRIPTOR32 = struct.Struct("<IIII")
_DESCRIPTOR64 = struct.Struct("<IIQQ")
_ZIP64_END = struct.Struct("<IQHHIIQQQQ")                # 56 bytes
_ZIP64_LOCATOR = struct.Struct("<IIQI")
_END = struct.Struct("<IHHHHIIH")

_SIG_LOCAL, _SIG_CENTRAL, _SIG_DESCRIPTOR = 0x04034B50, 0x02014B50, 0x08074B50
_SIG_ZIP64_END, _SIG_ZIP64_LOCATOR, _SIG_END = 0x06064B50, 0x07064B50, 0x06054B50
_FLAGS = 0x0808            # bit 3: sizes in a data descriptor; bit 11: UTF-8 names
_PADDING_ID = b"FB"
_ZIP64_ID = 0x0001
_VERSION_ZIP64 = 45
_MADE_BY_ZIP64_END = 0x031E  # what PyTorch's writer puts in the ZIP64 end record


def archive_name_for_path(path: str) -> str:
    """The top-level folder name for a checkpoint written to ``path``: its stem.

    Like PyTorch: the last path component with its last extension removed; names that
    are not ASCII, or empty, give ``archive``.
    """
    base = path.replace("\\", "/").rsplit("/", 1)[-1]
    stem = base[:base.rfind(".")] if "." in base else base
    if not stem or not stem.isascii():
        return "archive"
    return stem


class _Entry:
    __slots__ = ("name", "offset", "size", "crc", "zip64")

    def __init__(self, name, offset, size, crc, zip64):
        self.name, self.offset, self.size, self.crc, self.zip64 = name, offset, size, crc, zip64


class ArchiveWriter:
    """Writes records into a checkpoint zip on a binary file object, front to back.

    Only ``write`` is used on the file, never ``seek``, so pipes and sockets work too.
    Call :meth:`finish` after the last record to write the central directory.
    """

    def __init__(self, file, archive_name: str = "archive"):
        self._file = file
        self._prefix = archive_name + "/"
        self._offset = 0
        self._entries: list[_Entry] = []
        self._names: set[str] = set()
        self._combined_crc = 0
        self._finished = False

    @property
    def archive_name(self) -> str:
        return self._prefix[:-1]

    def _write(self, data) -> None:
        self._file.write(data)
        self._offset += memoryview(data).nbytes

    def write_record(self, name: str, data) -> None:
        """Add ``<archive>/<name>`` holding ``data`` (bytes, str, or any C-contiguous buffer)."""
        if self._finished:
            raise RuntimeError(f"cannot add record '{name}': the archive is already finished")
        if isinstance(data, str):
            data = data.encode("utf-8")
        view = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
        full_name = self._prefix + name
        if full_name in self._names:
            raise RuntimeError(f"record '{full_name}' was already written to this archive")
        encoded = full_name.encode("utf-8")
        size = view.nbytes
        offset = self._offset
        zip64 = size >= ZIP64_LIMIT or offset >= ZIP64_LIMIT
        zip64_extra = b""
        if zip64:
            fields = []
            if size >= ZIP64_LIMIT:
                fields += [size, size]
            if offset >= ZIP64_LIMIT:
                fields.append(offset)
            zip64_extra = struct.pack(f"<HH{len(fields)}Q", _ZIP64_ID, 8 * len(fields), *fields)
        start = offset + _LOCAL_HEADER.size + len(encoded) + len(zip64_extra) + 4
        pad = -start % ALIGNMENT
        extra = zip64_extra + _PADDING_ID + struct.pack("<H", pad) + b"Z" * pad
        self._write(_LOCAL_HEADER.pack(_SIG_LOCAL, 0, _FLAGS, 0, 0, 0, 0, 0, 0, len(encoded), len(extra)))
        self._write(encoded)
        self._write(extra)
        crc = 0
        from ember.serialization.options import get_crc32_options
        compute_crc = get_crc32_options()  # off: the records' checksums are 0 (set_crc32_options)
        chunk = 1 << 26
        for begin in range(0, size, chunk):
            part = view[begin:begin + chunk]
            if compute_crc:
                crc = zlib.crc32(part, crc)
            self._write(part)
        if zip64:
            self._write(_DESCRIPTOR64.pack(_SIG_DESCRIPTOR, crc, size, size))
        else:
            self._write(_DESCRIPTOR32.pack(_SIG_DESCRIPTOR, crc, size, size))
        self._entries.append(_Entry(encoded, offset, size, crc, zip64))
        self._names.add(full_name)
        self._combined_crc = zlib.crc32(struct.pack("<I", crc), self._combined_crc)

    def serialization_id(self) -> str:
        """40 digits: a checksum of the records so far, then 64 random bits."""
        return f"{self._combined_crc:020d}{random.getrandbits(64):020d}"

    def finish(self) -> None:
        """Write the central directory and the end records; the archive is then complete."""
        if self._finished:
            return
        cd_offset = self._offset
        for e in self._entries:
            fields = []
            size32 = e.size
            offset32 = e.offset
            if e.size >= ZIP64_LIMIT:
                fields += [e.size, e.size]
                size32 = 0xFFFFFFFF
            if e.offset >= ZIP64_LIMIT:
                fields.append(e.offset)
                offset32 = 0xFFFFFFFF
            extra = struct.pack(f"<HH{len(fields)}Q", _ZIP64_ID, 8 * len(fields), *fields) if fields else b""
            version = _VERSION_ZIP64 if fields else 0
            self._write(_CENTRAL_HEADER.pack(
                _SIG_CENTRAL, 0, version, _FLAGS, 0, 0, 0, e.crc, size32, size32,
                len(e.name), len(extra), 0, 0, 0, 0, offset32))
            self._write(e.name)
            self._write(extra)
        cd_size = self._offset - cd_offset
        n = len(self._entries)
        zip64_end_offset = self._offset
        self._write(_ZIP64_END.pack(_SIG_ZIP64_END, _ZIP64_END.size - 12, _MADE_BY_ZIP64_END, _VERSION_ZIP64,
                                    0, 0, n, n, cd_size, cd_offset))
        self._write(_ZIP64_LOCATOR.pack(_SIG_ZIP64_LOCATOR, 0, zip64_end_offset, 1))
        self._write(_END.pack(_SIG_END, 0, 0, min(n, 0xFFFF), min(n, 0xFFFF), min(cd_size, 0xFFFFFFFF),
                              min(cd_offset, 0xFFFFFFFF), 0))
        self._finished = True


class ArchiveReader:
    """Reads records of a checkpoint zip from a seekable binary file object."""

    def __init__(self, file):
        self._file = file
        try:
            self._zip = zipfile.ZipFile(file)
        except zipfile.BadZipFile as exc:
            raise RuntimeError(f"not a valid checkpoint archive: {exc}") from None
        infos = self._zip.infolist()
        if not infos:
            raise RuntimeError("not a valid checkpoint archive: the zip file has no records")
        self.archive_name = infos[0].filename.split("/", 1)[0]
        prefix = self.archive_name + "/"
        self._infos = {i.filename[len(prefix):]: i for i in infos if i.filename.startswith(prefix)}

    def names(self) -> list[str]:
        """Record names without the archive folder, in archive order."""
        return list(self._infos)

    def has_record(self, name: str) -> bool:
        return name in self._infos

    def record_size(self, name: str) -> int:
        return self._info(name).file_size

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = self._infos.get(name)
        if info is None:
            raise RuntimeError(f"checkpoint archive '{self.archive_name}' has no record '{name}'")
        return info

    def read(self, name: str) -> bytes:
        info = self._info(name)
        if info.CRC == 0 and info.file_size and info.compress_type == zipfile.ZIP_STORED:
            # saved with set_crc32_options(False): read it as PyTorch's reader does, unchecked
            out = bytearray(info.file_size)
            self.read_into(name, out)
            return bytes(out)
        return self._zip.read(info)

    def data_offset(self, name: str) -> int | None:
        """Where the bytes of a stored record start in the file; None if it is compressed."""
        info = self._info(name)
        if info.compress_type != zipfile.ZIP_STORED:
            return None
        self._file.seek(info.header_offset)
        header = self._file.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size or _LOCAL_HEADER.unpack(header)[0] != _SIG_LOCAL:
            raise RuntimeError(f"checkpoint record '{name}' has a corrupt local header")
        fields = _LOCAL_HEADER.unpack(header)
        return info.header_offset + _LOCAL_HEADER.size + fields[9] + fields[10]

    def read_into(self, name: str, out) -> None:
        """Fill the writable buffer ``out`` (exactly the record's size or less) from a record."""
        view = memoryview(out).cast("B")
        offset = self.data_offset(name)
        if offset is None:
            with self._zip.open(self._info(name)) as stream:
                filled = 0
                while filled < view.nbytes:
                    chunk = stream.read(min(view.nbytes - filled, 1 << 26))
                    if not chunk:
                        break
                    view[filled:filled + len(chunk)] = chunk
                    filled += len(chunk)
        else:
            self._file.seek(offset)
            filled = 0
            readinto = getattr(self._file, "readinto", None)
            while filled < view.nbytes:
                if readinto is not None:
                    n = readinto(view[filled:])
                else:
                    chunk = self._file.read(view.nbytes - filled)
                    n = len(chunk)
                    view[filled:filled + n] = chunk
                if not n:
                    break
                filled += n
        if filled != view.nbytes:
            raise RuntimeError(f"checkpoint record '{name}' is truncated: expected {view.nbytes} bytes, "
                               f"read {filled}")

    def close(self) -> None:
        self._zip.close()
