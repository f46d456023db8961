"""GradScaler against PyTorch 2.13's GradScaler("cpu") (tests/fixtures/autocast_grad_scaler.json,
recorded by tests/fixtures/record_grad_scaler.py): scale sequences with planted inf/NaN
gradients, skipped steps, parameters, unscale_ + clip_grad_norm_ + step, two optimizers;
and PyTorch's errors and pass-through forms."""
import json
import math
import pickle
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import ember
from conftest import available_devices

FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
from autocast_scaler_cases import SCENARIOS  # noqa: E402

RECORDED = json.loads((FIXTURES / "autocast_grad_scaler.json").read_text())
DEVICES = [d for d in ("cpu", "opencl", "mps") if d in available_devices()]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_matches_pytorch(scenario, device):
    got = SCENARIOS[scenario](ember, device)
    for key, want in RECORDED[scenario].items():
        if isinstance(want, dict):
            assert got[key] == want, key
        else:
            np.testing.assert_allclose(np.array(got[key], dtype=float), np.array(want, dtype=float),
                                       rtol=1e-5, atol=1e-6, err_msg=key)


def _setup():
    model = ember.nn.Linear(3, 2)
    opt = ember.optim.SGD(model.parameters(), lr=0.1)
    scaler = ember.amp.GradScaler("cpu", init_scale=8.0)
    scaler.scale(model(ember.randn(4, 3)).sum()).backward()
    return model, opt, scaler


def test_unscale_twice_and_after_step_raise():
    model, opt, scaler = _setup()
    grad = model.weight.grad.clone()
    scaler.unscale_(opt)
    np.testing.assert_allclose(model.weight.grad.numpy(), grad.numpy() / 8.0, rtol=1e-6)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called on this optimizer"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) is being called after step\\(\\)"):
        scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called since the last update"):
        scaler.step(opt)
    scaler.update()
    assert scaler.get_scale() == 8.0 and scaler._get_growth_tracker() == 1


def test_closure_refused_and_errors_as_pytorch():
    model, opt, scaler = _setup()
    with pytest.raises(RuntimeError, match="Closure use is not currently supported if GradScaler is enabled"):
        scaler.step(opt, closure=lambda: 0.0)
    with pytest.raises(AssertionError, match="The growth factor must be > 1.0"):
        ember.amp.GradScaler("cpu", growth_factor=1.0)
    with pytest.raises(ValueError, match="outputs must be a Tensor or an iterable of Tensors"):
        scaler.scale(3.0)
    fresh = ember.amp.GradScaler("cpu")
    with pytest.raises(AssertionError, match="Attempted step but _scale is None"):
        fresh.step(opt)


def test_scale_nested_outputs_and_new_scale():
    scaler = ember.amp.GradScaler("cpu", init_scale=4.0)
    a, b = ember.ones(2), ember.full((3,), 2.0)
    out = scaler.scale([a, (b, a)])
    assert isinstance(out, list) and isinstance(out[1], tuple)
    np.testing.assert_array_equal(out[1][0].numpy(), [8.0, 8.0, 8.0])
    assert list(scaler.scale(iter([a])))[0].tolist() == [4.0, 4.0]
    model, opt, _ = _setup()
    scaler.scale(model(ember.randn(1, 3)).sum()).backward()
    scaler.step(opt)
    scaler.update(new_scale=64.0)
    assert scaler.get_scale() == 64.0
    with pytest.raises(AssertionError, match="new_scale should be a float or a 1-element"):
        scaler.update(new_scale=ember.ones(2))


def test_float16_gradients_refused():
    p = ember.nn.Parameter(ember.ones(2, dtype=ember.float16))
    opt = ember.optim.SGD([p], lr=0.1)
    scaler = ember.amp.GradScaler("cpu")
    scaler.scale((p * 2).sum()).backward()
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients"):
        scaler.step(opt)


def test_disabled_is_a_pass_through_and_state_dict_round_trips():
    model, opt, _ = _setup()
    off = ember.amp.GradScaler("cpu", enabled=False)
    loss = model(ember.randn(2, 3)).sum()
    assert off.scale(loss) is loss and off.get_scale() == 1.0 and off.state_dict() == {}
    before = model.weight.detach().clone()
    off.step(opt)  # steps plainly
    assert not ember.equal(before, model.weight.detach())
    scaler = ember.amp.GradScaler("cpu", init_scale=32.0, growth_interval=7)
    state = scaler.state_dict()
    assert state == {"scale": 32.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 7,
                     "_growth_tracker": 0}
    other = ember.amp.GradScaler("cpu")
    other.load_state_dict(state)
    assert other.state_dict() == state
    assert pickle.loads(pickle.dumps(other)).state_dict() == state
    with pytest.raises(RuntimeError, match="The source state dict is empty"):
        other.load_state_dict({})


def test_deprecated_scalers_warn_and_work():
    with pytest.warns(FutureWarning, match=r"`torch.cpu.amp.GradScaler\(args...\)` is deprecated"):
        scaler = ember.cpu.amp.GradScaler(init_scale=16.0)
    assert scaler.get_scale() == 16.0 and scaler.is_enabled()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from ember.cuda.amp import GradScaler
        cuda_scaler = GradScaler()
    messages = [str(w.message) for w in caught]
    assert any("torch.cuda.amp.GradScaler(args...)` is deprecated" in m for m in messages)
    if "cuda" not in available_devices():  # as PyTorch: disabled, with a warning, when there is no CUDA
        assert not cuda_scaler.is_enabled()
        assert any("GradScaler is enabled, but CUDA is not available" in m for m in messages)


def test_found_inf_check_is_one_flag_per_device_without_host_reads(monkeypatch):
    grads = [ember.ones(3), ember.full((2, 2), 4.0), ember.tensor([1.0, math.inf])]
    found, inv = ember.zeros(()), ember.tensor(0.5)
    reads = []
    monkeypatch.setattr(ember.Tensor, "item", lambda self: reads.append(self) or 0.0)
    ember.amp.grad_scaler._amp_foreach_non_finite_check_and_unscale_(grads, found, inv)
    monkeypatch.undo()
    assert reads == []
    assert found.item() == 1.0
    np.testing.assert_array_equal(grads[1].numpy(), np.full((2, 2), 2.0))
