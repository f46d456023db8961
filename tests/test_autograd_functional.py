"""ember.autograd.functional: vjp, jvp, jacobian, hessian, vhp, hvp against float64 numpy references
(closed-form gradients, central differences for Jacobians and Hessians), on every device."""
import numpy as np
import pytest

import ember
from ember.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp

RNG = np.random.default_rng(0)
W = RNG.standard_normal((4, 3))
X = RNG.uniform(-1, 1, 3)
Y = RNG.uniform(-1, 1, 3)


def _dtype(device):
    from ember.dispatch.registry import REGISTRY
    return ember.float64 if ember.float64 in REGISTRY.available_backend(device).supported_dtypes() else ember.float32


def _tol(dtype):
    return dict(rtol=1e-7, atol=1e-8) if dtype == ember.float64 else dict(rtol=1e-4, atol=1e-5)


def host(t):
    return t.detach().cpu().numpy().astype(np.float64)


def numeric_jacobian(fn, x, eps=1e-6):
    """d fn(x) / d x by central differences, shaped fn(x).shape + x.shape."""
    out = np.asarray(fn(x))
    jac = np.zeros(out.shape + x.shape)
    for idx in np.ndindex(*x.shape):
        d = np.zeros_like(x)
        d[idx] = eps
        jac[(...,) + idx] = (np.asarray(fn(x + d)) - np.asarray(fn(x - d))) / (2 * eps)
    return jac


# f(a, b) = (tanh(W a), a * b) and its numpy twin
def f_ember(w):
    return lambda a, b: (ember.tanh(w @ a), a * b)


def f_np(a, b):
    return np.tanh(W @ a), a * b


# g(x, y) = sum(exp(x) y) + sum(x^2) sum(y^3): a scalar with a full Hessian
def g_ember(x, y):
    return (ember.exp(x) * y).sum() + (x * x).sum() * (y ** 3).sum()


def g_grad_np(x, y):
    return np.concatenate([np.exp(x) * y + 2 * x * (y ** 3).sum(), np.exp(x) + 3 * y ** 2 * (x ** 2).sum()])


def g_hessian_np():
    full = numeric_jacobian(lambda z: g_grad_np(z[:3], z[3:]), np.concatenate([X, Y]))
    return full[:3, :3], full[:3, 3:], full[3:, :3], full[3:, 3:]


def _inputs(device, dtype, requires_grad=False):
    return (ember.tensor(X, dtype=dtype, device=device, requires_grad=requires_grad),
            ember.tensor(Y, dtype=dtype, device=device, requires_grad=requires_grad))


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_jacobian(any_device, strategy):
    dtype = _dtype(any_device)
    w = ember.tensor(W, dtype=dtype, device=any_device)
    a, b = _inputs(any_device, dtype)
    jac = jacobian(f_ember(w), (a, b), vectorize=strategy == "forward-mode", strategy=strategy)
    assert len(jac) == 2 and all(len(row) == 2 for row in jac)
    refs = [[numeric_jacobian(lambda x: f_np(x, Y)[i], X), numeric_jacobian(lambda y: f_np(X, y)[i], Y)]
            for i in range(2)]
    for i in range(2):
        for k in range(2):
            assert jac[i][k].shape == refs[i][k].shape and not jac[i][k].requires_grad
            np.testing.assert_allclose(host(jac[i][k]), refs[i][k], **_tol(dtype))
    # one input, one output: a plain tensor of shape output + input
    single = jacobian(lambda x: ember.tanh(w @ x), a, vectorize=True, strategy=strategy)
    assert isinstance(single, ember.Tensor) and single.shape == (4, 3)
    np.testing.assert_allclose(host(single), refs[0][0], **_tol(dtype))
    # a tuple input with one output: a tuple over the inputs
    by_input = jacobian(lambda x, y: x * y, (a, b), vectorize=True, strategy=strategy)
    assert isinstance(by_input, tuple) and len(by_input) == 2
    np.testing.assert_allclose(host(by_input[1]), np.diag(X), **_tol(dtype))


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_hessian(any_device, strategy):
    dtype = _dtype(any_device)
    x, y = _inputs(any_device, dtype)
    hxx, hxy, hyx, hyy = g_hessian_np()
    h = hessian(g_ember, (x, y), vectorize=strategy == "forward-mode", outer_jacobian_strategy=strategy)
    tol = dict(rtol=1e-6, atol=1e-7) if dtype == ember.float64 else dict(rtol=1e-4, atol=1e-4)
    for got, ref in ((h[0][0], hxx), (h[0][1], hxy), (h[1][0], hyx), (h[1][1], hyy)):
        np.testing.assert_allclose(host(got), ref, **tol)
    single = hessian(lambda x: g_ember(x, y), x)
    assert isinstance(single, ember.Tensor) and single.shape == (3, 3)
    np.testing.assert_allclose(host(single), hxx, **tol)


def test_products(any_device):
    dtype = _dtype(any_device)
    w = ember.tensor(W, dtype=dtype, device=any_device)
    a, b = _inputs(any_device, dtype)
    u = (RNG.standard_normal(4), RNG.standard_normal(3))
    t = (RNG.standard_normal(3), RNG.standard_normal(3))
    tu = tuple(ember.tensor(e, dtype=dtype, device=any_device) for e in u)
    tt = tuple(ember.tensor(e, dtype=dtype, device=any_device) for e in t)
    j = [[numeric_jacobian(lambda x: f_np(x, Y)[i], X), numeric_jacobian(lambda y: f_np(X, y)[i], Y)]
         for i in range(2)]
    out, back = vjp(f_ember(w), (a, b), tu)
    np.testing.assert_allclose(host(out[0]), np.tanh(W @ X), **_tol(dtype))
    for k in range(2):
        np.testing.assert_allclose(host(back[k]), u[0] @ j[0][k] + u[1] @ j[1][k], **_tol(dtype))
    out, fwd = jvp(f_ember(w), (a, b), tt)
    for i in range(2):
        np.testing.assert_allclose(host(fwd[i]), j[i][0] @ t[0] + j[i][1] @ t[1], **_tol(dtype))
    x, y = _inputs(any_device, dtype)
    hxx, hxy, hyx, hyy = g_hessian_np()
    full = np.block([[hxx, hxy], [hyx, hyy]])
    vec = np.concatenate(t)
    tol = dict(rtol=1e-6, atol=1e-7) if dtype == ember.float64 else dict(rtol=1e-4, atol=1e-4)
    value, left = vhp(g_ember, (x, y), tt)
    np.testing.assert_allclose(float(value), np.sum(np.exp(X) * Y) + np.sum(X ** 2) * np.sum(Y ** 3), **_tol(dtype))
    np.testing.assert_allclose(np.concatenate([host(e) for e in left]), vec @ full, **tol)
    _, right = hvp(g_ember, (x, y), tt)
    np.testing.assert_allclose(np.concatenate([host(e) for e in right]), full @ vec, **tol)
    # single tensors in, single tensors out
    _, single = vjp(lambda x: ember.tanh(w @ x), a, tu[0])
    assert isinstance(single, ember.Tensor)
    np.testing.assert_allclose(host(single), u[0] @ j[0][0], **_tol(dtype))


def test_create_graph_and_inputs_untouched():
    x = ember.tensor(X, dtype=ember.float64, requires_grad=True)
    jac = jacobian(lambda v: ember.sin(v) * v.sum(), x, create_graph=True)
    assert jac.requires_grad
    jac.sum().backward()   # d/dx of sum_ij d(sin(x_i) S)/dx_j, S = sum(x)

    def total(v):
        return numeric_jacobian(lambda z: np.sin(z) * z.sum(), v).sum()
    np.testing.assert_allclose(host(x.grad), numeric_jacobian(total, X, eps=1e-4), rtol=1e-5, atol=1e-6)
    assert x.grad_fn is None and x.is_leaf
    _, h = hvp(lambda v: (v ** 3).sum(), x, ember.ones(3, dtype=ember.float64), create_graph=True)
    assert h.requires_grad
    (g,) = ember.autograd.grad(h.sum(), x)   # d/dx sum(6 x) = 6
    np.testing.assert_allclose(host(g), 6.0)
    _, plain = vjp(lambda v: v * 2, x, ember.ones(3, dtype=ember.float64))
    assert not plain.requires_grad
    # v may be None for one-element outputs / inputs
    out, grad = vjp(lambda v: (v * v).sum(), x)
    np.testing.assert_allclose(host(grad), 2 * X)
    one = ember.tensor([0.5], dtype=ember.float64)
    np.testing.assert_allclose(host(jvp(lambda v: v ** 3, one)[1]), [0.75])


def test_independent_outputs_zero_or_strict_errors():
    x = ember.tensor(X, dtype=ember.float64)
    y = ember.tensor(Y, dtype=ember.float64)
    jac = jacobian(lambda a, b: a * 2, (x, y))
    np.testing.assert_array_equal(host(jac[1]), 0.0)
    np.testing.assert_array_equal(host(vjp(lambda a, b: a * 2, (x, y), x)[1][1]), 0.0)
    with pytest.raises(RuntimeError, match="Output 0 of the user-provided function is independent of input 1"):
        jacobian(lambda a, b: a * 2, (x, y), strict=True)
    with pytest.raises(RuntimeError, match="Output 0 of the user-provided function does not require gradients"):
        jacobian(lambda a: ember.ones(2, dtype=ember.float64), x, strict=True)
    with pytest.raises(RuntimeError, match="independent of input 1. This is not allowed in strict mode"):
        vjp(lambda a, b: a * 2, (x, y), x, strict=True)
    with pytest.raises(RuntimeError, match="jacobian of the user-provided function with respect to input 0 is "
                                           "independent"):
        hessian(lambda a: (a * 2).sum(), x, strict=True)
    with pytest.raises(RuntimeError, match="independent of input 0. This is not allowed in strict mode when "
                                           "create_graph=True"):
        jacobian(lambda a: a * 2, x, strict=True, create_graph=True)


def test_argument_errors():
    x = ember.tensor(X, dtype=ember.float64)
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors but the given inputs has "
                                        "type <class 'float'>"):
        vjp(lambda a: a, 3.0)
    with pytest.raises(TypeError, match="value at index 1"):
        vjp(lambda a, b: a, (x, 3.0))
    with pytest.raises(RuntimeError, match=r"v has invalid size: should be .*3.* but got .*2"):
        vjp(lambda a: a * a, x, ember.ones(2, dtype=ember.float64))
    with pytest.raises(RuntimeError, match="The given v should contain a single Tensor"):
        vjp(lambda a: a * a, x, (x, x))
    with pytest.raises(RuntimeError, match="v is a tuple of invalid length: should be 2 but got 1"):
        jvp(lambda a, b: a * b, (x, x), (x,))
    with pytest.raises(RuntimeError, match="can only be None if the user-provided function returns a single"):
        vjp(lambda a: a * a, x)
    with pytest.raises(RuntimeError, match="can only be None if the input to the user-provided function"):
        jvp(lambda a: a * a, x)
    with pytest.raises(AssertionError, match='"forward-mode" or "reverse-mode"'):
        jacobian(lambda a: a, x, strategy="sideways")
    with pytest.raises(NotImplementedError, match="only implemented for `vectorize=True`"):
        jacobian(lambda a: a, x, strategy="forward-mode")
    with pytest.raises(NotImplementedError, match="`create_graph=True` and `strategy=\"forward-mode\"`"):
        jacobian(lambda a: a, x, strategy="forward-mode", vectorize=True, create_graph=True)
    with pytest.raises(RuntimeError, match="`strict=True` and `vectorized=True` are not supported together"):
        jacobian(lambda a: a * 2, x, strict=True, vectorize=True)
    with pytest.raises(RuntimeError, match="should contain a single element"):
        hessian(lambda a: a * a, x)
    with pytest.raises(RuntimeError, match="function given to vhp should contain a single element"):
        vhp(lambda a: a * a, x, x)


def test_grad_with_batched_grad_outputs_gives_every_row_of_the_jacobian():
    import numpy as np
    x = ember.randn(4, dtype=ember.float64, requires_grad=True)
    y = ember.stack([x[0] * x[1], x[2].sin(), x.sum()])
    (jac,) = ember.autograd.grad(y, x, ember.eye(3, dtype=ember.float64), is_grads_batched=True)
    v = x.detach().numpy()
    want = np.array([[v[1], v[0], 0, 0], [0, 0, np.cos(v[2]), 0], [1, 1, 1, 1]])
    np.testing.assert_allclose(jac.numpy(), want, rtol=1e-12)
