"""ember/ops/tensor_extras.py against numpy / scipy references and PyTorch's documented results."""
import math
import warnings

import numpy as np
import pytest
from scipy import stats

import ember

RNG = np.random.default_rng(99)


def test_new_follows_self_dtype_and_device():
    x = ember.ones(2, dtype=ember.float64)
    assert x.new(3).dtype is ember.float64 and tuple(x.new(2, 3).shape) == (2, 3)
    assert tuple(x.new(ember.Size([4, 1])).shape) == (4, 1) and tuple(x.new().shape) == (0,)
    got = x.new((2, 3))  # a tuple is data, as in PyTorch
    assert got.dtype is ember.float64 and got.tolist() == [2.0, 3.0]
    assert x.new(ember.tensor([1.0, 2.0], dtype=ember.float64)).tolist() == [1.0, 2.0]
    with pytest.raises(TypeError):
        x.new(ember.tensor([1, 2]))


@pytest.mark.parametrize("size", [(1, 3), (3,), (2, 1), (1, 1), (2, 3)])
def test_sum_to_size(size):
    x = RNG.standard_normal((2, 3))
    lead = x.ndim - len(size)
    want = x.sum(axis=tuple(range(lead))) if lead else x
    want = want.sum(axis=tuple(i for i, s in enumerate(size) if s == 1), keepdims=True) if 1 in size else want
    np.testing.assert_allclose(ember.tensor(x).sum_to_size(*size).numpy(), want.reshape(size), rtol=1e-12)
    np.testing.assert_allclose(ember.tensor(x).sum_to_size(size).numpy(), want.reshape(size), rtol=1e-12)


def test_sum_to_size_error():
    with pytest.raises(RuntimeError, match=r"size \{\[2, 2\]\} is not expandable to size \{\[2, 3\]\}"):
        ember.zeros(2, 3).sum_to_size(2, 2)


@pytest.mark.parametrize("shape,wrap", [((3, 3), False), ((7, 3), True), ((7, 3), False), ((3, 5), False),
                                        ((3, 3, 3), False)])
def test_fill_diagonal_matches_numpy(shape, wrap):
    x = RNG.standard_normal(shape)
    want = x.copy()
    np.fill_diagonal(want, 5.0, wrap=wrap)
    t = ember.tensor(x)
    assert t.fill_diagonal_(5.0, wrap=wrap) is t
    np.testing.assert_array_equal(t.numpy(), want)


def test_fill_diagonal_errors():
    with pytest.raises(RuntimeError, match="dimensions must larger than 1"):
        ember.zeros(3).fill_diagonal_(1)
    with pytest.raises(RuntimeError, match="equal length"):
        ember.zeros(2, 2, 3).fill_diagonal_(1)


def _index_reduce_ref(x, dim, index, src, reduce, include_self):
    out = np.moveaxis(x.copy(), dim, 0)
    s = np.moveaxis(src, dim, 0)
    for target in set(index.tolist()):
        rows = s[index == target]
        pool = np.concatenate([out[target][None], rows]) if include_self else rows
        out[target] = {"prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}[reduce](pool, axis=0)
    return np.moveaxis(out, 0, dim)


@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_index_reduce_matches_reference(reduce, include_self):
    x, src = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 5))
    index = np.array([0, 2, 0, 1, 2])
    want = _index_reduce_ref(x, 1, index, src, reduce, include_self)
    got = ember.index_reduce(ember.tensor(x), 1, ember.tensor(index), ember.tensor(src), reduce,
                             include_self=include_self)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    t = ember.tensor(x)
    t.index_reduce_(1, ember.tensor(index), ember.tensor(src), reduce, include_self=include_self)
    np.testing.assert_allclose(t.numpy(), want, rtol=1e-12)


def test_index_reduce_rejects_sum_and_differentiates():
    with pytest.raises(RuntimeError, match="one of prod, mean, amax or amin but got sum"):
        ember.zeros(3).index_reduce(0, ember.tensor([0]), ember.ones(1), "sum")
    src = ember.tensor([2.0, 3.0, 4.0], dtype=ember.float64, requires_grad=True)
    out = ember.zeros(2, dtype=ember.float64).index_reduce(0, ember.tensor([0, 0, 1]), src, "mean")
    (out * ember.tensor([1.0, 10.0], dtype=ember.float64)).sum().backward()
    np.testing.assert_allclose(src.grad.numpy(), [1 / 3, 1 / 3, 10 / 2])  # counts include self


def test_put_and_put_():
    x = RNG.standard_normal((2, 3))
    idx, vals = np.array([0, 5, -1]), np.array([7.0, 8.0, 9.0])
    want = x.copy().reshape(-1)
    want[idx] = vals
    got = ember.put(ember.tensor(x), ember.tensor(idx), ember.tensor(vals))
    np.testing.assert_array_equal(got.numpy(), want.reshape(2, 3))
    acc = x.copy().reshape(-1)
    np.add.at(acc, [1, 1, 4], [1.0, 2.0, 3.0])
    t = ember.tensor(x)
    t.put_(ember.tensor([1, 1, 4]), ember.tensor([1.0, 2.0, 3.0], dtype=ember.float64), accumulate=True)
    np.testing.assert_allclose(t.numpy(), acc.reshape(2, 3), rtol=1e-12)


def test_apply_map_map2():
    b = ember.tensor([1.0, 2.0, 3.0])
    assert b.apply_(lambda v: v * 10) is b and b.tolist() == [10.0, 20.0, 30.0]
    b.map_(ember.tensor([1.0]), lambda p, q: p + q)
    assert b.tolist() == [11.0, 21.0, 31.0]
    c = ember.zeros(2, 2, dtype=ember.int64)
    c.map2_(ember.tensor([[1, 2], [3, 4]]), ember.tensor([10, 20]), lambda s, x, y: s + x * y)
    assert c.tolist() == [[10, 40], [30, 80]] and c.dtype is ember.int64


def test_random_fills_follow_their_distributions():
    g = ember.Generator().manual_seed(0)
    n = 4000
    cauchy = ember.empty(n, dtype=ember.float64).cauchy_(1.0, 2.0, generator=g).numpy()
    assert stats.kstest(cauchy, stats.cauchy(loc=1.0, scale=2.0).cdf).pvalue > 1e-3
    logn = ember.empty(n, dtype=ember.float64).log_normal_(0.5, 0.3, generator=g).numpy()
    assert stats.kstest(logn, stats.lognorm(s=0.3, scale=math.exp(0.5)).cdf).pvalue > 1e-3
    geo = ember.empty(n, dtype=ember.float64).geometric_(0.3, generator=g).numpy()
    assert geo.min() >= 1 and np.all(geo == np.round(geo))
    counts = np.bincount(geo.astype(int), minlength=30)[1:8]
    expected = n * stats.geom(0.3).pmf(np.arange(1, 8))
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))
    with pytest.raises(RuntimeError, match="p to be in"):
        ember.empty(3).geometric_(1.5)
    a = ember.empty(5).cauchy_(generator=ember.Generator().manual_seed(3))
    b = ember.empty(5).cauchy_(generator=ember.Generator().manual_seed(3))
    np.testing.assert_array_equal(a.numpy(), b.numpy())  # reproducible from the generator


def test_conversions_and_queries():
    x = ember.ones(3)
    assert x.cfloat().dtype is ember.complex64 and x.cdouble().dtype is ember.complex128
    assert not x.is_mps and not x.is_meta and not x.is_xpu and not x.is_quantized and not x.is_nested
    assert not x.is_mkldnn
    assert ember.zeros(2, 3).dim_order() == (0, 1) and ember.zeros(2, 3).t().dim_order() == (1, 0)
    assert ember.zeros(2, 3, 4).permute(2, 0, 1).dim_order() == (1, 2, 0)
    with pytest.raises(RuntimeError):
        ember.zeros(1, 3).dim_order(ambiguity_check=True)
    assert x.const_data_ptr() == x.data_ptr()


def test_functions():
    assert ember.fill(ember.zeros(2), 3).tolist() == [3.0, 3.0]
    s = ember.scalar_tensor(3)
    assert s.dtype is ember.float32 and s.dim() == 0 and s.item() == 3.0
    assert ember.scalar_tensor(3, dtype=ember.int64).dtype is ember.int64
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = ember.range(0, 1, 0.25)
    assert any("deprecated" in str(w.message) for w in caught)
    np.testing.assert_allclose(r.numpy(), [0.0, 0.25, 0.5, 0.75, 1.0])
    assert r.dtype is ember.float32
    assert ember.typename(3) == "int" and ember.typename(ember.nn.Linear(1, 1)) == "ember.nn.modules.linear.Linear"
    assert ember.typename(ember.zeros(1)) == ember.zeros(1).type()
    assert ember.is_vulkan_available() is False


def test_float_power_in_place_needs_double():
    x = RNG.uniform(0.5, 2.0, 4)
    t = ember.tensor(x)
    assert t.float_power_(1.5) is t
    np.testing.assert_allclose(t.numpy(), x ** 1.5, rtol=1e-14)
    with pytest.raises(RuntimeError, match="has dtype Float but the operation's result requires dtype Double"):
        ember.tensor([2.0, 3.0]).float_power_(2)


def test_type_names_the_legacy_type_as_pytorch():
    # PyTorch: torch.ones(1).type() == "torch.FloatTensor", half "torch.HalfTensor", complex128
    # "torch.ComplexDoubleTensor", another device's in its namespace ("torch.meta.FloatTensor")
    assert ember.ones(1).type() == "ember.FloatTensor"
    assert ember.ones(1, dtype=ember.float16).type() == "ember.HalfTensor"
    assert ember.ones(1, dtype=ember.complex128).type() == "ember.ComplexDoubleTensor"
    assert ember.ones(1, dtype=ember.bool).type() == "ember.BoolTensor"
    assert ember.ones(2).type(ember.ones(1, dtype=ember.int64).type()).dtype is ember.int64
