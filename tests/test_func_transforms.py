"""ember.func's reverse-mode transforms (grad, grad_and_value, vjp, jacrev), their composition with vmap,
functionalize, rearrange and replace_all_batch_norm_modules_, against float64 numpy and explicit loops."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.func import (functional_call, functionalize, grad, grad_and_value, jacrev, rearrange,
                        replace_all_batch_norm_modules_, stack_module_state, vjp, vmap)

RNG = np.random.default_rng(11)


def rand(*shape):
    return ember.tensor(RNG.standard_normal(shape).astype(np.float32))


def close(a, b, tol=1e-4):
    a = a.detach().numpy() if isinstance(a, ember.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, ember.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def f64(t):
    return t.numpy().astype(np.float64)


# ---------------------------------------------------------------- grad / grad_and_value
def test_grad_argnums_pytrees_and_aux():
    x, y = rand(4), rand(4)
    gx = grad(lambda a, b: (a.sin() * b).sum())(x, y)
    close(gx, np.cos(f64(x)) * f64(y))
    gx, gy = grad(lambda a, b: (a * b * b).sum(), argnums=(0, 1))(x, y)
    close(gx, f64(y) ** 2)
    close(gy, 2 * f64(x) * f64(y))
    tree = grad(lambda p: (p["w"] * p["v"][0]).sum())({"w": x, "v": [y]})
    close(tree["w"], f64(y))
    close(tree["v"][0], f64(x))
    (g, (value, aux)) = grad_and_value(lambda a: ((a ** 2).sum(), a.mean()), has_aux=True)(x)
    close(g, 2 * f64(x))
    close(value, (f64(x) ** 2).sum())
    close(aux, f64(x).mean())
    g, aux = grad(lambda a: ((a ** 3).sum(), "tag"), has_aux=True)(x)
    assert aux == "tag"
    close(g, 3 * f64(x) ** 2)


def test_grad_results_are_detached_unless_an_outer_graph_needs_them():
    x = rand(3)
    assert not grad(lambda a: (a * 2).sum())(x).requires_grad
    p = ember.tensor(RNG.standard_normal(3).astype(np.float32), requires_grad=True)
    g = grad(lambda a: (a * a * p).sum())(x)    # 2 a p: depends on p
    assert g.requires_grad
    g.sum().backward()
    close(p.grad, 2 * f64(x))
    with ember.no_grad():   # a transform ignores an outer no_grad, as PyTorch's does
        close(grad(lambda a: (a * a).sum())(x), 2 * f64(x))
    assert grad(lambda a: ember.tensor(1.0))(x).abs().sum().item() == 0  # an output independent of the input


def test_higher_order_grads():
    x = rand(5)
    close(grad(grad(lambda a: a.sin().sum()))(x[0]), -np.sin(f64(x[0])))
    close(grad(lambda a: grad(lambda b: (a * b).sum())(a).sum())(x), np.ones(5))   # d/da sum(a) = 1
    hessian = jacrev(jacrev(lambda a: (a ** 3).sum()))(x)
    close(hessian, np.diag(6 * f64(x)))


def test_grad_errors():
    x = rand(3)
    with pytest.raises(RuntimeError, match="Expected f\\(\\*args\\) to return a scalar Tensor, got tensor with 1 dims"):
        grad(lambda a: a * 2)(x)
    with pytest.raises(RuntimeError, match="output of function f should be a tuple"):
        grad(lambda a: a.sum(), has_aux=True)(x)
    with pytest.raises(RuntimeError, match="Got argnum=3, but only 1 positional inputs"):
        grad(lambda a: a.sum(), argnums=3)(x)


# ---------------------------------------------------------------- vjp / jacrev
def test_vjp_and_its_errors():
    x = rand(3, 4)
    out, fn = vjp(lambda a: a.exp() * 2, x)
    close(out, 2 * np.exp(f64(x)))
    v = rand(3, 4)
    (g,) = fn(v)
    close(g, 2 * np.exp(f64(x)) * f64(v))
    close(fn(v)[0], g)      # callable again
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape of"):
        fn(rand(3, 5))
    b = rand(4, 2)
    out, fn, aux = vjp(lambda a, m: ((a @ m).sum(1), m.shape), x, b, has_aux=True)
    assert aux == (4, 2)
    ga, gb = fn(ember.ones(3))
    close(ga, np.broadcast_to(f64(b).sum(1), (3, 4)))
    close(gb, np.broadcast_to(f64(x).sum(0)[:, None], (4, 2)))


def test_jacrev_shapes_argnums_and_chunks():
    x, w = rand(3), rand(2, 3)
    jac = jacrev(lambda a: ember.tanh(w @ a))(x)
    t = np.tanh(f64(w) @ f64(x))
    close(jac, (1 - t ** 2)[:, None] * f64(w))
    ja, jw = jacrev(lambda a, m: m @ a, argnums=(0, 1))(x, w)
    close(ja, f64(w))
    expected_jw = np.zeros((2, 2, 3))
    for i in range(2):
        expected_jw[i, i] = f64(x)
    close(jw, expected_jw)
    close(jacrev(lambda a: ember.tanh(w @ a), chunk_size=1)(x), jac)
    both = jacrev(lambda a: {"s": a.sum(), "sq": a * a})(x)
    close(both["s"], np.ones(3))
    close(both["sq"], np.diag(2 * f64(x)))


# ---------------------------------------------------------------- composition with vmap
def test_per_sample_gradients_match_a_loop():
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))
    params = {k: v.detach() for k, v in model.named_parameters()}
    xs, ts = rand(6, 5), ember.tensor(RNG.integers(0, 3, 6))

    def loss(p, x, t):
        return F.cross_entropy(functional_call(model, p, (x[None],)), t[None])
    per_sample = vmap(grad(loss), in_dims=(None, 0, 0))(params, xs, ts)
    for n in range(6):
        model.zero_grad()
        F.cross_entropy(model(xs[n:n + 1]), ts[n:n + 1]).backward()
        for name, p in model.named_parameters():
            close(per_sample[name][n], p.grad)


def test_vmap_of_jacrev_and_nested_vmaps_of_grad():
    xs = rand(4, 3)
    jacs = vmap(jacrev(ember.sin))(xs)
    close(jacs, np.stack([np.diag(np.cos(f64(xs[n]))) for n in range(4)]))
    ys = rand(2, 4, 3)
    g = vmap(vmap(grad(lambda a: (a ** 3).sum())))(ys)
    close(g, 3 * f64(ys) ** 2)
    # a closure batched by the outer vmap, an input that is not: each sample still has its own gradient
    c = rand(4, 3)
    g = vmap(lambda ci: grad(lambda a: (a * a * ci).sum())(xs[0]))(c)
    close(g, 2 * f64(xs[0])[None] * f64(c))


def test_model_ensembling_with_stacked_state():
    models = [nn.Linear(3, 2) for _ in range(4)]
    params, buffers = stack_module_state(models)
    x = rand(5, 3)
    out = vmap(lambda p, b: functional_call(models[0], (p, b), (x,)))(params, buffers)
    close(out, np.stack([m(x).detach().numpy() for m in models]))


# ---------------------------------------------------------------- functionalize, rearrange, batch norm
def test_functionalize_same_results_and_input_mutations():
    def f(a, b):
        a.add_(1)
        b[0] = 7.0
        v = a.view(-1)
        v.mul_(2)
        return v + b.sum()
    a0, b0 = rand(2, 2), rand(3)
    a1, b1 = a0.clone(), b0.clone()
    a2, b2 = a0.clone(), b0.clone()
    expected = f(a1, b1)
    for remove in ("mutations", "mutations_and_views"):
        a2, b2 = a0.clone(), b0.clone()
        out = functionalize(f, remove=remove)(a2, b2)
        close(out, expected)
        close(a2, a1)     # the mutated inputs end as eager's (PyTorch's functionalize copies them back)
        close(b2, b1)
    untouched = rand(3)
    before = untouched.numpy().copy()
    functionalize(lambda a: a * 2)(untouched)
    close(untouched, before)
    with pytest.raises(RuntimeError, match="received invalid argument for remove"):
        functionalize(f, remove="views")


def test_rearrange_patterns_and_errors():
    x = rand(2, 6, 4)
    n = x.numpy()
    close(rearrange(x, "b (h w) c -> b h w c", h=2), n.reshape(2, 2, 3, 4))
    close(rearrange(x, "b ... c -> c b ..."), n.transpose(2, 0, 1))
    close(rearrange(x, "b a c -> c (b a)"), n.transpose(2, 0, 1).reshape(4, 12))
    close(rearrange([x[0], x[1]], "n a c -> n (a c)"), n.reshape(2, 24))
    assert rearrange(x, "b a c -> b a () c 1").shape == (2, 6, 1, 4, 1)
    with pytest.raises(ValueError, match=r"Number of dimensions in pattern \(2\)"):
        rearrange(x, "b a -> a b")
    with pytest.raises(ValueError, match="cannot infer the sizes of two dimensions"):
        rearrange(x, "b (h w) c -> b h w c")
    with pytest.raises(ValueError, match="Identifiers only on one side"):
        rearrange(x, "b a c -> b a d")


def test_replace_all_batch_norm_modules_then_vmap():
    net = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    assert replace_all_batch_norm_modules_(net) is net
    bn = net[1]
    assert bn.running_mean is None and bn.running_var is None and bn.num_batches_tracked is None
    assert not bn.track_running_stats
    xs = rand(4, 5, 3)
    out = vmap(net)(xs)
    close(out, np.stack([net(xs[i]).detach().numpy() for i in range(4)]))


def test_forward_over_reverse_sees_through_grad():
    """jacfwd(jacrev(f)) (hessian): the forward tangent passes through the reverse transform's inputs."""
    from ember.func import jacfwd
    y = ember.tensor(RNG.standard_normal((3, 3)))

    def f(a):
        return ((a @ a.T) ** 2).sum()
    g, eps = grad(f), 1e-6
    columns = []
    for k in range(9):
        e = np.zeros(9)
        e[k] = eps
        step = ember.tensor(e.reshape(3, 3))
        columns.append(((g(y + step) - g(y - step)) / (2 * eps)).numpy().reshape(-1))
    finite = np.stack(columns, 1).reshape(3, 3, 3, 3)
    close(jacfwd(jacrev(f))(y), finite, 1e-5)
    close(jacrev(jacrev(f))(y), finite, 1e-5)
