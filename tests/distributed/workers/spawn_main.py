"""ember.multiprocessing.spawn: two ranks joined by tcp://, then a spawned rank that raises."""
import sys

import ember as torch
import ember.distributed as dist
import ember.multiprocessing as mp


def work(i, n, fail):
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:29461", rank=i, world_size=n)
    t = torch.tensor([float(i + 1)])
    dist.all_reduce(t)
    assert t.item() == n * (n + 1) / 2, t
    if fail:
        if i == 1:
            raise KeyError("spawned rank fails")
        return   # (rank 0 may be ended before it gets further)
    print(f"spawned {i} of {n} ok", flush=True)


if __name__ == "__main__":
    mp.spawn(work, args=(2, False), nprocs=2)
    try:
        mp.spawn(work, args=(2, True), nprocs=2)
    except mp.ProcessRaisedException as e:
        assert e.error_index == 1 and "spawned rank fails" in str(e), e
    else:
        sys.exit("a failing spawned rank did not raise")
    print("spawn parent ok")
