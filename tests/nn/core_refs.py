"""Helpers for the nn-core tests (activations, losses, functional ops): run an ember
function and a float64 numpy reference on the same random inputs and compare outputs
and gradients.

Reference gradients are central differences of the float64 reference, taken as the
vector-Jacobian product with a random upstream gradient (so one backward checks the
whole Jacobian's action, not just a sum).
"""
from __future__ import annotations

import numpy as np

import ember

# (rtol, atol) for outputs and for gradients, per dtype of the ember computation
TOLERANCES = {
    ember.float64: ((1e-10, 1e-12), (1e-6, 1e-8)),
    ember.float32: ((2e-5, 2e-6), (2e-4, 2e-5)),
}
FLOAT_DTYPES = (ember.float32, ember.float64)


def host(t) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float64)


def rounded(a: np.ndarray, dtype) -> np.ndarray:
    """``a`` rounded to ``dtype``'s precision, back in float64 (what the ember side sees)."""
    return np.asarray(a, dtype=np.float64).astype(np.dtype(dtype.numpy)).astype(np.float64)


def numeric_vjp(fn, arrays, upstream, wrt, eps=1e-6):
    """d/d arrays[wrt] of sum(upstream * fn(*arrays)), by float64 central differences."""
    arrays = [a.copy() if isinstance(a, np.ndarray) else a for a in arrays]
    x = arrays[wrt]
    grad = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(*x.shape):
        orig = x[idx]
        x[idx] = orig + eps
        plus = np.sum(upstream * fn(*arrays))
        x[idx] = orig - eps
        minus = np.sum(upstream * fn(*arrays))
        x[idx] = orig
        grad[idx] = (plus - minus) / (2 * eps)
    return grad


def compare(ember_fn, numpy_fn, arrays, device, dtype, grad_wrt=(0,), seed=0, tol_scale=1.0):
    """Check ``ember_fn(*tensors)`` against ``numpy_fn(*arrays)``: output, and the gradient
    with respect to each floating input listed in ``grad_wrt``.

    Floating numpy arrays become ``dtype`` tensors on ``device`` (the reference sees the
    same rounded values); integer arrays become int64 tensors; other values pass as is.
    """
    (out_rtol, out_atol), (grad_rtol, grad_atol) = TOLERANCES[dtype]
    ref_inputs, tensors = [], []
    for i, a in enumerate(arrays):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            r = rounded(a, dtype)
            ref_inputs.append(r)
            tensors.append(ember.tensor(r, dtype=dtype, device=device, requires_grad=i in grad_wrt))
        elif isinstance(a, np.ndarray):
            ref_inputs.append(a)
            tensors.append(ember.tensor(a.astype(np.int64), device=device))
        else:
            ref_inputs.append(a)
            tensors.append(a)
    out = ember_fn(*tensors)
    expected = np.asarray(numpy_fn(*ref_inputs), dtype=np.float64)
    assert out.device.type == device
    assert out.dtype is dtype, f"output dtype {out.dtype}, expected {dtype}"
    assert tuple(out.shape) == expected.shape, f"shape {tuple(out.shape)} != {expected.shape}"
    np.testing.assert_allclose(host(out), expected, rtol=out_rtol * tol_scale, atol=out_atol * tol_scale)
    if not grad_wrt:
        return out
    rng = np.random.default_rng(seed + 1)
    upstream = rounded(rng.standard_normal(expected.shape), dtype)
    out.backward(ember.tensor(upstream, dtype=dtype, device=device))
    for i in grad_wrt:
        want = numeric_vjp(numpy_fn, ref_inputs, upstream, i)
        got = tensors[i].grad
        assert got is not None, f"no gradient for input {i}"
        assert got.device.type == device and got.dtype is dtype
        np.testing.assert_allclose(host(got), want, rtol=grad_rtol * tol_scale, atol=grad_atol * tol_scale,
                                   err_msg=f"gradient with respect to input {i}")
    return out


def away_from(x: np.ndarray, points, margin=1e-3) -> np.ndarray:
    """Nudge values within ``margin`` of the kinks ``points`` (so finite differences are valid)."""
    x = x.copy()
    for p in points:
        close = np.abs(x - p) < margin
        x[close] = p + 2 * margin
    return x


def widest_float(device) -> "ember.dtype":
    """float64 where ``device`` has it, else float32 (mps has no float64, as in PyTorch)."""
    from ember.dispatch.registry import REGISTRY
    supported = REGISTRY.available_backend(device).supported_dtypes()
    return ember.float64 if ember.float64 in supported else ember.float32
