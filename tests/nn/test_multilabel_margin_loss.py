"""F.multilabel_margin_loss and nn.MultiLabelMarginLoss against a float64 loop reference."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F

RNG = np.random.default_rng(11)


def _ref(x, y):
    x, y = np.atleast_2d(x), np.atleast_2d(y)
    out = []
    for row, tgt in zip(x, y):
        slots = []
        for v in tgt:
            if v == -1:
                break
            slots.append(v)
        others = [i for i in range(len(row)) if i not in slots]
        out.append(sum(max(0.0, 1 - (row[j] - row[i])) for j in slots for i in others) / len(row))
    return np.array(out)


def _targets(n, c):
    y = np.full((n, c), -1)
    for r in range(n):
        k = RNG.integers(0, c + 1)
        y[r, :k] = RNG.choice(c, k, replace=True)  # repeats allowed: each slot counts
    return y


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_matches_reference(reduction):
    x, y = RNG.standard_normal((6, 5)), _targets(6, 5)
    want = _ref(x, y)
    want = {"none": want, "mean": want.mean(), "sum": want.sum()}[reduction]
    got = F.multilabel_margin_loss(ember.tensor(x), ember.tensor(y), reduction=reduction)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    module = ember.nn.MultiLabelMarginLoss(reduction=reduction)
    np.testing.assert_allclose(module(ember.tensor(x), ember.tensor(y)).numpy(), want, rtol=1e-12)
    assert ember.nn.modules.loss.MultiLabelMarginLoss is ember.nn.MultiLabelMarginLoss


def test_pytorch_example_and_unbatched():
    x, y = ember.tensor([[0.1, 0.2, 0.4, 0.8]]), ember.tensor([[3, 0, -1, 1]])
    assert abs(F.multilabel_margin_loss(x, y).item() - 0.85) < 1e-6  # PyTorch's documented value
    assert F.multilabel_margin_loss(x[0], y[0], reduction="none").shape == ()


def test_gradient():
    x = RNG.standard_normal((3, 4))
    y = np.array([[1, -1, 0, 0], [2, 3, -1, 0], [0, 1, 2, 3]])
    t = ember.tensor(x, requires_grad=True)
    F.multilabel_margin_loss(t, ember.tensor(y), reduction="sum").backward()
    eps, num = 1e-6, np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[idx] = eps
        num[idx] = (_ref(x + d, y).sum() - _ref(x - d, y).sum()) / (2 * eps)
    np.testing.assert_allclose(t.grad.numpy(), num, rtol=1e-5, atol=1e-8)


def test_errors():
    x = ember.zeros(4)
    with pytest.raises(RuntimeError, match="expected scalar type Long but found Float"):
        F.multilabel_margin_loss(x, ember.zeros(4))
    with pytest.raises(RuntimeError, match=r"inconsistent target size: \[4\] for input of size: \[1, 4\]"):
        F.multilabel_margin_loss(x[None], ember.tensor([0, 1, -1, 0]))
    with pytest.raises(RuntimeError, match="out of range"):
        F.multilabel_margin_loss(x, ember.tensor([5, 0, -1, 1]))
