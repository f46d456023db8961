"""The smoke tier: a few seconds that say whether ember works at all here.

``.venv/bin/python -m pytest tests/test_smoke.py`` before anything else; ``-m "not slow"``
for the quick tier of the whole suite; ``make test`` for everything. Every available device
is exercised: creation, arithmetic, a reduction, matmul, a transfer, backward, a training
step and a checkpoint round trip.
"""
import numpy as np
import pytest

import ember
from conftest import DEVICES


def test_every_plugin_loads():
    from ember.dispatch.registry import REGISTRY
    REGISTRY.probe_all()
    assert "cpu" in REGISTRY.backends and REGISTRY.backends["cpu"].is_available()
    assert not REGISTRY.failures, [str(f) for f in REGISTRY.failures]


@pytest.mark.parametrize("device", DEVICES)
def test_tensor_math_and_backward(device):
    a = ember.tensor([[1.0, 2.0], [3.0, 4.0]], device=device, requires_grad=True)
    b = ember.ones(2, 2, device=device) * 0.5
    y = ((a @ b).exp() + a).sum()
    y.backward()
    host = np.array([[1.0, 2.0], [3.0, 4.0]])
    expected = (np.exp(host @ np.full((2, 2), 0.5)) + host).sum()
    assert abs(y.item() - expected) <= 1e-4 * abs(expected)
    grad = np.exp(host @ np.full((2, 2), 0.5)) @ np.full((2, 2), 0.5) + 1
    np.testing.assert_allclose(a.grad.cpu().numpy(), grad, rtol=1e-5)
    assert a.grad.device == a.device and y.device.type == device


@pytest.mark.parametrize("device", DEVICES)
def test_a_training_step_lowers_the_loss(device):
    ember.manual_seed(0)
    model = ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.ReLU(), ember.nn.Linear(8, 1)).to(device)
    opt = ember.optim.Adam(model.parameters(), lr=0.05)
    x, target = ember.randn(32, 4, device=device), ember.randn(32, 1, device=device)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = ember.nn.functional.mse_loss(model(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_a_checkpoint_round_trips(tmp_path):
    state = ember.nn.Linear(3, 2).state_dict()
    ember.save(state, tmp_path / "model.pt")
    loaded = ember.load(tmp_path / "model.pt")
    assert all(ember.equal(loaded[k], v) for k, v in state.items())
