"""ember/_aten_forms.py: the torch.* native-signature forms of nn.functional (argument order,
int reductions, in-place forms) against the F functions and float64 numpy references."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F

RNG = np.random.default_rng(7)


def T(*shape):
    return ember.tensor(RNG.standard_normal(shape))


def test_same_results_as_F():
    x, w = T(4, 6), T(6)
    cases = [
        (ember.celu(x, 0.7), F.celu(x, 0.7)), (ember.selu(x), F.selu(x)), (ember.threshold(x, 0.1, -2.0), F.threshold(x, 0.1, -2.0)),
        (ember.hardshrink(x, 0.3), F.hardshrink(x, 0.3)), (ember.prelu(x, ember.tensor([0.25], dtype=ember.float64)),
                                                        F.prelu(x, ember.tensor([0.25], dtype=ember.float64))),
        (ember.pdist(x, 3.0), F.pdist(x, 3.0)), (ember.cosine_similarity(x, x * 2 + 1, 1), F.cosine_similarity(x, x * 2 + 1, 1)),
        (ember.pairwise_distance(x, x + 1), F.pairwise_distance(x, x + 1)),
        (ember.layer_norm(x, (6,), w, w, 1e-3, True), F.layer_norm(x, (6,), w, w, 1e-3)),
        (ember.group_norm(T(2, 6, 3), 3, w, w, 1e-5, True), None),
        (ember.rms_norm(x, (6,), w), F.rms_norm(x, (6,), w)),
        (ember.pixel_shuffle(T(1, 4, 2, 2), 2).shape, (1, 1, 4, 4)), (ember.pixel_unshuffle(T(1, 1, 4, 4), 2).shape, (1, 4, 2, 2)),
    ]
    for got, want in cases:
        if want is None:
            continue
        if isinstance(want, ember.Tensor):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
        else:
            assert tuple(got) == tuple(want)


def test_native_argument_orders():
    x = T(5, 3, 4)
    weight, bias, mean, var = T(3), T(3), ember.zeros(3, dtype=ember.float64), ember.ones(3, dtype=ember.float64)
    got = ember.batch_norm(x, weight, bias, mean, var, False, 0.1, 1e-5, True)
    xn = x.numpy()
    want = xn / np.sqrt(1 + 1e-5) * weight.numpy()[:, None] + bias.numpy()[:, None]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)
    got = ember.instance_norm(x, weight, bias, None, None, True, 0.1, 1e-5, True)
    m, v = xn.mean(-1, keepdims=True), xn.var(-1, keepdims=True)
    np.testing.assert_allclose(got.numpy(), (xn - m) / np.sqrt(v + 1e-5) * weight.numpy()[:, None] + bias.numpy()[:, None],
                               rtol=1e-8, atol=1e-10)
    table = T(6, 2)
    np.testing.assert_array_equal(ember.embedding(table, ember.tensor([[5, 0]])).numpy(), table.numpy()[[[5, 0]]])
    a, b, bias1 = T(4, 3), T(4, 2), T(5)
    w3 = T(5, 3, 2)
    np.testing.assert_allclose(ember.bilinear(a, b, w3, bias1).numpy(),
                               np.einsum("ni,kij,nj->nk", a.numpy(), w3.numpy(), b.numpy()) + bias1.numpy(), rtol=1e-10)


def test_embedding_padding_idx_gets_no_gradient():
    table = ember.tensor(RNG.standard_normal((4, 2)), requires_grad=True)
    ember.embedding(table, ember.tensor([1, 2, 2]), padding_idx=2).sum().backward()
    np.testing.assert_array_equal(table.grad.numpy(), [[0, 0], [1, 1], [0, 0], [0, 0]])
    table.grad = None
    ember.embedding(table, ember.tensor([1, 2, 2])).sum().backward()  # -1: no padding row
    np.testing.assert_array_equal(table.grad.numpy(), [[0, 0], [1, 1], [2, 2], [0, 0]])


@pytest.mark.parametrize("reduction", [0, 1, 2])
def test_int_reductions(reduction):
    name = {0: "none", 1: "mean", 2: "sum"}[reduction]
    x1, x2 = T(6), T(6)
    y = ember.tensor([1.0, -1, 1, -1, 1, 1], dtype=ember.float64)
    logits, probs = T(3, 4), ember.tensor(RNG.uniform(0, 1, (3, 4)))
    lp = ember.log_softmax(T(3, 4), 1)
    pairs = [
        (ember.margin_ranking_loss(x1, x2, y, 0.2, reduction), F.margin_ranking_loss(x1, x2, y, 0.2, reduction=name)),
        (ember.hinge_embedding_loss(x1.abs(), y, 1.0, reduction), F.hinge_embedding_loss(x1.abs(), y, 1.0, reduction=name)),
        (ember.binary_cross_entropy_with_logits(logits, probs, None, None, reduction),
         F.binary_cross_entropy_with_logits(logits, probs, reduction=name)),
        (ember.poisson_nll_loss(logits, probs, True, False, 1e-8, reduction), F.poisson_nll_loss(logits, probs, reduction=name)),
        (ember.triplet_margin_loss(T(3, 4), T(3, 4), T(3, 4), reduction=reduction), None),
        (ember.cosine_embedding_loss(T(6, 3), T(6, 3), y, 0.0, reduction), None),
    ]
    for got, want in pairs:
        if want is not None:
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
        assert (got.dim() > 0) == (reduction == 0)
    kl = ember.kl_div(lp, probs, reduction)
    ref = probs.numpy() * (np.log(probs.numpy()) - lp.numpy())
    np.testing.assert_allclose(kl.numpy(), {0: ref, 1: ref.mean(), 2: ref.sum()}[reduction], rtol=1e-10)
    with pytest.raises(RuntimeError, match="not a valid value for reduction"):
        ember.margin_ranking_loss(x1, x2, y, 0.0, 5)


def test_dropouts():
    x = ember.ones(200, 8, dtype=ember.float64)
    assert ember.dropout(x, 0.5, False) is x and ember.feature_dropout(x, 0.5, False) is x
    out = ember.dropout(x, 0.25, True).numpy()
    assert set(np.unique(out)) <= {0.0, 1 / 0.75} and 0.15 < (out == 0).mean() < 0.35
    ch = ember.feature_dropout(ember.ones(50, 6, 4, dtype=ember.float64), 0.5, True).numpy()
    assert np.all(ch == ch[..., :1]) and set(np.unique(ch)) <= {0.0, 2.0}  # whole channels
    y = ember.ones(100, 4, dtype=ember.float64)
    assert ember.dropout_(y, 0.5, True) is y and (y.numpy() == 0).any()
    for fn in (ember.alpha_dropout, ember.feature_alpha_dropout):
        assert fn(x, 0.5, False) is x or np.array_equal(fn(x, 0.5, False).numpy(), x.numpy())
        assert fn(ember.ones(20, 4, 3), 0.5, True).shape == (20, 4, 3)
    for fn in (ember.alpha_dropout_, ember.feature_alpha_dropout_, ember.feature_dropout_):
        z = ember.ones(20, 4, 3)
        assert fn(z, 0.5, True) is z
    with pytest.raises(ValueError):
        ember.feature_dropout(x, 1.5, True)


def test_in_place_activations_and_rrelu():
    x = T(10)
    for fn, ref in ((ember.celu_, lambda v: F.celu(v)), (ember.selu_, F.selu), (lambda v: ember.threshold_(v, 0.0, 9.0),
                                                                              lambda v: F.threshold(v, 0.0, 9.0))):
        y = x.clone()
        assert fn(y) is y
        np.testing.assert_allclose(y.numpy(), ref(x).numpy(), rtol=1e-12)
    v = ember.tensor([-2.0, -1.0, 3.0], dtype=ember.float64)
    np.testing.assert_allclose(ember.rrelu(v).numpy(), [-2 * (1 / 8 + 1 / 3) / 2, -(1 / 8 + 1 / 3) / 2, 3.0])
    g = ember.Generator().manual_seed(1)
    drawn = ember.rrelu(ember.full((1000,), -1.0, dtype=ember.float64), 0.1, 0.3, True, g).numpy()
    assert -0.3 <= drawn.min() and drawn.max() <= -0.1 and abs(drawn.mean() + 0.2) < 0.01
    w = v.clone()
    assert ember.rrelu_(w) is w


def test_pooling_1d():
    x = T(2, 3, 8)
    np.testing.assert_allclose(ember.avg_pool1d(x, 2).numpy(), x.numpy().reshape(2, 3, 4, 2).mean(-1), rtol=1e-12)
    np.testing.assert_allclose(ember.adaptive_avg_pool1d(x, 4).numpy(), x.numpy().reshape(2, 3, 4, 2).mean(-1), rtol=1e-12)
    values, idx = ember.adaptive_max_pool1d(x, 4)
    np.testing.assert_array_equal(values.numpy(), x.numpy().reshape(2, 3, 4, 2).max(-1))
    assert idx.dtype is ember.int64
