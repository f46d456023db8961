"""One process of ``ember.multiprocessing.spawn``: loads the caller's function and runs it with
this rank's index; a failure is recorded for the parent and ends the whole job."""
import os
import pickle
import runpy
import sys
import traceback
import types

from ember.distributed._worker import _environment, _record


def _run(folder):
    with open(os.path.join(folder, "payload.pkl"), "rb") as f:
        meta = pickle.load(f)
        sys.path[:] = meta["sys_path"]
        sys.argv[:] = meta["argv"]  # the parent's command line, as multiprocessing's spawn gives
        if meta["main"]:
            # the parent's main script, imported without running its `if __name__ == "__main__"`
            # block, so a function defined there unpickles (as multiprocessing's spawn does)
            ns = runpy.run_path(meta["main"], run_name="__mp_main__")
            module = types.ModuleType("__mp_main__")
            module.__dict__.update(ns)
            sys.modules["__main__"] = sys.modules["__mp_main__"] = module
        fn, args = pickle.load(f)
    fn(int(os.environ["RANK"]), *args)


def main(folder):
    """Run the payload in ``folder`` as this rank; exit abnormally on failure (ending the job).

    Args:
        folder: the spawn call's folder (payload and error records).

    Returns:
        None.
    """
    rank = _environment()
    try:
        _run(folder)
    except SystemExit as e:
        if e.code not in (None, 0):
            _record(rank, "SystemExit", str(e.code), "")
            os._exit(e.code if isinstance(e.code, int) else 1)
    except BaseException as e:  # noqa: BLE001 - every failure must end the job
        tb = traceback.format_exc()
        _record(rank, type(e).__name__, str(e), tb)
        sys.stderr.write(tb)
        sys.stderr.flush()
        os._exit(1)


if __name__ == "__main__":
    main(sys.argv[1])
