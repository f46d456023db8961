"""The intra-op thread count that backends with multi-threaded kernels follow.

It lives in the dispatch layer so that plugins can read it; ``ember.set_num_threads`` and
``ember.get_num_threads`` are the public face. The default is ``OMP_NUM_THREADS`` when set
to a positive integer, else the number of CPUs this process may run on.
"""
from __future__ import annotations

import os

__all__ = ["get_num_threads", "set_num_threads"]


def _default() -> int:
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.strip().isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity API on this platform
        return max(1, os.cpu_count() or 1)


_STATE = {"threads": None}


def get_num_threads() -> int:
    """The number of threads used for intra-op parallelism on the CPU.

    Returns:
        The count last given to :func:`set_num_threads`, or the default.
    """
    if _STATE["threads"] is None:
        _STATE["threads"] = _default()
    return _STATE["threads"]


def set_num_threads(num_threads: int) -> None:
    """Set the number of threads used for intra-op parallelism on the CPU.

    Args:
        num_threads: a positive integer.

    Raises:
        RuntimeError: ``num_threads`` is not an int, or is not positive.
    """
    if isinstance(num_threads, bool) or not isinstance(num_threads, int):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(num_threads).__name__}")
    if num_threads <= 0:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {num_threads}")
    _STATE["threads"] = num_threads
