"""Activations (functional and module forms) against float64 numpy references:
outputs and gradients, float32 and float64, on every available device."""
import math

import numpy as np
import pytest
from scipy.special import erf

import ember
import ember.nn as nn
import ember.nn.functional as F
from core_refs import FLOAT_DTYPES, away_from, compare, host, rounded
from ember.dispatch.registry import REGISTRY

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def np_softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.logaddexp(0.0, beta * x) / beta)


def np_sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))


def np_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def np_softmax(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def np_log_softmax(x, dim):
    s = x - x.max(axis=dim, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=dim, keepdims=True))


# name -> (ember function, numpy reference, kinks to keep inputs away from, input scale)
ELEMENTWISE = {
    "relu": (F.relu, lambda x: np.maximum(x, 0), (0,), 2),
    "relu6": (F.relu6, lambda x: np.clip(x, 0, 6), (0, 6), 5),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x), (0,), 2),
    "elu": (lambda x: F.elu(x, 1.3), lambda x: np_elu(x, 1.3), (0,), 3),
    "selu": (F.selu, lambda x: SELU_SCALE * np_elu(x, SELU_ALPHA), (0,), 3),
    "celu": (lambda x: F.celu(x, 0.7),
             lambda x: np.maximum(x, 0) + np.minimum(0, 0.7 * np.expm1(np.minimum(x, 0) / 0.7)), (0,), 3),
    "gelu": (F.gelu, lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2))), (), 3),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))), (), 3),
    "silu": (F.silu, lambda x: x * np_sigmoid(x), (), 4),
    "mish": (F.mish, lambda x: x * np.tanh(np.logaddexp(0, x)), (), 4),
    "softplus": (F.softplus, np_softplus, (), 4),
    "softplus_beta_threshold": (lambda x: F.softplus(x, beta=2.0, threshold=3.0),
                                lambda x: np_softplus(x, 2.0, 3.0), (1.5,), 3),
    "softsign": (F.softsign, lambda x: x / (1 + np.abs(x)), (), 3),
    "sigmoid": (F.sigmoid, np_sigmoid, (), 4),
    "tanh": (F.tanh, np.tanh, (), 2),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 1.5), lambda x: np.clip(x, -0.5, 1.5), (-0.5, 1.5), 2),
    "hardsigmoid": (F.hardsigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1), (-3, 3), 5),
    "hardswish": (F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6, (-3, 3), 5),
    "logsigmoid": (F.logsigmoid, lambda x: -np.logaddexp(0, -x), (), 6),
    "threshold": (lambda x: F.threshold(x, 0.1, -2.0), lambda x: np.where(x > 0.1, x, -2.0), (0.1,), 2),
    "tanhshrink": (F.tanhshrink, lambda x: x - np.tanh(x), (), 2),
    "softshrink": (lambda x: F.softshrink(x, 0.7),
                   lambda x: np.where(x > 0.7, x - 0.7, np.where(x < -0.7, x + 0.7, 0)), (-0.7, 0.7), 2),
    "hardshrink": (lambda x: F.hardshrink(x, 0.7), lambda x: np.where(np.abs(x) > 0.7, x, 0), (-0.7, 0.7), 2),
}


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_activation(name, dtype, any_device):
    device = any_device
    fn, ref, kinks, scale = ELEMENTWISE[name]
    x = np.random.default_rng(len(name)).standard_normal((3, 5)) * scale
    x = away_from(x, kinks)
    compare(fn, ref, [x], device, dtype)


def test_extreme_inputs_stay_finite(any_device):
    device = any_device
    x = ember.tensor([-1e4, -50.0, -1.0, 0.0, 1.0, 50.0, 1e4], dtype=ember.float32, device=device,
                     requires_grad=True)
    cases = {
        "softplus": (F.softplus, lambda v: np_softplus(v)),
        "logsigmoid": (F.logsigmoid, lambda v: -np.logaddexp(0, -v)),
        "mish": (F.mish, lambda v: v * np.tanh(np.logaddexp(0, v))),
        "elu": (F.elu, np_elu),
        "silu": (F.silu, lambda v: v * np_sigmoid(v)),
    }
    xs = host(x)
    for name, (fn, ref) in cases.items():
        x.grad = None
        out = fn(x)
        out.sum().backward()
        np.testing.assert_allclose(host(out), ref(xs), rtol=1e-5, atol=1e-6, err_msg=name)
        assert np.isfinite(host(x.grad)).all(), name


def test_softplus_gradient_at_zero(any_device):
    device = any_device
    x = ember.zeros(3, dtype=ember.float32, device=device, requires_grad=True)
    F.softplus(x).sum().backward()
    np.testing.assert_allclose(host(x.grad), 0.5)
    x.grad = None
    F.logsigmoid(x).sum().backward()
    np.testing.assert_allclose(host(x.grad), 0.5)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_prelu(dtype, any_device):
    device = any_device
    rng = np.random.default_rng(3)
    x = away_from(rng.standard_normal((2, 3, 4)), (0,))
    w = rng.standard_normal(3)
    compare(F.prelu, lambda a, b: np.where(a > 0, a, b[:, None] * a), [x, w], device, dtype, grad_wrt=(0, 1))
    w1 = rng.standard_normal(1)
    compare(F.prelu, lambda a, b: np.where(a > 0, a, b * a), [x, w1], device, dtype, grad_wrt=(0, 1))


def test_prelu_module(any_device):
    device = any_device
    m = nn.PReLU(3, init=0.1).to(device)
    assert tuple(m.weight.shape) == (3,)
    np.testing.assert_allclose(host(m.weight), 0.1)
    x = ember.tensor([[[-1.0, 2.0]] * 3], device=device)
    np.testing.assert_allclose(host(m(x)), [[[-0.1, 2.0]] * 3], rtol=1e-6)
    with pytest.raises(RuntimeError, match="channel size"):
        m(ember.ones(2, 4, device=device))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_glu(dtype, any_device):
    device = any_device
    x = np.random.default_rng(4).standard_normal((2, 6, 3))
    compare(lambda t: F.glu(t, 1), lambda a: a[:, :3] * np_sigmoid(a[:, 3:]), [x], device, dtype)
    with pytest.raises(RuntimeError, match="even"):
        F.glu(ember.ones(2, 5, device=device))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_family(dim, dtype, any_device):
    device = any_device
    x = np.random.default_rng(5).standard_normal((3, 4, 2)) * 3
    compare(lambda t: F.softmax(t, dim), lambda a: np_softmax(a, dim), [x], device, dtype)
    compare(lambda t: F.log_softmax(t, dim), lambda a: np_log_softmax(a, dim), [x], device, dtype)
    compare(lambda t: F.softmin(t, dim), lambda a: np_softmax(-a, dim), [x], device, dtype)


def test_softmax_implicit_dim_warns(any_device):
    device = any_device
    x = ember.randn(2, 3, device=device)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        out = F.softmax(x)
    np.testing.assert_allclose(host(out), np_softmax(host(x), 1), rtol=1e-6)
    with pytest.warns(UserWarning):
        nn.Softmax()(x)


def test_softmax_dtype_argument(any_device):
    device = any_device
    x = ember.randn(2, 3, device=device)
    if ember.float64 in REGISTRY.available_backend(device).supported_dtypes():
        assert F.softmax(x, 1, dtype=ember.float64).dtype is ember.float64
    else:  # no float64 on this device (mps, as in PyTorch)
        with pytest.raises(TypeError):
            F.softmax(x, 1, dtype=ember.float64)
    assert F.softmax(x.half(), 1, dtype=ember.float32).dtype is ember.float32


def test_softmax2d(any_device):
    device = any_device
    x = ember.randn(2, 3, 2, 2, device=device)
    np.testing.assert_allclose(host(nn.Softmax2d()(x)), np_softmax(host(x), 1), rtol=1e-6)


INPLACE = {
    "relu": (F.relu, lambda x: np.maximum(x, 0)),
    "relu6": (F.relu6, lambda x: np.clip(x, 0, 6)),
    "leaky_relu": (F.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x)),
    "elu": (F.elu, np_elu),
    "selu": (F.selu, lambda x: SELU_SCALE * np_elu(x, SELU_ALPHA)),
    "celu": (F.celu, np_elu),
    "hardtanh": (F.hardtanh, lambda x: np.clip(x, -1, 1)),
    "hardsigmoid": (F.hardsigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    "hardswish": (F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "silu": (F.silu, lambda x: x * np_sigmoid(x)),
    "mish": (F.mish, lambda x: x * np.tanh(np.logaddexp(0, x))),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_forms(name, any_device):
    device = any_device
    fn, ref = INPLACE[name]
    rng = np.random.default_rng(6)
    data = away_from(rng.standard_normal((3, 4)) * 3, (0, 1, -1, 3, -3))
    data = rounded(data, ember.float32)
    x = ember.tensor(data, dtype=ember.float32, device=device)
    out = fn(x, inplace=True)
    assert out is x
    np.testing.assert_allclose(host(x), ref(data), rtol=1e-5, atol=1e-6)
    # under autograd: in place on a non-leaf gives the out-of-place gradient
    leaf = ember.tensor(data, dtype=ember.float32, device=device, requires_grad=True)
    y = leaf * 1.0
    fn(y, inplace=True).sum().backward()
    leaf2 = ember.tensor(data, dtype=ember.float32, device=device, requires_grad=True)
    fn(leaf2).sum().backward()
    np.testing.assert_allclose(host(leaf.grad), host(leaf2.grad), rtol=1e-6, atol=1e-7)


def test_inplace_on_leaf_requiring_grad_raises(any_device):
    device = any_device
    x = ember.randn(3, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        F.relu(x, inplace=True)
    with pytest.raises(RuntimeError, match="leaf"):
        F.elu(x, inplace=True)


def test_module_forms_match_functional(any_device):
    device = any_device
    x = ember.randn(3, 4, device=device) * 3
    pairs = [
        (nn.ReLU(), F.relu(x)), (nn.ReLU6(), F.relu6(x)), (nn.LeakyReLU(0.3), F.leaky_relu(x, 0.3)),
        (nn.ELU(0.5), F.elu(x, 0.5)), (nn.SELU(), F.selu(x)), (nn.CELU(2.0), F.celu(x, 2.0)),
        (nn.GELU("tanh"), F.gelu(x, approximate="tanh")), (nn.SiLU(), F.silu(x)), (nn.Mish(), F.mish(x)),
        (nn.Sigmoid(), F.sigmoid(x)), (nn.Tanh(), F.tanh(x)), (nn.Hardtanh(-2, 2), F.hardtanh(x, -2, 2)),
        (nn.Hardsigmoid(), F.hardsigmoid(x)), (nn.Hardswish(), F.hardswish(x)),
        (nn.Softplus(2, 5), F.softplus(x, 2, 5)), (nn.Softsign(), F.softsign(x)),
        (nn.Softmax(1), F.softmax(x, 1)), (nn.LogSoftmax(0), F.log_softmax(x, 0)), (nn.Softmin(1), F.softmin(x, 1)),
        (nn.GLU(1), F.glu(x, 1)), (nn.Threshold(0.5, 9.0), F.threshold(x, 0.5, 9.0)),
        (nn.LogSigmoid(), F.logsigmoid(x)), (nn.Tanhshrink(), F.tanhshrink(x)),
        (nn.Hardshrink(1.0), F.hardshrink(x, 1.0)), (nn.Softshrink(1.0), F.softshrink(x, 1.0)),
    ]
    for module, expected in pairs:
        np.testing.assert_allclose(host(module(x)), host(expected), rtol=1e-6, err_msg=repr(module))


def test_module_reprs():
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(nn.ELU(alpha=0.5, inplace=True)) == "ELU(alpha=0.5, inplace=True)"
    assert repr(nn.GELU()) == "GELU(approximate='none')"
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"
    assert repr(nn.ReLU6()) == "ReLU6()"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.PReLU()) == "PReLU(num_parameters=1)"
    assert repr(nn.Threshold(0.1, 20)) == "Threshold(threshold=0.1, value=20)"
    assert repr(nn.Hardshrink()) == "Hardshrink(0.5)"


def test_rrelu(any_device):
    device = any_device
    x = ember.tensor([-2.0, -1.0, 1.0, 3.0] * 50, device=device)
    eval_out = F.rrelu(x, 0.1, 0.3, training=False)
    np.testing.assert_allclose(host(eval_out)[:4], [-0.4, -0.2, 1.0, 3.0], rtol=1e-6)
    train_out = host(F.rrelu(x, 0.1, 0.3, training=True))
    slopes = train_out[host(x) < 0] / host(x)[host(x) < 0]
    assert slopes.min() >= 0.1 - 1e-6 and slopes.max() <= 0.3 + 1e-6 and slopes.std() > 0.01
    np.testing.assert_allclose(train_out[host(x) > 0], host(x)[host(x) > 0])


def test_gelu_bad_approximate():
    with pytest.raises(RuntimeError, match="approximate"):
        F.gelu(ember.ones(2), approximate="fast")


def test_activation_rejects_non_tensor():
    with pytest.raises(TypeError, match="Tensor"):
        F.relu([1.0, 2.0])


def test_half_precision_activations(any_device):
    device = any_device
    x = ember.tensor([-3.0, -0.5, 0.25, 2.0], dtype=ember.float16, device=device)
    for fn, ref in [(F.gelu, lambda v: 0.5 * v * (1 + erf(v / math.sqrt(2)))), (F.silu, lambda v: v * np_sigmoid(v)),
                    (F.softplus, np_softplus), (lambda t: F.softmax(t, 0), lambda v: np_softmax(v, 0))]:
        out = fn(x)
        assert out.dtype is ember.float16
        np.testing.assert_allclose(host(out), ref(host(x)), rtol=5e-3, atol=5e-3)
