"""nn.utils.parametrize, nn.utils.parametrizations (weight_norm, spectral_norm, orthogonal), the hook-based
weight_norm / spectral_norm, functional_call / stack_module_state and conv/linear + batch-norm fusion.

References are float64 numpy: norms, SVDs, orthogonality, and central differences of numpy
re-implementations for gradients."""
import copy
import pickle

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.func import functional_call, stack_module_state
from ember.nn.utils import parametrize as P
from ember.nn.utils import parametrizations as PZ
from core_refs import host, widest_float


def _tol(dtype):
    return 1e-10 if dtype == ember.float64 else 2e-5


class Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).mT


class Double(nn.Module):
    def forward(self, x):
        return 2 * x

    def right_inverse(self, x):
        return x / 2


class Split(nn.Module):
    def forward(self, a, b):
        return a + b

    def right_inverse(self, w):
        return w / 2, w / 2


# ---------------------------------------------------------------- parametrize
def test_register_and_remove(any_device):
    dtype = widest_float(any_device)
    m = nn.Linear(4, 4).to(device=any_device, dtype=dtype)
    w0 = host(m.weight)
    P.register_parametrization(m, "weight", Symmetric())
    assert type(m).__name__ == "ParametrizedLinear" and P.type_before_parametrizations(m) is nn.Linear
    assert isinstance(m, nn.Linear)
    assert P.is_parametrized(m) and P.is_parametrized(m, "weight") and not P.is_parametrized(m, "bias")
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original"]
    assert [n for n, _ in m.named_parameters()] == ["bias", "parametrizations.weight.original"]
    np.testing.assert_allclose(host(m.weight), np.triu(w0) + np.triu(w0, 1).T, rtol=_tol(dtype))
    # gradient reaches the original through the parametrization
    x = ember.randn(3, 4, dtype=dtype, device=any_device)
    m(x).sum().backward()
    g = host(m.parametrizations.weight.original.grad)
    s = np.ones((4, 4)) * host(x).sum(0)[None, :] * 1.0
    np.testing.assert_allclose(g, np.triu(s) + np.triu(s.T, 1), rtol=1e-5)
    with pytest.raises(RuntimeError, match="does not implement right_inverse"):
        m.weight = ember.zeros(4, 4, dtype=dtype, device=any_device)
    with pytest.raises(ValueError, match="does not have a parametrization on bias"):
        P.remove_parametrizations(m, "bias")
    with pytest.raises(RuntimeError, match="only supported through state_dict"):
        pickle.dumps(m)
    clone = copy.deepcopy(m)
    np.testing.assert_allclose(host(clone.weight), host(m.weight))
    param = m.parametrizations.weight.original
    P.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear and [n for n, _ in m.named_parameters()] == ["bias", "weight"]
    assert m.weight is param   # the same Parameter object, now holding the parametrized value
    np.testing.assert_allclose(host(m.weight), np.triu(w0) + np.triu(w0, 1).T, rtol=_tol(dtype))


def test_right_inverse_chain_and_leave_parametrized():
    m = nn.Linear(3, 3, dtype=ember.float64)
    w0 = host(m.weight)
    P.register_parametrization(m, "weight", Double())
    np.testing.assert_allclose(host(m.weight), w0)
    np.testing.assert_allclose(host(m.parametrizations.weight.original), w0 / 2)
    P.register_parametrization(m, "weight", Double())   # appends; the stored tensor is unchanged
    assert len(m.parametrizations.weight) == 2
    np.testing.assert_allclose(host(m.weight), 2 * w0)
    new = np.arange(9.0).reshape(3, 3)
    m.weight = ember.tensor(new, dtype=ember.float64)    # runs both right_inverses
    np.testing.assert_allclose(host(m.parametrizations.weight.original), new / 4)
    np.testing.assert_allclose(host(m.weight), new)
    P.remove_parametrizations(m, "weight", leave_parametrized=False)
    np.testing.assert_allclose(host(m.weight), new / 4)


def test_multi_tensor_original_and_errors():
    m = nn.Linear(3, 3, dtype=ember.float64)
    w0 = host(m.weight)
    P.register_parametrization(m, "weight", Split())
    assert [n for n, _ in m.named_parameters()] == ["bias", "parametrizations.weight.original0",
                                                     "parametrizations.weight.original1"]
    np.testing.assert_allclose(host(m.parametrizations.weight.original1), w0 / 2)
    np.testing.assert_allclose(host(m.weight), w0)
    with pytest.raises(ValueError, match="Cannot leave unparametrized"):
        P.remove_parametrizations(m, "weight", leave_parametrized=False)
    P.remove_parametrizations(m, "weight")
    assert isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(host(m.weight), w0)

    class Shrink(nn.Module):
        def forward(self, x):
            return x[:2]

    class ToDouble(nn.Module):
        def forward(self, x):
            return x.double()

    with pytest.raises(ValueError, match="may not change the shape"):
        P.register_parametrization(nn.Linear(3, 4), "weight", Shrink())
    with pytest.raises(ValueError, match="may not change the dtype"):
        P.register_parametrization(nn.Linear(3, 4), "weight", ToDouble())
    P.register_parametrization(nn.Linear(3, 4), "weight", Shrink(), unsafe=True)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
        P.register_parametrization(nn.Linear(3, 4), "foo", Double())


def test_cached():
    calls = []

    class Counting(nn.Module):
        def forward(self, x):
            calls.append(1)
            return x * 1

    m = nn.Linear(2, 2)
    P.register_parametrization(m, "weight", Counting())
    calls.clear()
    with P.cached():
        a, b = m.weight, m.weight
        assert a is b
    assert len(calls) == 1
    m.weight, m.weight
    assert len(calls) == 3


# ---------------------------------------------------------------- parametrizations
def _np_weight_norm(g, v, dim):
    if dim is None:
        return v * (g / np.sqrt((v ** 2).sum()))
    axes = tuple(d for d in range(v.ndim) if d != dim)
    return v * (g / np.sqrt((v ** 2).sum(axis=axes, keepdims=True)))


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_parametrization(any_device, dim):
    dtype = widest_float(any_device)
    conv = nn.Conv2d(2, 3, 3).to(device=any_device, dtype=dtype)
    w0 = host(conv.weight)
    PZ.weight_norm(conv, dim=dim)
    g = conv.parametrizations.weight.original0
    v = conv.parametrizations.weight.original1
    axes = tuple(d for d in range(4) if d != dim) if dim is not None else None
    ref_g = np.sqrt((w0 ** 2).sum(axis=axes, keepdims=dim is not None))
    np.testing.assert_allclose(host(g), ref_g, rtol=_tol(dtype))
    np.testing.assert_allclose(host(conv.weight), w0, rtol=1e-5, atol=1e-6)
    # gradient of sum(weight * u) w.r.t. g and v against central differences
    rng = np.random.default_rng(0)
    u = rng.standard_normal(w0.shape)
    (conv.weight * ember.tensor(u, dtype=dtype, device=any_device)).sum().backward()
    g_np, v_np = host(g), host(v)
    eps = 1e-6
    num_g = np.zeros_like(g_np)
    for idx in np.ndindex(*g_np.shape):
        d = np.zeros_like(g_np)
        d[idx] = eps
        diff = _np_weight_norm(g_np + d, v_np, dim) - _np_weight_norm(g_np - d, v_np, dim)
        num_g[idx] = (diff * u).sum() / (2 * eps)
    np.testing.assert_allclose(host(g.grad), num_g, rtol=1e-4, atol=1e-5)
    idx = (1, 0, 2, 1)
    d = np.zeros_like(v_np)
    d[idx] = eps
    num_v = ((_np_weight_norm(g_np, v_np + d, dim) - _np_weight_norm(g_np, v_np - d, dim)) * u).sum() / (2 * eps)
    np.testing.assert_allclose(host(v.grad)[idx], num_v, rtol=1e-4, atol=1e-5)


def test_spectral_norm_parametrization(any_device):
    dtype = widest_float(any_device)
    lin = nn.Linear(4, 6).to(device=any_device, dtype=dtype)
    w0 = host(lin.weight)
    PZ.spectral_norm(lin, n_power_iterations=3)
    assert [n for n, _ in lin.named_buffers()] == ["parametrizations.weight.0._u", "parametrizations.weight.0._v"]
    for _ in range(30):
        lin.weight
    u, s, vt = np.linalg.svd(w0)
    np.testing.assert_allclose(host(lin.weight), w0 / s[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.abs(host(lin.parametrizations.weight[0]._u)), np.abs(u[:, 0]), atol=1e-4)
    # eval mode: the vectors stay as they are
    lin.eval()
    before = host(lin.parametrizations.weight[0]._u)
    lin.parametrizations.weight.original.data = ember.randn(6, 4, dtype=dtype, device=any_device)
    lin.weight
    np.testing.assert_array_equal(host(lin.parametrizations.weight[0]._u), before)
    lin.train()
    lin.weight
    assert not np.array_equal(host(lin.parametrizations.weight[0]._u), before)
    with pytest.raises(ValueError, match="n_power_iterations=0"):
        PZ.spectral_norm(nn.Linear(3, 4), n_power_iterations=0)
    with pytest.raises(IndexError, match=r"\[-2, 1\] but got 3"):
        PZ.spectral_norm(nn.Linear(3, 4), dim=3)
    with pytest.raises(ValueError, match="has no parameter or buffer with name 'foo'"):
        PZ.spectral_norm(nn.Linear(3, 4), name="foo")


@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder"])
@pytest.mark.parametrize("shape", [(5, 3), (3, 5)])
def test_orthogonal(orthogonal_map, shape):
    dtype = ember.float64
    for use_trivialization in (True, False):
        lin = nn.Linear(shape[1], shape[0], dtype=dtype)
        PZ.orthogonal(lin, orthogonal_map=orthogonal_map, use_trivialization=use_trivialization)
        w = host(lin.weight)
        gram = w.T @ w if shape[0] > shape[1] else w @ w.T
        np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-10)
        # a step of SGD on the original keeps the weight orthogonal
        x = ember.randn(4, shape[1], dtype=dtype)
        lin(x).pow(2).sum().backward()
        original = lin.parametrizations.weight.original
        assert original.grad is not None and float(original.grad.abs().sum()) > 0
        with ember.no_grad():
            original -= 0.1 * original.grad
        w = host(lin.weight)
        gram = w.T @ w if shape[0] > shape[1] else w @ w.T
        np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-10)
    # assigning an orthogonal matrix: with trivialization (and for householder) the weight becomes it
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((max(shape), min(shape))))
    q = q if shape[0] > shape[1] else q.T
    lin = nn.Linear(shape[1], shape[0], dtype=dtype)
    PZ.orthogonal(lin, orthogonal_map=orthogonal_map)
    lin.weight = ember.tensor(q, dtype=dtype)
    np.testing.assert_allclose(host(lin.weight), q, atol=1e-10)


def test_orthogonal_errors_and_default_map(any_device):
    lin = nn.Linear(3, 5).to(any_device)
    PZ.orthogonal(lin)
    assert lin.parametrizations.weight[0].orthogonal_map.name == "householder"
    w = host(lin.weight)
    np.testing.assert_allclose(w.T @ w, np.eye(3), atol=1e-5)
    square = nn.Linear(3, 3).to(any_device)
    PZ.orthogonal(square)
    assert square.parametrizations.weight[0].orthogonal_map.name == "matrix_exp"
    with pytest.raises(ValueError, match="Got a tensor of 1 dimensions"):
        PZ.orthogonal(nn.Linear(3, 4), name="bias")
    with pytest.raises(ValueError, match='"matrix_exp", "cayley", "householder". Got: foo'):
        PZ.orthogonal(nn.Linear(3, 4), orthogonal_map="foo")


# ---------------------------------------------------------------- hook-based norms
def test_old_weight_norm(any_device):
    dtype = widest_float(any_device)
    lin = nn.Linear(3, 4).to(device=any_device, dtype=dtype)
    w0 = host(lin.weight)
    with pytest.warns(FutureWarning):
        nn.utils.weight_norm(lin)
    assert [n for n, _ in lin.named_parameters()] == ["bias", "weight_g", "weight_v"]
    np.testing.assert_allclose(host(lin.weight_g), np.sqrt((w0 ** 2).sum(1, keepdims=True)), rtol=_tol(dtype))
    with ember.no_grad():
        lin.weight_g.mul_(2.0)
    x = ember.randn(2, 3, dtype=dtype, device=any_device)
    np.testing.assert_allclose(host(lin(x)), host(x) @ (2 * w0).T + host(lin.bias), rtol=1e-5, atol=1e-5)
    lin(x).sum().backward()
    assert lin.weight_g.grad is not None and lin.weight_v.grad is not None
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"):
        nn.utils.weight_norm(lin)
    nn.utils.remove_weight_norm(lin)
    assert [n for n, _ in lin.named_parameters()] == ["bias", "weight"]
    np.testing.assert_allclose(host(lin.weight), 2 * w0, rtol=1e-5)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        nn.utils.remove_weight_norm(lin)
    whole = nn.Linear(3, 4)
    nn.utils.weight_norm(whole, dim=None)
    assert whole.weight_g.shape == ()


def test_old_spectral_norm(any_device):
    dtype = widest_float(any_device)
    lin = nn.Linear(4, 6).to(device=any_device, dtype=dtype)
    w0 = host(lin.weight)
    nn.utils.spectral_norm(lin, n_power_iterations=2)
    assert [n for n, _ in lin.named_parameters()] == ["bias", "weight_orig"]
    assert [n for n, _ in lin.named_buffers()] == ["weight_u", "weight_v"]
    assert list(lin.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    x = ember.randn(2, 4, dtype=dtype, device=any_device)
    for _ in range(30):
        lin(x)
    s = np.linalg.svd(w0, compute_uv=False)
    np.testing.assert_allclose(host(lin.weight), w0 / s[0], rtol=1e-4, atol=1e-5)
    lin(x).sum().backward()
    assert lin.weight_orig.grad is not None
    lin.eval()
    u = host(lin.weight_u)
    lin(x)
    np.testing.assert_array_equal(host(lin.weight_u), u)
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
        nn.utils.spectral_norm(lin)
    nn.utils.remove_spectral_norm(lin)
    assert [n for n, _ in lin.named_parameters()] == ["bias", "weight"] and not list(lin.named_buffers())
    np.testing.assert_allclose(np.linalg.svd(host(lin.weight), compute_uv=False)[0], 1.0, rtol=1e-4)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        nn.utils.remove_spectral_norm(lin)


# ---------------------------------------------------------------- functional_call, fusion
class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(2, 2, dtype=ember.float64)
        self.b = nn.Linear(2, 2, dtype=ember.float64)
        self.b.weight = self.a.weight

    def forward(self, x):
        return self.b(self.a(x))


def test_functional_call(any_device):
    dtype = widest_float(any_device)
    m = nn.Linear(2, 3).to(device=any_device, dtype=dtype)
    x = ember.randn(4, 2, dtype=dtype, device=any_device)
    w = ember.randn(3, 2, dtype=dtype, device=any_device, requires_grad=True)
    out = functional_call(m, {"weight": w}, (x,))
    np.testing.assert_allclose(host(out), host(x) @ host(w).T + host(m.bias), rtol=1e-5)
    out.sum().backward()
    np.testing.assert_allclose(host(w.grad), np.tile(host(x).sum(0), (3, 1)), rtol=1e-5)
    assert m.weight.grad is None and isinstance(m.weight, nn.Parameter)
    assert functional_call(m, ({"weight": w}, {"bias": m.bias}), x).shape == (4, 3)
    with pytest.raises(ValueError, match="appeared in multiple dictionaries"):
        functional_call(m, ({"weight": w}, {"weight": w}), (x,))
    with pytest.raises(RuntimeError, match="Unexpected key\\(s\\): 'foo'.\n\tMissing key\\(s\\): 'bias'."):
        functional_call(m, {"weight": w, "foo": w}, (x,), strict=True)
    with pytest.warns(FutureWarning):
        nn.utils.stateless.functional_call(m, {}, (x,))


def test_functional_call_tied_weights_and_parametrized():
    t = Tied()
    x = ember.randn(3, 2, dtype=ember.float64)
    zero = ember.zeros(2, 2, dtype=ember.float64)
    out = functional_call(t, {"a.weight": zero}, (x,))   # b.weight is tied: zero too
    np.testing.assert_allclose(host(out), np.tile(host(t.b.bias), (3, 1)), rtol=1e-12)
    untied = functional_call(t, {"a.weight": zero}, (x,), tie_weights=False)
    ref = host(t.a.bias) @ host(t.b.weight).T + host(t.b.bias)
    np.testing.assert_allclose(host(untied), np.tile(ref, (3, 1)), rtol=1e-12)
    with pytest.raises(ValueError, match="which are tied"):
        functional_call(t, {"a.weight": zero, "b.weight": ember.ones(2, 2, dtype=ember.float64)}, (x,))
    lin = nn.Linear(2, 2, dtype=ember.float64)
    P.register_parametrization(lin, "weight", Symmetric())
    out = functional_call(lin, {"weight": zero}, (x,))
    np.testing.assert_allclose(host(out), np.tile(host(lin.bias), (3, 1)))
    assert float(lin.weight.abs().sum()) > 0


def test_stack_module_state():
    models = [nn.BatchNorm1d(3) for _ in range(2)]
    models[1].weight.data.fill_(2.0)
    params, buffers = stack_module_state(models)
    assert list(params) == ["weight", "bias"] and list(buffers) == ["running_mean", "running_var",
                                                                     "num_batches_tracked"]
    assert params["weight"].shape == (2, 3) and params["weight"].requires_grad and params["weight"].is_leaf
    np.testing.assert_allclose(host(params["weight"]), [[1, 1, 1], [2, 2, 2]])
    assert not buffers["running_mean"].requires_grad
    with pytest.raises(RuntimeError, match="at least one model"):
        stack_module_state([])
    with pytest.raises(RuntimeError, match="same training/eval mode"):
        stack_module_state([nn.Linear(2, 3), nn.Linear(2, 3).eval()])


def test_fuse_conv_and_linear_bn(any_device):
    dtype = widest_float(any_device)
    rng = np.random.default_rng(4)
    for transpose in (False, True):
        conv = (nn.ConvTranspose2d(2, 3, 3) if transpose else nn.Conv2d(2, 3, 3)).to(device=any_device,
                                                                                       dtype=dtype)
        bn = nn.BatchNorm2d(3).to(device=any_device, dtype=dtype)
        bn.running_mean.copy_(ember.tensor(rng.standard_normal(3), dtype=dtype, device=any_device))
        bn.running_var.copy_(ember.tensor(rng.uniform(0.5, 2, 3), dtype=dtype, device=any_device))
        bn.weight.data.copy_(ember.tensor(rng.standard_normal(3), dtype=dtype, device=any_device))
        conv.eval(), bn.eval()
        x = ember.tensor(rng.standard_normal((2, 2, 5, 5)), dtype=dtype, device=any_device)
        fused = nn.utils.fuse_conv_bn_eval(conv, bn, transpose=transpose)
        np.testing.assert_allclose(host(fused(x)), host(bn(conv(x))), rtol=1e-4, atol=1e-5)
        assert isinstance(fused.weight, nn.Parameter) and fused is not conv
    lin = nn.Linear(4, 3).to(device=any_device, dtype=dtype).eval()
    bn1 = nn.BatchNorm1d(3).to(device=any_device, dtype=dtype).eval()
    bn1.running_var.copy_(ember.tensor(rng.uniform(0.5, 2, 3), dtype=dtype, device=any_device))
    x = ember.tensor(rng.standard_normal((5, 4)), dtype=dtype, device=any_device)
    np.testing.assert_allclose(host(nn.utils.fuse_linear_bn_eval(lin, bn1)(x)), host(bn1(lin(x))), rtol=1e-4,
                               atol=1e-5)
    with pytest.raises(AssertionError, match="Fusion only for eval"):
        nn.utils.fuse_conv_bn_eval(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3))
    with pytest.raises(AssertionError, match="out_features=3 and bn.num_features=4"):
        nn.utils.fuse_linear_bn_eval(lin, nn.BatchNorm1d(4).eval())


def test_skip_init(any_device):
    m = nn.utils.skip_init(nn.Linear, 3, 4, device=any_device, dtype=widest_float(any_device))
    assert type(m) is nn.Linear and m.weight.shape == (4, 3) and m.weight.device.type == any_device
    assert isinstance(m.weight, nn.Parameter) and m.weight.dtype == widest_float(any_device)
    with pytest.raises(RuntimeError, match="Expected a Module"):
        nn.utils.skip_init(int)

    class NoDevice(nn.Module):
        def __init__(self, n):
            super().__init__()

    with pytest.raises(RuntimeError, match="must support a 'device' arg"):
        nn.utils.skip_init(NoDevice, 3)
