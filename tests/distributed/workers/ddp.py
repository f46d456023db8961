"""One rank of the DDP check (2 ranks under emberrun): trains an MLP on its DistributedSampler
shard with SGD momentum, accumulating half of each shard under ``no_sync``; rank 0 saves the
checkpoint that the test loads in one process and compares with full-batch training."""
import os
import sys

import numpy as np

import ember as torch
import ember.distributed as dist
import ember.nn.functional as F
from ember.nn.parallel import DistributedDataParallel as DDP
from ember.utils.data import DistributedSampler, TensorDataset

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ddp_common import LR, MOMENTUM, STEPS, data, make_model  # noqa: E402

out = sys.argv[1]
dist.init_process_group("gloo")
r, w = dist.get_rank(), dist.get_world_size()
X, Y = data()
sampler = DistributedSampler(TensorDataset(X, Y), num_replicas=w, rank=r, shuffle=False)
idx = list(sampler)
shards = [None] * w
dist.all_gather_object(shards, idx)
assert sorted(sum(shards, [])) == list(range(len(X))), shards   # the shards cover the dataset once

model = make_model(seed=r)     # each rank starts elsewhere: DDP must broadcast rank 0's values
ddp = DDP(model, bucket_cap_mb=0.0002)   # tiny buckets: several all-reduces per backward
assert ddp.module is model and list(ddp.state_dict())[0] == "module.0.weight"
opt = torch.optim.SGD(ddp.parameters(), lr=LR, momentum=MOMENTUM)
xs, ys = X[idx], Y[idx]
half = len(idx) // 2
for _ in range(STEPS):
    opt.zero_grad()
    with ddp.no_sync():    # local accumulation only
        (F.mse_loss(ddp(xs[:half]), ys[:half], reduction="sum") / ys.numel()).backward()
    (F.mse_loss(ddp(xs[half:]), ys[half:], reduction="sum") / ys.numel()).backward()
    opt.step()
np.savez(os.path.join(out, f"rank{r}.npz"), **{k: v.numpy() for k, v in model.state_dict().items()})
if r == 0:
    torch.save(ddp.module.state_dict(), os.path.join(out, "checkpoint.pt"))

# fully_shard: each rank holds half of every parameter (and of the optimiser's momentum);
# the same training must give the same model as DDP's
from ember.distributed.checkpoint import StateDictOptions, get_model_state_dict  # noqa: E402
from ember.distributed.fsdp import FSDPModule, fully_shard  # noqa: E402

sharded = make_model(seed=0)
for layer in (sharded[0], sharded[2]):
    fully_shard(layer)
fully_shard(sharded)
assert isinstance(sharded, FSDPModule)
assert [p.numel() for p in sharded.parameters()] == [20, 4, 12, 2]   # 40, 8, 24, 3 split in two
opt = torch.optim.SGD(sharded.parameters(), lr=LR, momentum=MOMENTUM)
for _ in range(STEPS):
    opt.zero_grad()
    sharded.set_requires_gradient_sync(False)
    (F.mse_loss(sharded(xs[:half]), ys[:half], reduction="sum") / ys.numel()).backward()
    sharded.set_requires_gradient_sync(True)
    (F.mse_loss(sharded(xs[half:]), ys[half:], reduction="sum") / ys.numel()).backward()
    opt.step()
assert all(s["momentum_buffer"].numel() in (20, 4, 12, 2) for s in opt.state.values())
full = get_model_state_dict(sharded, options=StateDictOptions(full_state_dict=True))
if r == 0:
    np.savez(os.path.join(out, "fsdp.npz"), **{k: v.numpy() for k, v in full.items()})


# reshard_after_forward (the default): between forward and backward the full parameters and the
# graph's views of them hold no memory; backward gathers them again and gives the same gradients
# as keeping them (reshard_after_forward=False)
def sharded_model(reshard):
    m = make_model(seed=0)
    for layer in (m[0], m[2]):
        fully_shard(layer, reshard_after_forward=reshard)
    return fully_shard(m, reshard_after_forward=reshard)


def full_param_bytes(loss, shard_ids):
    found, total, seen, stack = 0, 0, set(), [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        for s in getattr(node, "saved", None) or ():
            t = getattr(s, "tensor", None)
            base = None if t is None else (t._base if t._base is not None else t)
            if base is not None and isinstance(base, torch.nn.Parameter) and id(base) not in shard_ids:
                found += 1
                total += t._data.nbytes
        stack.extend(e[0] for e in getattr(node, "next_edges", ()) if e is not None)
    return found, total


grads = {}
for reshard in (True, False):
    m = sharded_model(reshard)
    shard_ids = {id(p) for p in m.parameters()}
    loss = F.mse_loss(m(xs), ys)
    found, held = full_param_bytes(loss, shard_ids)
    assert found >= 2, found   # the graph saved both weights (as transposes)
    if reshard:
        assert held == 0, held
        assert all(rec.full is None for layer in (m[0], m[2]) for rec in layer._fsdp_params)
        assert [p.numel() for p in m.parameters()] == [20, 4, 12, 2]   # the module holds its shards
    else:
        assert held > 0
    loss.backward()
    grads[reshard] = [p.grad.numpy().copy() for p in m.parameters()]
for a, b in zip(grads[True], grads[False]):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
print(f"OK reshard rank {r}", flush=True)


# find_unused_parameters: a branch that takes no part gets no gradient and does not block
class Two(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.used, self.unused = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)

    def forward(self, x):
        return self.used(x)


torch.manual_seed(0)
two = DDP(Two(), find_unused_parameters=True)
for _ in range(2):
    two(torch.ones(2, 3) * (r + 1)).sum().backward()
assert two.module.unused.weight.grad is None
np.testing.assert_allclose(two.module.used.weight.grad.numpy(), np.full((2, 3), 2 * 3.0), rtol=1e-6)
strict = DDP(Two())
strict(torch.ones(1, 3)).sum().backward()
try:
    strict(torch.ones(1, 3))
except RuntimeError as e:
    assert "find_unused_parameters" in str(e), e
else:
    raise AssertionError("an unused parameter without find_unused_parameters did not raise")
dist.barrier()
print(f"OK rank {r}", flush=True)

# communication hooks: the built-in allreduce hook gives DDP's own averages; fp16 compression
# gives them to half precision; a custom hook's values become the gradients
from ember.distributed.algorithms.ddp_comm_hooks import default_hooks  # noqa: E402


def hooked_grads(hook, state=None):
    m = make_model(seed=0)
    d = DDP(m, bucket_cap_mb=0.0002)
    if hook is not None:
        d.register_comm_hook(state, hook)
    F.mse_loss(d(xs), ys).backward()
    return [p.grad.numpy().copy() for p in m.parameters()], d


plain, _ = hooked_grads(None)
same, d = hooked_grads(default_hooks.allreduce_hook)
half, _ = hooked_grads(default_hooks.fp16_compress_hook)
for a, b, c in zip(plain, same, half):
    np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(c, a, rtol=2e-3, atol=1e-3)
try:
    d.register_comm_hook(None, default_hooks.allreduce_hook)
except RuntimeError as e:
    assert "only be called once" in str(e)
else:
    raise AssertionError("a second register_comm_hook did not raise")


def summing_hook(state, bucket):
    state.append((bucket.index(), [tuple(g.shape) for g in bucket.gradients()]))
    fut = dist.all_reduce(bucket.buffer(), async_op=True).get_future()
    return fut.then(lambda f: f.value()[0])   # a sum, not an average


seen = []
summed, _ = hooked_grads(summing_hook, seen)
for a, s in zip(plain, summed):
    np.testing.assert_allclose(s, a * w, rtol=1e-5, atol=1e-6)
assert seen and all(isinstance(shapes, list) for _, shapes in seen)
dist.barrier()
print(f"OK hooks rank {r}", flush=True)

# distributed checkpoint: the sharded model and its sharded optimizer state saved by both
# ranks; loaded back into fresh shards here, and into a plain model in one process by the test
import ember.distributed.checkpoint as dcp  # noqa: E402

ckpt = os.path.join(out, "dcp")
dcp.save({"model": get_model_state_dict(sharded), "optim": opt.state_dict()}, checkpoint_id=ckpt)
again = make_model(seed=3)
for layer in (again[0], again[2]):
    fully_shard(layer)
fully_shard(again)
opt2 = torch.optim.SGD(again.parameters(), lr=LR, momentum=MOMENTUM)
(again(xs).sum() * 0).backward()
opt2.step()   # creates the momentum buffers to load into
target = {"model": get_model_state_dict(again), "optim": opt2.state_dict()}
dcp.load(target, checkpoint_id=ckpt)
opt2.load_state_dict(target["optim"])
for a, b in zip(again.parameters(), sharded.parameters()):
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
for s2, s1 in zip(opt2.state.values(), opt.state.values()):
    np.testing.assert_array_equal(s2["momentum_buffer"].numpy(), s1["momentum_buffer"].numpy())
print(f"OK dcp rank {r}", flush=True)
