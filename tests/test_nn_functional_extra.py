"""CTC loss, fractional / 3-d adaptive max pooling, nn.grad and the torch-level native forms
(torch.native_batch_norm, torch.lstm, ...) against float64 numpy references."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F


def _t(a, dtype=ember.float64, grad=False):
    out = ember.tensor(np.asarray(a), dtype=dtype)
    return out.requires_grad_() if grad else out


# ---------------------------------------------------------------- CTC
def _ctc_reference(lp, target, blank):
    """-log p(target | lp) for one sample, lp (T, C) float64, by the alpha recursion."""
    ext = [blank]
    for label in target:
        ext += [int(label), blank]
    S, T = len(ext), lp.shape[0]
    alpha = np.full(S, -np.inf)
    alpha[0] = lp[0, blank]
    if S > 1:
        alpha[1] = lp[0, ext[1]]
    for t in range(1, T):
        new = np.full(S, -np.inf)
        for s in range(S):
            terms = [alpha[s]]
            if s >= 1:
                terms.append(alpha[s - 1])
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                terms.append(alpha[s - 2])
            new[s] = np.logaddexp.reduce(terms) + lp[t, ext[s]]
        alpha = new
    end = [alpha[S - 1]] + ([alpha[S - 2]] if S > 1 else [])
    return -np.logaddexp.reduce(end)


def _log_softmax(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def _ctc_batch(logits, targets, in_len, tgt_len, blank):
    lp = _log_softmax(logits)
    return np.array([_ctc_reference(lp[:in_len[n], n], targets[n][:tgt_len[n]], blank)
                     for n in range(lp.shape[1])])


@pytest.mark.parametrize("blank", [0, 4])
def test_ctc_loss_matches_reference_and_its_gradient(blank):
    rng = np.random.default_rng(0)
    T, N, C = 7, 3, 5
    logits = rng.standard_normal((T, N, C))
    labels = [c for c in range(C) if c != blank]
    targets = np.array([[labels[0], labels[1], labels[1]], [labels[2], labels[0], labels[3]],
                        [labels[3], labels[3], labels[3]]])
    in_len, tgt_len = [7, 6, 7], [3, 2, 3]
    want = _ctc_batch(logits, targets, in_len, tgt_len, blank)
    x = _t(logits, grad=True)
    got = F.ctc_loss(F.log_softmax(x, 2), _t(targets, ember.int64), in_len, tgt_len, blank=blank, reduction="none")
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-10)
    weights = rng.standard_normal(N)
    (got * _t(weights)).sum().backward()
    numeric = np.zeros_like(logits)
    for index in np.ndindex(*logits.shape):   # central differences of the reference
        step = np.zeros_like(logits)
        step[index] = 1e-6
        numeric[index] = ((_ctc_batch(logits + step, targets, in_len, tgt_len, blank)
                           - _ctc_batch(logits - step, targets, in_len, tgt_len, blank)) @ weights) / 2e-6
    np.testing.assert_allclose(x.grad.numpy(), numeric, atol=1e-6)


def test_ctc_loss_reductions_concatenated_targets_infinity_and_float32():
    rng = np.random.default_rng(1)
    T, N, C = 6, 2, 4
    logits = rng.standard_normal((T, N, C))
    targets = np.array([[1, 2, 2], [3, 1, 0]])
    lp = _t(_log_softmax(logits))
    want = _ctc_batch(logits, targets, [6, 5], [3, 2], 0)
    tg = _t(targets, ember.int64)
    mean = F.ctc_loss(lp, tg, [6, 5], [3, 2])
    np.testing.assert_allclose(mean.item(), (want / np.array([3, 2])).mean(), rtol=1e-10)
    np.testing.assert_allclose(F.ctc_loss(lp, tg, ember.tensor([6, 5]), ember.tensor([3, 2]), reduction="sum").item(),
                               want.sum(), rtol=1e-10)
    flat = F.ctc_loss(lp, _t([1, 2, 2, 3, 1], ember.int64), [6, 5], [3, 2], reduction="none")
    np.testing.assert_allclose(flat.numpy(), want, rtol=1e-10)
    # an input too short for its target (3 labels, two of them repeated, need 4 frames)
    short = F.ctc_loss(lp, tg, [3, 5], [3, 2], reduction="none")
    assert np.isinf(short[0].item()) and np.isfinite(short[1].item())
    x = _t(logits, grad=True)
    zeroed = F.ctc_loss(F.log_softmax(x, 2), tg, [3, 5], [3, 2], reduction="none", zero_infinity=True)
    assert zeroed[0].item() == 0.0
    zeroed.sum().backward()
    assert np.abs(x.grad.numpy()[:, 0]).max() == 0.0 and np.abs(x.grad.numpy()[:, 1]).max() > 0
    # unbatched, float32, the module and the torch-level form with an int reduction
    single = F.ctc_loss(lp[:, 0].float(), tg[0], ember.tensor(6), ember.tensor(3), reduction="none")
    assert single.dtype == ember.float32 and single.ndim == 0
    np.testing.assert_allclose(single.item(), want[0], rtol=1e-5)
    np.testing.assert_allclose(nn.CTCLoss(reduction="sum")(lp, tg, [6, 5], [3, 2]).item(), want.sum(), rtol=1e-10)
    np.testing.assert_allclose(ember.ctc_loss(lp, tg, [6, 5], [3, 2], 0, 2).item(), want.sum(), rtol=1e-10)
    with pytest.raises(RuntimeError, match="at most 6"):
        F.ctc_loss(lp, tg, [7, 5], [3, 2])
    with pytest.raises(NotImplementedError):
        F.ctc_loss(lp.long(), tg, [6, 5], [3, 2])


# ---------------------------------------------------------------- fractional and 3-d adaptive max pooling
def _fractional_reference(x, kernel, out, samples, order):
    """Max over windows starting at floor((i + u) * alpha) - floor(u * alpha), alpha in float32."""
    n, c = x.shape[:2]
    spatial = x.shape[2:]
    values = np.zeros((n, c, *out))
    indices = np.zeros((n, c, *out), dtype=np.int64)
    for b in range(n):
        for ch in range(c):
            starts = []
            for d in range(len(out)):
                u = np.float32(samples[b, ch, order[d]])
                alpha = np.float32(spatial[d] - kernel[d]) / np.float32(max(out[d] - 1, 1))
                seq = [int(np.float32(i + u) * alpha) - int(u * alpha) for i in range(out[d] - 1)]
                starts.append(seq + [spatial[d] - kernel[d]])
            for pos in np.ndindex(*out):
                window = tuple(slice(starts[d][pos[d]], starts[d][pos[d]] + kernel[d]) for d in range(len(out)))
                block = x[(b, ch) + window]
                flat = int(np.argmax(block))
                local = np.unravel_index(flat, block.shape)
                values[(b, ch) + pos] = block.reshape(-1)[flat]
                indices[(b, ch) + pos] = np.ravel_multi_index(
                    tuple(starts[d][pos[d]] + local[d] for d in range(len(out))), spatial)
    return values, indices


@pytest.mark.parametrize("nd", [2, 3])
def test_fractional_max_pool_matches_reference(nd):
    rng = np.random.default_rng(2)
    if nd == 2:
        x, kernel, out = rng.standard_normal((2, 3, 13, 11)), (2, 3), (5, 4)
        fn, order = F.fractional_max_pool2d, (1, 0)   # the samples hold (width, height)
    else:
        x, kernel, out = rng.standard_normal((1, 2, 7, 8, 9)), (2, 3, 2), (3, 4, 5)
        fn, order = F.fractional_max_pool3d, (0, 1, 2)
    samples = rng.random((x.shape[0], x.shape[1], nd))
    want, want_idx = _fractional_reference(x, kernel, out, samples.astype(np.float32), order)
    xt = _t(x, ember.float32, grad=True)
    got, idx = fn(xt, kernel, output_size=out, return_indices=True, _random_samples=_t(samples, ember.float32))
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-6)
    np.testing.assert_array_equal(idx.numpy(), want_idx)
    got.sum().backward()   # each maximum gets its gradient once per window it wins
    counts = np.zeros(x.size)
    np.add.at(counts, (want_idx + np.arange(x.shape[0] * x.shape[1]).reshape(
        x.shape[0], x.shape[1], *[1] * nd) * int(np.prod(x.shape[2:]))).reshape(-1), 1)
    np.testing.assert_allclose(xt.grad.numpy().reshape(-1), counts)


def test_fractional_pool_modules_ratio_unbatched_and_errors():
    x = ember.randn(3, 10, 12)
    layer = nn.FractionalMaxPool2d(2, output_ratio=0.5, return_indices=True)
    values, indices = layer(x)
    assert tuple(values.shape) == (3, 5, 6) and indices.dtype == ember.int64
    flat = x.reshape(3, -1)
    np.testing.assert_array_equal(flat.gather(1, indices.reshape(3, -1)).numpy(), values.reshape(3, -1).numpy())
    fixed = nn.FractionalMaxPool3d(2, output_size=3, _random_samples=ember.rand(1, 2, 3))
    a, b = fixed(ember.ones(1, 2, 6, 6, 6)), fixed(ember.ones(1, 2, 6, 6, 6))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="output_size or an output_ratio"):
        F.fractional_max_pool2d(x, 2)
    with pytest.raises(RuntimeError, match="too large"):
        F.fractional_max_pool2d(x, 5, output_size=(8, 8))
    with pytest.raises(ValueError):
        nn.FractionalMaxPool2d(2)


def test_adaptive_max_pool3d_and_max_pool3d_with_indices():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 5, 6, 7))
    got, idx = F.adaptive_max_pool3d(_t(x), (2, 3, 4), return_indices=True)
    want = np.zeros((2, 2, 2, 3, 4))
    for i, j, k in np.ndindex(2, 3, 4):
        bounds = [(p * s // o, -(-(p + 1) * s // o)) for p, s, o in zip((i, j, k), (5, 6, 7), (2, 3, 4))]
        want[..., i, j, k] = x[..., bounds[0][0]:bounds[0][1], bounds[1][0]:bounds[1][1],
                               bounds[2][0]:bounds[2][1]].max((-1, -2, -3))
    np.testing.assert_allclose(got.numpy(), want)
    np.testing.assert_allclose(x.reshape(2, 2, -1)[np.arange(2)[:, None, None], np.arange(2)[None, :, None],
                                                   idx.numpy().reshape(2, 2, -1)], want.reshape(2, 2, -1))
    values, where = F.adaptive_max_pool3d_with_indices(_t(x[0]), 1)
    assert tuple(values.shape) == (2, 1, 1, 1) and values[1].item() == x[0, 1].max()
    assert tuple(nn.AdaptiveMaxPool3d(2)(_t(x)).shape) == (2, 2, 2, 2, 2)
    values, where = F.max_pool3d_with_indices(_t(x), 2)
    np.testing.assert_allclose(values.numpy(), x[:, :, :4, :6, :6].reshape(2, 2, 2, 2, 3, 2, 3, 2).max((3, 5, 7)))


# ---------------------------------------------------------------- nn.grad
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_nn_grad_conv_input_and_weight_match_autograd(nd):
    rng = np.random.default_rng(4)
    x = _t(rng.standard_normal((2, 4) + (6,) * nd), grad=True)
    w = _t(rng.standard_normal((6, 2) + (3,) * nd), grad=True)
    conv = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
    y = conv(x, w, None, 2, 1, 1, 2)
    g = _t(rng.standard_normal(tuple(y.shape)))
    y.backward(g)
    inp = getattr(nn.grad, f"conv{nd}d_input")(x.shape, w.detach(), g, 2, 1, 1, 2)
    wgt = getattr(nn.grad, f"conv{nd}d_weight")(x.detach(), w.shape, g, 2, 1, 1, 2)
    np.testing.assert_allclose(inp.numpy(), x.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(wgt.numpy(), w.grad.numpy(), atol=1e-10)


# ---------------------------------------------------------------- torch-level native forms
def test_native_normalizations_and_statistics():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3, 5))
    w, b = rng.random(3), rng.random(3)
    mean, var = x.mean((0, 2)), x.var((0, 2))
    rm, rv = _t(np.zeros(3)), _t(np.ones(3))
    out, save_mean, save_invstd = ember.native_batch_norm(_t(x), _t(w), _t(b), rm, rv, True, 0.1, 1e-5)
    norm = (x - mean[:, None]) / np.sqrt(var[:, None] + 1e-5) * w[:, None] + b[:, None]
    np.testing.assert_allclose(out.numpy(), norm, atol=1e-12)
    np.testing.assert_allclose(save_invstd.numpy(), 1 / np.sqrt(var + 1e-5))
    np.testing.assert_allclose(rv.numpy(), 0.9 + 0.1 * x.var((0, 2), ddof=1))
    assert tuple(ember.native_batch_norm(_t(x), None, None, rm, rv, False, 0.1, 1e-5)[1].shape) == (0,)
    out, m, r = ember.native_layer_norm(_t(x), [5], None, None, 1e-5)
    np.testing.assert_allclose(r.numpy(), 1 / np.sqrt(x.var(-1, keepdims=True) + 1e-5))
    out, m, r = ember.native_group_norm(_t(x.reshape(4, 3, 5)), None, None, 4, 3, 5, 3, 1e-5)
    np.testing.assert_allclose(m.numpy(), x.mean(-1))
    np.testing.assert_allclose(ember.norm_except_dim(_t(x), 2, 1).numpy().ravel(), np.sqrt((x ** 2).sum((0, 2))))
    np.testing.assert_allclose(ember.native_norm(_t(x), 3).item(), (np.abs(x) ** 3).sum() ** (1 / 3))
    dropped, mask = ember.native_dropout(_t(x), 0.5, True)
    np.testing.assert_allclose(dropped.numpy(), np.where(mask.numpy(), x * 2, 0))
    assert bool(ember.native_dropout(_t(x), 0.5, False)[1].all())
    # the SyncBatchNorm pieces: two "processes" holding x[:2] and x[2:] give the whole batch's statistics
    stats = [ember.batch_norm_stats(_t(part), 1e-5) for part in (x[:2], x[2:3])]
    counts = _t([10.0, 5.0])
    rm, rv = _t(np.zeros(3)), _t(np.ones(3))
    g_mean, g_invstd = ember.batch_norm_gather_stats_with_counts(
        _t(x), ember.stack([s[0] for s in stats]), ember.stack([s[1] for s in stats]), rm, rv, 0.1, 1e-5, counts)
    whole = x[:3]
    np.testing.assert_allclose(g_mean.numpy(), whole.mean((0, 2)))
    np.testing.assert_allclose(g_invstd.numpy(), 1 / np.sqrt(whole.var((0, 2)) + 1e-5))
    np.testing.assert_allclose(rv.numpy(), 0.9 + 0.1 * whole.var((0, 2), ddof=1))
    m1, v1 = ember.batch_norm_update_stats(_t(x), None, None, 0.1)
    np.testing.assert_allclose(v1.numpy(), var)
    # backward pieces against autograd of the plain normalization
    xt = _t(x, grad=True)
    y = F.batch_norm(xt, None, None, _t(w), None, True)
    g = rng.standard_normal(x.shape)
    y.backward(_t(g))
    mu, inv = ember.batch_norm_stats(_t(x), 1e-5)
    sum_dy, sum_dy_xmu, grad_w, grad_b = ember.batch_norm_backward_reduce(_t(g), _t(x), mu, inv, _t(w),
                                                                          True, True, True)
    np.testing.assert_allclose(grad_b.numpy(), g.sum((0, 2)))
    grad_in = ember.batch_norm_backward_elemt(_t(g), _t(x), mu, inv, _t(w), sum_dy, sum_dy_xmu,
                                              ember.tensor([20], dtype=ember.int32))
    np.testing.assert_allclose(grad_in.numpy(), xt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(ember.batch_norm_elemt(_t(x), _t(w), None, mu, inv, 1e-5).numpy(), y.detach().numpy())
    assert ember.batch_norm_backward_reduce(_t(g), _t(x), mu, inv, None, False, True, False)[0] is None


def test_flat_weight_recurrent_functions_match_the_modules():
    ember.manual_seed(0)
    x = ember.randn(5, 2, 3, dtype=ember.float64)
    lstm = nn.LSTM(3, 4, 2, bidirectional=True, batch_first=True).double()
    h0, c0 = ember.randn(4, 2, 4, dtype=ember.float64), ember.randn(4, 2, 4, dtype=ember.float64)
    out, (h, c) = lstm(x.transpose(0, 1), (h0, c0))
    out2, h2, c2 = ember.lstm(x.transpose(0, 1), [h0, c0], lstm._flat_weights, True, 2, 0.0, False, True, True)
    np.testing.assert_allclose(out2.detach().numpy(), out.detach().numpy())
    np.testing.assert_allclose(c2.detach().numpy(), c.detach().numpy())
    gru = nn.GRU(3, 4, bias=False).double()
    hx = ember.randn(1, 2, 4, dtype=ember.float64)
    flat_gru = ember.gru(x, hx, gru._flat_weights, False, 1, 0.0, False, False, False)
    np.testing.assert_allclose(flat_gru[0].detach().numpy(),
                               gru(x, hx)[0].detach().numpy())
    rnn = nn.RNN(3, 4, nonlinearity="relu").double()
    np.testing.assert_allclose(ember.rnn_relu(x, hx, rnn._flat_weights, True, 1, 0.0, False, False, False)[1]
                               .detach().numpy(), rnn(x, hx)[1].detach().numpy())
    # the packed form: (data, batch_sizes, hx, params, ...)
    packed = nn.utils.rnn.pack_padded_sequence(x, [5, 3])
    want_out, want_h = gru(packed, hx)
    got_out, got_h = ember.gru(packed.data, packed.batch_sizes, hx, gru._flat_weights, False, 1, 0.0, False, False)
    np.testing.assert_allclose(got_out.detach().numpy(), want_out.data.detach().numpy())
    np.testing.assert_allclose(got_h.detach().numpy(), want_h.detach().numpy())
    # the cells, against numpy
    xs, h = x[0].numpy(), hx[0].numpy()
    w_ih, w_hh = np.random.default_rng(6).standard_normal((2, 4, 3)), np.random.default_rng(7).standard_normal((4, 4))
    np.testing.assert_allclose(ember.rnn_tanh_cell(_t(xs), _t(h), _t(w_ih[0]), _t(w_hh)).numpy(),
                               np.tanh(xs @ w_ih[0].T + h @ w_hh.T))
    cell = nn.LSTMCell(3, 4).double()
    hc = (ember.randn(2, 4, dtype=ember.float64), ember.randn(2, 4, dtype=ember.float64))
    got = ember.lstm_cell(x[0], hc, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    np.testing.assert_allclose(got[1].detach().numpy(), cell(x[0], hc)[1].detach().numpy())


def test_convolution_conv_tbc_embedding_and_samplers():
    rng = np.random.default_rng(8)
    x, w, b = rng.standard_normal((7, 2, 3)), rng.standard_normal((3, 3, 4)), rng.standard_normal(4)
    got = ember.conv_tbc(_t(x), _t(w), _t(b), 1)
    padded = np.pad(x, ((1, 1), (0, 0), (0, 0)))
    want = np.stack([np.einsum("knc,kco->no", padded[t:t + 3], w) for t in range(7)]) + b
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12)
    xi, wi = _t(rng.standard_normal((1, 2, 6, 5))), _t(rng.standard_normal((3, 2, 2, 2)))
    np.testing.assert_allclose(ember.convolution(xi, wi, None, [2, 1], [1, 0], [1, 2], False, [0, 0], 1).numpy(),
                               F.conv2d(xi, wi, None, (2, 1), (1, 0), (1, 2)).numpy())
    x1, wt = _t(rng.standard_normal((1, 2, 5))), _t(rng.standard_normal((2, 3, 3)))
    np.testing.assert_allclose(ember.convolution(x1, wt, None, [2], [1], [1], True, [1], 1).numpy(),
                               F.conv_transpose1d(x1, wt, None, 2, 1, 1).numpy())
    table = rng.standard_normal((10, 3)) * 3
    out, offset2bag, bag_size, max_indices = ember.embedding_bag(_t(table), _t([1, 2, 4, 5, 4, 3], ember.int64),
                                                                 _t([0, 3], ember.int64), False, 2)
    np.testing.assert_allclose(out.numpy(), np.stack([table[[1, 2, 4]].max(0), table[[5, 4, 3]].max(0)]))
    np.testing.assert_array_equal(offset2bag.numpy(), [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(bag_size.numpy(), [3, 3])
    weight = _t(table)
    ember.embedding_renorm_(weight, _t([0, 0, 2], ember.int64), 1.0, 2.0)
    norms = np.linalg.norm(weight.numpy(), axis=1)
    np.testing.assert_allclose(norms[[0, 2]], 1.0, rtol=1e-6)
    np.testing.assert_allclose(weight.numpy()[1], table[1])
    theta = _t(rng.standard_normal((1, 2, 3)))
    grid = ember.affine_grid_generator(theta, [1, 1, 4, 5], False)
    np.testing.assert_allclose(grid.numpy(), F.affine_grid(theta, [1, 1, 4, 5], False).numpy())
    image = _t(rng.standard_normal((1, 2, 4, 5)))
    np.testing.assert_allclose(ember.grid_sampler(image, grid * 0.9, 1, 1, True).numpy(),
                               F.grid_sample(image, grid * 0.9, "nearest", "border", True).numpy())


# ---------------------------------------------------------------- grid_sample: bicubic and 5-D
def _unnorm(c, size, align):
    return (c + 1) / 2 * (size - 1) if align else ((c + 1) * size - 1) / 2


def _reflect_np(c, low2, high2):
    if low2 == high2:
        return 0.0
    low, span = low2 / 2, (high2 - low2) / 2
    c = abs(c - low)
    extra, flips = np.fmod(c, span), np.floor(c / span)
    return extra + low if flips % 2 == 0 else span - extra + low


def _pad_np(c, size, mode, align):
    if mode == "border":
        return min(max(c, 0), size - 1)
    if mode == "reflection":
        c = _reflect_np(c, 0, 2 * (size - 1)) if align else _reflect_np(c, -1, 2 * size - 1)
        return min(max(c, 0), size - 1)
    return c


def _read(img, idx):
    """img (C, *S) at integer position idx (one per spatial dim), 0 outside."""
    if all(0 <= i < s for i, s in zip(idx, img.shape[1:])):
        return img[(slice(None),) + tuple(int(i) for i in idx)]
    return np.zeros(img.shape[0])


def _bicubic_np(img, gx, gy, mode, align):
    A = -0.75
    near = lambda t: ((A + 2) * t - (A + 3)) * t * t + 1           # noqa: E731
    far = lambda t: ((A * t - 5 * A) * t + 8 * A) * t - 4 * A        # noqa: E731
    x, y = _unnorm(gx, img.shape[2], align), _unnorm(gy, img.shape[1], align)
    x0, y0 = np.floor(x), np.floor(y)
    tx, ty = x - x0, y - y0
    wx = [far(tx + 1), near(tx), near(1 - tx), far(2 - tx)]
    wy = [far(ty + 1), near(ty), near(1 - ty), far(2 - ty)]
    out = 0.0
    for i in range(4):
        for j in range(4):
            yy = _pad_np(y0 - 1 + i, img.shape[1], mode, align)
            xx = _pad_np(x0 - 1 + j, img.shape[2], mode, align)
            out = out + wy[i] * wx[j] * _read(img, (yy, xx))
    return out


def _trilinear_np(img, g, mode, align, nearest):
    coords = [_pad_np(_unnorm(g[k], img.shape[3 - k], align), img.shape[3 - k], mode, align) for k in range(3)]
    x, y, z = coords
    if nearest:
        return _read(img, (np.rint(z), np.rint(y), np.rint(x)))
    out = 0.0
    for dz in (0, 1):
        for dy in (0, 1):
            for dx in (0, 1):
                w = ((z - np.floor(z)) if dz else 1 - (z - np.floor(z))) * \
                    ((y - np.floor(y)) if dy else 1 - (y - np.floor(y))) * \
                    ((x - np.floor(x)) if dx else 1 - (x - np.floor(x)))
                out = out + w * _read(img, (np.floor(z) + dz, np.floor(y) + dy, np.floor(x) + dx))
    return out


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample_bicubic_and_volumetric_match_reference(padding_mode):
    rng = np.random.default_rng(9)
    x, g = rng.standard_normal((1, 2, 5, 6)), rng.uniform(-1.3, 1.3, (1, 3, 2, 2))
    x3, g3 = rng.standard_normal((1, 2, 3, 4, 5)), rng.uniform(-1.3, 1.3, (1, 2, 2, 2, 3))
    for align in (False, True):
        got = F.grid_sample(_t(x), _t(g), "bicubic", padding_mode, align).numpy()
        for i, j in np.ndindex(3, 2):
            np.testing.assert_allclose(got[0, :, i, j], _bicubic_np(x[0], *g[0, i, j], padding_mode, align),
                                       atol=1e-12)
        for nearest in (False, True):
            got = F.grid_sample(_t(x3), _t(g3), "nearest" if nearest else "bilinear", padding_mode, align).numpy()
            for pos in np.ndindex(2, 2, 2):
                np.testing.assert_allclose(got[(0, slice(None)) + pos],
                                           _trilinear_np(x3[0], g3[(0,) + pos], padding_mode, align, nearest),
                                           atol=1e-12)
    # gradients reach the grid: central differences of the reference
    gt = _t(g, grad=True)
    F.grid_sample(_t(x), gt, "bicubic", padding_mode, False).sum().backward()
    index = (0, 1, 0, 0)
    step = np.zeros_like(g)
    step[index] = 1e-6
    plus = _bicubic_np(x[0], *(g + step)[0, 1, 0], padding_mode, False).sum()
    minus = _bicubic_np(x[0], *(g - step)[0, 1, 0], padding_mode, False).sum()
    np.testing.assert_allclose(gt.grad.numpy()[index], (plus - minus) / 2e-6, rtol=1e-5, atol=1e-7)
    with pytest.raises(RuntimeError, match="bicubic"):
        F.grid_sample(_t(x3), _t(g3), "bicubic")


# ---------------------------------------------------------------- grouped_mm and the small names
def test_grouped_mm_forms():
    rng = np.random.default_rng(10)
    a3, b3 = rng.standard_normal((3, 4, 6)), rng.standard_normal((3, 6, 5))
    f32 = lambda a: _t(a, ember.float32)   # noqa: E731
    np.testing.assert_allclose(F.grouped_mm(f32(a3), f32(b3)).numpy(), a3 @ b3, rtol=1e-5, atol=1e-5)
    rows = rng.standard_normal((10, 6))
    offs = ember.tensor([3, 7, 9], dtype=ember.int32)
    x = _t(rows, ember.float32, grad=True)
    out = F.grouped_mm(x, f32(b3), offs=offs)
    want = np.concatenate([rows[0:3] @ b3[0], rows[3:7] @ b3[1], rows[7:9] @ b3[2], np.zeros((1, 5))])
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-5, atol=1e-5)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[:3], np.tile(b3[0].sum(1), (3, 1)), rtol=1e-5)
    cols = rng.standard_normal((6, 9))
    np.testing.assert_allclose(F.grouped_mm(f32(a3), f32(cols), offs=ember.tensor([2, 5, 9])).numpy(),
                               np.concatenate([a3[0] @ cols[:, :2], a3[1] @ cols[:, 2:5], a3[2] @ cols[:, 5:]], 1),
                               rtol=1e-5, atol=1e-5)
    shared_a, shared_b = rng.standard_normal((4, 9)), rng.standard_normal((9, 5))
    np.testing.assert_allclose(F.grouped_mm(f32(shared_a), f32(shared_b), offs=ember.tensor([2, 5, 9])).numpy(),
                               np.stack([shared_a[:, s:e] @ shared_b[s:e] for s, e in ((0, 2), (2, 5), (5, 9))]),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="Float32, BFloat16 or Float16"):
        F.grouped_mm(_t(a3), _t(b3))
    with pytest.raises(RuntimeError, match="offsets"):
        F.grouped_mm(f32(a3), f32(b3), offs=offs)
    with pytest.raises(RuntimeError, match="Bias"):
        F.grouped_mm(f32(a3), f32(b3), bias=f32(np.zeros((3, 5))))


def test_small_functional_names():
    assert F.GRID_SAMPLE_INTERPOLATION_MODES == {"bilinear": 0, "nearest": 1, "bicubic": 2}
    assert F.GRID_SAMPLE_PADDING_MODES == {"zeros": 0, "border": 1, "reflection": 2}
    F.assert_int_or_pair(3, "kernel", "{} bad")
    F.assert_int_or_pair((1, 2), "kernel", "{} bad")
    with pytest.raises(AssertionError, match="kernel bad"):
        F.assert_int_or_pair((1, 2, 3), "kernel", "{} bad")

    class Protocol:
        def __torch_function__(self, *args, **kwargs):
            return NotImplemented
    t = ember.ones(2)
    assert not F.has_torch_function((t, 1)) and not F.has_torch_function_unary(t)
    assert F.has_torch_function((t, Protocol())) and F.has_torch_function_variadic(t, Protocol())
    assert F.conv_tbc is ember.conv_tbc
