"""Each optimizer against a float64 numpy implementation of its documented update rule.

The references below are written from the algorithms PyTorch documents (with the
details PyTorch's implementation fixes: AMSGrad takes the maximum of the raw second
moment; NAdam keeps the momentum product; RAdam switches on rho_t > 5). Parameters and
gradients are random; a run is several steps on two parameters of different shapes.
"""
import math

import numpy as np
import pytest

import ember
from ember import optim

STEPS = 6


# ---------------------------------------------------------------- float64 references
def ref_sgd(p, g, s, t, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * p
    if momentum:
        s["momentum_buffer"] = g.copy() if t == 1 else momentum * s["momentum_buffer"] + (1 - dampening) * g
        g = g + momentum * s["momentum_buffer"] if nesterov else s["momentum_buffer"]
    return p - lr * g


def ref_adam(p, g, s, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False,
             decoupled=False):
    b1, b2 = betas
    g = -g if maximize else g
    if decoupled:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    s["exp_avg"] = b1 * s.get("exp_avg", 0) + (1 - b1) * g
    s["exp_avg_sq"] = b2 * s.get("exp_avg_sq", 0) + (1 - b2) * g * g
    v = s["exp_avg_sq"]
    if amsgrad:
        v = s["max_exp_avg_sq"] = np.maximum(s.get("max_exp_avg_sq", 0), v)
    m_hat = s["exp_avg"] / (1 - b1 ** t)
    return p - lr * m_hat / (np.sqrt(v) / math.sqrt(1 - b2 ** t) + eps)


def ref_adamw(p, g, s, t, lr, weight_decay=1e-2, **kw):
    return ref_adam(p, g, s, t, lr, weight_decay=weight_decay, decoupled=True, **kw)


def ref_rmsprop(p, g, s, t, lr, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * p
    s["square_avg"] = alpha * s.get("square_avg", 0) + (1 - alpha) * g * g
    v = s["square_avg"]
    if centered:
        s["grad_avg"] = alpha * s.get("grad_avg", 0) + (1 - alpha) * g
        v = v - s["grad_avg"] ** 2
    denom = np.sqrt(v) + eps
    if momentum > 0:
        s["momentum_buffer"] = momentum * s.get("momentum_buffer", 0) + g / denom
        return p - lr * s["momentum_buffer"]
    return p - lr * g / denom


def ref_adagrad(p, g, s, t, lr, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * p
    s["sum"] = s.get("sum", initial_accumulator_value) + g * g
    return p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s["sum"]) + eps)


def ref_adamax(p, g, s, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False):
    b1, b2 = betas
    g = -g if maximize else g
    g = g + weight_decay * p
    s["exp_avg"] = b1 * s.get("exp_avg", 0) + (1 - b1) * g
    s["exp_inf"] = np.maximum(b2 * s.get("exp_inf", 0), np.abs(g) + eps)
    return p - lr / (1 - b1 ** t) * s["exp_avg"] / s["exp_inf"]


def ref_nadam(p, g, s, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
              decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    g = -g if maximize else g
    if decoupled_weight_decay:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    s["mu_product"] = s.get("mu_product", 1.0) * mu
    s["exp_avg"] = b1 * s.get("exp_avg", 0) + (1 - b1) * g
    s["exp_avg_sq"] = b2 * s.get("exp_avg_sq", 0) + (1 - b2) * g * g
    m_hat = (mu_next * s["exp_avg"] / (1 - s["mu_product"] * mu_next)
             + (1 - mu) * g / (1 - s["mu_product"]))
    v_hat = s["exp_avg_sq"] / (1 - b2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def ref_radam(p, g, s, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
              maximize=False):
    b1, b2 = betas
    g = -g if maximize else g
    if decoupled_weight_decay:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    s["exp_avg"] = b1 * s.get("exp_avg", 0) + (1 - b1) * g
    s["exp_avg_sq"] = b2 * s.get("exp_avg_sq", 0) + (1 - b2) * g * g
    m_hat = s["exp_avg"] / (1 - b1 ** t)
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
    if rho_t <= 5:
        return p - lr * m_hat
    rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    adaptive = math.sqrt(1 - b2 ** t) / (np.sqrt(s["exp_avg_sq"]) + eps)
    return p - lr * m_hat * rect * adaptive


def ref_adadelta(p, g, s, t, lr, rho=0.9, eps=1e-6, weight_decay=0, maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * p
    s["square_avg"] = rho * s.get("square_avg", 0) + (1 - rho) * g * g
    delta = np.sqrt(s.get("acc_delta", 0) + eps) / np.sqrt(s["square_avg"] + eps) * g
    s["acc_delta"] = rho * s.get("acc_delta", 0) + (1 - rho) * delta * delta
    return p - lr * delta


def ref_rprop(p, g, s, t, lr, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False):
    g = -g if maximize else g
    prev = s.get("prev", np.zeros_like(p))
    size = s.get("step_size", np.full_like(p, lr))
    product = g * prev
    size = np.where(product > 0, np.minimum(size * etas[1], step_sizes[1]),
                    np.where(product < 0, np.maximum(size * etas[0], step_sizes[0]), size))
    g = np.where(product < 0, 0.0, g)
    s["prev"], s["step_size"] = g, size
    return p - np.sign(g) * size


REFERENCES = {"SGD": ref_sgd, "Adam": ref_adam, "AdamW": ref_adamw, "RMSprop": ref_rmsprop,
              "Adagrad": ref_adagrad, "Adamax": ref_adamax, "NAdam": ref_nadam, "RAdam": ref_radam,
              "Adadelta": ref_adadelta, "Rprop": ref_rprop}

# (optimizer, options); lr is given separately so that it can differ per case
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("SGD", dict(lr=0.1, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.95), weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, eps=1e-6)),
    ("Adam", dict(lr=0.01, amsgrad=True, maximize=True, weight_decay=0.05)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.03, weight_decay=0.2, amsgrad=True, betas=(0.85, 0.9))),
    ("AdamW", dict(lr=0.01, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, alpha=0.9)),
    ("RMSprop", dict(lr=0.005, centered=True, momentum=0.5, maximize=True, eps=1e-4)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6, maximize=True)),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.02, betas=(0.8, 0.99), weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.01)),                      # rho_t <= 5 for these steps: the SGD-like branch
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.6))),    # rho_t > 5 from step 2: the rectified branch
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.6), weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.7), weight_decay=0.1, maximize=True)),
    ("Adadelta", dict(lr=1.0)),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4, weight_decay=0.1, maximize=True)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.01, etas=(0.3, 1.5), step_sizes=(0.005, 0.02), maximize=True)),  # hits both clamps
]

STATE_KEYS = {  # the state each optimizer keeps, with PyTorch's names
    "SGD": [], "Adam": ["step", "exp_avg", "exp_avg_sq"], "AdamW": ["step", "exp_avg", "exp_avg_sq"],
    "RMSprop": ["step", "square_avg"], "Adagrad": ["step", "sum"], "Adamax": ["step", "exp_avg", "exp_inf"],
    "NAdam": ["step", "mu_product", "exp_avg", "exp_avg_sq"], "RAdam": ["step", "exp_avg", "exp_avg_sq"],
    "Adadelta": ["step", "square_avg", "acc_delta"], "Rprop": ["step", "prev", "step_size"],
}


def _case_id(case):
    name, kw = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


def _expected_keys(name, kw):
    keys = list(STATE_KEYS[name])
    if name == "SGD" and kw.get("momentum"):
        keys = ["momentum_buffer"]
    if name in ("Adam", "AdamW") and kw.get("amsgrad"):
        keys.append("max_exp_avg_sq")
    if name == "RMSprop":
        keys += ["momentum_buffer"] * (kw.get("momentum", 0) > 0) + ["grad_avg"] * bool(kw.get("centered"))
    return keys


def _float64_tol(name):
    if name == "NAdam":
        return dict(rtol=1e-8, atol=1e-9)  # its momentum product is a float32 scalar, as in PyTorch
    return dict(rtol=1e-11, atol=1e-12)


def _has_float64(device):
    from ember.dispatch.registry import REGISTRY
    return ember.float64 in REGISTRY.available_backend(device).supported_dtypes()


def _random_problem(rng, dtype=np.float32):
    shapes = [(4, 3), (5,)]
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(STEPS)]
    return params, grads


@pytest.mark.parametrize("dtype", [pytest.param(ember.float32, id="float32"),
                                   pytest.param(ember.float64, id="float64")])
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_matches_float64_reference(case, dtype, any_device):
    device = any_device
    name, kw = case
    rng = np.random.default_rng(abs(hash(_case_id(case))) % 2**32)
    init, grads = _random_problem(rng, np.dtype(dtype.numpy))
    params = [ember.tensor(a, device=device, requires_grad=True) for a in init]
    opt = getattr(optim, name)(params, **kw)

    ref_params = [a.astype(np.float64) for a in init]
    ref_states = [{} for _ in init]
    options = {k: v for k, v in kw.items() if k != "lr"}
    for t in range(1, STEPS + 1):
        for p, g in zip(params, grads[t - 1]):
            p.grad = ember.tensor(g, device=device)
        opt.step()
        ref_params = [REFERENCES[name](p, g.astype(np.float64), s, t, kw["lr"], **options)
                      for p, g, s in zip(ref_params, grads[t - 1], ref_states)]

    tol = dict(rtol=2e-5, atol=2e-6) if dtype is ember.float32 else _float64_tol(name)
    for p, ref, ref_state in zip(params, ref_params, ref_states):
        assert p.dtype == dtype and p.device.type == device
        np.testing.assert_allclose(p.detach().cpu().numpy(), ref, **tol)
        state = opt.state[p]
        assert list(state) == _expected_keys(name, kw)
        for key, value in state.items():
            if key == "step":
                assert value.dtype == ember.float32 and value.shape == () and value.device.type == "cpu"
                assert value.item() == STEPS
            elif key == "mu_product":
                assert value.dtype == ember.float32 and value.shape == ()
                np.testing.assert_allclose(value.item(), ref_state[key], rtol=1e-6)
            else:
                assert value.dtype == p.dtype and value.device == p.device and value.shape == p.shape
                np.testing.assert_allclose(value.cpu().numpy(), ref_state[key], **tol)


@pytest.mark.parametrize("name", list(REFERENCES))
def test_gradients_from_backward_and_closure(name, any_device):
    """A least-squares loss differentiated by autograd, stepped through a closure."""
    device = any_device
    rng = np.random.default_rng(7)
    a = rng.standard_normal((6, 3))
    b = rng.standard_normal(6)
    w0 = rng.standard_normal(3)
    # float64 where the device has it; elsewhere (mps) float32 against the same float64
    # reference, computed in numpy from the float32-rounded inputs
    dtype = ember.float64 if _has_float64(device) else ember.float32
    a, b, w0 = (x.astype(np.dtype(dtype.numpy)).astype(np.float64) for x in (a, b, w0))
    tol = _float64_tol(name) if dtype is ember.float64 else dict(rtol=1e-4, atol=1e-5)
    w = ember.tensor(w0, dtype=dtype, device=device, requires_grad=True)
    A = ember.tensor(a, dtype=dtype, device=device)
    B = ember.tensor(b, dtype=dtype, device=device)
    lr = {"SGD": 0.05, "Adagrad": 0.05, "Adadelta": 1.0}.get(name, 0.01)
    opt = getattr(optim, name)([w], lr=lr)

    def closure():
        opt.zero_grad()
        loss = ((A @ w - B) ** 2).sum()
        loss.backward()
        return loss

    ref_w, ref_state, losses = w0.copy(), {}, []
    for t in range(1, STEPS + 1):
        loss = opt.step(closure)
        ref_loss = ((a @ ref_w - b) ** 2).sum()
        np.testing.assert_allclose(loss.item(), ref_loss, rtol=1e-10 if dtype is ember.float64 else 1e-5)
        losses.append(ref_loss)
        ref_w = REFERENCES[name](ref_w, 2 * a.T @ (a @ ref_w - b), ref_state, t, lr)
    assert w.dtype is dtype and w.device.type == device
    np.testing.assert_allclose(w.detach().cpu().numpy(), ref_w, **tol)
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("name", list(REFERENCES))
def test_per_group_options(name):
    """Two groups with different lr (and one a different option) follow their own options."""
    rng = np.random.default_rng(3)
    init, grads = _random_problem(rng, np.float64)
    params = [ember.tensor(a, requires_grad=True) for a in init]
    extra = {"SGD": dict(momentum=0.9), "RMSprop": dict(centered=True), "Adagrad": dict(lr_decay=0.1),
             "NAdam": dict(momentum_decay=0.01), "Adadelta": dict(rho=0.5),
             "Rprop": dict(etas=(0.3, 1.5))}.get(name, dict(weight_decay=0.05))
    opt = getattr(optim, name)([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.003, **extra}], lr=0.02)
    assert opt.param_groups[0]["lr"] == 0.02 and opt.param_groups[1]["lr"] == 0.003
    refs, states = [a.copy() for a in init], [{}, {}]
    options = [dict(lr=0.02), dict(lr=0.003, **extra)]
    for t in range(1, STEPS + 1):
        for p, g in zip(params, grads[t - 1]):
            p.grad = ember.tensor(g)
        opt.step()
        refs = [REFERENCES[name](r, g, s, t, **o) for r, g, s, o in zip(refs, grads[t - 1], states, options)]
    for p, ref in zip(params, refs):
        np.testing.assert_allclose(p.detach().numpy(), ref, **_float64_tol(name))


def test_tensor_lr_is_read_each_step():
    p = ember.tensor([1.0, 2.0], requires_grad=True)
    lr = ember.tensor(0.5)
    opt = optim.SGD([p], lr=lr)
    p.grad = ember.tensor([1.0, 1.0])
    opt.step()
    lr.fill_(0.25)
    opt.step()
    np.testing.assert_allclose(p.detach().numpy(), [0.25, 1.25])
