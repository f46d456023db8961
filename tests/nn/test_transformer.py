"""Transformer encoder / decoder layers and stacks against float64 numpy references (outputs, and
gradients with respect to inputs and every parameter), on every device."""
import copy

import numpy as np
import pytest
import scipy.special

import ember
import ember.nn as nn
import ember.nn.functional as F

from layer_refs import RNG, assert_close, check_module, float_dtype, host, layer_norm_ref, mha_ref, tensor

D, HEADS, FF = 8, 2, 12


def _relu(a):
    return np.maximum(a, 0)


def _gelu(a):
    return 0.5 * a * (1 + scipy.special.erf(a / np.sqrt(2)))


def _attn(p, prefix, q, kv, additive):
    return mha_ref(q, kv, kv, p[prefix + "in_proj_weight"], p[prefix + "in_proj_bias"],
                   p[prefix + "out_proj.weight"], p[prefix + "out_proj.bias"], HEADS, additive)[0]


def _ln(p, prefix, x):
    return layer_norm_ref(x, p[prefix + ".weight"], p[prefix + ".bias"])


def _ff(p, prefix, x, act):
    h = act(x @ p[prefix + "linear1.weight"].T + p[prefix + "linear1.bias"])
    return h @ p[prefix + "linear2.weight"].T + p[prefix + "linear2.bias"]


def encoder_layer_ref(p, x, prefix="", norm_first=False, act=_relu, additive=None):
    sa = lambda z: _attn(p, prefix + "self_attn.", z, z, additive)  # noqa: E731
    if norm_first:
        x = x + sa(_ln(p, prefix + "norm1", x))
        return x + _ff(p, prefix, _ln(p, prefix + "norm2", x), act)
    x = _ln(p, prefix + "norm1", x + sa(x))
    return _ln(p, prefix + "norm2", x + _ff(p, prefix, x, act))


def decoder_layer_ref(p, x, mem, prefix="", norm_first=False, act=_relu, self_mask=None):
    sa = lambda z: _attn(p, prefix + "self_attn.", z, z, self_mask)  # noqa: E731
    ca = lambda z: _attn(p, prefix + "multihead_attn.", z, mem, None)  # noqa: E731
    if norm_first:
        x = x + sa(_ln(p, prefix + "norm1", x))
        x = x + ca(_ln(p, prefix + "norm2", x))
        return x + _ff(p, prefix, _ln(p, prefix + "norm3", x), act)
    x = _ln(p, prefix + "norm1", x + sa(x))
    x = _ln(p, prefix + "norm2", x + ca(x))
    return _ln(p, prefix + "norm3", x + _ff(p, prefix, x, act))


def _causal(n):
    return np.triu(np.full((n, n), -np.inf), 1)


@pytest.mark.parametrize("norm_first,activation,act", [(False, "relu", _relu), (True, "gelu", _gelu),
                                                       (False, F.gelu, _gelu)])
def test_encoder_layer(any_device, norm_first, activation, act):
    device = any_device
    m = nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, activation=activation, norm_first=norm_first)
    x = RNG(0).standard_normal((4, 2, D))
    check_module(m, lambda m, x: (m(x),), lambda p, x: (encoder_layer_ref(p, x, norm_first=norm_first, act=act),),
                 [x], device)


def test_encoder_layer_batch_first_with_masks(any_device):
    device = any_device
    m = nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, batch_first=True)
    x = RNG(1).standard_normal((2, 4, D))
    padding = np.array([[False, False, False, True], [False, False, False, False]])
    additive = _causal(4)[None, None] + np.where(padding, -np.inf, 0.0)[:, None, None, :]
    mask = tensor(_causal(4), device, grad=False)
    kpm = ember.tensor(padding, device=device)
    check_module(m, lambda m, x: (m(x, src_mask=mask, src_key_padding_mask=kpm),),
                 lambda p, x: (encoder_layer_ref(p, x.transpose(1, 0, 2), additive=additive).transpose(1, 0, 2),),
                 [x], device)


def test_encoder_stack_with_final_norm(any_device):
    device = any_device
    layer = nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0)
    m = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(D))
    names = [n for n, _ in m.named_parameters()]
    assert names[0] == "layers.0.self_attn.in_proj_weight" and names[-1] == "norm.bias"
    assert len(names) == 2 * len(list(layer.parameters())) + 2
    # the layers are copies: distinct parameters with the same starting values
    assert m.layers[0].linear1.weight is not m.layers[1].linear1.weight
    np.testing.assert_array_equal(host(m.layers[0].linear1.weight), host(m.layers[1].linear1.weight))
    x = RNG(2).standard_normal((4, 2, D))
    mask = tensor(_causal(4), device, grad=False)

    def ref(p, x):
        for i in range(2):
            x = encoder_layer_ref(p, x, prefix=f"layers.{i}.", additive=_causal(4))
        return (_ln(p, "norm", x),)
    check_module(m, lambda m, x: (m(x, mask=mask),), ref, [x], device,
                 grad_params={"layers.0.self_attn.in_proj_weight", "layers.1.linear2.weight", "norm.weight"})


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer(any_device, norm_first):
    device = any_device
    m = nn.TransformerDecoderLayer(D, HEADS, FF, dropout=0.0, norm_first=norm_first)
    rng = RNG(3)
    tgt, mem = rng.standard_normal((3, 2, D)), rng.standard_normal((5, 2, D))
    mask = tensor(_causal(3), device, grad=False)
    check_module(m, lambda m, t, s: (m(t, s, tgt_mask=mask),),
                 lambda p, t, s: (decoder_layer_ref(p, t, s, norm_first=norm_first, self_mask=_causal(3)),),
                 [tgt, mem], device)


def test_transformer_end_to_end(any_device):
    device = any_device
    m = nn.Transformer(D, HEADS, 1, 2, FF, dropout=0.0)
    for name, p in m.named_parameters():  # every matrix starts xavier_uniform_
        if p.ndim > 1:
            bound = np.sqrt(6 / (p.shape[0] + p.shape[1]))
            assert np.abs(host(p)).max() <= bound, name
    rng = RNG(4)
    src, tgt = rng.standard_normal((5, 2, D)), rng.standard_normal((3, 2, D))
    mask = nn.Transformer.generate_square_subsequent_mask(3, device=device, dtype=float_dtype(device))
    assert_close(mask, _causal(3), 0, 0)

    def ref(p, s, t):
        mem = _ln(p, "encoder.norm", encoder_layer_ref(p, s, prefix="encoder.layers.0."))
        for i in range(2):
            t = decoder_layer_ref(p, t, mem, prefix=f"decoder.layers.{i}.", self_mask=_causal(3))
        return (_ln(p, "decoder.norm", t),)
    check_module(m, lambda m, s, t: (m(s, t, tgt_mask=mask),), ref, [src, tgt], device,
                 grad_params={"encoder.layers.0.self_attn.out_proj.weight",
                              "decoder.layers.0.multihead_attn.in_proj_bias", "decoder.layers.1.norm3.weight",
                              "decoder.norm.bias"})
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        m(tensor(np.zeros((5, 2, D)), device), tensor(np.zeros((3, 3, D)), device))


def test_dropout_train_vs_eval(any_device):
    device = any_device
    m = nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.5).to(device)
    x = ember.randn(4, 2, D, device=device)
    m.eval()
    a = m(x)
    assert_close(m(x), host(a), 0, 0)
    m.train()
    assert not np.allclose(host(m(x)), host(a))
    clone = copy.deepcopy(m)
    clone.eval()
    assert_close(clone(x), host(a), 1e-6, 1e-6)


def test_bad_activation():
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(D, HEADS, activation="tanh")


def test_training_step_lowers_loss(any_device):
    device = any_device
    ember.manual_seed(0)
    m = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, batch_first=True), 1).to(device)
    x, target = ember.randn(3, 4, D, device=device), ember.randn(3, 4, D, device=device)
    losses = []
    for _ in range(3):
        loss = ((m(x) - target) ** 2).mean()
        m.zero_grad()
        loss.backward()
        with ember.no_grad():
            for p in m.parameters():
                p -= 0.05 * p.grad
        losses.append(loss.item())
    assert losses[-1] < losses[0]
