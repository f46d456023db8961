"""RNN / LSTM / GRU and their cells against float64 numpy references (outputs, final states,
and gradients with respect to inputs, initial states and every parameter), on every device."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn

from layer_refs import RNG, assert_close, check_module, host, tensor


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _step(mode, x, h, c, p, suffix):
    """One time step from the documented equations; p holds the PyTorch-named parameters."""
    w_ih, w_hh = p["weight_ih" + suffix], p["weight_hh" + suffix]
    b_ih = p.get("bias_ih" + suffix, 0.0)
    b_hh = p.get("bias_hh" + suffix, 0.0)
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    if mode == "LSTM":
        hs = gi.shape[-1] // 4
        i, f, g, o = (_sigmoid(gi[:, :hs] + gh[:, :hs]), _sigmoid(gi[:, hs:2 * hs] + gh[:, hs:2 * hs]),
                      np.tanh(gi[:, 2 * hs:3 * hs] + gh[:, 2 * hs:3 * hs]), _sigmoid(gi[:, 3 * hs:] + gh[:, 3 * hs:]))
        c = f * c + i * g
        h = o * np.tanh(c)
        if "weight_hr" + suffix in p:
            h = h @ p["weight_hr" + suffix].T
        return h, c
    if mode == "GRU":
        hs = gi.shape[-1] // 3
        r = _sigmoid(gi[:, :hs] + gh[:, :hs])
        z = _sigmoid(gi[:, hs:2 * hs] + gh[:, hs:2 * hs])
        n = np.tanh(gi[:, 2 * hs:] + r * gh[:, 2 * hs:])
        return (1 - z) * n + z * h, None
    pre = gi + gh
    return (np.tanh(pre) if mode == "tanh" else np.maximum(pre, 0)), None


def rnn_ref(mode, p, x, h0, c0, layers, directions):
    """x (L, N, I); h0 / c0 (layers * directions, N, *) -> (output, h_n, c_n)."""
    layer_input = x
    h_n, c_n = [], []
    for layer in range(layers):
        outs = []
        for d in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            h = h0[layer * directions + d]
            c = c0[layer * directions + d] if c0 is not None else None
            seq = [None] * x.shape[0]
            for t in (reversed(range(x.shape[0])) if d else range(x.shape[0])):
                h, c = _step(mode, layer_input[t], h, c, p, suffix)
                seq[t] = h
            outs.append(np.stack(seq))
            h_n.append(h)
            c_n.append(c)
        layer_input = np.concatenate(outs, -1)
    return layer_input, np.stack(h_n), (np.stack(c_n) if c0 is not None else None)


L, N, I, HID = 3, 2, 3, 4


@pytest.mark.parametrize("mode", ["tanh", "relu"])
def test_rnn_two_layers_bidirectional(any_device, mode):
    device = any_device
    m = nn.RNN(I, HID, 2, nonlinearity=mode, bidirectional=True)
    rng = RNG(0)
    x, h0 = rng.standard_normal((L, N, I)), rng.standard_normal((4, N, HID))
    check_module(m, lambda m, x, h0: m(x, h0),
             lambda p, x, h0: rnn_ref(mode, p, x, h0, None, 2, 2)[:2], [x, h0], device)


def test_lstm_with_projection_and_batch_first(any_device):
    device = any_device
    m = nn.LSTM(I, HID, 2, batch_first=True, bidirectional=True, proj_size=2)
    names = [n for n, _ in m.named_parameters()]
    assert names[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0"]
    assert tuple(m.weight_hh_l0.shape) == (4 * HID, 2) and tuple(m.weight_ih_l1.shape) == (4 * HID, 4)
    rng = RNG(1)
    x = rng.standard_normal((N, L, I))
    h0, c0 = rng.standard_normal((4, N, 2)), rng.standard_normal((4, N, HID))

    def run(m, x, h0, c0):
        out, (h, c) = m(x, (h0, c0))
        return out, h, c

    def ref(p, x, h0, c0):
        out, h, c = rnn_ref("LSTM", p, x.transpose(1, 0, 2), h0, c0, 2, 2)
        return out.transpose(1, 0, 2), h, c
    check_module(m, run, ref, [x, h0, c0], device)


def test_gru_default_state_and_unbatched(any_device):
    device = any_device
    m = nn.GRU(I, HID, 2)
    x = RNG(2).standard_normal((L, N, I))
    zeros = np.zeros((2, N, HID))
    check_module(m, lambda m, x: m(x), lambda p, x: rnn_ref("GRU", p, x, zeros, None, 2, 1)[:2], [x], device)
    m = nn.GRU(I, HID, bias=False)
    assert [n for n, _ in m.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    check_module(m, lambda m, x: m(x),
             lambda p, x: tuple(r[:, 0] for r in rnn_ref("GRU", p, x[:, None], np.zeros((1, 1, HID)), None, 1, 1)[:2]),
             [x[:, 0]], device)


def test_lstm_single_layer_gradients(any_device):
    device = any_device
    m = nn.LSTM(I, HID)
    x = RNG(3).standard_normal((L, N, I))
    zeros = np.zeros((1, N, HID))

    def run(m, x):
        out, (h, c) = m(x)
        return out, h, c
    check_module(m, run, lambda p, x: rnn_ref("LSTM", p, x, zeros, zeros, 1, 1), [x], device)


@pytest.mark.parametrize("cls,mode", [(nn.RNNCell, "tanh"), (nn.GRUCell, "GRU"), (nn.LSTMCell, "LSTM")])
def test_cells(any_device, cls, mode):
    device = any_device
    m = cls(I, HID)
    assert [n for n, _ in m.named_parameters()] == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    rng = RNG(4)
    x, h = rng.standard_normal((N, I)), rng.standard_normal((N, HID))
    if mode == "LSTM":
        c = rng.standard_normal((N, HID))
        check_module(m, lambda m, x, h, c: m(x, (h, c)), lambda p, x, h, c: _step("LSTM", x, h, c, p, ""), [x, h, c],
                 device)
        h1, c1 = m(tensor(x[0], device))  # unbatched, zero state
        assert tuple(h1.shape) == (HID,) and tuple(c1.shape) == (HID,)
    else:
        check_module(m, lambda m, x, h: (m(x, h),), lambda p, x, h: (_step(mode, x, h, None, p, "")[0],), [x, h],
                     device)
        assert tuple(m(tensor(x[0], device)).shape) == (HID,)


def test_rnn_init_and_state_dict():
    m = nn.LSTM(5, 8, 2, bidirectional=True)
    bound = 1 / math.sqrt(8)
    for name, p in m.named_parameters():
        a = host(p)
        assert np.abs(a).max() <= bound and a.std() > bound / 3, name
    keys = list(m.state_dict())
    assert keys[:8] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse",
                        "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse"]
    other = nn.LSTM(5, 8, 2, bidirectional=True)
    other.load_state_dict(m.state_dict())
    x = ember.randn(4, 3, 5)
    np.testing.assert_allclose(host(other(x)[0]), host(m(x)[0]))
    assert repr(nn.GRU(3, 4, 2, batch_first=True)) == "GRU(3, 4, num_layers=2, batch_first=True)"


def test_dropout_between_layers(any_device):
    device = any_device
    m = nn.GRU(I, HID, 3, dropout=0.5).to(device)
    x = ember.randn(L, N, I, device=device)
    m.eval()
    a, b = m(x)[0], m(x)[0]
    assert_close(a, host(b), 0, 0)  # no dropout in eval
    m.train()
    ember.manual_seed(1)
    c = m(x)[0]
    assert not np.allclose(host(c), host(a))
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.RNN(2, 3, 1, dropout=0.2)


def test_rnn_errors(any_device):
    device = any_device
    m = nn.LSTM(I, HID, 2).to(device)
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size. Expected 3, got 5"):
        m(ember.randn(L, N, 5, device=device))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(2, 2, 4\), got \[1, 2, 4\]"):
        m(ember.randn(L, N, I, device=device), (ember.zeros(1, N, HID, device=device),
                                                ember.zeros(2, N, HID, device=device)))
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D, got 4D tensor instead"):
        m(ember.randn(1, L, N, I, device=device))
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        nn.RNNBase("GRU", 3, 4, proj_size=2)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'"):
        nn.RNN(3, 4, nonlinearity="gelu")
