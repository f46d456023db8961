"""A single process (no mpiexec): the world of one, init methods and PyTorch's errors."""
import datetime
import os

import numpy as np

import ember as torch
import ember.distributed as dist

for call, kind, text in [(lambda: dist.get_rank(), ValueError, "has not been initialized"),
                         (lambda: dist.init_process_group("nccl", rank=0, world_size=1), RuntimeError, "NCCL"),
                         (lambda: dist.init_process_group("xyz", rank=0, world_size=1), AssertionError, "xyz"),
                         (lambda: dist.init_process_group("gloo", init_method="env://"), ValueError, "RANK"),
                         (lambda: dist.init_process_group("gloo", rank=0, world_size=2,
                                                          init_method="tcp://127.0.0.1:29400"), RuntimeError,
                          "mpiexec")]:
    try:
        call()
    except kind as e:
        assert text in str(e), (text, e)
    else:
        raise AssertionError(f"no {kind.__name__} ({text})")
os.environ.update(RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT="29400")
dist.init_process_group("gloo", init_method="env://", timeout=datetime.timedelta(seconds=5))
assert (dist.get_rank(), dist.get_world_size(), dist.get_backend()) == (0, 1, "gloo")
try:
    dist.init_process_group("gloo")
except ValueError as e:
    assert "twice" in str(e)
else:
    raise AssertionError("a second init_process_group did not raise")
t = torch.arange(6.).reshape(2, 3)
dist.all_reduce(t, op=dist.ReduceOp.AVG)
np.testing.assert_array_equal(t.numpy(), np.arange(6.).reshape(2, 3))
try:
    dist.all_reduce(torch.arange(3), op=dist.ReduceOp.AVG)
except RuntimeError as e:
    assert "Long" in str(e), e
else:
    raise AssertionError("AVG of an integer tensor did not raise")
try:
    dist.broadcast(t, src=3)
except RuntimeError as e:
    assert "invalid root rank: 3" in str(e), e
else:
    raise AssertionError("an out-of-range src did not raise")
b = torch.tensor([True, False])
dist.all_reduce(b)
assert b.tolist() == [True, False]
h = torch.tensor([1.5, 2.5], dtype=torch.bfloat16)
dist.all_reduce(h, op=dist.ReduceOp.PRODUCT)
assert h.dtype == torch.bfloat16 and h.tolist() == [1.5, 2.5]
dist.destroy_process_group()
assert not dist.is_initialized()
# tcp:// with rank and world size given
dist.init_process_group("mpi", init_method="tcp://127.0.0.1:29401", rank=0, world_size=1)
assert dist.get_backend() == "mpi"
out = [torch.zeros(2)]
dist.all_gather(out, torch.ones(2))
assert out[0].tolist() == [1.0, 1.0]
dist.destroy_process_group()
print("OK single")
