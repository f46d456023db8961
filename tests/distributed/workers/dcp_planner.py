"""Two ranks: distributed checkpoints through planners and storage layers (a user's writer and
reader honoured, asynchronous saves, failures on one rank, safetensors storage, optimizer state)."""
import io
import os
import sys

import numpy as np

import ember as torch
import ember.distributed as dist
import ember.distributed.checkpoint as dcp
from ember.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
from ember.distributed.fsdp import fully_shard
from ember.futures import Future

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ddp_common import make_model  # noqa: E402

out = sys.argv[1]
dist.init_process_group("gloo")
rank = dist.get_rank()

model = fully_shard(make_model(seed=0))
full = {k: v.numpy() for k, v in get_model_state_dict(model, options=StateDictOptions(full_state_dict=True)).items()}
if rank == 0:
    np.savez(os.path.join(out, "full.npz"), **full)
sharded = get_model_state_dict(model)


class MemoryWriter(dcp.StorageWriter):
    """Keeps every rank's items in memory and the metadata in a shared dict (to check the calls)."""
    calls = []

    def __init__(self, box):
        self.box = box

    def reset(self, checkpoint_id=None):
        self.calls.append("reset")

    def set_up_storage_writer(self, is_coordinator, *args, **kwargs):
        self.calls.append("set_up")

    def prepare_local_plan(self, plan):
        self.calls.append("local")
        return plan

    def prepare_global_plan(self, plans):
        self.calls.append("global")
        return plans

    def write_data(self, plan, planner):
        self.calls.append("write")
        results = []
        for item in plan.items:
            data = planner.resolve_data(item)
            raw = data.getvalue() if isinstance(data, io.BytesIO) else data.numpy().tobytes()
            self.box[item.index] = raw
            results.append(dcp.storage.WriteResult(item.index, len(raw), item.index))
        fut = Future()
        fut.set_result(results)
        return fut

    def finish(self, metadata, results):
        self.calls.append("finish")
        self.box["metadata"] = metadata


class CountingPlanner(dcp.DefaultSavePlanner):
    def create_local_plan(self):
        plan = super().create_local_plan()
        self.local_items = len(plan.items)
        return plan


box = {}
planner = CountingPlanner()
md = dcp.save({"model": sharded, "step": 5}, storage_writer=MemoryWriter(box), planner=planner)
assert MemoryWriter.calls[:3] == ["reset", "set_up", "local"], MemoryWriter.calls
assert "write" in MemoryWriter.calls and (("finish" in MemoryWriter.calls) == (rank == 0)), MemoryWriter.calls
assert planner.local_items == 5, planner.local_items   # four shards and the step
tmd = md.state_dict_metadata["model.0.weight"]
assert isinstance(tmd, dcp.TensorStorageMetadata) and tuple(tmd.size) == (8, 5)
assert sorted(c.offsets for c in tmd.chunks) == [(0,), (20,)], tmd.chunks
assert isinstance(md.state_dict_metadata["step"], dcp.BytesStorageMetadata)
mine = [k for k in box if k != "metadata" and k.fqn == "model.0.weight"]
assert [k.offset for k in mine] == [(rank * 20,)], mine   # each rank wrote only its own shard
if rank == 0:
    assert "metadata" in box

# file-system storage with a second planner/reader, resharded into a replicated model
path = os.path.join(out, "ckpt")
dcp.save({"model": sharded, "extra": {"step": 5, "name": "run"}},
         storage_writer=dcp.FileSystemWriter(path, thread_count=2), planner=dcp.DefaultSavePlanner())
files = sorted(os.listdir(path))
assert ".metadata" in files and not any(f.startswith(".tmp") for f in files), files
plain = make_model(seed=3)
state = {"model": plain.state_dict(), "extra": {"step": 0, "name": ""}}
dcp.load(state, storage_reader=dcp.FileSystemReader(path), planner=dcp.DefaultLoadPlanner())
assert state["extra"] == {"step": 5, "name": "run"}, state["extra"]
for k in full:
    np.testing.assert_allclose(state["model"][k].numpy(), full[k], err_msg=k)
try:
    dcp.load({"model": plain.state_dict(), "missing": torch.zeros(1)}, checkpoint_id=path)
except dcp.CheckpointException as e:
    assert "Missing key in checkpoint state_dict: missing" in str(e), str(e)
    assert sorted(e.failures) == [0, 1]
else:
    raise AssertionError("a missing key loaded")
partial = {"model": plain.state_dict(), "missing": torch.zeros(1)}
dcp.load(partial, checkpoint_id=path, planner=dcp.DefaultLoadPlanner(allow_partial_load=True))


# a failure on one rank reaches every rank, and no metadata is written
class FailingPlanner(dcp.DefaultSavePlanner):
    def create_local_plan(self):
        if dist.get_rank() == 1:
            raise ValueError("rank 1 cannot plan")
        return super().create_local_plan()


bad = os.path.join(out, "bad")
try:
    dcp.save({"model": sharded}, checkpoint_id=bad, planner=FailingPlanner())
except dcp.CheckpointException as e:
    assert list(e.failures) == [1] and isinstance(e.failures[1], ValueError), e.failures
else:
    raise AssertionError("the failure was not raised")
assert not os.path.exists(os.path.join(bad, ".metadata"))

# asynchronous save: staged at once, so changing the model afterwards does not change the checkpoint
apath = os.path.join(out, "async")
fut = dcp.async_save({"model": get_model_state_dict(model)}, checkpoint_id=apath)
with torch.no_grad():
    for p in model.parameters():
        p.add_(100.0)
assert isinstance(fut.result(timeout=60), dcp.Metadata)
back = {"model": get_model_state_dict(model)}
dcp.load(back, checkpoint_id=apath)
got = {k: v.numpy() for k, v in get_model_state_dict(model, options=StateDictOptions(full_state_dict=True)).items()}
for k in full:   # load filled the shards in place with the values from before the change
    np.testing.assert_allclose(got[k], full[k], err_msg=f"async {k}")

# safetensors storage: rank 0 writes the full state dict, both ranks read their shards back
hf = os.path.join(out, "hf")
full_sd = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True))
dcp.save(full_sd if rank == 0 else {}, storage_writer=dcp.HuggingFaceStorageWriter(hf, fqn_to_index_mapping={
    "0.weight": 1, "0.bias": 1, "2.weight": 2, "2.bias": 2}))
if rank == 0:
    assert sorted(os.listdir(hf)) == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                                      "model.safetensors.index.json"], os.listdir(hf)
    from ember.serialization import safetensors_io
    np.testing.assert_allclose(safetensors_io.load_file(os.path.join(hf, "model-00002-of-00002.safetensors"))[
        "2.weight"].numpy(), full["2.weight"])
other = fully_shard(make_model(seed=9))
target = get_model_state_dict(other)
dcp.load(target, storage_reader=dcp.HuggingFaceStorageReader(hf))
got = {k: v.numpy() for k, v in get_model_state_dict(other, options=StateDictOptions(full_state_dict=True)).items()}
for k in full:
    np.testing.assert_allclose(got[k], full[k], err_msg=f"hf {k}")

# optimizer state keyed by parameter name, loaded sharded like the model
opt_state = {"state": {k: {"exp_avg": v * 2} for k, v in sharded.items()}, "param_groups": [{"lr": 0.5, "params":
                                                                                            list(sharded)}]}
opath = os.path.join(out, "optim")
dcp.save({"model": sharded, "optim": opt_state}, checkpoint_id=opath)
loaded = dcp.load_sharded_optimizer_state_dict(get_model_state_dict(other), "optim", dcp.FileSystemReader(opath))
assert loaded["optim"]["param_groups"][0]["lr"] == 0.5, loaded["optim"]["param_groups"]
for k, v in sharded.items():
    np.testing.assert_allclose(loaded["optim"]["state"][k]["exp_avg"].numpy(), v.numpy() * 2, err_msg=k)
print(f"OK dcp rank {rank}")
