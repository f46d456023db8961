"""What runs inside a DataLoader worker process, and what it tells the main process.

Protocol. The main process puts requests on the worker's own index queue:

- ``(task_id, request)``: fetch one item (see ``fetch.py``) and reply ``(task_id, item)``;
- :class:`ResumeIteration`: start a new epoch (persistent workers); reply ``(it, None)``;
- ``None``: exit.

Every reply goes onto the one result queue shared by all workers, already pickled by the
worker (so a sample that cannot be pickled becomes an error message, not a lost reply).
A reply's item is the collated batch, a :class:`WorkerError`, or :class:`IterableEnd`
when an iterable dataset's iterator is exhausted in this worker.
"""
from __future__ import annotations

import os
import pickle
import queue
import random
import sys
import traceback
from multiprocessing.reduction import ForkingPickler

import numpy as np

from ember.utils.data.fetch import make_fetcher

__all__ = ["WorkerInfo", "get_worker_info"]

POLL_INTERVAL = 1.0  # seconds a worker waits on its index queue before checking its parent is alive

_worker_info = None  # set in worker processes only


class WorkerInfo:
    """Facts about the current worker: ``id``, ``num_workers``, ``seed``, ``dataset`` (this
    worker's copy). Read-only."""

    __slots__ = ("id", "num_workers", "seed", "dataset")

    def __init__(self, *, id: int, num_workers: int, seed: int, dataset):
        for name, value in (("id", id), ("num_workers", num_workers), ("seed", seed), ("dataset", dataset)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise RuntimeError(f"WorkerInfo is read-only: cannot set {name!r}")

    def __reduce__(self):
        return (_worker_info_from, (self.id, self.num_workers, self.seed, self.dataset))

    def __repr__(self):
        return (f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, "
                f"dataset={self.dataset!r})")


def _worker_info_from(id, num_workers, seed, dataset) -> WorkerInfo:
    return WorkerInfo(id=id, num_workers=num_workers, seed=seed, dataset=dataset)


def get_worker_info() -> WorkerInfo | None:
    """The :class:`WorkerInfo` of this DataLoader worker process; None in the main process."""
    return _worker_info


class ResumeIteration:
    """Start of a new epoch for a persistent worker."""


class IterableEnd:
    """This worker's iterator over an IterableDataset is exhausted."""

    def __init__(self, worker_id: int):
        self.worker_id = worker_id


class _KeyErrorText(str):
    """KeyError's str() shows the repr of its argument; this keeps the newlines readable."""

    def __repr__(self):
        return self


class WorkerError:
    """An exception raised in a worker, carried to the main process as its type and text."""

    def __init__(self, exc_type: type, details: str, where: str):
        self.exc_type = exc_type
        self.details = details
        self.where = where

    @classmethod
    def current(cls, where: str) -> "WorkerError":
        exc_type, exc, tb = sys.exc_info()
        return cls(exc_type, "".join(traceback.format_exception(exc_type, exc, tb)), where)

    @property
    def message(self) -> str:
        return f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.details}"

    def reraise(self):
        text = self.message
        if self.exc_type is KeyError:
            text = _KeyErrorText(text)
        try:
            exc = self.exc_type(text)
        except Exception:  # an exception type whose constructor needs other arguments
            exc = None
        if not isinstance(exc, BaseException):
            raise RuntimeError(text)
        raise exc


def _seed_everything(seed: int, worker_id: int, base_seed: int) -> None:
    import ember
    random.seed(seed)
    ember.manual_seed(seed)
    # numpy's global RNG takes 32-bit words: derive them from (base seed, worker id)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed & 0xFFFF_FFFF_FFFF_FFFF]).generate_state(4))


def _dumps(obj) -> bytes:
    return bytes(ForkingPickler.dumps(obj, pickle.HIGHEST_PROTOCOL))


def _pack(task_id, item, where: str) -> bytes:
    try:
        return _dumps((task_id, item))
    except Exception:
        error = WorkerError.current(where)
    try:
        return _dumps((task_id, error))
    except Exception:  # the exception type itself does not pickle
        error.exc_type = RuntimeError
        return _dumps((task_id, error))


def worker_loop(is_iterable, dataset, index_queue, result_queue, done_event, auto_collation, collate_fn,
                drop_last, base_seed, worker_init_fn, worker_id, num_workers):
    """The body of worker process ``worker_id``; returns when told to stop or when the
    main process is gone."""
    global _worker_info
    where = f"in DataLoader worker process {worker_id}"
    parent = os.getppid()
    try:
        seed = base_seed + worker_id
        _seed_everything(seed, worker_id, base_seed)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)

        def new_fetcher():
            return make_fetcher(is_iterable, dataset, auto_collation, collate_fn, drop_last)

        fetcher = start_error = None
        try:
            if worker_init_fn is not None:
                worker_init_fn(worker_id)
            fetcher = new_fetcher()
        except Exception:
            start_error = WorkerError.current(where)
        exhausted = False
        while True:
            try:
                message = index_queue.get(timeout=POLL_INTERVAL)
            except queue.Empty:
                if os.getppid() != parent:
                    break  # the main process died without telling us
                continue
            except (EOFError, OSError):
                break  # the queue is gone: nobody is listening any more
            if message is None:
                break
            if isinstance(message, ResumeIteration):
                if start_error is None:
                    exhausted = False
                    try:
                        fetcher = new_fetcher()
                    except Exception:
                        start_error = WorkerError.current(where)
                result_queue.put(_pack(message, None, where))
                continue
            if done_event.is_set() or exhausted:
                continue  # the main process no longer wants items from this worker
            task_id, request = message
            if start_error is not None:
                item = start_error  # every request fails the same way
            else:
                try:
                    item = fetcher.fetch(request)
                except StopIteration:
                    if not is_iterable:
                        item = WorkerError.current(where)
                    else:
                        item, exhausted = IterableEnd(worker_id), True
                except Exception:
                    item = WorkerError.current(where)
            result_queue.put(_pack(task_id, item, where))
            del item, message, request
    except KeyboardInterrupt:
        pass  # the main process sees the interrupt too and shuts the workers down
    if done_event.is_set():
        # leave without flushing replies that nobody will read
        result_queue.cancel_join_thread()
        result_queue.close()
