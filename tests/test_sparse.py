"""Sparse tensors (COO, CSR, CSC, BSR, BSC): conversions, products, sums, softmax, elementwise
ops and their gradients, against scipy.sparse / numpy float64 references."""
import numpy as np
import pytest
import scipy.sparse as sps

import ember
import ember.sparse

from conftest import DEVICES

OTHER = [d for d in DEVICES if d != "cpu"][:2]  # cpu plus up to two other backends, to stay lean
SOME_DEVICES = ["cpu", *OTHER]


def _random_sparse(rng, shape, density=0.4):
    x = rng.standard_normal(shape)
    x[rng.random(shape) > density] = 0
    return x


def _t(x, device="cpu", dtype=ember.float64):
    return ember.tensor(x, dtype=dtype, device=device)


def _np(t):
    return t.detach().cpu().numpy()


def _dtype(device):
    return ember.float64 if device in ("cpu", "opencl", "counting") else ember.float32


def _tol(dtype):
    return dict(rtol=1e-10, atol=1e-10) if dtype is ember.float64 else dict(rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("device", SOME_DEVICES)
def test_conversions_match_scipy(device):
    rng = np.random.default_rng(0)
    x = _random_sparse(rng, (6, 8))
    dtype = _dtype(device)
    dense = _t(x, device, dtype)
    coo = dense.to_sparse()
    assert coo.layout is ember.sparse_coo and coo.is_sparse and coo.is_coalesced()
    ref = sps.coo_matrix(x)
    np.testing.assert_array_equal(_np(coo.indices()), np.stack([ref.row, ref.col]))
    np.testing.assert_allclose(_np(coo.values()), ref.data, **_tol(dtype))
    csr, ref_csr = dense.to_sparse_csr(), sps.csr_matrix(x)
    assert csr.layout is ember.sparse_csr and csr.is_sparse_csr and not csr.is_sparse
    np.testing.assert_array_equal(_np(csr.crow_indices()), ref_csr.indptr)
    np.testing.assert_array_equal(_np(csr.col_indices()), ref_csr.indices)
    np.testing.assert_allclose(_np(csr.values()), ref_csr.data, **_tol(dtype))
    csc, ref_csc = coo.to_sparse_csc(), sps.csc_matrix(x)
    np.testing.assert_array_equal(_np(csc.ccol_indices()), ref_csc.indptr)
    np.testing.assert_array_equal(_np(csc.row_indices()), ref_csc.indices)
    np.testing.assert_allclose(_np(csc.values()), ref_csc.data, **_tol(dtype))
    bsr, ref_bsr = dense.to_sparse_bsr((2, 4)), sps.bsr_matrix(x, blocksize=(2, 4))
    ref_bsr.eliminate_zeros()
    np.testing.assert_array_equal(_np(bsr.crow_indices()), ref_bsr.indptr)
    np.testing.assert_array_equal(_np(bsr.col_indices()), ref_bsr.indices)
    np.testing.assert_allclose(_np(bsr.values()), ref_bsr.data, **_tol(dtype))
    bsc = dense.to_sparse(layout=ember.sparse_bsc, blocksize=(3, 2))
    assert bsc.layout is ember.sparse_bsc and tuple(bsc.values().shape[1:]) == (3, 2)
    for s in (coo, csr, csc, bsr, bsc, csr.to_sparse_coo(), csc.to_sparse_csr(), bsr.to_sparse_csr()):
        assert s.device.type == device
        np.testing.assert_allclose(_np(s.to_dense()), x, **_tol(dtype))
    assert dense.to_dense() is dense and not dense.is_sparse and dense.sparse_dim() == 0 and dense.dense_dim() == 2


def test_hybrid_coo_and_sum():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 4, 3))
    x[rng.random(5) > 0.5] = 0
    s = _t(x).to_sparse(1)
    assert (s.sparse_dim(), s.dense_dim(), s._nnz()) == (1, 2, int((np.abs(x).sum((1, 2)) > 0).sum()))
    np.testing.assert_allclose(_np(s.to_dense()), x)
    np.testing.assert_allclose(_np(ember.sparse.sum(s)), x.sum())
    np.testing.assert_allclose(_np(ember.sparse.sum(s, 0)), x.sum(0))        # all sparse dims: dense
    kept = ember.sparse.sum(s, (2,))                                          # a dense dim: still sparse
    assert kept.layout is ember.sparse_coo
    np.testing.assert_allclose(_np(kept.to_dense()), x.sum(2))
    three = _t(x).to_sparse()
    part = ember.sparse.sum(three, (0, 2))
    assert part.layout is ember.sparse_coo and part.is_coalesced()
    np.testing.assert_allclose(_np(part.to_dense()), x.sum((0, 2)))
    np.testing.assert_allclose(_np(three.sum(1).to_dense()), x.sum(1))
    assert three.sum().layout is ember.strided
    with pytest.raises(RuntimeError, match="SparseCsr"):
        ember.sparse.sum(_t(x[:, :, 0]).to_sparse_csr())


def test_coalesce_sums_duplicates():
    rng = np.random.default_rng(2)
    rows, cols = rng.integers(0, 4, 12), rng.integers(0, 5, 12)
    vals = rng.standard_normal(12)
    s = ember.sparse_coo_tensor(ember.tensor(np.stack([rows, cols])), _t(vals), (4, 5))
    assert not s.is_coalesced()
    with pytest.raises(RuntimeError, match="uncoalesced"):
        s.indices()
    c = s.coalesce()
    ref = sps.coo_matrix((vals, (rows, cols)), shape=(4, 5)).tocsr().tocoo()  # canonical: sorted, summed
    np.testing.assert_array_equal(_np(c.indices()), np.stack([ref.row, ref.col]))
    np.testing.assert_allclose(_np(c.values()), ref.data)
    np.testing.assert_allclose(_np(s.to_dense()), ref.toarray())
    assert c.is_coalesced() and c.coalesce() is c
    np.testing.assert_array_equal(_np(s._indices()), np.stack([rows, cols]))  # uncoalesced parts, as stored
    np.testing.assert_array_equal(_np(s._values()), vals)
    assert s._nnz() == 12 and c._nnz() == len(ref.data)


@pytest.mark.parametrize("device", SOME_DEVICES)
@pytest.mark.parametrize("layout", ["coo", "csr", "bsr"])
def test_sparse_dense_mm_and_gradients(device, layout):
    rng = np.random.default_rng(3)
    dtype = _dtype(device)
    x, d, g = _random_sparse(rng, (6, 4)), rng.standard_normal((4, 3)), rng.standard_normal((6, 3))
    convert = {"coo": lambda t: t.to_sparse(), "csr": lambda t: t.to_sparse_csr(),
               "bsr": lambda t: t.to_sparse_bsr((2, 2))}[layout]
    pattern = convert(_t(x, device, dtype))
    s = pattern.detach().requires_grad_()
    assert s.requires_grad and s.is_leaf
    dense = _t(d, device, dtype).requires_grad_()
    out = s @ dense
    assert out.layout is ember.strided
    np.testing.assert_allclose(_np(out), sps.csr_matrix(x) @ d, **_tol(dtype))
    np.testing.assert_allclose(_np(ember.mm(s, dense)), x @ d, **_tol(dtype))
    out.backward(_t(g, device, dtype))
    np.testing.assert_allclose(_np(dense.grad), x.T @ g, **_tol(dtype))
    grad = s.grad
    assert grad.layout is s.layout
    full = g @ d.T  # d(out)/d(S) densely; the values' gradient is it at the stored positions
    mask = _np(pattern.to_dense()) != 0 if layout != "bsr" else np.ones_like(x, bool)
    np.testing.assert_allclose(_np(grad.to_dense()), np.where(mask, full, 0) if layout != "bsr"
                               else np.where(np.kron(_block_mask(x), np.ones((2, 2))) > 0, full, 0), **_tol(dtype))
    # dense @ sparse, and vectors
    np.testing.assert_allclose(_np(_t(d.T, device, dtype) @ convert(_t(x.T, device, dtype)).detach()),
                               d.T @ x.T, **_tol(dtype))
    np.testing.assert_allclose(_np(pattern @ _t(d[:, 0], device, dtype)), x @ d[:, 0], **_tol(dtype))


def _block_mask(x):
    return np.abs(x).reshape(3, 2, 2, 2).sum((1, 3))


def test_values_gradient_through_constructor():
    rng = np.random.default_rng(4)
    idx = np.array([[0, 1, 2, 2], [1, 0, 0, 3]])
    v = _t(rng.standard_normal(4)).requires_grad_()
    d, g = rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    s = ember.sparse_coo_tensor(ember.tensor(idx), v, (3, 4))
    assert s.requires_grad and not s.is_leaf and v.is_leaf
    ember.sparse.mm(s, _t(d)).backward(_t(g))
    np.testing.assert_allclose(_np(v.grad), (g @ d.T)[idx[0], idx[1]])
    w = _t(rng.standard_normal(4)).requires_grad_()
    (ember.sparse_coo_tensor(ember.tensor(idx), w, (3, 4)).to_dense() * _t(np.arange(12.).reshape(3, 4))).sum() \
        .backward()
    np.testing.assert_allclose(_np(w.grad), np.arange(12.).reshape(3, 4)[idx[0], idx[1]])


def test_mm_family():
    rng = np.random.default_rng(5)
    x, d = _random_sparse(rng, (5, 4)), rng.standard_normal((4, 3))
    x[2] = 0  # an empty row
    s, dense, add = _t(x).to_sparse(), _t(d), rng.standard_normal((5, 3))
    ref = x @ d
    for fn in (ember.spmm, ember.dsmm, ember.sparse.mm):
        out = fn(s, dense)
        assert out.layout is ember.strided
        np.testing.assert_allclose(_np(out), ref)
    smm = ember.smm(s, dense)
    assert smm.layout is ember.sparse_coo and s.smm(dense).layout is ember.sparse_coo
    np.testing.assert_allclose(_np(smm.to_dense()), ref)
    for fn in (ember.hspmm, ember.hsmm):
        h = fn(s, dense)
        assert (h.sparse_dim(), h.dense_dim()) == (1, 1)
        np.testing.assert_array_equal(_np(h.indices())[0], np.flatnonzero(np.abs(x).sum(1)))
        np.testing.assert_allclose(_np(h.to_dense()), ref)
    np.testing.assert_allclose(_np(ember.sparse.addmm(_t(add), s, dense, beta=0.5, alpha=2.0)), 0.5 * add + 2 * ref)
    np.testing.assert_allclose(_np(ember.addmm(_t(add), s, dense)), add + ref)
    base = _t(_random_sparse(rng, (5, 3))).to_sparse()
    for fn in (ember.sspaddmm, ember.saddmm):
        out = fn(base, s, dense, beta=2, alpha=3)
        assert out.layout is ember.sparse_coo and not out.is_coalesced()
        np.testing.assert_allclose(_np(out.to_dense()), 2 * _np(base.to_dense()) + 3 * ref)
    both = ember.sparse.mm(s, _t(d).to_sparse())
    assert both.layout is ember.sparse_coo
    np.testing.assert_allclose(_np(both.to_dense()), ref)
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        s @ _t(d.T)


def _masked_softmax(x, mask, axis, log=False):
    z = np.where(mask, x, -np.inf)
    z = z - z.max(axis=axis, keepdims=True, where=mask, initial=-np.inf)
    e = np.where(mask, np.exp(z), 0)
    out = e / np.maximum(e.sum(axis=axis, keepdims=True), 1e-300)
    return np.where(mask, np.log(np.where(mask, out, 1)), 0) if log else out


@pytest.mark.parametrize("log", [False, True])
def test_softmax_matches_dense_masked_softmax(log):
    rng = np.random.default_rng(6)
    x = _random_sparse(rng, (4, 6), 0.6)
    x[1] = 0
    mask = x != 0
    fn = ember.sparse.log_softmax if log else ember.sparse.softmax
    for dim in (0, 1, -1):
        s = _t(x).to_sparse().requires_grad_()
        out = fn(s, dim)
        assert out.layout is ember.sparse_coo
        np.testing.assert_allclose(_np(out.to_dense()), _masked_softmax(x, mask, dim % 2, log), atol=1e-12)
        g = rng.standard_normal(4 * 6).reshape(4, 6)
        out.to_dense().backward(_t(g))
        # the same function written densely (unstored = -inf), differentiated by ember at the stored spots
        dense = _t(np.where(mask, x, -np.inf)).requires_grad_()
        (ember.log_softmax if log else ember.softmax)(dense, dim).backward(_t(np.where(mask, g, 0)))
        np.testing.assert_allclose(_np(s.grad.to_dense()), np.where(mask, _np(dense.grad), 0), atol=1e-12)
    with pytest.raises(NotImplementedError, match="softmax.*SparseCPU"):
        ember.softmax(_t(x).to_sparse(), 0)
    with pytest.raises(NotImplementedError, match="_sparse_softmax.*SparseCsrCPU"):
        ember.sparse.softmax(_t(x).to_sparse_csr(), 0)
    half = ember.sparse.softmax(_t(x).to_sparse().float(), 1, dtype=ember.float64)
    assert half.dtype is ember.float64


@pytest.mark.parametrize("device", SOME_DEVICES)
def test_elementwise(device):
    rng = np.random.default_rng(7)
    dtype = _dtype(device)
    x, y, d = _random_sparse(rng, (4, 5)), _random_sparse(rng, (4, 5)), rng.standard_normal((4, 5))
    a, b, dense = _t(x, device, dtype).to_sparse(), _t(y, device, dtype).to_sparse(), _t(d, device, dtype)
    cases = {
        "mul scalar": (a * 2.5, x * 2.5), "rmul": (3 * a, 3 * x), "div": (a / 4, x / 4), "neg": (-a, -x),
        "sin": (ember.sin(a), np.sin(x)), "abs": (a.abs(), np.abs(x)), "pow": (a.pow(2), x ** 2),
        "add": (a + b, x + y), "sub": (a - b, x - y), "mul dense": (a * dense, x * d),
        "dense mul": (dense * a, x * d), "mul sparse": (a * b, x * y),
        "csr mul": (a.to_sparse_csr() * 2, x * 2), "csr add": (a.to_sparse_csr() + b.to_sparse_csr(), x + y),
    }
    for name, (got, want) in cases.items():
        assert got.layout is not ember.strided, name
        np.testing.assert_allclose(_np(got.to_dense()), want, err_msg=name, **_tol(dtype))
    assert (a + b).is_coalesced()
    np.testing.assert_allclose(_np(dense + a), d + x, **_tol(dtype))
    np.testing.assert_allclose(_np(dense - a), d - x, **_tol(dtype))
    np.testing.assert_allclose(_np(dense + a.to_sparse_csr()), d + x, **_tol(dtype))
    assert (dense + a).layout is ember.strided
    with pytest.raises(RuntimeError, match=r"add\(sparse, dense\) is not supported"):
        a + dense
    with pytest.raises(RuntimeError, match="same size"):
        a.to_sparse_csr() + 1
    with pytest.raises(RuntimeError, match="Sparse division requires a scalar"):
        a / b
    np.testing.assert_allclose(_np((a * dense[0]).to_dense()), x * d[0], **_tol(dtype))  # dense row broadcasts
    kept = a.to_sparse_csr().sum(1, keepdim=True)
    assert kept.layout is ember.sparse_csr
    np.testing.assert_allclose(_np(kept.to_dense()), x.sum(1, keepdims=True), **_tol(dtype))
    with pytest.raises(RuntimeError, match="zeroth power"):
        a.pow(0)
    with pytest.raises(NotImplementedError, match="'aten::exp'.*'Sparse"):
        a.exp()
    with pytest.raises(NotImplementedError, match="Sparse"):
        a.view(20)
    cast = a.float()
    assert cast.dtype is ember.float32 and cast.layout is ember.sparse_coo


def test_layout_queries_and_errors():
    x = np.array([[0., 1.5, 0.], [2., 0., -1.]])
    dense, coo = _t(x), _t(x).to_sparse()
    csr = coo.to_sparse_csr()
    for fn, message in ((dense.indices, "indices expected sparse coordinate tensor layout but got Strided"),
                        (dense.values, "values expected sparse tensor layout but got Strided"),
                        (coo.crow_indices, "crow_indices expected sparse row compressed tensor layout but got Sparse"),
                        (csr.indices, "indices expected sparse coordinate tensor layout but got SparseCsr"),
                        (csr.ccol_indices, "ccol_indices expected sparse column compressed tensor layout"),
                        (dense.coalesce, "coalesce expected sparse coordinate tensor layout but got Strided"),
                        (dense.is_coalesced, "is_coalesced expected")):
        with pytest.raises(RuntimeError, match=message):
            fn()
    assert (coo.sparse_dim(), coo.dense_dim(), csr.sparse_dim(), csr.dense_dim()) == (2, 0, 2, 0)
    assert coo.shape == ember.Size([2, 3]) and coo.numel() == 6 and coo.dim() == 2 and coo._nnz() == 3
    assert coo.stride() == (0, 0) and not coo.is_contiguous()
    with pytest.raises(RuntimeError, match="do not have strides"):
        csr.stride()
    with pytest.raises(TypeError, match="to_dense"):
        coo.numpy()
    with pytest.raises(RuntimeError, match="MKL-DNN"):
        dense.to_mkldnn()
    text = repr(coo)
    assert text.startswith("tensor(indices=tensor([[0, 1, 1],") and "values=tensor([ 1.5000,  2.0000, -1.0000]" \
        in text and text.endswith("size=(2, 3), nnz=3, dtype=ember.float64, layout=ember.sparse_coo)")
    assert "crow_indices=tensor([0, 1, 3])" in repr(csr) and "layout=ember.sparse_csr" in repr(csr)
    assert ember.sparse_coo is not ember.strided and repr(ember.sparse_bsc) == "ember.sparse_bsc"
    import pickle
    assert pickle.loads(pickle.dumps(ember.sparse_csr)) is ember.sparse_csr


def test_constructors_and_invariants():
    s = ember.sparse_coo_tensor([[0, 2], [1, 0]], [1.0, 2.0])
    assert s.shape == (3, 2) and s.dtype is ember.float32
    np.testing.assert_allclose(_np(s.to_dense()), [[0, 1], [0, 0], [2, 0]])
    with pytest.raises(RuntimeError, match="size is inconsistent with indices"):
        ember.sparse_coo_tensor([[0, 3]], [1.0, 2.0], (3,), check_invariants=True)
    with pytest.raises(RuntimeError, match="same nnz"):
        ember.sparse_coo_tensor([[0, 1]], [1.0], (3,))
    assert not ember.sparse.check_sparse_tensor_invariants.is_enabled()
    with ember.sparse.check_sparse_tensor_invariants():
        assert ember.sparse.check_sparse_tensor_invariants.is_enabled()
        with pytest.raises(RuntimeError, match="negative index"):
            ember.sparse_coo_tensor([[-1, 1]], [1.0, 2.0], (3,))
        with pytest.raises(RuntimeError, match="sorted and distinct"):
            ember.sparse_csr_tensor([0, 2, 2], [1, 0], [1.0, 2.0], (2, 2))
    assert not ember.sparse.check_sparse_tensor_invariants.is_enabled()
    csr = ember.sparse_csr_tensor([0, 2, 3], [0, 2, 1], [1.0, 2.0, 3.0], (2, 3))
    np.testing.assert_allclose(_np(csr.to_dense()), [[1, 0, 2], [0, 3, 0]])
    csc = ember.sparse_csc_tensor([0, 1, 2, 3], [0, 1, 0], [1.0, 3.0, 2.0])
    np.testing.assert_allclose(_np(csc.to_dense()), [[1, 0, 2], [0, 3, 0]])
    blocks = np.arange(8.).reshape(2, 2, 2)
    bsr = ember.sparse_bsr_tensor([0, 1, 2], [1, 0], blocks, (4, 4))
    ref = sps.bsr_matrix((blocks, [1, 0], [0, 1, 2]), shape=(4, 4)).toarray()
    np.testing.assert_allclose(_np(bsr.to_dense()), ref)
    bsc = ember.sparse_compressed_tensor([0, 1, 2], [1, 0], blocks, (4, 4), layout=ember.sparse_bsc)
    np.testing.assert_allclose(_np(bsc.to_dense()), sps.bsr_matrix(
        (blocks.transpose(0, 2, 1), [1, 0], [0, 1, 2]), shape=(4, 4)).toarray().T)
    with pytest.raises(RuntimeError, match="crow_indices.size"):
        ember.sparse_csr_tensor([0, 1], [0], [1.0], (2, 2))
    with pytest.raises(TypeError, match="layout"):
        ember.sparse_compressed_tensor([0, 1], [0], [1.0], (1, 1))
    leaf = ember.sparse_coo_tensor([[0]], [1.0], (2,), requires_grad=True)
    assert leaf.requires_grad and leaf.is_leaf and "requires_grad=True" in repr(leaf)


def test_copies_masks_and_resizing():
    rng = np.random.default_rng(8)
    x, d = _random_sparse(rng, (4, 5)), rng.standard_normal((4, 5))
    coo, csr = _t(x).to_sparse(), _t(x).to_sparse_csr()
    for fn, part in ((ember.indices_copy, coo.indices()), (ember.values_copy, coo.values())):
        c = fn(coo)
        np.testing.assert_array_equal(_np(c), _np(part))
        assert c._data is not part._data
    for fn, part in ((ember.crow_indices_copy, csr.crow_indices()), (ember.col_indices_copy, csr.col_indices())):
        np.testing.assert_array_equal(_np(fn(csr)), _np(part))
    csc = csr.to_sparse_csc()
    np.testing.assert_array_equal(_np(ember.ccol_indices_copy(csc)), _np(csc.ccol_indices()))
    np.testing.assert_array_equal(_np(ember.row_indices_copy(csc)), _np(csc.row_indices()))
    for mask in (coo, csr):
        m = _t(d).sparse_mask(mask)
        assert m.layout is mask.layout
        np.testing.assert_allclose(_np(m.to_dense()), np.where(x != 0, d, 0))
    grown = coo.clone().sparse_resize_((6, 7), 2, 0)
    assert grown.shape == (6, 7) and grown._nnz() == coo._nnz()
    np.testing.assert_allclose(_np(grown.to_dense())[:4, :5], x)
    with pytest.raises(RuntimeError, match="shrinking"):
        coo.clone().sparse_resize_((2, 5), 2, 0)
    cleared = coo.clone().sparse_resize_and_clear_((3, 3, 2), 2, 1)
    assert cleared.shape == (3, 3, 2) and cleared._nnz() == 0 and cleared.dense_dim() == 1
    target = coo.clone()
    out = ember.resize_as_sparse_(target, _t(np.ones((2, 2, 3))).to_sparse(1))
    assert out is target and target.shape == (2, 2, 3) and target.sparse_dim() == 1 and target._nnz() == 0
    t = coo.t()
    assert t.layout is ember.sparse_coo
    np.testing.assert_allclose(_np(t.to_dense()), x.T)
    assert csr.t().layout is ember.sparse_csc
    np.testing.assert_allclose(_np(csr.t().to_dense()), x.T)


@pytest.mark.parametrize("device", OTHER)
def test_to_device_and_back(device):
    x = _random_sparse(np.random.default_rng(9), (3, 4))
    for s in (_t(x).to_sparse(), _t(x).to_sparse_csr()):
        moved = s.to(device, dtype=ember.float32)
        assert moved.device.type == device and moved.layout is s.layout and moved.dtype is ember.float32
        assert moved.values().device.type == device
        back = moved.cpu()
        assert back.device.type == "cpu"
        np.testing.assert_allclose(_np(back.to_dense()), x, rtol=1e-6)
        with pytest.raises(RuntimeError, match="devices"):
            s.float() + moved


def test_as_sparse_gradcheck():
    gradcheck = ember.sparse.as_sparse_gradcheck(ember.autograd.gradcheck)
    x = _t([[0., 1.], [2., 3.]]).to_sparse().requires_grad_()
    assert gradcheck(lambda s: s.to_sparse_csr(), x)
    d = _t(np.random.default_rng(10).standard_normal((2, 3))).requires_grad_()
    assert gradcheck(lambda s, m: ember.sparse.mm(s, m), (x, d))
    assert gradcheck(lambda s: ember.sparse.softmax(s, 1), x)
    assert gradcheck(lambda s: ember.sparse.sum(s, 1), x)
    assert gradcheck(lambda s: (s * 3).to_dense().exp(), x)


def test_semi_structured():
    x = _t(np.ones((32, 32)), dtype=ember.float16)
    with pytest.raises(RuntimeError, match="device= cpu is not supported! Only CUDA tensors"):
        ember.sparse.to_sparse_semi_structured(x)
    # the 2:4 packing itself (what a CUDA tensor gets), checked on the CPU
    rng = np.random.default_rng(11)
    w = rng.standard_normal((4, 8))
    for row in w:
        for g in range(2):
            row[4 * g + rng.choice(4, 2, replace=False)] = 0
    packed = ember.sparse.SparseSemiStructuredTensorCUTLASS._pack(_t(w))
    assert tuple(packed.packed.shape) == (4, 4 // 2, 2)
    np.testing.assert_allclose(_np(packed.to_dense()), w)
    np.testing.assert_allclose(_np(packed @ _t(np.eye(8))), w)


def test_inplace_select_cat_and_keepdim():
    rng = np.random.default_rng(12)
    x, y = _random_sparse(rng, (3, 4, 2)), _random_sparse(rng, (3, 4, 2))
    s = _t(x).to_sparse(2)
    version = s._version_value
    assert s.mul_(2) is s and s._version_value > version
    np.testing.assert_allclose(_np(s.to_dense()), 2 * x)
    s.add_(_t(y).to_sparse(2)).sin_()
    np.testing.assert_allclose(_np(s.to_dense()), np.sin(2 * x + y))
    s.zero_()
    assert s._nnz() == 0 and s.shape == (3, 4, 2)
    s.copy_(_t(x).to_sparse(2))
    np.testing.assert_allclose(_np(s.to_dense()), x)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        _t(x).to_sparse().requires_grad_().mul_(2)
    csr = _t(x[:, :, 0]).to_sparse_csr()
    csr.mul_(3)
    assert csr.layout is ember.sparse_csr
    np.testing.assert_allclose(_np(csr.to_dense()), 3 * x[:, :, 0])
    full = _t(x).to_sparse()
    for key in (1, -1, (2, 3)):
        got = full[key]
        assert got.layout is ember.sparse_coo
        np.testing.assert_allclose(_np(got.to_dense()), x[key])
    np.testing.assert_allclose(_np(full.select(2, 1).to_dense()), x[:, :, 1])
    np.testing.assert_allclose(_np(s.select(2, 0).to_dense()), x[:, :, 0])  # a dense dim of a hybrid
    with pytest.raises(IndexError, match="out of range"):
        full[3]
    np.testing.assert_allclose(np.stack([_np(row.to_dense()) for row in full]), x)
    a, b = _t(x).to_sparse(2), _t(y[:2]).to_sparse(2)
    np.testing.assert_allclose(_np(ember.cat([a, b]).to_dense()), np.concatenate([x, y[:2]]))
    np.testing.assert_allclose(_np(ember.cat([a, _t(y).to_sparse(2)], dim=2).to_dense()),
                               np.concatenate([x, y], axis=2))
    kept = full.sum((0, 2), keepdim=True)
    assert kept.layout is ember.sparse_coo and kept.shape == (1, 4, 1)
    np.testing.assert_allclose(_np(kept.to_dense()), x.sum((0, 2), keepdims=True))
    np.testing.assert_allclose(_np(ember.sparse.sum(a, 2, keepdim=True).to_dense()), x.sum(2, keepdims=True))


def test_sparse_layout_creation():
    for layout in (ember.sparse_coo, ember.sparse_csr, ember.sparse_csc):
        for fn in (ember.zeros, ember.empty):
            z = fn(3, 4, layout=layout, dtype=ember.float64)
            assert z.layout is layout and z._nnz() == 0 and z.shape == (3, 4) and z.dtype is ember.float64
            np.testing.assert_array_equal(_np(z.to_dense()), np.zeros((3, 4)))
    like = ember.zeros_like(_t(np.eye(3)).to_sparse())
    assert like.layout is ember.sparse_coo and like._nnz() == 0
    for fn in (lambda: ember.ones(2, layout=ember.sparse_coo), lambda: ember.full((2,), 1.0, layout=ember.sparse_csr)):
        with pytest.raises(RuntimeError, match="not implemented for sparse layout"):
            fn()
    assert ember.zeros(2, layout=ember.strided).layout is ember.strided


def test_mm_reduce_on_csr():
    rng = np.random.default_rng(13)
    x, d = _random_sparse(rng, (5, 4)), rng.standard_normal((4, 3))
    x[1] = 0
    csr, mask = _t(x).to_sparse_csr(), x != 0
    products = np.where(mask[:, :, None], x[:, :, None] * d[None], np.nan)  # (row, k, col); nan: not stored
    stored = mask.any(1)[:, None]
    refs = {"sum": np.nansum(products, 1),  # an empty row gives 0 for every reduction
            "mean": np.where(stored, np.nansum(products, 1) / np.maximum(mask.sum(1), 1)[:, None], 0)}
    with np.errstate(all="ignore"):
        refs["amax"] = np.where(stored, np.nanmax(np.where(stored[:, :, None], products, 0), 1), 0)
        refs["amin"] = np.where(stored, np.nanmin(np.where(stored[:, :, None], products, 0), 1), 0)
    for reduce, ref in refs.items():
        np.testing.assert_allclose(_np(ember.sparse.mm(csr, _t(d), reduce=reduce)), ref, err_msg=reduce)
    with pytest.raises(RuntimeError, match="reduce type of prod"):
        ember.sparse.mm(csr, _t(d), reduce="prod")
    with pytest.raises(NotImplementedError, match="_sparse_mm_reduce_impl"):
        ember.sparse.mm(csr.to_sparse(), _t(d), reduce="sum")


def test_copy_pickle_and_checkpoints(tmp_path):
    import copy
    import pickle
    from pathlib import Path
    x = np.array([[0.0, 1.5, 0.0, -2.0], [3.0, 0.0, 0.0, 0.5]])
    tensors = {"coo": _t(x).to_sparse(), "csr": _t(x).to_sparse_csr(), "csc": _t(x).to_sparse_csc(),
               "bsr": _t(x).to_sparse_bsr((1, 2))}
    leaf = _t(x).to_sparse().requires_grad_()
    deep = copy.deepcopy(leaf)
    assert deep.requires_grad and deep.is_leaf and deep.values()._data is not leaf.values()._data
    for s in tensors.values():
        back = pickle.loads(pickle.dumps(s))
        assert back.layout is s.layout
        np.testing.assert_array_equal(_np(back.to_dense()), x)
    ember.save(tensors, tmp_path / "sparse.pt")
    for checkpoint in (tmp_path / "sparse.pt", Path(__file__).parent / "fixtures" / "sparse_checkpoint.pt"):
        loaded = ember.load(checkpoint)  # ours, and one written by PyTorch (weights_only, as its default)
        for name, s in tensors.items():
            assert loaded[name].layout is s.layout, (checkpoint, name)
            np.testing.assert_array_equal(_np(loaded[name].to_dense()), x)
        assert loaded["coo"].is_coalesced()


def test_batched_compressed_layouts():
    # two batches with three stored elements each (compressed layouts need equal nnz per batch)
    x = np.zeros((2, 4, 6))
    for (b, r, c), v in zip([(0, 0, 1), (0, 2, 3), (0, 3, 0), (1, 1, 1), (1, 1, 5), (1, 3, 2)], range(1, 7)):
        x[b, r, c] = v
    dense = _t(x)
    csr = dense.to_sparse_csr()
    assert (tuple(csr.crow_indices().shape), csr._nnz(), csr.sparse_dim(), csr.dense_dim()) == ((2, 5), 3, 2, 0)
    for b in range(2):
        ref = sps.csr_matrix(x[b])
        np.testing.assert_array_equal(_np(csr.crow_indices()[b]), ref.indptr)
        np.testing.assert_array_equal(_np(csr.col_indices()[b]), ref.indices)
        np.testing.assert_allclose(_np(csr.values()[b]), ref.data)
        ref_csc = sps.csc_matrix(x[b])
        np.testing.assert_array_equal(_np(dense.to_sparse_csc().row_indices()[b]), ref_csc.indices)
    for s in (csr, dense.to_sparse_csc(), dense.to_sparse_bsr((2, 3)), dense.to_sparse_bsc((2, 2)),
              csr.to_sparse_csc(), csr.to_sparse(), csr.transpose(1, 2).transpose(1, 2)):
        np.testing.assert_allclose(_np(s.to_dense()), x)
    assert csr.transpose(1, 2).layout is ember.sparse_csc
    d = np.random.default_rng(14).standard_normal((2, 6, 3))
    w = _t(d).requires_grad_()
    out = csr @ w
    np.testing.assert_allclose(_np(out), x @ d)
    out.sum().backward()
    np.testing.assert_allclose(_np(w.grad), np.swapaxes(x, 1, 2) @ np.ones((2, 4, 3)))
    built = ember.sparse_csr_tensor(csr.crow_indices(), csr.col_indices(), csr.values(), (2, 4, 6),
                                    check_invariants=True)
    np.testing.assert_allclose(_np(built.to_dense()), x)
    np.testing.assert_allclose(_np((built * 2).to_dense()), 2 * x)
    np.testing.assert_allclose(_np(_t(np.ones((2, 4, 6))).sparse_mask(built).to_dense()), (x != 0) * 1.0)
    uneven = x.copy()
    uneven[1, 0, 0] = 9
    with pytest.raises(RuntimeError, match="same number of specified elements per batch"):
        _t(uneven).to_sparse_csr()
    with pytest.raises(RuntimeError, match="batch dimensions"):
        ember.sparse_csr_tensor(csr.crow_indices(), csr.col_indices(), csr.values()[:1], (2, 4, 6))


def test_unsqueeze_stack_and_dense_inplace_with_sparse():
    x = np.arange(12.).reshape(3, 4) * (np.arange(3)[:, None] != 1)
    h = _t(x).to_sparse(1)
    assert [h.unsqueeze(d).sparse_dim() for d in range(3)] == [2, 2, 1]  # PyTorch's placement
    for d in range(3):
        np.testing.assert_allclose(_np(h.unsqueeze(d).to_dense()), np.expand_dims(x, d))
    np.testing.assert_allclose(_np(h.unsqueeze(1).squeeze(1).to_dense()), x)
    stacked = ember.stack([h, 2 * h])
    assert stacked.layout is ember.sparse_coo
    np.testing.assert_allclose(_np(stacked.to_dense()), np.stack([x, 2 * x]))
    with pytest.raises(NotImplementedError, match="aten::view"):
        h.view(12)
    s = _t(x).to_sparse()
    np.testing.assert_allclose(_np(_t(np.ones((3, 4))).add_(s)), 1 + x)
    np.testing.assert_allclose(_np(_t(np.full((3, 4), 2.0)).mul_(s)), 2 * x)
    w = _t(np.ones((3, 4))).requires_grad_()
    y = w * 3
    y.mul_(s)
    y.sum().backward()
    np.testing.assert_allclose(_np(w.grad), 3 * x)
