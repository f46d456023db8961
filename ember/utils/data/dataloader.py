"""DataLoader: an iterable over batches of a dataset.

``DataLoader.__iter__`` returns one of two iterators. ``_SingleProcessIter`` fetches in
the calling process. ``_MultiProcessIter`` starts ``num_workers`` worker processes
(``worker.py``), keeps up to ``prefetch_factor`` requests in flight per worker, and
hands back the replies in request order. It watches the workers while it waits, so a
dead worker or a timeout raises instead of hanging, and it always stops its workers:
at the end of an epoch (unless they are persistent), on any error, and when the
iterator is garbage-collected.
"""
from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import time
import warnings
from typing import Generic, TypeVar

from ember.utils.data import worker as _worker
from ember.utils.data.collate import default_collate, default_convert
from ember.utils.data.dataset import IterableDataset
from ember.utils.data.fetch import make_fetcher
from ember.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, random_seed

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]

get_worker_info = _worker.get_worker_info

T_co = TypeVar("T_co", covariant=True)

STATUS_INTERVAL = 0.5  # seconds between checks that the workers are alive while waiting for a reply
JOIN_TIMEOUT = 1.0     # seconds a stopping worker gets to exit before it is terminated


class _DatasetKind:
    Map = 0
    Iterable = 1

    @staticmethod
    def create_fetcher(kind, dataset, auto_collation, collate_fn, drop_last):
        return make_fetcher(kind == _DatasetKind.Iterable, dataset, auto_collation, collate_fn, drop_last)


class _InfiniteConstantSampler(Sampler):
    """Placeholder requests for iterable datasets: the dataset decides when to stop."""

    def __iter__(self):
        while True:
            yield None


def _default_context():
    if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _usable_cpus() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


class DataLoader(Generic[T_co]):
    """Iterate over ``dataset`` in batches.

    Arguments follow ``torch.utils.data.DataLoader``: ``batch_size`` (None turns
    batching off), ``shuffle``, ``sampler``, ``batch_sampler``, ``num_workers``,
    ``collate_fn``, ``pin_memory`` (accepted; nothing to pin on CPU), ``drop_last``,
    ``timeout``, ``worker_init_fn``, ``multiprocessing_context`` (default: 'fork' on
    Linux), ``generator``, ``prefetch_factor``, ``persistent_workers``,
    ``pin_memory_device`` and ``in_order``.
    """

    _FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True):
        if num_workers < 0:
            raise ValueError(f"num_workers must be non-negative (0 loads in the main process), got "
                             f"num_workers={num_workers}")
        if timeout < 0:
            raise ValueError(f"timeout must be non-negative, got timeout={timeout}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(f"prefetch_factor={prefetch_factor} needs worker processes (num_workers > 0); "
                             f"with num_workers=0 leave prefetch_factor as None")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError(f"prefetch_factor must be non-negative, got prefetch_factor={prefetch_factor}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers=True needs worker processes (num_workers > 0), got "
                             "num_workers=0")

        if isinstance(dataset, IterableDataset):
            kind = _DatasetKind.Iterable
            for name, value, unset in (("shuffle", shuffle, (None, False)), ("sampler", sampler, (None,)),
                                       ("batch_sampler", batch_sampler, (None,))):
                if not any(value is u for u in unset):
                    raise ValueError(f"DataLoader with IterableDataset: the dataset decides the order, so "
                                     f"{name} must be left unspecified, but got {name}={value!r}")
        else:
            kind = _DatasetKind.Map
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError(f"sampler and shuffle=True are mutually exclusive (got sampler={sampler!r})")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(f"batch_sampler is mutually exclusive with batch_size, shuffle, sampler and "
                                 f"drop_last (got batch_size={batch_size}, shuffle={shuffle}, sampler={sampler!r}, "
                                 f"drop_last={drop_last})")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None turns batching off, so drop_last=True has nothing to drop")
        if sampler is None:
            if kind == _DatasetKind.Iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self._dataset_kind = kind
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_sampler is not None else default_convert)
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self._iterable_length = None  # what len(dataset) said, for an IterableDataset, once len() was asked
        self._iterator = None
        self._initialized = True
        self._check_worker_count()

    def __setattr__(self, name, value):
        if name in self._FROZEN and self.__dict__.get("_initialized"):
            raise ValueError(f"{name} cannot be changed after the DataLoader is created")
        super().__setattr__(name, value)

    @property
    def multiprocessing_context(self):
        return self._mp_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context):
        if context is not None:
            if self.num_workers == 0:
                raise ValueError(f"multiprocessing_context={context!r} needs worker processes (num_workers > 0), "
                                 f"got num_workers=0")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError(f"multiprocessing_context must be one of the start methods {methods}, got "
                                     f"multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            elif not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError(f"multiprocessing_context must be a start method name or a multiprocessing "
                                f"context, got {type(context).__name__}")
        self._mp_context = context

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _get_iterator(self):
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        return _MultiProcessIter(self)

    def __iter__(self):
        if not self.persistent_workers or self.num_workers == 0:
            return self._get_iterator()
        if self._iterator is None or self._iterator._shut_down:
            self._iterator = self._get_iterator()
        else:
            self._iterator._reset(self)
        return self._iterator

    def __len__(self) -> int:
        if self._dataset_kind == _DatasetKind.Iterable:
            length = self._iterable_length = len(self.dataset)
            if self.batch_size is not None:
                length = length // self.batch_size if self.drop_last else -(-length // self.batch_size)
            return length
        return len(self._index_sampler)

    def _check_worker_count(self):
        cpus = _usable_cpus()
        if self.num_workers > 1 and cpus is not None and self.num_workers > cpus:
            warnings.warn(f"DataLoader was asked for {self.num_workers} worker processes, but this process "
                          f"can use {cpus} CPUs; too many workers can slow loading down or freeze it",
                          UserWarning, stacklevel=3)


class _BaseIter:
    def __init__(self, loader: DataLoader):
        self._dataset = loader.dataset
        self._is_iterable = loader._dataset_kind == _DatasetKind.Iterable
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._collate_fn = loader.collate_fn
        self._num_workers = loader.num_workers
        self._timeout = loader.timeout
        self._loader_length = loader._iterable_length
        self._base_seed = random_seed(loader.generator)
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._index_sampler)

    def _reset(self, loader: DataLoader, first_iter: bool = False):
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._loader_length = loader._iterable_length

    def _next_index(self):
        return next(self._sampler_iter)

    def _next_data(self):
        raise NotImplementedError

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        if self._is_iterable and self._loader_length is not None and self._num_yielded > self._loader_length:
            warnings.warn(f"the IterableDataset reported length {self._loader_length} through len(), but "
                          f"{self._num_yielded} items have been produced; with num_workers > 0 each worker "
                          f"must take its own share of the data", UserWarning, stacklevel=2)
            self._loader_length = None  # warn once
        return data


class _SingleProcessIter(_BaseIter):
    def __init__(self, loader: DataLoader):
        super().__init__(loader)
        self._fetcher = make_fetcher(self._is_iterable, self._dataset, self._auto_collation, self._collate_fn,
                                     self._drop_last)

    def _next_data(self):
        return self._fetcher.fetch(self._next_index())


class _MultiProcessIter(_BaseIter):
    """Feeds the workers' index queues and reassembles their replies in request order."""

    def __init__(self, loader: DataLoader):
        super().__init__(loader)
        self._shut_down = True  # until the workers exist
        self._prefetch = loader.prefetch_factor * self._num_workers
        self._persistent = loader.persistent_workers
        self._in_order = loader.in_order
        context = loader.multiprocessing_context or _default_context()
        self._result_queue = context.Queue()
        self._done_event = context.Event()
        self._index_queues = []
        self._workers = []
        self._shut_down = False
        try:
            for worker_id in range(self._num_workers):
                index_queue = context.Queue()
                index_queue.cancel_join_thread()
                process = context.Process(
                    target=_worker.worker_loop, daemon=True,
                    args=(self._is_iterable, self._dataset, index_queue, self._result_queue, self._done_event,
                          self._auto_collation, self._collate_fn, self._drop_last, self._base_seed,
                          loader.worker_init_fn, worker_id, self._num_workers))
                process.start()
                self._index_queues.append(index_queue)
                self._workers.append(process)
        except BaseException:
            self._shutdown_workers()
            raise
        self._reset(loader, first_iter=True)

    # ---------------------------------------------------------------- epoch bookkeeping
    def _reset(self, loader: DataLoader, first_iter: bool = False):
        super()._reset(loader, first_iter)
        self._send_idx = 0        # id of the next request to send
        self._rcvd_idx = 0        # id of the next item to hand out
        self._tasks = {}          # request id -> [worker id] or [worker id, item] once it arrived early
        self._outstanding = 0     # requests sent and not yet answered or skipped
        self._active = [True] * self._num_workers
        self._next_worker = itertools.cycle(range(self._num_workers))
        if not first_iter:
            # Persistent workers: each acknowledges the new epoch after answering everything it
            # was sent before, so leftovers of an unfinished epoch are read and dropped here.
            for index_queue in self._index_queues:
                index_queue.put(_worker.ResumeIteration())
            waiting = self._num_workers
            while waiting:
                task_id, _ = self._get_reply()
                if isinstance(task_id, _worker.ResumeIteration):
                    waiting -= 1
        for _ in range(self._prefetch):
            self._send_request()

    def _send_request(self):
        if self._outstanding >= self._prefetch:
            return
        try:
            request = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_id = next(self._next_worker)
            if self._active[worker_id]:
                break
        else:
            return  # every worker's iterable is exhausted
        self._index_queues[worker_id].put((self._send_idx, request))
        self._tasks[self._send_idx] = [worker_id]
        self._outstanding += 1
        self._send_idx += 1

    # ---------------------------------------------------------------- receiving
    def _get_reply(self):
        """The next (request id, item) from any worker; raises if a worker died or on timeout."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            wait = STATUS_INTERVAL if deadline is None else max(0.0, min(STATUS_INTERVAL, deadline - time.monotonic()))
            try:
                reply = self._result_queue.get(timeout=wait)
            except queue.Empty:
                reply = None
            if reply is not None:
                try:
                    return pickle.loads(reply)
                except BaseException:  # e.g. a sample class this process cannot import
                    self._shutdown_workers()
                    raise
            dead = [w for w, active in zip(self._workers, self._active) if active and not w.is_alive()]
            if dead:
                self._shutdown_workers()
                raise RuntimeError(_describe_dead(dead))
            if deadline is not None and time.monotonic() >= deadline:
                self._shutdown_workers()
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds waiting for a batch "
                                   f"from its {self._num_workers} worker processes (timeout={self._timeout})")

    def _next_data(self):
        while True:
            if self._shut_down:
                raise StopIteration
            # skip requests that will never be answered: sent to a worker whose iterable ended
            while self._rcvd_idx < self._send_idx:
                task = self._tasks.get(self._rcvd_idx)
                if task is not None and (len(task) == 2 or self._active[task[0]]):
                    break
                if task is not None:
                    del self._tasks[self._rcvd_idx]
                    self._outstanding -= 1
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self._shutdown_workers()
                raise StopIteration
            task = self._tasks[self._rcvd_idx]
            if len(task) == 2:
                del self._tasks[self._rcvd_idx]
                self._rcvd_idx += 1
                return self._deliver(task[1])
            task_id, item = self._get_reply()
            if isinstance(task_id, _worker.ResumeIteration):
                continue
            self._outstanding -= 1
            if isinstance(item, _worker.IterableEnd):
                self._retire(item.worker_id)
                del self._tasks[task_id]
                self._send_request()
                continue
            if task_id == self._rcvd_idx or not self._in_order:
                del self._tasks[task_id]
                if task_id == self._rcvd_idx:
                    self._rcvd_idx += 1
                return self._deliver(item)
            self._tasks[task_id].append(item)  # early: keep it until its turn

    def _deliver(self, item):
        if isinstance(item, _worker.WorkerError):
            self._shutdown_workers()
            item.reraise()
        self._send_request()
        return item

    def _retire(self, worker_id: int):
        """The worker's iterable is exhausted: send it nothing more this epoch."""
        self._active[worker_id] = False
        if not self._persistent:
            self._index_queues[worker_id].put(None)

    # ---------------------------------------------------------------- stopping
    def _shutdown_workers(self):
        if self._shut_down:
            return
        self._shut_down = True
        try:
            self._done_event.set()
            for index_queue in self._index_queues:
                try:
                    index_queue.put(None)
                except (OSError, ValueError):
                    pass
            deadline = time.monotonic() + JOIN_TIMEOUT
            for process in self._workers:
                process.join(timeout=max(0.0, deadline - time.monotonic()))
            stuck = [p for p in self._workers if p.is_alive()]  # busy in user code: stop them
            for process in stuck:
                process.terminate()
            for process in stuck:
                process.join(timeout=JOIN_TIMEOUT)
                if process.is_alive():
                    process.kill()
                    process.join()
            for q in (*self._index_queues, self._result_queue):
                q.cancel_join_thread()
                q.close()
        finally:
            self._index_queues = []

    def __del__(self):
        try:
            self._shutdown_workers()
        except Exception:
            pass  # interpreter shutdown: modules may already be gone


def _describe_dead(processes) -> str:
    pids, causes = [], []
    for p in processes:
        code = p.exitcode
        if code is not None and code < 0:
            try:
                cause = f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                cause = f"killed by signal {-code}"
        else:
            cause = f"exit code {code}"
        pids.append(str(p.pid))
        causes.append(f"pid {p.pid}: {cause}" if len(processes) > 1 else cause)
    label = "pid" if len(processes) == 1 else "pids"
    return f"DataLoader worker ({label} {', '.join(pids)}) exited unexpectedly ({'; '.join(causes)})"
