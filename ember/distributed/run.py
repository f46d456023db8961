"""``python -m ember.distributed.run`` / ``emberrun``: start N ranks of a training script, as torchrun.

The ranks are the processes of one MPI job, started under the ``mpiexec`` that the mpich wheel
installs (MPI's own launcher is what lets them talk: MPICH cannot join separately started
singleton processes reliably). Each rank gets torchrun's environment (RANK, LOCAL_RANK,
WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, ...). When one rank fails, the job is
ended within seconds, the launcher names the rank and its error and exits non-zero, and the
whole process group it started is killed, so nothing is left behind.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_mpiexec():
    """The ``mpiexec`` to start ranks with: the one beside this Python (the mpich wheel's), else PATH's.

    Returns:
        The path, or None when there is none.
    """
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.access(here, os.X_OK):
        return here
    return shutil.which("mpiexec")


def _nproc(value):
    if value in ("cpu", "auto"):
        return os.cpu_count() or 1
    if value == "gpu":
        try:
            import ember.cuda
            return max(ember.cuda.device_count(), 1)
        except Exception:
            return 1
    return int(value)


def _nnodes(value):
    lo, _, hi = str(value).partition(":")
    if hi and int(lo) != int(hi):
        raise SystemExit(f"emberrun: elastic node ranges ({value}) are not available; give a fixed --nnodes")
    return int(lo)


def parser():
    """The launcher's argument parser (torchrun's flags, with both - and _ spellings).

    Returns:
        An ``argparse.ArgumentParser``.
    """
    p = argparse.ArgumentParser(prog="emberrun", description="Start the ranks of a distributed ember job.")

    def flag(name, **kw):
        p.add_argument(f"--{name}", f"--{name.replace('-', '_')}", **kw)
    flag("nproc-per-node", default="1", help="ranks per node: a number, 'cpu', 'gpu' or 'auto'")
    flag("nnodes", default="1", help="number of nodes (N or N:N)")
    flag("node-rank", type=int, default=0, help="this node's rank (multi-node jobs start from node 0)")
    flag("master-addr", default="127.0.0.1", help="address of the rank-0 node")
    flag("master-port", type=int, default=29500, help="port on the rank-0 node")
    flag("standalone", action="store_true", help="a one-node job on localhost with a free port")
    flag("max-restarts", type=int, default=0, help="times to restart the whole job after a failure")
    flag("hosts", default=None, help="comma-separated host names of a multi-node job (mpiexec -hosts)")
    flag("rdzv-backend", default="static", help="accepted for torchrun compatibility")
    flag("rdzv-endpoint", default="", help="host:port; sets --master-addr/--master-port")
    flag("rdzv-id", default="none", help="the job id (TORCHELASTIC_RUN_ID)")
    flag("monitor-interval", type=float, default=0.1, help="seconds between checks on the ranks")
    flag("log-dir", default=None, help="accepted for torchrun compatibility")
    p.add_argument("-m", "--module", action="store_true", help="run the script argument as a module")
    flag("no-python", action="store_true", help="run the script argument as an executable")
    p.add_argument("training_script")
    p.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return p


def _errors(folder):
    out = []
    for name in sorted(os.listdir(folder)):
        try:
            with open(os.path.join(folder, name)) as f:
                out.append(json.load(f))
        except (OSError, ValueError):
            continue
    return out


def _kill(proc, grace=2.0):
    """End the job's whole process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            # the group may outlive its leader: check it is empty
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def _run_once(cmd, env, interval):
    folder = tempfile.mkdtemp(prefix="emberrun-")
    env = dict(env, EMBER_ERROR_DIR=folder)
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    failed_at = None
    try:
        while True:
            rc = proc.poll()
            if rc is not None:
                break
            if failed_at is None and os.listdir(folder):
                failed_at = time.monotonic()
            elif failed_at is not None and time.monotonic() - failed_at > 3.0:
                # mpiexec normally ends the job itself; do not wait on it past a few seconds
                _kill(proc)
                rc = proc.poll() if proc.poll() is not None else 1
                break
            time.sleep(interval)
    except BaseException:
        _kill(proc)
        raise
    finally:
        errors = _errors(folder)
        shutil.rmtree(folder, ignore_errors=True)
    _kill(proc, grace=0.5)  # whatever a rank left in the job's process group
    if errors and rc == 0:
        rc = 1
    return rc, errors


def main(argv=None):
    """Run the launcher on ``argv``.

    Args:
        argv: the command line (default: ``sys.argv[1:]``).

    Returns:
        The exit status (0 when every rank succeeded).
    """
    args = parser().parse_args(argv)
    nproc, nnodes = _nproc(args.nproc_per_node), _nnodes(args.nnodes)
    if args.rdzv_endpoint:
        host, _, port = args.rdzv_endpoint.rpartition(":")
        args.master_addr, args.master_port = host or args.master_addr, int(port or args.master_port)
    if args.standalone:
        args.master_addr, args.master_port, nnodes = "127.0.0.1", _free_port(), 1
    mpiexec = find_mpiexec()
    if mpiexec is None:
        print("emberrun: no mpiexec found; install the engine with `pip install ember[distributed]`",
              file=sys.stderr)
        return 2
    if nnodes > 1:
        # one MPI job spans every node, started from node 0 (mpiexec reaches the others by ssh)
        if args.node_rank != 0:
            print(f"emberrun: node {args.node_rank} has nothing to do: node 0 starts every rank of an MPI job",
                  file=sys.stderr)
            return 0
        hosts = (args.hosts or "").split(",") if args.hosts else []
        if len(hosts) != nnodes:
            print(f"emberrun: --nnodes {nnodes} needs --hosts with {nnodes} host names, got {hosts}",
                  file=sys.stderr)
            return 2
        placement = ["-hosts", ",".join(f"{h}:{nproc}" for h in hosts)]
    else:
        placement = []
    world = nproc * nnodes
    target = (["--no-python"] if args.no_python else ["-m"] if args.module else []) + \
        [args.training_script] + args.training_script_args
    cmd = [mpiexec, "-n", str(world)] + placement + [sys.executable, "-u", "-m", "ember.distributed._worker"] + target
    run_id = args.rdzv_id if args.rdzv_id != "none" else uuid.uuid4().hex[:12]
    base = dict(os.environ, MASTER_ADDR=args.master_addr, MASTER_PORT=str(args.master_port),
                TORCHELASTIC_RUN_ID=run_id, TORCHELASTIC_MAX_RESTARTS=str(args.max_restarts),
                GROUP_WORLD_SIZE=str(nnodes), ROLE_NAME="default")
    for attempt in range(args.max_restarts + 1):
        env = dict(base, TORCHELASTIC_RESTART_COUNT=str(attempt))
        rc, errors = _run_once(cmd, env, args.monitor_interval)
        if rc == 0:
            return 0
        for e in errors:
            print(f"emberrun: rank {e['rank']} failed: {e['type']}: {e['message']}", file=sys.stderr)
        if not errors:
            print(f"emberrun: the job failed with exit code {rc}", file=sys.stderr)
        if attempt < args.max_restarts:
            print(f"emberrun: restarting the job ({attempt + 1} of {args.max_restarts})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())


def main_exit():
    """The ``emberrun`` console script: run the launcher and exit with its status.

    Returns:
        Does not return.
    """
    sys.exit(main())
