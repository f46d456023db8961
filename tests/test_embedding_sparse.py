"""Sparse embedding gradients: ``embedding(..., sparse=True)`` and ``embedding_bag(..., sparse=True)``
give ``weight`` a sparse COO gradient laid out as PyTorch 2.13's (checked by hand against it: the
looked-up rows as indices, duplicates kept, padding rows left out), accumulated uncoalesced, and met
by the optimizers as PyTorch's are (SGD and Adagrad update with it; the others refuse it)."""
import numpy as np
import pytest

import ember as torch
import ember.nn.functional as F

RNG = np.random.default_rng(7)


def _weight(n=6, d=3, dtype=torch.float64):
    return torch.tensor(RNG.standard_normal((n, d)), dtype=dtype, requires_grad=True)


def _dense_grad(idx, upstream, n, padding_idx=None):
    """float64 reference: scatter-add of the upstream rows into a (n, d) zero matrix."""
    out = np.zeros((n, upstream.shape[-1]))
    flat, rows = idx.reshape(-1), upstream.reshape(-1, upstream.shape[-1])
    for i, r in zip(flat, rows):
        if i != padding_idx:
            out[i] += r
    return out


def test_embedding_sparse_grad_layout_and_values():
    w = _weight()
    idx = np.array([[0, 1, 2], [2, 4, 0]])
    up = RNG.standard_normal((2, 3, 3))
    out = F.embedding(torch.tensor(idx), w, padding_idx=1, sparse=True)
    np.testing.assert_allclose(out.detach().numpy(), w.detach().numpy()[idx])
    out.backward(torch.tensor(up))
    g = w.grad
    assert g.layout == torch.sparse_coo and g.is_sparse and not g.is_coalesced()
    assert tuple(g.shape) == (6, 3) and g.dtype == torch.float64
    # the looked-up rows in order, padding row 1 left out, duplicates kept
    assert g._indices().tolist() == [[0, 2, 2, 4, 0]]
    np.testing.assert_allclose(g._values().numpy(), up.reshape(-1, 3)[[0, 2, 3, 4, 5]])
    np.testing.assert_allclose(g.to_dense().numpy(), _dense_grad(idx, up, 6, padding_idx=1))


def test_sparse_grad_matches_dense_grad_of_a_nonlinear_loss():
    wn = RNG.standard_normal((5, 4))
    idx = torch.tensor([1, 1, 3, 0])
    grads = []
    for sparse in (False, True):
        w = torch.tensor(wn, requires_grad=True)
        (F.embedding(idx, w, sparse=sparse) ** 3).sum().backward()
        grads.append(w.grad.to_dense().numpy() if sparse else w.grad.numpy())
    ref = _dense_grad(idx.numpy(), 3 * wn[idx.numpy()] ** 2, 5)
    np.testing.assert_allclose(grads[0], ref)
    np.testing.assert_allclose(grads[1], ref)


def test_two_backward_passes_concatenate_uncoalesced():
    e = torch.nn.Embedding(5, 3, sparse=True, dtype=torch.float64)
    e(torch.tensor([0, 2])).sum().backward()
    first = e.weight.grad
    e(torch.tensor([3, 3])).sum().backward()
    g = e.weight.grad
    assert g is first  # accumulated in place, as PyTorch's sparse += sparse
    assert g._nnz() == 4 and not g.is_coalesced()
    assert sorted(g._indices()[0].tolist()) == [0, 2, 3, 3]
    want = np.zeros((5, 3))
    want[[0, 2]] = 1
    want[3] = 2
    np.testing.assert_allclose(g.to_dense().numpy(), want)
    np.testing.assert_allclose(g.coalesce()._values().numpy(), [[1] * 3, [1] * 3, [2] * 3])


def test_sparse_meets_dense_gradient():
    idx = torch.tensor([1])
    for order in ("sparse_first", "dense_first", "one_graph"):
        w = _weight(4, 2)
        if order == "sparse_first":
            F.embedding(idx, w, sparse=True).sum().backward()
            w.sum().backward()
        elif order == "dense_first":
            w.sum().backward()
            F.embedding(idx, w, sparse=True).sum().backward()
        else:
            (F.embedding(idx, w, sparse=True).sum() + w.sum()).backward()
        assert w.grad.layout == torch.strided, order
        want = np.ones((4, 2))
        want[1] += 1
        np.testing.assert_allclose(w.grad.numpy(), want, err_msg=order)


def test_autograd_grad_returns_the_sparse_gradient():
    w = _weight(4, 2)
    (g,) = torch.autograd.grad(F.embedding(torch.tensor([2, 2]), w, sparse=True).sum(), w)
    assert g.layout == torch.sparse_coo and g._indices().tolist() == [[2, 2]]
    assert w.grad is None


def test_scale_grad_by_freq_is_refused_in_backward():
    w = _weight()
    out = F.embedding(torch.tensor([1, 1]), w, sparse=True, scale_grad_by_freq=True)
    with pytest.raises(RuntimeError, match="scale_grad_by_freq not supported with sparse gradients"):
        out.sum().backward()


def test_max_norm_renormalises_and_grad_stays_sparse():
    wn = RNG.standard_normal((5, 3)) * 10
    w = torch.tensor(wn, requires_grad=True)
    F.embedding(torch.tensor([1, 1, 3]), w, max_norm=1.0, sparse=True).pow(2).sum().backward()
    renormed = wn[[1, 3]] / (np.linalg.norm(wn[[1, 3]], axis=1, keepdims=True) + 1e-7)
    np.testing.assert_allclose(w.detach().numpy()[[1, 3]], renormed, rtol=1e-6)
    np.testing.assert_allclose(w.detach().numpy()[[0, 2, 4]], wn[[0, 2, 4]])
    assert w.grad._indices().tolist() == [[1, 1, 3]]
    np.testing.assert_allclose(w.grad._values().numpy(), 2 * renormed[[0, 0, 1]], rtol=1e-6)


def test_empty_input_and_frozen_weight():
    w = _weight()
    F.embedding(torch.tensor([], dtype=torch.int64), w, sparse=True).sum().backward()
    assert w.grad.layout == torch.sparse_coo and w.grad._nnz() == 0 and tuple(w.grad._indices().shape) == (1, 0)
    frozen = torch.tensor(RNG.standard_normal((4, 2)))
    out = F.embedding(torch.tensor([1, 2]), frozen, sparse=True)
    assert not out.requires_grad
    np.testing.assert_allclose(out.numpy(), frozen.numpy()[[1, 2]])


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_sparse_grad(mode):
    wn = RNG.standard_normal((6, 3))
    idx = torch.tensor([1, 2, 1, 3, 5])
    offsets = torch.tensor([0, 2])
    psw = torch.tensor(RNG.standard_normal(5)) if mode == "sum" else None
    got = {}
    for sparse in (False, True):
        w = torch.tensor(wn, requires_grad=True)
        out = F.embedding_bag(idx, w, offsets, mode=mode, sparse=sparse, per_sample_weights=psw, padding_idx=2)
        (out ** 2).sum().backward()
        got[sparse] = (out.detach().numpy(), w.grad)
    np.testing.assert_allclose(got[True][0], got[False][0])
    g = got[True][1]
    assert g.layout == torch.sparse_coo and not g.is_coalesced()
    assert g._indices().tolist() == [[1, 1, 3, 5]]  # the padding entry is left out
    np.testing.assert_allclose(g.to_dense().numpy(), got[False][1].numpy())
    # float64 reference of the mean case's gradient
    if mode == "mean":
        rows = wn[[1, 1, 3, 5]]
        bag0, bag1 = rows[0], rows[1:].mean(0)   # bag 0 holds 1 and the padding 2
        want = np.zeros((6, 3))
        want[1] += 2 * bag0 + 2 * bag1 / 3
        want[3] += 2 * bag1 / 3
        want[5] += 2 * bag1 / 3
        np.testing.assert_allclose(g.to_dense().numpy(), want)


def test_embedding_bag_2d_sparse_and_max_mode_refused():
    w = _weight(5, 2)
    F.embedding_bag(torch.tensor([[1, 2], [4, 4]]), w, mode="mean", sparse=True).sum().backward()
    assert w.grad._indices().tolist() == [[1, 2, 4, 4]]
    np.testing.assert_allclose(w.grad._values().numpy(), np.full((4, 2), 0.5))
    with pytest.raises(ValueError, match="max mode does not support sparse weights"):
        F.embedding_bag(torch.tensor([[1]]), w, mode="max", sparse=True)
    with pytest.raises(ValueError, match="max mode does not support sparse weights"):
        torch.nn.EmbeddingBag(4, 2, mode="max", sparse=True)(torch.tensor([[1]]))


def test_modules_and_from_pretrained():
    pre = torch.tensor(RNG.standard_normal((4, 2)))
    e = torch.nn.Embedding.from_pretrained(pre, freeze=False, sparse=True)
    assert e.sparse and repr(e) == "Embedding(4, 2, sparse=True)"
    e(torch.tensor([1, 3])).sum().backward()
    assert e.weight.grad.layout == torch.sparse_coo and e.weight.grad._indices().tolist() == [[1, 3]]
    bag = torch.nn.EmbeddingBag.from_pretrained(pre, freeze=False, sparse=True)
    assert repr(bag) == "EmbeddingBag(4, 2, mode='mean')"
    bag(torch.tensor([[1, 2]])).sum().backward()
    assert bag.weight.grad._indices().tolist() == [[1, 2]]
    np.testing.assert_allclose(bag.weight.grad._values().numpy(), np.full((2, 2), 0.5))
    # zero_grad(set_to_none=False) leaves an empty sparse gradient, as PyTorch's sparse zero_()
    e.zero_grad(set_to_none=False)
    assert e.weight.grad.layout == torch.sparse_coo and e.weight.grad._nnz() == 0
    e.zero_grad()
    assert e.weight.grad is None


def _train(opt_cls, sparse, steps=3, **kw):
    torch.manual_seed(0)
    e = torch.nn.Embedding(6, 3, sparse=sparse, dtype=torch.float64)
    opt = opt_cls(e.parameters(), **kw)
    for step in range(steps):
        opt.zero_grad()
        (e(torch.tensor([1, 1, 4, step])) ** 2).sum().backward()
        opt.step()
    return e.weight.detach().numpy()


@pytest.mark.parametrize("opt_cls,kw", [
    (torch.optim.SGD, dict(lr=0.1)),
    (torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.01)),
    (torch.optim.Adagrad, dict(lr=0.1, maximize=True, initial_accumulator_value=0.5)),
])
def test_optimizers_with_sparse_support_match_the_dense_run(opt_cls, kw):
    sparse, dense = _train(opt_cls, True, **kw), _train(opt_cls, False, **kw)
    np.testing.assert_allclose(sparse, dense, rtol=1e-12, atol=1e-12)
    assert not np.allclose(dense, _train(opt_cls, False, steps=0, **kw))


def test_optimizers_refuse_sparse_gradients():
    cases = [(torch.optim.Adam, "Adam does not support sparse gradients, please consider SparseAdam instead"),
             (torch.optim.AdamW, "Adam does not support sparse gradients, please consider SparseAdam instead"),
             (torch.optim.RMSprop, "RMSprop does not support sparse gradients"),
             (torch.optim.NAdam, "NAdam does not support sparse gradients"),
             (torch.optim.Adadelta, "Adadelta does not support sparse gradients")]
    for opt_cls, message in cases:
        dense = torch.nn.Linear(2, 2)
        e = torch.nn.Embedding(4, 2, sparse=True)
        opt = opt_cls(list(dense.parameters()) + list(e.parameters()), lr=0.1)
        (dense(torch.ones(1, 2)).sum() + e(torch.tensor([1])).sum()).backward()
        before = dense.weight.detach().clone()
        with pytest.raises(RuntimeError, match=message):
            opt.step()
        assert torch.equal(dense.weight, before)  # refused before any parameter moved
    e = torch.nn.Embedding(4, 2, sparse=True)
    e(torch.tensor([1])).sum().backward()
    with pytest.raises(RuntimeError, match="weight_decay option is not compatible with sparse gradients"):
        torch.optim.Adagrad(e.parameters(), weight_decay=0.1).step()
    with pytest.raises(RuntimeError, match=r"add\(sparse, dense\) is not supported"):
        torch.optim.SGD(e.parameters(), lr=0.1, weight_decay=0.1).step()


def test_clip_grad_norm_over_sparse_grads_raises_as_pytorch():
    e = torch.nn.Embedding(4, 2, sparse=True)
    e(torch.tensor([1, 1])).sum().backward()
    with pytest.raises(NotImplementedError):
        torch.nn.utils.clip_grad_norm_(e.parameters(), 0.5)
    with pytest.raises(NotImplementedError):
        torch.nn.utils.clip_grad_value_(e.parameters(), 0.5)


def test_sparse_grad_and_sgd_step_on_every_device(any_device):
    wn = RNG.standard_normal((5, 3)).astype(np.float32)
    e = torch.nn.Embedding.from_pretrained(torch.tensor(wn, device=any_device), freeze=False, sparse=True)
    opt = torch.optim.SGD(e.parameters(), lr=0.5, momentum=0.5)
    for _ in range(2):
        opt.zero_grad()
        (e(torch.tensor([1, 1, 2], device=any_device)) ** 2).sum().backward()
        opt.step()
    g = e.weight.grad
    assert g.layout == torch.sparse_coo and g.device.type == any_device and g._indices().cpu().tolist() == [[1, 1, 2]]
    # float64 reference: SGD with momentum on the dense gradient 2 * count * w
    w, buf = wn.astype(np.float64), None
    counts = np.array([0, 2, 1, 0, 0])[:, None]
    for _ in range(2):
        grad = 2 * counts * w
        buf = grad if buf is None else 0.5 * buf + grad
        w = w - 0.5 * buf
    np.testing.assert_allclose(e.weight.detach().cpu().numpy(), w, rtol=1e-5, atol=1e-6)


def test_grad_scaler_unscales_sparse_grads():
    wn = RNG.standard_normal((5, 3)).astype(np.float32)
    e = torch.nn.Embedding.from_pretrained(torch.tensor(wn), freeze=False, sparse=True)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    opt = torch.optim.SGD(e.parameters(), lr=0.1)
    scaler.scale((e(torch.tensor([1, 1, 3])) * 3).sum()).backward()
    scaler.step(opt)
    scaler.update()
    assert e.weight.grad.layout == torch.sparse_coo
    np.testing.assert_allclose(e.weight.grad._values().numpy(), np.full((3, 3), 3.0))
    want = wn.astype(np.float64)
    want[1] -= 0.1 * 6
    want[3] -= 0.1 * 3
    np.testing.assert_allclose(e.weight.detach().numpy(), want, rtol=1e-6)


def test_sparse_adam_with_embedding_grads_is_lazy_adam():
    wn = RNG.standard_normal((6, 3))
    e = torch.nn.Embedding.from_pretrained(torch.tensor(wn), freeze=False, sparse=True)
    opt = torch.optim.SparseAdam(e.parameters(), lr=0.1, betas=(0.8, 0.9))
    w, m, v = wn.copy(), np.zeros_like(wn), np.zeros_like(wn)
    for t, seq in enumerate([[1, 1, 4], [2, 4], [5]], 1):
        opt.zero_grad()
        (e(torch.tensor(seq)) ** 2).sum().backward()
        opt.step()
        # float64 reference: Adam on the rows present only (duplicates summed first)
        g = np.zeros_like(w)
        for i in seq:
            g[i] += 2 * w[i]
        rows = sorted(set(seq))
        m[rows] = 0.8 * m[rows] + 0.2 * g[rows]
        v[rows] = 0.9 * v[rows] + 0.1 * g[rows] ** 2
        w[rows] -= 0.1 * np.sqrt(1 - 0.9 ** t) / (1 - 0.8 ** t) * m[rows] / (np.sqrt(v[rows]) + 1e-8)
    np.testing.assert_allclose(e.weight.detach().numpy(), w, rtol=1e-12, atol=1e-12)
    assert opt.state[e.weight]["step"] == 3


def test_sparse_adam_refuses_a_dense_gradient_before_moving_anything():
    # PyTorch checks the whole group first: the sparse embedding keeps its weights
    emb, head = torch.nn.Embedding(10, 3, sparse=True), torch.nn.Linear(3, 1)
    opt = torch.optim.SparseAdam(list(emb.parameters()) + list(head.parameters()))
    before = emb.weight.detach().clone()
    head(emb(torch.tensor([1, 2]))).sum().backward()
    with pytest.raises(RuntimeError, match="does not support dense gradients"):
        opt.step()
    assert torch.equal(emb.weight.detach(), before)
