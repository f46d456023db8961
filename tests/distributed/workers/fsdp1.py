"""Two ranks: FullyShardedDataParallel (FSDP1) strategies against one process's full-batch training."""
import os
import sys

import numpy as np

import ember as torch
import ember.distributed as dist
import ember.nn.functional as F
from ember.distributed.fsdp import (CPUOffload, FullOptimStateDictConfig, FullStateDictConfig,
                                    FullyShardedDataParallel as FSDP, MixedPrecision, ShardingStrategy,
                                    StateDictType)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ddp_common import LR, MOMENTUM, STEPS, data, make_model  # noqa: E402

out = sys.argv[1]
dist.init_process_group("gloo")
rank = dist.get_rank()
X, Y = data()
mine = slice(rank * 8, (rank + 1) * 8)


def reference(steps=STEPS, clip=None):
    m = make_model(seed=0)
    opt = torch.optim.SGD(m.parameters(), lr=LR, momentum=MOMENTUM)
    norms = []
    for _ in range(steps):
        opt.zero_grad()
        F.mse_loss(m(X), Y).backward()
        if clip is not None:
            norms.append(float(torch.nn.utils.clip_grad_norm_(m.parameters(), clip)))
        opt.step()
    return m, opt, norms


def close(got, want, what, tol=1e-5):
    for k in want:
        np.testing.assert_allclose(np.asarray(got[k]), np.asarray(want[k]), rtol=tol, atol=tol, err_msg=f"{what} {k}")


REF, REF_OPT, _ = reference()
WANT = {k: v.numpy() for k, v in REF.state_dict().items()}


def train(model, steps=STEPS, clip=None):
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    norms = []
    for _ in range(steps):
        opt.zero_grad()
        F.mse_loss(model(X[mine]), Y[mine]).backward()
        if clip is not None:
            norms.append(float(model.clip_grad_norm_(clip)))
        opt.step()
    return opt, norms


def full_state(model):
    with FSDP.state_dict_type(model, StateDictType.FULL_STATE_DICT):
        return {k: v.numpy() for k, v in model.state_dict().items()}


# FULL_SHARD with an auto-wrap policy: nested wrappers, names without the wrapper's prefix
model = FSDP(make_model(seed=0), auto_wrap_policy={torch.nn.Linear})
names = [n for n, _ in model.named_parameters()]
assert names == ["0.weight", "0.bias", "2.weight", "2.bias"], names
assert [p.numel() for p in model.parameters()] == [20, 4, 12, 2], [p.numel() for p in model.parameters()]
assert model.check_is_root() and not model.module[0].check_is_root() and len(FSDP.fsdp_modules(model)) == 3
opt, _ = train(model)
close(full_state(model), WANT, "FULL_SHARD")

# optimizer state: full (names, full shapes), then back into a fresh sharded optimizer
osd = FSDP.optim_state_dict(model, opt)
assert sorted(osd["state"]) == sorted(names) and osd["param_groups"][0]["params"] == names, osd["param_groups"]
ref_osd = REF_OPT.state_dict()
for i, n in enumerate(names):
    np.testing.assert_allclose(osd["state"][n]["momentum_buffer"].numpy(),
                               ref_osd["state"][i]["momentum_buffer"].numpy(), rtol=1e-5, atol=1e-6, err_msg=n)
fresh = FSDP(make_model(seed=3), auto_wrap_policy={torch.nn.Linear})
fresh_opt = torch.optim.SGD(fresh.parameters(), lr=LR, momentum=MOMENTUM)
FSDP.optim_state_dict_to_load(fresh, fresh_opt, osd, load_directly=True)
for p, q in zip(opt.param_groups[0]["params"], fresh_opt.param_groups[0]["params"]):
    np.testing.assert_allclose(fresh_opt.state[q]["momentum_buffer"].numpy(), opt.state[p]["momentum_buffer"].numpy())

# full state dict on rank 0 only; loading a full state dict shards it
with FSDP.state_dict_type(model, StateDictType.FULL_STATE_DICT, FullStateDictConfig(rank0_only=True),
                          FullOptimStateDictConfig(rank0_only=True)):
    sd = model.state_dict()
    assert (len(sd) == 4) if rank == 0 else (sd == {}), (rank, list(sd))
    assert (FSDP.optim_state_dict(model, opt) == {}) == (rank == 1)
with FSDP.state_dict_type(fresh, StateDictType.FULL_STATE_DICT):
    fresh.load_state_dict(REF.state_dict())
close(full_state(fresh), WANT, "loaded full")

# sharded state dict through a distributed checkpoint, loaded into another sharded model
import ember.distributed.checkpoint as dcp  # noqa: E402
with FSDP.state_dict_type(model, StateDictType.SHARDED_STATE_DICT):
    sd = model.state_dict()
    assert sd["0.weight"].numel() == 20
    dcp.save({"model": sd}, checkpoint_id=os.path.join(out, "fsdp1"))
other = FSDP(make_model(seed=4), auto_wrap_policy={torch.nn.Linear})
with FSDP.state_dict_type(other, StateDictType.SHARDED_STATE_DICT):
    state = {"model": other.state_dict()}
    dcp.load(state, checkpoint_id=os.path.join(out, "fsdp1"))
    other.load_state_dict(state["model"])
close(full_state(other), WANT, "sharded checkpoint")

# summon_full_params: full shapes inside; writes go back to the shards
with FSDP.summon_full_params(other):
    assert tuple(other.module[0].weight.shape) == (8, 5)
    with torch.no_grad():
        other.module[0].bias.fill_(7.0)
np.testing.assert_allclose(full_state(other)["0.bias"], np.full(8, 7.0))

# the other strategies, the gradient-norm clip and no_sync accumulation
for strategy in (ShardingStrategy.SHARD_GRAD_OP, ShardingStrategy.NO_SHARD):
    m = FSDP(make_model(seed=0), sharding_strategy=strategy)
    train(m)
    close(full_state(m), WANT, strategy.name)
single, _ = dist.new_subgroups(1)
hybrid = FSDP(make_model(seed=0), sharding_strategy=ShardingStrategy.HYBRID_SHARD,
              process_group=(single, dist.group.WORLD))
train(hybrid)
close(full_state(hybrid), WANT, "HYBRID_SHARD")

ref_clip, _, ref_norms = reference(clip=0.5)
clipped = FSDP(make_model(seed=0))
_, norms = train(clipped, clip=0.5)
np.testing.assert_allclose(norms, ref_norms, rtol=1e-5)
close(full_state(clipped), {k: v.numpy() for k, v in ref_clip.state_dict().items()}, "clipped")

acc = FSDP(make_model(seed=0))
opt = torch.optim.SGD(acc.parameters(), lr=LR, momentum=MOMENTUM)
for _ in range(STEPS):
    opt.zero_grad()
    half = [slice(rank * 8, rank * 8 + 4), slice(rank * 8 + 4, rank * 8 + 8)]
    with acc.no_sync():
        (F.mse_loss(acc(X[half[0]]), Y[half[0]]) / 2).backward()
    (F.mse_loss(acc(X[half[1]]), Y[half[1]]) / 2).backward()
    opt.step()
close(full_state(acc), WANT, "no_sync")

# mixed precision: compute in float64 from float32 shards (inputs cast at the root)
mp = FSDP(make_model(seed=0), mixed_precision=MixedPrecision(param_dtype=torch.float64))
assert mp(X[mine]).dtype == torch.float64
assert all(p.dtype == torch.float32 for p in mp.parameters())
train(mp)
close(full_state(mp), WANT, "mixed precision")
mp = FSDP(make_model(seed=0), sharding_strategy=ShardingStrategy.NO_SHARD,
          mixed_precision=MixedPrecision(param_dtype=torch.float64))
assert mp(X[mine]).dtype == torch.float64 and [p.numel() for p in mp.parameters()] == [40, 8, 24, 3]
train(mp)
close(full_state(mp), WANT, "NO_SHARD mixed precision")

# a communication hook replaces the reduce-scatter (here: sum instead of average, so twice the step)
calls = []


def hook(state, grad, output):
    state.append(1)
    dist.reduce_scatter_tensor(output, grad, op=dist.ReduceOp.SUM)


hooked = FSDP(make_model(seed=0))
hooked.register_comm_hook(calls, hook)
opt = torch.optim.SGD(hooked.parameters(), lr=LR / 2)
opt.zero_grad()
F.mse_loss(hooked(X[mine]), Y[mine]).backward()
opt.step()
assert len(calls) == 4, calls
plain, plain_opt, _ = reference(steps=0)
plain_opt = torch.optim.SGD(plain.parameters(), lr=LR)
F.mse_loss(plain(X), Y).backward()
plain_opt.step()
close(full_state(hooked), {k: v.numpy() for k, v in plain.state_dict().items()}, "comm hook")


def allreduce_sum(state, grad):   # NO_SHARD's hook form: reduce the whole gradient in place
    state.append(2)
    dist.all_reduce(grad)


unsharded = FSDP(make_model(seed=0), sharding_strategy=ShardingStrategy.NO_SHARD)
unsharded.register_comm_hook(calls, allreduce_sum)
opt = torch.optim.SGD(unsharded.parameters(), lr=LR / 2)
F.mse_loss(unsharded(X[mine]), Y[mine]).backward()
opt.step()
assert calls.count(2) == 4, calls
close(full_state(unsharded), {k: v.numpy() for k, v in plain.state_dict().items()}, "NO_SHARD comm hook")

# CPU offload: shards stay on the CPU while compute runs on another device
if len(sys.argv) > 2 and sys.argv[2] == "opencl":
    off = FSDP(make_model(seed=0).to("opencl"), cpu_offload=CPUOffload(offload_params=True))
    assert all(p.device.type == "cpu" for p in off.parameters())
    assert off(X[mine].to("opencl")).device.type == "opencl"
    opt = torch.optim.SGD(off.parameters(), lr=LR, momentum=MOMENTUM)
    for _ in range(STEPS):   # the optimizer steps the CPU shards; forward and backward run on opencl
        opt.zero_grad()
        F.mse_loss(off(X[mine]), Y[mine].to("opencl")).backward()
        assert all(p.grad.device.type == "cpu" for p in off.parameters())
        opt.step()
    close(full_state(off), WANT, "cpu offload", tol=1e-4)
print(f"OK fsdp1 rank {rank}")
