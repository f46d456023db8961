"""Two ranks: the c10d surface beyond the basic collectives (stores, option records, P2P batches,
object send/receive, coalesced collectives, subgroups, device meshes, fully_shard on meshes) and RPC."""
import datetime
import os
import sys

import numpy as np

import ember as torch
import ember.distributed as dist

# the ranks sign in through a file store before the group is made
rendezvous = dist.FileStore(sys.argv[1], 2)
dist.init_process_group("gloo", store=rendezvous)
rank, world = dist.get_rank(), dist.get_world_size()
assert world == 2 and rendezvous.add("ember_init_process_group", 0) == 2
assert dist.group.WORLD.group_name() == "0"
peer = 1 - rank
pg = dist.group.WORLD

# a TCPStore served by rank 0: counters, compare_set, waits and a queue seen by both ranks
port_box = [None]
if rank == 0:
    store = dist.TCPStore("127.0.0.1", 0, world, True, datetime.timedelta(seconds=20), wait_for_workers=False)
    port_box = [store.port]
dist.broadcast_object_list(port_box, src=0)
if rank == 1:
    store = dist.TCPStore("127.0.0.1", port_box[0], world, False, datetime.timedelta(seconds=20))
assert isinstance(store, dist.Store)
store.set(f"hello{rank}", f"from {rank}")
assert store.get(f"hello{peer}") == f"from {peer}".encode()
total = store.add("counter", rank + 1)
dist.barrier()
assert store.add("counter", 0) == 3, store.add("counter", 0)
prefixed = dist.PrefixStore("job", store)
if rank == 0:
    prefixed.set("k", "v")
    prefixed.queue_push("q", "item")
dist.barrier()
assert store.get("job/k") == b"v" and prefixed.get("k") == b"v"
if rank == 1:
    assert prefixed.queue_pop("q") == b"item"
won = store.compare_set("leader", "", str(rank))
dist.barrier()
assert store.get("leader") in (b"0", b"1") and won in (b"0", b"1")
store.set_timeout(datetime.timedelta(seconds=0.3))
try:
    store.get("never")
except dist.DistStoreError as e:
    assert "timeout" in str(e).lower()
else:
    raise AssertionError("a missing key did not time out")
dist.barrier()

# a gloo process group built over the store, and ProcessGroup methods with option records
gloo = dist.ProcessGroupGloo(dist.PrefixStore("gloo", store), rank, world, datetime.timedelta(seconds=30))
t = torch.tensor([1.0, 2.0]) * (rank + 1)
opts = dist.AllreduceOptions()
opts.reduceOp = dist.ReduceOp.MAX
gloo.allreduce([t], opts).wait()
np.testing.assert_array_equal(t.numpy(), [2.0, 4.0])
t = torch.full((3,), float(rank))
bo = dist.BroadcastOptions()
bo.rootRank = 1
pg.broadcast([t], bo).wait()
np.testing.assert_array_equal(t.numpy(), np.ones(3))
outs = [torch.zeros(2) for _ in range(world)]
pg.allgather([outs], [torch.full((2,), float(rank))]).wait()
np.testing.assert_array_equal(np.stack([o.numpy() for o in outs]), [[0, 0], [1, 1]])
r = torch.full((2,), float(rank + 1))
ro = dist.ReduceOptions()
ro.rootRank, ro.reduceOp = 0, dist.ReduceOp.PRODUCT
pg.reduce([r], ro).wait()
if rank == 0:
    np.testing.assert_array_equal(r.numpy(), [2.0, 2.0])
pg.barrier(dist.BarrierOptions()).wait()

# point to point in a batch, objects, coalesced collectives
got = torch.zeros(4)
works = dist.batch_isend_irecv([dist.P2POp(dist.isend, torch.arange(4.0) + 10 * rank, peer),
                                dist.P2POp(dist.irecv, got, peer)])
for w in works:
    w.wait()
np.testing.assert_array_equal(got.numpy(), np.arange(4.0) + 10 * peer)
if rank == 0:
    dist.send_object_list([{"lr": 0.1}, [1, 2], "text"], dst=1)
else:
    box = [None, None, None]
    assert dist.recv_object_list(box, src=0) == 0
    assert box == [{"lr": 0.1}, [1, 2], "text"], box
a, b = torch.ones(2) * (rank + 1), torch.arange(3.0) * (rank + 1)
dist.all_reduce_coalesced([a, b])
np.testing.assert_array_equal(a.numpy(), [3.0, 3.0])
np.testing.assert_array_equal(b.numpy(), [0.0, 3.0, 6.0])
gathered = [[torch.zeros(2), torch.zeros(1)] for _ in range(world)]
dist.all_gather_coalesced(gathered, [torch.full((2,), float(rank)), torch.full((1,), 5.0 + rank)])
assert [[g.tolist() for g in row] for row in gathered] == [[[0, 0], [5]], [[1, 1], [6]]]
whole = torch.zeros(4)
dist.all_gather_single(whole, torch.full((2,), float(rank)))
np.testing.assert_array_equal(whole.numpy(), [0, 0, 1, 1])
part = torch.zeros(2)
dist.reduce_scatter_single(part, torch.arange(4.0) * (rank + 1))
np.testing.assert_array_equal(part.numpy(), (np.arange(4.0) * 3)[rank * 2:rank * 2 + 2])
with dist.record_comm("my::allreduce"):
    w = dist.all_reduce(torch.ones(1), async_op=True)
assert w._what == "my::allreduce"
w.wait()

# subgroups, split and shrink
count = dist.get_pg_count()
mine, subs = dist.new_subgroups(group_size=1)
assert len(subs) == 2 and mine.size() == 1 and dist.get_process_group_ranks(mine) == [rank]
assert dist.get_pg_count() == count + 2
mine, subs = dist.new_subgroups_by_enumeration([[0, 1]])
assert mine.size() == 2
split = dist.split_group(split_ranks=[[0], [1]])
assert dist.get_process_group_ranks(split) == [rank]
for bad, kind in [(lambda: dist.new_subgroups(group_size=3), ValueError),
                  (lambda: dist.new_subgroups_by_enumeration([[0, 1], [1]]), ValueError)]:
    try:
        bad()
    except kind:
        pass
    else:
        raise AssertionError("no error")
if rank == 0:   # only the remaining rank takes part: the excluded one need not be alive
    alone = dist.shrink_group([1], group=subs[0])
    assert alone.size() == 1
assert dist.get_backend_config() == "cpu:gloo,cuda:gloo"

# device meshes: groups per dimension, sub-meshes, and fully_shard over a 2-D (HSDP) mesh
from ember.distributed.device_mesh import DeviceMesh, init_device_mesh  # noqa: E402
mesh = init_device_mesh("cpu", (2,), mesh_dim_names=("dp",))
assert mesh.get_group().size() == 2 and mesh.get_local_rank() == rank and mesh.get_coordinate() == (rank,)
assert dist.DeviceMesh is DeviceMesh
mesh2 = init_device_mesh("cpu", (2, 1), mesh_dim_names=("replicate", "shard"))
assert mesh2["replicate"].get_group().size() == 2 and mesh2["shard"].get_group().size() == 1
assert mesh2.shape == (2, 1) and mesh2.get_coordinate() == (rank, 0) and mesh2["shard", "replicate"].shape == (1, 2)
try:
    mesh2.get_group()
except RuntimeError as e:
    assert "mesh_dim" in str(e)
else:
    raise AssertionError("a 2-D mesh gave a group without mesh_dim")
try:
    init_device_mesh("cpu", (4,))
except RuntimeError as e:
    assert "bigger" in str(e)
else:
    raise AssertionError("a mesh larger than the world was accepted")

import ember.nn.functional as F  # noqa: E402
from ember.distributed.fsdp import DataParallelMeshDims, MixedPrecisionPolicy, fully_shard  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ddp_common import LR, data, make_model  # noqa: E402
X, Y = data()
ref = make_model(seed=0)
F.mse_loss(ref(X), Y).backward()
for model in (fully_shard(make_model(seed=0), mesh=mesh2),   # HSDP: replicate over 2, shard over 1
              fully_shard(make_model(seed=0), mesh=mesh2, dp_mesh_dims=DataParallelMeshDims(shard="replicate")),
              fully_shard(make_model(seed=0), mp_policy=MixedPrecisionPolicy(param_dtype=torch.float64,
                                                                             output_dtype=torch.float32))):
    out = model(X[rank * 8:(rank + 1) * 8])
    assert out.dtype == torch.float32
    F.mse_loss(out, Y[rank * 8:(rank + 1) * 8]).backward()
    from ember.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict  # noqa: E402
    for (name, p), (_, q) in zip(model.named_parameters(), ref.named_parameters()):
        full = torch.zeros(p.numel() * model._fsdp_group.size())
        dist.all_gather_into_tensor(full, p.grad.to(torch.float32), group=model._fsdp_group)
        np.testing.assert_allclose(full.numpy()[:q.numel()], q.grad.numpy().reshape(-1), rtol=1e-5, atol=1e-6,
                                   err_msg=name)

# RPC between the two workers: calls, futures, remote references, remote errors
import ember.distributed.rpc as rpc  # noqa: E402


class Counter:
    def __init__(self, start):
        self.n = start

    def add(self, k):
        self.n += k
        return self.n


def scaled(x):
    return (x * SCALE).sum(0)


SCALE = torch.nn.Parameter(torch.full((3,), 2.0 + rank))


def _scale_grad(context_id):
    import ember.distributed.autograd as dist_autograd
    return dist_autograd.get_gradients(context_id)[SCALE].numpy()


def fails():
    raise KeyError("remote failure")


import socket  # noqa: E402
port = [None]
if rank == 0:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = [s.getsockname()[1]]
dist.broadcast_object_list(port, src=0)
rpc.init_rpc(f"worker{rank}", rank=rank, world_size=2, rpc_backend_options=rpc.TensorPipeRpcBackendOptions(
    init_method=f"tcp://127.0.0.1:{port[0]}", rpc_timeout=30))
peer = f"worker{1 - rank}"
assert rpc.get_worker_info().name == f"worker{rank}" and rpc.get_worker_info(peer).id == 1 - rank
got = rpc.rpc_sync(peer, torch.add, args=(torch.ones(3), 2))
np.testing.assert_array_equal(got.numpy(), [3, 3, 3])
fut = rpc.rpc_async(peer, torch.mul, args=(torch.arange(3.0), torch.arange(3.0)))
np.testing.assert_array_equal(fut.wait().numpy(), [0, 1, 4])
assert rpc.rpc_sync(1 - rank, os.getpid) != os.getpid()   # ran in the other process
ref = rpc.remote(peer, Counter, args=(10,))
assert not ref.is_owner() and ref.owner_name() == peer
assert ref.rpc_sync().add(5) == 15 and ref.rpc_async().add(1).wait() == 16
assert ref.to_here().n == 16
local = rpc.RRef([1, 2])
assert local.is_owner() and local.to_here() == [1, 2]
try:
    rpc.rpc_sync(peer, fails)
except KeyError as e:
    assert "remote failure" in str(e)
else:
    raise AssertionError("the remote exception was not raised")

# distributed autograd: the gradient crosses the RPC to the callee's parameter and back to ours
import ember.distributed.autograd as dist_autograd  # noqa: E402


x = torch.nn.Parameter(torch.arange(6.0).reshape(2, 3))
for turn in range(2):   # one worker at a time (ember's grad mode is process-wide, not per thread)
    if rank == turn:
        with dist_autograd.context() as ctx_id:
            y = rpc.rpc_sync(peer, scaled, args=(x,))
            z = rpc.rpc_async(peer, scaled, args=(x,)).wait()
            loss = (y * y).sum() + z.sum()
            dist_autograd.backward(ctx_id, [loss])
            grads = dist_autograd.get_gradients(ctx_id)
            s = 3.0 - rank   # the peer's SCALE value
            colsum = np.arange(6.0).reshape(2, 3).sum(0)
            np.testing.assert_allclose(grads[x].numpy(), np.broadcast_to(2 * colsum * s * s + s, (2, 3)), rtol=1e-6)
            assert x.grad is None   # gradients stay in the context
            # the peer's SCALE got its gradient in the peer's part of the context
            theirs = rpc.rpc_sync(peer, _scale_grad, args=(ctx_id,))
            np.testing.assert_allclose(theirs, 2 * colsum * colsum * s + colsum, rtol=1e-6)
    dist.barrier()
rpc.shutdown()
print(f"OK dist_api rank {rank}")
