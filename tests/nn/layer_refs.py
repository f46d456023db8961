"""float64 numpy references for the conv / pooling / normalization / sampling / recurrent /
attention tests, and the helpers that compare ember against them.

Each reference is written from the layer's definition (direct sums over windows, explicit
loops), not from ember's implementation. Reference gradients are central differences of
the float64 reference (exact up to rounding for the many layers that are linear).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import ember

RNG = np.random.default_rng


def supports(device, dtype):
    from ember.dispatch.registry import REGISTRY
    return dtype in REGISTRY.available_backend(ember.device(device).type).supported_dtypes()


def float_dtype(device):
    """The most precise float dtype ``device`` has: float64, or float32 (e.g. on MPS)."""
    return ember.float64 if supports(device, ember.float64) else ember.float32


def need(device, dtype):
    """Skip the calling test where ``device`` has no ``dtype`` (float64 on MPS)."""
    if not supports(device, dtype):
        pytest.skip(f"{device} has no {dtype}")


def tensor(a, device, dtype=None, grad=True):
    dtype = float_dtype(device) if dtype is None else dtype
    return ember.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=grad)


def host(t):
    return t.detach().cpu().numpy().astype(np.float64)


def tolerances(dtype):
    """(rtol, atol) for outputs of O(1) values computed in ``dtype``."""
    return (1e-9, 1e-10) if dtype is ember.float64 else (2e-4, 2e-5)


def grad_tolerances(dtype):
    """(rtol, atol) for gradients against central differences of the float64 reference."""
    return (1e-5, 1e-6) if dtype is ember.float64 else (2e-3, 2e-4)


def assert_close(actual, expected, rtol, atol, what=""):
    """allclose; a Tensor held in float32 (a device without float64) gets at least float32's tolerances."""
    if isinstance(actual, ember.Tensor):
        if actual.dtype is ember.float32:
            floor = tolerances(ember.float32)
            rtol, atol = max(rtol, floor[0]), max(atol, floor[1])
        actual = host(actual)
    else:
        actual = np.asarray(actual, dtype=np.float64)
    assert actual.shape == np.shape(expected), f"{what}: shape {actual.shape} != {np.shape(expected)}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


_NUMERIC_CACHE = {}


def _value_key(v, depth=0):
    """A key that identifies a reference function's behaviour: its code and, recursively, what it closes over."""
    if isinstance(v, np.ndarray):
        return v.dtype.str, v.shape, v.tobytes()
    if callable(v) and hasattr(v, "__code__") and depth < 8:
        cells = tuple(_value_key(c.cell_contents, depth + 1) for c in (v.__closure__ or ()))
        defaults = tuple(_value_key(d, depth + 1) for d in (v.__defaults__ or ()))
        code = v.__code__  # not the name: identical reference lambdas in different tests share a result
        return v.__module__, code.co_code, code.co_consts, code.co_names, cells, defaults
    if isinstance(v, (list, tuple)):
        return type(v).__name__, tuple(_value_key(x, depth + 1) for x in v)
    if isinstance(v, dict):
        return "dict", tuple((k, _value_key(x, depth + 1)) for k, x in v.items())
    return repr(v)


def _cache_key(fn, arrays, weights, which):
    return _value_key(fn), _value_key(list(arrays)), weights.tobytes(), tuple(which)


def numeric_grads(fn, arrays, weights, which=None, eps=1e-6):
    """d sum(fn(*arrays) * weights) / d arrays[i] for i in ``which`` (all by default), by central differences.

    Cached: the float32 and float64 runs of a test share one computation."""
    which = tuple(range(len(arrays)) if which is None else which)
    key = _cache_key(fn, arrays, weights, which)
    if key not in _NUMERIC_CACHE:
        _NUMERIC_CACHE[key] = _numeric_grads(fn, arrays, weights, which, eps)
    return _NUMERIC_CACHE[key]


def _numeric_grads(fn, arrays, weights, which, eps):
    arrays = [np.array(a, dtype=np.float64, copy=True) if isinstance(a, np.ndarray) else a for a in arrays]
    grads = []
    for i in which:
        a = arrays[i]
        g = np.zeros_like(a)
        flat, gflat = a.reshape(-1), g.reshape(-1)
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            plus = np.sum(fn(*arrays) * weights)
            flat[j] = orig - eps
            minus = np.sum(fn(*arrays) * weights)
            flat[j] = orig
            gflat[j] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def check_layer(ember_fn, ref_fn, arrays, device, dtype=None, which=None, grad=True, seed=1):
    """Compare ember_fn(*tensors) with ref_fn(*arrays) (output), and the gradients of
    sum(out * w) for a random w with respect to the arrays in ``which`` (all ndarrays by default).

    ``dtype`` defaults to the device's most precise float; a dtype the device lacks skips the test."""
    if dtype is None:
        dtype = float_dtype(device)
    need(device, dtype)
    rtol, atol = tolerances(dtype)
    which = [i for i, a in enumerate(arrays) if isinstance(a, np.ndarray)] if which is None else list(which)
    tensors = [tensor(a, device, dtype, grad=grad and i in which) if isinstance(a, np.ndarray) else a
               for i, a in enumerate(arrays)]
    out = ember_fn(*tensors)
    expected = ref_fn(*arrays)
    assert out.device.type == ember.device(device).type
    assert out.dtype is dtype
    assert_close(out, expected, rtol, atol, "output")
    if not grad or not which:
        return out
    weights = RNG(seed).standard_normal(np.shape(expected))
    (out * ember.tensor(weights, dtype=dtype, device=device)).sum().backward()
    ref_grads = numeric_grads(ref_fn, arrays, weights, which)
    grtol, gatol = grad_tolerances(dtype)
    scale = max(1.0, max(float(np.abs(g).max()) for g in ref_grads if g.size) if ref_grads else 1.0)
    for i, g in zip(which, ref_grads):
        assert tensors[i].grad is not None, f"no gradient for input {i}"
        assert_close(tensors[i].grad, g, grtol, gatol * scale, f"gradient of input {i}")
    return out


def check_module(module, run, ref, inputs, device, grad_params=None):
    """Outputs of run(module, *tensors) against ref(params, *inputs), then the gradients of a random
    weighting of all outputs with respect to the inputs and the parameters named in ``grad_params``
    (every parameter by default)."""
    dtype = float_dtype(device)
    module = module.to(device).to(dtype)
    names = [n for n, _ in module.named_parameters()]
    params = {n: host(p) for n, p in module.named_parameters()}
    tensors = [tensor(a, device) for a in inputs]
    outs = run(module, *tensors)
    expected = ref(params, *inputs)
    assert len(outs) == len(expected)
    for o, e in zip(outs, expected):
        assert_close(o, e, *tolerances(dtype), "output")
    weights = [RNG(100 + i).standard_normal(np.shape(e)) for i, e in enumerate(expected)]
    loss = sum((o * ember.tensor(w, dtype=dtype, device=device)).sum() for o, w in zip(outs, weights))
    loss.backward()

    def flat(*arrays):
        p = dict(zip(names, arrays[len(inputs):]))
        return np.concatenate([r.ravel() for r in ref(p, *arrays[:len(inputs)])])
    arrays = list(inputs) + [params[n] for n in names]
    checked = names if grad_params is None else [n for n in names if n in grad_params]
    which = list(range(len(inputs))) + [len(inputs) + names.index(n) for n in checked]
    ref_grads = numeric_grads(flat, arrays, np.concatenate([w.ravel() for w in weights]), which)
    got = [t.grad for t in tensors] + [dict(module.named_parameters())[n].grad for n in checked]
    for name, g, r in zip([f"input {i}" for i in range(len(inputs))] + checked, got, ref_grads):
        assert g is not None, f"no gradient for {name}"
        assert_close(g, r, *grad_tolerances(dtype), f"gradient of {name}")


# ---------------------------------------------------------------- convolution
def _out_size(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def conv_ref(x, w, b, stride, padding, dilation, groups):
    nd = w.ndim - 2
    kernel = w.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    out_sizes = tuple(_out_size(x.shape[2 + i], kernel[i], stride[i], padding[i], dilation[i]) for i in range(nd))
    n, o, cg = x.shape[0], w.shape[0], w.shape[1]
    og = o // groups
    out = np.zeros((n, o) + out_sizes)
    for k in itertools.product(*[range(kk) for kk in kernel]):
        window = tuple(slice(k[i] * dilation[i], k[i] * dilation[i] + (out_sizes[i] - 1) * stride[i] + 1, stride[i])
                       for i in range(nd))
        patch = xp[(slice(None), slice(None)) + window]
        for g in range(groups):
            out[:, g * og:(g + 1) * og] += np.einsum("nc...,oc->no...", patch[:, g * cg:(g + 1) * cg],
                                                     w[(slice(g * og, (g + 1) * og), slice(None)) + k])
    if b is not None:
        out += b.reshape((o,) + (1,) * nd)
    return out


def conv_transpose_ref(x, w, b, stride, padding, output_padding, dilation, groups):
    """Each input element scatters input * kernel into the output (the definition)."""
    nd = w.ndim - 2
    kernel = w.shape[2:]
    spatial = x.shape[2:]
    n, c_in, cog = x.shape[0], x.shape[1], w.shape[1]
    cig = c_in // groups
    full = tuple((spatial[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 + output_padding[i]
                 for i in range(nd))
    out = np.zeros((n, cog * groups) + full)
    for k in itertools.product(*[range(kk) for kk in kernel]):
        window = tuple(slice(k[i] * dilation[i], k[i] * dilation[i] + (spatial[i] - 1) * stride[i] + 1, stride[i])
                       for i in range(nd))
        for g in range(groups):
            contrib = np.einsum("nc...,co->no...", x[:, g * cig:(g + 1) * cig],
                                w[(slice(g * cig, (g + 1) * cig), slice(None)) + k])
            out[(slice(None), slice(g * cog, (g + 1) * cog)) + window] += contrib
    out = out[(slice(None), slice(None)) + tuple(slice(padding[i], full[i] - padding[i]) for i in range(nd))]
    if b is not None:
        out = out + b.reshape((-1,) + (1,) * nd)
    return out


# ---------------------------------------------------------------- pooling
def pool_out_size(size, k, s, p, d, ceil_mode):
    span = size + 2 * p - d * (k - 1) - 1
    o = (math.ceil(span / s) if ceil_mode else span // s) + 1
    if ceil_mode and (o - 1) * s >= size + p:
        o -= 1
    return o


def max_pool_ref(x, kernel, stride, padding, dilation, ceil_mode, return_indices=False):
    """Each window's first maximum (scanning the window row-major) and its row-major input position."""
    nd = len(kernel)
    spatial = x.shape[2:]
    out_sizes = [pool_out_size(spatial[i], kernel[i], stride[i], padding[i], dilation[i], ceil_mode)
                 for i in range(nd)]
    best = np.full(x.shape[:2] + tuple(out_sizes), -np.inf)
    best_i = np.zeros(best.shape, dtype=np.int64)
    grids = np.meshgrid(*[np.arange(o) for o in out_sizes], indexing="ij")
    for k in itertools.product(*[range(kk) for kk in kernel]):
        src = [grids[i] * stride[i] - padding[i] + k[i] * dilation[i] for i in range(nd)]
        inside = np.all([(s >= 0) & (s < spatial[i]) for i, s in enumerate(src)], axis=0)
        clipped = [np.clip(s, 0, spatial[i] - 1) for i, s in enumerate(src)]
        v = np.where(inside, x[(slice(None), slice(None)) + tuple(clipped)], -np.inf)
        better = v > best
        best = np.where(better, v, best)
        best_i = np.where(better, np.ravel_multi_index(clipped, spatial), best_i)
    return (best, best_i) if return_indices else best


def avg_pool_ref(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override=None):
    nd = len(kernel)
    spatial = x.shape[2:]
    out_sizes = [pool_out_size(spatial[i], kernel[i], stride[i], padding[i], 1, ceil_mode) for i in range(nd)]
    out = np.zeros(x.shape[:2] + tuple(out_sizes))
    for pos in itertools.product(*[range(o) for o in out_sizes]):
        lo = [pos[i] * stride[i] - padding[i] for i in range(nd)]
        hi = [min(lo[i] + kernel[i], spatial[i] + padding[i]) for i in range(nd)]
        padded_count = int(np.prod([hi[i] - lo[i] for i in range(nd)]))
        lo_c = [max(v, 0) for v in lo]
        hi_c = [min(hi[i], spatial[i]) for i in range(nd)]
        window = x[(slice(None), slice(None)) + tuple(slice(lo_c[i], hi_c[i]) for i in range(nd))]
        total = window.sum(axis=tuple(range(2, 2 + nd)))
        if divisor_override:
            div = divisor_override
        elif count_include_pad:
            div = padded_count
        else:
            div = int(np.prod([hi_c[i] - lo_c[i] for i in range(nd)]))
        out[(slice(None), slice(None)) + pos] = total / div
    return out


def adaptive_pool_ref(x, out_sizes, reduce):
    nd = len(out_sizes)
    spatial = x.shape[2:]
    out = np.zeros(x.shape[:2] + tuple(out_sizes))
    idx = np.zeros(out.shape, dtype=np.int64)
    for pos in itertools.product(*[range(o) for o in out_sizes]):
        bounds = [(pos[i] * spatial[i] // out_sizes[i], -(-(pos[i] + 1) * spatial[i] // out_sizes[i]))
                  for i in range(nd)]
        window = x[(slice(None), slice(None)) + tuple(slice(a, b) for a, b in bounds)]
        flat = window.reshape(x.shape[:2] + (-1,))
        if reduce == "mean":
            out[(slice(None), slice(None)) + pos] = flat.mean(-1)
        else:
            j = flat.argmax(-1)
            out[(slice(None), slice(None)) + pos] = flat.max(-1)
            local = np.unravel_index(j, [b - a for a, b in bounds])
            idx[(slice(None), slice(None)) + pos] = np.ravel_multi_index(
                [local[i] + bounds[i][0] for i in range(nd)], spatial)
    return out, idx


# ---------------------------------------------------------------- attention
def softmax(a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def sdpa_ref(q, k, v, allowed=None, additive=None, scale=None):
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if additive is not None:
        s = s + additive
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)
    live = np.isfinite(s).any(-1, keepdims=True)
    s = np.where(live, s, 0.0)
    return np.where(live, softmax(s), 0.0) @ v


def mha_ref(q, k, v, w_in, b_in, w_out, b_out, heads, additive=None):
    """Sequence-first (L, N, E) multi-head attention; additive mask broadcastable to (N, H, L, S)."""
    e = q.shape[-1]
    wq, wk, wv = np.split(w_in, 3)
    bq, bk, bv = np.split(b_in, 3)
    qp, kp, vp = q @ wq.T + bq, k @ wk.T + bk, v @ wv.T + bv

    def heads_of(t):  # (L, N, E) -> (N, H, L, hd)
        return t.reshape(t.shape[0], t.shape[1], heads, e // heads).transpose(1, 2, 0, 3)
    scores = heads_of(qp) @ np.swapaxes(heads_of(kp), -1, -2) / math.sqrt(e // heads)
    if additive is not None:
        scores = scores + additive
    attn = softmax(scores)
    out = (attn @ heads_of(vp)).transpose(2, 0, 1, 3).reshape(q.shape[0], q.shape[1], e)
    return out @ w_out.T + b_out, attn


def layer_norm_ref(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b
