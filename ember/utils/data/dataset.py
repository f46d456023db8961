"""Datasets: where samples come from.

A map-style dataset answers ``dataset[i]`` (and usually ``len(dataset)``); an iterable
dataset answers ``iter(dataset)``. The classes here combine, slice and split them.
"""
from __future__ import annotations

import bisect
import itertools
import math
import warnings
from typing import Generic, Iterable, Sequence, TypeVar

import numpy as np

from ember.core.tensor import Tensor
from ember.ops.creation import from_numpy
from ember.ops.random import default_generator, randperm

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset", "ChainDataset",
           "Subset", "random_split"]

T_co = TypeVar("T_co", covariant=True)


class Dataset(Generic[T_co]):
    """A map-style dataset: subclasses implement ``__getitem__`` and usually ``__len__``.

    A subclass may also implement ``__getitems__(indices)`` returning a list of samples,
    which the DataLoader then uses to fetch a whole batch in one call.
    """

    def __getitem__(self, index) -> T_co:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: "Dataset[T_co]") -> "ConcatDataset[T_co]":
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co], Iterable[T_co]):
    """A dataset that is a stream: subclasses implement ``__iter__``.

    With ``num_workers > 0`` every worker process iterates its own copy of the dataset;
    use :func:`ember.utils.data.get_worker_info` inside ``__iter__`` to give each worker
    its share, or every sample arrives once per worker.
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other: "IterableDataset[T_co]") -> "ChainDataset":
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Sample ``i`` is the tuple ``(t[i] for t in tensors)``; all share their first dimension."""

    def __init__(self, *tensors: Tensor):
        sizes = [t.size(0) for t in tensors]
        if any(s != sizes[0] for s in sizes):
            raise AssertionError(f"Size mismatch between tensors: TensorDataset needs every tensor to have "
                                 f"the same size in dimension 0, got sizes {sizes}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __getitems__(self, indices: list) -> list:
        """The samples at ``indices``, as a list of tuples (what the DataLoader's fetcher collates).

        Args:
            indices: a sequence of sample indices.

        Returns:
            ``[self[i] for i in indices]``.
        """
        getitem = self.__getitem__  # a subclass's own __getitem__, if it has one
        return [getitem(i) for i in indices]

    def _gather(self, indices) -> list:
        """``default_collate(self.__getitems__(indices))`` in one indexing op per tensor: the
        rows at ``indices`` of each tensor, already stacked (the DataLoader's fast path); None
        when the indices are not plain integers (the per-sample path then handles them)."""
        if not all(type(i) is int for i in indices):
            return None
        index = from_numpy(np.asarray(indices, dtype=np.int64))
        return [t[index if t.device.type == "cpu" else index.to(t.device)] for t in self.tensors]

    def __len__(self):
        return self.tensors[0].size(0)


class StackDataset(Dataset):
    """Zip datasets of equal length: ``StackDataset(a, b)[i] == (a[i], b[i])`` and
    ``StackDataset(x=a, y=b)[i] == {"x": a[i], "y": b[i]}``."""

    def __init__(self, *args: Dataset, **kwargs: Dataset):
        if args and kwargs:
            raise ValueError("StackDataset takes datasets either positionally (samples are tuples) or by "
                             f"keyword (samples are dicts), not both: got {len(args)} positional and keywords "
                             f"{sorted(kwargs)}")
        if not args and not kwargs:
            raise ValueError("StackDataset needs at least one dataset")
        parts = args or tuple(kwargs.values())
        lengths = [len(d) for d in parts]
        if any(n != lengths[0] for n in lengths):
            raise ValueError(f"Size mismatch between datasets: StackDataset needs equal lengths, got {lengths}")
        self._length = lengths[0]
        self.datasets = args if args else dict(kwargs)

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {key: d[index] for key, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __getitems__(self, indices: list) -> list:
        named = isinstance(self.datasets, dict)
        columns = {}
        for key, d in (self.datasets.items() if named else enumerate(self.datasets)):
            getitems = getattr(d, "__getitems__", None)
            column = getitems(indices) if getitems else [d[i] for i in indices]
            if len(column) != len(indices):
                raise ValueError(f"nested dataset {key!r} returned {len(column)} samples from __getitems__ "
                                 f"for {len(indices)} indices")
            columns[key] = column
        if named:
            return [{key: column[j] for key, column in columns.items()} for j in range(len(indices))]
        return [tuple(column[j] for column in columns.values()) for j in range(len(indices))]

    def __len__(self):
        return self._length


class ConcatDataset(Dataset[T_co]):
    """Map-style datasets one after the other: indices run through the first, then the next."""

    @staticmethod
    def cumsum(sequence) -> list:
        return list(itertools.accumulate(len(d) for d in sequence))

    def __init__(self, datasets: Iterable[Dataset]):
        self.datasets = list(datasets)
        if not self.datasets:
            raise AssertionError("ConcatDataset needs at least one dataset, got an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError(f"ConcatDataset cannot index an IterableDataset ({type(d).__name__}); "
                                     f"use ChainDataset for iterable datasets")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise ValueError(f"index {idx} is out of range for a ConcatDataset of length {n}")
            idx += n
        if idx >= n:
            raise IndexError(f"index {idx} is out of range for a ConcatDataset of length {n}")
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][idx - start]


class ChainDataset(IterableDataset):
    """Iterable datasets one after the other, chained lazily."""

    def __init__(self, datasets: Iterable[Dataset]):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError(f"ChainDataset only chains IterableDatasets, got {type(d).__name__}")
            yield from d

    def __len__(self):
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError(f"ChainDataset only chains IterableDatasets, got {type(d).__name__}")
            total += len(d)
        return total


class Subset(Dataset[T_co]):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset[T_co], indices: Sequence[int]):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list) -> list:
        inner = [self.indices[i] for i in indices]
        getitems = getattr(self.dataset, "__getitems__", None)
        if getitems:
            return getitems(inner)
        return [self.dataset[i] for i in inner]

    def __len__(self):
        return len(self.indices)


def _lengths_from_fractions(fractions: list, total: int) -> list:
    for i, frac in enumerate(fractions):
        if not 0 <= frac <= 1:
            raise ValueError(f"random_split: fraction at index {i} is {frac}, outside [0, 1]")
    lengths = [int(math.floor(total * frac)) for frac in fractions]
    # what flooring left over goes one by one to the splits, first split first
    for i in range(total - sum(lengths)):
        lengths[i % len(lengths)] += 1
    for i, n in enumerate(lengths):
        if n == 0:
            warnings.warn(f"random_split: split at index {i} has length 0 (fraction {fractions[i]} of "
                          f"{total} samples); that Subset is empty", stacklevel=3)
    return lengths


def random_split(dataset: Dataset[T_co], lengths: Sequence, generator=default_generator) -> list:
    """Split ``dataset`` into non-overlapping random Subsets.

    ``lengths`` are either the sizes of the splits, summing to ``len(dataset)``, or
    fractions summing to 1; a remainder left by flooring fractions is handed out one
    sample at a time starting with the first split.
    """
    lengths = list(lengths)
    total = len(dataset)
    if lengths and math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _lengths_from_fractions(lengths, total)
    if sum(lengths) != total:
        raise ValueError(f"random_split: the lengths {lengths} sum to {sum(lengths)}, but the dataset has "
                         f"{total} samples")
    order = randperm(total, generator=generator).tolist()
    ends = itertools.accumulate(lengths)
    return [Subset(dataset, order[end - n:end]) for end, n in zip(ends, lengths)]
