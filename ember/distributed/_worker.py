"""One rank of a job started by ``ember.distributed.run``: names the rank in torchrun's
environment variables, runs the user's script, and on failure records the error where the
launcher reads it and exits abnormally so that ``mpiexec`` ends the other ranks."""
from __future__ import annotations

import json
import os
import runpy
import sys
import traceback


def _environment():
    env = os.environ
    # hydra (mpich's mpiexec) names each process with PMI_RANK / MPI_LOCALRANKID
    rank = env.get("PMI_RANK", env.get("OMPI_COMM_WORLD_RANK", "0"))
    size = env.get("PMI_SIZE", env.get("OMPI_COMM_WORLD_SIZE", "1"))
    local = env.get("MPI_LOCALRANKID", env.get("OMPI_COMM_WORLD_LOCAL_RANK", rank))
    local_size = env.get("MPI_LOCALNRANKS", env.get("OMPI_COMM_WORLD_LOCAL_SIZE", size))
    env["RANK"], env["WORLD_SIZE"] = rank, size
    env["LOCAL_RANK"], env["LOCAL_WORLD_SIZE"] = local, local_size
    env["GROUP_RANK"] = str(int(rank) // max(int(local_size), 1))
    env["ROLE_RANK"], env["ROLE_WORLD_SIZE"] = rank, size
    return int(rank)


def _record(rank, kind, message, tb):
    folder = os.environ.get("EMBER_ERROR_DIR")
    if folder:
        with open(os.path.join(folder, f"rank-{rank}.json"), "w") as f:
            json.dump({"rank": rank, "type": kind, "message": message, "traceback": tb}, f)


def main(argv=None):
    """Run ``argv`` (``-m module args``, ``--no-python cmd args`` or ``script args``) as this rank.

    Args:
        argv: the command line after the module name (default: ``sys.argv[1:]``).

    Returns:
        None (the process exits with the rank's status).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    rank = _environment()
    try:
        if argv[0] == "--no-python":
            os.execvp(argv[1], argv[1:])
        if argv[0] == "-m":
            sys.argv = argv[1:]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = argv
            sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as e:
        code = e.code
        if code in (None, 0):
            return
        status = code if isinstance(code, int) else 1
        _record(rank, "SystemExit", str(code), "")
        if not isinstance(code, int):
            print(code, file=sys.stderr)
        sys.stdout.flush(), sys.stderr.flush()
        os._exit(status)
    except BaseException as e:  # noqa: BLE001 - every failure must end the job
        tb = traceback.format_exc()
        _record(rank, type(e).__name__, str(e), tb)
        sys.stderr.write(tb)
        sys.stdout.flush(), sys.stderr.flush()
        # an abnormal exit: mpiexec then ends the other ranks instead of waiting for them
        os._exit(1)


if __name__ == "__main__":
    main()
