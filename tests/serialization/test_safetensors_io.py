"""safetensors files through the safetensors package's numpy interface."""
import json

import ml_dtypes
import numpy as np
import pytest
import safetensors.numpy

import ember
from ember.serialization import load_file, safetensors_io, save_file

ALL_DTYPES = ["float32", "float64", "float16", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "bool"]


def sample(dtype_name, shape, seed):
    rng = np.random.default_rng(seed)
    if dtype_name == "bool":
        return ember.from_numpy(rng.random(shape) > 0.5)
    if dtype_name.startswith(("int", "uint")):
        info = np.iinfo(dtype_name)
        return ember.from_numpy(rng.integers(info.min, info.max, size=shape, dtype=dtype_name, endpoint=True))
    np_type = ml_dtypes.bfloat16 if dtype_name == "bfloat16" else dtype_name
    return ember.from_numpy((rng.standard_normal(shape) * 10).astype(np_type))


def bits(t):
    return np.ascontiguousarray(t.detach().cpu().numpy()).view(np.uint8)


def test_round_trip_every_dtype_with_metadata(tmp_path):
    tensors = {name: sample(name, (3, 2 + i), i) for i, name in enumerate(ALL_DTYPES)}
    tensors["scalar"] = ember.tensor(1.5)
    path = tmp_path / "m.safetensors"
    save_file(tensors, path, metadata={"format": "pt", "epoch": "3"})
    loaded = load_file(path)
    assert sorted(loaded) == sorted(tensors)
    for name, t in tensors.items():
        assert loaded[name].dtype is t.dtype, name
        assert tuple(loaded[name].shape) == tuple(t.shape)
        np.testing.assert_array_equal(bits(loaded[name]), bits(t))
    assert safetensors_io.metadata(path) == {"format": "pt", "epoch": "3"}
    loaded["float32"][0, 0] = 5.0  # loaded tensors are writable and independent of the file
    assert load_file(path)["float32"][0, 0].item() == tensors["float32"][0, 0].item()


def test_bytes_api():
    tensors = {"a": sample("bfloat16", (4,), 0), "b": sample("int64", (2, 2), 1)}
    data = safetensors_io.save(tensors)
    assert isinstance(data, bytes)
    loaded = safetensors_io.load(data)
    for name, t in tensors.items():
        np.testing.assert_array_equal(bits(loaded[name]), bits(t))


def test_views_are_written_whole_and_separate(tmp_path):
    base = ember.randn(4, 5)
    path = tmp_path / "v.safetensors"
    save_file({"base": base, "t": base.t(), "slice": base[1:3, ::2]}, path)
    loaded = load_file(path)
    np.testing.assert_array_equal(loaded["t"].numpy(), base.numpy().T)
    np.testing.assert_array_equal(loaded["slice"].numpy(), base.numpy()[1:3, ::2])
    loaded["base"][0, 0] = 100.0
    assert loaded["t"][0, 0].item() != 100.0


def test_files_move_to_and_from_plain_numpy(tmp_path):
    ours = tmp_path / "ours.safetensors"
    save_file({"w": sample("float32", (2, 3), 0), "bf": sample("bfloat16", (3,), 1)}, ours)
    arrays = safetensors.numpy.load_file(str(ours))
    assert arrays["w"].dtype == np.float32 and arrays["bf"].dtype == ml_dtypes.bfloat16
    theirs = tmp_path / "theirs.safetensors"
    safetensors.numpy.save_file({"x": np.arange(6, dtype=np.int32).reshape(2, 3)}, str(theirs))
    x = load_file(theirs)["x"]
    assert x.dtype is ember.int32 and x.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_load_onto_each_device(tmp_path, device):
    path = tmp_path / "d.safetensors"
    t = sample("float32", (3,), 0)
    save_file({"t": t}, path)
    out = load_file(path, device=device)["t"]
    assert out.device.type == device
    np.testing.assert_array_equal(out.cpu().numpy(), t.numpy())


def test_errors(tmp_path):
    with pytest.raises(TypeError, match="must be tensors"):
        save_file({"x": np.ones(2)}, tmp_path / "e.safetensors")
    with pytest.raises(TypeError, match="metadata"):
        save_file({"x": ember.ones(2)}, tmp_path / "e.safetensors", metadata={"n": 1})
    with pytest.raises(TypeError, match="names must be strings"):
        save_file({1: ember.ones(2)}, tmp_path / "e.safetensors")
    path = tmp_path / "f6.safetensors"  # a safetensors dtype ember lacks (uint16 and float8 it has)
    header = json.dumps({"x": {"dtype": "F6_E3M2", "shape": [4], "data_offsets": [0, 3]}}).encode()
    path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(3))
    with pytest.raises(TypeError, match="F6_E3M2"):
        load_file(path)


def test_save_file_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "a.safetensors"
    save_file({"old": ember.ones(2)}, path)
    content = path.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(safetensors.numpy, "save", broken)
    with pytest.raises(RuntimeError, match="simulated"):
        save_file({"new": ember.zeros(3)}, path)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors"]
