"""The Optimizer base: param groups, zero_grad, closures, hooks, state dicts, argument errors."""
import copy
import warnings

import numpy as np
import pytest

import ember
from ember import optim
from ember.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

ALL = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam", "Adadelta", "Rprop"]
# options that make each optimizer keep all of its kinds of state
RICH = {"SGD": dict(momentum=0.9, nesterov=True), "Adam": dict(amsgrad=True), "AdamW": dict(amsgrad=True),
        "RMSprop": dict(momentum=0.5, centered=True), "Adagrad": dict(lr_decay=0.01),
        "Adamax": dict(weight_decay=0.01), "NAdam": dict(weight_decay=0.01), "RAdam": dict(betas=(0.9, 0.6)),
        "Adadelta": dict(rho=0.8), "Rprop": dict(etas=(0.4, 1.3))}


def _params(device="cpu", seed=0):
    rng = np.random.default_rng(seed)
    return [ember.tensor(rng.standard_normal(s).astype(np.float32), device=device, requires_grad=True)
            for s in [(3, 2), (4,), (2, 2)]]


def _set_grads(params, seed):
    rng = np.random.default_rng(seed)
    for p in params:
        p.grad = ember.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32), device=p.device)


def _make(name, params, lr=0.01, **kw):
    return getattr(optim, name)([{"params": params[:2]}, {"params": params[2:], "lr": 0.003}], lr=lr,
                                **{**RICH[name], **kw})


# ---------------------------------------------------------------- param groups
def test_defaults_fill_each_group():
    a, b = _params()[:2]
    opt = optim.Adam([{"params": [a]}, {"params": b, "lr": 0.5, "betas": (0.5, 0.6)}], lr=0.1, eps=1e-3)
    g0, g1 = opt.param_groups
    assert g0["params"] == [a] and g1["params"] == [b]  # a bare tensor becomes a one-element list
    assert (g0["lr"], g0["betas"], g0["eps"]) == (0.1, (0.9, 0.999), 1e-3)
    assert (g1["lr"], g1["betas"], g1["eps"]) == (0.5, (0.5, 0.6), 1e-3)


def test_group_keys_match_pytorch():
    """The option names (and defaults) each optimizer records, as PyTorch 2.x records them."""
    expected = {
        "SGD": dict(lr=0.001, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False,
                    foreach=None, differentiable=False, fused=None),
        "Adam": dict(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0, amsgrad=False, maximize=False,
                     foreach=None, capturable=False, differentiable=False, fused=None,
                     decoupled_weight_decay=False),
        "AdamW": dict(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01, amsgrad=False, maximize=False,
                      foreach=None, capturable=False, differentiable=False, fused=None,
                      decoupled_weight_decay=True),
        "RMSprop": dict(lr=0.01, momentum=0, alpha=0.99, eps=1e-08, centered=False, weight_decay=0,
                        capturable=False, foreach=None, maximize=False, differentiable=False),
        "Adagrad": dict(lr=0.01, lr_decay=0, eps=1e-10, weight_decay=0, initial_accumulator_value=0,
                        foreach=None, maximize=False, differentiable=False, fused=None),
        "Adamax": dict(lr=0.002, betas=(0.9, 0.999), eps=1e-08, weight_decay=0, foreach=None, maximize=False,
                       differentiable=False, capturable=False),
        "NAdam": dict(lr=0.002, betas=(0.9, 0.999), eps=1e-08, weight_decay=0, momentum_decay=0.004,
                      decoupled_weight_decay=False, maximize=False, foreach=None, capturable=False,
                      differentiable=False),
        "RAdam": dict(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0, maximize=False, foreach=None,
                      capturable=False, decoupled_weight_decay=False, differentiable=False),
        "Adadelta": dict(lr=1.0, rho=0.9, eps=1e-06, weight_decay=0, maximize=False, capturable=False,
                         foreach=None, differentiable=False),
        "Rprop": dict(lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-06, 50), foreach=None, maximize=False,
                      differentiable=False, capturable=False),
    }
    for name, defaults in expected.items():
        opt = getattr(optim, name)(_params()[:1])
        assert opt.defaults == defaults, name
        assert list(opt.defaults) == list(defaults), name
        group = opt.state_dict()["param_groups"][0]
        assert list(group) == list(defaults) + ["params"], name


def test_add_param_group():
    a, b, c = _params()
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": [b, c], "lr": 0.2})
    assert len(opt.param_groups) == 2
    assert opt.param_groups[1]["lr"] == 0.2 and opt.param_groups[1]["momentum"] == 0.9
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([a])
    with pytest.raises(TypeError, match="ordered collections"):
        opt.add_param_group({"params": {ember.zeros(2, requires_grad=True)}})
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the params is int"):
        opt.add_param_group({"params": [3]})
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        opt.add_param_group({"params": [a * 2]})
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([c, c], lr=0.1)


def test_constructor_errors():
    a = _params()[0]
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts, but got"):
        optim.SGD(a, lr=0.1)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.Adam([], lr=0.1)


def test_required_option():
    a, b = _params()[:2]

    class Plain(optim.Optimizer):
        def __init__(self, params, lr=optim.optimizer.required):
            super().__init__(params, dict(lr=lr))

    with pytest.raises(ValueError, match="didn't specify a value of required optimization parameter lr"):
        Plain([a])
    assert Plain([{"params": [a], "lr": 1.0}, {"params": [b], "lr": 2.0}]).param_groups[1]["lr"] == 2.0


def test_named_parameters():
    a, b, c = _params()
    opt = optim.Adam([("w", a), ("b", b)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]
    with pytest.raises(ValueError, match="with/without names"):
        opt.add_param_group({"params": [c]})
    with pytest.raises(ValueError, match="Some param names are missing"):
        optim.Adam([("w", a), b], lr=0.1)


@pytest.mark.parametrize("args, message", [
    (("SGD", dict(lr=-1)), "Invalid learning rate: -1"),
    (("SGD", dict(lr=0.1, momentum=-0.5)), "Invalid momentum value: -0.5"),
    (("SGD", dict(lr=0.1, weight_decay=-1e-3)), "Invalid weight_decay value: -0.001"),
    (("SGD", dict(lr=0.1, nesterov=True)), "Nesterov momentum requires a momentum and zero dampening"),
    (("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)), "Nesterov momentum requires"),
    (("Adam", dict(lr=-0.01)), "Invalid learning rate: -0.01"),
    (("Adam", dict(eps=-1.0)), "Invalid epsilon value: -1.0"),
    (("Adam", dict(betas=(1.0, 0.999))), "Invalid beta parameter at index 0: 1.0"),
    (("Adam", dict(betas=(0.9, -0.1))), "Invalid beta parameter at index 1: -0.1"),
    (("Adam", dict(weight_decay=-2)), "Invalid weight_decay value: -2"),
    (("AdamW", dict(betas=(0.9, 1.5))), "Invalid beta parameter at index 1: 1.5"),
    (("RMSprop", dict(alpha=-0.1)), "Invalid alpha value: -0.1"),
    (("RMSprop", dict(momentum=-1)), "Invalid momentum value: -1"),
    (("Adagrad", dict(lr_decay=-1)), "Invalid lr_decay value: -1"),
    (("Adagrad", dict(initial_accumulator_value=-1)), "Invalid initial_accumulator_value value: -1"),
    (("Adamax", dict(eps=-1e-8)), "Invalid epsilon value: -1e-08"),
    (("NAdam", dict(momentum_decay=-1)), "Invalid momentum_decay value: -1"),
    (("RAdam", dict(betas=(-0.1, 0.9))), "Invalid beta parameter at index 0: -0.1"),
    (("Adadelta", dict(rho=1.1)), "Invalid rho value: 1.1"),
    (("Rprop", dict(etas=(0.5, 0.9))), "Invalid eta values: 0.5, 0.9"),
])
def test_invalid_arguments(args, message):
    name, kw = args
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        getattr(optim, name)(_params()[:1], **kw)


def test_tensor_lr_must_have_one_element():
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        optim.SGD(_params()[:1], lr=ember.tensor([0.1, 0.2]))


# ---------------------------------------------------------------- zero_grad and step
def test_zero_grad_set_to_none():
    params = _params()
    opt = optim.SGD(params, lr=0.1)
    _set_grads(params, 1)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_zero_grad_in_place():
    params = _params()
    opt = optim.SGD(params, lr=0.1)
    _set_grads(params, 1)
    grads = [p.grad for p in params]
    opt.zero_grad(set_to_none=False)
    for p, g in zip(params, grads):
        assert p.grad is g and not g.requires_grad
        assert not np.any(g.numpy())


@pytest.mark.parametrize("name", ALL)
def test_params_without_grad_are_skipped(name):
    a, b, c = _params()
    opt = _make(name, [a, b, c])
    before = [p.detach().clone() for p in (a, b, c)]
    _set_grads([a], 2)
    opt.step()
    assert not np.allclose(a.detach().numpy(), before[0].numpy())
    assert np.array_equal(b.detach().numpy(), before[1].numpy())
    assert np.array_equal(c.detach().numpy(), before[2].numpy())
    if name == "Adagrad":  # PyTorch's Adagrad makes its state for every parameter up front
        assert opt.state[b]["step"].item() == 0 and opt.state[a]["step"].item() == 1
    else:
        assert b not in opt.state and c not in opt.state


def test_sgd_without_momentum_keeps_no_state():
    params = _params()
    opt = optim.SGD(params, lr=0.1)
    _set_grads(params, 1)
    opt.step()
    assert opt.state_dict()["state"] == {}


def test_step_runs_without_recording_a_graph():
    a = _params()[0]
    opt = optim.Adam([a], lr=0.1)
    _set_grads([a], 1)
    opt.step()
    assert a.grad_fn is None and a.requires_grad and a.is_leaf
    assert all(not t.requires_grad for t in opt.state[a].values())


def test_closure_runs_with_grad_enabled_and_returns_loss():
    a = _params()[0]
    opt = optim.SGD([a], lr=0.1)
    seen = []

    def closure():
        seen.append(ember.is_grad_enabled())
        opt.zero_grad()
        loss = (a * a).sum()
        loss.backward()
        return loss

    expected = (a.detach().numpy() ** 2).sum()
    with ember.no_grad():
        loss = opt.step(closure)
    assert seen == [True]
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-6)
    assert opt.step() is None


@pytest.mark.parametrize("name", ALL)
def test_state_lives_on_the_parameter_device(name, any_device):
    device = any_device
    params = _params(device)
    opt = _make(name, params)
    _set_grads(params, 3)
    opt.step()
    for p in params:
        for key, value in opt.state[p].items():
            if key in ("step", "mu_product"):
                assert value.device.type == "cpu" and value.dtype == ember.float32
            else:
                assert value.device == p.device and value.dtype == p.dtype


# ---------------------------------------------------------------- hooks
def test_step_hooks():
    a = _params()[0]
    opt = optim.SGD([a], lr=0.1)
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append(("pre", o is opt, args, kwargs)))
    h2 = opt.register_step_post_hook(lambda o, args, kwargs: calls.append(("post", o is opt)))
    g1 = register_optimizer_step_pre_hook(lambda o, args, kwargs: calls.append(("global pre",)))
    g2 = register_optimizer_step_post_hook(lambda o, args, kwargs: calls.append(("global post",)))
    try:
        _set_grads([a], 1)
        opt.step()
        assert calls == [("global pre",), ("pre", True, (), {}), ("post", True), ("global post",)]
    finally:
        for h in (h1, h2, g1, g2):
            h.remove()
    calls.clear()
    opt.step()
    assert calls == []


def test_pre_hook_can_replace_arguments():
    a = _params()[0]
    opt = optim.SGD([a], lr=0.1)
    used = []
    opt.register_step_pre_hook(lambda o, args, kwargs: ((), {"closure": lambda: used.append(1) or 7.0}))
    assert opt.step() == 7.0 and used == [1]
    opt.register_step_pre_hook(lambda o, args, kwargs: "bad")
    with pytest.raises(RuntimeError, match="must return None or a tuple"):
        opt.step()


def test_custom_optimizer_with_own_step_gets_hooks_once():
    a = _params()[0]

    class Halving(optim.SGD):
        def step(self, closure=None):
            for group in self.param_groups:
                group["lr"] = group["lr"] / 2
            return super().step(closure)

    opt = Halving([a], lr=0.4)
    calls = []
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append(1))
    before = a.detach().numpy().copy()
    _set_grads([a], 1)
    opt.step()
    assert calls == [1]
    np.testing.assert_allclose(a.detach().numpy(), before - 0.2 * a.grad.numpy(), rtol=1e-6)


def test_init_state_and_update_are_all_a_new_optimizer_needs():
    class SignSGD(optim.Optimizer):
        def __init__(self, params, lr=0.1):
            super().__init__(params, dict(lr=lr))

        def init_state(self, param, group):
            return {"count": 0}

        def update(self, param, grad, state, group):
            state["count"] += 1
            param.add_(grad.sign(), alpha=-group["lr"])

    a = ember.tensor([1.0, -2.0, 3.0], requires_grad=True)
    opt = SignSGD([a], lr=0.25)
    a.grad = ember.tensor([5.0, -0.1, 0.0])
    opt.step()
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), [0.5, -1.5, 3.0])
    assert opt.state_dict()["state"] == {0: {"count": 2}}


def test_state_dict_hooks():
    a = _params()[0]
    opt = optim.SGD([a], lr=0.1)
    events = []
    opt.register_state_dict_pre_hook(lambda o: events.append("pre"))
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1})
    opt.register_load_state_dict_pre_hook(lambda o, sd: {k: v for k, v in sd.items() if k != "extra"})
    opt.register_load_state_dict_post_hook(lambda o: events.append("loaded"))
    sd = opt.state_dict()
    assert sd["extra"] == 1 and events == ["pre"]
    opt.load_state_dict(sd)
    assert events == ["pre", "loaded"]


# ---------------------------------------------------------------- state dicts
def test_state_dict_layout():
    params = _params()
    opt = optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 0.5}], lr=0.1, amsgrad=True)
    _set_grads(params[1:], 0)  # the first parameter has no gradient, so no state
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.5
    assert sorted(sd["state"]) == [1, 2]
    assert list(sd["state"][1]) == ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
    step = sd["state"][1]["step"]
    assert isinstance(step, ember.Tensor) and step.shape == () and step.dtype == ember.float32
    assert step.item() == 1.0


@pytest.mark.parametrize("name", ALL)
def test_state_dict_round_trip(name, any_device):
    """Save after 3 steps, load into a fresh optimizer on copies, continue: identical results."""
    device = any_device
    params = _params(device)
    opt = _make(name, params)
    for seed in range(3):
        _set_grads(params, seed)
        opt.step()
    saved = copy.deepcopy(opt.state_dict())
    twins = [p.detach().clone().requires_grad_(True) for p in params]
    twin_opt = _make(name, twins, lr=0.5)  # options in the state dict win over the constructor's
    twin_opt.load_state_dict(saved)
    assert twin_opt.param_groups[0]["lr"] == 0.01 and twin_opt.param_groups[0]["params"] == twins[:2]
    for p, t in zip(params, twins):
        for key, value in opt.state[p].items():
            loaded = twin_opt.state[t][key]
            assert loaded is not value and loaded.device == value.device and loaded.dtype == value.dtype
    for seed in range(3, 6):
        _set_grads(params, seed)
        _set_grads(twins, seed)
        opt.step()
        twin_opt.step()
    for p, t in zip(params, twins):
        assert np.array_equal(p.detach().cpu().numpy(), t.detach().cpu().numpy())


def test_loading_an_in_memory_state_dict_copies_the_buffers():
    params = _params()
    opt = optim.Adam(params, lr=0.1)
    _set_grads(params, 0)
    opt.step()
    twins = [p.detach().clone().requires_grad_(True) for p in params]
    twin_opt = optim.Adam(twins, lr=0.1)
    twin_opt.load_state_dict(opt.state_dict())
    _set_grads(twins, 1)
    twin_opt.step()
    assert opt.state[params[0]]["step"].item() == 1 and twin_opt.state[twins[0]]["step"].item() == 2
    assert not np.allclose(opt.state[params[0]]["exp_avg"].numpy(), twin_opt.state[twins[0]]["exp_avg"].numpy())


def test_load_casts_state_to_the_parameter_dtype():
    p64 = ember.tensor([1.0, 2.0], dtype=ember.float64, requires_grad=True)
    opt = optim.Adam([_params()[1][:2].detach().requires_grad_(True)], lr=0.1)
    opt.param_groups[0]["params"][0].grad = ember.ones(2)
    opt.step()
    opt64 = optim.Adam([p64], lr=0.1)
    opt64.load_state_dict(opt.state_dict())
    state = opt64.state[p64]
    assert state["exp_avg"].dtype == ember.float64 and state["step"].dtype == ember.float32


def test_load_state_dict_accepts_old_number_steps_and_missing_options():
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adam([a], lr=0.1)
    old = {"state": {0: {"step": 4, "exp_avg": ember.zeros(2), "exp_avg_sq": ember.ones(2)}},
           "param_groups": [{"lr": 0.2, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "params": [0]}]}
    opt.load_state_dict(old)
    assert opt.state[a]["step"].dtype == ember.float32 and opt.state[a]["step"].item() == 4
    assert opt.param_groups[0]["amsgrad"] is False and opt.param_groups[0]["lr"] == 0.2
    a.grad = ember.ones(2)
    opt.step()
    assert opt.state[a]["step"].item() == 5


def test_load_state_dict_errors():
    params = _params()
    opt = optim.SGD([{"params": params[:2]}, {"params": params[2:]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD(params, lr=0.1).load_state_dict(opt.state_dict())
    other = optim.SGD([{"params": params[:1]}, {"params": params[1:]}], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        other.load_state_dict(opt.state_dict())


def test_repr_lists_group_options():
    opt = optim.SGD(_params()[:1], lr=0.1, momentum=0.9)
    text = repr(opt)
    assert text.startswith("SGD (\nParameter Group 0\n") and "    lr: 0.1\n" in text
    assert "    momentum: 0.9\n" in text and "params" not in text and text.endswith(")")


def test_optimizer_survives_deepcopy():
    params = _params()
    opt = optim.Adam(params, lr=0.1)
    _set_grads(params, 0)
    opt.step()
    clone = copy.deepcopy(opt)
    assert clone.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clone.step()
