"""Samplers, BatchSampler and DistributedSampler."""
import math

import pytest

import ember
from ember.utils.data import (BatchSampler, DistributedSampler, RandomSampler, Sampler, SequentialSampler,
                              SubsetRandomSampler, WeightedRandomSampler)
from ember.utils.data.distributed import DistributedSampler as DistributedSamplerFromModule


def seeded(seed):
    return ember.Generator().manual_seed(seed)


def test_sequential_sampler():
    assert list(SequentialSampler(range(5))) == [0, 1, 2, 3, 4]
    assert len(SequentialSampler(range(5))) == 5


def test_base_sampler_needs_iter():
    with pytest.raises(NotImplementedError, match="Sampler"):
        iter(Sampler())


def test_random_sampler_is_the_generators_permutation():
    order = list(RandomSampler(range(10), generator=seeded(3)))
    assert order == ember.randperm(10, generator=seeded(3)).tolist()
    assert sorted(order) == list(range(10)) and order != list(range(10))
    assert all(type(i) is int for i in order)


def test_random_sampler_num_samples_beyond_length_chains_permutations():
    order = list(RandomSampler(range(4), num_samples=10, generator=seeded(1)))
    g = seeded(1)
    reference = (ember.randperm(4, generator=g).tolist() + ember.randperm(4, generator=g).tolist()
                 + ember.randperm(4, generator=g).tolist()[:2])
    assert order == reference and len(RandomSampler(range(4), num_samples=10)) == 10


def test_random_sampler_with_replacement():
    order = list(RandomSampler(range(5), replacement=True, num_samples=70, generator=seeded(2)))
    assert len(order) == 70 and set(order) <= set(range(5))
    assert len(set(order)) == 5  # 70 draws from 5 values: all appear (fails with prob < 1e-6)
    assert order == list(RandomSampler(range(5), replacement=True, num_samples=70, generator=seeded(2)))


def test_random_sampler_without_generator_follows_manual_seed():
    ember.manual_seed(42)
    first = list(RandomSampler(range(20)))
    second = list(RandomSampler(range(20)))
    ember.manual_seed(42)
    assert list(RandomSampler(range(20))) == first
    assert first != second  # each iteration draws a fresh seed


def test_random_sampler_argument_errors():
    with pytest.raises(TypeError, match="replacement=1"):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="num_samples=0"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(ValueError, match="num_samples=0"):
        RandomSampler([])


def test_subset_random_sampler():
    indices = [10, 20, 30, 40]
    order = list(SubsetRandomSampler(indices, generator=seeded(0)))
    perm = ember.randperm(4, generator=seeded(0)).tolist()
    assert order == [indices[i] for i in perm] and len(SubsetRandomSampler(indices)) == 4


def test_weighted_sampler_with_replacement_follows_the_weights():
    draws = list(WeightedRandomSampler([0.0, 1.0, 3.0, 0.0], 20000, generator=seeded(0)))
    assert len(draws) == 20000 and set(draws) == {1, 2}
    assert abs(draws.count(2) / 20000 - 0.75) < 0.02
    assert draws == list(WeightedRandomSampler([0.0, 1.0, 3.0, 0.0], 20000, generator=seeded(0)))


def test_weighted_sampler_without_replacement():
    draws = list(WeightedRandomSampler([1.0, 0.0, 2.0, 5.0, 1.0], 4, replacement=False, generator=seeded(3)))
    assert sorted(draws) == [0, 2, 3, 4]
    assert len(WeightedRandomSampler([1.0, 2.0], 2)) == 2


def test_weighted_sampler_errors():
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        WeightedRandomSampler([[1.0, 2.0], [3.0, 4.0]], 2)
    with pytest.raises(ValueError, match="num_samples=0"):
        WeightedRandomSampler([1.0], 0)
    with pytest.raises(TypeError, match="replacement"):
        WeightedRandomSampler([1.0], 1, replacement="yes")
    with pytest.raises(RuntimeError, match="non-negative"):
        list(WeightedRandomSampler([1.0, -1.0], 3))


def test_batch_sampler_groups_and_drops_last():
    assert list(BatchSampler(range(7), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert list(BatchSampler(range(6), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3 and len(BatchSampler(range(7), 3, True)) == 2
    with pytest.raises(ValueError, match="batch_size=0"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="batch_size=True"):
        BatchSampler(range(3), True, False)
    with pytest.raises(ValueError, match="drop_last=None"):
        BatchSampler(range(3), 2, None)


def distributed_reference(n, replicas, rank, order, drop_last):
    """The split written out by hand."""
    if drop_last:
        per_rank = n // replicas
        order = order[:per_rank * replicas]
    else:
        per_rank = math.ceil(n / replicas)
        while len(order) < per_rank * replicas:
            order = order + order[:per_rank * replicas - len(order)]
    return [order[i] for i in range(rank, per_rank * replicas, replicas)]


@pytest.mark.parametrize("n,replicas", [(10, 3), (10, 5), (2, 5), (7, 2)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_matches_a_hand_written_split(n, replicas, drop_last):
    seen = []
    for rank in range(replicas):
        sampler = DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=False,
                                     drop_last=drop_last)
        got = list(sampler)
        assert got == distributed_reference(n, replicas, rank, list(range(n)), drop_last)
        assert len(sampler) == len(got)
        seen += got
    if not drop_last:
        assert set(seen) == set(range(n))


def test_distributed_sampler_shuffle_uses_seed_plus_epoch():
    sampler = DistributedSampler(range(9), num_replicas=2, rank=1, seed=4)
    order = ember.randperm(9, generator=seeded(4)).tolist()
    assert list(sampler) == distributed_reference(9, 2, 1, order, False)
    assert list(sampler) == list(sampler)  # same epoch, same order
    sampler.set_epoch(3)
    order = ember.randperm(9, generator=seeded(7)).tolist()
    assert list(sampler) == distributed_reference(9, 2, 1, order, False)


def test_distributed_sampler_errors():
    with pytest.raises(RuntimeError, match="num_replicas=None, rank=None"):
        DistributedSampler(range(4))
    with pytest.raises(ValueError, match=r"Invalid rank 3.*\[0, 2\]"):
        DistributedSampler(range(4), num_replicas=3, rank=3)
    with pytest.raises(ValueError, match="rank -1"):
        DistributedSampler(range(4), num_replicas=3, rank=-1)
    assert DistributedSamplerFromModule is DistributedSampler
