"""Fetchers: turn one request from the sampler into one DataLoader item.

The same fetcher runs in the main process (``num_workers=0``) and in each worker. A
request is a list of indices when batching is on, one index when it is off, and, for
iterable datasets, only a count (the indices are placeholders).
"""
from __future__ import annotations

from ember.utils.data.collate import default_collate
from ember.utils.data.dataset import TensorDataset


class MapFetcher:
    """``dataset[i]`` for each requested index, or one ``__getitems__`` call, then collate."""

    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self._getitems = getattr(dataset, "__getitems__", None) if auto_collation else None
        # a TensorDataset under default_collate: one gather per tensor instead of a sample
        # per index and a stack (same values, dtypes and autograd history, no per-row tensors)
        self._gather = None
        if auto_collation and collate_fn is default_collate and _plain_tensor_dataset(dataset):
            self._gather = dataset._gather

    def fetch(self, request):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[request])
        if self._gather is not None and len(request):
            batch = self._gather(request)
            if batch is not None:
                return batch
        if self._getitems:
            return self.collate_fn(self._getitems(request))
        dataset = self.dataset
        return self.collate_fn([dataset[i] for i in request])


def _plain_tensor_dataset(dataset) -> bool:
    """A TensorDataset whose subclass (if any) keeps its way of fetching samples."""
    cls = type(dataset)
    return (isinstance(dataset, TensorDataset) and cls.__getitem__ is TensorDataset.__getitem__
            and cls.__getitems__ is TensorDataset.__getitems__)


class IterableFetcher:
    """The next ``len(request)`` samples of the dataset's iterator; StopIteration at its end."""

    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool):
        self.samples = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, request):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.samples))
        batch = []
        for _ in request:
            try:
                batch.append(next(self.samples))
            except StopIteration:
                self.ended = True
                break
        if not batch or (self.drop_last and len(batch) < len(request)):
            raise StopIteration
        return self.collate_fn(batch)


def make_fetcher(is_iterable: bool, dataset, auto_collation: bool, collate_fn, drop_last: bool):
    kind = IterableFetcher if is_iterable else MapFetcher
    return kind(dataset, auto_collation, collate_fn, drop_last)
