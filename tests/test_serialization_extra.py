"""torch.serialization's options and hooks (issue 13): endianness, mmap flags, CRC32 records,
skip_data, register_package / location_tag / default_restore_location, and its helpers."""
from __future__ import annotations

import io
import mmap
import os
import zipfile

import numpy as np
import pytest

import ember
from ember import serialization as S

RNG = np.random.default_rng(3)


def _roundtrip(obj, **load_kwargs):
    buffer = io.BytesIO()
    ember.save(obj, buffer)
    buffer.seek(0)
    return ember.load(buffer, **load_kwargs)


def test_load_endianness_applies_to_files_without_a_byteorder_record():
    values = np.arange(4, dtype=np.float32)
    buffer = io.BytesIO()
    ember.save(ember.tensor(values), buffer, _disable_byteorder_record=True)
    assert S.get_default_load_endianness() is None
    buffer.seek(0)
    np.testing.assert_array_equal(ember.load(buffer).numpy(), values)
    try:
        S.set_default_load_endianness(S.LoadEndianness.BIG)
        buffer.seek(0)
        np.testing.assert_array_equal(ember.load(buffer).numpy(), values.byteswap())
        S.set_default_load_endianness(S.LoadEndianness.NATIVE)
        buffer.seek(0)
        np.testing.assert_array_equal(ember.load(buffer).numpy(), values)
        with pytest.raises(TypeError, match="Invalid argument type"):
            S.set_default_load_endianness("big")
    finally:
        S.set_default_load_endianness(None)


def test_mmap_shared_writes_reach_the_file(tmp_path):
    path = tmp_path / "w.pt"
    values = RNG.standard_normal(8).astype(np.float32)
    ember.save({"w": ember.tensor(values)}, path)
    assert S.get_default_mmap_options() == mmap.MAP_PRIVATE
    private = ember.load(path, mmap=True)["w"]
    private[0] = 42.0
    assert ember.load(path)["w"][0].item() == values[0]           # copy-on-write
    with S.set_default_mmap_options(mmap.MAP_SHARED):
        shared = ember.load(path, mmap=True)["w"]
        shared[0] = 42.0
    assert S.get_default_mmap_options() == mmap.MAP_PRIVATE
    del shared
    assert ember.load(path)["w"][0].item() == 42.0
    with pytest.raises(ValueError, match="expected mmap.MAP_PRIVATE or mmap.MAP_SHARED, but got 5"):
        S.set_default_mmap_options(5)


def test_crc32_option_and_skip_data(tmp_path):
    values = RNG.standard_normal(16)
    path = tmp_path / "c.pt"
    try:
        S.set_crc32_options(False)
        assert not S.get_crc32_options()
        ember.save(ember.tensor(values), path)
    finally:
        S.set_crc32_options(True)
    with zipfile.ZipFile(path) as z:
        assert all(info.CRC == 0 for info in z.infolist())
    np.testing.assert_array_equal(ember.load(path).numpy(), values)   # ember reads it all the same
    ember.save(ember.tensor(values), path)
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None and any(info.CRC for info in z.infolist())
    skipped = tmp_path / "s.pt"
    with S.skip_data():
        ember.save(ember.tensor(values), skipped)
    assert abs(os.path.getsize(skipped) - os.path.getsize(path)) < 64   # the same room, zero bytes in it
    np.testing.assert_array_equal(ember.load(skipped).numpy(), np.zeros(16))
    with S.skip_data():
        loaded = ember.load(path)
    assert loaded.shape == (16,) and not loaded.numpy().any()


def test_register_package_tags_and_restores(tmp_path):
    seen = []

    def deserializer(storage, location):
        if location == "vault":
            seen.append(location)
            return storage
        return None

    before = list(S.options._PACKAGES)
    try:
        S.register_package(5, lambda s: "vault" if s.device.type == "cpu" else None, deserializer)
        assert S.location_tag(ember.ones(1)) == "vault"
        out = _roundtrip({"a": ember.tensor([1.5, 2.5])})
        np.testing.assert_array_equal(out["a"].numpy(), [1.5, 2.5])
        assert seen == ["vault"]
        with pytest.raises(TypeError, match="tagger must be callable"):
            S.register_package(1, None, deserializer)
    finally:
        S.options._PACKAGES[:] = before
    assert S.location_tag(ember.ones(1)) == "cpu"
    with pytest.raises(RuntimeError, match=r"don't know how to restore data location .* \(tagged with weird\)"):
        S.default_restore_location(ember.ones(1).untyped_storage(), "weird")


def test_device_validation_and_helpers():
    with pytest.raises(RuntimeError, match="on a CUDA device but ember.cuda.is_available\\(\\) is False"):
        S.validate_cuda_device("cuda:0")
    with pytest.raises(RuntimeError, match="The HPU device module is not registered"):
        S.validate_hpu_device("hpu:0")
    assert S.check_module_version_greater_or_equal(np, (1, 20))
    assert not S.check_module_version_greater_or_equal(np, (99,))

    class Odd:
        __name__, __version__ = "odd", "1.x"
    with pytest.raises(RuntimeError, match="version string is malformed"):
        S.check_module_version_greater_or_equal(Odd(), (1, 2))
    st = S.StorageType("FloatStorage")
    assert st.dtype is ember.float32 and str(st) == "StorageType(dtype=ember.float32)"
    with S.mkdtemp() as d:
        assert os.path.isdir(d)
    assert not os.path.exists(d)
    assert issubclass(S.SourceChangeWarning, Warning)
    assert S.normalize_storage_type(type("UntypedStorage", (), {})) is ember.UntypedStorage


def test_pytorch_file_writer_and_reader_roundtrip(tmp_path):
    buffer = io.BytesIO()
    writer = ember.PyTorchFileWriter(buffer)
    payload = RNG.standard_normal(5)
    writer.write_record("data.pkl", b"hello", 5)
    writer.write_record("data/0", payload.tobytes(), payload.nbytes)
    assert writer.archive_name() == "archive" and writer.get_all_written_records() == {"data.pkl", "data/0"}
    with pytest.raises(RuntimeError, match="Tried to serialize file twice"):
        writer.write_record("data.pkl", b"x", 1)
    writer.write_end_of_file()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as z:
        assert z.testzip() is None and z.read("archive/version") == b"3\n"
    reader = ember.PyTorchFileReader(io.BytesIO(buffer.getvalue()))
    assert reader.get_all_records()[:2] == ["data.pkl", "data/0"] and reader.get_record("data.pkl") == b"hello"
    assert reader.serialization_id() == writer.serialization_id() and not reader.has_record("nope")
    np.testing.assert_array_equal(reader.get_storage_from_record("data/0", 5, ember.float64).numpy(), payload)
    with pytest.raises(RuntimeError, match="failed locating file nope"):
        reader.get_record("nope")
    path = tmp_path / "t.pt"                              # and what ember.save writes reads back record by record
    ember.save(ember.arange(4.0), path)
    records = ember.PyTorchFileReader(str(path))
    assert "data.pkl" in records.get_all_records()
    np.testing.assert_array_equal(records.get_storage_from_record("data/0", 4, ember.float32).numpy(), [0, 1, 2, 3])
