"""Loading checkpoints written by real PyTorch 2.13 (tests/fixtures, made by make_fixtures.py)."""
import json
import os
from collections import OrderedDict

import numpy as np
import pytest

import ember
from ember.serialization.storage import memory_owner

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
EXPECTED = np.load(os.path.join(FIXTURES, "expected.npz"))
with open(os.path.join(FIXTURES, "expected.json")) as _fh:
    META = json.load(_fh)


def fixture(name):
    return os.path.join(FIXTURES, name)


def as_float_numpy(t):
    arr = t.detach().numpy()
    return arr.astype(np.float32) if t.dtype is ember.bfloat16 else arr


def assert_matches(t, key):
    expected = EXPECTED[key]
    assert isinstance(t, ember.Tensor), key
    assert tuple(t.shape) == expected.shape, key
    np.testing.assert_array_equal(as_float_numpy(t), expected, err_msg=key)


def elem_strides(t):
    return tuple(s // t.element_size() for s in t._data.strides)


def elem_offset(t):
    root = memory_owner(t._data)
    return (t._data.__array_interface__["data"][0] - root.__array_interface__["data"][0]) // t.element_size()


def test_fixtures_were_made_by_torch_2_13():
    assert META["torch_version"].startswith("2.13")


def test_state_dict_values_dtypes_and_metadata():
    sd = ember.load(fixture("state_dict.pt"))
    assert type(sd) is OrderedDict
    assert list(sd) == ["conv.weight", "conv.bias", "bn.weight", "bn.running_mean", "bn.num_batches_tracked",
                        "fc.weight", "fc.bias", "mask", "positions"]
    dtypes = {"conv.weight": ember.float32, "bn.num_batches_tracked": ember.int64, "fc.weight": ember.float16,
              "fc.bias": ember.bfloat16, "mask": ember.bool, "positions": ember.int64}
    for key, d in dtypes.items():
        assert sd[key].dtype is d, key
    for key, t in sd.items():
        assert_matches(t, f"state_dict/{key}")
        assert t.device == ember.device("cpu")
        assert not t.requires_grad
    assert sd["bn.num_batches_tracked"].shape == () and sd["bn.num_batches_tracked"].item() == 7
    assert sd._metadata == OrderedDict([("", {"version": 1}), ("conv", {"version": 1}), ("bn", {"version": 2}),
                                        ("fc", {"version": 1})])


def test_every_dtype():
    loaded = ember.load(fixture("dtypes.pt"))
    for name, t in loaded.items():
        assert t.dtype is getattr(ember, name), name
        assert_matches(t, f"dtypes/{name}")
    assert loaded["int64"].numpy().max() > 2**31  # values beyond 32 bits survived


def test_non_contiguous_tensors_keep_their_strides():
    loaded = ember.load(fixture("noncontig.pt"))
    t, s = loaded["transposed"], loaded["strided"]
    assert_matches(t, "noncontig/transposed")
    assert_matches(s, "noncontig/strided")
    assert elem_strides(t) == (1, 5) and not t.is_contiguous()
    assert s.dtype is ember.float64 and elem_strides(s) == (12, 2) and elem_offset(s) == 1


def test_shared_storage_is_shared_again():
    loaded = ember.load(fixture("shared.pt"))
    for key, t in loaded.items():
        assert_matches(t, f"shared/{key}")
    base = loaded["base"]
    root = memory_owner(base._data)
    for key in ("row_slice", "col_view", "transposed", "flat_view"):
        assert memory_owner(loaded[key]._data) is root, key
    assert elem_offset(loaded["row_slice"]) == 6
    assert elem_offset(loaded["col_view"]) == 2 and elem_strides(loaded["col_view"]) == (6, 1)
    assert elem_strides(loaded["transposed"]) == (1, 6)
    assert elem_offset(loaded["flat_view"]) == 5
    # one memory: a write through a view shows in the base
    loaded["col_view"][0, 0] = -1.0
    assert base[0, 2].item() == -1.0 and loaded["transposed"][2, 0].item() == -1.0


def test_optimizer_state_dict():
    sd = ember.load(fixture("optimizer.pt"))
    assert set(sd) == {"state", "param_groups"}
    assert sorted(sd["state"]) == [0, 1]
    for index, state in sd["state"].items():
        assert sorted(state) == META["optimizer_state_keys"][str(index)]
        step = state["step"]
        assert step.dtype is ember.float32 and step.shape == () and step.item() == 2.0
        assert_matches(state["exp_avg"], f"optimizer/state/{index}/exp_avg")
        assert_matches(state["exp_avg_sq"], f"optimizer/state/{index}/exp_avg_sq")
    (group,) = sd["param_groups"]
    (expected,) = META["optimizer_param_groups"]
    assert group["betas"] == (0.9, 0.999) and isinstance(group["betas"], tuple)
    expected = dict(expected, betas=tuple(expected["betas"]))
    assert group == expected


def test_parameters():
    loaded = ember.load(fixture("parameter.pt"))
    assert_matches(loaded["weight"], "parameter/weight")
    assert_matches(loaded["frozen"], "parameter/frozen")
    assert loaded["weight"].requires_grad and loaded["weight"].is_leaf
    assert not loaded["frozen"].requires_grad
    from ember.nn.parameter import Parameter
    assert isinstance(loaded["weight"], Parameter) and isinstance(loaded["frozen"], Parameter)


def test_layout_fixture_non_tensor_values():
    loaded = ember.load(fixture("layout.pt"))
    assert loaded["sz"] == ember.Size([2, 3]) and isinstance(loaded["sz"], ember.Size)
    assert loaded["dt"] is ember.float32
    assert loaded["dev"] == ember.device("cpu")
    assert loaded["b"] == b"xy"
    assert loaded["step"].shape == () and loaded["step"].item() == 3.0


@pytest.mark.parametrize("name", ["state_dict", "dtypes", "noncontig", "shared", "optimizer", "parameter"])
def test_weights_only_and_full_load_agree(name):
    safe = ember.load(fixture(f"{name}.pt"))
    full = ember.load(fixture(f"{name}.pt"), weights_only=False)

    def flat(obj, prefix=""):
        if isinstance(obj, ember.Tensor):
            return {prefix: as_float_numpy(obj)}
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                out.update(flat(v, f"{prefix}/{k}"))
            return out
        if isinstance(obj, (list, tuple)):
            out = {}
            for i, v in enumerate(obj):
                out.update(flat(v, f"{prefix}/{i}"))
            return out
        return {prefix: obj}

    a, b = flat(safe), flat(full)
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], np.ndarray):
            np.testing.assert_array_equal(a[key], b[key])
        else:
            assert a[key] == b[key]


def test_mmap_load_of_torch_file():
    sd = ember.load(fixture("state_dict.pt"), mmap=True)
    for key, t in sd.items():
        assert_matches(t, f"state_dict/{key}")
    assert isinstance(memory_owner(sd["conv.weight"]._data), np.memmap)
    sd["conv.weight"][0, 0, 0, 0] = 123.0  # copy-on-write: the file does not change
    again = ember.load(fixture("state_dict.pt"))
    assert_matches(again["conv.weight"], "state_dict/conv.weight")


def test_torch_written_safetensors():
    tensors = ember.serialization.load_file(fixture("tensors.safetensors"))
    assert sorted(tensors) == ["bf16", "embed", "flags", "half", "ids"]
    assert tensors["bf16"].dtype is ember.bfloat16 and tensors["flags"].dtype is ember.bool
    for key, t in tensors.items():
        assert_matches(t, f"safetensors/{key}")
    assert ember.serialization.safetensors_io.metadata(fixture("tensors.safetensors")) == {
        "format": "pt", "made_by": "torch"}
