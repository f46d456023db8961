"""ember.save -> ember.load: values, dtypes, views, containers and file kinds."""
import io
import sys
from collections import OrderedDict

import ml_dtypes
import numpy as np
import pytest

import ember
from _checkpoint_records import Archive
from ember.serialization import zipformat
from ember.serialization.storage import memory_owner

ALL_DTYPES = ["float32", "float64", "float16", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "bool"]


def random_tensor(dtype_name, shape=(3, 4), seed=0):
    rng = np.random.default_rng(seed)
    if dtype_name == "bool":
        arr = rng.random(shape) > 0.5
    elif dtype_name.startswith(("int", "uint")):
        info = np.iinfo(dtype_name)
        arr = rng.integers(info.min, info.max, size=shape, dtype=dtype_name, endpoint=True)
    elif dtype_name == "bfloat16":
        arr = (rng.standard_normal(shape) * 100).astype(ml_dtypes.bfloat16)
    else:
        arr = (rng.standard_normal(shape) * 100).astype(dtype_name)
    return ember.from_numpy(arr)


def roundtrip(obj, **load_args):
    buf = io.BytesIO()
    ember.save(obj, buf)
    buf.seek(0)
    return ember.load(buf, **load_args)


@pytest.mark.parametrize("dtype_name", ALL_DTYPES)
def test_every_dtype_round_trips_bit_exactly(dtype_name):
    t = random_tensor(dtype_name, seed=ALL_DTYPES.index(dtype_name))
    out = roundtrip({"t": t})["t"]
    assert out.dtype is getattr(ember, dtype_name)
    np.testing.assert_array_equal(np.ascontiguousarray(out.numpy()).view(np.uint8),
                                  np.ascontiguousarray(t.numpy()).view(np.uint8))


def test_zero_dim_empty_and_big_shapes():
    obj = {"scalar": ember.tensor(2.5), "empty": ember.zeros(0, 3), "int_scalar": ember.tensor(-7),
           "cube": ember.randn(2, 3, 4, 5)}
    out = roundtrip(obj)
    assert out["scalar"].shape == () and out["scalar"].item() == 2.5
    assert out["empty"].shape == (0, 3) and out["empty"].dtype is ember.float32
    assert out["int_scalar"].item() == -7 and out["int_scalar"].dtype is ember.int64
    np.testing.assert_array_equal(out["cube"].numpy(), obj["cube"].numpy())


def test_views_share_one_storage_with_offsets_and_strides():
    base = ember.randn(5, 6)
    obj = {"base": base, "t": base.t(), "slice": base[1:4, 2:5], "step": base[::2, 1::3], "row": base[3]}
    buf = io.BytesIO()
    ember.save(obj, buf)
    assert [n for n in Archive(buf).names if n.startswith("data/")] == ["data/0"]
    buf.seek(0)
    out = ember.load(buf)
    root = memory_owner(out["base"]._data)
    for key, t in obj.items():
        np.testing.assert_array_equal(out[key].numpy(), t.numpy())
        assert memory_owner(out[key]._data) is root
        assert out[key]._data.strides == t._data.strides, key
    out["slice"][0, 0] = 1000.0  # memory is shared again
    assert out["base"][1, 2].item() == 1000.0


def test_tensor_saved_twice_loads_as_one_object():
    t = ember.randn(3)
    out = roundtrip([t, t, {"again": t}])
    assert out[0] is out[1] is out[2]["again"]


def test_a_slice_alone_keeps_the_whole_storage_like_torch():
    base = ember.arange(10, dtype=ember.float32)
    buf = io.BytesIO()
    ember.save(base[7:9], buf)
    assert len(Archive(buf).read("data/0")) == 40
    buf.seek(0)
    np.testing.assert_array_equal(ember.load(buf).numpy(), [7.0, 8.0])


def test_negative_strides_and_reinterpreted_views_are_saved_as_copies():
    arr = np.arange(8, dtype=np.float32)
    flipped = ember.from_numpy(arr[::-1])            # numpy view with a negative stride
    as_int = ember.from_numpy(arr.view(np.int32))    # same memory, other dtype
    scalar = np.array(1.5, dtype=np.float32)
    out = roundtrip({"base": ember.from_numpy(arr), "flipped": flipped, "as_int": as_int,
                     "scalar": ember.from_numpy(scalar), "scalar_bits": ember.from_numpy(scalar.view(np.int32))})
    np.testing.assert_array_equal(out["flipped"].numpy(), arr[::-1])
    np.testing.assert_array_equal(out["as_int"].numpy(), arr.view(np.int32))
    assert out["as_int"].dtype is ember.int32
    assert out["scalar_bits"].shape == () and out["scalar_bits"].item() == scalar.view(np.int32).item()


def test_requires_grad_and_containers():
    w = ember.randn(2, 2, requires_grad=True)
    obj = OrderedDict(w=w, nested={"list": [1, 2.5, "s", None, True], "tuple": (ember.ones(1), 3),
                                   "set": {1, 2}, "frozen": frozenset({"a"}), "bytes": b"\x00\xff", "empty": b""},
                      size=ember.Size([4, 5]), dtypes=[ember.bfloat16, ember.bool, ember.int64],
                      devices=[ember.device("cpu"), ember.device("cuda", 1)], big=2**70, neg=-(2**40),
                      cplx=complex(1, 2))
    obj._metadata = {"": {"version": 1}}
    out = roundtrip(obj)
    assert type(out) is OrderedDict and out._metadata == {"": {"version": 1}}
    assert out["w"].requires_grad and out["w"].is_leaf
    np.testing.assert_array_equal(out["w"].detach().numpy(), w.detach().numpy())
    assert out["nested"]["list"] == [1, 2.5, "s", None, True]
    assert out["nested"]["set"] == {1, 2} and out["nested"]["frozen"] == frozenset({"a"})
    assert out["nested"]["bytes"] == b"\x00\xff" and out["nested"]["empty"] == b""
    assert isinstance(out["nested"]["tuple"], tuple) and out["nested"]["tuple"][1] == 3
    assert out["size"] == ember.Size([4, 5]) and type(out["size"]) is ember.Size
    assert out["dtypes"] == [ember.bfloat16, ember.bool, ember.int64] and out["dtypes"][0] is ember.bfloat16
    assert out["devices"] == [ember.device("cpu"), ember.device("cuda", 1)]
    assert out["big"] == 2**70 and out["neg"] == -(2**40) and out["cplx"] == complex(1, 2)


def test_parameter_round_trip():
    from ember.nn.parameter import Parameter
    p = Parameter(ember.randn(3, 2))
    frozen = Parameter(ember.randn(2), requires_grad=False)
    out = roundtrip({"p": p, "frozen": frozen, "alias": p.data})
    assert type(out["p"]) is Parameter and out["p"].requires_grad
    assert type(out["frozen"]) is Parameter and not out["frozen"].requires_grad
    np.testing.assert_array_equal(out["p"].detach().numpy(), p.detach().numpy())
    assert memory_owner(out["p"]._data) is memory_owner(out["alias"]._data)


def test_paths_pathlib_and_open_files(tmp_path):
    t = ember.randn(4)
    for target in (str(tmp_path / "a.pt"), tmp_path / "b.pt"):
        ember.save(t, target)
        np.testing.assert_array_equal(ember.load(target).numpy(), t.numpy())
    with open(tmp_path / "c.pt", "wb") as fh:
        ember.save(t, fh)
    with open(tmp_path / "c.pt", "rb") as fh:
        np.testing.assert_array_equal(ember.load(fh).numpy(), t.numpy())
    assert Archive(str(tmp_path / "c.pt")).prefix == "archive"


def test_load_from_a_non_seekable_stream():
    buf = io.BytesIO()
    ember.save({"x": ember.arange(5)}, buf)

    class Stream(io.RawIOBase):
        def __init__(self, data):
            self._inner = io.BytesIO(data)

        def readable(self):
            return True

        def seekable(self):
            return False

        def readinto(self, b):
            return self._inner.readinto(b)

    out = ember.load(Stream(buf.getvalue()))
    assert out["x"].tolist() == [0, 1, 2, 3, 4]


def test_mmap_load(tmp_path):
    t = ember.randn(16, 16)
    path = tmp_path / "m.pt"
    ember.save({"t": t, "v": t[2:4]}, path)
    out = ember.load(path, mmap=True)
    assert isinstance(memory_owner(out["t"]._data), np.memmap)
    assert memory_owner(out["v"]._data) is memory_owner(out["t"]._data)
    np.testing.assert_array_equal(out["t"].numpy(), t.numpy())
    out["t"][0, 0] = 99.0  # copy-on-write: the file keeps its bytes
    assert ember.load(path)["t"][0, 0].item() == t[0, 0].item()
    with pytest.raises(ValueError, match="mmap"):
        ember.load(io.BytesIO(path.read_bytes()), mmap=True)


def _rewrite(data: bytes, change) -> bytes:
    """Re-pack an archive's records through ArchiveWriter, letting ``change(name, bytes)`` edit them."""
    src = Archive(io.BytesIO(data))
    out = io.BytesIO()
    writer = zipformat.ArchiveWriter(out, src.prefix)
    for name in src.names:
        writer.write_record(name, change(name, src.read(name)))
    writer.finish()
    return out.getvalue()


def test_big_endian_checkpoints_are_byte_swapped():
    t = ember.from_numpy(np.array([1.5, -2.25, 3e10], dtype=np.float64))
    s = ember.from_numpy(np.array([1, -2, 300], dtype=np.int16))
    buf = io.BytesIO()
    ember.save({"t": t, "s": s}, buf)

    def to_big(name, content):
        if name == "byteorder":
            return b"big"
        if name == "data/0":
            return np.frombuffer(content, "<f8").astype(">f8").tobytes()
        if name == "data/1":
            return np.frombuffer(content, "<i2").astype(">i2").tobytes()
        return content

    out = ember.load(io.BytesIO(_rewrite(buf.getvalue(), to_big)))
    assert sys.byteorder == "little"
    np.testing.assert_array_equal(out["t"].numpy(), [1.5, -2.25, 3e10])
    np.testing.assert_array_equal(out["s"].numpy(), [1, -2, 300])


def test_corrupt_and_foreign_files_raise_runtime_error(tmp_path):
    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes(b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19.")  # how a pre-1.6 torch.save file starts
    with pytest.raises(RuntimeError, match="not a zip archive"):
        ember.load(legacy)
    buf = io.BytesIO()
    ember.save({"x": ember.ones(4)}, buf)
    missing = _rewrite(buf.getvalue(), lambda n, c: c[:4] if n == "data/0" else c)
    with pytest.raises(RuntimeError, match="should hold 4 elements"):
        ember.load(io.BytesIO(missing))
    with pytest.raises(FileNotFoundError):
        ember.load(tmp_path / "nope.pt")
    with pytest.raises(TypeError, match="path or a readable"):
        ember.load(12)


def test_save_argument_errors(tmp_path):
    with pytest.raises(TypeError, match="path or a writable"):
        ember.save(ember.ones(1), 3.5)
    with pytest.raises(RuntimeError, match="legacy"):
        ember.save(ember.ones(1), tmp_path / "x.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match="pickle_protocol"):
        ember.save(ember.ones(1), tmp_path / "x.pt", pickle_protocol=1)
    ember.save({"x": ember.ones(2)}, tmp_path / "p4.pt", pickle_protocol=4)
    assert ember.load(tmp_path / "p4.pt")["x"].tolist() == [1.0, 1.0]
