"""``ember.multiprocessing``: the standard library's multiprocessing, plus ``spawn`` for
distributed jobs: its processes are the ranks of one MPI job, so ``init_process_group`` in them
(``env://`` or ``tcp://host:port``, with ``rank=i`` and ``world_size=nprocs``) connects them."""
from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing import *  # noqa: F401,F403  (torch.multiprocessing re-exports the standard module)
from multiprocessing import get_all_start_methods, get_start_method, set_start_method  # noqa: F401

from ember.multiprocessing._reductions import (  # noqa: F401  (shared CPU tensors cross processes as handles)
    get_all_sharing_strategies, get_sharing_strategy, set_sharing_strategy,
)
from ember.multiprocessing import _reductions as _tensor_reductions

_tensor_reductions.register()


class ProcessException(Exception):
    """A spawned process failed.

    Args:
        msg: the description.
        error_index: the index of the failed process.
        pid: its process id (None when unknown).
    """

    def __init__(self, msg, error_index, pid=None):
        super().__init__(msg)
        self.msg, self.error_index, self.pid = msg, error_index, pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid)


class ProcessRaisedException(ProcessException):
    """A spawned process raised an exception (its traceback is in the message)."""


class ProcessExitedException(ProcessException):
    """A spawned process exited with a non-zero status.

    Args:
        msg: the description.
        error_index: the index of the failed process.
        error_pid: its process id.
        exit_code: its exit status.
        signal_name: the signal that ended it, if any.
    """

    def __init__(self, msg, error_index, error_pid, exit_code, signal_name=None):
        super().__init__(msg, error_index, error_pid)
        self.exit_code, self.signal_name = exit_code, signal_name

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid, self.exit_code, self.signal_name)


class ProcessContext:
    """The processes of one ``spawn`` call (the ranks of one MPI job).

    Args:
        proc: the ``mpiexec`` process running them.
        folder: where the payload and the processes' error records are.
        nprocs: the number of processes.
    """

    def __init__(self, proc, folder, nprocs):
        self._proc, self._folder, self._nprocs = proc, folder, nprocs

    def pids(self):
        """The id of the process that runs the job (``mpiexec``).

        Returns:
            A list of ints.
        """
        return [self._proc.pid]

    def join(self, timeout=None):
        """Wait for the processes; raise when one of them failed.

        Args:
            timeout: seconds to wait at most (default: until they end).

        Returns:
            True when every process has ended successfully, False when the timeout passed first.
        """
        from ember.distributed.run import _kill
        deadline = None if timeout is None else time.monotonic() + timeout
        failed_at = None
        while self._proc.poll() is None:
            if failed_at is None and any(n.startswith("rank-") for n in os.listdir(self._folder)):
                failed_at = time.monotonic()
            if failed_at is not None and time.monotonic() - failed_at > 3.0:
                _kill(self._proc)
                break
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        _kill(self._proc, grace=0.5)
        rc = self._proc.returncode
        errors = []
        for name in sorted(os.listdir(self._folder)):
            if name.startswith("rank-"):
                with open(os.path.join(self._folder, name)) as f:
                    errors.append(json.load(f))
        shutil.rmtree(self._folder, ignore_errors=True)
        if errors:
            e = errors[0]
            msg = f"\n\n-- Process {e['rank']} terminated with the following error:\n{e['traceback'] or e['message']}"
            if e["type"] == "SystemExit":
                raise ProcessExitedException(f"process {e['rank']} terminated with exit code {e['message']}",
                                             e["rank"], None, int(e["message"]) if e["message"].isdigit() else 1)
            raise ProcessRaisedException(msg, e["rank"])
        if rc:
            raise ProcessExitedException(f"process 0 terminated with exit code {rc}", 0, self._proc.pid, rc)
        return True


def start_processes(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Run ``fn(i, *args)`` in ``nprocs`` new processes, the ranks of one MPI job.

    Args:
        fn: a picklable function (defined at a module's top level, the main script's included).
        args: the further arguments, picklable.
        nprocs: the number of processes.
        join: wait for them (and raise if one fails) before returning.
        daemon: accepted for compatibility (the processes end with the job either way).
        start_method: only "spawn" (fresh interpreters) is possible for MPI ranks.

    Returns:
        None when ``join``, else a ProcessContext.
    """
    if start_method not in ("spawn", "forkserver", "fork"):
        raise ValueError(f"start_method must be 'spawn', 'fork' or 'forkserver', got {start_method!r}")
    from ember.distributed.run import find_mpiexec
    mpiexec = find_mpiexec()
    if mpiexec is None:
        raise RuntimeError("ember.multiprocessing.spawn needs mpiexec: install ember[distributed]")
    folder = tempfile.mkdtemp(prefix="ember-spawn-")
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    with open(os.path.join(folder, "payload.pkl"), "wb") as f:
        pickle.dump({"main": os.path.abspath(main) if main else None, "sys_path": sys.path, "argv": sys.argv}, f)
        pickle.dump((fn, tuple(args)), f)
    cmd = [mpiexec, "-n", str(nprocs), sys.executable, "-u", "-m", "ember.multiprocessing._child", folder]
    proc = subprocess.Popen(cmd, env=dict(os.environ, EMBER_ERROR_DIR=folder), start_new_session=True)
    context = ProcessContext(proc, folder, nprocs)
    if not join:
        return context
    while not context.join():
        pass
    return None


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Run ``fn(i, *args)`` for i in 0..nprocs-1, each in its own process (the ranks of one MPI job).

    Args:
        fn: a picklable function; it gets the process index first.
        args: the further arguments, picklable.
        nprocs: the number of processes.
        join: wait for them (raising ProcessRaisedException if one fails) before returning.
        daemon: accepted for compatibility.
        start_method: "spawn" (the default, as PyTorch's ``spawn``).

    Returns:
        None when ``join``, else a ProcessContext.
    """
    return start_processes(fn, args, nprocs, join, daemon, start_method)
