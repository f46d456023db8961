"""Where the time of an ember training step goes (benchmarks/training_workloads.py).

For each workload: the step time; the time spent inside backend kernels (numpy compute,
measured by timing every resolved kernel call) against everything else (Python: dispatch,
autograd bookkeeping, modules, optimizer loops); the kernels that cost most; and the
functions with the most own time under cProfile.

Times are the process's CPU time (time.process_time), not wall-clock time: on a shared,
oversubscribed machine a process waits for a core for much of its wall-clock time, and
that waiting would be charged to whichever kernel was running. Run with one BLAS thread
(OPENBLAS_NUM_THREADS=1) so that CPU time is the time of the work.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/profile_training.py [--only cnn_b64] [--steps 20]

Not a test file (pytest does not collect it).
"""
import argparse
import cProfile
import collections
import io
import os
import pathlib
import pstats
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import ember  # noqa: E402
from ember.dispatch.ops import OPS  # noqa: E402
from ember.dispatch.table import DECOMPOSE  # noqa: E402
from training_workloads import WORKLOADS, build  # noqa: E402


clock = time.process_time


def run_steps(step, steps):
    start = clock()
    for _ in range(steps):
        loss = step()
    loss.item()
    return (clock() - start) / steps


def kernel_times(step, steps, device="cpu"):
    """Run ``steps`` steps with every resolved kernel timed: {op: [seconds, calls]} per step."""
    totals = collections.defaultdict(lambda: [0.0, 0])
    originals = {}
    for name, op in OPS.items():
        kernel = op.resolved.get(device)
        if kernel is None or kernel is DECOMPOSE:  # composites run their decomposition: not a kernel
            continue
        originals[name] = kernel

        def timed(*args, _kernel=kernel, _entry=totals[name], **attrs):
            start = clock()
            out = _kernel(*args, **attrs)
            _entry[0] += clock() - start
            _entry[1] += 1
            return out
        op.resolved[device] = timed
    try:
        run_steps(step, steps)
    finally:
        for name, kernel in originals.items():
            OPS[name].resolved[device] = kernel
    return {name: (t / steps, n / steps) for name, (t, n) in totals.items() if n}


def profile(name, steps, top):
    step = build(ember, name)
    for _ in range(3):
        step()
    wall = min(run_steps(step, steps) for _ in range(3))  # CPU seconds per step
    kernels = kernel_times(step, steps)
    kernel_s = sum(t for t, _ in kernels.values())
    calls = sum(n for _, n in kernels.values())
    print(f"\n=== {name}: {wall * 1e3:.2f} ms CPU time/step, {calls:.0f} kernel calls/step")
    print(f"    numpy kernels {kernel_s * 1e3:7.2f} ms ({kernel_s / wall:5.1%})   "
          f"Python (dispatch, autograd, modules, optimizer) {(wall - kernel_s) * 1e3:7.2f} ms "
          f"({1 - kernel_s / wall:5.1%}), {(wall - kernel_s) / max(calls, 1) * 1e6:.1f} us per kernel call")
    print("    kernels by time per step:")
    for op, (t, n) in sorted(kernels.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"      {op:22s} {t * 1e3:7.2f} ms  {t / wall:5.1%}  {n:5.1f} calls")

    profiler = cProfile.Profile(clock)
    profiler.enable()
    run_steps(step, steps)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    root = str(pathlib.Path(ember.__file__).resolve().parent.parent) + os.sep
    lines = [line.replace(root, "") for line in out.getvalue().splitlines()]
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("ncalls"))
    print(f"    cProfile, own time over {steps} steps (profiling inflates Python time):")
    for line in lines[start:start + top + 1]:
        print("      " + line)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    print(f"ember {ember.__version__}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, "
          f"load average {os.getloadavg()}")
    for name in args.only:
        profile(name, args.steps, args.top)


if __name__ == "__main__":
    main()
