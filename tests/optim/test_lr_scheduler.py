"""Learning-rate schedulers: lr sequences against closed forms, state dicts, warnings, errors."""
import math
import pickle
import warnings

import numpy as np
import pytest

import ember
from ember import optim
from ember.optim import lr_scheduler as L

BASE = [0.1, 0.5]  # two param groups with different initial learning rates
N = 40


def _sgd(momentum=0.9):
    params = [ember.zeros(2, requires_grad=True), ember.zeros(3, requires_grad=True)]
    return optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": BASE[1]}], lr=BASE[0],
                     momentum=momentum)


def _run(scheduler, steps=N):
    """The lrs at epochs 0..steps (epoch 0 is set by the constructor)."""
    lrs = [scheduler.get_last_lr()]
    for _ in range(steps):
        scheduler.optimizer.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr())
        assert lrs[-1] == [g["lr"] for g in scheduler.optimizer.param_groups]
    return np.array(lrs)


def _expected(fn, steps=N):
    """fn(base_lr, epoch) for each epoch and group."""
    return np.array([[fn(b, e) for b in BASE] for e in range(steps + 1)])


def _cosine(base, eta_min, t_cur, t_i):
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2


CLOSED_FORMS = {
    "StepLR": (lambda o: L.StepLR(o, step_size=3, gamma=0.5), lambda b, e: b * 0.5 ** (e // 3)),
    "MultiStepLR": (lambda o: L.MultiStepLR(o, milestones=[9, 2, 5, 5], gamma=0.3),
                    lambda b, e: b * 0.3 ** ((e >= 2) + 2 * (e >= 5) + (e >= 9))),
    "ExponentialLR": (lambda o: L.ExponentialLR(o, gamma=0.9), lambda b, e: b * 0.9 ** e),
    "CosineAnnealingLR": (lambda o: L.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
                          lambda b, e: _cosine(b, 0.01, e, 7)),  # past T_max it climbs back, as in PyTorch
    "LambdaLR": (lambda o: L.LambdaLR(o, lambda e: 1 / (1 + e)), lambda b, e: b / (1 + e)),
    "MultiplicativeLR": (lambda o: L.MultiplicativeLR(o, lambda e: 0.95), lambda b, e: b * 0.95 ** e),
    "LinearLR": (lambda o: L.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=6),
                 lambda b, e: b * (0.2 + 0.7 * min(e, 6) / 6)),
    "ConstantLR": (lambda o: L.ConstantLR(o, factor=0.4, total_iters=4), lambda b, e: b * (0.4 if e < 4 else 1)),
    "PolynomialLR": (lambda o: L.PolynomialLR(o, total_iters=8, power=2.0),
                     lambda b, e: b * (1 - min(e, 8) / 8) ** 2),
}


@pytest.mark.parametrize("name", list(CLOSED_FORMS))
def test_lr_sequence_matches_closed_form(name):
    make, fn = CLOSED_FORMS[name]
    np.testing.assert_allclose(_run(make(_sgd())), _expected(fn), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", [n for n in CLOSED_FORMS if n not in ("LambdaLR", "MultiplicativeLR")])
def test_step_with_epoch_uses_closed_form_and_warns(name):
    make, fn = CLOSED_FORMS[name]
    scheduler = make(_sgd())
    scheduler.optimizer.step()
    for epoch in [5, 2, 17, 3]:
        with pytest.warns(UserWarning, match="epoch parameter in `scheduler.step\\(\\)`"):
            scheduler.step(epoch)
        np.testing.assert_allclose(scheduler.get_last_lr(), [fn(b, epoch) for b in BASE], rtol=1e-12)


def test_lambda_per_group():
    opt = _sgd()
    scheduler = L.LambdaLR(opt, [lambda e: 0.5 ** e, lambda e: e + 1])
    lrs = _run(scheduler, 6)
    np.testing.assert_allclose(lrs[:, 0], [0.1 * 0.5 ** e for e in range(7)])
    np.testing.assert_allclose(lrs[:, 1], [0.5 * (e + 1) for e in range(7)])
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 3"):
        L.LambdaLR(_sgd(), [lambda e: 1] * 3)
    with pytest.raises(TypeError, match="lr_lambda should be a function, but got float"):
        L.MultiplicativeLR(_sgd(), 0.5)


def _warm_restarts_reference(base, epoch, t_0, t_mult, eta_min):
    t_i, t_cur = t_0, epoch
    while t_cur >= t_i:
        t_cur -= t_i
        t_i *= t_mult
    return _cosine(base, eta_min, t_cur, t_i)


@pytest.mark.parametrize("t_mult", [1, 2, 3])
def test_cosine_warm_restarts(t_mult):
    scheduler = L.CosineAnnealingWarmRestarts(_sgd(), T_0=3, T_mult=t_mult, eta_min=0.001)
    expected = _expected(lambda b, e: _warm_restarts_reference(b, e, 3, t_mult, 0.001))
    np.testing.assert_allclose(_run(scheduler), expected, rtol=1e-12)


def test_cosine_warm_restarts_fractional_epochs():
    scheduler = L.CosineAnnealingWarmRestarts(_sgd(), T_0=2, T_mult=3, eta_min=0.0)
    for epoch in [0, 0.5, 1.7, 2, 3.3, 7.9, 8, 9.5, 26, 30.25]:
        scheduler.step(epoch)
        expected = [_warm_restarts_reference(b, epoch, 2, 3, 0.0) for b in BASE]
        np.testing.assert_allclose(scheduler.get_last_lr(), expected, rtol=1e-12, atol=1e-15)
        assert scheduler.last_epoch == math.floor(epoch)
    with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
        scheduler.step(-1)


def _one_cycle_reference(step, max_lr, total, pct, div, final_div, three_phase, cos, momenta=(0.85, 0.95)):
    """(lr, momentum) of the one-cycle policy at ``step``, phase by phase."""
    initial, low = max_lr / div, max_lr / div / final_div
    m_base, m_max = momenta
    rise = pct * total - 1
    if three_phase:
        phases = [(rise, initial, max_lr, m_max, m_base), (2 * pct * total - 2, max_lr, initial, m_base, m_max),
                  (total - 1, initial, low, m_max, m_max)]
    else:
        phases = [(rise, initial, max_lr, m_max, m_base), (total - 1, max_lr, low, m_base, m_max)]
    start = 0.0
    for i, (end, lr0, lr1, m0, m1) in enumerate(phases):
        if step <= end or i == len(phases) - 1:
            pct_done = (step - start) / (end - start)
            w = (1 - math.cos(math.pi * pct_done)) / 2 if cos else pct_done
            return lr0 + (lr1 - lr0) * w, m0 + (m1 - m0) * w
        start = end


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_one_cycle(three_phase, strategy):
    opt = _sgd()
    scheduler = L.OneCycleLR(opt, max_lr=[1.0, 2.0], total_steps=N, pct_start=0.25, anneal_strategy=strategy,
                             div_factor=10.0, final_div_factor=100.0, three_phase=three_phase)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.2]
    for step in range(N):
        for group, max_lr in zip(opt.param_groups, [1.0, 2.0]):
            lr, momentum = _one_cycle_reference(step, max_lr, N, 0.25, 10.0, 100.0, three_phase, strategy == "cos")
            assert group["lr"] == pytest.approx(lr, rel=1e-12)
            assert group["momentum"] == pytest.approx(momentum, rel=1e-12)
        opt.step()
        scheduler.step()
    message = f"Tried to step {N + 1} times. The specified number of total steps is {N}"
    with pytest.raises(ValueError, match=message):
        scheduler.step()


def test_one_cycle_cycles_adam_beta1():
    params = [ember.zeros(2, requires_grad=True)]
    opt = optim.Adam(params, lr=0.1, betas=(0.9, 0.99))
    scheduler = L.OneCycleLR(opt, max_lr=1.0, epochs=2, steps_per_epoch=5, base_momentum=0.8, max_momentum=0.9)
    betas = [opt.param_groups[0]["betas"]]
    for _ in range(9):
        opt.step()
        scheduler.step()
        betas.append(opt.param_groups[0]["betas"])
    assert betas[0] == (0.9, 0.99) and all(b[1] == 0.99 for b in betas)
    for step, (beta1, _) in enumerate(betas):
        assert beta1 == pytest.approx(_one_cycle_reference(step, 1.0, 10, 0.3, 25.0, 1e4, False, True,
                                                           (0.8, 0.9))[1])
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        L.OneCycleLR(optim.Adagrad(params), max_lr=1.0, total_steps=10)


@pytest.mark.parametrize("kwargs, message", [
    (dict(max_lr=1.0), "You must define either total_steps OR \\(epochs AND steps_per_epoch\\)"),
    (dict(max_lr=1.0, total_steps=0), "Expected positive integer total_steps, but got 0"),
    (dict(max_lr=1.0, epochs=-1, steps_per_epoch=3), "Expected positive integer epochs, but got -1"),
    (dict(max_lr=1.0, total_steps=10, pct_start=1.5), "Expected float between 0 and 1 pct_start, but got 1.5"),
    (dict(max_lr=1.0, total_steps=10, anneal_strategy="cubic"), "anneal_strategy must be one of 'cos' or"),
    (dict(max_lr=[1.0], total_steps=10), "max_lr must have the same length as optimizer.param_groups"),
])
def test_one_cycle_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        L.OneCycleLR(_sgd(), **kwargs)


def _cyclic_reference(it, base, peak, up, down, mode, gamma, m_base=0.8, m_max=0.9):
    total = up + down
    cycle = math.floor(1 + it / total)
    pos = it - (cycle - 1) * total  # iterations into the current cycle
    frac = pos / up if pos <= up else 1 - (pos - up) / down
    scale = {"triangular": 1.0, "triangular2": 0.5 ** (cycle - 1), "exp_range": gamma ** it}[mode]
    return base + (peak - base) * frac * scale, m_max - (m_max - m_base) * frac * scale


@pytest.mark.parametrize("mode, up, down", [("triangular", 4, 6), ("triangular2", 3, None),
                                            ("exp_range", 5, 2)])
def test_cyclic(mode, up, down):
    opt = _sgd()
    scheduler = L.CyclicLR(opt, base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=up, step_size_down=down, mode=mode,
                           gamma=0.97)
    for it in range(N):
        for group, base in zip(opt.param_groups, [0.01, 0.02]):
            lr, momentum = _cyclic_reference(it, base, 0.1, up, down or up, mode, 0.97)
            assert group["lr"] == pytest.approx(lr, rel=1e-12, abs=1e-15)
            assert group["momentum"] == pytest.approx(momentum, rel=1e-12)
        opt.step()
        scheduler.step()


def test_cyclic_custom_scale_fn_and_no_momentum():
    opt = optim.Adagrad([ember.zeros(2, requires_grad=True)], lr=1.0)
    scheduler = L.CyclicLR(opt, 0.0, 1.0, step_size_up=2, scale_fn=lambda x: 1 / x, scale_mode="cycle",
                           cycle_momentum=False)
    assert _run(scheduler, 8)[:, 0].tolist() == pytest.approx([0, 0.5, 1, 0.5, 0, 0.25, 0.5, 0.25, 0])
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        L.CyclicLR(opt, 0.0, 1.0)
    with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
        L.CyclicLR(_sgd(), 0.0, 1.0, mode="square")


def test_reduce_on_plateau_min_rel_with_cooldown():
    opt = _sgd()
    scheduler = L.ReduceLROnPlateau(opt, patience=2, cooldown=1, factor=0.5, min_lr=[0.01, 0.2], threshold=0.1)
    metrics = [5, 4, 4.5, 4.4, 4.3, 4.2, 4.1, 3, 3, 3, 3, 3, 3, 3, 3, 3]
    # calls 1-2 improve (best 4); 3, 4, 5 are bad -> reduce on call 5, call 6 is cooldown; call 8 improves
    # (best 3); 9, 10, 11 bad -> reduce on 11, 12 cooldown; 13, 14, 15 bad -> reduce on 15.
    expected_factor = [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.125, 0.125]
    for metric, factor in zip(metrics, expected_factor):
        scheduler.step(ember.tensor(metric))
        expected = [max(b * factor, m) for b, m in zip(BASE, [0.01, 0.2])]
        np.testing.assert_allclose(scheduler.get_last_lr(), expected, rtol=1e-12)
    assert scheduler.best == 3.0 and scheduler.last_epoch == len(metrics)


def test_reduce_on_plateau_max_abs():
    opt = _sgd()
    scheduler = L.ReduceLROnPlateau(opt, mode="max", threshold_mode="abs", threshold=0.5, patience=0, factor=0.1)
    lrs = []
    for metric in [1, 1.2, 2, 2.1, 3, 3]:
        scheduler.step(metric)
        lrs.append(scheduler.get_last_lr()[0])
    # 1.2 is not > 1 + 0.5 (reduce); 2 is (keep); 2.1 no (reduce); 3 yes; 3 no (reduce)
    np.testing.assert_allclose(lrs, [0.1, 0.01, 0.01, 0.001, 0.001, 0.0001], rtol=1e-12)


def test_reduce_on_plateau_errors():
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        L.ReduceLROnPlateau(_sgd(), factor=1.0)
    with pytest.raises(ValueError, match="mode middle is unknown!"):
        L.ReduceLROnPlateau(_sgd(), mode="middle")
    with pytest.raises(ValueError, match="threshold mode rel2 is unknown!"):
        L.ReduceLROnPlateau(_sgd(), threshold_mode="rel2")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
        L.ReduceLROnPlateau(_sgd(), min_lr=[0.1])
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        L.ReduceLROnPlateau([])


def test_sequential():
    opt = _sgd()
    scheduler = L.SequentialLR(opt, [L.LinearLR(opt, start_factor=0.1, total_iters=3), L.ExponentialLR(opt, 0.9),
                                     L.StepLR(opt, step_size=2)], milestones=[4, 9])

    def expected(b, e):
        if e < 4:
            return b * (0.1 + 0.9 * min(e, 3) / 3)
        if e < 9:
            return b * 0.9 ** (e - 4)
        return b * 0.1 ** ((e - 9) // 2)
    np.testing.assert_allclose(_run(scheduler), _expected(expected), rtol=1e-12, atol=1e-300)


def test_chained():
    opt = _sgd()
    scheduler = L.ChainedScheduler([L.ConstantLR(opt, factor=0.5, total_iters=3), L.ExponentialLR(opt, 0.9)])
    expected = _expected(lambda b, e: b * (0.5 if e < 3 else 1) * 0.9 ** e)
    np.testing.assert_allclose(_run(scheduler), expected, rtol=1e-12)


def test_composite_errors():
    opt = _sgd()
    with pytest.raises(ValueError, match="expects at least one scheduler"):
        L.SequentialLR(opt, [], [])
    with pytest.raises(ValueError, match="number of schedulers 2 and the number of milestones to be equal to 0"):
        L.SequentialLR(opt, [L.ConstantLR(opt), L.ConstantLR(opt)], [])
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
        L.ChainedScheduler([L.ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match="expects all schedulers to belong to the same optimizer"):
        L.SequentialLR(opt, [L.ConstantLR(_sgd())], [])


# ---------------------------------------------------------------- state dicts
ROUND_TRIP = {
    "StepLR": lambda o: L.StepLR(o, 3, gamma=0.5),
    "MultiStepLR": lambda o: L.MultiStepLR(o, [3, 7]),
    "CosineAnnealingLR": lambda o: L.CosineAnnealingLR(o, 9),
    "CosineAnnealingWarmRestarts": lambda o: L.CosineAnnealingWarmRestarts(o, 2, T_mult=2),
    "LinearLR": lambda o: L.LinearLR(o, total_iters=12),
    "PolynomialLR": lambda o: L.PolynomialLR(o, total_iters=15, power=0.5),
    "OneCycleLR": lambda o: L.OneCycleLR(o, 1.0, total_steps=30),
    "CyclicLR": lambda o: L.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="triangular2"),
    "SequentialLR": lambda o: L.SequentialLR(o, [L.ConstantLR(o, 0.5, 2), L.ExponentialLR(o, 0.8)], [4]),
    "ChainedScheduler": lambda o: L.ChainedScheduler([L.ExponentialLR(o, 0.9), L.StepLR(o, 5)]),
}


@pytest.mark.parametrize("name", list(ROUND_TRIP))
def test_scheduler_state_dict_round_trip(name):
    """Save after 7 steps (pickled, as a checkpoint would be), resume elsewhere: same lrs after."""
    make = ROUND_TRIP[name]
    opt = _sgd()
    scheduler = make(opt)
    _run(scheduler, 7)
    saved_opt = pickle.loads(pickle.dumps(opt.state_dict()))
    saved_sched = pickle.loads(pickle.dumps(scheduler.state_dict()))
    expected = _run(scheduler, 15)

    opt2 = _sgd()
    scheduler2 = make(opt2)
    opt2.load_state_dict(saved_opt)
    scheduler2.load_state_dict(saved_sched)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # resuming in the right order warns about nothing
        assert _run(scheduler2, 15)[1:].tolist() == expected[1:].tolist()


def test_scheduler_state_dict_keys_match_pytorch():
    opt = _sgd()
    assert L.StepLR(opt, 3).state_dict() == {
        "step_size": 3, "gamma": 0.1, "base_lrs": BASE, "last_epoch": 0, "_step_count": 1, "_is_initial": False,
        "_get_lr_called_within_step": False, "_last_lr": BASE}
    keys = list(L.CyclicLR(_sgd(), 0.01, 0.1).state_dict())
    assert keys == ["max_lrs", "total_size", "step_ratio", "mode", "gamma", "scale_mode", "cycle_momentum",
                    "use_beta1", "base_momentums", "max_momentums", "base_lrs", "last_epoch", "_step_count",
                    "_is_initial", "_get_lr_called_within_step", "_last_lr", "_scale_fn_custom"]
    assert list(L.ReduceLROnPlateau(_sgd()).state_dict()) == [
        "factor", "default_min_lr", "min_lrs", "patience", "cooldown", "eps", "last_epoch", "_last_lr",
        "mode_worse", "mode", "threshold", "threshold_mode", "best", "cooldown_counter", "num_bad_epochs"]
    seq = L.SequentialLR(opt, [L.ConstantLR(opt), L.ExponentialLR(opt, 0.9)], [3]).state_dict()
    assert list(seq) == ["_milestones", "last_epoch", "_last_lr", "_schedulers"] and len(seq["_schedulers"]) == 2


def test_lambda_state_dict_saves_callable_objects_only():
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate ** epoch

    opt = _sgd()
    scheduler = L.LambdaLR(opt, [lambda e: 1.0, Decay(0.5)])
    state = scheduler.state_dict()
    assert state["lr_lambdas"] == [None, {"rate": 0.5}]
    other = L.LambdaLR(_sgd(), [lambda e: 1.0, Decay(0.9)])
    other.load_state_dict(state)
    assert other.lr_lambdas[1].rate == 0.5


def test_reduce_on_plateau_round_trip():
    opt = _sgd()
    scheduler = L.ReduceLROnPlateau(opt, patience=1, mode="max")
    for metric in [1, 2, 2, 2]:
        scheduler.step(metric)
    other = L.ReduceLROnPlateau(_sgd())
    other.load_state_dict(pickle.loads(pickle.dumps(scheduler.state_dict())))
    assert (other.mode, other.best, other.num_bad_epochs, other.mode_worse) == ("max", 2, 0, -math.inf)


# ---------------------------------------------------------------- base behaviour
def test_initial_lr_and_resuming():
    opt = _sgd()
    L.StepLR(opt, 2)
    assert [g["initial_lr"] for g in opt.param_groups] == BASE
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified in param_groups\\[0\\]"):
        L.StepLR(_sgd(), 2, last_epoch=3)
    resumed = L.StepLR(opt, 2, gamma=0.5, last_epoch=4)  # resuming uses initial_lr, not the current lr
    assert resumed.last_epoch == 5 and resumed.base_lrs == BASE
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        L.StepLR([], 2)


def test_warns_when_stepped_before_the_optimizer():
    opt = _sgd()
    scheduler = L.ExponentialLR(opt, 0.9)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        scheduler.step()
    opt2 = _sgd()
    scheduler2 = L.ExponentialLR(opt2, 0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt2.step()
        scheduler2.step()
        scheduler2.step()


def test_get_lr_outside_step_warns():
    scheduler = L.StepLR(_sgd(), 2)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        scheduler.get_lr()


def test_tensor_lr_is_updated_in_place():
    lr = ember.tensor(0.1)
    opt = optim.SGD([ember.zeros(2, requires_grad=True)], lr=lr)
    scheduler = L.ExponentialLR(opt, 0.5)
    opt.step()
    scheduler.step()
    assert opt.param_groups[0]["lr"] is lr and lr.item() == pytest.approx(0.05)
    last = scheduler.get_last_lr()[0]
    assert isinstance(last, ember.Tensor) and last is not lr


@pytest.mark.parametrize("make, message", [
    (lambda o: L.ConstantLR(o, factor=1.5), "Constant multiplicative factor expected to be between 0 and 1"),
    (lambda o: L.LinearLR(o, start_factor=0), "Starting multiplicative factor expected to be greater than 0"),
    (lambda o: L.LinearLR(o, end_factor=2), "Ending multiplicative factor expected to be between 0 and 1"),
    (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=0), "Expected positive integer T_0, but got 0"),
    (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=1.5), "Expected integer T_mult >= 1, but got 1.5"),
    (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=2, eta_min="0"), "Expected float or int eta_min"),
])
def test_scheduler_argument_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make(_sgd())


def test_training_loop_with_scheduler():
    """The usual loop: loss.backward(), optimizer.step(), scheduler.step(), optimizer.zero_grad()."""
    w = ember.tensor([3.0, -2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.2, momentum=0.5)
    scheduler = L.StepLR(opt, step_size=5, gamma=0.5)
    ref_w, buf, lrs = np.array([3.0, -2.0]), None, []
    for epoch in range(12):
        loss = (w * w).sum()
        loss.backward()
        opt.step()
        opt.zero_grad()
        lr = 0.2 * 0.5 ** (epoch // 5)
        g = 2 * ref_w
        buf = g if buf is None else 0.5 * buf + g
        ref_w = ref_w - lr * buf
        lrs.append(scheduler.get_last_lr()[0])
        scheduler.step()
    np.testing.assert_allclose(lrs, [0.2 * 0.5 ** (e // 5) for e in range(12)])
    np.testing.assert_allclose(w.detach().numpy(), ref_w, rtol=1e-5)
