"""addcmul / addcdiv (added for the optimizers): values, in-place forms, gradients, errors."""
import numpy as np
import pytest

import ember


def _has_float64(device):
    from ember.dispatch.registry import REGISTRY
    return ember.float64 in REGISTRY.available_backend(device).supported_dtypes()


def _data(rng, device, shape=(3, 4)):
    """Three arrays (the last a safe divisor) as float64 numpy arrays and as tensors on
    ``device``: float64 where it has it, else (mps) float32, the arrays then rounded to it."""
    dtype = ember.float64 if _has_float64(device) else ember.float32
    arrays = [rng.standard_normal(shape) for _ in range(3)]
    arrays[2] = np.abs(arrays[2]) + 0.5
    arrays = [a.astype(np.dtype(dtype.numpy)).astype(np.float64) for a in arrays]
    return arrays, [ember.tensor(a, dtype=dtype, device=device) for a in arrays]


def _tol(t):
    return dict(rtol=1e-7) if t.dtype is ember.float64 else dict(rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("value", [1, -0.5, 2.0])
def test_addcmul_addcdiv_values(value, any_device):
    device = any_device
    (a, b, c), (ta, tb, tc) = _data(np.random.default_rng(0), device)
    tol = _tol(ta)
    np.testing.assert_allclose(ember.addcmul(ta, tb, tc, value=value).cpu().numpy(), a + value * b * c, **tol)
    np.testing.assert_allclose(ember.addcdiv(ta, tb, tc, value=value).cpu().numpy(), a + value * b / c, **tol)
    np.testing.assert_allclose(ta.addcdiv(tb, tc, value=value).cpu().numpy(), a + value * b / c, **tol)


def test_in_place_forms_and_broadcasting(any_device):
    device = any_device
    (a, b, c), (ta, tb, tc) = _data(np.random.default_rng(1), device)
    tol = _tol(ta)
    row = ember.tensor(c[0], dtype=ta.dtype, device=device)
    out = ta.clone()
    assert out.addcmul_(tb, row, value=0.25) is out
    np.testing.assert_allclose(out.cpu().numpy(), a + 0.25 * b * c[0], **tol)
    out = ta.clone()
    out.addcdiv_(tb, tc)
    np.testing.assert_allclose(out.cpu().numpy(), a + b / c, **tol)
    f32 = ember.tensor(a, dtype=ember.float32, device=device)
    f32.addcmul_(tb, tc)  # float64 operands (where the device has them) written into float32
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
