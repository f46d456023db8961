"""LBFGS, ASGD, Adafactor, Muon, swa_utils and swap_in_optimizer_params_and_state.

Each update is checked against a float64 numpy re-statement of PyTorch's algorithm on
random data; L-BFGS's strong-Wolfe line search against a recorded PyTorch run
(tests/fixtures/lbfgs_strong_wolfe.json, see record_lbfgs_strong_wolfe.py beside it).
"""
import json
import math
import pathlib

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.optim import swa_utils

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"


def _t(a, requires_grad=False, dtype=ember.float64):
    return ember.tensor(np.asarray(a), dtype=dtype, requires_grad=requires_grad)


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


# ---------------------------------------------------------------- problem: f(W, b) = sum(sin(X @ W + b) ** 2)
def _problem(seed=0, rows=7, cols=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((rows, 5)), rng.standard_normal((5, cols)), rng.standard_normal(cols)


def _grads_np(X, W, b):
    z = X @ W + b
    dz = 2 * np.sin(z) * np.cos(z)
    return X.T @ dz, dz.sum(0)


def _run_ember(opt_cls, X, W0, b0, steps, dtype=ember.float64, with_bias=True, **kw):
    W, b = _t(W0, True, dtype), _t(b0, True, dtype)
    opt = opt_cls([W, b] if with_bias else [W], **kw)
    Xt = _t(X, dtype=dtype)
    for _ in range(steps):
        opt.zero_grad()
        (ember.sin(Xt @ W + b) ** 2).sum().backward()
        opt.step()
    return opt, W, b


# ---------------------------------------------------------------- LBFGS
def _lbfgs_np(x, fg, lr, max_iter, history, tol_grad=1e-7, tol_change=1e-9):
    """One LBFGS.step without line search, as float64 numpy (fresh state)."""
    f, g = fg(x)
    evals = 1
    if np.abs(g).max() <= tol_grad:
        return x, evals
    dirs, stps, ro, H = [], [], [], 1.0
    d = t = prev_g = None
    for n in range(1, max_iter + 1):
        if n == 1:
            d = -g
        else:
            y, s = g - prev_g, d * t
            ys = y @ s
            if ys > 1e-10:
                if len(dirs) == history:
                    dirs.pop(0), stps.pop(0), ro.pop(0)
                dirs.append(y), stps.append(s), ro.append(1 / ys)
                H = ys / (y @ y)
            q, al = -g, [0.0] * len(dirs)
            for i in reversed(range(len(dirs))):
                al[i] = (stps[i] @ q) * ro[i]
                q = q - al[i] * dirs[i]
            r = q * H
            for i in range(len(dirs)):
                r = r + stps[i] * (al[i] - (dirs[i] @ r) * ro[i])
            d = r
        prev_g, prev_f = g.copy(), f
        t = min(1.0, 1.0 / np.abs(g).sum()) * lr if n == 1 else lr
        if g @ d > -tol_change:
            break
        x = x + t * d
        if n == max_iter:
            break
        f, g = fg(x)
        evals += 1
        if np.abs(g).max() <= tol_grad or np.abs(d * t).max() <= tol_change or abs(f - prev_f) < tol_change:
            break
    return x, evals


def test_lbfgs_matches_numpy_two_loop_recursion():
    X, W0, b0 = _problem()

    def fg(v):
        W, b = v[:20].reshape(5, 4), v[20:]
        gW, gb = _grads_np(X, W, b)
        return (np.sin(X @ W + b) ** 2).sum(), np.concatenate([gW.ravel(), gb])

    expected, evals = _lbfgs_np(np.concatenate([W0.ravel(), b0]), fg, lr=0.7, max_iter=9, history=3)
    W, b = _t(W0, True), _t(b0, True)
    opt = ember.optim.LBFGS([W, b], lr=0.7, max_iter=9, history_size=3)
    Xt = _t(X)

    def closure():
        opt.zero_grad()
        loss = (ember.sin(Xt @ W + b) ** 2).sum()
        loss.backward()
        return loss

    first = opt.step(closure)
    assert float(first) == pytest.approx((np.sin(X @ W0 + b0) ** 2).sum(), rel=1e-12)
    np.testing.assert_allclose(np.concatenate([_np(W).ravel(), _np(b)]), expected, rtol=1e-9, atol=1e-11)
    assert opt.state[W]["func_evals"] == evals and len(opt.state[W]["old_dirs"]) <= 3


@pytest.mark.parametrize("case", range(2))
def test_lbfgs_strong_wolfe_matches_recorded_pytorch(case):
    record = json.loads((FIXTURES / "lbfgs_strong_wolfe.json").read_text())
    expected = record["cases"][case]
    x = _t(record["start"], True)
    opt = ember.optim.LBFGS([x], line_search_fn="strong_wolfe", **expected["options"])

    def closure():
        opt.zero_grad()
        loss = (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
        loss.backward()
        return loss

    losses = [float(opt.step(closure)) for _ in range(3)]
    np.testing.assert_allclose(losses, expected["losses"], rtol=1e-9)
    np.testing.assert_allclose(_np(x), expected["x"], rtol=1e-7, atol=1e-10)
    assert (opt.state[x]["func_evals"], opt.state[x]["n_iter"]) == (expected["func_evals"], expected["n_iter"])


def test_lbfgs_state_dict_round_trip_and_errors():
    X, W0, b0 = _problem(1)
    runs = []
    for reload in (False, True):
        W, b = _t(W0, True), _t(b0, True)
        opt = ember.optim.LBFGS([W, b], max_iter=3, history_size=2, line_search_fn="strong_wolfe")
        Xt = _t(X)

        def closure():
            opt.zero_grad()
            loss = (ember.sin(Xt @ W + b) ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        if reload:
            saved = opt.state_dict()
            assert set(saved["state"][0]) >= {"d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad",
                                              "func_evals", "n_iter"}
            opt = ember.optim.LBFGS([W, b], max_iter=3, history_size=2, line_search_fn="strong_wolfe")
            opt.load_state_dict(saved)
        opt.step(closure)
        runs.append(np.concatenate([_np(W).ravel(), _np(b)]))
    np.testing.assert_array_equal(runs[0], runs[1])
    p = _t([1.0], True)
    with pytest.raises(ValueError, match="per-parameter options"):
        ember.optim.LBFGS([{"params": [p]}, {"params": [_t([2.0], True)]}])
    opt = ember.optim.LBFGS([p], line_search_fn="armijo")
    p.grad = _t([1.0])
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(lambda: (p * p).sum())


# ---------------------------------------------------------------- ASGD
def test_asgd_matches_numpy():
    X, W0, b0 = _problem(2)
    lr, lambd, alpha, t0, wd = 0.05, 0.01, 0.75, 2, 0.1
    W, b = W0.copy(), b0.copy()
    ax = [np.zeros_like(W), np.zeros_like(b)]
    eta, mu = float(np.float32(lr)), 1.0
    for step in range(1, 6):
        grads = _grads_np(X, W, b)
        new = []
        for i, (p, g) in enumerate(zip((W, b), grads)):
            g = -g + wd * p   # maximize
            p = p * (1 - lambd * eta) - eta * g
            ax[i] = ax[i] + (p - ax[i]) * mu if mu != 1 else p.copy()
            new.append(p)
        W, b = new
        # eta and mu are kept as float32 0-d tensors, as in PyTorch
        eta, mu = float(np.float32(lr / (1 + lambd * lr * step) ** alpha)), float(np.float32(1 / max(1, step - t0)))
    opt, Wt, bt = _run_ember(ember.optim.ASGD, X, W0, b0, 5, lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                             weight_decay=wd, maximize=True)
    np.testing.assert_allclose(_np(Wt), W, rtol=1e-10)
    np.testing.assert_allclose(_np(opt.state[Wt]["ax"]), ax[0], rtol=1e-10)
    np.testing.assert_allclose(_np(opt.state[bt]["ax"]), ax[1], rtol=1e-10)
    assert opt.state[Wt]["eta"].item() == pytest.approx(eta, rel=1e-6)
    assert opt.state[Wt]["mu"].item() == pytest.approx(mu, rel=1e-6)
    with pytest.raises(ValueError, match="Invalid weight_decay value: -1"):
        ember.optim.ASGD([Wt], weight_decay=-1)


# ---------------------------------------------------------------- Adafactor
def _adafactor_np(X, W, b, steps, lr, beta2_decay=-0.8, eps1=None, eps2=1e-3, d=1.0, wd=0.0):
    eps1 = np.finfo(np.float64).eps if eps1 is None else eps1
    R, C, v = np.zeros((W.shape[0], 1)), np.zeros((1, W.shape[1])), np.zeros_like(b)
    for step in range(1, steps + 1):
        gW, gb = _grads_np(X, W, b)
        beta = step ** beta2_decay
        rho = min(lr, 1 / math.sqrt(step))
        out = []
        for p, g in ((W, gW), (b, gb)):
            alpha = max(eps2, np.sqrt((p * p).mean())) * rho
            p = p * (1 - lr * wd)
            if g.ndim > 1:
                R += beta * ((g * g).mean(-1, keepdims=True) - R)
                C += beta * ((g * g).mean(-2, keepdims=True) - C)
                var = R @ C / max(R.mean(), eps1)
            else:
                v += beta * (g * g - v)
                var = v.copy()
            u = g / np.sqrt(np.maximum(var, eps1 * eps1))
            out.append(p - alpha / max(1.0, np.sqrt((u * u).mean()) / d) * u)
        W, b = out
    return W, b


@pytest.mark.parametrize("options", [dict(lr=0.05), dict(lr=0.05, weight_decay=0.1, d=1.5, eps=(1e-20, 1e-3))])
def test_adafactor_matches_numpy(options):
    X, W0, b0 = _problem(3)
    eps1, eps2 = options.get("eps", (None, 1e-3))
    W, b = _adafactor_np(X, W0, b0, 4, options["lr"], eps1=eps1, eps2=eps2, d=options.get("d", 1.0),
                         wd=options.get("weight_decay", 0.0))
    opt, Wt, bt = _run_ember(ember.optim.Adafactor, X, W0, b0, 4, **options)
    np.testing.assert_allclose(_np(Wt), W, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(bt), b, rtol=1e-10, atol=1e-12)
    assert set(opt.state[Wt]) == {"step", "row_var", "col_var"} and set(opt.state[bt]) == {"step", "variance"}
    with pytest.raises(ValueError, match="beta2_decay should be <= 0 but is: 0.5"):
        ember.optim.Adafactor([Wt], beta2_decay=0.5)


# ---------------------------------------------------------------- Muon
def _newton_schulz_np(G, steps=5, coefficients=(3.4445, -4.775, 2.0315), eps=1e-7):
    a, b, c = coefficients
    x = G.T if G.shape[0] > G.shape[1] else G
    x = x / max(np.linalg.norm(x), eps)
    for _ in range(steps):
        A = x @ x.T
        x = a * x + (b * A + c * A @ A) @ x
    return x.T if G.shape[0] > G.shape[1] else x


@pytest.mark.parametrize("nesterov, adjust", [(True, None), (False, "match_rms_adamw")])
def test_muon_matches_numpy(nesterov, adjust):
    X, W0, b0 = _problem(4)
    lr, wd, momentum = 0.05, 0.1, 0.95
    W, buf = W0.copy(), np.zeros_like(W0)
    for _ in range(3):
        g, _ = _grads_np(X, W, b0)
        buf = buf + (1 - momentum) * (g - buf)
        u = g + momentum * (buf - g) if nesterov else buf
        ratio = math.sqrt(max(1, 5 / 4)) if adjust is None else 0.2 * math.sqrt(5)
        W = W * (1 - lr * wd) - lr * ratio * _newton_schulz_np(u)
    W_e = _t(W0, True)
    b_e = _t(b0)
    opt = ember.optim.Muon([W_e], lr=lr, weight_decay=wd, momentum=momentum, nesterov=nesterov, adjust_lr_fn=adjust)
    Xt = _t(X)
    for _ in range(3):
        opt.zero_grad()
        (ember.sin(Xt @ W_e + b_e) ** 2).sum().backward()
        opt.step()
    # the iteration runs in bfloat16 (8 bits of mantissa), as PyTorch's does
    np.testing.assert_allclose(_np(W_e), W, atol=0.03)
    assert np.abs(_np(W_e) - W0).max() > 0.05
    with pytest.raises(ValueError, match=r"Muon only supports 2D parameters"):
        ember.optim.Muon([_t([1.0, 2.0], True)])


# ---------------------------------------------------------------- checkpoints and groups, every new optimizer
@pytest.mark.parametrize("name, options", [("ASGD", dict(lr=0.05, t0=1)), ("Adafactor", dict(lr=0.05)),
                                           ("Muon", dict(lr=0.05))])
def test_state_dict_round_trip_and_param_groups(name, options):
    X, W0, b0 = _problem(5)
    cls = getattr(ember.optim, name)
    finals = []
    for reload in (False, True):
        W, W2 = _t(W0, True), _t(W0[:, ::-1].copy(), True)
        opt = cls([{"params": [W]}, {"params": [W2], "lr": options["lr"] / 10}], **options)
        Xt = _t(X)
        for step in range(4):
            if reload and step == 2:
                saved = opt.state_dict()
                opt = cls([{"params": [W]}, {"params": [W2], "lr": 1.0}], **options)
                opt.load_state_dict(saved)
                assert opt.param_groups[1]["lr"] == options["lr"] / 10
            opt.zero_grad()
            ((ember.sin(Xt @ W) ** 2).sum() + (ember.sin(Xt @ W2) ** 2).sum()).backward()
            opt.step()
        finals.append((_np(W), _np(W2)))
    # ASGD's float32 eta and mu come back in the parameter's dtype (as PyTorch loads them): rounding only
    np.testing.assert_allclose(finals[0][0], finals[1][0], rtol=1e-7)
    np.testing.assert_allclose(finals[0][1], finals[1][1], rtol=1e-7)
    assert np.abs(finals[0][0] - W0).max() > 5 * np.abs(finals[0][1] - W0[:, ::-1]).max()   # the smaller lr


# ---------------------------------------------------------------- swa_utils
def _net(seed):
    ember.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4).double(), nn.BatchNorm1d(4).double(), nn.Linear(4, 1).double())


def test_averaged_model_swa_and_ema():
    net = _net(0)
    swa = swa_utils.AveragedModel(net)
    ema = swa_utils.AveragedModel(net, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.9), use_buffers=True)
    ema_one = swa_utils.AveragedModel(net, avg_fn=swa_utils.get_ema_avg_fn(0.8))
    rng = np.random.default_rng(0)
    snapshots, ema_ref, ema_one_ref = [], None, None
    for _ in range(4):
        with ember.no_grad():
            for p in net.parameters():
                p.add_(_t(rng.standard_normal(tuple(p.shape))))
        net(_t(rng.standard_normal((6, 3))))   # moves the BatchNorm statistics
        weights = [_np(p) for p in net.parameters()]
        snapshots.append(weights)
        state = weights + [_np(b) for b in net.buffers()]
        ema_ref = state if ema_ref is None else [0.9 * e + 0.1 * s for e, s in zip(ema_ref, state)]
        ema_one_ref = weights if ema_one_ref is None else [0.8 * e + 0.2 * s for e, s in zip(ema_one_ref, weights)]
        for m in (swa, ema, ema_one):
            m.update_parameters(net)
    for i, p in enumerate(swa.parameters()):
        np.testing.assert_allclose(_np(p), np.mean([s[i] for s in snapshots], axis=0), rtol=1e-12)
    ema_state = [_np(p) for p in ema.module.parameters()] + [_np(b) for b in ema.module.buffers()]
    for got, want in zip(ema_state[:-1], ema_ref[:-1]):   # the last buffer is the int64 batch counter
        np.testing.assert_allclose(got, want, rtol=1e-12)
    for got, want in zip(ema_one.parameters(), ema_one_ref):
        np.testing.assert_allclose(_np(got), want, rtol=1e-12)
    # without use_buffers the buffers are the model's, copied
    np.testing.assert_array_equal(_np(swa.module[1].running_mean), _np(net[1].running_mean))
    assert int(swa.n_averaged) == 4 and swa.n_averaged.dtype == ember.int64
    x = _t(rng.standard_normal((5, 3)))
    swa.eval()
    np.testing.assert_allclose(_np(swa(x)), _np(swa.module(x)))


def test_update_bn_recomputes_statistics():
    net = _net(1)
    rng = np.random.default_rng(1)
    batches = [_t(rng.standard_normal((8, 3))) for _ in range(3)]
    loader = [(b, 0) for b in batches]
    net.eval()
    swa_utils.update_bn(loader, net)
    with ember.no_grad():
        hidden = np.concatenate([_np(net[0](b)) for b in batches])
        per_batch_var = [_np(net[0](b)).var(0, ddof=1) for b in batches]
    np.testing.assert_allclose(_np(net[1].running_mean), hidden.mean(0), rtol=1e-10)
    np.testing.assert_allclose(_np(net[1].running_var), np.mean(per_batch_var, 0), rtol=1e-10)
    assert net[1].momentum == 0.1 and not net.training


def test_swalr_schedule():
    for strategy, f in (("linear", lambda t: t), ("cos", lambda t: (1 - math.cos(math.pi * t)) / 2)):
        p = _t([1.0], True)
        opt = ember.optim.SGD([p], lr=0.5)
        sched = swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=4, anneal_strategy=strategy)
        lrs = []
        for _ in range(6):
            opt.step()
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
        expected = [0.05 * f(min(1, k / 4)) + 0.5 * (1 - f(min(1, k / 4))) for k in range(1, 7)]
        np.testing.assert_allclose(lrs, expected, rtol=1e-12)
        state = sched.state_dict()
        assert state["_anneal_strategy"] == strategy and "anneal_func" not in state
    with pytest.raises(ValueError, match="anneal_strategy must by one of 'cos' or 'linear', instead got step"):
        swa_utils.SWALR(opt, swa_lr=0.1, anneal_strategy="step")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0, got -1"):
        swa_utils.SWALR(opt, swa_lr=0.1, anneal_epochs=-1)


# ---------------------------------------------------------------- swap_in_optimizer_params_and_state
def test_swap_in_optimizer_params_and_state():
    rng = np.random.default_rng(2)
    live = _t(rng.standard_normal(3), True)
    opt = ember.optim.Adagrad([live], lr=0.1)
    live.grad = _t(rng.standard_normal(3))
    opt.step()
    live_before, sum_before = _np(live), _np(opt.state[live]["sum"])
    other = _t(rng.standard_normal(3), True)
    other.grad = _t(rng.standard_normal(3))
    swap_state = {"state": {0: {k: v.clone() for k, v in opt.state[live].items()}},
                  "param_groups": [{**{k: v for k, v in opt.param_groups[0].items() if k != "params"}, "lr": 0.5,
                                    "params": [0]}]}
    other_before = _np(other)
    with ember.optim.swap_in_optimizer_params_and_state(opt, {"w": other}, swap_state):
        assert opt.param_groups[0]["params"][0] is other and opt.param_groups[0]["lr"] == 0.5
        opt.step()
    assert opt.param_groups[0]["params"][0] is live and opt.param_groups[0]["lr"] == 0.1
    np.testing.assert_array_equal(_np(live), live_before)
    np.testing.assert_array_equal(_np(opt.state[live]["sum"]), sum_before)
    new_sum = sum_before + _np(other.grad) ** 2
    np.testing.assert_allclose(_np(other), other_before - 0.5 * _np(other.grad) / (np.sqrt(new_sum) + 1e-10),
                               rtol=1e-12)
    np.testing.assert_allclose(_np(swap_state["state"][0]["sum"]), new_sum, rtol=1e-12)   # updated in place
    assert swap_state["state"][0]["step"].item() == 2.0
    with pytest.raises(RuntimeError, match="requires initialized optimizer state"):
        with ember.optim.swap_in_optimizer_params_and_state(ember.optim.SGD([other], lr=1), {}, swap_state):
            pass
    bad = {"state": swap_state["state"], "param_groups": [{"params": [0], "lr": 0.1}]}
    with pytest.raises(RuntimeError, match="Keys only in live"):
        with ember.optim.swap_in_optimizer_params_and_state(opt, {"w": other}, bad):
            pass


# ---------------------------------------------------------------- SparseAdam
def test_sparse_adam_matches_numpy_and_touches_only_named_rows():
    rng = np.random.default_rng(6)
    W0 = rng.standard_normal((6, 3))
    lr, (b1, b2), eps = 0.1, (0.8, 0.9), 1e-8
    emb = nn.Embedding(6, 3, sparse=True).double()
    with ember.no_grad():
        emb.weight.copy_(_t(W0))
    opt = ember.optim.SparseAdam(emb.parameters(), lr=lr, betas=(b1, b2), eps=eps, maximize=True)
    W, m, v = W0.copy(), np.zeros_like(W0), np.zeros_like(W0)
    batches = ([1, 2, 1], [0, 2], [5, 5, 5])
    for step, idx in enumerate(batches, 1):
        g = np.zeros_like(W0)
        np.add.at(g, idx, 3 * W[idx] ** 2)
        rows = sorted(set(idx))
        g = -g   # maximize
        m[rows] += (1 - b1) * (g[rows] - m[rows])
        v[rows] += (1 - b2) * (g[rows] ** 2 - v[rows])
        W[rows] -= lr * math.sqrt(1 - b2 ** step) / (1 - b1 ** step) * m[rows] / (np.sqrt(v[rows]) + eps)
        opt.zero_grad()
        (emb(ember.tensor(idx)) ** 3).sum().backward()
        opt.step()
    np.testing.assert_allclose(_np(emb.weight), W, rtol=1e-12)
    np.testing.assert_array_equal(_np(emb.weight)[[3, 4]], W0[[3, 4]])   # never looked up: untouched
    np.testing.assert_allclose(_np(opt.state[emb.weight]["exp_avg_sq"]), v, rtol=1e-12)
    assert opt.state[emb.weight]["step"] == 3
    fresh = ember.optim.SparseAdam(emb.parameters(), lr=lr)
    fresh.load_state_dict(opt.state_dict())
    assert fresh.state[emb.weight]["step"] == 3 and fresh.param_groups[0]["betas"] == (b1, b2)
    dense = _t([1.0, 2.0], True)
    dense.grad = _t([1.0, 1.0])
    with pytest.raises(RuntimeError, match="does not support dense gradients, please consider Adam instead"):
        ember.optim.SparseAdam([dense]).step()
    with pytest.raises(ValueError, match="Invalid epsilon value: 0"):
        ember.optim.SparseAdam([dense], eps=0)
