"""F.lp_pool3d and nn.LPPool3d against a float64 numpy reference (and gradients)."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F

RNG = np.random.default_rng(5)


def _ref(x, p, k, s):
    n, c, d, h, w = x.shape
    out = np.zeros((n, c, (d - k) // s + 1, (h - k) // s + 1, (w - k) // s + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            for l in range(out.shape[4]):
                win = x[:, :, i * s:i * s + k, j * s:j * s + k, l * s:l * s + k]
                out[:, :, i, j, l] = (win ** p).sum(axis=(2, 3, 4)) ** (1 / p)
    return out


@pytest.mark.parametrize("p,k,s", [(2.0, 2, 2), (3.0, 3, 1), (1.0, 2, 1)])
def test_lp_pool3d_matches_numpy(p, k, s):
    x = RNG.uniform(0.1, 1.0, (2, 3, 5, 4, 5))
    got = F.lp_pool3d(ember.tensor(x), p, k, s)
    np.testing.assert_allclose(got.numpy(), _ref(x, p, k, s), rtol=1e-10)
    module = ember.nn.LPPool3d(p, k, stride=s)
    np.testing.assert_allclose(module(ember.tensor(x)).numpy(), _ref(x, p, k, s), rtol=1e-10)
    assert ember.nn.modules.pooling.LPPool3d is ember.nn.LPPool3d
    unbatched = F.lp_pool3d(ember.tensor(x[0]), p, k, s)
    np.testing.assert_allclose(unbatched.numpy(), _ref(x, p, k, s)[0], rtol=1e-10)


def test_lp_pool3d_gradient():
    x = RNG.uniform(0.1, 1.0, (1, 1, 2, 2, 2))
    t = ember.tensor(x, requires_grad=True)
    F.lp_pool3d(t, 2.0, 2).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), x / np.sqrt((x ** 2).sum()), rtol=1e-10)
