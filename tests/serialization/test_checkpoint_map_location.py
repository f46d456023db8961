"""map_location: None, a device or its name, a dict of locations, or a callable."""
import io
import struct

import numpy as np
import pytest

import ember
from _checkpoint_records import Archive
from ember.serialization import Storage, zipformat
from ember.serialization.storage import memory_owner


def text(s):
    return b"X" + struct.pack("<I", len(s)) + s.encode()


def saved(obj, location=None) -> bytes:
    """ember.save bytes of ``obj``, with the storages' location tag rewritten to ``location``."""
    buf = io.BytesIO()
    ember.save(obj, buf)
    if location is None:
        return buf.getvalue()
    src = Archive(buf)
    out = io.BytesIO()
    writer = zipformat.ArchiveWriter(out, src.prefix)
    for name in src.names:
        content = src.read(name)
        if name == "data.pkl":
            assert content.count(text("cpu")) == 1
            content = content.replace(text("cpu"), text(location))
        writer.write_record(name, content)
    writer.finish()
    return out.getvalue()


@pytest.fixture
def gpu_file():
    base = ember.randn(3, 4)
    return base, saved({"w": base, "wt": base.t()}, location="cuda:0")


def check_on_cpu(out, base):
    for key in ("w", "wt"):
        assert out[key].device == ember.device("cpu")
    np.testing.assert_array_equal(out["w"].numpy(), base.numpy())
    np.testing.assert_array_equal(out["wt"].numpy(), base.numpy().T)
    assert memory_owner(out["w"]._data) is memory_owner(out["wt"]._data)


def cuda_available():
    try:
        ember.zeros(1, device="cuda")
    except RuntimeError:
        return False
    return True


def test_unavailable_saved_device_raises_and_says_what_to_do(gpu_file):
    if cuda_available():
        pytest.skip("this machine has cuda")
    _, data = gpu_file
    with pytest.raises(RuntimeError, match=r"device 'cuda:0'.*map_location='cpu'"):
        ember.load(io.BytesIO(data))


@pytest.mark.parametrize("where", ["cpu", b"cpu", ember.device("cpu"), {"cuda:0": "cpu"},
                                   {"cuda:0": ember.device("cpu")}])
def test_map_to_cpu(gpu_file, where):
    base, data = gpu_file
    check_on_cpu(ember.load(io.BytesIO(data), map_location=where), base)


def test_dict_without_the_location_leaves_it(gpu_file):
    if cuda_available():
        pytest.skip("this machine has cuda")
    _, data = gpu_file
    with pytest.raises(RuntimeError, match="cuda:0"):
        ember.load(io.BytesIO(data), map_location={"cuda:1": "cpu"})


def test_callable_gets_each_storage_and_its_location(gpu_file):
    base, data = gpu_file
    calls = []

    def keep_on_cpu(storage, location):
        calls.append((type(storage), storage.dtype, storage.size(), location))
        return storage

    check_on_cpu(ember.load(io.BytesIO(data), map_location=keep_on_cpu), base)
    assert calls == [(Storage, ember.float32, 12, "cuda:0")]  # one storage, shared by both tensors
    check_on_cpu(ember.load(io.BytesIO(data), map_location=lambda s, loc: s.cpu()), base)


def test_callable_returning_none_falls_back_and_wrong_types_raise(gpu_file):
    _, data = gpu_file
    cpu_data = saved({"x": ember.ones(2)})
    assert ember.load(io.BytesIO(cpu_data), map_location=lambda s, loc: None)["x"].tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="map_location returned a list"):
        ember.load(io.BytesIO(data), map_location=lambda s, loc: [])
    with pytest.raises(TypeError, match="map_location must be"):
        ember.load(io.BytesIO(data), map_location=3.5)


def test_map_to_missing_device_raises():
    if cuda_available():
        pytest.skip("this machine has cuda")
    with pytest.raises(RuntimeError, match="cuda"):
        ember.load(io.BytesIO(saved({"x": ember.ones(2)})), map_location="cuda")


def test_map_to_each_available_device(device):
    base = ember.randn(2, 3)
    out = ember.load(io.BytesIO(saved({"x": base, "y": base[1]})), map_location=device)
    for key, expected in (("x", base), ("y", base[1])):
        assert out[key].device.type == device
        np.testing.assert_array_equal(out[key].cpu().numpy(), expected.numpy())
