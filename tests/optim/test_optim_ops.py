"""addcmul / addcdiv (added for the optimizers): values, in-place forms, gradients, errors."""
import numpy as np
import pytest

import ember


def _data(rng, device, shape=(3, 4)):
    arrays = [rng.standard_normal(shape) for _ in range(3)]
    arrays[2] = np.abs(arrays[2]) + 0.5  # a safe divisor
    return arrays, [ember.tensor(a, device=device) for a in arrays]


@pytest.mark.parametrize("value", [1, -0.5, 2.0])
def test_addcmul_addcdiv_values(value, device):
    (a, b, c), (ta, tb, tc) = _data(np.random.default_rng(0), device)
    np.testing.assert_allclose(ember.addcmul(ta, tb, tc, value=value).cpu().numpy(), a + value * b * c)
    np.testing.assert_allclose(ember.addcdiv(ta, tb, tc, value=value).cpu().numpy(), a + value * b / c)
    np.testing.assert_allclose(ta.addcdiv(tb, tc, value=value).cpu().numpy(), a + value * b / c)


def test_in_place_forms_and_broadcasting(device):
    (a, b, c), (ta, tb, tc) = _data(np.random.default_rng(1), device)
    row = ember.tensor(c[0], device=device)
    out = ta.clone()
    assert out.addcmul_(tb, row, value=0.25) is out
    np.testing.assert_allclose(out.cpu().numpy(), a + 0.25 * b * c[0])
    out = ta.clone()
    out.addcdiv_(tb, tc)
    np.testing.assert_allclose(out.cpu().numpy(), a + b / c)
    f32 = ember.tensor(a, dtype=ember.float32, device=device)
    f32.addcmul_(tb, tc)  # float64 operands written into a float32 tensor
    assert f32.dtype == ember.float32
    np.testing.assert_allclose(f32.cpu().numpy(), a + b * c, rtol=1e-6, atol=1e-6)


def test_gradients():
    rng = np.random.default_rng(2)
    (a, b, c), _ = _data(rng, "cpu")
    ta, tb, tc = (ember.tensor(x, requires_grad=True) for x in (a, b, c))
    (ember.addcdiv(ta, tb, tc, value=3.0) + ember.addcmul(ta, tb, tc, value=-2.0)).sum().backward()
    np.testing.assert_allclose(ta.grad.numpy(), np.full_like(a, 2.0))
    np.testing.assert_allclose(tb.grad.numpy(), 3.0 / c - 2.0 * c)
    np.testing.assert_allclose(tc.grad.numpy(), -3.0 * b / c ** 2 - 2.0 * b)


def test_integer_addcdiv_is_refused():
    i = ember.tensor([4, 6])
    with pytest.raises(RuntimeError, match="Integer division with addcdiv is no longer supported"):
        ember.addcdiv(ember.zeros(2), i, i)
    np.testing.assert_allclose(ember.addcmul(ember.zeros(2), i, i, value=0.5).numpy(), [8.0, 18.0])
