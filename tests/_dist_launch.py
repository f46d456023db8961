"""Start a worker script of tests/distributed/workers as ranks of one job (emberrun, under MPI)."""
import os
import subprocess
import sys

WORKERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distributed", "workers")


def launch(nproc, script, *args, timeout=180):
    """Run ``script`` on ``nproc`` ranks; returns the CompletedProcess (stdout and stderr captured)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", EMBER_MPS_DEVICE=os.environ.get("EMBER_MPS_DEVICE", "cpu"))
    cmd = [sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", str(nproc), "--standalone",
           os.path.join(WORKERS, script), *[str(a) for a in args]]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
