"""scaled_dot_product_attention, multi_head_attention_forward and nn.MultiheadAttention against
float64 numpy references, on every device."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F

from layer_refs import RNG, assert_close, check_layer, float_dtype, host, mha_ref, need, sdpa_ref, softmax, tensor

DTYPES = [ember.float32, ember.float64]


def _qkv(seed, q=(2, 2, 3, 4), k=(2, 2, 5, 4), v=(2, 2, 5, 6)):
    rng = RNG(seed)
    return rng.standard_normal(q), rng.standard_normal(k), rng.standard_normal(v)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_sdpa_plain_scaled_and_causal(any_device, dtype):
    device = any_device
    q, k, v = _qkv(0)
    check_layer(F.scaled_dot_product_attention, sdpa_ref, [q, k, v], device, dtype)
    check_layer(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.3),
                lambda q, k, v: sdpa_ref(q, k, v, scale=0.3), [q, k, v], device, dtype)
    causal = np.tril(np.ones((3, 5), dtype=bool))  # top-left aligned, as PyTorch's is_causal
    check_layer(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                lambda q, k, v: sdpa_ref(q, k, v, allowed=causal), [q, k, v], device, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_sdpa_masks(any_device, dtype):
    device = any_device
    need(device, dtype)
    q, k, v = _qkv(1)
    rng = RNG(2)
    additive = rng.standard_normal((3, 5))
    mask_t = ember.tensor(additive, dtype=dtype, device=device)
    check_layer(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask_t),
                lambda q, k, v: sdpa_ref(q, k, v, additive=additive), [q, k, v], device, dtype)
    allowed = rng.random((2, 1, 3, 5)) > 0.4
    allowed[0, 0, 1] = False  # a query that may attend to nothing: zeros, and zero gradients
    bool_t = ember.tensor(allowed, device=device)
    out = check_layer(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=bool_t),
                      lambda q, k, v: sdpa_ref(q, k, v, allowed=allowed), [q, k, v], device, dtype)
    assert np.all(host(out)[0, :, 1] == 0)


def test_sdpa_gqa_and_3d(any_device):
    device = any_device
    q, k, v = _qkv(3, (2, 4, 3, 4), (2, 2, 5, 4), (2, 2, 5, 6))
    check_layer(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True),
                lambda q, k, v: sdpa_ref(q, np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1)), [q, k, v], device)
    q, k, v = _qkv(4, (2, 3, 4), (2, 5, 4), (2, 5, 6))
    check_layer(F.scaled_dot_product_attention, sdpa_ref, [q, k, v], device)


def test_sdpa_dropout(any_device):
    device = any_device
    q, k, v = (tensor(a, device, grad=False) for a in _qkv(5))
    plain = F.scaled_dot_product_attention(q, k, v)
    ember.manual_seed(7)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    ember.manual_seed(7)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert_close(a, host(b), 0, 0)
    assert not np.allclose(host(a), host(plain))
    assert np.all(host(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)) == 0)


def test_sdpa_errors(any_device):
    device = any_device
    q, k, v = (ember.randn(*s, device=device) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 6)))
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=ember.ones(3, 5, dtype=ember.bool, device=device),
                                       is_causal=True)
    with pytest.raises(RuntimeError, match="Expected query, key, and value to have the same dtype"):
        F.scaled_dot_product_attention(q, k.half(), v)


# ---------------------------------------------------------------- multi-head attention
E, H = 8, 2


def _mha_params(seed, kdim=E, vdim=E):
    rng = RNG(seed)
    return (rng.standard_normal((3 * E, E)) / 3, rng.standard_normal(3 * E) / 3,
            rng.standard_normal((E, E)) / 3, rng.standard_normal(E) / 3)


def _mha(q, k, v, w_in, b_in, w_out, b_out, **kw):
    return F.multi_head_attention_forward(q, k, v, E, H, w_in, b_in, None, None, False, 0.0, w_out, b_out, **kw)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_mha_forward_with_masks(any_device, dtype):
    device = any_device
    need(device, dtype)
    rng = RNG(6)
    q, k, v = rng.standard_normal((3, 2, E)), rng.standard_normal((5, 2, E)), rng.standard_normal((5, 2, E))
    params = _mha_params(7)
    padding = np.array([[False, False, True, False, True], [False, True, False, False, False]])
    attn = rng.standard_normal((3, 5))
    additive = attn[None, None] + np.where(padding, -np.inf, 0.0)[:, None, None, :]
    kpm = ember.tensor(padding, device=device)
    mask = ember.tensor(attn, dtype=dtype, device=device)
    for need_weights in (True, False):
        check_layer(lambda *a: _mha(*a, key_padding_mask=kpm, attn_mask=mask, need_weights=need_weights)[0],
                    lambda *a: mha_ref(*a, H, additive)[0], [q, k, v, *params], device, dtype)
    weights = _mha(*(tensor(a, device, dtype) for a in (q, k, v, *params)), key_padding_mask=kpm, attn_mask=mask,
                   average_attn_weights=False)[1]
    rtol, atol = (1e-9, 1e-10) if dtype is ember.float64 else (1e-4, 1e-5)
    assert_close(weights, mha_ref(q, k, v, *params, H, additive)[1], rtol, atol)


def test_mha_bool_attn_mask_and_unbatched(any_device):
    device = any_device
    rng = RNG(8)
    q = rng.standard_normal((4, E))
    params = _mha_params(9)
    blocked = np.triu(np.ones((4, 4), dtype=bool), 1)  # True = may not attend (MHA's convention)
    blocked_t = ember.tensor(blocked, device=device)
    out, weights = _mha(*(tensor(a, device) for a in (q, q, q, *params)), attn_mask=blocked_t)
    ref_out, ref_w = mha_ref(q[:, None], q[:, None], q[:, None], *params, H, np.where(blocked, -np.inf, 0.0))
    assert_close(out, ref_out[:, 0], 1e-9, 1e-10)
    assert_close(weights, ref_w[0].mean(0), 1e-9, 1e-10)
    # the is_causal hint with need_weights=False takes the causal path of scaled_dot_product_attention
    out, weights = _mha(*(tensor(a, device) for a in (q, q, q, *params)), attn_mask=blocked_t, is_causal=True,
                        need_weights=False)
    assert weights is None
    assert_close(out, ref_out[:, 0], 1e-9, 1e-10)


def test_multihead_attention_module(any_device):
    device = any_device
    m = nn.MultiheadAttention(E, H).to(device).to(float_dtype(device))
    assert [n for n, _ in m.named_parameters()] == ["in_proj_weight", "in_proj_bias", "out_proj.weight",
                                                    "out_proj.bias"]
    assert np.all(host(m.in_proj_bias) == 0) and np.all(host(m.out_proj.bias) == 0)
    bound = math.sqrt(6 / (E + 3 * E))  # xavier_uniform_ over the (3E, E) matrix
    w = host(m.in_proj_weight)
    assert np.abs(w).max() <= bound and w.std() > bound / 3
    rng = RNG(10)
    q, k, v = rng.standard_normal((2, 3, E)), rng.standard_normal((2, 5, E)), rng.standard_normal((2, 5, E))
    m.batch_first = True
    params = [host(p) for p in m.parameters()]
    check_layer(lambda q, k, v: m(q, k, v)[0],
                lambda q, k, v: mha_ref(q.transpose(1, 0, 2), k.transpose(1, 0, 2), v.transpose(1, 0, 2), *params,
                                        H)[0].transpose(1, 0, 2), [q, k, v], device)
    _, weights = m(*(tensor(a, device) for a in (q, k, v)), average_attn_weights=False)
    assert tuple(weights.shape) == (2, H, 3, 5)


def test_multihead_attention_kdim_vdim_bias_kv_zero_attn(any_device):
    device = any_device
    m = nn.MultiheadAttention(E, H, kdim=6, vdim=4, add_bias_kv=True, add_zero_attn=True).to(device).to(float_dtype(device))
    names = [n for n, _ in m.named_parameters()]
    assert names == ["q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "bias_k", "bias_v",
                     "out_proj.weight", "out_proj.bias"]
    assert m.in_proj_weight is None
    rng = RNG(11)
    q, k, v = rng.standard_normal((3, 2, E)), rng.standard_normal((5, 2, 6)), rng.standard_normal((5, 2, 4))
    wq, wk, wv, b_in = (host(getattr(m, n)) for n in ("q_proj_weight", "k_proj_weight", "v_proj_weight",
                                                       "in_proj_bias"))
    bias_k, bias_v = host(m.bias_k), host(m.bias_v)
    w_out, b_out = host(m.out_proj.weight), host(m.out_proj.bias)

    def ref(q, k, v):
        bq, bk, bv = np.split(b_in, 3)
        qp, kp, vp = q @ wq.T + bq, k @ wk.T + bk, v @ wv.T + bv
        kp = np.concatenate([kp, np.broadcast_to(bias_k, (1, 2, E)), np.zeros((1, 2, E))])
        vp = np.concatenate([vp, np.broadcast_to(bias_v, (1, 2, E)), np.zeros((1, 2, E))])
        split = lambda t: t.reshape(t.shape[0], 2, H, E // H).transpose(1, 2, 0, 3)  # noqa: E731
        attn = softmax(split(qp) @ np.swapaxes(split(kp), -1, -2) / math.sqrt(E // H))
        out = (attn @ split(vp)).transpose(2, 0, 1, 3).reshape(3, 2, E)
        return out @ w_out.T + b_out
    check_layer(lambda q, k, v: m(q, k, v)[0], ref, [q, k, v], device)


def test_mha_errors(any_device):
    device = any_device
    m = nn.MultiheadAttention(E, H).to(device)
    q = ember.randn(3, 2, E, device=device)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is \(4, 4\), but should be \(3, 3\)"):
        m(q, q, q, attn_mask=ember.zeros(4, 4, device=device))
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(q, q, q, is_causal=True)
