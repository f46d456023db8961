"""nn.utils: gradient clipping and parameter/vector conversion."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.nn.utils import (clip_grad_norm_, clip_grad_value_, get_total_norm, parameters_to_vector,
                            vector_to_parameters)
from core_refs import host, rounded, widest_float


def params_with_grads(device, grads):
    params = []
    for g in grads:
        dtype = widest_float(device)
        p = nn.Parameter(ember.zeros(*np.shape(g), dtype=dtype, device=device))
        p.grad = ember.tensor(g, dtype=dtype, device=device)
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm(norm_type, any_device):
    device = any_device
    rng = np.random.default_rng(0)
    dtype = widest_float(device)
    grads = [rounded(rng.standard_normal((3, 4)), dtype), rounded(rng.standard_normal(5), dtype)]
    rtol = 1e-10 if dtype is ember.float64 else 1e-5
    flat = np.concatenate([g.ravel() for g in grads])
    total = np.abs(flat).max() if norm_type == math.inf else (np.abs(flat) ** norm_type).sum() ** (1 / norm_type)
    params = params_with_grads(device, grads)
    grad_objects = [p.grad for p in params]
    max_norm = total / 2
    result = clip_grad_norm_(params, max_norm, norm_type=norm_type)
    assert isinstance(result, ember.Tensor) and result.ndim == 0
    np.testing.assert_allclose(host(result), total, rtol=rtol)
    scale = max_norm / (total + 1e-6)
    for p, g, obj in zip(params, grads, grad_objects):
        assert p.grad is obj  # clipped in place
        np.testing.assert_allclose(host(p.grad), g * scale, rtol=rtol)


def test_clip_grad_norm_no_clipping_when_small(any_device):
    device = any_device
    params = params_with_grads(device, [np.array([0.3, 0.4])])
    result = clip_grad_norm_(params, 10.0)
    np.testing.assert_allclose(host(result), 0.5, rtol=1e-6)
    np.testing.assert_allclose(host(params[0].grad), rounded(np.array([0.3, 0.4]), widest_float(device)))


def test_clip_grad_norm_single_tensor_and_no_grads(any_device):
    device = any_device
    p = params_with_grads(device, [np.array([3.0, 4.0])])[0]
    np.testing.assert_allclose(host(clip_grad_norm_(p, 1.0)), 5.0)
    np.testing.assert_allclose(host(p.grad), [0.6, 0.8], rtol=1e-5)
    empty = nn.Parameter(ember.zeros(2, device=device))
    assert float(clip_grad_norm_([empty], 1.0)) == 0.0


def test_clip_grad_norm_nonfinite(any_device):
    device = any_device
    params = params_with_grads(device, [np.array([1.0, np.inf])])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    result = clip_grad_norm_(params, 1.0)
    assert math.isinf(float(result))


def test_get_total_norm(any_device):
    device = any_device
    tensors = [ember.tensor([3.0], device=device), ember.tensor([4.0], device=device)]
    np.testing.assert_allclose(host(get_total_norm(tensors)), 5.0)


def test_clip_grad_value(any_device):
    device = any_device
    params = params_with_grads(device, [np.array([-3.0, 0.5, 2.0]), np.array([[10.0, -0.1]])])
    clip_grad_value_(params, 1.0)
    np.testing.assert_allclose(host(params[0].grad), [-1.0, 0.5, 1.0])
    np.testing.assert_allclose(host(params[1].grad), [[1.0, -0.1]])


def test_clip_grad_after_backward(any_device):
    device = any_device
    model = nn.Linear(3, 2).to(device)
    model(ember.randn(4, 3, device=device) * 100).sum().backward()
    clip_grad_norm_(model.parameters(), 0.5)
    total = math.sqrt(sum(float((p.grad * p.grad).sum()) for p in model.parameters()))
    assert total == pytest.approx(0.5, rel=1e-4)


def test_parameters_to_vector_and_back(any_device):
    device = any_device
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1)).to(device)
    vec = parameters_to_vector(model.parameters())
    expected = np.concatenate([host(p).ravel() for p in model.parameters()])
    np.testing.assert_allclose(host(vec), expected)
    assert vec.requires_grad  # differentiable
    weights = [p for p in model.parameters()]
    new = ember.arange(vec.numel(), dtype=ember.float32, device=device)
    vector_to_parameters(new, model.parameters())
    offset = 0
    for p, original in zip(model.parameters(), weights):
        assert p is original
        np.testing.assert_allclose(host(p).ravel(), np.arange(offset, offset + p.numel()))
        offset += p.numel()
    with pytest.raises(TypeError, match="expected ember.Tensor"):
        vector_to_parameters([1.0], model.parameters())
