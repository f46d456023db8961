"""Writing results straight into a tensor's memory (core/into.py, ops/elision.py): the in-place
methods' direct path and the Python operators' elision of unnamed intermediates must give
exactly what the general path gives, never touch a tensor something else can see, and keep
PyTorch's errors and autograd's version checks."""
import numpy as np
import pytest

import ember

BIG = 1 << 17  # float32 elements: 512 KiB, above the elision threshold


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _t(rng, *shape, dtype=np.float32):
    return ember.from_numpy(rng.standard_normal(shape).astype(dtype))


def test_operator_chain_matches_numpy_and_reuses_the_intermediate(rng):
    a, b, c = (_t(rng, BIG) for _ in range(3))
    an, bn, cn = a.numpy().copy(), b.numpy().copy(), c.numpy().copy()
    np.testing.assert_array_equal((a * b + c).numpy(), an * bn + cn)
    np.testing.assert_allclose((1 - a * b).numpy(), 1 - an * bn, rtol=1e-6)
    np.testing.assert_allclose((2 * (a * b) / 3).numpy(), 2 * (an * bn) / 3, rtol=1e-6)
    for t, ref in ((a, an), (b, bn), (c, cn)):  # the named operands are untouched
        np.testing.assert_array_equal(t.numpy(), ref)


def test_named_and_shared_operands_are_not_overwritten(rng):
    a, c = _t(rng, BIG), _t(rng, BIG)
    named = a * 2
    before = named.numpy().copy()
    named + c
    np.testing.assert_array_equal(named.numpy(), before)

    kept = []

    def product():
        t = a * 3
        kept.append(t.numpy())  # a numpy array over the same memory
        return t
    snapshot = (a.numpy() * 3).copy()
    product() + c
    np.testing.assert_array_equal(kept[0], snapshot)

    x = _t(rng, 512, 512)
    xs = x.numpy().copy()
    x[:, 0] + 1   # an unnamed view: writing into it would change x
    x.view(-1) * 2
    np.testing.assert_array_equal(x.numpy(), xs)


def test_broadcasting_that_would_grow_the_result_falls_back(rng):
    x, y = _t(rng, 256, 512), _t(rng, 3, 256, 512)
    r = (x * 2) + y
    assert r.shape == (3, 256, 512)
    np.testing.assert_allclose(r.numpy(), x.numpy() * 2 + y.numpy(), rtol=1e-6)
    bias = _t(rng, 512)
    np.testing.assert_allclose(((x * 2) + bias).numpy(), x.numpy() * 2 + bias.numpy(), rtol=1e-6)


def test_autograd_through_elided_shapes(rng):
    w = ember.from_numpy(rng.standard_normal(BIG).astype(np.float32)).requires_grad_()
    c = _t(rng, BIG)
    ((w * 2) * c + 1).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * c.numpy(), rtol=1e-6)


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64, ember.float16, ember.bfloat16])
def test_inplace_methods_match_out_of_place(rng, dtype):
    x = _t(rng, 64, 33).to(dtype)
    y = _t(rng, 64, 33).to(dtype)
    for name in ("add_", "sub_", "mul_", "div_"):
        expect = getattr(ember, name[:-1])(x, y)
        got = x.clone()
        assert getattr(got, name)(y) is got
        np.testing.assert_array_equal(got.float().numpy(), expect.float().numpy())
        got = x.clone()
        getattr(got, name)(1.5)
        np.testing.assert_array_equal(got.float().numpy(), getattr(ember, name[:-1])(x, 1.5).float().numpy())
    for name in ("exp_", "tanh_", "sin_", "sqrt_"):
        src = x.abs() if name == "sqrt_" else x
        got = src.clone()
        getattr(got, name)()
        np.testing.assert_array_equal(got.float().numpy(), getattr(ember, name[:-1])(src).float().numpy())


def test_inplace_on_strided_view_writes_through(rng):
    x = _t(rng, 8, 6)
    ref = x.numpy().copy()
    x[:, ::2].mul_(3)
    ref[:, ::2] *= 3
    np.testing.assert_array_equal(x.numpy(), ref)
    y = _t(rng, 8)
    x.t()[1:4].add_(y)   # a transposed slice, the operand broadcast over its rows
    ref.T[1:4] += y.numpy()
    np.testing.assert_allclose(x.numpy(), ref, rtol=1e-6)


def test_inplace_errors_stay_pytorchs():
    with pytest.raises(RuntimeError, match="can't be cast"):
        ember.arange(5).add_(1.5)
    with pytest.raises(RuntimeError, match="single memory location"):
        ember.ones(3).expand(2, 3).add_(1)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        ember.ones(3).add_(ember.ones(2, 3))


def test_inplace_write_bumps_the_version_autograd_checks(rng):
    w = _t(rng, 5).requires_grad_()
    x = _t(rng, 5)
    loss = (w * x).sum()   # saves x for w's gradient
    x.add_(1)              # the direct path: x needs no grad
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
