"""all_reduce through ember.distributed against raw mpi4py ``Allreduce`` on the same buffers, and
DDP step time of an MLP at 1 and 2 ranks. Run under the launcher:

    emberrun --nproc-per-node 2 benchmarks/distributed_allreduce.py
"""
import time

import numpy as np

import ember as torch
import ember.distributed as dist
from ember.nn.parallel import DistributedDataParallel as DDP


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        dist.barrier()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    dist.init_process_group("gloo")
    comm = dist.group.WORLD._comm
    rank, world = dist.get_rank(), dist.get_world_size()
    for mb in (1, 16, 64):
        n = mb * 1024 * 1024 // 4
        t = torch.ones(n)
        a, out = t.numpy(), np.empty(n, np.float32)
        from mpi4py import MPI
        raw = best(lambda: comm.Allreduce(a, out), 10)
        raw_inplace = best(lambda: comm.Allreduce(MPI.IN_PLACE, a), 10)
        ours = best(lambda: dist.all_reduce(t), 10)   # in place on the tensor's memory
        if rank == 0:
            print(f"all_reduce {mb:3d} MB float32, {world} ranks: ember {ours * 1e3:8.2f} ms   "
                  f"mpi4py {raw * 1e3:8.2f} ms (in place {raw_inplace * 1e3:8.2f} ms)   overhead vs in place "
                  f"{100 * (ours / raw_inplace - 1):+5.1f}%", flush=True)
    torch.manual_seed(0)
    model = DDP(torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10)))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(64, 256), torch.randint(0, 10, (64,))

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    step()
    per = best(lambda: [step() for _ in range(10)], 3) / 10
    if rank == 0:
        print(f"DDP MLP step, {world} rank(s), batch 64 per rank: {per * 1e3:.2f} ms "
              f"({64 * world / per:.0f} samples/s)", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
