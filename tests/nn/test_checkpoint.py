"""utils.checkpoint: same outputs and gradients as running the function directly,
activations freed, the random state replayed, and autograd.grad supported."""
import gc
import weakref

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.utils.checkpoint import checkpoint, checkpoint_sequential
from core_refs import host, widest_float


def grads_of(module, x):
    return [host(p.grad) for p in module.parameters()] + [host(x.grad)]


def _rtol(device):
    """Checkpointed and direct runs do the same arithmetic; float32 (mps) gets a float32 epsilon."""
    return 1e-12 if widest_float(device) is ember.float64 else 1e-6


def make_model(device):
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.4), nn.Linear(8, 3))
    return model.to(device, widest_float(device))


def test_matches_direct_run_including_dropout(any_device):
    device = any_device
    model = make_model(device)
    x = ember.randn(6, 4, dtype=widest_float(device), device=device, requires_grad=True)
    ember.manual_seed(11)
    out = checkpoint(model, x, use_reentrant=False)
    out.pow(2).sum().backward()
    checkpointed = grads_of(model, x)
    model.zero_grad()
    x.grad = None
    ember.manual_seed(11)
    direct = model(x)
    direct.pow(2).sum().backward()
    np.testing.assert_allclose(host(out), host(direct), rtol=_rtol(device))
    for a, b in zip(checkpointed, grads_of(model, x)):
        np.testing.assert_allclose(a, b, rtol=_rtol(device))


def test_recompute_does_not_disturb_global_rng(any_device):
    device = any_device
    model = make_model(device)
    x = ember.randn(3, 4, dtype=widest_float(device), device=device, requires_grad=True)
    out = checkpoint(model, x)
    state = ember.get_rng_state()
    out.sum().backward()
    np.testing.assert_array_equal(host(ember.get_rng_state()), host(state))


def test_activations_are_freed(any_device):
    device = any_device
    kept = []

    def fn(x):
        hidden = (x * 2).exp()
        kept.append(weakref.ref(hidden))
        return hidden.sin()
    x = ember.randn(5, device=device, requires_grad=True)
    out = checkpoint(fn, x, use_reentrant=False)
    gc.collect()
    assert kept[0]() is None  # the intermediate is gone after the forward
    out.sum().backward()
    xs = host(x)
    np.testing.assert_allclose(host(x.grad), np.cos(np.exp(2 * xs)) * np.exp(2 * xs) * 2, rtol=1e-5)


def test_autograd_grad_reaches_parameters(any_device):
    device = any_device
    model = make_model(device).eval()
    x = ember.randn(2, 4, dtype=widest_float(device), device=device, requires_grad=True)
    params = list(model.parameters())
    got = ember.autograd.grad(checkpoint(model, x).sum(), params + [x])
    want = ember.autograd.grad(model(x).sum(), params + [x])
    for a, b in zip(got, want):
        np.testing.assert_allclose(host(a), host(b), rtol=_rtol(device))
    assert all(p.grad is None for p in params)


def test_parameters_get_grads_when_input_needs_none(any_device):
    device = any_device
    model = make_model(device).eval()
    x = ember.randn(2, 4, dtype=widest_float(device), device=device)
    checkpoint(model, x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_tuple_outputs_non_tensor_args_and_kwargs(any_device):
    device = any_device
    def fn(a, scale, b, offset=0.0):
        return a * scale + offset, (a * b).sum(), 7
    a = ember.randn(3, device=device, requires_grad=True)
    b = ember.randn(3, device=device, requires_grad=True)
    first, second, seven = checkpoint(fn, a, 3.0, b, offset=1.0, use_reentrant=False)
    assert seven == 7
    (first.sum() + second * 2).backward()
    np.testing.assert_allclose(host(a.grad), 3.0 + 2 * host(b), rtol=1e-6)
    np.testing.assert_allclose(host(b.grad), 2 * host(a), rtol=1e-6)


def test_only_one_output_used(any_device):
    device = any_device
    a = ember.randn(3, device=device, requires_grad=True)
    first, _second = checkpoint(lambda t: (t * 2, t * 3), a)
    first.sum().backward()
    np.testing.assert_allclose(host(a.grad), 2.0)


def test_no_grad_passthrough_and_non_differentiable_output(any_device):
    device = any_device
    x = ember.randn(3, device=device, requires_grad=True)
    with ember.no_grad():
        out = checkpoint(lambda t: t * 2, x)
    assert not out.requires_grad
    plain = checkpoint(lambda t: t * 2, ember.ones(2, device=device))
    assert not plain.requires_grad


def test_nested_checkpoint(any_device):
    device = any_device
    lin = nn.Linear(3, 3).to(device, widest_float(device))
    x = ember.randn(2, 3, dtype=widest_float(device), device=device, requires_grad=True)

    def outer(t):
        return checkpoint(lin, t).tanh() * 2
    checkpoint(outer, x).sum().backward()
    got = [host(lin.weight.grad), host(x.grad)]
    lin.zero_grad()
    x.grad = None
    (lin(x).tanh() * 2).sum().backward()
    np.testing.assert_allclose(got[0], host(lin.weight.grad), rtol=_rtol(device))
    np.testing.assert_allclose(got[1], host(x.grad), rtol=_rtol(device))


def test_checkpoint_sequential(any_device):
    device = any_device
    model = nn.Sequential(*[nn.Linear(4, 4) for _ in range(5)]).to(device, widest_float(device))
    x = ember.randn(3, 4, dtype=widest_float(device), device=device, requires_grad=True)
    out = checkpoint_sequential(model, 2, x, use_reentrant=False)
    out.sum().backward()
    got = grads_of(model, x)
    model.zero_grad()
    x.grad = None
    np.testing.assert_allclose(host(out), host(model(x)), rtol=_rtol(device))
    model(x).sum().backward()
    for a, b in zip(got, grads_of(model, x)):
        np.testing.assert_allclose(a, b, rtol=_rtol(device))


def test_nondeterministic_shape_is_reported(any_device):
    device = any_device
    calls = []

    def fn(t):
        calls.append(1)
        return t[: len(calls)] * 2
    x = ember.randn(4, device=device, requires_grad=True)
    out = checkpoint(fn, x)
    with pytest.raises(RuntimeError, match="recomputing"):
        out.sum().backward()
