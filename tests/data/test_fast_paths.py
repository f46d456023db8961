"""The DataLoader's fast paths (batched gather for TensorDataset, one-copy CPU stack in
default_collate) give exactly what the per-sample path gives."""
import numpy as np
import pytest

import ember
from ember.utils.data import DataLoader, TensorDataset, default_collate


def _dataset(requires_grad=False):
    gen = np.random.default_rng(0)
    x = ember.tensor(gen.standard_normal((50, 3, 2)).astype(np.float32), requires_grad=requires_grad)
    y = ember.tensor(gen.integers(0, 10, 50))
    m = ember.tensor(gen.random(50) > 0.5)
    return TensorDataset(x, y, m)


def _batches(loader):
    ember.manual_seed(3)
    return list(loader)


def test_gather_matches_per_sample_collate():
    ds = _dataset()
    fast = _batches(DataLoader(ds, batch_size=8, shuffle=True))
    slow = _batches(DataLoader(ds, batch_size=8, shuffle=True, collate_fn=lambda b: default_collate(b)))
    assert len(fast) == len(slow) == 7
    for f, s in zip(fast, slow):
        assert isinstance(f, list) and len(f) == 3
        for a, b in zip(f, s):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_gather_keeps_autograd_history():
    ds = _dataset(requires_grad=True)
    (x, _, _), = [next(iter(DataLoader(ds, batch_size=4)))]
    x.sum().backward()
    grad = ds.tensors[0].grad.numpy()
    np.testing.assert_array_equal(grad[:4], 1)
    np.testing.assert_array_equal(grad[4:], 0)


def test_getitems_is_a_list_of_samples():
    ds = _dataset()
    items = ds.__getitems__([4, 1])
    assert isinstance(items, list) and len(items) == 2
    for got, i in zip(items, [4, 1]):
        assert isinstance(got, tuple)
        for a, b in zip(got, ds[i]):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_subclass_getitem_is_respected():
    class Doubled(TensorDataset):
        def __getitem__(self, index):
            return tuple(t[index] * 2 for t in self.tensors)

    ds = Doubled(ember.arange(6.0))
    (batch,) = next(iter(DataLoader(ds, batch_size=3)))
    np.testing.assert_array_equal(batch.numpy(), [0.0, 2.0, 4.0])


def test_out_of_range_index_raises_index_error():
    ds = TensorDataset(ember.arange(4.0))
    with pytest.raises(IndexError):
        next(iter(DataLoader(ds, batch_size=2, sampler=[[0, 7]][0])))


@pytest.mark.parametrize("dtype", [ember.float32, ember.int64, ember.bool, ember.bfloat16])
def test_cpu_stack_matches_stack(dtype):
    rows = [ember.arange(i, i + 6).reshape(2, 3).to(dtype) for i in range(5)]
    got = default_collate(rows)
    want = ember.stack(rows)
    assert got.dtype == want.dtype == dtype and got.shape == (5, 2, 3)
    np.testing.assert_array_equal(got.float().numpy(), want.float().numpy())
    rows[0].add_(1) if dtype != ember.bool else rows[0].logical_not_()
    assert not ember.equal(got[0], rows[0])  # a copy, not a view of the samples


def test_stack_mismatch_still_raises():
    with pytest.raises(RuntimeError):
        default_collate([ember.zeros(2), ember.zeros(3)])


def test_stack_of_grad_tensors_records_history():
    rows = [ember.ones(2, requires_grad=True) for _ in range(3)]
    out = default_collate(rows)
    assert out.requires_grad
    out.sum().backward()
    np.testing.assert_array_equal(rows[1].grad.numpy(), [1.0, 1.0])


def test_non_int_indices_take_the_per_sample_path():
    ds = TensorDataset(ember.arange(6.0) * 10)
    (batch,) = next(iter(DataLoader(ds, batch_sampler=[[np.int64(4), ember.tensor(1)]])))
    np.testing.assert_array_equal(batch.numpy(), [40.0, 10.0])
