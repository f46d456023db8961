"""Samplers: the order in which a DataLoader asks a map-style dataset for samples.

A sampler is an iterable of indices (or, for a batch sampler, of lists of indices).
Random samplers draw from ember's Generators, so ``ember.manual_seed`` or an explicit
``generator`` makes the order reproducible.
"""
from __future__ import annotations

import itertools
from typing import Generic, Iterable, Iterator, Sequence, TypeVar

import numpy as np

from ember.core import dtype as dt
from ember.ops.creation import as_tensor, empty
from ember.ops.random import Generator, multinomial, rand, randint, randperm

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler"]

T_co = TypeVar("T_co", covariant=True)

_REPLACEMENT_CHUNK = 32  # indices drawn per call when sampling with replacement


def random_seed(generator=None) -> int:
    """A fresh 63-bit seed drawn from ``generator`` (the default generator when None)."""
    return int(empty((), dtype=dt.int64).random_(generator=generator).item())


def _check_bool(name: str, value) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} should be a boolean value, but got {name}={value!r}")


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} should be a positive integer value, but got {name}={value!r}")


class Sampler(Generic[T_co]):
    """Base class: subclasses implement ``__iter__`` and, when they know it, ``__len__``."""

    def __init__(self, data_source=None) -> None:
        pass

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class SequentialSampler(Sampler[int]):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """Random indices into ``data_source``.

    Without replacement, each run of ``len(data_source)`` indices is a permutation (and
    ``num_samples`` may exceed the length: further permutations follow). With
    replacement, every index is drawn independently. Without a ``generator``, each
    iteration seeds a private one from the default generator.
    """

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None,
                 generator=None) -> None:
        _check_bool("replacement", replacement)
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        _check_positive_int("num_samples", self.num_samples)

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        generator = self.generator
        if generator is None:
            generator = Generator().manual_seed(random_seed())
        count = self.num_samples
        if self.replacement:
            while count > 0:
                step = min(count, _REPLACEMENT_CHUNK)
                yield from randint(0, n, (step,), generator=generator).tolist()
                count -= step
            return
        for _ in range(count // n):
            yield from randperm(n, generator=generator).tolist()
        if count % n:
            yield from randperm(n, generator=generator).tolist()[:count % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given ``indices`` in a random order (a new one each iteration)."""

    def __init__(self, indices: Sequence[int], generator=None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        for i in randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """Indices ``0..len(weights)-1`` drawn with probability proportional to ``weights``."""

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator=None) -> None:
        _check_positive_int("num_samples", num_samples)
        _check_bool("replacement", replacement)
        weights = as_tensor(weights, dtype=dt.float64)
        if weights.ndim != 1:
            raise ValueError(f"weights should be a 1-d sequence, but got weights of shape {tuple(weights.shape)}")
        self.weights = weights
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        if not self.replacement:
            return iter(multinomial(self.weights, self.num_samples, False, generator=self.generator).tolist())
        # inverse-CDF draws: memory linear in len(weights) + num_samples
        w = self.weights.numpy()
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise RuntimeError(f"WeightedRandomSampler: weights must be finite, non-negative and not all zero, "
                               f"got {w.tolist() if w.size <= 10 else w}")
        cdf = np.cumsum(w)
        u = rand(self.num_samples, dtype=dt.float64, generator=self.generator).numpy() * cdf[-1]
        picks = np.minimum(np.searchsorted(cdf, u, side="right"), len(w) - 1)
        return iter(picks.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list]):
    """Group the indices of ``sampler`` into lists of ``batch_size``; the last list is
    shorter unless ``drop_last``, which drops it."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        _check_positive_int("batch_size", batch_size)
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last!r}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list]:
        indices = iter(self.sampler)
        while True:
            batch = list(itertools.islice(indices, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
