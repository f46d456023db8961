"""One rank of the collectives check (run under emberrun with 2 or 3 ranks): every collective on
cpu and opencl tensors against the numpy result worked out from every rank's known inputs."""
import datetime
import sys

import numpy as np

import ember as torch
import ember.distributed as dist

dist.init_process_group("gloo")
r, w = dist.get_rank(), dist.get_world_size()
assert dist.is_initialized() and dist.get_backend() == "gloo"
devices = sys.argv[1].split(",")


def inputs(rank, n=5, dtype=np.float64):
    # every rank's input is known to every rank: the expected results are plain numpy
    return np.random.default_rng(100 + rank).standard_normal(n).astype(dtype)


def check(got, want, what):
    got = got.cpu().numpy() if isinstance(got, torch.Tensor) else got
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"{what} on rank {r}")


allx = np.stack([inputs(k) for k in range(w)])
for dev in devices:
    for dtype in (torch.float32, torch.int64):
        npdt = np.float32 if dtype is torch.float32 else np.int64
        xs = (allx * 10).astype(npdt)
        mine = lambda: torch.tensor(xs[r], dtype=dtype, device=dev)  # noqa: E731
        ops = {dist.ReduceOp.SUM: xs.sum(0), dist.ReduceOp.PRODUCT: xs.prod(0), dist.ReduceOp.MIN: xs.min(0),
               dist.ReduceOp.MAX: xs.max(0)}
        if dtype is torch.float32:
            ops[dist.ReduceOp.AVG] = xs.mean(0)
        for op, want in ops.items():
            t = mine()
            dist.all_reduce(t, op=op)
            check(t, want, f"all_reduce {op} {dtype} {dev}")
            t = mine()
            dist.reduce(t, dst=w - 1, op=op)
            check(t, want if r == w - 1 else xs[r], f"reduce {op} {dtype} {dev}")
        t = mine()
        work = dist.all_reduce(t, async_op=True)
        work.wait()
        assert work.is_completed()
        check(t, xs.sum(0), f"async all_reduce {dev}")
        t = mine()
        dist.broadcast(t, src=1)
        check(t, xs[1], f"broadcast {dev}")
        outs = [torch.zeros(5, dtype=dtype, device=dev) for _ in range(w)]
        dist.all_gather(outs, mine())
        for k in range(w):
            check(outs[k], xs[k], f"all_gather {dev}")
        big = torch.zeros(w, 5, dtype=dtype, device=dev)
        dist.all_gather_into_tensor(big, mine())
        check(big, xs, f"all_gather_into_tensor {dev}")
        # reduce_scatter: rank k contributes blocks (k + j) and rank j gets their sum
        blocks = lambda k: [(xs[k] + j).astype(npdt) for j in range(w)]  # noqa: E731
        out = torch.zeros(5, dtype=dtype, device=dev)
        dist.reduce_scatter(out, [torch.tensor(b, device=dev) for b in blocks(r)])
        check(out, sum(blocks(k)[r] for k in range(w)), f"reduce_scatter {dev}")
        out = torch.zeros(5, dtype=dtype, device=dev)
        dist.reduce_scatter_tensor(out, torch.tensor(np.concatenate(blocks(r)), device=dev), op=dist.ReduceOp.MAX)
        check(out, np.max([blocks(k)[r] for k in range(w)], 0), f"reduce_scatter_tensor {dev}")
        # all_to_all with pieces of different sizes: rank k sends k + j + 1 values to rank j
        send = [torch.full((r + j + 1,), r * 10 + j, dtype=dtype, device=dev) for j in range(w)]
        recv = [torch.zeros(k + r + 1, dtype=dtype, device=dev) for k in range(w)]
        dist.all_to_all(recv, send)
        for k in range(w):
            check(recv[k], np.full(k + r + 1, k * 10 + r), f"all_to_all {dev}")
        gl = [torch.zeros(5, dtype=dtype, device=dev) for _ in range(w)] if r == 0 else None
        dist.gather(mine(), gl, dst=0)
        if r == 0:
            for k in range(w):
                check(gl[k], xs[k], f"gather {dev}")
        t = torch.zeros(5, dtype=dtype, device=dev)
        dist.scatter(t, [torch.tensor(xs[k], device=dev) for k in range(w)] if r == 1 else None, src=1)
        check(t, xs[r], f"scatter {dev}")
    # point to point around a ring, blocking and not
    t = torch.tensor(allx[r], device=dev)
    got = torch.zeros(5, dtype=torch.float64 if dev == "cpu" else torch.float32, device=dev)
    t = t.to(got.dtype)
    s = dist.isend(t, dst=(r + 1) % w)
    q = dist.irecv(got, src=(r - 1) % w)
    s.wait(), q.wait()
    check(got, allx[(r - 1) % w], f"isend/irecv {dev}")
    if r == 0:
        dist.send(t, dst=1)
    elif r == 1:
        assert dist.recv(got) == 0
        check(got, allx[0], f"send/recv {dev}")
    dist.barrier()

objs = [None] * w
dist.all_gather_object(objs, {"rank": r, "s": "x" * r})
assert objs == [{"rank": k, "s": "x" * k} for k in range(w)], objs
lst = [r, "a"] if r == 0 else [None, None]
dist.broadcast_object_list(lst, src=0)
assert lst == [0, "a"], lst
g = [None] * w if r == 0 else None
dist.gather_object((r, r * r), g, dst=0)
assert r != 0 or g == [(k, k * k) for k in range(w)], g
out = [None]
dist.scatter_object_list(out, [f"to{k}" for k in range(w)] if r == 0 else None, src=0)
assert out == [f"to{r}"], out

# a subgroup of ranks 0 and 1; a rank outside it is told so
sub = dist.new_group([0, 1], timeout=datetime.timedelta(seconds=0.5))
if r < 2:
    t = torch.tensor([float(r + 1)])
    dist.all_reduce(t, group=sub)
    check(t, [3.0], "all_reduce in a subgroup")
    assert dist.get_world_size(sub) == 2 and dist.get_process_group_ranks(sub) == [0, 1]
else:
    assert sub is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(sub) == -1
# a receive that no rank answers raises past the group's timeout instead of hanging
if r == 0:
    try:
        dist.recv(torch.zeros(1), src=1, group=sub)
    except dist.DistBackendError as e:
        assert "timed out" in str(e), e
    else:
        raise AssertionError("recv without a sender did not time out")
dist.barrier()
dist.destroy_process_group()
assert not dist.is_initialized()
print(f"OK rank {r} of {w}", flush=True)
