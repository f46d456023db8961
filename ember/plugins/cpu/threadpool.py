"""A small pool of Python threads that runs GIL-free chunks of one kernel on every core.

Why not numba's ``prange``: its threading layers split the work statically and the caller
waits for every thread, so on a busy machine (two cores shared with other processes) a
worker that is not scheduled stalls the whole call; and LLVM stops vectorizing loops
inside a ``prange`` body. Here the caller and the workers *claim* chunks one at a time
from a shared counter: the caller starts at once, a worker that wakes late takes what is
left, and the caller waits only for chunks a worker is already running. The chunk
functions are serial ``nogil`` numba loops (or numpy calls, which release the GIL too), so
the threads really run in parallel.

The thread count is ``ember.get_num_threads()`` (the caller counts as one). A call made
from inside a chunk, or from a second Python thread while a parallel call is running,
runs its chunks serially on the calling thread. After a fork (DataLoader workers) the
child starts with no workers and makes its own on first use.
"""
from __future__ import annotations

import itertools
import os
import threading

from ember.dispatch.threads import get_num_threads

__all__ = ["parallel_for"]


class _Job:
    __slots__ = ("fn", "n", "claim", "done", "error", "finished")

    def __init__(self, fn, n):
        self.fn, self.n = fn, n
        self.claim = itertools.count()   # next() is atomic under the GIL: no lock per chunk
        self.done = itertools.count(1)
        self.error = None
        self.finished = threading.Event()


class _Pool:
    def __init__(self):
        self.wake = threading.Condition(threading.Lock())
        self.job = None
        self.generation = 0
        self.workers = []
        self.busy = threading.Lock()     # one parallel call at a time; others run serially

    def ensure(self, count):
        while len(self.workers) < count:
            worker = threading.Thread(target=self._serve, name=f"ember-cpu-{len(self.workers)}", daemon=True)
            self.workers.append(worker)
            worker.start()

    def _serve(self):
        seen = 0
        while True:
            with self.wake:
                while self.generation == seen:
                    self.wake.wait()
                seen = self.generation
                job = self.job
            if job is not None:
                self.drain(job)

    def drain(self, job):
        while True:
            i = next(job.claim)
            if i >= job.n:
                return
            try:
                if job.error is None:
                    job.fn(i)
            except BaseException as error:  # reported to the caller, which re-raises it
                job.error = error
            if next(job.done) == job.n:
                job.finished.set()


_POOL = _Pool()
_LOCAL = threading.local()


def _reset_after_fork():
    global _POOL
    _POOL = _Pool()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def parallel_for(fn, n: int, threads: int | None = None) -> None:
    """Run ``fn(i)`` for every ``i`` in ``range(n)`` on up to ``threads`` threads.

    Args:
        fn: the chunk function; it should release the GIL for most of its run (a nogil
            numba loop, a large numpy call) and must not depend on which thread runs it.
        n: the number of chunks.
        threads: the threads to use, the caller included (default ``ember.get_num_threads()``).

    Returns:
        None, once every chunk has run; the first exception a chunk raised is re-raised.
    """
    threads = get_num_threads() if threads is None else threads
    threads = min(threads, n)
    pool = _POOL
    if threads <= 1 or getattr(_LOCAL, "inside", False) or not pool.busy.acquire(blocking=False):
        for i in range(n):
            fn(i)
        return
    _LOCAL.inside = True
    try:
        pool.ensure(threads - 1)
        job = _Job(fn, n)
        with pool.wake:
            pool.job = job
            pool.generation += 1
            # only as many workers as asked for wake; the others keep sleeping
            for _ in range(threads - 1):
                pool.wake.notify()
        pool.drain(job)
        job.finished.wait()
        with pool.wake:
            pool.job = None  # a worker woken late finds nothing to do
        if job.error is not None:
            raise job.error
    finally:
        _LOCAL.inside = False
        pool.busy.release()
