"""torch.distributed.checkpoint through planners and storage layers: in this process (no_dist),
and on two ranks (a user's StorageWriter honoured, failures, async_save, safetensors storage),
whose sharded checkpoint then loads in this one process."""
import io
import json
import re

import numpy as np
import pytest

import ember as torch
import ember.distributed as dist
import ember.distributed.checkpoint as dcp
from _dist_launch import launch


def _model(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))


def test_save_load_round_trip_with_nested_values_and_stateful(tmp_path):
    m = _model(0)
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    m(torch.ones(2, 5)).sum().backward()
    opt.step()
    md = dcp.save({"model": m, "optim": opt, "extra": {"step": 3, "tags": ["a", "b"]}}, checkpoint_id=tmp_path)
    assert isinstance(md, dcp.Metadata)
    assert isinstance(md.state_dict_metadata["model.0.weight"], dcp.TensorStorageMetadata)
    assert isinstance(md.state_dict_metadata["extra.step"], dcp.BytesStorageMetadata)
    # the metadata is JSON (no pickle) and the data files raw bytes
    meta = json.loads((tmp_path / ".metadata").read_text())
    assert meta["state_dict_metadata"]["model.0.weight"]["size"] == [8, 5]
    m2, opt2 = _model(1), None
    opt2 = torch.optim.SGD(m2.parameters(), lr=0.5, momentum=0.9)
    m2(torch.ones(2, 5)).sum().backward()
    opt2.step()
    state = {"model": m2, "optim": opt2, "extra": {"step": 0, "tags": ["", ""]}}
    dcp.load(state, checkpoint_id=tmp_path)
    assert state["extra"] == {"step": 3, "tags": ["a", "b"]}
    assert opt2.param_groups[0]["lr"] == 0.1
    for (k, a), (_, b) in zip(m.state_dict().items(), m2.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    for p, q in zip(opt.param_groups[0]["params"], opt2.param_groups[0]["params"]):
        np.testing.assert_array_equal(opt.state[p]["momentum_buffer"].numpy(), opt2.state[q]["momentum_buffer"].numpy())


def test_errors_and_partial_loads(tmp_path):
    m = _model(0)
    dcp.save({"model": m.state_dict()}, checkpoint_id=tmp_path)
    with pytest.raises(dcp.CheckpointException, match="Missing key in checkpoint state_dict: other"):
        dcp.load({"model": m.state_dict(), "other": torch.zeros(1)}, checkpoint_id=tmp_path)
    target = {"model": m.state_dict(), "other": torch.zeros(1)}
    dcp.load(target, checkpoint_id=tmp_path, planner=dcp.DefaultLoadPlanner(allow_partial_load=True))
    wrong = {"model": {"0.weight": torch.zeros(5, 8)}}
    with pytest.raises(dcp.CheckpointException, match="Size mismatch"):
        dcp.load(wrong, checkpoint_id=tmp_path, planner=dcp.DefaultLoadPlanner(allow_partial_load=True))
    with pytest.raises(dcp.CheckpointException, match="object"):
        dcp.save({"bad": object()}, checkpoint_id=tmp_path / "bad")
    assert not (tmp_path / "bad" / ".metadata").exists()
    with pytest.raises(RuntimeError, match="checkpoint_id"):
        dcp.save({"x": torch.ones(1)})
    with pytest.raises(dcp.CheckpointException, match="overwrite"):
        dcp.save({"x": torch.ones(1)}, storage_writer=dcp.FileSystemWriter(tmp_path, overwrite=False))


class _MemoryStorage(dcp.StorageWriter, dcp.StorageReader):
    """A user's storage: items and metadata in a dict."""

    def __init__(self):
        self.items, self.metadata, self.calls = {}, None, []

    def reset(self, checkpoint_id=None):
        self.calls.append("reset")

    def set_up_storage_writer(self, is_coordinator, *args, **kwargs):
        self.calls.append("set_up_writer")

    def prepare_local_plan(self, plan):
        return plan

    def prepare_global_plan(self, plans):
        return plans

    def write_data(self, plan, planner):
        from ember.futures import Future
        results = []
        for item in plan.items:
            data = planner.resolve_data(item)
            self.items[item.index] = data.getvalue() if isinstance(data, io.BytesIO) else data.clone()
            results.append(dcp.storage.WriteResult(item.index, 0, None))
        fut = Future()
        fut.set_result(results)
        return fut

    def finish(self, metadata, results):
        self.calls.append("finish")
        self.metadata = metadata

    def read_metadata(self):
        return self.metadata

    def set_up_storage_reader(self, metadata, is_coordinator, *args, **kwargs):
        self.calls.append("set_up_reader")

    def read_data(self, plan, planner):
        from ember.futures import Future
        for item in plan.items:
            stored = self.items[dcp.metadata.MetadataIndex(item.storage_index.fqn, item.storage_index.offset)]
            if item.type is dcp.planner.LoadItemType.BYTE_IO:
                planner.load_bytes(item, io.BytesIO(stored))
                continue
            target = planner.resolve_tensor(item)
            flat = stored.reshape(-1)
            s = item.storage_offsets[0]
            target.copy_(flat[s:s + item.lengths[0]])
            planner.commit_tensor(item, target)
        fut = Future()
        fut.set_result(None)
        return fut


def test_user_storage_writer_reader_and_planner_are_used():
    storage = _MemoryStorage()

    class Planner(dcp.DefaultSavePlanner):
        resolved = 0

        def resolve_data(self, write_item):
            Planner.resolved += 1
            return super().resolve_data(write_item)
    m = _model(0)
    dcp.save({"model": m.state_dict(), "n": 7}, storage_writer=storage, planner=Planner())
    assert storage.calls == ["reset", "set_up_writer", "finish"] and Planner.resolved == 5
    assert set(i.fqn for i in storage.items) == {"model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias", "n"}
    fresh = _model(4)
    state = {"model": fresh.state_dict(), "n": 0}
    dcp.load(state, storage_reader=storage)
    assert state["n"] == 7 and storage.calls[-1] == "set_up_reader"
    np.testing.assert_array_equal(fresh.state_dict()["2.weight"].numpy(), m.state_dict()["2.weight"].numpy())


def test_planner_dedups_equal_replicas_and_keeps_differing_ones():
    from ember.distributed.checkpoint.default_planner import DefaultSavePlanner
    plans = []
    for r in range(2):
        p = DefaultSavePlanner(dedup_save_to_lowest_rank=True)
        p.set_up_planner({"same": torch.ones(3), "differ": torch.full((2,), float(r)), "v": 1}, is_coordinator=r == 0)
        plans.append(p.create_local_plan())
    out, md = p.create_global_plan(plans)
    assert [sorted(i.index.fqn for i in q.items) for q in out] == [["differ", "same", "v"], ["differ"]]
    assert md.planner_data["per_rank"] == ["differ"] and [i.index.index for i in out[1].items] == [1]
    balanced, _ = DefaultSavePlanner().create_global_plan(plans)
    assert sum(len(q.items) for q in balanced) == 4 and all(q.items for q in balanced)


def test_async_save_stages_before_returning_and_hf_storage(tmp_path):
    m = _model(0)
    want = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    fut = dcp.async_save({"model": m.state_dict()}, checkpoint_id=tmp_path / "a")
    with torch.no_grad():
        for p in m.parameters():
            p.add_(1.0)
    fut.result(timeout=60)
    back = {"model": _model(3).state_dict()}
    dcp.load(back, checkpoint_id=tmp_path / "a")
    for k in want:
        np.testing.assert_array_equal(back["model"][k].numpy(), want[k])
    hf = tmp_path / "hf"
    dcp.save(m.state_dict(), storage_writer=dcp.HuggingFaceStorageWriter(hf))
    index = json.loads((hf / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == {"model-00001-of-00001.safetensors"}
    from ember.serialization import safetensors_io
    raw = safetensors_io.load_file(hf / "model-00001-of-00001.safetensors")
    np.testing.assert_array_equal(raw["0.bias"].numpy(), m.state_dict()["0.bias"].numpy())
    other = _model(7).state_dict()
    dcp.load(other, storage_reader=dcp.HuggingFaceStorageReader(hf))
    np.testing.assert_array_equal(other["2.weight"].numpy(), m.state_dict()["2.weight"].numpy())
    with pytest.warns(FutureWarning):
        dcp.save_state_dict({"x": torch.ones(2)}, dcp.FileSystemWriter(tmp_path / "old"), no_dist=True)
    target = {"x": torch.zeros(2)}
    with pytest.warns(FutureWarning):
        dcp.load_state_dict(target, dcp.FileSystemReader(tmp_path / "old"), no_dist=True)
    np.testing.assert_array_equal(target["x"].numpy(), [1, 1])


@pytest.mark.slow
@pytest.mark.skipif(not dist.is_available(), reason="needs ember[distributed]")
def test_two_ranks_planners_storage_async_and_resharded_load(tmp_path):
    p = launch(2, "dcp_planner.py", tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert sorted(re.findall(r"OK dcp rank \d", p.stdout)) == ["OK dcp rank 0", "OK dcp rank 1"]
    # the checkpoint the two ranks saved from their shards loads into one whole model here
    full = np.load(tmp_path / "full.npz")
    state = {"model": _model(5).state_dict(), "extra": {"step": 0, "name": ""}}
    dcp.load(state, checkpoint_id=str(tmp_path / "ckpt"))
    assert state["extra"] == {"step": 5, "name": "run"}
    for k in full.files:
        np.testing.assert_allclose(state["model"][k].numpy(), full[k], err_msg=k)



def _write_safetensors(path, tensors):
    """A safetensors file of raw (dtype name, shape, bytes) entries, written by hand (FP8 and MXFP4
    payloads are beyond the library's writer)."""
    header, blobs, offset = {}, [], 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + b"".join(blobs))


def test_quantized_hf_reader_dequantizes_fp8_blocks_and_mxfp4(tmp_path):
    import ml_dtypes
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 3)).astype(np.float32)
    w8 = w.astype(ml_dtypes.float8_e4m3fn)
    scale = np.array([[2.0, 0.5], [4.0, 1.0], [0.25, 8.0]], np.float32)   # blocks of 2 x 2
    blocks = rng.integers(0, 256, size=(2, 3, 4), dtype=np.uint8)          # 2 rows, 3 groups of 4 bytes
    scales = rng.integers(120, 134, size=(2, 3), dtype=np.uint8)
    bias = rng.standard_normal(3).astype(np.float32)
    _write_safetensors(tmp_path / "model-00001-of-00001.safetensors", {
        "w.weight": ("F8_E4M3", w.shape, w8.tobytes()), "w.weight_scale_inv": ("F32", scale.shape, scale.tobytes()),
        "m_blocks": ("U8", blocks.shape, blocks.tobytes()), "m_scales": ("U8", scales.shape, scales.tobytes()),
        "b": ("F32", bias.shape, bias.tobytes())})
    target = {"w.weight": torch.zeros(5, 3), "m_blocks": torch.zeros(2, 24), "b": torch.zeros(3)}
    dcp.load(target, storage_reader=dcp.QuantizedHuggingFaceStorageReader(str(tmp_path), block_size=2))
    # references: each weight block times its factor; each FP4 nibble (low first) times 2**(scale-127)
    rows, cols = np.arange(5)[:, None] // 2, np.arange(3)[None, :] // 2
    np.testing.assert_array_equal(target["w.weight"].numpy(), w8.astype(np.float64) * scale[rows, cols])
    fp4 = [0, .5, 1, 1.5, 2, 3, 4, 6, -0., -.5, -1, -1.5, -2, -3, -4, -6]
    want = np.empty((2, 3, 8))
    for i in range(2):
        for g in range(3):
            for j in range(4):
                byte = int(blocks[i, g, j])
                want[i, g, 2 * j] = fp4[byte & 15] * 2.0 ** (int(scales[i, g]) - 127)
                want[i, g, 2 * j + 1] = fp4[byte >> 4] * 2.0 ** (int(scales[i, g]) - 127)
    np.testing.assert_array_equal(target["m_blocks"].numpy(), want.reshape(2, 24))
    np.testing.assert_array_equal(target["b"].numpy(), bias)


def test_checkpoints_in_the_earlier_npz_layout_still_load():
    # tests/fixtures/dcp_npz_layout was written by ember's first distributed.checkpoint (see
    # tests/fixtures/record_dcp_npz_layout.py): load() recognises the layout and reads it
    import pathlib

    from ember.distributed.checkpoint._legacy_npz import is_legacy_checkpoint
    path = pathlib.Path(__file__).parent / "fixtures" / "dcp_npz_layout"
    assert is_legacy_checkpoint(path)
    raw = np.load(path / "__0_0.distcp")
    entries = json.loads((path / ".metadata").read_text())["entries"]
    model = torch.nn.Linear(4, 3)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(2, 4)).sum().backward()
    optimizer.step()
    state = {"model": model.state_dict(), "optim": optimizer.state_dict()}
    dcp.load(state, checkpoint_id=str(path), no_dist=True)
    np.testing.assert_array_equal(state["model"]["weight"].numpy(), raw["model.weight@0"])
    np.testing.assert_array_equal(state["model"]["bias"].numpy(), raw["model.bias@0"])
    np.testing.assert_array_equal(state["optim"]["state"][0]["exp_avg"].numpy(), raw["optim.state.0.exp_avg@0"])
    assert entries["optim.param_groups.0.lr"]["value"] == state["optim"]["param_groups"][0]["lr"]
