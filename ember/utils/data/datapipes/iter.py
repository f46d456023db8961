"""The built-in iterable DataPipes, registered under their functional names."""
from __future__ import annotations

import random as _random
from collections import defaultdict, deque

from ember.utils.data.datapipes.datapipe import DataChunk, IterDataPipe, functional_datapipe

__all__ = ["IterableWrapper", "Mapper", "Filter", "Batcher", "UnBatcher", "Concater", "Zipper", "Collator",
           "Shuffler", "ShardingFilter", "Demultiplexer", "Forker", "Multiplexer", "Grouper"]


class IterableWrapper(IterDataPipe):
    """A pipe over any iterable.

    Args:
        iterable: the source.
        deepcopy: copy the iterable for each pass (so a pipe cannot change it).
    """

    def __init__(self, iterable, deepcopy=True):
        self.iterable, self.deepcopy = iterable, deepcopy

    def __iter__(self):
        source = self.iterable
        if self.deepcopy:
            import copy
            try:
                source = copy.deepcopy(source)
            except TypeError:  # not copyable (a generator...): read it as it is
                pass
        yield from source

    def __len__(self):
        return len(self.iterable)


@functional_datapipe("map")
class Mapper(IterDataPipe):
    """``fn`` applied to each element (``input_col``/``output_col`` pick fields of tuple or dict elements).

    Args:
        datapipe: the source.
        fn: the function.
        input_col: the field(s) given to ``fn`` (default: the whole element).
        output_col: where the result goes (default: replaces ``input_col``).
    """

    def __init__(self, datapipe, fn, input_col=None, output_col=None):
        self.datapipe, self.fn, self.input_col, self.output_col = datapipe, fn, input_col, output_col

    def _apply(self, data):
        if self.input_col is None and self.output_col is None:
            return self.fn(data)
        cols = self.input_col if isinstance(self.input_col, (list, tuple)) else [self.input_col]
        result = self.fn(*(data[c] for c in cols))
        out = list(data) if isinstance(data, tuple) else type(data)(data)
        target = self.output_col if self.output_col is not None else cols[0]
        if target == -1 and isinstance(out, list):
            out.append(result)
        else:
            out[target] = result
        return tuple(out) if isinstance(data, tuple) else out

    def __iter__(self):
        for data in self.datapipe:
            yield self._apply(data)

    def __len__(self):
        return len(self.datapipe)


@functional_datapipe("filter")
class Filter(IterDataPipe):
    """The elements for which ``filter_fn`` is true.

    Args:
        datapipe: the source.
        filter_fn: the predicate.
        input_col: the field given to the predicate (default: the whole element).
    """

    def __init__(self, datapipe, filter_fn, input_col=None):
        self.datapipe, self.filter_fn, self.input_col = datapipe, filter_fn, input_col

    def __iter__(self):
        for data in self.datapipe:
            if self.filter_fn(data if self.input_col is None else data[self.input_col]):
                yield data


@functional_datapipe("batch")
class Batcher(IterDataPipe):
    """Consecutive elements grouped into ``DataChunk`` batches of ``batch_size``.

    Args:
        datapipe: the source.
        batch_size: the batch length.
        drop_last: drop a last, shorter batch.
        wrapper_class: the batch type (default ``DataChunk``).
    """

    def __init__(self, datapipe, batch_size, drop_last=False, wrapper_class=DataChunk):
        if batch_size <= 0:
            raise AssertionError("Batch size is required to be larger than 0!")
        self.datapipe, self.batch_size, self.drop_last, self.wrapper_class = datapipe, batch_size, drop_last, \
            wrapper_class

    def __iter__(self):
        batch = []
        for data in self.datapipe:
            batch.append(data)
            if len(batch) == self.batch_size:
                yield self.wrapper_class(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.wrapper_class(batch)

    def __len__(self):
        n = len(self.datapipe)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


@functional_datapipe("unbatch")
class UnBatcher(IterDataPipe):
    """The elements of batched elements, ``unbatch_level`` levels deep (-1: all the way).

    Args:
        datapipe: the source of batches.
        unbatch_level: how many levels to flatten.
    """

    def __init__(self, datapipe, unbatch_level=1):
        self.datapipe, self.unbatch_level = datapipe, unbatch_level

    def _flat(self, element, level):
        if level == 0 or not isinstance(element, (list, tuple)):
            yield element
            return
        for item in element:
            yield from self._flat(item, level - 1)

    def __iter__(self):
        for element in self.datapipe:
            yield from self._flat(element, self.unbatch_level)


@functional_datapipe("concat")
class Concater(IterDataPipe):
    """The elements of each pipe in turn.

    Args:
        datapipes: the pipes.
    """

    def __init__(self, *datapipes):
        if not datapipes:
            raise ValueError("Expected at least one DataPipe, but got nothing")
        if not all(isinstance(dp, IterDataPipe) for dp in datapipes):
            raise TypeError("Expected all inputs to be `IterDataPipe`")
        self.datapipes = datapipes

    def __iter__(self):
        for dp in self.datapipes:
            yield from dp

    def __len__(self):
        return sum(len(dp) for dp in self.datapipes)


@functional_datapipe("zip")
class Zipper(IterDataPipe):
    """Tuples of the pipes' elements, until the shortest ends.

    Args:
        datapipes: the pipes.
    """

    def __init__(self, *datapipes):
        if not all(isinstance(dp, IterDataPipe) for dp in datapipes):
            raise TypeError("All inputs are required to be `IterDataPipe` for `ZipIterDataPipe`.")
        self.datapipes = datapipes

    def __iter__(self):
        yield from zip(*self.datapipes)

    def __len__(self):
        return min(len(dp) for dp in self.datapipes)


@functional_datapipe("collate")
class Collator(Mapper):
    """Each element (a batch) collated by ``collate_fn`` (default: ``default_collate``, to tensors).

    Args:
        datapipe: the source.
        conversion: accepted for PyTorch's signature (a collate function in its place).
        collate_fn: the collate function.
    """

    def __init__(self, datapipe, conversion=None, collate_fn=None):
        from ember.utils.data.collate import default_collate
        fn = collate_fn or (conversion if callable(conversion) else default_collate)
        super().__init__(datapipe, fn)


@functional_datapipe("shuffle")
class Shuffler(IterDataPipe):
    """The elements in random order, from a buffer of ``buffer_size`` (seeded with ``set_seed``, else
    from ember's generator).

    Args:
        datapipe: the source.
        buffer_size: how many elements the shuffle draws among.
        unbatch_level: unbatch this many levels first.
    """

    def __init__(self, datapipe, *, buffer_size=10000, unbatch_level=0):
        if buffer_size <= 0:
            raise AssertionError("buffer_size should be larger than 0")
        self.datapipe = datapipe if unbatch_level == 0 else UnBatcher(datapipe, unbatch_level)
        self.buffer_size, self._enabled, self._seed = buffer_size, True, None

    def set_shuffle(self, shuffle=True):
        """Turn shuffling on or off; returns the pipe."""
        self._enabled = shuffle
        return self

    def set_seed(self, seed):
        """Seed the next pass; returns the pipe."""
        self._seed = seed
        return self

    def __iter__(self):
        if not self._enabled:
            yield from self.datapipe
            return
        if self._seed is None:
            import ember
            seed = int(ember.empty((), dtype=ember.int64).random_().item())
        else:
            seed = self._seed
        rng, buffer = _random.Random(seed), []
        for x in self.datapipe:
            if len(buffer) == self.buffer_size:
                i = rng.randint(0, len(buffer) - 1)
                buffer[i], x = x, buffer[i]
                yield x
            else:
                buffer.append(x)
        rng.shuffle(buffer)
        yield from buffer

    def __len__(self):
        return len(self.datapipe)


@functional_datapipe("sharding_filter")
class ShardingFilter(IterDataPipe):
    """Every ``num_of_instances``-th element from ``instance_id`` on (``apply_sharding``; DataLoader
    workers and ranks each take their own share).

    Args:
        source_datapipe: the source.
        sharding_group_filter: accepted for PyTorch's signature.
    """

    def __init__(self, source_datapipe, sharding_group_filter=None):
        self.source_datapipe, self.num_of_instances, self.instance_id = source_datapipe, 1, 0

    def apply_sharding(self, num_of_instances, instance_id, sharding_group=None):
        """Take the ``instance_id``-th of ``num_of_instances`` shares."""
        if instance_id >= num_of_instances:
            raise ValueError(f"instance_id({instance_id}) should be smaller than num_of_instances"
                             f"({num_of_instances})")
        self.num_of_instances, self.instance_id = num_of_instances, instance_id

    def __iter__(self):
        for i, item in enumerate(self.source_datapipe):
            if i % self.num_of_instances == self.instance_id:
                yield item


class _SplitPipe(IterDataPipe):
    def __init__(self, hub, index):
        self.hub, self.index = hub, index

    def __iter__(self):
        return self.hub.iterate(self.index)


class _Hub:
    """Reads the source once per pass and hands each element to the outputs ``route`` names."""

    def __init__(self, source, n, route, buffer_size):
        self.source, self.n, self.route, self.buffer_size = source, n, route, buffer_size
        self.buffers, self.iterator, self.done = None, None, True

    def iterate(self, index):
        if self.iterator is None or (self.done and not any(self.buffers)):
            self.buffers, self.iterator, self.done = [deque() for _ in range(self.n)], iter(self.source), False
        while True:
            if self.buffers[index]:
                yield self.buffers[index].popleft()
                continue
            if self.done:
                return
            try:
                item = next(self.iterator)
            except StopIteration:
                self.done = True
                continue
            for target in self.route(item):
                if target != index and 0 <= self.buffer_size < len(self.buffers[target]) + 1:
                    raise BufferError(f"DemultiplexerIterDataPipe buffer overflow, buffer size {self.buffer_size} "
                                      f"is insufficient.")
                self.buffers[target].append(item)


@functional_datapipe("demux")
class Demultiplexer(IterDataPipe):
    """Split a pipe into ``num_instances`` pipes: ``classifier_fn(element)`` names each element's.

    Args:
        datapipe: the source.
        num_instances: how many pipes.
        classifier_fn: element -> output index (None: dropped, with ``drop_none``).
        drop_none: drop elements the classifier gives None.
        buffer_size: how many elements may wait for a slower output (-1: unlimited).

    Returns:
        (Calling it) a list of ``num_instances`` pipes.
    """

    def __new__(cls, datapipe, num_instances, classifier_fn, drop_none=False, buffer_size=1000):
        if num_instances < 1:
            raise ValueError(f"Expected `num_instances` larger than 0, but {num_instances} is found")

        def route(item):
            i = classifier_fn(item)
            if i is None and drop_none:
                return ()
            if i is None or not 0 <= i < num_instances:
                raise ValueError(f"Output of the classification fn should be between 0 and {num_instances - 1}. "
                                 f"{i} is returned.")
            return (i,)
        hub = _Hub(datapipe, num_instances, route, buffer_size)
        return [_SplitPipe(hub, i) for i in range(num_instances)]


@functional_datapipe("fork")
class Forker(IterDataPipe):
    """``num_instances`` pipes that each yield every element of the source.

    Args:
        datapipe: the source.
        num_instances: how many copies.
        buffer_size: how many elements may wait for a slower copy (-1: unlimited).

    Returns:
        (Calling it) a list of pipes.
    """

    def __new__(cls, datapipe, num_instances, buffer_size=1000, copy=None):
        if num_instances < 1:
            raise ValueError(f"Expected `num_instances` larger than 0, but {num_instances} is found")
        if num_instances == 1:
            return datapipe
        hub = _Hub(datapipe, num_instances, lambda item: range(num_instances), buffer_size)
        return [_SplitPipe(hub, i) for i in range(num_instances)]


@functional_datapipe("mux")
class Multiplexer(IterDataPipe):
    """One element from each pipe in turn, until the shortest ends.

    Args:
        datapipes: the pipes.
    """

    def __init__(self, *datapipes):
        self.datapipes = datapipes

    def __iter__(self):
        iterators = [iter(dp) for dp in self.datapipes]
        while True:
            row = []
            for it in iterators:
                try:
                    row.append(next(it))
                except StopIteration:
                    yield from row
                    return
            yield from row


@functional_datapipe("groupby")
class Grouper(IterDataPipe):
    """Elements grouped by ``group_key_fn`` into ``DataChunk`` groups of ``group_size`` (the rest at the end).

    Args:
        datapipe: the source.
        group_key_fn: element -> key.
        keep_key: yield ``(key, group)`` pairs.
        buffer_size: how many elements may wait in unfinished groups.
        group_size: the size at which a group is yielded (None: at the end).
        guaranteed_group_size: drop (or refuse) smaller groups at the end.
        drop_remaining: drop groups smaller than ``guaranteed_group_size``.
    """

    def __init__(self, datapipe, group_key_fn, *, keep_key=False, buffer_size=10000, group_size=None,
                 guaranteed_group_size=None, drop_remaining=False):
        self.datapipe, self.group_key_fn, self.keep_key = datapipe, group_key_fn, keep_key
        self.buffer_size, self.group_size = buffer_size, group_size
        self.guaranteed_group_size = guaranteed_group_size if guaranteed_group_size is not None else None
        self.drop_remaining = drop_remaining

    def _out(self, key, items):
        chunk = DataChunk(items)
        return (key, chunk) if self.keep_key else chunk

    def __iter__(self):
        groups, count = defaultdict(list), 0
        for x in self.datapipe:
            key = self.group_key_fn(x)
            groups[key].append(x)
            count += 1
            if self.group_size is not None and len(groups[key]) == self.group_size:
                count -= len(groups[key])
                yield self._out(key, groups.pop(key))
            elif count > self.buffer_size:  # the buffer is full: the biggest group goes
                biggest = max(groups, key=lambda k: len(groups[k]))
                count -= len(groups[biggest])
                yield self._out(biggest, groups.pop(biggest))
        for key, items in groups.items():
            if self.guaranteed_group_size is not None and len(items) < self.guaranteed_group_size:
                if self.drop_remaining:
                    continue
                raise RuntimeError(f"Failed to group items: group '{key}' has {len(items)} < "
                                   f"{self.guaranteed_group_size} items")
            yield self._out(key, items)
