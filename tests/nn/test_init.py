"""nn.init: gains, fans, the distributions' bounds and moments, determinism, no autograd."""
import math

import numpy as np
import pytest
from scipy import stats

import ember
import ember.nn as nn
from ember.nn import init
from core_refs import host


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1
    assert init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == pytest.approx(0.75)
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", "a")


def test_fan_in_and_fan_out():
    assert init._calculate_fan_in_and_fan_out(ember.empty(5, 3)) == (3, 5)
    assert init._calculate_fan_in_and_fan_out(ember.empty(8, 4, 3, 3)) == (36, 72)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(ember.empty(5))
    with pytest.raises(ValueError, match="Mode"):
        init.kaiming_uniform_(ember.empty(2, 2), mode="fan_avg")


def _ks_pvalue(values, cdf):
    return stats.kstest(values.ravel(), cdf).pvalue


def test_uniform_and_normal(any_device):
    device = any_device
    t = ember.empty(100, 100, device=device)
    init.uniform_(t, -2.0, 3.0)
    v = host(t)
    assert v.min() >= -2.0 and v.max() <= 3.0
    assert _ks_pvalue(v, stats.uniform(-2, 5).cdf) > 1e-3
    init.normal_(t, 1.5, 0.5)
    assert _ks_pvalue(host(t), stats.norm(1.5, 0.5).cdf) > 1e-3


def _widest_float(device):
    """float64 where the device has it, else float32 (mps has no float64, as in PyTorch)."""
    from ember.dispatch.registry import REGISTRY
    supported = REGISTRY.available_backend(device).supported_dtypes()
    return ember.float64 if ember.float64 in supported else ember.float32


def test_trunc_normal(any_device):
    device = any_device
    t = ember.empty(200, 100, dtype=_widest_float(device), device=device)
    init.trunc_normal_(t, mean=0.5, std=2.0, a=-1.0, b=3.0)
    v = host(t)
    assert v.min() >= -1.0 and v.max() <= 3.0
    dist = stats.truncnorm((-1 - 0.5) / 2, (3 - 0.5) / 2, loc=0.5, scale=2.0)
    assert _ks_pvalue(v, dist.cdf) > 1e-3


@pytest.mark.parametrize("shape", [(64, 32), (16, 8, 3, 3)])
def test_xavier(shape, any_device):
    device = any_device
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(ember.empty(*shape))
    t = ember.empty(*shape, device=device)
    init.xavier_uniform_(t, gain=2.0)
    bound = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(host(t)).max() <= bound and np.abs(host(t)).max() > 0.9 * bound
    assert _ks_pvalue(host(t), stats.uniform(-bound, 2 * bound).cdf) > 1e-3
    init.xavier_normal_(t)
    assert _ks_pvalue(host(t), stats.norm(0, math.sqrt(2 / (fan_in + fan_out))).cdf) > 1e-3


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0), ("leaky_relu", 0.1), ("tanh", 0)])
def test_kaiming(mode, nonlinearity, a, any_device):
    device = any_device
    t = ember.empty(96, 48, device=device)
    fan = 48 if mode == "fan_in" else 96
    std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    init.kaiming_uniform_(t, a=a, mode=mode, nonlinearity=nonlinearity)
    bound = math.sqrt(3) * std
    assert np.abs(host(t)).max() <= bound + 1e-7
    assert _ks_pvalue(host(t), stats.uniform(-bound, 2 * bound).cdf) > 1e-3
    init.kaiming_normal_(t, a=a, mode=mode, nonlinearity=nonlinearity)
    assert _ks_pvalue(host(t), stats.norm(0, std).cdf) > 1e-3


def test_zero_element_warns():
    with pytest.warns(UserWarning, match="no-op"):
        init.kaiming_uniform_(ember.empty(0, 3))


def test_constants_eye_dirac(any_device):
    device = any_device
    t = ember.empty(3, 4, device=device)
    np.testing.assert_array_equal(host(init.constant_(t, 2.5)), 2.5)
    np.testing.assert_array_equal(host(init.ones_(t)), 1.0)
    np.testing.assert_array_equal(host(init.zeros_(t)), 0.0)
    np.testing.assert_array_equal(host(init.eye_(t)), np.eye(3, 4))
    with pytest.raises(ValueError, match="2 dimensions"):
        init.eye_(ember.empty(2, 2, 2))
    w = ember.empty(4, 2, 3, 3, device=device)
    init.dirac_(w, groups=2)
    v = host(w)
    assert v.sum() == 4
    for out in range(4):
        assert v[out, out % 2, 1, 1] == 1.0
    with pytest.raises(ValueError):
        init.dirac_(ember.empty(3, 3))


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 2, 3)])
def test_orthogonal(shape, any_device):
    device = any_device
    t = ember.empty(*shape, dtype=_widest_float(device), device=device)
    init.orthogonal_(t, gain=2.0)
    assert t.dtype is _widest_float(device) and t.device.type == device
    flat = host(t).reshape(shape[0], -1)
    rows, cols = flat.shape
    gram = flat.T @ flat if rows >= cols else flat @ flat.T
    atol = 1e-10 if t.dtype is ember.float64 else 1e-5
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(rows, cols)), atol=atol)
    with pytest.raises(ValueError):
        init.orthogonal_(ember.empty(3))


def test_sparse():
    t = ember.empty(10, 6)
    init.sparse_(t, sparsity=0.3)
    zeros_per_column = (host(t) == 0).sum(0)
    assert (zeros_per_column >= 3).all()


def test_generator_and_seed_determinism(any_device):
    device = any_device
    g1 = ember.Generator(device=device).manual_seed(7)  # a generator draws for its own device
    g2 = ember.Generator(device=device).manual_seed(7)
    a, b = ember.empty(10, 10, device=device), ember.empty(10, 10, device=device)
    init.kaiming_normal_(a, generator=g1)
    init.kaiming_normal_(b, generator=g2)
    np.testing.assert_array_equal(host(a), host(b))
    ember.manual_seed(3)
    l1 = nn.Linear(5, 5)
    ember.manual_seed(3)
    l2 = nn.Linear(5, 5)
    np.testing.assert_array_equal(host(l1.weight), host(l2.weight))


def test_init_does_not_record_autograd(any_device):
    device = any_device
    p = nn.Parameter(ember.empty(4, 4, device=device))
    for fn in (init.uniform_, init.normal_, init.xavier_uniform_, init.kaiming_uniform_, init.trunc_normal_,
               init.orthogonal_, init.zeros_, init.eye_):
        out = fn(p)
        assert out is p and p.grad_fn is None and p.is_leaf and p.requires_grad
