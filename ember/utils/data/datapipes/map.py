"""The built-in map-style DataPipes, registered under their functional names."""
from __future__ import annotations

from ember.utils.data.datapipes.datapipe import DataChunk, MapDataPipe, functional_datapipe

__all__ = ["SequenceWrapper", "Mapper", "Batcher", "Concater", "Zipper", "Shuffler"]


class SequenceWrapper(MapDataPipe):
    """A map-style pipe over a sequence (anything with ``__getitem__`` and ``__len__``).

    Args:
        sequence: the source.
        deepcopy: copy it first.
    """

    def __init__(self, sequence, deepcopy=True):
        if deepcopy:
            import copy
            try:
                sequence = copy.deepcopy(sequence)
            except TypeError:
                pass
        self.sequence = sequence

    def __getitem__(self, index):
        return self.sequence[index]

    def __len__(self):
        return len(self.sequence)


@functional_datapipe("map")
class Mapper(MapDataPipe):
    """``fn`` applied to each element on access.

    Args:
        datapipe: the source.
        fn: the function.
    """

    def __init__(self, datapipe, fn):
        self.datapipe, self.fn = datapipe, fn

    def __getitem__(self, index):
        return self.fn(self.datapipe[index])

    def __len__(self):
        return len(self.datapipe)


@functional_datapipe("batch")
class Batcher(MapDataPipe):
    """Element ``i`` is the ``DataChunk`` of source elements ``i*batch_size`` up to the next batch.

    Args:
        datapipe: the source.
        batch_size: the batch length.
        drop_last: drop a last, shorter batch.
        wrapper_class: the batch type.
    """

    def __init__(self, datapipe, batch_size, drop_last=False, wrapper_class=DataChunk):
        if batch_size <= 0:
            raise AssertionError("Batch size is required to be larger than 0!")
        self.datapipe, self.batch_size, self.drop_last, self.wrapper_class = datapipe, batch_size, drop_last, \
            wrapper_class

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Index {index} is out of bound.")
        start = index * self.batch_size
        return self.wrapper_class([self.datapipe[i] for i in
                                   range(start, min(start + self.batch_size, len(self.datapipe)))])

    def __len__(self):
        n = len(self.datapipe)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


@functional_datapipe("concat")
class Concater(MapDataPipe):
    """The pipes' elements one after another.

    Args:
        datapipes: the pipes.
    """

    def __init__(self, *datapipes):
        if not datapipes:
            raise ValueError("Expected at least one DataPipe, but got nothing")
        self.datapipes = datapipes

    def __getitem__(self, index):
        for dp in self.datapipes:
            if index < len(dp):
                return dp[index]
            index -= len(dp)
        raise IndexError(f"Index {index} is out of range.")

    def __len__(self):
        return sum(len(dp) for dp in self.datapipes)


@functional_datapipe("zip")
class Zipper(MapDataPipe):
    """Tuples of the pipes' elements at each index (as long as the shortest).

    Args:
        datapipes: the pipes.
    """

    def __init__(self, *datapipes):
        if not datapipes:
            raise ValueError("Expected at least one DataPipe, but got nothing")
        self.datapipes = datapipes

    def __getitem__(self, index):
        return tuple(dp[index] for dp in self.datapipes)

    def __len__(self):
        return min(len(dp) for dp in self.datapipes)


@functional_datapipe("shuffle")
class Shuffler(MapDataPipe):
    """The elements in a random order fixed per seed (``set_seed``; else drawn from ember's generator).

    Args:
        datapipe: the source.
        indices: the keys to shuffle (default: ``range(len(datapipe))``).
    """

    def __init__(self, datapipe, *, indices=None):
        self.datapipe = datapipe
        self.indices = list(range(len(datapipe))) if indices is None else list(indices)
        self._order, self._seed = None, None

    def set_seed(self, seed):
        """Seed the order; returns the pipe."""
        self._seed, self._order = seed, None
        return self

    def _shuffled(self):
        if self._order is None:
            import random
            seed = self._seed
            if seed is None:
                import ember
                seed = int(ember.empty((), dtype=ember.int64).random_().item())
            self._order = list(self.indices)
            random.Random(seed).shuffle(self._order)
        return self._order

    def __getitem__(self, index):
        return self.datapipe[self._shuffled()[index]]

    def __len__(self):
        return len(self.indices)
