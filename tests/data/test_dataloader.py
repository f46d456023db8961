"""DataLoader in the main process (num_workers=0): options, batch contents, errors."""
import warnings

import numpy as np
import pytest

import ember
from ember.utils.data import (BatchSampler, DataLoader, Dataset, IterableDataset, SequentialSampler,
                              SubsetRandomSampler, TensorDataset, default_collate)


class Records(Dataset):
    """Sample i: a dict with a tensor, a Python int, a float and a string."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": ember.full((2,), float(i)), "index": i, "half": i / 2, "name": f"r{i}"}


class Stream(IterableDataset):
    def __init__(self, n, reported=None):
        self.n = n
        self.reported = n if reported is None else reported

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.reported


def reference_batches(n, batch_size, drop_last, order=None):
    """What batching Records(n) must give, built with plain Python and numpy."""
    order = list(range(n)) if order is None else order
    out = []
    for start in range(0, n, batch_size):
        chunk = order[start:start + batch_size]
        if drop_last and len(chunk) < batch_size:
            break
        out.append({"x": np.array([[float(i)] * 2 for i in chunk], dtype=np.float32), "index": chunk,
                    "half": [i / 2 for i in chunk], "name": [f"r{i}" for i in chunk]})
    return out


def assert_batches_equal(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g["x"].numpy(), e["x"])
        assert g["x"].dtype is ember.float32
        assert g["index"].dtype is ember.int64 and g["index"].tolist() == e["index"]
        assert g["half"].dtype is ember.float64 and g["half"].tolist() == e["half"]
        assert g["name"] == e["name"]


@pytest.mark.parametrize("drop_last", [False, True])
def test_sequential_batches_match_the_reference(drop_last):
    loader = DataLoader(Records(10), batch_size=4, drop_last=drop_last)
    assert_batches_equal(list(loader), reference_batches(10, 4, drop_last))
    assert len(loader) == (2 if drop_last else 3)


def test_shuffle_with_generator_is_the_sampler_order_and_reproducible():
    def run(seed):
        loader = DataLoader(Records(9), batch_size=4, shuffle=True, generator=ember.Generator().manual_seed(seed))
        return [b["index"].tolist() for b in loader]

    first = run(5)
    flat = [i for b in first for i in b]
    assert sorted(flat) == list(range(9)) and flat != list(range(9))
    assert run(5) == first and run(6) != first
    loader = DataLoader(Records(9), batch_size=4, shuffle=True, generator=ember.Generator().manual_seed(5))
    assert_batches_equal(list(loader), reference_batches(9, 4, False, order=flat))


def test_shuffle_follows_manual_seed_and_changes_between_epochs():
    loader = DataLoader(Records(12), batch_size=12, shuffle=True)
    ember.manual_seed(1)
    epoch1, epoch2 = (next(iter(loader))["index"].tolist() for _ in range(2))
    ember.manual_seed(1)
    assert next(iter(loader))["index"].tolist() == epoch1
    assert epoch1 != epoch2


def test_batch_size_none_converts_single_samples():
    loader = DataLoader(TensorDataset(ember.arange(3)), batch_size=None)
    items = list(loader)
    assert len(loader) == 3 and [x[0].item() for x in items] == [0, 1, 2]
    assert isinstance(items[0], list)  # default_convert turns tuples into lists
    numpy_items = list(DataLoader([np.float64(0.5), np.float64(1.5)], batch_size=None))
    assert all(isinstance(x, ember.Tensor) and x.dtype is ember.float64 for x in numpy_items)


def test_sampler_and_batch_sampler_options():
    loader = DataLoader(Records(6), batch_size=2, sampler=[5, 3, 1, 0])
    assert [b["index"].tolist() for b in loader] == [[5, 3], [1, 0]]
    loader = DataLoader(Records(6), batch_sampler=[[4], [0, 1, 2]])
    assert [b["index"].tolist() for b in loader] == [[4], [0, 1, 2]] and len(loader) == 2
    loader = DataLoader(Records(6), batch_sampler=BatchSampler(SequentialSampler(range(6)), 4, True))
    assert [b["index"].tolist() for b in loader] == [[0, 1, 2, 3]]
    sub = DataLoader(Records(10), batch_size=3, sampler=SubsetRandomSampler([1, 3, 5, 7]))
    assert sorted(i for b in sub for i in b["index"].tolist()) == [1, 3, 5, 7]


def test_custom_collate_fn():
    loader = DataLoader(range(5), batch_size=2, collate_fn=lambda batch: sum(batch))
    assert list(loader) == [1, 5, 4]


def test_getitems_is_used_for_whole_batches():
    class Batched(Dataset):
        def __init__(self):
            self.calls = []

        def __len__(self):
            return 5

        def __getitem__(self, i):
            raise AssertionError("__getitems__ should be used")

        def __getitems__(self, indices):
            self.calls.append(list(indices))
            return [i * 10 for i in indices]

    ds = Batched()
    assert [b.tolist() for b in DataLoader(ds, batch_size=2)] == [[0, 10], [20, 30], [40]]
    assert ds.calls == [[0, 1], [2, 3], [4]]


def test_iterable_dataset_batches_drop_last_and_len():
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    assert list(DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]  # ints stay ints
    assert len(DataLoader(Stream(7), batch_size=3)) == 3
    assert len(DataLoader(Stream(7), batch_size=3, drop_last=True)) == 2


def test_iterable_dataset_longer_than_its_len_warns_once():
    loader = DataLoader(Stream(5, reported=3), batch_size=None)
    assert len(loader) == 3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert len(list(loader)) == 5
    messages = [str(w.message) for w in caught if "IterableDataset" in str(w.message)]
    assert len(messages) == 1 and "length 3" in messages[0]


def test_pin_memory_is_accepted():
    loader = DataLoader(Records(3), batch_size=2, pin_memory=True, pin_memory_device="cpu")
    assert_batches_equal(list(loader), reference_batches(3, 2, False))


def test_default_collate_is_reexported_and_used():
    loader = DataLoader(Records(2), batch_size=2)
    assert loader.collate_fn is default_collate


@pytest.mark.parametrize("kwargs,match", [
    (dict(num_workers=-1), "num_workers=-1"),
    (dict(timeout=-2), "timeout=-2"),
    (dict(prefetch_factor=2), "prefetch_factor=2"),
    (dict(persistent_workers=True), "persistent_workers"),
    (dict(shuffle=True, sampler=[0, 1]), "mutually exclusive"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_size=2"),
    (dict(batch_sampler=[[0]], drop_last=True), "drop_last=True"),
    (dict(batch_size=None, drop_last=True), "drop_last"),
    (dict(multiprocessing_context="fork"), "num_workers=0"),
    (dict(num_workers=1, multiprocessing_context="no-such-method"), "no-such-method"),
    (dict(batch_size=0), "batch_size=0"),
])
def test_argument_errors_name_the_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(Records(4), **kwargs)


def test_bad_context_type_is_a_type_error():
    with pytest.raises(TypeError, match="int"):
        DataLoader(Records(4), num_workers=1, multiprocessing_context=3)


@pytest.mark.parametrize("kwargs,name", [(dict(shuffle=True), "shuffle"), (dict(sampler=[0]), "sampler"),
                                         (dict(batch_sampler=[[0]]), "batch_sampler")])
def test_iterable_dataset_rejects_order_options(kwargs, name):
    with pytest.raises(ValueError, match=f"{name}="):
        DataLoader(Stream(3), **kwargs)


def test_frozen_attributes_after_init():
    loader = DataLoader(Records(4), batch_size=2)
    for name in ("batch_size", "sampler", "batch_sampler", "drop_last", "dataset", "persistent_workers"):
        with pytest.raises(ValueError, match=name):
            setattr(loader, name, None)
    loader.num_workers = 0  # other attributes may change


def test_importable_as_torch_utils_data():
    import ember as torch
    assert torch.utils.data.DataLoader is DataLoader
    from ember.utils.data.dataloader import default_collate as from_module
    assert from_module is default_collate
