"""DistributedSampler: each of ``num_replicas`` processes reads its own share of a dataset."""
from __future__ import annotations

import math
from typing import Iterator

from ember.ops.random import Generator, randperm
from ember.utils.data.sampler import Sampler

__all__ = ["DistributedSampler"]


def _process_group() -> tuple[int, int] | None:
    """(world size, rank) of the default process group, or None when there is none."""
    try:
        import ember.distributed as dist
    except ImportError:
        return None
    is_ready = getattr(dist, "is_initialized", None)
    if is_ready is None or not is_ready():
        return None
    return dist.get_world_size(), dist.get_rank()


class DistributedSampler(Sampler[int]):
    """The indices that replica ``rank`` of ``num_replicas`` reads.

    The index list (shuffled with ``seed + epoch`` when ``shuffle``) is either padded by
    repeating its start until every replica gets the same count, or, with ``drop_last``,
    cut to a multiple of ``num_replicas``; replica ``rank`` takes every
    ``num_replicas``-th index starting at ``rank``. Call :meth:`set_epoch` before each
    epoch for a new order. Without a process group, pass ``num_replicas`` and ``rank``.
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            group = _process_group()
            if group is None:
                raise RuntimeError(f"DistributedSampler needs num_replicas and rank when no process group is "
                                   f"initialized (got num_replicas={num_replicas}, rank={rank})")
            num_replicas = group[0] if num_replicas is None else num_replicas
            rank = group[1] if rank is None else rank
        if num_replicas <= 0:
            raise ValueError(f"num_replicas should be a positive integer, but got num_replicas={num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank}: it should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        self.shuffle = shuffle
        self.seed = seed
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            generator = Generator().manual_seed(self.seed + self.epoch)
            indices = randperm(n, generator=generator).tolist()
        else:
            indices = list(range(n))
        if self.drop_last:
            indices = indices[:self.total_size]
        elif indices:
            missing = self.total_size - len(indices)
            repeats = math.ceil(missing / len(indices))
            indices += (indices * repeats)[:missing]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch that, with ``seed``, picks this epoch's shuffle."""
        self.epoch = epoch
