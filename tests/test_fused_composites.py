"""The derivative rules of fused composites (used when a backend's kernel replaces the
decomposition: CuPy's gelu and layer_norm today) give the decomposition's gradients, first
and second order. The test installs numpy kernels on the CPU for the duration."""
import contextlib
import math

import numpy as np
import pytest
import scipy.special

import ember
from ember.dispatch.ops import OPS


def _gelu_kernel(x, *, approximate):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + scipy.special.erf(x / math.sqrt(2)))


def _layer_norm_kernel(x, weight, bias, *, normalized_ndim, eps):
    dims = tuple(range(x.ndim - normalized_ndim, x.ndim))
    mean = x.mean(axis=dims, keepdims=True)
    rstd = 1 / np.sqrt(((x - mean) ** 2).mean(axis=dims, keepdims=True) + eps)
    y = (x - mean) * rstd
    y = y * weight if weight is not None else y
    y = y + bias if bias is not None else y
    lead = x.shape[:x.ndim - normalized_ndim]
    return y, mean.reshape(lead), rstd.reshape(lead)


@contextlib.contextmanager
def fused_on_cpu(name, kernel):
    """Run ``name`` on the CPU through ``kernel`` (None: through its decomposition), then put
    back whatever the CPU plugin registered (it has its own fused kernels for some ops)."""
    op = OPS[name]
    before = op.kernels.pop("CPU", None)
    if kernel is not None:
        op.kernels["CPU"] = kernel
    op.resolved.clear()
    try:
        yield
    finally:
        op.kernels.pop("CPU", None)
        if before is not None:
            op.kernels["CPU"] = before
        op.resolved.clear()


def _grads(fn, inputs, create_graph):
    out = fn(*inputs)
    upstream = ember.randn(*out.shape, dtype=out.dtype)
    grads = ember.autograd.grad(out, inputs, upstream, create_graph=create_graph, allow_unused=True)
    if not create_graph:
        return out, grads, None
    total = sum((g * g).sum() for g in grads if g is not None)  # a second-order quantity
    return out, grads, ember.autograd.grad(total, inputs, allow_unused=True)


def _compare(fn, inputs, name, kernel):
    ember.manual_seed(3)
    with fused_on_cpu(name, None):  # the reference: the decomposition
        out, grads, second = _grads(fn, inputs, True)
    ember.manual_seed(3)
    with fused_on_cpu(name, kernel):
        assert OPS[name].resolved.get("cpu") is None
        fused_out, fused_grads, fused_second = _grads(fn, inputs, True)
        assert fused_out.grad_fn.name() == "".join(p.capitalize() for p in name.split("_")) + "Backward0"
    np.testing.assert_allclose(fused_out.detach().numpy(), out.detach().numpy(), rtol=1e-10, atol=1e-12)
    for got, want in zip(fused_grads + fused_second, grads + second):
        assert (got is None) == (want is None)
        if got is not None:
            np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_fused_gelu_has_the_decompositions_gradients(approximate):
    x = ember.randn(4, 5, dtype=ember.float64, requires_grad=True) * 2
    x = x.detach().requires_grad_()
    _compare(lambda t: ember.nn.functional.gelu(t, approximate=approximate), [x], "gelu", _gelu_kernel)


@pytest.mark.parametrize("affine", [True, False])
def test_fused_layer_norm_has_the_decompositions_gradients(affine):
    x = ember.randn(3, 4, 5, dtype=ember.float64, requires_grad=True)
    w = ember.randn(4, 5, dtype=ember.float64, requires_grad=True) if affine else None
    b = ember.randn(4, 5, dtype=ember.float64, requires_grad=True) if affine else None
    inputs = [t for t in (x, w, b) if t is not None]

    def layer_norm(*ts):
        return ember.nn.functional.layer_norm(ts[0], (4, 5), *ts[1:], eps=1e-5)
    _compare(layer_norm, inputs, "layer_norm", _layer_norm_kernel)


def test_layer_norm_keeps_half_precision_statistics_in_float32():
    x = ember.randn(2, 8).half()
    y, mean, rstd = OPS["layer_norm"].decomposition(x, None, None, normalized_ndim=1, eps=1e-5)
    assert y.dtype is ember.float16 and mean.dtype is ember.float32 and rstd.dtype is ember.float32
    ref = x.float().numpy()
    ref = (ref - ref.mean(-1, keepdims=True)) / np.sqrt(ref.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y.float().numpy(), ref, atol=4e-3)
