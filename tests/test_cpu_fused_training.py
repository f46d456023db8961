"""The CPU plugin's fused training-step kernels (ember/plugins/cpu/training.py) against float64
numpy references: the Adam/AdamW and SGD updates (every option), layer_norm forward and backward, and the
autograd engine's gradient stealing; plus the one-GEMM paths of linear and multi-head attention."""
import numpy as np
import pytest

import ember
from ember.dispatch.ops import OPS
from ember.plugins.cpu import training

numba = pytest.importorskip("numba")


@pytest.fixture
def parallel_loops(monkeypatch):
    """Force the compiled loops' parallel twins on small inputs, on two threads."""
    monkeypatch.setattr(training, "PARALLEL_SIZE", 1)
    threads = ember.get_num_threads()
    ember.set_num_threads(2)
    yield
    ember.set_num_threads(threads)


# ---------------------------------------------------------------- Adam / AdamW
def _adam_reference(p, grads, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled):
    """ember.optim.Adam's documented update in float64."""
    p = p.astype(np.float64)
    m, v, vmax = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    b1, b2 = betas
    for t, g in enumerate(grads, 1):
        g = -g.astype(np.float64) if maximize else g.astype(np.float64)
        if weight_decay:
            if decoupled:
                p = p * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        second = v
        if amsgrad:
            vmax = np.maximum(vmax, v)
            second = vmax
        p = p - lr / (1 - b1 ** t) * m / (np.sqrt(second) / np.sqrt(1 - b2 ** t) + eps)
    return p, m, v, vmax


ADAM_OPTIONS = [
    (ember.optim.Adam, dict()),
    (ember.optim.Adam, dict(weight_decay=0.1, amsgrad=True)),
    (ember.optim.Adam, dict(maximize=True, weight_decay=0.05)),
    (ember.optim.AdamW, dict(weight_decay=0.2)),
    (ember.optim.AdamW, dict(weight_decay=0.2, amsgrad=True, maximize=True)),
]


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64], ids=str)
@pytest.mark.parametrize("opt_cls,options", ADAM_OPTIONS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_fused_adam_matches_float64_reference(opt_cls, options, dtype):
    rng = np.random.default_rng(1)
    p0 = rng.standard_normal((33, 17))
    grads = [rng.standard_normal((33, 17)) for _ in range(5)]
    p = ember.tensor(p0, dtype=dtype, requires_grad=True)
    opt = opt_cls([p], lr=0.03, betas=(0.8, 0.95), **options)
    for g in grads:
        p.grad = ember.tensor(g, dtype=dtype)
        opt.step()
    decoupled = opt_cls is ember.optim.AdamW
    want_p, want_m, want_v, want_vmax = _adam_reference(
        p0, grads, 0.03, (0.8, 0.95), 1e-8, options.get("weight_decay", 0.01 if decoupled else 0),
        options.get("amsgrad", False), options.get("maximize", False), decoupled)
    tol = dict(rtol=2e-5, atol=2e-6) if dtype is ember.float32 else dict(rtol=1e-12, atol=1e-13)
    state = opt.state[p]
    np.testing.assert_allclose(p.detach().numpy(), want_p, **tol)
    np.testing.assert_allclose(state["exp_avg"].numpy(), want_m, **tol)
    np.testing.assert_allclose(state["exp_avg_sq"].numpy(), want_v, **tol)
    if options.get("amsgrad"):
        np.testing.assert_allclose(state["max_exp_avg_sq"].numpy(), want_vmax, **tol)


def test_fused_adam_runs_the_compiled_loop_and_keeps_inf_and_nan():
    # the same arrays through the compiled kernel and the shared numpy (xp) kernel
    from ember.plugins.cpu.kernels import kernel_table
    from ember.plugins.xp import XpKernels
    import scipy.special
    compiled = kernel_table()["adam_step"]
    reference = XpKernels(np, scipy.special).kernels()["adam_step"]
    assert compiled is not reference
    rng = np.random.default_rng(2)
    base = rng.standard_normal((4, 64)).astype(np.float32)
    base[0, :3] = [np.inf, -np.inf, np.nan]
    grad = rng.standard_normal((4, 64)).astype(np.float32)
    grad[1, :3] = [np.nan, np.inf, 0.0]
    attrs = dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1, step=3.0,
                 decoupled_weight_decay=False, amsgrad=True, maximize=False)
    got = [base.copy(), grad, np.abs(base) * 0.1, np.abs(base) * 0.01, np.full_like(base, 0.02)]
    want = [a.copy() for a in got]
    compiled(*got, **attrs)
    reference(*want, **attrs)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # equal_nan: NaN and inf where numpy has them
        assert np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(np.isinf(a), np.isinf(b))


def test_fused_adam_takes_the_numpy_path_for_strided_or_half_arrays():
    calls = []
    kernel = training.adam_kernel(lambda *a, **k: calls.append(a[0].dtype))
    attrs = dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, step=1.0,
                 decoupled_weight_decay=False, amsgrad=False, maximize=False)
    strided = np.ones((6, 4), np.float32)[:, ::2]
    kernel(strided, np.ones_like(strided), np.zeros_like(strided), np.zeros_like(strided), None, **attrs)
    half = np.ones(8, np.float16)
    kernel(half, half.copy(), half.copy(), half.copy(), None, **attrs)
    assert calls == [np.float32, np.float16]


# ---------------------------------------------------------------- SGD
def _sgd_reference(p, grads, lr, momentum, dampening, weight_decay, nesterov, maximize):
    p, buf = p.astype(np.float64), None
    for g in grads:
        g = -g if maximize else g.astype(np.float64)
        if weight_decay:
            g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p, buf


SGD_OPTIONS = [dict(), dict(momentum=0.9), dict(momentum=0.9, nesterov=True, weight_decay=0.1),
               dict(momentum=0.5, dampening=0.3, maximize=True)]


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64], ids=str)
@pytest.mark.parametrize("options", SGD_OPTIONS, ids=str)
def test_fused_sgd_matches_float64_reference(options, dtype):
    rng = np.random.default_rng(8)
    p0 = rng.standard_normal((21, 13))
    grads = [rng.standard_normal((21, 13)) for _ in range(4)]
    p = ember.tensor(p0, dtype=dtype, requires_grad=True)
    opt = ember.optim.SGD([p], lr=0.05, **options)
    calls = []
    op = OPS["sgd_step"]
    kernel = op.kernels["CPU"]
    op.resolved["cpu"] = lambda *a, **k: calls.append(1) or kernel(*a, **k)
    try:
        for g in grads:
            p.grad = ember.tensor(g, dtype=dtype)
            opt.step()
    finally:
        op.resolved.clear()
    assert len(calls) == len(grads)  # the fused kernel ran
    want_p, want_buf = _sgd_reference(p0, grads, 0.05, options.get("momentum", 0), options.get("dampening", 0),
                                      options.get("weight_decay", 0), options.get("nesterov", False),
                                      options.get("maximize", False))
    tol = dict(rtol=2e-5, atol=2e-6) if dtype is ember.float32 else dict(rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(p.detach().numpy(), want_p, **tol)
    if want_buf is not None:
        np.testing.assert_allclose(opt.state[p]["momentum_buffer"].numpy(), want_buf, **tol)
    else:
        assert p not in opt.state


def test_sgd_step_numpy_path_on_strided_arrays():
    rng = np.random.default_rng(9)
    p = rng.standard_normal((6, 8)).astype(np.float32)[:, ::2]
    g = rng.standard_normal((6, 4)).astype(np.float32)
    buf = rng.standard_normal((6, 4)).astype(np.float32)
    want_p = p - 0.1 * (0.9 * buf + g)
    training.sgd_step(p, g, buf, lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False,
                      maximize=False, first=False)
    np.testing.assert_allclose(p, want_p, rtol=1e-6)


# ---------------------------------------------------------------- layer_norm
def _layer_norm_reference(x, w, b, k, g, eps=1e-5):
    dims = tuple(range(x.ndim - k, x.ndim))
    lead = tuple(range(x.ndim - k))
    mu = x.mean(dims, keepdims=True)
    rstd = 1 / np.sqrt(x.var(dims, keepdims=True) + eps)
    xhat = (x - mu) * rstd
    y = xhat * (1 if w is None else w) + (0 if b is None else b)
    gh = g * (1 if w is None else w)
    gx = rstd * (gh - gh.mean(dims, keepdims=True) - xhat * (gh * xhat).mean(dims, keepdims=True))
    return y, gx, (g * xhat).sum(lead), g.sum(lead)


LN_CASES = [((16, 32, 128), 1, True, True), ((5, 7, 6), 2, True, False), ((40, 9), 1, False, False),
            ((3, 1000), 1, False, True)]


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64], ids=str)
@pytest.mark.parametrize("shape,k,has_w,has_b", LN_CASES, ids=str)
def test_fused_layer_norm_forward_and_backward(shape, k, has_w, has_b, dtype):
    rng = np.random.default_rng(3)
    x0 = rng.standard_normal(shape) * 3 + 1.5
    normalized = shape[-k:]
    w0, b0 = rng.standard_normal(normalized), rng.standard_normal(normalized)
    g0 = rng.standard_normal(shape)
    x = ember.tensor(x0, dtype=dtype, requires_grad=True)
    w = ember.tensor(w0, dtype=dtype, requires_grad=True) if has_w else None
    b = ember.tensor(b0, dtype=dtype, requires_grad=True) if has_b else None
    y = ember.nn.functional.layer_norm(x, normalized, w, b)
    assert y.grad_fn.name() == "LayerNormBackward0"  # the fused kernel ran, not the decomposition
    y.backward(ember.tensor(g0, dtype=dtype))
    want_y, want_gx, want_gw, want_gb = _layer_norm_reference(x0, w0 if has_w else None, b0 if has_b else None, k, g0)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype is ember.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y.detach().numpy(), want_y, **tol)
    np.testing.assert_allclose(x.grad.numpy(), want_gx, **tol)
    if has_w:
        np.testing.assert_allclose(w.grad.numpy(), want_gw, **tol)
    if has_b:
        np.testing.assert_allclose(b.grad.numpy(), want_gb, **tol)


def test_layer_norm_half_precision_and_strided_inputs_take_the_numpy_path():
    rng = np.random.default_rng(4)
    x0 = rng.standard_normal((8, 6, 10))
    for x in (ember.tensor(x0, dtype=ember.bfloat16), ember.tensor(x0, dtype=ember.float32).transpose(0, 1)):
        w = ember.ones(10, dtype=ember.float32, requires_grad=True)
        xr = x.detach().requires_grad_()
        y = ember.nn.functional.layer_norm(xr, (10,), w)
        y.float().sum().backward()
        ref = x.float().numpy().astype(np.float64)
        want_y, want_gx, want_gw, _ = _layer_norm_reference(ref, np.ones(10), None, 1, np.ones(ref.shape))
        tol = 2e-2 if x.dtype is ember.bfloat16 else 1e-4
        np.testing.assert_allclose(y.float().detach().numpy(), want_y, rtol=tol, atol=tol)
        np.testing.assert_allclose(w.grad.numpy(), want_gw, rtol=tol, atol=tol)
        np.testing.assert_allclose(xr.grad.float().numpy(), want_gx, rtol=tol, atol=tol)


def test_layer_norm_double_backward_uses_the_differentiable_rule():
    x = ember.randn(4, 6, dtype=ember.float64, requires_grad=True)
    w = ember.randn(6, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda x, w: ember.nn.functional.layer_norm(x, (6,), w), (x, w))
    assert ember.autograd.gradgradcheck(lambda x, w: ember.nn.functional.layer_norm(x, (6,), w), (x, w))


def test_layer_norm_backward_decomposition_matches_the_fused_kernel():
    from ember.ops.derivatives import _layer_norm_backward_reference
    rng = np.random.default_rng(5)
    x = ember.tensor(rng.standard_normal((6, 5, 8)))
    w = ember.tensor(rng.standard_normal(8))
    g = ember.tensor(rng.standard_normal((6, 5, 8)))
    _, mean, rstd = training.layer_norm(x.numpy(), w.numpy(), None, normalized_ndim=1, eps=1e-5)
    fused = training.layer_norm_backward(g.numpy(), x.numpy(), w.numpy(), mean, rstd, normalized_ndim=1)
    decomposed = _layer_norm_backward_reference(g, x, w, ember.tensor(mean), ember.tensor(rstd), normalized_ndim=1)
    for a, b in zip(fused, decomposed):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-10, atol=1e-12)


def test_parallel_loops_match_the_serial_ones(parallel_loops):
    # float32 and a few options only: each compiled signature of a parallel loop costs seconds on a
    # fresh clone (the loop bodies are shared with the serial twins checked above)
    test_fused_adam_matches_float64_reference(ember.optim.AdamW, dict(weight_decay=0.2, maximize=True),
                                              ember.float32)
    test_fused_sgd_matches_float64_reference(dict(momentum=0.9, nesterov=True, weight_decay=0.1), ember.float32)
    test_fused_layer_norm_forward_and_backward((16, 32, 128), 1, True, True, ember.float32)
    test_fused_layer_norm_forward_and_backward((5, 7, 6), 2, False, True, ember.float32)


# ---------------------------------------------------------------- .grad stealing
def _count_clones(fn):
    from ember.dispatch.table import resolve
    op = OPS["clone"]
    original = op.resolved.get("cpu") or resolve(op, "cpu")   # (resolved on first use otherwise)
    calls = []
    op.resolved["cpu"] = lambda *a, **k: calls.append(1) or original(*a, **k)
    try:
        fn()
    finally:
        op.resolved["cpu"] = original
    return len(calls)


def test_first_gradient_is_stolen_not_cloned():
    model = ember.nn.Sequential(ember.nn.Linear(7, 5), ember.nn.ReLU(), ember.nn.Linear(5, 3))
    x = ember.randn(4, 7)
    assert _count_clones(lambda: model(x).square().sum().backward()) == 0
    for p in model.parameters():
        assert p.grad._base is None and p.grad.is_contiguous() and p.grad.stride() == p.stride()
    # the stolen gradients are right, and accumulate in place on the next pass
    w1 = model[0].weight
    before = w1.grad.clone()
    grad_tensor = w1.grad
    model(x).square().sum().backward()
    assert w1.grad is grad_tensor
    np.testing.assert_allclose(w1.grad.numpy(), 2 * before.numpy(), rtol=1e-5, atol=1e-6)


def test_shared_or_user_held_gradients_are_copied():
    a, b = ember.randn(3, requires_grad=True), ember.randn(3, requires_grad=True)
    ((a + b) * 2).sum().backward()  # add's backward hands both leaves one tensor
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    a2, b2 = ember.randn(2, 2, requires_grad=True), ember.randn(2, 2, requires_grad=True)
    (a2.reshape(4) * 3 + b2.reshape(4)).sum().backward()  # views of one gradient
    assert not np.shares_memory(a2.grad.numpy(), b2.grad.numpy())
    b2.grad += 1
    np.testing.assert_array_equal(a2.grad.numpy(), np.full((2, 2), 3.0, np.float32))
    c = ember.randn(3, requires_grad=True)
    user = ember.ones(3)
    (c * 1).backward(user)  # the user's gradient= tensor
    c.grad += 1
    np.testing.assert_array_equal(user.numpy(), np.ones(3, np.float32))
    leaf = ember.randn(3, requires_grad=True)
    leaf.backward(user)
    assert leaf.grad is not user and not np.shares_memory(leaf.grad.numpy(), user.numpy())


def test_retained_and_hooked_gradients_are_not_stolen_from_under_their_holders():
    x = ember.randn(4, requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g))
    (x * 2).sum().backward()
    x.grad += 5
    np.testing.assert_array_equal(seen[0].numpy(), np.full(4, 2.0, np.float32))


# ---------------------------------------------------------------- one-GEMM linear and attention
def test_linear_on_3d_input_matches_reference_and_gradients():
    rng = np.random.default_rng(6)
    x0, w0, b0 = rng.standard_normal((3, 5, 8)), rng.standard_normal((4, 8)), rng.standard_normal(4)
    x = ember.tensor(x0, requires_grad=True)
    w, b = ember.tensor(w0, requires_grad=True), ember.tensor(b0, requires_grad=True)
    y = ember.nn.functional.linear(x.transpose(0, 1), w, b)  # a strided input too
    np.testing.assert_allclose(y.detach().numpy(), x0.transpose(1, 0, 2) @ w0.T + b0, rtol=1e-12)
    g = rng.standard_normal(y.shape)
    y.backward(ember.tensor(g))
    np.testing.assert_allclose(w.grad.numpy(), np.einsum("lno,lni->oi", g, x0.transpose(1, 0, 2)), rtol=1e-10)
    np.testing.assert_allclose(b.grad.numpy(), g.sum((0, 1)), rtol=1e-10)
    np.testing.assert_allclose(x.grad.numpy(), (g @ w0).transpose(1, 0, 2), rtol=1e-10)


def test_packed_self_attention_projection_equals_separate_projections():
    ember.manual_seed(7)
    mha = ember.nn.MultiheadAttention(16, 4, batch_first=True, dtype=ember.float64)
    x = ember.randn(3, 5, 16, dtype=ember.float64, requires_grad=True)
    packed, _ = mha(x, x, x, need_weights=False)
    packed.sum().backward()
    grads = [p.grad.clone() for p in mha.parameters()] + [x.grad.clone()]
    mha.zero_grad()
    x.grad = None
    k, v = x * 1.0, x * 1.0  # equal values, other tensors: three projections
    separate, _ = mha(x, k, v, need_weights=False)
    separate.sum().backward()
    np.testing.assert_allclose(packed.detach().numpy(), separate.detach().numpy(), rtol=1e-12, atol=1e-12)
    for a, b in zip(grads, [p.grad for p in mha.parameters()] + [x.grad]):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_relu_backward_kernel_matches_the_decomposition_and_pytorchs_edges(dtype):
    # PyTorch's relu gradient is threshold_backward: 0 where the output is <= 0, else the gradient,
    # so a NaN output passes its gradient and an inf or NaN gradient at a zero output gives 0
    from ember.ops.derivatives import _relu_backward_reference
    rng = np.random.default_rng(3)
    y = np.maximum(rng.standard_normal(5000), 0).astype(dtype)
    g = rng.standard_normal(5000).astype(dtype)
    y[:4], g[:4] = [np.nan, 0, 0, 2], [1, np.inf, np.nan, 3]
    fused = training.relu_backward(g, y)
    decomposed = _relu_backward_reference(ember.from_numpy(g), ember.from_numpy(y)).numpy()
    expect = np.where(y <= 0, 0, g).astype(dtype)
    np.testing.assert_array_equal(fused, expect)
    np.testing.assert_array_equal(decomposed, expect)
    x = ember.from_numpy(np.array([np.nan, -1, 2, 0], dtype)).requires_grad_()
    ember.relu(x).backward(ember.from_numpy(np.array([1, np.inf, 3, 4], dtype)))
    np.testing.assert_array_equal(x.grad.numpy(), np.array([1, 0, 3, 0], dtype))
