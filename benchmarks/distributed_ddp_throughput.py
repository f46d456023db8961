"""DDP training-step time (ms/step) of an MLP and a TransformerEncoderLayer at 1 and 2 ranks.

Run by hand; it starts the ranks itself under the launcher (emberrun), once per rank count:

    python benchmarks/distributed_ddp_throughput.py [--repeat 5] [--steps 10] [--ranks 1,2]

Models: MLP 784-256-10 on a batch of 64 per rank (cross entropy), and TransformerEncoderLayer
(d_model 128, 4 heads, feed-forward 256, batch-first) on 16 sequences of 32 per rank (MSE), each
with SGD momentum. Each figure is the best of ``--repeat`` runs of ``--steps`` steps, all ranks
starting a run together (a barrier); a shared machine is noisy, so take the minimum of several calls.
"""
import argparse
import os
import re
import subprocess
import sys
import time


def _models(torch):
    def mlp():
        model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
        x, y = torch.randn(64, 784), torch.randint(0, 10, (64,))
        return model, lambda m: torch.nn.functional.cross_entropy(m(x), y)

    def transformer():
        model = torch.nn.TransformerEncoderLayer(d_model=128, nhead=4, dim_feedforward=256, batch_first=True)
        x, y = torch.randn(16, 32, 128), torch.randn(16, 32, 128)
        return model, lambda m: torch.nn.functional.mse_loss(m(x), y)
    return {"mlp": mlp, "transformer": transformer}


def worker(repeat, steps):
    """One rank: time DDP steps of each model; rank 0 prints ``RESULT <model> <ranks> <ms>``."""
    import ember as torch
    import ember.distributed as dist
    from ember.nn.parallel import DistributedDataParallel as DDP
    dist.init_process_group("gloo")
    world = dist.get_world_size()
    for name, make in _models(torch).items():
        torch.manual_seed(dist.get_rank())   # each rank its own data; DDP broadcasts rank 0's weights
        model, loss_of = make()
        ddp = DDP(model)
        opt = torch.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)

        def step():
            opt.zero_grad()
            loss_of(ddp).backward()
            opt.step()
        for _ in range(3):   # warm up (first-call costs, kernel caches)
            step()
        best = float("inf")
        for _ in range(repeat):
            dist.barrier()
            t = time.perf_counter()
            for _ in range(steps):
                step()
            best = min(best, (time.perf_counter() - t) / steps)
        if dist.get_rank() == 0:
            print(f"RESULT {name} {world} {best * 1e3:.3f}", flush=True)
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--ranks", default="1,2")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.repeat, args.steps)
        return
    env = dict(os.environ, OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    results = {}
    for n in (int(v) for v in args.ranks.split(",")):
        cmd = [sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", str(n), "--standalone",
               os.path.abspath(__file__), "--worker", "--repeat", str(args.repeat), "--steps", str(args.steps)]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"{n} rank(s) failed:\n{p.stdout}{p.stderr}")
        for name, world, ms in re.findall(r"RESULT (\w+) (\d+) ([\d.]+)", p.stdout):
            results[(name, int(world))] = float(ms)
    names = sorted({k[0] for k in results})
    counts = sorted({k[1] for k in results})
    print("DDP step (ms/step, best of runs; batch per rank: MLP 64, transformer 16x32)")
    print(f"{'model':<12}" + "".join(f"{f'{n} rank(s)':>12}" for n in counts))
    for name in names:
        print(f"{name:<12}" + "".join(f"{results.get((name, n), float('nan')):12.2f}" for n in counts))


if __name__ == "__main__":
    main()
