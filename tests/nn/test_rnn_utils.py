"""nn.utils.rnn: padding and packing variable-length sequences, and RNN/LSTM/GRU on packed input.

References: numpy padding and a float64 numpy tanh RNN run sequence by sequence; the packed
LSTM/GRU must equal the same module run on each sequence alone (output, final states and
parameter gradients)."""
import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.nn.utils import rnn as R
from core_refs import host, widest_float

LENGTHS = [3, 5, 1, 4]


def _sequences(rng, device, dtype, features=2, lengths=LENGTHS):
    arrays = [rng.standard_normal((n, features)) for n in lengths]
    return arrays, [ember.tensor(a, dtype=dtype, device=device) for a in arrays]


def _np_pad(arrays, value=0.0, left=False):
    longest = max(len(a) for a in arrays)
    out = np.full((longest, len(arrays)) + arrays[0].shape[1:], value)
    for i, a in enumerate(arrays):
        if left:
            out[longest - len(a):, i] = a
        else:
            out[:len(a), i] = a
    return out


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence(any_device, batch_first, side):
    rng = np.random.default_rng(0)
    arrays, seqs = _sequences(rng, any_device, widest_float(any_device))
    out = R.pad_sequence(seqs, batch_first=batch_first, padding_value=-7.0, padding_side=side)
    ref = _np_pad(arrays, -7.0, left=side == "left")
    if batch_first:
        ref = ref.transpose(1, 0, 2)
    assert out.device.type == any_device
    np.testing.assert_allclose(host(out), ref, rtol=1e-6)
    with pytest.raises(RuntimeError, match="padding_side"):
        R.pad_sequence(seqs, padding_side="middle")
    with pytest.raises(RuntimeError, match="empty list"):
        R.pad_sequence([])


def test_pack_pad_round_trip_and_gradient(any_device):
    rng = np.random.default_rng(1)
    dtype = widest_float(any_device)
    arrays, seqs = _sequences(rng, any_device, dtype)
    padded = ember.tensor(_np_pad(arrays).transpose(1, 0, 2), dtype=dtype, device=any_device,
                          requires_grad=True)
    packed = R.pack_padded_sequence(padded, ember.tensor(LENGTHS), batch_first=True, enforce_sorted=False)
    order = np.argsort([-n for n in LENGTHS], kind="stable")
    assert packed.sorted_indices.tolist() == order.tolist()
    assert packed.unsorted_indices.tolist() == np.argsort(order).tolist()
    assert packed.batch_sizes.tolist() == [4, 3, 3, 2, 1] and packed.batch_sizes.dtype == ember.int64
    assert packed.batch_sizes.device.type == "cpu"
    # data: step by step, the running sequences in sorted order
    ref = np.concatenate([[arrays[i][t] for i in order if LENGTHS[i] > t] for t in range(5)])
    np.testing.assert_allclose(host(packed.data), ref, rtol=1e-6)
    out, lengths = R.pad_packed_sequence(packed, batch_first=True, padding_value=2.5, total_length=7)
    assert lengths.tolist() == LENGTHS and lengths.dtype == ember.int64
    ref_pad = _np_pad(arrays, 2.5).transpose(1, 0, 2)
    ref_pad = np.concatenate([ref_pad, np.full((4, 2, 2), 2.5)], 1)
    np.testing.assert_allclose(host(out), ref_pad, rtol=1e-6)
    # gradient reaches exactly the unpadded positions
    weight = rng.standard_normal(tuple(out.shape))
    (out * ember.tensor(weight, dtype=dtype, device=any_device)).sum().backward()
    mask = np.zeros(padded.shape)
    for i, n in enumerate(LENGTHS):
        mask[i, :n] = 1
    np.testing.assert_allclose(host(padded.grad), weight[:, :5] * mask, rtol=1e-6)
    back = R.unpack_sequence(packed)
    for a, b in zip(arrays, back):
        np.testing.assert_allclose(host(b), a, rtol=1e-6)
    for a, b in zip(arrays, R.unpad_sequence(R.pad_sequence(seqs), LENGTHS)):
        np.testing.assert_allclose(host(b), a, rtol=1e-6)


def test_pack_errors_and_packed_sequence_methods():
    x = ember.randn(5, 3, 2)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        R.pack_padded_sequence(x, [3, 5, 2])
    with pytest.raises(RuntimeError, match="greater than 0"):
        R.pack_padded_sequence(x, [5, 3, 0])
    with pytest.raises(RuntimeError, match=r"got 2 \(batch_size=3\)"):
        R.pack_padded_sequence(x, [5, 3])
    with pytest.raises(RuntimeError, match="1D CPU int64"):
        R.pack_padded_sequence(x, ember.tensor([[5, 3, 2]]))
    packed = R.pack_padded_sequence(x, [5, 3, 2])
    assert packed.sorted_indices is None and packed.unsorted_indices is None
    with pytest.raises(ValueError, match="total_length=3 and max sequence length being 5"):
        R.pad_packed_sequence(packed, total_length=3)
    assert isinstance(packed, tuple) and packed._fields == ("data", "batch_sizes", "sorted_indices",
                                                            "unsorted_indices")
    d = packed.double()
    assert d.data.dtype == ember.float64 and d.batch_sizes.dtype == ember.int64 and not d.is_cuda
    assert packed.to(ember.float32) is packed
    sorted_only = R.PackedSequence(packed.data, packed.batch_sizes, ember.tensor([2, 0, 1]))
    assert sorted_only.unsorted_indices.tolist() == [1, 2, 0]
    assert R.pack_sequence([ember.ones(3, 2), ember.ones(2, 2)]).batch_sizes.tolist() == [2, 2, 1]


def _np_tanh_rnn(x, w_ih, w_hh, b_ih, b_hh):
    h = np.zeros(w_hh.shape[0])
    out = []
    for step in x:
        h = np.tanh(w_ih @ step + b_ih + w_hh @ h + b_hh)
        out.append(h)
    return np.array(out), h


def test_packed_rnn_matches_numpy(any_device):
    rng = np.random.default_rng(2)
    dtype = widest_float(any_device)
    rnn = nn.RNN(2, 3).to(device=any_device, dtype=dtype)
    weights = [host(p) for p in (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)]
    arrays, seqs = _sequences(rng, any_device, dtype)
    out, h_n = rnn(R.pack_sequence(seqs, enforce_sorted=False))
    assert isinstance(out, R.PackedSequence)
    padded, lengths = R.pad_packed_sequence(out)
    tol = 1e-10 if dtype == ember.float64 else 2e-5
    for i, a in enumerate(arrays):
        ref_out, ref_h = _np_tanh_rnn(a, *weights)
        np.testing.assert_allclose(host(padded[:len(a), i]), ref_out, rtol=tol, atol=tol)
        np.testing.assert_allclose(host(padded[len(a):, i]), 0.0)
        np.testing.assert_allclose(host(h_n[0, i]), ref_h, rtol=tol, atol=tol)


def test_packed_lstm_equal_per_sequence_runs(any_device):
    _check_packed_per_sequence(any_device, "LSTM")


def test_packed_gru_equal_per_sequence_runs():
    # the packed loop is shared by the three modes: GRU only on cpu keeps the suite short
    _check_packed_per_sequence("cpu", "GRU")


def _check_packed_per_sequence(any_device, mode):
    """Multi-layer, bidirectional (and a projected LSTM): each sequence of the packed batch must get
    what it gets alone, with an initial state given in the batch's original order, and the
    parameter gradients must be the sum of the per-sequence ones."""
    rng = np.random.default_rng(3)
    lengths = [2, 3, 1]
    dtype = widest_float(any_device)
    kwargs = dict(num_layers=2, bidirectional=True, batch_first=True)
    if mode == "LSTM":
        kwargs["proj_size"] = 2
    module = getattr(nn, mode)(2, 3, **kwargs).to(device=any_device, dtype=dtype)
    arrays, seqs = _sequences(rng, any_device, dtype, lengths=lengths)
    h_size = 2 if mode == "LSTM" else 3
    h0 = ember.tensor(rng.standard_normal((4, 3, h_size)), dtype=dtype, device=any_device)
    c0 = ember.tensor(rng.standard_normal((4, 3, 3)), dtype=dtype, device=any_device)
    hx = (h0, c0) if mode == "LSTM" else h0
    out, state = module(R.pack_sequence(seqs, enforce_sorted=False), hx)
    padded, _ = R.pad_packed_sequence(out, batch_first=True)
    h_n = state[0] if mode == "LSTM" else state
    upstream = [rng.standard_normal((n, 2 * h_size)) for n in lengths]
    loss = sum((padded[i, :n] * ember.tensor(u, dtype=dtype, device=any_device)).sum()
               for i, (n, u) in enumerate(zip(lengths, upstream))) + h_n.sum()
    if mode == "LSTM":
        loss = loss + state[1].sum()
    grads = ember.autograd.grad(loss, list(module.parameters()))
    expected = [np.zeros(p.shape) for p in module.parameters()]
    tol = 1e-9 if dtype == ember.float64 else 1e-4
    for i, s in enumerate(seqs):
        one_hx = (h0[:, i:i + 1], c0[:, i:i + 1]) if mode == "LSTM" else h0[:, i:i + 1]
        ref_out, ref_state = module(s.unsqueeze(0), one_hx)
        ref_h = ref_state[0] if mode == "LSTM" else ref_state
        np.testing.assert_allclose(host(padded[i, :len(s)]), host(ref_out[0]), rtol=tol, atol=tol)
        np.testing.assert_allclose(host(h_n[:, i]), host(ref_h[:, 0]), rtol=tol, atol=tol)
        if mode == "LSTM":
            np.testing.assert_allclose(host(state[1][:, i]), host(ref_state[1][:, 0]), rtol=tol, atol=tol)
        one_loss = (ref_out[0] * ember.tensor(upstream[i], dtype=dtype, device=any_device)).sum() + ref_h.sum()
        if mode == "LSTM":
            one_loss = one_loss + ref_state[1].sum()
        for acc, g in zip(expected, ember.autograd.grad(one_loss, list(module.parameters()))):
            acc += host(g)
    for g, ref in zip(grads, expected):
        np.testing.assert_allclose(host(g), ref, rtol=tol * 10, atol=tol * 10)
    with pytest.raises(RuntimeError, match="Expected hidden size"):
        module(R.pack_sequence(seqs, enforce_sorted=False), (h0[:, :2], c0[:, :2]) if mode == "LSTM" else h0[:, :2])


def test_packed_sequence_dtype_conversions():
    from ember.nn.utils.rnn import pack_sequence
    packed = pack_sequence([ember.tensor([1.0, 2.0, 3.0]), ember.tensor([4.0, 0.0])])
    for method, dtype in (("double", ember.float64), ("float", ember.float32), ("half", ember.float16),
                          ("long", ember.int64), ("int", ember.int32), ("short", ember.int16),
                          ("char", ember.int8), ("byte", ember.uint8), ("bool", ember.bool)):
        converted = getattr(packed, method)()
        assert converted.data.dtype == dtype, method
        assert ember.equal(converted.batch_sizes, packed.batch_sizes)
    assert packed.bool().data.tolist() == [True, True, True, False, True]
