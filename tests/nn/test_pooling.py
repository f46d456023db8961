"""Pooling (functional and modules) against float64 numpy references, on every device."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F

from ember.dispatch.ops import OPS

from layer_refs import (RNG, adaptive_pool_ref, assert_close, avg_pool_ref, check_layer, float_dtype, host,
                        max_pool_ref, pool_out_size, tensor, tolerances)

DTYPES = [ember.float32, ember.float64]

MAX_POOL_CASES = [
    # x shape, kernel, stride, padding, dilation, ceil_mode
    ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0), (1, 1), False),
    ((2, 2, 7, 6), (3, 3), (1, 1), (1, 1), (1, 1), False),
    ((2, 2, 7, 6), (2, 2), (2, 2), (1, 1), (1, 1), True),
    ((1, 2, 9, 10), (3, 2), (2, 3), (1, 0), (1, 1), True),
    ((2, 2, 9, 9), (3, 3), (2, 2), (1, 1), (2, 1), False),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", MAX_POOL_CASES, ids=lambda c: f"k{c[1]}-s{c[2]}-p{c[3]}-d{c[4]}-ceil{c[5]}")
def test_max_pool2d(any_device, dtype, case):
    device = any_device
    xs, kernel, stride, padding, dilation, ceil_mode = case
    x = RNG(0).standard_normal(xs)
    check_layer(lambda x: F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode),
                lambda x: max_pool_ref(x, kernel, stride, padding, dilation, ceil_mode), [x], device, dtype)


def test_max_pool_return_indices(any_device):
    device = any_device
    x = RNG(1).standard_normal((2, 3, 7, 9))
    out, idx = F.max_pool2d(tensor(x, device), 3, 2, 1, dilation=(1, 2), ceil_mode=True, return_indices=True)
    ref, ref_idx = max_pool_ref(x, (3, 3), (2, 2), (1, 1), (1, 2), True, return_indices=True)
    assert_close(out, ref, 1e-12, 1e-12)
    assert idx.dtype is ember.int64
    np.testing.assert_array_equal(idx.cpu().numpy(), ref_idx)
    out, idx = F.max_pool1d(tensor(x[0], device), 3, 2, 1, return_indices=True)
    ref, ref_idx = max_pool_ref(x[0], (3,), (2,), (1,), (1,), False, return_indices=True)
    assert_close(out, ref, 1e-12, 1e-12)
    np.testing.assert_array_equal(idx.cpu().numpy(), ref_idx)


def test_max_pool_gradient_goes_to_one_element(any_device):
    """Ties send the whole gradient to one element (the first maximum), as PyTorch does."""
    device = any_device
    x = ember.zeros(1, 1, 4, 4, device=device, requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    g = x.grad.cpu().numpy()[0, 0]
    assert g.sum() == 4 and set(np.unique(g)) == {0.0, 1.0}
    assert g[0, 0] == 1 and g[0, 2] == 1


@pytest.mark.parametrize("case", MAX_POOL_CASES, ids=lambda c: f"k{c[1]}-s{c[2]}-p{c[3]}-d{c[4]}-ceil{c[5]}")
def test_max_pool_composite_matches_reference(any_device, case):
    """The composite (what runs where no fused max_pool kernel is): values, gradient and positions."""
    device = any_device
    xs, kernel, stride, padding, dilation, ceil_mode = case
    x = RNG(0).standard_normal(xs)
    out_size = tuple(pool_out_size(xs[2 + i], kernel[i], stride[i], padding[i], dilation[i], ceil_mode)
                     for i in range(2))
    geometry = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation, output_size=out_size)
    check_layer(lambda x: OPS["max_pool"].decomposition(x, **geometry)[0],
                lambda x: max_pool_ref(x, kernel, stride, padding, dilation, ceil_mode), [x], device)
    indices = OPS["max_pool"].decomposition(tensor(x, device), **geometry)[1]
    np.testing.assert_array_equal(indices.cpu().numpy(),
                                  max_pool_ref(x, kernel, stride, padding, dilation, ceil_mode, True)[1])


def test_max_pool_double_backward(any_device):
    """The fused op's derivative is differentiable: grad-of-grad matches the composite's."""
    device = any_device
    x0 = RNG(13).standard_normal((2, 2, 7, 6))
    results = []
    for fn in (lambda x: F.max_pool2d(x, 3, 2, 1),
               lambda x: OPS["max_pool"].decomposition(x, kernel=(3, 3), stride=(2, 2), padding=(1, 1),
                                                          dilation=(1, 1), output_size=(4, 3))[0]):
        x = tensor(x0, device)
        (g,) = ember.autograd.grad((fn(x) ** 2).sum(), (x,), create_graph=True)
        (g * g * tensor(x0, device, grad=False)).sum().backward()
        results.append((host(g), host(x.grad)))
    for a, b in zip(*results):
        assert_close(a, b, *tolerances(float_dtype(device)))


def test_max_pool1d_and_3d(any_device):
    device = any_device
    rng = RNG(2)
    x = rng.standard_normal((2, 3, 11))
    check_layer(lambda x: F.max_pool1d(x, 3, 2, 1, ceil_mode=True),
                lambda x: max_pool_ref(x, (3,), (2,), (1,), (1,), True), [x], device)
    x = rng.standard_normal((1, 2, 5, 4, 5))
    check_layer(lambda x: F.max_pool3d(x, 2, 2, 1),
                lambda x: max_pool_ref(x, (2,) * 3, (2,) * 3, (1,) * 3, (1,) * 3, False), [x], device)


AVG_CASES = [
    # x shape, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
    ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0), False, True, None),
    ((2, 2, 7, 6), (3, 3), (2, 2), (1, 1), False, True, None),
    ((2, 2, 7, 6), (3, 3), (2, 2), (1, 1), False, False, None),
    ((2, 2, 7, 6), (3, 3), (2, 2), (1, 1), True, True, None),
    ((2, 2, 8, 6), (3, 2), (2, 2), (1, 1), True, False, None),
    ((2, 2, 7, 6), (3, 3), (2, 2), (1, 1), False, True, 5),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", AVG_CASES, ids=lambda c: f"k{c[1]}-s{c[2]}-p{c[3]}-ceil{c[4]}-cip{c[5]}-div{c[6]}")
def test_avg_pool2d(any_device, dtype, case):
    device = any_device
    xs, kernel, stride, padding, ceil_mode, count_include_pad, divisor = case
    x = RNG(3).standard_normal(xs)
    check_layer(lambda x: F.avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor),
                lambda x: avg_pool_ref(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor),
                [x], device, dtype)


def test_avg_pool1d_and_unbatched(any_device):
    device = any_device
    x = RNG(4).standard_normal((2, 3, 9))
    check_layer(lambda x: F.avg_pool1d(x, 4, 3, 2, ceil_mode=True),
                lambda x: avg_pool_ref(x, (4,), (3,), (2,), True, True), [x], device)
    check_layer(lambda x: F.avg_pool2d(x, 2),
                lambda x: avg_pool_ref(x[None], (2, 2), (2, 2), (0, 0), False, True)[0], [x], device)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("in_size,out_size", [((7, 10), (3, 4)), ((6, 6), (6, 6)), ((3, 4), (5, 7)),
                                              ((5, 9), (1, 1))])
def test_adaptive_avg_pool2d(any_device, dtype, in_size, out_size):
    device = any_device
    x = RNG(5).standard_normal((2, 3) + in_size)
    check_layer(lambda x: F.adaptive_avg_pool2d(x, out_size),
                lambda x: adaptive_pool_ref(x, out_size, "mean")[0], [x], device, dtype)


def test_adaptive_avg_pool_none_and_1d(any_device):
    device = any_device
    x = RNG(6).standard_normal((2, 3, 7, 10))
    check_layer(lambda x: F.adaptive_avg_pool2d(x, (None, 4)),
                lambda x: adaptive_pool_ref(x, (7, 4), "mean")[0], [x], device)
    x = RNG(7).standard_normal((2, 3, 7))
    check_layer(lambda x: F.adaptive_avg_pool1d(x, 5), lambda x: adaptive_pool_ref(x, (5,), "mean")[0], [x], device)


@pytest.mark.parametrize("in_size,out_size", [((7, 10), (3, 4)), ((3, 4), (5, 7)), ((6, 8), 2)])
def test_adaptive_max_pool2d(any_device, in_size, out_size):
    device = any_device
    x = RNG(8).standard_normal((2, 3) + in_size)
    sizes = (out_size, out_size) if isinstance(out_size, int) else out_size
    check_layer(lambda x: F.adaptive_max_pool2d(x, out_size),
                lambda x: adaptive_pool_ref(x, sizes, "max")[0], [x], device)
    out, idx = F.adaptive_max_pool2d(tensor(x, device), out_size, return_indices=True)
    np.testing.assert_array_equal(idx.cpu().numpy(), adaptive_pool_ref(x, sizes, "max")[1])


def test_pooling_errors(any_device):
    device = any_device
    x = ember.randn(2, 3, 7, 9, device=device)
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size, but got pad=2, "
                                           "kernel_size=2 and dilation=1"):
        F.max_pool2d(x, 2, 2, 2)
    with pytest.raises(RuntimeError, match="Expected 3D or 4D"):
        F.max_pool2d(ember.randn(3, 4, device=device), 2)
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.max_pool2d(ember.randn(1, 1, 2, 2, device=device), 3)


# ---------------------------------------------------------------- modules
def test_pooling_modules(any_device):
    device = any_device
    x = RNG(9).standard_normal((2, 3, 8, 7))
    t = tensor(x, device)
    assert_close(nn.MaxPool2d(3, 2, 1)(t), max_pool_ref(x, (3, 3), (2, 2), (1, 1), (1, 1), False), 1e-12, 1e-12)
    assert_close(nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False)(t),
                 avg_pool_ref(x, (2, 2), (2, 2), (0, 0), True, False), 1e-12, 1e-12)
    assert_close(nn.AdaptiveAvgPool2d((2, 3))(t), adaptive_pool_ref(x, (2, 3), "mean")[0], 1e-12, 1e-12)
    out, idx = nn.AdaptiveMaxPool2d(3, return_indices=True)(t)
    assert_close(out, adaptive_pool_ref(x, (3, 3), "max")[0], 1e-12, 1e-12)
    out, idx = nn.MaxPool1d(2, return_indices=True)(tensor(x[:, :, 0], device))
    ref, ref_idx = max_pool_ref(x[:, :, 0], (2,), (2,), (0,), (1,), False, True)
    assert_close(out, ref, 1e-12, 1e-12)
    np.testing.assert_array_equal(idx.cpu().numpy(), ref_idx)
    assert_close(nn.AvgPool1d(3, 2, 1)(tensor(x[:, :, 0], device)),
                 avg_pool_ref(x[:, :, 0], (3,), (2,), (1,), False, True), 1e-12, 1e-12)
    assert_close(nn.AdaptiveAvgPool1d(4)(tensor(x[:, :, 0], device)),
                 adaptive_pool_ref(x[:, :, 0], (4,), "mean")[0], 1e-12, 1e-12)
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert host(nn.LPPool2d(2, 2)(tensor(np.abs(x), device))).shape == (2, 3, 4, 3)


def test_max_unpool(any_device):
    device = any_device
    x = RNG(14).standard_normal((2, 3, 7, 9))
    values, idx = max_pool_ref(x, (3, 3), (2, 2), (1, 1), (1, 1), False, True)

    def ref(v, size):
        out = np.zeros((2, 3) + size)
        for n, c in np.ndindex(2, 3):
            out[n, c].reshape(-1)[idx[n, c].reshape(-1)] = v[n, c].reshape(-1)
        return out
    indices = ember.tensor(idx, device=device)
    # overlapping windows may pick one element twice (the same value): compare values only
    assert_close(F.max_unpool2d(tensor(values, device), indices, 3, 2, 1, output_size=(7, 9)), ref(values, (7, 9)),
                 0, 0)
    values, idx = max_pool_ref(x, (2, 2), (2, 2), (0, 0), (1, 1), False, True)
    indices = ember.tensor(idx, device=device)
    check_layer(lambda v: nn.MaxUnpool2d(2)(v, indices, output_size=(7, 9)), lambda v: ref(v, (7, 9)), [values],
                device)
    values, idx = max_pool_ref(x[:, :, :6, :8], (2, 2), (2, 2), (0, 0), (1, 1), False, True)
    indices = ember.tensor(idx, device=device)
    check_layer(lambda v: nn.MaxUnpool2d(2)(v, indices), lambda v: ref(v, (6, 8)), [values], device)
    # the inverse of max_pool on the picked elements
    pooled, where = F.max_pool1d(tensor(x[0], device, grad=False), 3, return_indices=True)
    restored = host(F.max_unpool1d(pooled, where, 3))
    kept = restored != 0
    assert_close(restored[kept], x[0][kept], *tolerances(float_dtype(device)))
    with pytest.raises(ValueError, match="invalid output_size"):
        F.max_unpool2d(tensor(values, device), indices, 2, output_size=(12, 9))
