"""Weights-only loading: nothing in an untrusted checkpoint runs; the allow-list can grow."""
import io
import os
import pickle
import struct

import pytest

import ember
from ember.serialization import zipformat

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
MALICIOUS = os.path.join(FIXTURES, "malicious.pt")
MARKER = "ember_malicious_marker"  # what the malicious fixture's os.system call would create


class Custom:
    """A plain user class: needs weights_only=False or add_safe_globals."""

    def __init__(self, name, weights):
        self.name, self.weights = name, weights


@pytest.fixture(autouse=True)
def _clean_allow_list():
    ember.serialization.clear_safe_globals()
    yield
    ember.serialization.clear_safe_globals()


def checkpoint(pickled: bytes, storages=None) -> io.BytesIO:
    """An archive around a hand-written pickle (and raw storage records)."""
    buf = io.BytesIO()
    writer = zipformat.ArchiveWriter(buf, "archive")
    writer.write_record("data.pkl", pickled)
    writer.write_record("byteorder", "little")
    for key, data in (storages or {}).items():
        writer.write_record(f"data/{key}", data)
    writer.write_record("version", "3\n")
    writer.finish()
    buf.seek(0)
    return buf


def text(s: str) -> bytes:
    data = s.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def glob(module, name) -> bytes:
    return f"c{module}\n{name}\n".encode()


P2 = b"\x80\x02"


# ---------------------------------------------------------------- the malicious torch checkpoint
def test_malicious_checkpoint_is_refused_and_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(pickle.UnpicklingError) as info:
        ember.load(MALICIOUS)
    message = str(info.value)
    assert "posix.system" in message and "add_safe_globals" in message and "weights_only=False" in message
    assert not (tmp_path / MARKER).exists()
    with pytest.raises(pickle.UnpicklingError):
        ember.load(MALICIOUS, weights_only=True, map_location="cpu", mmap=True)
    assert not (tmp_path / MARKER).exists()
    assert os.listdir(tmp_path) == []


def test_the_malicious_fixture_really_is_malicious(tmp_path, monkeypatch):
    """Control: with weights_only=False its payload runs, so the test above can fail."""
    monkeypatch.chdir(tmp_path)
    loaded = ember.load(MALICIOUS, weights_only=False)
    assert (tmp_path / MARKER).exists()
    assert loaded["payload"] == 0 and loaded["weights"].shape == (2,)


def test_unsafe_globals_are_listed_without_loading():
    assert ember.serialization.get_unsafe_globals_in_checkpoint(MALICIOUS) == ["posix.system"]
    assert ember.serialization.get_unsafe_globals_in_checkpoint(os.path.join(FIXTURES, "optimizer.pt")) == []


@pytest.mark.parametrize("payload", [
    P2 + glob("builtins", "eval") + text("1+1") + b"\x85R.",
    P2 + glob("__builtin__", "exec") + text("x=1") + b"\x85R.",
    P2 + glob("builtins", "getattr") + glob("collections", "OrderedDict") + text("fromkeys") + b"\x86R.",
    b"\x80\x04" + b"\x8c\x02os\x8c\x06system\x93" + b"\x8c\x04true\x85R.",  # protocol 4 STACK_GLOBAL
    P2 + glob("subprocess", "Popen") + b").",
    P2 + glob("torch._C", "_set_grad_enabled") + b"\x89\x85R.",
])
def test_other_code_paths_are_refused(payload):
    with pytest.raises(pickle.UnpicklingError, match="refused the global"):
        ember.load(checkpoint(payload))


def test_build_cannot_change_embers_own_objects():
    payload = P2 + glob("torch", "float32") + b"N}" + text("itemsize") + b"K\x63s\x86b."
    with pytest.raises(pickle.UnpicklingError, match="BUILD"):
        ember.load(checkpoint(payload))
    assert ember.float32.itemsize == 4
    payload = P2 + glob("torch", "Size") + b"}" + text("numel") + b"Ns" + b"b."
    with pytest.raises(pickle.UnpicklingError, match="BUILD"):
        ember.load(checkpoint(payload))
    assert ember.Size([2, 3]).numel() == 6


def test_allowed_classes_cannot_be_called_when_they_are_not_rebuild_functions():
    with pytest.raises(pickle.UnpicklingError, match="REDUCE"):
        ember.load(checkpoint(P2 + glob("torch", "Tensor") + b"K\x05\x85R."))
    with pytest.raises(pickle.UnpicklingError, match="INST"):
        ember.load(checkpoint(b"(icollections\nOrderedDict\n."))


def _tensor_pickle(offset, size, stride, numel=4):
    pid = b"(" + text("storage") + glob("torch", "FloatStorage") + text("0") + text("cpu") + \
        b"K" + bytes([numel]) + b"tQ"
    def ints(xs):
        return b"(" + b"".join(b"K" + bytes([x]) for x in xs) + b"t"
    return P2 + glob("torch._utils", "_rebuild_tensor_v2") + b"(" + pid + b"K" + bytes([offset]) + \
        ints(size) + ints(stride) + b"\x89" + glob("collections", "OrderedDict") + b")Rt" + b"R."


def test_tensor_views_outside_their_storage_are_refused():
    storage = {"0": struct.pack("<4f", 1, 2, 3, 4)}
    ok = ember.load(checkpoint(_tensor_pickle(1, (3,), (1,)), storage))
    assert ok.tolist() == [2.0, 3.0, 4.0]
    with pytest.raises(RuntimeError, match="need a storage of 5 elements, but the storage holds 4"):
        ember.load(checkpoint(_tensor_pickle(2, (3,), (1,)), storage))
    with pytest.raises(RuntimeError, match=r"strides \[3, 1\] and storage offset 0 need a storage of 5"):
        ember.load(checkpoint(_tensor_pickle(0, (2, 2), (3, 1)), storage))
    with pytest.raises(RuntimeError, match="should hold 9 elements"):
        ember.load(checkpoint(_tensor_pickle(0, (2,), (1,), numel=9), storage))
    with pytest.raises(RuntimeError, match="no record 'data/0'"):
        ember.load(checkpoint(_tensor_pickle(0, (2,), (1,))))


def test_bad_persistent_ids_and_unsupported_dtypes():
    with pytest.raises(pickle.UnpicklingError, match="persistent id"):
        ember.load(checkpoint(P2 + text("nope") + b"Q."))
    with pytest.raises(pickle.UnpicklingError, match="complex32"):
        ember.load(checkpoint(P2 + glob("torch", "complex32") + b"."))
    with pytest.raises(pickle.UnpicklingError, match="does not support"):
        ember.load(checkpoint(P2 + glob("torch", "QInt8Storage") + b"."), weights_only=False)


# ---------------------------------------------------------------- custom objects
def _saved_custom():
    buf = io.BytesIO()
    ember.save({"obj": Custom("fc", ember.arange(3)), "plain": 1}, buf)
    buf.seek(0)
    return buf


def test_weights_only_false_loads_a_custom_object():
    out = ember.load(_saved_custom(), weights_only=False)
    assert type(out["obj"]) is Custom and out["obj"].name == "fc" and out["obj"].weights.tolist() == [0, 1, 2]
    out = ember.load(_saved_custom(), weights_only=False, pickle_module=pickle)
    assert type(out["obj"]) is Custom


def test_custom_object_is_refused_by_default_naming_it():
    with pytest.raises(pickle.UnpicklingError, match=rf"{Custom.__module__}\.Custom"):
        ember.load(_saved_custom())


def test_add_safe_globals_and_context_manager():
    with ember.serialization.safe_globals([Custom]):
        assert ember.serialization.get_safe_globals() == [Custom]
        out = ember.load(_saved_custom())
        assert type(out["obj"]) is Custom and out["obj"].weights.tolist() == [0, 1, 2]
    assert ember.serialization.get_safe_globals() == []
    with pytest.raises(pickle.UnpicklingError):
        ember.load(_saved_custom())
    ember.serialization.add_safe_globals([Custom])
    assert ember.load(_saved_custom())["obj"].name == "fc"
    with pytest.raises(TypeError, match="pairs"):
        ember.serialization.add_safe_globals([(Custom, 3)])


def test_pickle_module_with_weights_only_is_an_error():
    with pytest.raises(RuntimeError, match="pickle_module"):
        ember.load(_saved_custom(), pickle_module=pickle, weights_only=True)


def test_full_load_maps_torch_names_and_names_missing_ones():
    with pytest.raises(pickle.UnpicklingError, match="torch.no_such_module.Thing"):
        ember.load(checkpoint(P2 + glob("torch.no_such_module", "Thing") + b"."), weights_only=False)
    from ember.nn.parameter import Parameter
    assert ember.load(checkpoint(P2 + glob("torch.nn.parameter", "Parameter") + b"."),
                      weights_only=False) is Parameter
    assert ember.load(checkpoint(P2 + glob("torch", "bfloat16") + b"."), weights_only=False) is ember.bfloat16


def test_bytes_decoding_is_limited_to_text_codecs():
    assert ember.load(checkpoint(P2 + glob("_codecs", "encode") + text("\xffa") + text("latin1") + b"\x86R.")) \
        == b"\xffa"
    with pytest.raises(pickle.UnpicklingError, match="rot13"):
        ember.load(checkpoint(P2 + glob("_codecs", "encode") + text("abc") + text("rot13") + b"\x86R."))
