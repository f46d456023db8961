"""Normalization layers (functional and modules) against float64 numpy references, on every device."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F

from layer_refs import RNG, assert_close, check_layer, float_dtype, host, need, tensor

DTYPES = [ember.float32, ember.float64]


def _bn_ref(x, w, b, eps=1e-5):
    dims = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = x.mean(dims, keepdims=True)
    var = ((x - mean) ** 2).mean(dims, keepdims=True)
    out = (x - mean) / np.sqrt(var + eps)
    return out * w.reshape(shape) + b.reshape(shape)


def _unbiased_var(x):
    dims = (0,) + tuple(range(2, x.ndim))
    n = x.size // x.shape[1]
    return x.var(dims) * n / (n - 1)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (4, 3, 3, 2)])
def test_batch_norm_training(any_device, dtype, shape):
    device = any_device
    need(device, dtype)
    rng = RNG(0)
    x, w, b = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(3), rng.standard_normal(3)
    running_mean = ember.zeros(3, dtype=dtype, device=device)
    running_var = ember.ones(3, dtype=dtype, device=device)
    check_layer(lambda x, w, b: F.batch_norm(x, running_mean, running_var, w, b, training=True, momentum=0.3),
                _bn_ref, [x, w, b], device, dtype)
    # one update happened (check_layer ran the forward once); the variance is the unbiased one
    dims = (0,) + tuple(range(2, x.ndim))
    rtol = 1e-9 if dtype is ember.float64 else 1e-5
    assert_close(running_mean, 0.3 * x.mean(dims), rtol, rtol)
    assert_close(running_var, 0.7 + 0.3 * _unbiased_var(x), rtol, rtol)
    assert running_mean.grad_fn is None and not running_mean.requires_grad


def test_batch_norm_eval_uses_running_stats(any_device):
    device = any_device
    rng = RNG(1)
    x, w, b = rng.standard_normal((4, 3, 5)), rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = rng.standard_normal(3), rng.random(3) + 0.5
    running_mean, running_var = tensor(rm, device, grad=False), tensor(rv, device, grad=False)

    def ref(x, w, b):
        s = (1, 3, 1)
        return (x - rm.reshape(s)) / np.sqrt(rv.reshape(s) + 1e-5) * w.reshape(s) + b.reshape(s)
    check_layer(lambda x, w, b: F.batch_norm(x, running_mean, running_var, w, b, training=False), ref, [x, w, b],
                device)
    assert_close(running_mean, rm, 0, 0)  # eval does not update


def test_batch_norm_errors(any_device):
    device = any_device
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, got input size "
                                         r"\[1, 3\]"):
        F.batch_norm(ember.randn(1, 3, device=device), None, None, training=True)
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 4"):
        F.batch_norm(ember.randn(2, 3, device=device), ember.zeros(4, device=device), ember.ones(4, device=device))


def test_batchnorm_module_running_stats_and_modes(any_device):
    device = any_device
    rng = RNG(2)
    m = nn.BatchNorm2d(3, momentum=0.2).to(device).to(float_dtype(device))
    assert [n for n, _ in m.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    assert list(m.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert m.num_batches_tracked.dtype is ember.int64
    mean, var = np.zeros(3), np.ones(3)
    batches = [rng.standard_normal((4, 3, 2, 3)) * 3 - 1 for _ in range(3)]
    for x in batches:
        out = m(tensor(x, device))
        assert_close(out, _bn_ref(x, np.ones(3), np.zeros(3)), 1e-9, 1e-9)
        mean = 0.8 * mean + 0.2 * x.mean((0, 2, 3))
        var = 0.8 * var + 0.2 * _unbiased_var(x)
    assert int(m.num_batches_tracked.item()) == 3
    assert_close(m.running_mean, mean, 1e-9, 1e-12)
    assert_close(m.running_var, var, 1e-9, 1e-12)
    m.eval()
    x = batches[0]
    out = m(tensor(x, device))
    s = (1, 3, 1, 1)
    assert_close(out, (x - mean.reshape(s)) / np.sqrt(var.reshape(s) + 1e-5), 1e-9, 1e-9)
    assert int(m.num_batches_tracked.item()) == 3


def test_batchnorm_momentum_none_is_cumulative_average(any_device):
    device = any_device
    rng = RNG(3)
    m = nn.BatchNorm1d(2, momentum=None).to(device).to(float_dtype(device))
    batches = [rng.standard_normal((5, 2)) + i for i in range(4)]
    for x in batches:
        m(tensor(x, device))
    assert_close(m.running_mean, np.mean([x.mean(0) for x in batches], axis=0), 1e-9, 1e-12)
    assert_close(m.running_var, np.mean([x.var(0, ddof=1) for x in batches], axis=0), 1e-9, 1e-12)


def test_batchnorm_module_options(any_device):
    device = any_device
    x = RNG(4).standard_normal((4, 3, 5))
    m = nn.BatchNorm1d(3, affine=False, track_running_stats=False).to(device).to(float_dtype(device))
    assert list(m.parameters()) == [] and m.running_mean is None and list(m.state_dict()) == []
    m.eval()  # no running stats: batch statistics even in eval mode
    assert_close(m(tensor(x, device)), _bn_ref(x, np.ones(3), np.zeros(3)), 1e-9, 1e-9)
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        m(ember.randn(2, 3, 4, 5, device=device))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(ember.randn(2, 3, 4))
    sd = nn.BatchNorm2d(3).state_dict()
    del sd["num_batches_tracked"]
    sd._metadata[""] = {"version": 1}  # an old checkpoint: loads, with the counter at zero
    nn.BatchNorm2d(3).load_state_dict(sd)


def test_batchnorm_gradients_through_module(any_device):
    device = any_device
    rng = RNG(5)
    x, w, b = rng.standard_normal((4, 3, 2, 2)), rng.standard_normal(3), rng.standard_normal(3)
    m = nn.BatchNorm2d(3).to(device).to(float_dtype(device))
    with ember.no_grad():
        m.weight.copy_(tensor(w, device, grad=False))
        m.bias.copy_(tensor(b, device, grad=False))
    check_layer(lambda x: m(x), lambda x: _bn_ref(x, w, b), [x], device)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_layer_norm(any_device, dtype):
    device = any_device
    rng = RNG(6)
    x, w, b = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((4, 5)), rng.standard_normal((4, 5))

    def ref(x, w, b, eps=1e-3):
        mu = x.mean((-2, -1), keepdims=True)
        var = ((x - mu) ** 2).mean((-2, -1), keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w + b
    check_layer(lambda x, w, b: F.layer_norm(x, (4, 5), w, b, 1e-3), ref, [x, w, b], device, dtype)
    check_layer(lambda x: F.layer_norm(x, [5]),
                lambda x: (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5), [x], device,
                dtype)


def test_layer_norm_module_and_errors(any_device):
    device = any_device
    m = nn.LayerNorm(5, bias=False).to(device)
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    assert np.all(host(m.weight) == 1)
    assert repr(nn.LayerNorm([4, 5])) == "LayerNorm((4, 5), eps=1e-05, elementwise_affine=True)"
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\], expected input with shape \[\*, 4\], "
                                           r"but got input of size\[2, 3, 5\]"):
        F.layer_norm(ember.randn(2, 3, 5, device=device), [4])


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_group_norm(any_device, dtype):
    device = any_device
    rng = RNG(7)
    x, w, b = rng.standard_normal((2, 6, 4, 3)), rng.standard_normal(6), rng.standard_normal(6)

    def ref(x, w, b):
        g = x.reshape(2, 3, -1)
        out = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)).reshape(x.shape)
        return out * w.reshape(1, 6, 1, 1) + b.reshape(1, 6, 1, 1)
    check_layer(lambda x, w, b: F.group_norm(x, 3, w, b), ref, [x, w, b], device, dtype)
    m = nn.GroupNorm(3, 6).to(device).to(dtype)
    assert_close(m(tensor(x, device, dtype)), ref(x, np.ones(6), np.zeros(6)), 1e-4, 1e-4)
    with pytest.raises(RuntimeError, match="Expected number of channels in input to be divisible by num_groups, "
                                           r"but got input of shape \[2, 6, 4, 3\] and num_groups=4"):
        F.group_norm(tensor(x, device, dtype), 4)


def test_rms_norm(any_device):
    device = any_device
    rng = RNG(8)
    x, w = rng.standard_normal((2, 3, 5)), rng.standard_normal(5)
    check_layer(lambda x, w: F.rms_norm(x, [5], w, eps=1e-6),
                lambda x, w: x / np.sqrt((x ** 2).mean(-1, keepdims=True) + 1e-6) * w, [x, w], device)
    eps64 = np.finfo(np.float64).eps
    check_layer(lambda x: F.rms_norm(x, (3, 5)),
                lambda x: x / np.sqrt((x ** 2).mean((-2, -1), keepdims=True) + eps64), [x], device)
    m = nn.RMSNorm(5, eps=1e-6).to(device).to(float_dtype(device))
    assert_close(m(tensor(x, device)), x / np.sqrt((x ** 2).mean(-1, keepdims=True) + 1e-6), 1e-9, 1e-9)


def test_instance_norm(any_device):
    device = any_device
    rng = RNG(9)
    x, w, b = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal(3), rng.standard_normal(3)

    def ref(x, w, b):
        mu = x.mean((2, 3), keepdims=True)
        out = (x - mu) / np.sqrt(x.var((2, 3), keepdims=True) + 1e-5)
        return out * w.reshape(1, 3, 1, 1) + b.reshape(1, 3, 1, 1)
    check_layer(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), ref, [x, w, b], device)
    m = nn.InstanceNorm2d(3, track_running_stats=True, momentum=0.5).to(device).to(float_dtype(device))
    assert_close(m(tensor(x, device)), ref(x, np.ones(3), np.zeros(3)), 1e-9, 1e-9)
    assert_close(m.running_mean, 0.5 * x.mean((2, 3)).mean(0), 1e-9, 1e-12)
    assert_close(m.running_var, 0.5 + 0.5 * x.var((2, 3), ddof=1).mean(0), 1e-9, 1e-12)
    m.eval()
    rm, rv = host(m.running_mean).reshape(1, 3, 1, 1), host(m.running_var).reshape(1, 3, 1, 1)
    assert_close(m(tensor(x, device)), (x - rm) / np.sqrt(rv + 1e-5), 1e-9, 1e-9)


def test_local_response_norm(any_device):
    device = any_device
    x = RNG(10).standard_normal((2, 7, 4, 3))

    def ref(x, size=4, alpha=0.01, beta=0.6, k=1.5):
        sq = x ** 2
        c = x.shape[1]
        div = np.zeros_like(x)
        for i in range(c):
            lo, hi = max(0, i - size // 2), min(c, i + (size - 1) // 2 + 1)
            div[:, i] = sq[:, lo:hi].sum(1)
        return x / (k + alpha / size * div) ** beta
    check_layer(lambda x: F.local_response_norm(x, 4, 0.01, 0.6, 1.5), ref, [x], device)
    assert_close(nn.LocalResponseNorm(4, 0.01, 0.6, 1.5)(tensor(x, device)), ref(x), 1e-9, 1e-9)


@pytest.mark.parametrize("dtype", [ember.float16, ember.bfloat16], ids=str)
def test_half_precision_inputs_are_normalized_in_float32(any_device, dtype):
    device = any_device
    x = RNG(11).standard_normal((4, 3, 16)) * 3 + 50  # a large mean: fatal to half-precision statistics
    t = ember.tensor(x, dtype=dtype, device=device)
    xr = host(t)  # the values the half-precision tensor really holds
    tol = 2e-2 if dtype is ember.float16 else 5e-2
    out = F.layer_norm(t, (16,))
    assert out.dtype is dtype
    assert_close(out, (xr - xr.mean(-1, keepdims=True)) / np.sqrt(xr.var(-1, keepdims=True) + 1e-5), tol, tol)
    assert_close(F.batch_norm(t, None, None, training=True), _bn_ref(xr, np.ones(3), np.zeros(3)), tol, tol)
    g = xr.reshape(4, 1, -1)
    assert_close(F.group_norm(t, 1), ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5))
                 .reshape(x.shape), tol, tol)
