"""nn / optim behaviours pinned to PyTorch's.

Every expected value, exception class and message below was checked against PyTorch 2.13
(CPU); they are written here literally, PyTorch is not imported.
"""
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from core_refs import host

X = [[0.1, 0.5, -0.3, 1.0], [0.2, -0.4, 0.7, 0.0], [1.5, 0.3, -0.2, 0.4]]


def t(data, device, **kw):
    return ember.tensor(data, device=device, **kw)


# ---------------------------------------------------------------- dropout
def test_alpha_dropout_modules_ignore_inplace_like_pytorch(any_device):
    # PyTorch's AlphaDropout / FeatureAlphaDropout never pass inplace on; the functionals honour it
    x = ember.randn(4, 5, 3, device=any_device)
    assert nn.AlphaDropout(0.5, inplace=True).train()(x) is not x
    assert nn.FeatureAlphaDropout(0.5, inplace=True).train()(x) is not x
    assert F.alpha_dropout(x, 0.5, True, inplace=True) is x
    assert F.feature_alpha_dropout(x, 0.5, True, inplace=True) is x


# ---------------------------------------------------------------- RNN cells
def test_lstm_cell_accepts_a_list_hx(any_device):
    cell = nn.LSTMCell(3, 4).to(any_device)
    x = ember.randn(2, 3, device=any_device)
    h, c = ember.randn(2, 4, device=any_device), ember.randn(2, 4, device=any_device)
    from_tuple = cell(x, (h, c))
    from_list = cell(x, [h, c])
    for a, b in zip(from_tuple, from_list):
        np.testing.assert_allclose(host(a), host(b), rtol=1e-6)
    h1, c1 = cell(x[0], [h[0], c[0]])  # unbatched
    assert tuple(h1.shape) == tuple(c1.shape) == (4,)
    np.testing.assert_allclose(host(h1), host(from_tuple[0][0]), rtol=1e-5, atol=1e-6)


def test_lstm_cell_hx_errors_as_pytorch(any_device):
    cell = nn.LSTMCell(3, 4).to(any_device)
    x = ember.randn(2, 3, device=any_device)
    h = ember.zeros(2, 4, device=any_device)
    with pytest.raises(RuntimeError, match="^lstm_cell expects two hidden states$"):
        cell(x, [h])
    with pytest.raises(RuntimeError, match="^lstm_cell expects two hidden states$"):
        cell(x, [h, h, h])
    with pytest.raises(TypeError, match=r"lstm_cell\(\): argument 'hx' \(position 2\) must be tuple of Tensors, "
                                        r"not Tensor"):
        cell(x, h)
    with pytest.raises(ValueError, match=r"LSTMCell: Expected hx\[1\] to be 1D or 2D, got 3D instead"):
        cell(x, (h, ember.zeros(1, 2, 4, device=any_device)))
    with pytest.raises(RuntimeError, match="^hidden1 has inconsistent hidden_size: got 5, expected 4$"):
        cell(x, (h, ember.zeros(2, 5, device=any_device)))
    with pytest.raises(RuntimeError, match="^Input batch size 2 doesn't match hidden0 batch size 3$"):
        cell(x, [ember.zeros(3, 4, device=any_device), h])
    with pytest.raises(RuntimeError, match="^lstm_cell expects two hidden states$"):  # before the input check
        cell(ember.randn(2, 5, device=any_device), [h])


def test_rnn_and_gru_cell_hidden_errors_as_pytorch(any_device):
    for cls, name in ((nn.RNNCell, "RNNCell"), (nn.GRUCell, "GRUCell")):
        cell = cls(3, 4).to(any_device)
        x = ember.randn(2, 3, device=any_device)
        with pytest.raises(ValueError, match=f"{name}: Expected hidden to be 1D or 2D, got 3D instead"):
            cell(x, ember.zeros(1, 2, 4, device=any_device))
        with pytest.raises(RuntimeError, match="^Input batch size 2 doesn't match hidden0 batch size 4$"):
            cell(x, ember.zeros(4, device=any_device))
        with pytest.raises(RuntimeError, match="^hidden0 has inconsistent hidden_size: got 2, expected 4$"):
            cell(x[0], ember.zeros(2, 4, device=any_device))


# ---------------------------------------------------------------- multi_margin_loss
def test_multi_margin_loss_target_out_of_range(any_device):
    x = t(X, any_device)
    for bad in ([1, -100, 0], [1, -1, 0], [1, 4, 0]):
        with pytest.raises(RuntimeError, match="^target out of range$"):
            F.multi_margin_loss(x, t(bad, any_device))
    with pytest.raises(RuntimeError, match="^target out of range$"):
        F.multi_margin_loss(x[0], t(5, any_device))
    np.testing.assert_allclose(host(F.multi_margin_loss(x, t([1, 3, 0], any_device))), 0.4833333194255829,
                               rtol=1e-6)


def test_multi_margin_loss_shape_dtype_weight_checks(any_device):
    x = t(X, any_device)
    target = t([1, 3, 0], any_device)
    msg = (r"^multi_margin_loss: target tensor should be 1-D with size equal to the number of input samples "
           r"\(batch size\). Expected target size \[3\], but got \[{}\]. Input has shape \[3, 4\].$")
    with pytest.raises(RuntimeError, match=msg.format("2")):
        F.multi_margin_loss(x, t([1, 2], any_device))
    with pytest.raises(RuntimeError, match=msg.format("3, 1")):
        F.multi_margin_loss(x, t([[1], [2], [0]], any_device))
    with pytest.raises(RuntimeError, match="^expected scalar type Long but found Float$"):
        F.multi_margin_loss(x, t([1.0, 2.0, 0.0], any_device))
    with pytest.raises(RuntimeError, match="^expected scalar type Long but found Int$"):
        F.multi_margin_loss(x, target.int())
    with pytest.raises(RuntimeError, match=r"^Expected non-empty vector or matrix with optional 0-dim batch size, "
                                           r"but got: \[1, 3, 4\]$"):
        F.multi_margin_loss(x.unsqueeze(0), target)
    with pytest.raises(RuntimeError, match=r"^inconsistent weight size, expected 4 but got \[3\]$"):
        F.multi_margin_loss(x, target, weight=ember.ones(3, device=any_device))
    with pytest.raises(ValueError, match="^weight must be one-dimensional$"):
        F.multi_margin_loss(x, target, weight=ember.ones(1, 4, device=any_device))
    one = F.multi_margin_loss(x[0], t([2], any_device), reduction="none")
    assert tuple(one.shape) == (1,)
    np.testing.assert_allclose(host(one), [1.375], rtol=1e-6)
    assert tuple(F.multi_margin_loss(x[:1], t(1, any_device), reduction="none").shape) == ()


# ---------------------------------------------------------------- nll_loss / cross_entropy
def test_nll_and_cross_entropy_target_errors(any_device):
    x = t(X, any_device)
    for fn in (F.nll_loss, F.cross_entropy):
        with pytest.raises(ValueError, match=r"^Expected input batch_size \(3\) to match target batch_size \(2\)\.$"):
            fn(x, t([1, 2], any_device))
        with pytest.raises(IndexError, match=r"^Target 4 is out of bounds\.$"):
            fn(x, t([1, 4, 0], any_device))
        with pytest.raises(IndexError, match=r"^Target -1 is out of bounds\.$"):
            fn(x, t([1, -1, 0], any_device))
        with pytest.raises(RuntimeError, match="^expected target dtype to be Long or Byte, but got Int$"):
            fn(x, t([1, 3, 0], any_device).int())
        with pytest.raises(RuntimeError, match="^0D or 1D target tensor expected, multi-target not supported$"):
            fn(x, ember.zeros(3, 2, dtype=ember.int64, device=any_device))
        with pytest.raises(ValueError, match="^For 1D input, 1D target must have size 1, but got target size: 2$"):
            fn(x[0], t([1, 2], any_device))
    with pytest.raises(RuntimeError, match="^expected target dtype to be Long or Byte, but got Float$"):
        F.nll_loss(x, t([1.0, 2.0, 0.0], any_device))
    with pytest.raises(ValueError, match=r"^Expected 1 or more dimensions \(got 0\)$"):
        F.nll_loss(t(1.0, any_device), t(0, any_device))
    # a uint8 target is accepted; so is a (1,) target for a 1-D input (its loss is 0-d)
    np.testing.assert_allclose(host(F.cross_entropy(x, t([1, 3, 0], any_device).to(ember.uint8))),
                               1.171347737312317, rtol=1e-6)
    single = F.nll_loss(x[0], t([2], any_device), reduction="none")
    assert tuple(single.shape) == ()
    np.testing.assert_allclose(host(single), 0.3, rtol=1e-6)
    np.testing.assert_allclose(host(F.cross_entropy(x[0], t([2], any_device))), 2.1266427, rtol=1e-6)


def test_nll_spatial_target_errors(any_device):
    x4 = ember.randn(2, 4, 2, 3, device=any_device)
    long = dict(dtype=ember.int64, device=any_device)
    with pytest.raises(RuntimeError, match=r"^size mismatch \(got input: \[2, 4, 2, 3\] , target: \[2, 2, 2\]$"):
        F.nll_loss(x4, ember.zeros(2, 2, 2, **long))
    with pytest.raises(RuntimeError, match="^only batches of spatial targets supported \\(3D tensors\\) but got "
                                           "targets of dimension: 2$"):
        F.nll_loss(x4, ember.zeros(2, 2, **long))
    with pytest.raises(RuntimeError, match="^weight tensor should be defined either for all or no classes$"):
        F.nll_loss(x4, ember.zeros(2, 2, 3, **long), weight=ember.ones(3, device=any_device))
    with pytest.raises(RuntimeError, match=r"^Expected target size \[2, 3\], got \[2, 2\]$"):
        F.cross_entropy(x4[:, :, 0], ember.zeros(2, 2, **long))
    with pytest.raises(IndexError, match=r"^Target 4 is out of bounds\.$"):
        F.nll_loss(x4, ember.full((2, 2, 3), 4, **long))


def test_cross_entropy_probability_targets_and_label_smoothing(any_device):
    x = t(X, any_device)
    target = t([1, 3, 0], any_device)
    probs = F.softmax(x, 1)
    # a negative (or NaN) label_smoothing means no smoothing
    for ls in (-0.1, float("nan")):
        np.testing.assert_allclose(host(F.cross_entropy(x, target, label_smoothing=ls)), 1.171347737312317,
                                   rtol=1e-6)
    with pytest.raises(RuntimeError, match="^label_smoothing must be between 0.0 and 1.0. Got: 1.5$"):
        F.cross_entropy(x, target, label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"^Expected input batch_size \(3\) to match target batch_size \(2\)\.$"):
        F.cross_entropy(x, probs[:2])
    with pytest.raises(RuntimeError, match="^0D or 1D target tensor expected, multi-target not supported$"):
        F.cross_entropy(x, probs[:, :3])
    with pytest.raises(RuntimeError, match="^ignore_index is not supported for floating point target$"):
        F.cross_entropy(x, probs, ignore_index=0)
    F.cross_entropy(x, probs, ignore_index=-1)  # a negative ignore_index is allowed
    with pytest.raises(RuntimeError, match="^Expected floating point type for target with class probabilities, "
                                           "got Long$"):
        F.cross_entropy(x, ember.zeros(3, 4, dtype=ember.int64, device=any_device))
    with pytest.raises(RuntimeError, match="^cross_entropy: weight tensor should be defined either for all 4 "
                                           r"classes or no classes but got weight tensor of shape: \[3\]$"):
        F.cross_entropy(x, probs, weight=ember.ones(3, device=any_device))
    with pytest.raises(RuntimeError, match=r"^output with shape \[\] doesn't match the broadcast shape \[1\]$"):
        F.cross_entropy(x[0], t([2], any_device), label_smoothing=0.1)


# ---------------------------------------------------------------- other losses
def test_binary_cross_entropy_target_checks(any_device):
    p = t([[0.2, 0.7], [0.5, 0.9]], any_device)
    y = t([[0.0, 1.0], [1.0, 0.0]], any_device)
    with pytest.raises(RuntimeError, match="^Found dtype Long but expected Float$"):
        F.binary_cross_entropy(p, y.long())
    with pytest.raises(RuntimeError, match="^all elements of input should be between 0 and 1$"):
        F.binary_cross_entropy(t([[0.2, -0.1], [0.5, 0.9]], any_device), y)
    with pytest.raises(RuntimeError, match="^all elements of input should be between 0 and 1$"):
        F.binary_cross_entropy(t([[0.2, float("nan")], [0.5, 0.9]], any_device), y)
    with pytest.raises(RuntimeError, match="^all elements of target should be between 0 and 1$"):
        F.binary_cross_entropy(t([[0.2, 1.1], [0.5, 0.9]], any_device), t([[2.0, 1.0], [1.0, 0.0]], any_device))
    with pytest.raises(RuntimeError, match="^result type Float can't be cast to the desired output type Long$"):
        F.binary_cross_entropy_with_logits(p, y.long())
    with pytest.raises(RuntimeError, match="^Subtraction, the `-` operator, with two bool tensors is not supported"):
        F.binary_cross_entropy_with_logits(p, y.bool())


def test_binary_cross_entropy_with_logits_takes_the_target_dtype():
    p = ember.tensor([[0.2, 0.7], [0.5, 0.9]])
    y = ember.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=ember.float64)
    loss = F.binary_cross_entropy_with_logits(p, y)
    assert loss.dtype is ember.float64
    np.testing.assert_allclose(host(loss), 0.729138944298029, rtol=1e-6)
    assert F.binary_cross_entropy_with_logits(p.double(), y.float()).dtype is ember.float32


def test_cosine_embedding_loss_checks_and_broadcasts(any_device):
    x1 = t([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]], any_device)
    x2 = t([[2.0, 1.0]], any_device)
    loss = F.cosine_embedding_loss(x1, x2, t([1.0, -1.0, 1.0], any_device), reduction="none")
    np.testing.assert_allclose(host(loss), [0.19999999, 0.0, 0.10557282], rtol=1e-5, atol=1e-7)
    with pytest.raises(RuntimeError, match="^0D or 1D target tensor expected, multi-target not supported$"):
        F.cosine_embedding_loss(x1, x1, ember.ones(3, 1, device=any_device))
    with pytest.raises(RuntimeError, match=r"^1D target tensor expects 2D input tensors, but found inputs with "
                                           r"sizes \[3, 2\] and \[2\]\.$"):
        F.cosine_embedding_loss(x1, x2[0], ember.ones(3, device=any_device))
    with pytest.raises(RuntimeError, match=r"^0D target tensor expects 1D input tensors, but found inputs with "
                                           r"sizes \[3, 2\] and \[3, 2\]\.$"):
        F.cosine_embedding_loss(x1, x1, t(1.0, any_device))


def test_gaussian_nll_loss_var_with_a_broadcast_dim(any_device):
    x = t(X, any_device)
    y = t([[0.0, 1.0, 0.5, 1.2], [0.2, -0.1, 0.3, 0.0], [1.0, 0.0, 0.0, 0.5]], any_device)
    var = t([[0.5, 1.0, 2.0, 0.3]], any_device)  # (1, 4) for a (3, 4) input: one variance per column
    np.testing.assert_allclose(host(F.gaussian_nll_loss(x, y, var)), -0.08646881580352783, rtol=1e-5)
    with pytest.raises(ValueError, match="^var is of incorrect size$"):
        F.gaussian_nll_loss(x, y, ember.ones(3, 2, device=any_device))


def test_multilabel_soft_margin_loss_0d_input(any_device):
    with pytest.raises(IndexError, match="^Dimension specified as -1 but tensor has no dimensions$"):
        F.multilabel_soft_margin_loss(t(1.0, any_device), t(1.0, any_device))


# ---------------------------------------------------------------- normalize, gumbel_softmax
def test_normalize_out(any_device):
    x = t([[3.0, 4.0], [0.0, 0.0]], any_device)
    out = ember.empty(2, 2, device=any_device)
    assert F.normalize(x, out=out) is out
    np.testing.assert_allclose(host(out), [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)
    y = x.clone()
    assert F.normalize(y, dim=1, out=y) is y
    np.testing.assert_allclose(host(y), [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)
    with pytest.raises(RuntimeError, match=r"^div\(\): functions with out=\.\.\. arguments don't support automatic "
                                           r"differentiation, but one of the arguments requires grad\.$"):
        F.normalize(x.clone().requires_grad_(), out=ember.empty(2, 2, device=any_device))
    with pytest.raises(RuntimeError, match="^result type Float can't be cast to the desired output type Long$"):
        F.normalize(x, out=ember.empty(2, 2, dtype=ember.int64, device=any_device))


def test_gumbel_softmax_eps_is_deprecated():
    logits = ember.randn(2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.gumbel_softmax(logits)
    with pytest.warns(UserWarning, match="`eps` parameter is deprecated and has no effect."):
        F.gumbel_softmax(logits, eps=1e-5)


# ---------------------------------------------------------------- Module.to
def test_module_to_passes_non_blocking_on(monkeypatch):
    seen = []
    original = ember.Tensor.to

    def recording_to(self, *args, **kwargs):
        seen.append(kwargs.get("non_blocking"))
        return original(self, *args, **kwargs)

    m = nn.Linear(2, 3)
    monkeypatch.setattr(ember.Tensor, "to", recording_to)
    m.to(ember.float64, non_blocking=True)
    assert seen and all(flag is True for flag in seen)
    seen.clear()
    m.to(ember.float32, True)  # positional non_blocking
    assert seen and all(flag is True for flag in seen)
    assert m.weight.dtype is ember.float32


def test_module_to_rejects_copy_and_integer_dtypes():
    m = nn.Linear(2, 3)
    for args, kwargs in (((), {"copy": True}), ((), {"copy": False}), ((ember.float64, False, False), {})):
        with pytest.raises(RuntimeError, match=r"^\.to\(\) does not accept copy argument$"):
            m.to(*args, **kwargs)
    with pytest.raises(TypeError, match="^nn.Module.to only accepts floating point or complex dtypes, but got "
                                        "desired dtype="):
        m.to(dtype=ember.int64)


# ---------------------------------------------------------------- Transformer stacks: is_causal=None
class _RecordingEncoderLayer(nn.TransformerEncoderLayer):
    seen = []

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        self.seen.append(is_causal)
        return super().forward(src, src_mask, src_key_padding_mask, is_causal)


class _RecordingDecoderLayer(nn.TransformerDecoderLayer):
    seen = []

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        self.seen.append(tgt_is_causal)
        return super().forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask,
                               tgt_is_causal, memory_is_causal)


def test_transformer_stacks_detect_a_causal_mask(any_device):
    enc = nn.TransformerEncoder(_RecordingEncoderLayer(8, 2, 16, dropout=0.0), 2).to(any_device)
    dec = nn.TransformerDecoder(_RecordingDecoderLayer(8, 2, 16, dropout=0.0), 1).to(any_device)
    x = ember.randn(5, 3, 8, device=any_device)
    memory = ember.randn(4, 3, 8, device=any_device)
    causal = nn.Transformer.generate_square_subsequent_mask(5, device=any_device)
    bool_causal = ember.triu(ember.ones(5, 5, dtype=ember.bool, device=any_device), diagonal=1)

    def enc_hints(**kw):
        _RecordingEncoderLayer.seen.clear()
        enc(x, **kw)
        return list(_RecordingEncoderLayer.seen)

    def dec_hints(**kw):
        _RecordingDecoderLayer.seen.clear()
        dec(x, memory, **kw)
        return list(_RecordingDecoderLayer.seen)

    assert enc_hints(mask=causal) == [True, True]
    assert enc_hints(mask=bool_causal) == [True, True]
    assert enc_hints() == [False, False]
    assert enc_hints(mask=ember.zeros(5, 5, device=any_device)) == [False, False]
    assert enc_hints(mask=causal, is_causal=False) == [False, False]
    assert enc_hints(mask=causal, is_causal=1) == [False, False]  # only True itself is True
    assert enc_hints(mask=causal.expand(6, 5, 5)) == [False, False]
    assert dec_hints(tgt_mask=causal) == [True]
    assert dec_hints(tgt_mask=bool_causal) == [True]
    assert dec_hints() == [False]
    assert dec_hints(tgt_mask=causal, tgt_is_causal=0) == [False]


# ---------------------------------------------------------------- optim
def test_multiplicative_lr_checks_lengths_before_callables():
    opt = ember.optim.SGD([ember.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="^Expected 1 lr_lambdas, but got 2$"):
        ember.optim.lr_scheduler.MultiplicativeLR(opt, [3, 4])
    with pytest.raises(TypeError, match="^lr_lambda should be a function, but got int$"):
        ember.optim.lr_scheduler.MultiplicativeLR(opt, [3])
    # like PyTorch, a non-optimizer without param_groups fails on reading them
    with pytest.raises(AttributeError, match="'object' object has no attribute 'param_groups'"):
        ember.optim.lr_scheduler.MultiplicativeLR(object(), 3)


# ---------------------------------------------------------------- activations: dtypes as PyTorch 2.13
@pytest.mark.parametrize("name", ["gelu", "silu", "softplus", "elu", "selu", "celu", "mish", "logsigmoid",
                                  "hardswish", "hardsigmoid", "leaky_relu", "softshrink", "hardshrink", "glu"])
def test_float_activations_refuse_integer_tensors(name):
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        getattr(F, name)(ember.tensor([1, -2, 3, 4]))


@pytest.mark.parametrize("name", ["hardtanh", "relu6", "relu"])
def test_clipping_activations_keep_integer_dtypes(name):
    out = getattr(F, name)(ember.tensor([5, -5, 0]))
    assert out.dtype is ember.int64
    assert out.tolist() == {"hardtanh": [1, -1, 0], "relu6": [5, 0, 0], "relu": [5, 0, 0]}[name]
    assert F.threshold(ember.tensor([5, -5, 0]), 1, 0.5).dtype is ember.int64


def test_half_precision_activations_are_computed_in_float32():
    x = ember.tensor([0.1234, -2.5, 3.75, -0.0113], dtype=ember.float16)
    wide = x.float()
    for name in ("gelu", "silu", "mish", "softplus", "elu"):
        got = getattr(F, name)(x)
        assert got.dtype is ember.float16
        np.testing.assert_array_equal(got.numpy(), getattr(F, name)(wide).half().numpy())
