"""ember-written archives against the layout PyTorch writes, compared without torch.

The fixtures in tests/fixtures were written by torch.save; here ember writes the same
objects and the archives are compared record by record: entry names and order, zip
layout (64-byte aligned data, flags, data descriptors), the pickle's reconstructed
object tree (see _checkpoint_records.py), and the raw bytes of every storage.
"""
import io
import os
import struct
import zlib
from collections import OrderedDict

import numpy as np
import pytest

import ember
from _checkpoint_records import Archive, opcode_names, pickle_tree
from ember.serialization import zipformat

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
EXPECTED = np.load(os.path.join(FIXTURES, "expected.npz"))
TORCH_FILES = ["state_dict", "dtypes", "noncontig", "shared", "optimizer", "parameter", "layout"]
TORCH_RECORD_ORDER_HEAD = ["data.pkl", ".format_version", ".storage_alignment", "byteorder"]
TORCH_RECORD_ORDER_TAIL = ["version", ".data/serialization_id"]


def torch_archive(name):
    return Archive(os.path.join(FIXTURES, f"{name}.pt"))


def ember_archive(obj, tmp_path, name):
    path = tmp_path / f"{name}.pt"
    ember.save(obj, path)
    return Archive(str(path))


def from_expected(key, dtype=None):
    t = ember.from_numpy(EXPECTED[key].copy())
    return t if dtype is None else t.to(dtype)


def assert_same_archive(ours: Archive, theirs: Archive):
    assert ours.prefix == theirs.prefix
    assert ours.names == theirs.names
    for name in ours.names:
        if name == ".data/serialization_id":
            continue
        if name == "data.pkl":
            assert pickle_tree(ours.read(name)) == pickle_tree(theirs.read(name))
        else:
            assert ours.read(name) == theirs.read(name), name


# ---------------------------------------------------------------- the torch fixtures' own layout
@pytest.mark.parametrize("name", TORCH_FILES)
def test_torch_layout_is_what_ember_writes(name):
    """Pins the facts about PyTorch's layout the writer reproduces."""
    arc = torch_archive(name)
    assert arc.prefix == name
    assert arc.names[:4] == TORCH_RECORD_ORDER_HEAD and arc.names[-2:] == TORCH_RECORD_ORDER_TAIL
    assert all(n.startswith("data/") for n in arc.names[4:-2])
    assert arc.read(".format_version") == b"1" and arc.read(".storage_alignment") == b"64"
    assert arc.read("byteorder") == b"little" and arc.read("version") == b"3\n"
    assert arc.read("data.pkl")[:2] == b"\x80\x02"


# ---------------------------------------------------------------- ember re-saving torch files
@pytest.mark.parametrize("name", TORCH_FILES)
def test_resaving_a_torch_checkpoint_reproduces_its_records(tmp_path, name):
    loaded = ember.load(os.path.join(FIXTURES, f"{name}.pt"))
    ours = ember_archive(loaded, tmp_path, name)
    theirs = torch_archive(name)
    assert_same_archive(ours, theirs)
    assert set(opcode_names(ours.read("data.pkl"))) <= set(opcode_names(theirs.read("data.pkl")))


@pytest.mark.parametrize("name", TORCH_FILES)
def test_zip_layout_matches_torch(tmp_path, name):
    ours = ember_archive(ember.load(os.path.join(FIXTURES, f"{name}.pt")), tmp_path, name)
    theirs = torch_archive(name)
    for a, b in zip(ours.infos, theirs.infos):
        for field in ("flag_bits", "compress_type", "create_version", "extract_version", "date_time",
                      "external_attr", "internal_attr", "extra", "create_system"):
            assert getattr(a, field) == getattr(b, field), (a.filename, field)
    for arc in (ours, theirs):
        for info in arc.infos:
            offset = arc.data_offset(info)
            assert offset % 64 == 0, info.filename
            header = arc.local_header(info)
            assert header[2] == 0x0808 and header[3] == 0 and header[6:9] == (0, 0, 0)
            extra = arc.local_extra(info)
            assert extra[:2] == b"FB" and struct.unpack("<H", extra[2:4])[0] == len(extra) - 4
            assert set(extra[4:]) <= {ord("Z")}
            descriptor = arc.raw[offset + info.file_size:offset + info.file_size + 16]
            data = arc.raw[offset:offset + info.file_size]
            assert descriptor == struct.pack("<IIII", 0x08074B50, zlib.crc32(data), len(data), len(data))
    # both end with a ZIP64 end record, its locator, and the classic end record
    for arc in (ours, theirs):
        assert arc.raw[-22:-18] == b"PK\x05\x06" and arc.raw[-42:-38] == b"PK\x06\x07"
        assert arc.raw[-98:-94] == b"PK\x06\x06"


def _masked(arc: Archive):
    """The archive's bytes with its serialization id, and the CRCs over it, zeroed."""
    raw = bytearray(arc.raw)
    info = next(i for i in arc.infos if i.filename.endswith(".data/serialization_id"))
    start = arc.data_offset(info)
    raw[start:start + info.file_size] = b"0" * info.file_size
    raw[start + info.file_size + 4:start + info.file_size + 8] = b"\0" * 4  # descriptor CRC
    cd_offset = struct.unpack("<I", arc.raw[-6:-2])[0]
    pos = cd_offset
    for i in arc.infos:
        name_len, extra_len, comment_len = struct.unpack("<HHH", arc.raw[pos + 28:pos + 34])
        if i is info:
            raw[pos + 16:pos + 20] = b"\0" * 4
        pos += 46 + name_len + extra_len + comment_len
    return bytes(raw)


def test_byte_identical_to_torch_apart_from_the_random_id(tmp_path):
    a = ember.arange(12, dtype=ember.float32).reshape(3, 4)
    obj = OrderedDict(w=a, wt=a.t(), s=a[1:, 2:], h=ember.ones(2, dtype=ember.float16), step=ember.tensor(3.0),
                      sz=ember.Size([2, 3]), dt=ember.float32, dev=ember.device("cpu"), b=b"xy")
    ours = ember_archive(obj, tmp_path, "layout")
    theirs = torch_archive("layout")
    assert ours.read("data.pkl") == theirs.read("data.pkl")
    assert _masked(ours) == _masked(theirs)
    sid = ours.read(".data/serialization_id")
    assert len(sid) == 40 and sid.isdigit()


# ---------------------------------------------------------------- objects built in ember, compared with torch's
def test_shared_views_written_like_torch(tmp_path):
    base = ember.arange(24, dtype=ember.float32).reshape(4, 6)
    obj = {"base": base, "row_slice": base[1:3], "col_view": base[:, 2:5], "transposed": base.t(),
           "flat_view": base.view(-1)[5:17]}
    ours = ember_archive(obj, tmp_path, "shared")
    assert ours.names.count("data/0") == 1 and "data/1" not in ours.names  # one storage for all five
    assert_same_archive(ours, torch_archive("shared"))


def test_non_contiguous_written_like_torch(tmp_path):
    a = from_expected("noncontig/transposed").t().contiguous()  # the (3, 5) original
    # torch saved the whole 4x6 storage the strided slice views; its other elements come from that record
    b_bytes = np.frombuffer(torch_archive("noncontig").read("data/1"), dtype=np.float64).reshape(4, 6)
    b = ember.from_numpy(b_bytes.copy())
    obj = {"transposed": a.t(), "strided": b[::2, 1::2]}
    assert_same_archive(ember_archive(obj, tmp_path, "noncontig"), torch_archive("noncontig"))


def test_state_dict_written_like_torch(tmp_path):
    keys = ["conv.weight", "conv.bias", "bn.weight", "bn.running_mean", "bn.num_batches_tracked", "fc.weight",
            "fc.bias", "mask", "positions"]
    casts = {"fc.weight": ember.float16, "fc.bias": ember.bfloat16}
    sd = OrderedDict((k, from_expected(f"state_dict/{k}", casts.get(k))) for k in keys)
    sd._metadata = OrderedDict([("", {"version": 1}), ("conv", {"version": 1}), ("bn", {"version": 2}),
                                ("fc", {"version": 1})])
    assert_same_archive(ember_archive(sd, tmp_path, "state_dict"), torch_archive("state_dict"))


def test_optimizer_state_dict_written_like_torch(tmp_path):
    state = {}
    for i in (0, 1):
        state[i] = {"step": ember.tensor(2.0), "exp_avg": from_expected(f"optimizer/state/{i}/exp_avg"),
                    "exp_avg_sq": from_expected(f"optimizer/state/{i}/exp_avg_sq")}
    group = {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-08, "weight_decay": 0, "amsgrad": False,
             "maximize": False, "foreach": None, "capturable": False, "differentiable": False, "fused": None,
             "decoupled_weight_decay": False, "params": [0, 1]}
    obj = {"state": state, "param_groups": [group]}
    assert_same_archive(ember_archive(obj, tmp_path, "optimizer"), torch_archive("optimizer"))


def test_parameters_written_like_torch(tmp_path):
    from ember.nn.parameter import Parameter
    obj = {"weight": Parameter(from_expected("parameter/weight")),
           "frozen": Parameter(from_expected("parameter/frozen"), requires_grad=False)}
    assert_same_archive(ember_archive(obj, tmp_path, "parameter"), torch_archive("parameter"))


# ---------------------------------------------------------------- archive naming and the zip64 path
def test_archive_names():
    assert zipformat.archive_name_for_path("/x/y/model.pt") == "model"
    assert zipformat.archive_name_for_path("ckpt.tar.pth") == "ckpt.tar"
    assert zipformat.archive_name_for_path("noext") == "noext"
    assert zipformat.archive_name_for_path("/x/ünï.pt") == "archive"
    buf = io.BytesIO()
    ember.save({"x": ember.ones(2)}, buf)
    assert Archive(buf).prefix == "archive"


def test_zip64_fields_are_readable(tmp_path, monkeypatch):
    """Force the ZIP64 branch (normally for >4 GiB) on a small file; zipfile and ember read it."""
    monkeypatch.setattr(zipformat, "ZIP64_LIMIT", 100)
    x = ember.arange(64, dtype=ember.float32)
    path = tmp_path / "big.pt"
    ember.save({"x": x, "y": x[3:9]}, path)
    arc = Archive(str(path))
    info = next(i for i in arc.infos if i.filename.endswith("data/0"))
    assert info.file_size == 256 and arc.data_offset(info) % 64 == 0
    extra = arc.local_extra(info)
    assert extra[:2] == b"\x01\x00"  # the ZIP64 extra field comes first, then the FB padding
    loaded = ember.load(path)
    np.testing.assert_array_equal(loaded["x"].numpy(), np.arange(64, dtype=np.float32))
    np.testing.assert_array_equal(loaded["y"].numpy(), np.arange(3, 9, dtype=np.float32))
