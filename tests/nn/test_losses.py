"""Losses (functional and module forms) against float64 numpy references: outputs and
gradients for every reduction, float32 and float64, on every available device."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from core_refs import FLOAT_DTYPES, away_from, compare, host, rounded, widest_float

REDUCTIONS = ("none", "mean", "sum")


def reduce_np(loss, reduction):
    return {"none": loss, "mean": np.mean(loss), "sum": np.sum(loss)}[reduction]


def np_log_softmax(x, dim):
    s = x - x.max(axis=dim, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=dim, keepdims=True))


def np_softplus(x):
    return np.logaddexp(0.0, x)


def rng(seed=0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------- regression losses
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses(reduction, dtype, any_device):
    device = any_device
    r = rng(1)
    x, y = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    both = (0, 1)
    compare(lambda a, b: F.mse_loss(a, b, reduction=reduction),
            lambda a, b: reduce_np((a - b) ** 2, reduction), [x, y], device, dtype, both)
    x = y + away_from(x - y, (0,))
    compare(lambda a, b: F.l1_loss(a, b, reduction=reduction),
            lambda a, b: reduce_np(np.abs(a - b), reduction), [x, y], device, dtype, both)
    x = y + away_from(x - y, (-0.5, 0.5))

    def smooth(a, b, beta=0.5):
        d = np.abs(a - b)
        return reduce_np(np.where(d < beta, 0.5 * d ** 2 / beta, d - 0.5 * beta), reduction)
    compare(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=0.5), smooth, [x, y], device, dtype, both)
    x = y + away_from(x - y, (-0.8, 0.8))

    def huber(a, b, delta=0.8):
        d = np.abs(a - b)
        return reduce_np(np.where(d < delta, 0.5 * d ** 2, delta * (d - 0.5 * delta)), reduction)
    compare(lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=0.8), huber, [x, y], device, dtype, both)


def test_smooth_l1_beta_zero_is_l1(any_device):
    device = any_device
    x, y = ember.randn(5, device=device), ember.randn(5, device=device)
    np.testing.assert_allclose(host(F.smooth_l1_loss(x, y, beta=0.0)), host(F.l1_loss(x, y)), rtol=1e-6)
    with pytest.raises(RuntimeError, match="negative"):
        F.smooth_l1_loss(x, y, beta=-1.0)


def test_size_mismatch_warns(any_device):
    device = any_device
    with pytest.warns(UserWarning, match="target size"):
        F.mse_loss(ember.ones(3, 1, device=device), ember.ones(3, device=device))


def test_bad_reduction(any_device):
    device = any_device
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.mse_loss(ember.ones(3, device=device), ember.ones(3, device=device), reduction="avg")


def test_legacy_size_average_reduce(any_device):
    device = any_device
    x, y = ember.randn(4, device=device), ember.randn(4, device=device)
    with pytest.warns(UserWarning):
        total = F.mse_loss(x, y, size_average=False)
    np.testing.assert_allclose(host(total), host(F.mse_loss(x, y, reduction="sum")), rtol=1e-6)
    with pytest.warns(UserWarning):
        assert nn.L1Loss(reduce=False).reduction == "none"


# ---------------------------------------------------------------- binary losses
def np_bce(p, y, w=None):
    loss = -(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log1p(-p), -100))
    return loss if w is None else loss * w


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(reduction, dtype, any_device):
    device = any_device
    r = rng(2)
    p, y, w = r.uniform(0.05, 0.95, (3, 4)), r.uniform(0, 1, (3, 4)), r.uniform(0.5, 2, 4)
    compare(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction),
            lambda a, b: reduce_np(np_bce(a, b), reduction), [p, y], device, dtype, (0, 1))
    weight = ember.tensor(w, dtype=dtype, device=device)
    compare(lambda a, b: F.binary_cross_entropy(a, b, weight=weight, reduction=reduction),
            lambda a, b: reduce_np(np_bce(a, b, w.astype(np.dtype(dtype.numpy))), reduction), [p, y], device,
            dtype, (0,))


def test_binary_cross_entropy_saturated_probabilities(any_device):
    device = any_device
    p = ember.tensor([0.0, 1.0, 0.5, 1.0], device=device, requires_grad=True)
    y = ember.tensor([0.0, 1.0, 1.0, 0.0], device=device)
    loss = F.binary_cross_entropy(p, y, reduction="none")
    np.testing.assert_allclose(host(loss), [0.0, 0.0, np.log(2), 100.0], rtol=1e-6)
    loss.sum().backward()
    assert np.isfinite(host(p.grad)).all()
    with pytest.raises(ValueError, match="target size"):
        F.binary_cross_entropy(p, ember.ones(2, 2, device=device))


def np_bce_logits(x, y, w=None, pw=None):
    log_weight = 1.0 if pw is None else 1 + (pw - 1) * y
    loss = (1 - y) * x + log_weight * np_softplus(-x)
    return loss if w is None else loss * w


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits(reduction, dtype, any_device):
    device = any_device
    r = rng(3)
    x, y = r.standard_normal((3, 4)) * 4, r.uniform(0, 1, (3, 4))
    w, pw = r.uniform(0.5, 2, 4), r.uniform(0.2, 3, 4)
    compare(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction),
            lambda a, b: reduce_np(np_bce_logits(a, b), reduction), [x, y], device, dtype, (0, 1))
    q = lambda a: a.astype(np.dtype(dtype.numpy)).astype(np.float64)  # noqa: E731
    weight, pos_weight = ember.tensor(w, dtype=dtype, device=device), ember.tensor(pw, dtype=dtype, device=device)
    compare(lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight, reduction=reduction, pos_weight=pos_weight),
            lambda a, b: reduce_np(np_bce_logits(a, b, q(w), q(pw)), reduction), [x, y], device, dtype, (0, 1))
    m = nn.BCEWithLogitsLoss(weight=weight, pos_weight=pos_weight, reduction=reduction)
    xt, yt = ember.tensor(x, dtype=dtype, device=device), ember.tensor(y, dtype=dtype, device=device)
    np.testing.assert_allclose(host(m(xt, yt)), reduce_np(np_bce_logits(q(x), q(y), q(w), q(pw)), reduction),
                               rtol=1e-5)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_bce_with_logits_huge_logits(dtype, any_device):
    device = any_device
    x = ember.tensor([1e4, -1e4, 1e4, -1e4, 30.0], dtype=dtype, device=device, requires_grad=True)
    y = ember.tensor([1.0, 0.0, 0.0, 1.0, 0.5], dtype=dtype, device=device)
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(host(loss), [0.0, 0.0, 1e4, 1e4, 15.0], rtol=1e-6, atol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(host(x.grad), [0.0, 0.0, 1.0, -1.0, 0.5], atol=1e-6)


# ---------------------------------------------------------------- classification losses
def np_nll(logp, target, weight=None, ignore_index=-100, reduction="mean"):
    """logp (N, C, *) or (C,), target (N, *) or ()."""
    if logp.ndim == 1:
        logp, target = logp[None], np.asarray(target)[None]
    n_classes = logp.shape[1]
    w = np.ones(n_classes) if weight is None else weight
    flat_logp = np.moveaxis(logp, 1, -1).reshape(-1, n_classes)
    flat_t = target.reshape(-1)
    losses, weights = np.zeros(len(flat_t)), np.zeros(len(flat_t))
    for i, t in enumerate(flat_t):
        if t == ignore_index:
            continue
        weights[i] = w[t]
        losses[i] = -flat_logp[i, t] * w[t]
    if reduction == "none":
        return losses.reshape(target.shape)
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / weights.sum()


def np_cross_entropy(x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    dim = 0 if x.ndim == 1 else 1
    logp = np_log_softmax(x, dim)
    n_classes = x.shape[dim]
    w = np.ones(n_classes) if weight is None else weight
    shape = [1] * x.ndim
    shape[dim] = n_classes
    if target.dtype.kind == "f":  # probabilities
        t = target * (1 - label_smoothing) + label_smoothing / n_classes
        loss = -(logp * t * w.reshape(shape)).sum(axis=dim)
        if reduction == "mean":
            return loss.sum() / (x.size / n_classes)
        return reduce_np(loss, reduction)
    nll = np_nll(logp, target, weight, ignore_index, "none")
    if x.ndim == 1:
        nll = nll.reshape(())
    if label_smoothing == 0:
        if reduction == "none":
            return nll
        if reduction == "sum":
            return nll.sum()
        valid = target != ignore_index
        return nll.sum() / w[np.where(valid, target, 0)][valid].sum()
    valid = target != ignore_index
    smooth = np.where(valid, -(logp * w.reshape(shape)).sum(axis=dim), 0.0)
    eps = label_smoothing
    if reduction == "none":
        return (1 - eps) * nll + eps / n_classes * smooth
    if reduction == "sum":
        return (1 - eps) * nll.sum() + eps / n_classes * smooth.sum()
    total = w[np.where(valid, target, 0)][valid].sum()
    return ((1 - eps) * nll.sum() + eps / n_classes * smooth.sum()) / total


CE_CASES = {
    "plain": dict(),
    "weight": dict(weight=True),
    "ignore": dict(ignore_index=2),
    "weight_ignore": dict(weight=True, ignore_index=2),
    "smoothing": dict(label_smoothing=0.2),
    "smoothing_weight_ignore": dict(weight=True, ignore_index=2, label_smoothing=0.3),
}


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", sorted(CE_CASES))
def test_cross_entropy_class_indices(case, reduction, dtype, any_device):
    device = any_device
    opts = dict(CE_CASES[case])
    r = rng(4)
    x = r.standard_normal((5, 4)) * 2
    target = np.array([0, 2, 3, 2, 1])
    w = r.uniform(0.3, 2.0, 4)
    weight_np = w.astype(np.dtype(dtype.numpy)).astype(np.float64) if opts.pop("weight", False) else None
    weight = None if weight_np is None else ember.tensor(weight_np, dtype=dtype, device=device)
    compare(lambda a, t: F.cross_entropy(a, t, weight=weight, reduction=reduction, **opts),
            lambda a, t: np_cross_entropy(a, t, weight_np, reduction=reduction, **opts),
            [x, target], device, dtype)
    if opts.get("label_smoothing", 0) == 0:
        compare(lambda a, t: F.nll_loss(F.log_softmax(a, 1), t, weight=weight, reduction=reduction, **opts),
                lambda a, t: np_nll(np_log_softmax(a, 1), t, weight_np, reduction=reduction, **opts),
                [x, target], device, dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_nd_input(reduction, dtype, any_device):
    device = any_device
    r = rng(5)
    x = r.standard_normal((2, 3, 4, 2))
    target = r.integers(0, 3, (2, 4, 2))
    target[0, 1, 1] = -100
    w = r.uniform(0.5, 1.5, 3)
    wq = w.astype(np.dtype(dtype.numpy)).astype(np.float64)
    weight = ember.tensor(wq, dtype=dtype, device=device)
    compare(lambda a, t: F.cross_entropy(a, t, weight=weight, reduction=reduction, label_smoothing=0.1),
            lambda a, t: np_cross_entropy(a, t, wq, reduction=reduction, label_smoothing=0.1),
            [x, target], device, dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probabilities(reduction, dtype, any_device):
    device = any_device
    r = rng(6)
    x = r.standard_normal((4, 3, 2))
    p = r.uniform(0, 1, (4, 3, 2))
    p /= p.sum(axis=1, keepdims=True)
    w = r.uniform(0.5, 1.5, 3)
    wq = w.astype(np.dtype(dtype.numpy)).astype(np.float64)
    weight = ember.tensor(wq, dtype=dtype, device=device)
    compare(lambda a, t: F.cross_entropy(a, t, weight=weight, reduction=reduction, label_smoothing=0.15),
            lambda a, t: np_cross_entropy(a, t, wq, reduction=reduction, label_smoothing=0.15),
            [x, p], device, dtype, grad_wrt=(0, 1))


def test_cross_entropy_unbatched(any_device):
    device = any_device
    x = np.random.default_rng(7).standard_normal(5)
    compare(lambda a, t: F.cross_entropy(a, t), lambda a, t: np_cross_entropy(a, t), [x, np.array(3)], device,
            widest_float(device))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_cross_entropy_huge_logits(dtype, any_device):
    device = any_device
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3], [2e4, 2e4, -3e4]])
    target = np.array([1, 1, 0])
    x = ember.tensor(logits, dtype=dtype, device=device, requires_grad=True)
    loss = F.cross_entropy(x, ember.tensor(target, device=device), reduction="none")
    np.testing.assert_allclose(host(loss), [2e4, 0.0, np.log(2)], rtol=1e-6)
    loss.sum().backward()
    expected_grad = np.exp(np_log_softmax(logits, 1)) - np.eye(3)[target]
    np.testing.assert_allclose(host(x.grad), expected_grad, atol=1e-6)
    assert np.isfinite(host(x.grad)).all()


def test_cross_entropy_errors(any_device):
    device = any_device
    x = ember.randn(3, 4, device=device)
    with pytest.raises(ValueError, match=r"batch_size \(3\).*\(2\)"):
        F.cross_entropy(x, ember.tensor([0, 1], device=device))
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        F.cross_entropy(x, ember.tensor([0, 7, 1], device=device))
    with pytest.raises(RuntimeError, match="weight tensor should be defined"):
        F.cross_entropy(x, ember.tensor([0, 1, 1], device=device), weight=ember.ones(3, device=device))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Bool"):
        F.nll_loss(x, ember.tensor([0.0, 1.0, 1.0], device=device).bool())


def test_cross_entropy_all_ignored_is_nan(any_device):
    device = any_device
    x = ember.randn(2, 3, device=device)
    loss = F.cross_entropy(x, ember.tensor([-100, -100], device=device))
    assert np.isnan(host(loss))


def test_loss_modules(any_device):
    device = any_device
    r = rng(8)
    dtype = widest_float(device)
    x = ember.tensor(r.standard_normal((4, 3)), dtype=dtype, device=device)
    t = ember.tensor([0, 2, 1, 2], device=device)
    w = ember.tensor([0.5, 1.0, 2.0], dtype=dtype, device=device)
    m = nn.CrossEntropyLoss(weight=w, ignore_index=1, label_smoothing=0.1, reduction="sum")
    assert dict(m.named_buffers())["weight"] is w
    np.testing.assert_allclose(host(m(x, t)), host(F.cross_entropy(x, t, w, ignore_index=1, label_smoothing=0.1,
                                                                    reduction="sum")))
    np.testing.assert_allclose(host(nn.NLLLoss()(x, t)), host(F.nll_loss(x, t)))
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert "weight" not in nn.CrossEntropyLoss().state_dict()
    assert "weight" in m.state_dict()


# ---------------------------------------------------------------- divergence and embedding losses
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS + ("batchmean",))
def test_kl_div(reduction, dtype, any_device):
    device = any_device
    r = rng(9)
    logq = np_log_softmax(r.standard_normal((3, 4)), 1)
    p = r.uniform(0.05, 1, (3, 4))
    p[0, 0] = 0.0

    def ref(a, b, log_target=False):
        loss = np.exp(b) * (b - a) if log_target else np.where(b > 0, b * np.log(np.where(b > 0, b, 1)), 0) - b * a
        return loss.sum() / a.shape[0] if reduction == "batchmean" else reduce_np(loss, reduction)

    ctx = pytest.warns(UserWarning, match="batchmean") if reduction == "mean" else _nothing()
    with ctx:
        compare(lambda a, b: F.kl_div(a, b, reduction=reduction), ref, [logq, p], device, dtype, grad_wrt=(0,))
    with _nothing() if reduction != "mean" else pytest.warns(UserWarning):
        compare(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=True),
                lambda a, b: ref(a, b, True), [logq, np.log(p + 0.1)], device, dtype, grad_wrt=(0, 1))


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding_and_margin_losses(reduction, dtype, any_device):
    device = any_device
    r = rng(10)
    a, b = r.standard_normal((4, 3)), r.standard_normal((4, 3))
    y = np.array([1.0, -1.0, 1.0, -1.0])

    def cos_ref(x1, x2, t, margin=0.1):
        cos = (x1 * x2).sum(1) / np.sqrt(((x1 ** 2).sum(1) + 1e-12) * ((x2 ** 2).sum(1) + 1e-12))
        loss = np.where(t == 1, 1 - cos, np.maximum(cos - margin, 0))
        return reduce_np(loss, reduction)
    compare(lambda x1, x2, t: F.cosine_embedding_loss(x1, x2, t, margin=0.1, reduction=reduction), cos_ref,
            [a, b, y], device, dtype, grad_wrt=(0, 1))

    s1, s2 = r.standard_normal(6), r.standard_normal(6)
    t = np.array([1.0, -1, 1, -1, 1, 1])
    s2 = s1 - t * away_from(t * (s1 - s2), (0.3,))
    compare(lambda x1, x2, tt: F.margin_ranking_loss(x1, x2, tt, margin=0.3, reduction=reduction),
            lambda x1, x2, tt: reduce_np(np.maximum(0, -tt * (x1 - x2) + 0.3), reduction),
            [s1, s2, t], device, dtype, grad_wrt=(0, 1))

    h = away_from(r.standard_normal(6), (0.5,))
    compare(lambda x, tt: F.hinge_embedding_loss(x, tt, margin=0.5, reduction=reduction),
            lambda x, tt: reduce_np(np.where(tt == 1, x, np.maximum(0, 0.5 - x)), reduction),
            [h, t], device, dtype)
    compare(lambda x, tt: F.soft_margin_loss(x, tt, reduction=reduction),
            lambda x, tt: reduce_np(np.logaddexp(0, -tt * x), reduction), [h * 5, t], device, dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_loss(swap, dtype, any_device):
    device = any_device
    r = rng(11)
    anchor, pos, neg = r.standard_normal((5, 3)), r.standard_normal((5, 3)), r.standard_normal((5, 3))

    def dist(x, y, p):
        return (np.abs(x - y + 1e-6) ** p).sum(-1) ** (1 / p)

    def ref(a, p_, n, p=2):
        d_neg = dist(a, n, p)
        if swap:
            d_neg = np.minimum(d_neg, dist(p_, n, p))
        return np.mean(np.maximum(dist(a, p_, p) - d_neg + 0.5, 0))
    compare(lambda a, p_, n: F.triplet_margin_loss(a, p_, n, margin=0.5, swap=swap), ref, [anchor, pos, neg],
            device, dtype, grad_wrt=(0, 1, 2))
    compare(lambda a, p_, n: F.triplet_margin_loss(a, p_, n, margin=0.5, p=3, swap=swap),
            lambda a, p_, n: ref(a, p_, n, 3), [anchor, pos, neg], device, dtype, grad_wrt=(0, 1, 2))
    m = nn.TripletMarginWithDistanceLoss(distance_function=lambda x, y: F.pairwise_distance(x, y), margin=0.5,
                                         swap=swap)
    t = [ember.tensor(v, device=device, dtype=dtype) for v in (anchor, pos, neg)]
    np.testing.assert_allclose(host(m(*t)), ref(*(rounded(v, dtype) for v in (anchor, pos, neg))),
                               rtol=1e-8 if dtype is ember.float64 else 1e-5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_other_losses(reduction, any_device):
    device = any_device
    r = rng(12)
    dtype = widest_float(device)
    x, y = r.standard_normal((3, 4)), r.uniform(0, 1, (3, 4)).round()
    w = r.uniform(0.5, 1.5, 4)
    weight = ember.tensor(w, dtype=dtype, device=device)
    compare(lambda a, b: F.multilabel_soft_margin_loss(a, b, weight=weight, reduction=reduction),
            lambda a, b: reduce_np(((b * np.logaddexp(0, -a) + (1 - b) * np.logaddexp(0, a)) * w).mean(1),
                                   reduction), [x, y], device, dtype)

    logits, target = r.standard_normal((4, 5)), np.array([0, 4, 2, 1])
    cw = r.uniform(0.5, 1.5, 5)

    def multi_margin(a, t, p=2, margin=0.7):
        out = []
        for i in range(a.shape[0]):
            terms = np.maximum(0, margin - a[i, t[i]] + a[i]) ** p * cw[t[i]]
            terms[t[i]] = 0
            out.append(terms.sum() / a.shape[1])
        return reduce_np(np.array(out), reduction)
    logits = away_from(logits, ())
    compare(lambda a, t: F.multi_margin_loss(a, t, p=2, margin=0.7, weight=ember.tensor(cw, dtype=dtype, device=device),
                                             reduction=reduction), multi_margin, [logits, target], device, dtype)

    rate, counts = r.standard_normal((3, 4)), r.uniform(0, 4, (3, 4)).round()

    def poisson(a, b):
        loss = np.exp(a) - b * a
        safe = np.where(b > 1, b, 1)
        stirling = np.where(b > 1, safe * np.log(safe) - safe + 0.5 * np.log(2 * np.pi * safe), 0)
        return reduce_np(loss + stirling, reduction)
    compare(lambda a, b: F.poisson_nll_loss(a, b, full=True, reduction=reduction), poisson, [rate, counts], device,
            dtype)
    compare(lambda a, b: F.poisson_nll_loss(a, b, log_input=False, reduction=reduction),
            lambda a, b: reduce_np(a - b * np.log(a + 1e-8), reduction), [np.exp(rate), counts], device, dtype)

    mu, obs, var = r.standard_normal((3, 4)), r.standard_normal((3, 4)), r.uniform(0.1, 2, (3, 1))
    compare(lambda a, b, v: F.gaussian_nll_loss(a, b, v, full=True, reduction=reduction),
            lambda a, b, v: reduce_np(0.5 * (np.log(v) + (a - b) ** 2 / v) + 0.5 * np.log(2 * np.pi), reduction),
            [mu, obs, var], device, dtype, grad_wrt=(0, 1, 2))


def test_loss_module_reprs_and_defaults():
    assert nn.MSELoss().reduction == "mean"
    assert nn.HuberLoss(delta=2.0).delta == 2.0
    assert nn.KLDivLoss(reduction="batchmean", log_target=True).log_target
    assert repr(nn.BCELoss()) == "BCELoss()"
    with pytest.raises(ValueError, match="margin"):
        nn.TripletMarginLoss(margin=0.0)


def test_loss_modules_match_functional(any_device):
    device = any_device
    r = rng(13)
    dtype = widest_float(device)
    x = ember.tensor(r.standard_normal((3, 4)), dtype=dtype, device=device)
    y = ember.tensor(r.standard_normal((3, 4)), dtype=dtype, device=device)
    p, t01 = x.sigmoid(), ember.tensor(r.uniform(0, 1, (3, 4)), dtype=dtype, device=device)
    sign = ember.tensor([1.0, -1.0, 1.0], device=device)
    cls = ember.tensor([0, 3, 1], device=device)
    pairs = [
        (nn.L1Loss(reduction="sum")(x, y), F.l1_loss(x, y, reduction="sum")),
        (nn.MSELoss()(x, y), F.mse_loss(x, y)),
        (nn.SmoothL1Loss(beta=0.3)(x, y), F.smooth_l1_loss(x, y, beta=0.3)),
        (nn.HuberLoss(delta=0.4)(x, y), F.huber_loss(x, y, delta=0.4)),
        (nn.BCELoss()(p, t01), F.binary_cross_entropy(p, t01)),
        (nn.KLDivLoss(reduction="batchmean", log_target=True)(x, y), F.kl_div(x, y, reduction="batchmean",
                                                                                 log_target=True)),
        (nn.CosineEmbeddingLoss(0.2)(x, y, sign), F.cosine_embedding_loss(x, y, sign, 0.2)),
        (nn.MarginRankingLoss(0.1)(x[:, 0], y[:, 0], sign), F.margin_ranking_loss(x[:, 0], y[:, 0], sign, 0.1)),
        (nn.TripletMarginLoss(0.5)(x, y, p), F.triplet_margin_loss(x, y, p, 0.5)),
        (nn.HingeEmbeddingLoss(0.5)(x[:, 0], sign), F.hinge_embedding_loss(x[:, 0], sign, 0.5)),
        (nn.SoftMarginLoss()(x[:, 0], sign), F.soft_margin_loss(x[:, 0], sign)),
        (nn.MultiLabelSoftMarginLoss()(x, t01.round()), F.multilabel_soft_margin_loss(x, t01.round())),
        (nn.MultiMarginLoss(p=2)(x, cls), F.multi_margin_loss(x, cls, p=2)),
        (nn.PoissonNLLLoss()(x, t01), F.poisson_nll_loss(x, t01)),
        (nn.GaussianNLLLoss()(x, y, t01 + 0.1), F.gaussian_nll_loss(x, y, t01 + 0.1)),
    ]
    for got, want in pairs:
        np.testing.assert_allclose(host(got), host(want), rtol=1e-6)
