"""A backend's fused optimizer kernel must give what the composite update gives."""
import numpy as np
import pytest

import ember
from ember.dispatch.ops import OPS


@pytest.fixture
def composite_only(monkeypatch):
    """Hide every backend's fused adam_step so the optimizer runs its composite update."""
    op = OPS["adam_step"]
    monkeypatch.setattr(op, "kernels", {})
    monkeypatch.setattr(op, "resolved", {})
    yield
    op.resolved.clear()


def _run(opt_cls, device, steps=6, **options):
    ember.manual_seed(3)
    p = ember.randn(7, 5, device=device, requires_grad=True)
    opt = opt_cls([p], lr=0.05, **options)
    grads = [ember.randn(7, 5, device=device) for _ in range(steps)]
    for g in grads:
        p.grad = g
        opt.step()
    state = opt.state[p]
    keys = [k for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if k in state]
    return [p.detach().cpu().numpy()] + [state[k].cpu().numpy() for k in keys]


OPTIONS = [
    (ember.optim.Adam, {}),
    (ember.optim.Adam, {"amsgrad": True, "weight_decay": 0.1}),
    (ember.optim.Adam, {"maximize": True}),
    (ember.optim.AdamW, {"weight_decay": 0.2}),
    (ember.optim.AdamW, {"amsgrad": True, "maximize": True}),
]


@pytest.mark.parametrize("opt_cls,options", OPTIONS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_fused_adam_matches_composite(any_device, opt_cls, options, request):
    device = any_device
    fused = _run(opt_cls, device, **options)
    request.getfixturevalue("composite_only")
    reference = _run(opt_cls, device, **options)
    for got, want in zip(fused, reference):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


def test_fused_kernel_is_used_where_registered():
    p = ember.randn(3, requires_grad=True)
    p.grad = ember.randn(3)
    opt = ember.optim.Adam([p])
    calls = []
    op = OPS["adam_step"]
    original = op.kernels["CPU"]
    op.kernels["CPU"] = lambda *a, **k: calls.append(1) or original(*a, **k)
    op.resolved.clear()
    try:
        opt.step()
    finally:
        op.kernels["CPU"] = original
        op.resolved.clear()
    assert calls == [1]
