"""ember.func.vmap (torch.vmap): batching rules against explicit loops and float64 numpy, errors as PyTorch's."""
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.func import debug_unwrap, vmap

RNG = np.random.default_rng(7)


def rand(*shape):
    return ember.tensor(RNG.standard_normal(shape).astype(np.float32))


def close(a, b, tol=1e-5):
    a = a.numpy() if isinstance(a, ember.Tensor) else np.asarray(a)
    b = b.numpy() if isinstance(b, ember.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def looped(f, *args, in_dims=0):
    """The reference: f on each sample, stacked."""
    dims = in_dims if isinstance(in_dims, tuple) else (in_dims,) * len(args)
    n = next(a.shape[d] for a, d in zip(args, dims) if d is not None)
    outs = [f(*[a if d is None else a.select(d, i) for a, d in zip(args, dims)]) for i in range(n)]
    return ember.stack(outs)


@pytest.fixture(autouse=True)
def no_fallback():
    """The ops here have batching rules: the per-sample loop (which warns) must not run."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="There is a performance drop")
        yield


def _put(a, key, value):
    y = a.clone()
    y[key] = value
    return y


X, Y, W42, M526 = rand(3, 4), rand(3, 4), rand(4, 2), rand(5, 2, 6)
CASES = {
    "binary_broadcast": (lambda a, b: a * b[:1] + 2, (X, Y)),
    "unary_chain": (lambda a: ember.exp(ember.tanh(a)).sqrt(), (X,)),
    "where_compare": (lambda a, b: ember.where(a > b, a, b - 1), (X, Y)),
    "sum_dim": (lambda a: a.sum(0), (rand(3, 4, 5),)),
    "mean_all_keepdim": (lambda a: a.mean(dim=(-1,), keepdim=True), (rand(3, 4, 5),)),
    "amax_argmax": (lambda a: a.amax(-1) + a.argmax().float(), (rand(3, 4, 5),)),
    "softmax_logsoftmax": (lambda a: ember.softmax(a, -1) + ember.log_softmax(a, 0), (rand(3, 4, 5),)),
    "cumsum": (lambda a: a.cumsum(1), (rand(3, 4, 5),)),
    "sort": (lambda a: ember.sort(a, dim=0).values, (rand(3, 4, 5),)),
    "dot": (ember.dot, (X, Y)),
    "mv": (lambda a, m: m @ a, (X, rand(3, 5, 4))),
    "matmul_unbatched_right": (lambda a: a @ W42, (rand(3, 6, 4),)),
    "matmul_unbatched_left": (lambda a: M526 @ a, (rand(3, 6, 4),)),
    "bmm_both": (ember.bmm, (rand(3, 2, 4, 5), rand(3, 2, 5, 6))),
    "einsum": (lambda a, b: ember.einsum("ij,jk->ik", a, b), (rand(3, 2, 4), rand(3, 4, 5))),
    "view_permute": (lambda a: a.view(2, 2, 5).permute(2, 0, 1).reshape(-1), (rand(3, 4, 5),)),
    "expand_unsqueeze": (lambda a: a.unsqueeze(0).expand(2, 4), (X,)),
    "slice_index_diag": (lambda a: a[1:, ::2].diagonal() + a[0, 1], (rand(3, 4, 4),)),
    "cat_stack": (lambda a, b: ember.cat([a, b, ember.ones(2)]) + ember.stack([a, b]).sum(0)[:1].sum(), (X, Y)),
    "flip_roll_tril": (lambda a: ember.tril(a.flip(0).roll(1, 1)), (rand(3, 4, 4),)),
    "gather": (lambda a, i: a.gather(0, i), (X, ember.tensor(RNG.integers(0, 4, (3, 2))))),
    "index_batched": (lambda a, i: a[i], (X, ember.tensor(RNG.integers(0, 4, (3, 2))))),
    "index_batched_after_slice": (lambda a, i: a[:, i], (rand(3, 2, 4), ember.tensor(RNG.integers(0, 4, (3, 5))))),
    "linear": (lambda a, w: F.linear(a, w, ember.ones(6)), (X, rand(3, 6, 4))),
    "layer_norm": (lambda a: F.layer_norm(a, (4,)), (rand(3, 2, 4),)),
    "cross_entropy": (lambda a, t: F.cross_entropy(a[None], t[None]), (X, ember.tensor([0, 3, 1]))),
    "conv2d_batched_input": (lambda a: F.conv2d(a, ember.ones(2, 3, 3, 3) / 9, padding=1), (rand(3, 2, 3, 6, 6),)),
    "conv2d_batched_weight": (lambda a, w: F.conv2d(a, w, stride=2), (rand(3, 1, 2, 5, 5), rand(3, 4, 2, 3, 3))),
    "max_pool2d": (lambda a: F.max_pool2d(a, 2), (rand(3, 2, 2, 4, 4),)),
    "linalg_inv_solve": (lambda a, b: ember.linalg.solve(a @ a.mT + ember.eye(3), b)
                         + ember.linalg.inv(a + 4 * ember.eye(3)).sum(-1, keepdim=True),
                         (rand(4, 3, 3), rand(4, 3, 2))),
    "linalg_cholesky_eigh": (lambda a: ember.linalg.cholesky(a @ a.mT + ember.eye(3)).sum()
                             + ember.linalg.eigvalsh(a + a.mT), (rand(4, 3, 3),)),
    "index_put_batched": (lambda a, i: _put(a, (i,), a[:2] * 3), (X, ember.tensor(RNG.integers(0, 4, (3, 2))))),
    "index_put_separated": (lambda a, i: _put(a, (i, slice(None), i), 5.0),
                            (rand(3, 4, 2, 4), ember.tensor(RNG.integers(0, 4, (3, 2))))),
    "embedding_per_sample": (lambda w, i: F.embedding(i, w), (rand(3, 5, 2), ember.tensor(RNG.integers(0, 5, (3, 4))))),
}


@pytest.mark.parametrize("name", list(CASES))
def test_rule_matches_loop(name):
    f, args = CASES[name]
    close(vmap(f)(*args), looped(f, *args))


def test_in_dims_out_dims_and_pytrees():
    a, b = rand(4, 3), rand(3, 5)

    def f(pair, scale):
        x, y = pair
        return {"sum": x.sum() * scale, "outer": ember.outer(x, y)}

    out = vmap(f, in_dims=((1, 0), None), out_dims={"sum": 0, "outer": 2})((a, b), 2.0)
    a64, b64 = a.numpy().astype(np.float64), b.numpy().astype(np.float64)
    close(out["sum"], a64.sum(0) * 2)
    close(out["outer"], np.einsum("ib,bj->ijb", a64, b64))
    # an unbatched output is expanded; out_dims=None passes it through
    close(vmap(lambda x: ember.ones(2), out_dims=0)(a), np.ones((4, 2)))
    close(vmap(lambda x: (x, ember.ones(2)), out_dims=(1, None))(a)[1], np.ones(2))


def test_nested_vmap_and_chunks():
    a, b = rand(3, 4, 5), rand(4, 5)
    f = vmap(vmap(lambda x, y: (x * y).sum(), in_dims=(0, 0)), in_dims=(0, None))
    close(f(a, b), (a.numpy().astype(np.float64) * b.numpy()).sum(-1))
    g = vmap(vmap(ember.dot, in_dims=(None, 0)), in_dims=(0, None))   # an outer product of dots
    close(g(a[:, 0], b), np.einsum("ik,jk->ij", a[:, 0].numpy(), b.numpy()))
    close(vmap(lambda x: x @ b.t(), chunk_size=2)(a[0]), a[0].numpy() @ b.numpy().T)


def test_inplace_ops_and_views():
    a = rand(3, 4)

    def f(x):
        y = x.clone()
        y.mul_(2)
        y[0] = 5.0
        y[1:3].add_(x[:2])
        return y
    close(vmap(f)(a), looped(f, a))
    # writing a batched value into an unbatched tensor is PyTorch's error
    with pytest.raises(RuntimeError, match="vmap: inplace arithmetic"):
        vmap(lambda x: ember.zeros(4).add_(x))(a)


def test_randomness():
    a = rand(4, 3)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        vmap(lambda x: x + ember.rand(3))(a)
    same = vmap(lambda x: ember.rand(3), randomness="same")(a)
    assert all(np.array_equal(same[0].numpy(), same[i].numpy()) for i in range(4))
    chunked = vmap(lambda x: ember.rand(3), randomness="same", chunk_size=3)(a)
    assert all(np.array_equal(chunked[0].numpy(), chunked[i].numpy()) for i in range(4))
    diff = vmap(lambda x: ember.randn(3), randomness="different")(a)
    assert diff.shape == (4, 3) and not np.array_equal(diff[0].numpy(), diff[1].numpy())
    drop = vmap(lambda x: F.dropout(ember.ones(1000), 0.5), randomness="different")(a)
    kept = (drop.numpy() != 0).mean(1)
    assert np.all(np.abs(kept - 0.5) < 0.1) and not np.array_equal(drop[0].numpy(), drop[1].numpy())


def test_errors_name_the_values():
    a, b = rand(3, 4), rand(2, 4)
    with pytest.raises(ValueError, match=r"got sizes \[3, 2\] for the mapped dimension"):
        vmap(ember.add)(a, b)
    with pytest.raises(ValueError, match=r"Got in_dim=2 for some input.*-2 <= in_dim < 2"):
        vmap(ember.sin, in_dims=2)(a)
    with pytest.raises(ValueError, match="We cannot vmap over non-Tensor arguments"):
        vmap(lambda x, n: x, in_dims=(0, 0))(a, 3)
    with pytest.raises(ValueError, match="Expected at least one Tensor to vmap over"):
        vmap(ember.sin, in_dims=(None,))(a)
    with pytest.raises(ValueError, match="in_dims is not compatible with the structure"):
        vmap(lambda x: x, in_dims=(0, 0))(a)
    with pytest.raises(ValueError, match="must only return Tensors"):
        vmap(lambda x: 1)(a)
    with pytest.raises(ValueError, match="can not return a BatchedTensor when out_dim is None"):
        vmap(lambda x: x, out_dims=None)(a)
    with pytest.raises(IndexError, match="Dimension out of range"):
        vmap(lambda x: x, out_dims=3)(a)
    with pytest.raises(RuntimeError, match="calling .item"):
        vmap(lambda x: x.sum().item())(a)
    with pytest.raises(RuntimeError, match="dynamic shape"):
        vmap(lambda x: x.nonzero())(a)
    with pytest.raises(ValueError, match="chunk_size should be None or greater than 0"):
        vmap(ember.sin, chunk_size=0)
    with pytest.raises(RuntimeError, match="Only allowed values for randomness"):
        vmap(ember.sin, randomness="sometimes")


def test_fallback_loops_and_warns():
    a = rand(3, 4, 4)
    sym = a @ a.mT + 4 * ember.eye(4)
    b = rand(3, 4, 2)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        # ldl_solve has no batching rule: the per-sample loop
        out = vmap(lambda m, r: ember.linalg.ldl_solve(*ember.linalg.ldl_factor(m), r))(sym, b)
    assert any("batching rule for linalg_ldl_solve" in str(w.message) for w in seen)
    close(out, np.linalg.solve(sym.numpy().astype(np.float64), b.numpy()), 1e-4)


def test_debug_unwrap_and_physical_layout():
    a = rand(3, 4)
    seen = {}

    def f(x):
        seen["physical"] = debug_unwrap(x)
        seen["repr"] = repr(x)
        return x
    vmap(f, in_dims=1)(a)
    close(seen["physical"], a.numpy().T)
    assert seen["repr"].startswith("BatchedTensor(lvl=")
    assert debug_unwrap(a) is a
    assert ember.vmap is vmap


def test_on_every_device(any_device):
    """The rules are device-agnostic: batched forward, per-sample gradients, a jacobian, batched indices."""
    from ember.func import grad, jacrev
    x = rand(4, 5).to(any_device)
    w = rand(3, 5).to(any_device)
    t = ember.tensor([0, 1, 2, 0]).to(any_device)
    xn, wn = x.cpu().numpy().astype(np.float64), w.cpu().numpy().astype(np.float64)
    close(vmap(lambda a: ember.tanh(F.linear(a, w)).sum())(x).cpu(), np.tanh(xn @ wn.T).sum(1), 1e-4)

    def loss(w_, a, ti):
        return F.cross_entropy(F.linear(a, w_)[None], ti[None])
    per_sample = vmap(grad(loss), in_dims=(None, 0, 0))(w, x, t)
    for n in range(4):
        logits = wn @ xn[n]
        p = np.exp(logits - logits.max())
        p /= p.sum()
        p[t[n].item()] -= 1
        close(per_sample[n].cpu(), np.outer(p, xn[n]), 1e-4)
    close(jacrev(ember.sin)(x[0]).cpu(), np.diag(np.cos(xn[0])), 1e-5)
    close(vmap(lambda a, i: a[i])(x, t).cpu(), xn[np.arange(4), t.cpu().numpy()])
