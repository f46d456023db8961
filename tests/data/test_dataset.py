"""Datasets: TensorDataset, StackDataset, ConcatDataset, ChainDataset, Subset, random_split."""
import warnings

import numpy as np
import pytest

import ember
from ember.utils.data import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset,
                              TensorDataset, random_split)


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i * i


class Count(IterableDataset):
    def __init__(self, start, stop):
        self.start, self.stop = start, stop

    def __iter__(self):
        return iter(range(self.start, self.stop))

    def __len__(self):
        return self.stop - self.start


def test_base_classes_raise_not_implemented_naming_the_class():
    class NoItems(Dataset):
        pass

    class NoIter(IterableDataset):
        pass

    with pytest.raises(NotImplementedError, match="NoItems"):
        NoItems()[0]
    with pytest.raises(NotImplementedError, match="NoIter"):
        iter(NoIter())


def test_tensor_dataset_indexes_every_tensor_along_dim_0():
    x = ember.randn(5, 3)
    y = ember.arange(5)
    ds = TensorDataset(x, y)
    assert len(ds) == 5
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi.numpy(), x.numpy()[3])
    assert yi.item() == 3


def test_tensor_dataset_size_mismatch_names_the_sizes():
    with pytest.raises(AssertionError, match=r"Size mismatch.*\[4, 5\]"):
        TensorDataset(ember.zeros(4, 2), ember.zeros(5))


def test_stack_dataset_tuples_dicts_and_getitems():
    a, b = Squares(4), TensorDataset(ember.arange(4) * 10)
    assert StackDataset(a, b)[2][0] == 4
    assert StackDataset(a, b)[2][1][0].item() == 20
    named = StackDataset(sq=a, ten=b)
    assert named[3]["sq"] == 9 and named[3]["ten"][0].item() == 30
    assert named.__getitems__([0, 2]) == [{"sq": 0, "ten": b[0]}, {"sq": 4, "ten": b[2]}]
    assert StackDataset(a, a).__getitems__([1, 3]) == [(1, 1), (9, 9)]
    assert len(named) == 4


def test_stack_dataset_errors():
    with pytest.raises(ValueError, match=r"\[4, 3\]"):
        StackDataset(Squares(4), Squares(3))
    with pytest.raises(ValueError, match="not both"):
        StackDataset(Squares(4), b=Squares(4))
    with pytest.raises(ValueError, match="at least one"):
        StackDataset()


def test_concat_dataset_walks_datasets_in_order():
    ds = ConcatDataset([Squares(3), Squares(2), Squares(4)])
    assert len(ds) == 9 and ds.cumulative_sizes == [3, 5, 9]
    reference = [i * i for i in range(3)] + [i * i for i in range(2)] + [i * i for i in range(4)]
    assert [ds[i] for i in range(9)] == reference
    assert [ds[-i] for i in range(1, 10)] == reference[::-1]
    with pytest.raises(ValueError, match="-10"):
        ds[-10]
    with pytest.raises(IndexError, match="9"):
        ds[9]
    assert (Squares(2) + Squares(3))[4] == 4  # Dataset.__add__


def test_concat_dataset_rejects_empty_and_iterable():
    with pytest.raises(AssertionError, match="at least one"):
        ConcatDataset([])
    with pytest.raises(AssertionError, match="Count"):
        ConcatDataset([Squares(2), Count(0, 2)])


def test_chain_dataset_and_iterable_add():
    chained = ChainDataset([Count(0, 3), Count(10, 12)])
    assert list(chained) == [0, 1, 2, 10, 11] and len(chained) == 5
    assert list(Count(0, 2) + Count(5, 6)) == [0, 1, 5]
    with pytest.raises(AssertionError, match="Squares"):
        list(ChainDataset([Squares(2)]))


def test_subset_maps_indices_and_getitems():
    sub = Subset(Squares(10), [7, 2, 5])
    assert len(sub) == 3
    assert [sub[i] for i in range(3)] == [49, 4, 25]
    assert sub.__getitems__([2, 0]) == [25, 49]
    nested = Subset(StackDataset(Squares(10), Squares(10)), [9, 1])
    assert nested.__getitems__([1, 0]) == [(1, 1), (81, 81)]


def test_random_split_by_lengths_is_a_partition_and_reproducible():
    parts = random_split(Squares(10), [3, 7], generator=ember.Generator().manual_seed(5))
    assert [len(p) for p in parts] == [3, 7]
    indices = parts[0].indices + parts[1].indices
    assert sorted(indices) == list(range(10))
    again = random_split(Squares(10), [3, 7], generator=ember.Generator().manual_seed(5))
    assert again[0].indices == parts[0].indices
    other = random_split(Squares(10), [3, 7], generator=ember.Generator().manual_seed(6))
    assert other[0].indices + other[1].indices != indices
    # the permutation is ember.randperm's under the same generator
    assert indices == ember.randperm(10, generator=ember.Generator().manual_seed(5)).tolist()


def test_random_split_default_generator_follows_manual_seed():
    ember.manual_seed(11)
    first = random_split(Squares(8), [4, 4])
    ember.manual_seed(11)
    second = random_split(Squares(8), [4, 4])
    assert first[0].indices == second[0].indices


def test_random_split_fractions_distribute_the_remainder_round_robin():
    # 11 * [0.3, 0.3, 0.4] floors to [3, 3, 4]; the remaining 1 goes to the first split
    parts = random_split(Squares(11), [0.3, 0.3, 0.4], generator=ember.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [4, 3, 4]
    # 10 * [0.25]*4 floors to [2, 2, 2, 2]; the remaining 2 go to the first two splits
    parts = random_split(Squares(10), [0.25] * 4, generator=ember.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [3, 3, 2, 2]


def test_random_split_errors_and_empty_split_warning():
    with pytest.raises(ValueError, match=r"sum to 9.*10 samples"):
        random_split(Squares(10), [4, 5])
    with pytest.raises(ValueError, match="index 1"):
        random_split(Squares(10), [0.5, 1.5, -1.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parts = random_split(Squares(2), [0.5, 0.5, 0.0])
    assert [len(p) for p in parts] == [1, 1, 0]
    assert any("index 2" in str(w.message) for w in caught)
