"""Runs bench_torch.py for PyTorch and ember alternately, one workload at a time, and prints
the ratio of the best times: on a shared VM whose speed drifts from minute to minute, runs of
the two frameworks taken far apart compare the drift as much as the frameworks.

Not a test file. Needs a Python with PyTorch (see bench_torch.py):

    python3 benchmarks/pytorch_reference/interleaved.py --torch-python /tmp/torchT/bin/python \\
        [--reps 3] [--threads 2] [workload ...]
"""
import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from cpu_workloads import WORKLOADS  # noqa: E402


def best_ms(python, framework, workload, threads, rounds):
    """The min_ms bench_torch.py reports for one workload in one fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        extra = ["--threads", str(threads)] if framework == "torch" else []
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
        subprocess.run([python, str(HERE / "bench_torch.py"), "--framework", framework, *extra, "--only", workload,
                        "--rounds", str(rounds), "--json", out], env=env, capture_output=True, check=True)
        return json.loads(pathlib.Path(out).read_text())[workload]["min_ms"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--torch-python", required=True, help="a Python interpreter that has PyTorch")
    parser.add_argument("--ember-python", default=sys.executable)
    parser.add_argument("--reps", type=int, default=3, help="alternating runs per framework and workload")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("workloads", nargs="*", help=f"any of {', '.join(WORKLOADS)} (all when none is named)")
    args = parser.parse_args(argv)
    # checked here: argparse's choices check rejects an empty list on Python 3.11
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose from {', '.join(WORKLOADS)}")
    args.workloads = args.workloads or list(WORKLOADS)
    ratios = []
    for workload in args.workloads:
        best = {"torch": math.inf, "ember": math.inf}
        for _ in range(args.reps):
            for framework, python in (("torch", args.torch_python), ("ember", args.ember_python)):
                best[framework] = min(best[framework], best_ms(python, framework, workload, args.threads, args.rounds))
        ratios.append(best["ember"] / best["torch"])
        print(f"{workload:18s} torch {best['torch']:10.4f} ms   ember {best['ember']:10.4f} ms   {ratios[-1]:5.2f}x",
              flush=True)
    print(f"geometric mean {math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f}x over {len(ratios)} workloads")


if __name__ == "__main__":
    main()
