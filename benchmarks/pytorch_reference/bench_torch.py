"""Times the workloads of benchmarks/cpu_workloads.py (the CPU-performance table: 1-element
overheads, large elementwise ops and reductions, matmuls, the training steps of
training_workloads.py, a DataLoader epoch) in PyTorch, or in ember with the same timing loop,
so the two can be compared side by side.

Not a test file: pytest never collects it, and ember never imports torch. Run it from a
separate virtual environment that has PyTorch:

    python3 -m venv /tmp/torchT && /tmp/torchT/bin/pip install torch numpy
    OPENBLAS_NUM_THREADS=1 /tmp/torchT/bin/python benchmarks/pytorch_reference/bench_torch.py --threads 1
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/pytorch_reference/bench_torch.py --framework ember

--threads sets torch.set_num_threads; match it to the threads numpy's BLAS uses for ember
(OPENBLAS_NUM_THREADS, else the number of cores). Each workload: 3 warm-up steps, then
--rounds rounds of --steps steps; a round's time is its mean step time. Prints the min and
median wall-clock time over rounds and the median CPU time of the process (ms per step;
on a shared, oversubscribed machine the CPU time is the steadier number when --threads is
1); --json writes them. With --compare A.json B.json it prints B/A per workload and the
geometric mean instead of timing anything.
"""
import argparse
import importlib
import json
import os
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from cpu_workloads import WORKLOADS, build  # noqa: E402


def time_workload(torch, name, rounds, steps):
    """(min, median) wall-clock seconds per step and median CPU seconds per step over rounds.

    A round runs at least ``steps`` steps and at least 20 ms, so that microsecond workloads
    are not timed one call at a time."""
    step = build(torch, name)
    for _ in range(3):
        step()
    start = time.perf_counter()
    step()
    once = max(time.perf_counter() - start, 1e-7)
    steps = max(steps, int(0.02 / once))
    wall, cpu = [], []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            loss = step()
        if hasattr(loss, "sum"):
            loss.sum().item()
        wall.append((time.perf_counter() - start) / steps)
        cpu.append((time.process_time() - start_cpu) / steps)
    return min(wall), statistics.median(wall), statistics.median(cpu)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--framework", choices=("torch", "ember"), default="torch")
    parser.add_argument("--threads", type=int,
                        default=int(os.environ.get("OPENBLAS_NUM_THREADS") or os.cpu_count()))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10, help="steps per round")
    parser.add_argument("--only", nargs="*", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument("--json", help="write {workload: {min_ms, median_ms, cpu_median_ms}} here")
    parser.add_argument("--compare", nargs=2, metavar=("BASE_JSON", "OTHER_JSON"))
    args = parser.parse_args(argv)
    if args.compare:
        return compare(*args.compare)

    torch = importlib.import_module(args.framework)
    if args.framework == "torch":
        torch.set_num_threads(args.threads)
        threads = torch.get_num_threads()
    else:
        threads = os.environ.get("OPENBLAS_NUM_THREADS", f"default ({os.cpu_count()} cores)")
    print(f"{args.framework} {torch.__version__}, threads {threads}, load average {os.getloadavg()}")
    results = {}
    for name in args.only:
        best, median, cpu = time_workload(torch, name, args.rounds, args.steps)
        results[name] = {"min_ms": best * 1e3, "median_ms": median * 1e3, "cpu_median_ms": cpu * 1e3}
        print(f"{name:18s} min {best * 1e3:9.3f} ms   median {median * 1e3:9.3f} ms   "
              f"CPU time median {cpu * 1e3:9.3f} ms", flush=True)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=1))
    return results


def compare(base_path, other_path):
    """Print other/base min-time ratios per workload and their geometric mean."""
    import math
    base = json.loads(pathlib.Path(base_path).read_text())
    other = json.loads(pathlib.Path(other_path).read_text())
    logs = []
    for name in base:
        if name in other:
            ratio = other[name]["min_ms"] / base[name]["min_ms"]
            logs.append(math.log(ratio))
            print(f"{name:18s} {base[name]['min_ms']:10.4f} ms {other[name]['min_ms']:10.4f} ms  {ratio:6.2f}x")
    print(f"geometric mean {math.exp(sum(logs) / len(logs)):.2f}x over {len(logs)} workloads")


if __name__ == "__main__":
    main()
