"""The numerical routines (ember.ops.numeric, ember.ops.grids) beyond what the conformance database checks:
PyTorch's errors and warnings, result types (namedtuples), argument forms, gradient conventions, and the
einsum dtype rule. Values are compared with numpy float64 references; PyTorch's behaviour where numpy has no
counterpart (tie rules, error classes and messages) was read off PyTorch 2.13 by hand."""
import math
import warnings

import numpy as np
import pytest

import ember

RNG = np.random.default_rng(12)


def _t(values, **kw):
    return ember.tensor(values, **kw)


# ---------------------------------------------------------------- namedtuples
@pytest.mark.parametrize("name, call, fields", [
    ("cummax", lambda x: ember.cummax(x, 1), ("values", "indices")),
    ("cummin", lambda x: x.cummin(0), ("values", "indices")),
    ("mode", lambda x: ember.mode(x, 1), ("values", "indices")),
    ("nanmedian", lambda x: x.nanmedian(1, keepdim=True), ("values", "indices")),
    ("histogram", lambda x: ember.histogram(x, 4), ("hist", "bin_edges")),
])
def test_results_are_named_tuples(name, call, fields):
    out = call(_t(RNG.standard_normal((3, 5)), dtype=ember.float32))
    assert type(out).__name__ == name and out._fields == fields


def test_out_takes_a_tuple_for_two_results():
    x = _t([[1.0, 3.0, 2.0]])
    values, indices = ember.empty(0), ember.empty(0, dtype=ember.int64)
    got = ember.cummax(x, 1, out=(values, indices))
    assert got.values is values and indices.tolist() == [[0, 1, 1]]


# ---------------------------------------------------------------- scans
def test_cummax_cummin_ties_take_the_latest_index_and_nan_wins():
    assert ember.cummax(_t([1.0, 3.0, 3.0, 2.0, 3.0]), 0).indices.tolist() == [0, 1, 2, 2, 4]
    assert ember.cummin(_t([3.0, 1.0, 1.0, 2.0, 1.0]), 0).indices.tolist() == [0, 1, 2, 2, 4]
    out = ember.cummax(_t([1.0, math.nan, 3.0, math.nan, 2.0]), 0)
    assert np.isnan(out.values.numpy()[1:]).all() and out.indices.tolist() == [0, 1, 1, 3, 3]


def test_cummax_gradient_goes_to_the_chosen_elements():
    x = _t([1.0, 3.0, 3.0, 2.0, 3.0], dtype=ember.float64, requires_grad=True)
    ember.cummax(x, 0).values.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 2.0, 0.0, 1.0]  # indices [0, 1, 2, 2, 4]


def test_cummax_on_every_device(any_device):
    x = RNG.integers(-5, 5, (4, 33)).astype(np.float32)
    out = ember.cummax(_t(x, device=any_device), 1)
    np.testing.assert_array_equal(out.values.cpu().numpy(), np.maximum.accumulate(x, 1))
    assert out.values.device.type == any_device


def test_logcumsumexp_refuses_integers_and_keeps_its_range():
    with pytest.raises(NotImplementedError, match="logcumsumexp_out_cpu.*Long"):
        ember.logcumsumexp(_t([0, 1]), 0)
    x = np.array([-1000.0, 0.0, 1000.0, 1000.0])
    np.testing.assert_allclose(ember.logcumsumexp(_t(x), 0).numpy(), np.logaddexp.accumulate(x))


# ---------------------------------------------------------------- differences and integrals
def test_diff_errors():
    with pytest.raises(RuntimeError, match="at least one-dimensional"):
        ember.diff(_t(1.0))
    with pytest.raises(RuntimeError, match="order must be non-negative but got -1"):
        ember.diff(_t([1.0, 2.0]), n=-1)
    with pytest.raises(RuntimeError, match="same dimension as input"):
        ember.diff(_t([1.0, 2.0]), prepend=_t(0.0))
    with pytest.raises(RuntimeError, match=r"input.size\(1\) = 3, but got tensor.size\(1\) = 4"):
        ember.diff(ember.ones(2, 3), dim=0, append=ember.ones(1, 4))
    with pytest.raises(TypeError, match="'prepend' must be Tensor"):
        ember.diff(_t([1.0, 2.0]), prepend=5)


def test_diff_promotes_with_prepend():
    out = ember.diff(_t([1.0, 3.0]), prepend=_t([0]))
    assert out.dtype is ember.float32 and out.tolist() == [1.0, 2.0]


def test_trapezoid_forms_and_errors():
    y = _t([1, 2, 4])
    assert ember.trapezoid(y).dtype is ember.float32 and ember.trapezoid(y).item() == 4.5
    assert ember.trapz(y, dx=2).item() == 9.0
    assert ember.trapezoid(y, _t([1, 2, 5])).item() == 10.5
    with pytest.raises(TypeError):
        ember.trapezoid(ember.ones(3), ember.ones(3), dx=2)
    with pytest.raises(TypeError):
        ember.trapezoid(ember.ones(3), 2.0)
    with pytest.raises(RuntimeError, match="one `x` value for each sample point"):
        ember.trapezoid(ember.ones(2, 3), _t([1.0, 2.0]))
    with pytest.raises(IndexError):
        ember.trapezoid(_t(1.0))
    assert ember.trapezoid(ember.ones(2, 0)).tolist() == [0.0, 0.0]
    assert tuple(ember.cumulative_trapezoid(ember.ones(2, 1)).shape) == (2, 0)


def test_gradient_errors_and_forms():
    with pytest.raises(RuntimeError, match="only supports edge_order=1 and edge_order=2"):
        ember.gradient(ember.ones(4), edge_order=3)
    with pytest.raises(RuntimeError, match="at least edge_order\\+1"):
        ember.gradient(ember.ones(2), edge_order=2)
    with pytest.raises(RuntimeError, match="'self.dim\\(\\) = 2'.*got a list of length 3"):
        ember.gradient(ember.ones(3, 4), spacing=[2.0, 3.0, 4.0])
    x = RNG.standard_normal((4, 5))
    got = ember.gradient(_t(x), spacing=_t(2.0), dim=[1, 0])
    want = np.gradient(x, 2.0, axis=(1, 0))
    assert isinstance(got, tuple) and len(got) == 2
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w)
    assert ember.gradient(_t([1, 2, 4, 8]))[0].dtype is ember.float32


# ---------------------------------------------------------------- order statistics
def test_quantile_errors():
    x = ember.ones(2, 3)
    cases = [
        (lambda: ember.quantile(x, 1.5), r"q must be in the range \[0, 1\] but got 1.5"),
        (lambda: ember.quantile(x, _t([1.5])), r"q values must be in the range \[0, 1\]"),
        (lambda: ember.quantile(ember.ones(3, dtype=ember.int64), 0.5), "must be either float or double"),
        (lambda: ember.quantile(ember.ones(3, dtype=ember.float16), 0.5), "must be either float or double"),
        (lambda: ember.quantile(x, _t([0.5], dtype=ember.float64)), "same dtype as the input"),
        (lambda: ember.quantile(x, ember.ones(2, 2) / 2), "scalar or 1D tensor"),
        (lambda: ember.quantile(x, 0.5, interpolation="foo"), "but got foo"),
        (lambda: ember.nanquantile(ember.ones(0), 0.5), "nanquantile\\(\\) input tensor must be non-empty"),
    ]
    for call, message in cases:
        with pytest.raises(RuntimeError, match=message):
            call()


def test_quantile_shapes():
    x = ember.ones(2, 3)
    assert tuple(ember.quantile(x, 0.5, keepdim=True).shape) == (1, 1)
    assert tuple(ember.quantile(x, _t([0.2, 0.5]), dim=1, keepdim=True).shape) == (2, 2, 1)
    assert tuple(ember.quantile(x, _t(0.2), dim=1).shape) == (2,)
    assert ember.quantile(_t(2.0), 0.5, dim=0).item() == 2.0


def test_nanmedian_rules():
    x = _t([[1.0, 5.0, 2.0], [math.nan, 3.0, 4.0]])
    assert ember.nanmedian(x).item() == 3.0
    out = ember.nanmedian(_t([[math.nan, math.nan], [1.0, math.nan]]), 1)
    assert math.isnan(out.values[0].item()) and out.indices.tolist() == [0, 0]
    assert math.isnan(ember.nanmedian(ember.ones(0)).item())
    assert ember.nanmedian(ember.ones(0, dtype=ember.int64)).item() == np.iinfo(np.int64).min
    with pytest.raises(NotImplementedError, match="Bool"):
        ember.nanmedian(_t([True]))
    with pytest.raises(IndexError, match="Expected reduction dim 0 to have non-zero size"):
        ember.nanmedian(ember.zeros(0, 2), 0)


def test_mode_ties_and_gradient():
    out = ember.mode(_t([1, 3, 3, 1, 2, 2]))
    assert (out.values.item(), out.indices.item()) == (1, 3)  # the smallest of the most frequent, last seen
    x = _t([5.0, 2.0, 5.0, 2.0, 7.0], dtype=ember.float64, requires_grad=True)
    out = ember.mode(x)
    out.values.backward()
    assert (out.values.item(), out.indices.item()) == (2.0, 3) and x.grad.tolist() == [0, 0, 0, 1, 0]
    with pytest.raises(IndexError, match="mode\\(\\): Expected reduction dim 0 to have non-zero size"):
        ember.mode(ember.zeros(0, 3), 0)
    empty = ember.mode(ember.zeros(0, 3), 1)
    assert tuple(empty.values.shape) == (0,) and empty.indices.dtype is ember.int64


# ---------------------------------------------------------------- counting
def test_histc_rules():
    assert ember.histc(_t([2.0, 2.0]), bins=4).tolist() == [0, 0, 2, 0]  # range widened by 1 each side
    assert ember.histc(_t([-1.0, 0.0, 1.0, 2.0, 3.0, 4.0]), bins=3, min=0, max=3).tolist() == [1, 1, 2]
    assert ember.histc(_t([1.0, 2.0], dtype=ember.float16), bins=2).dtype is ember.float16
    with pytest.raises(NotImplementedError, match="histogram_cpu.*Long"):
        ember.histc(_t([1, 2]))
    with pytest.raises(RuntimeError, match="bins must be > 0, but got 0"):
        ember.histc(_t([1.0]), bins=0)
    with pytest.raises(RuntimeError, match="max must be larger than min"):
        ember.histc(_t([1.0]), bins=3, min=3, max=1)
    with pytest.raises(RuntimeError, match=r"range of \[1, inf\] is not finite"):
        ember.histc(_t([1.0, math.inf]), bins=3)


def test_histogram_rules():
    out = ember.histogram(_t([2.0, 2.0]), bins=2)
    assert out.hist.tolist() == [0, 2] and out.bin_edges.tolist() == [1.5, 2.0, 2.5]
    assert ember.histogram(ember.ones(0), bins=2).bin_edges.tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(NotImplementedError, match="histogramdd.*Long"):
        ember.histogram(_t([1, 2]), bins=2)
    with pytest.raises(RuntimeError, match="min should not exceed max, but got min 3 max 1"):
        ember.histogram(_t([1.0]), bins=2, range=(3.0, 1.0))
    with pytest.raises(RuntimeError, match="same dtype"):
        ember.histogram(_t([1.0]), bins=_t([0.0, 1.0], dtype=ember.float64))
    with pytest.raises(RuntimeError, match="not finite"):
        ember.histogram(_t([1.0, math.nan]), bins=2)


def test_bincount_dtypes_and_errors():
    x = _t([0, 2, 2])
    assert ember.bincount(x).dtype is ember.int64
    assert ember.bincount(x, _t([1.0, 2.0, 3.0])).dtype is ember.float32
    got = ember.bincount(x, _t([1, 2, 3]))
    assert got.dtype is ember.float64 and got.tolist() == [1.0, 0.0, 5.0]
    assert ember.bincount(ember.zeros(0, dtype=ember.int64), minlength=3).tolist() == [0, 0, 0]
    for bad, message in ((_t([0, -2]), "non-negative"), (_t([[0, 2]]), "1-d non-negative")):
        with pytest.raises(RuntimeError, match=message):
            ember.bincount(bad)
    with pytest.raises(RuntimeError, match="minlength should be >= 0"):
        ember.bincount(x, minlength=-1)
    with pytest.raises(RuntimeError, match="same length as input"):
        ember.bincount(x, _t([1.0]))
    with pytest.raises(NotImplementedError, match="Float"):
        ember.bincount(_t([0.0, 2.0]))


def test_isin_scalars_and_errors():
    assert ember.isin(2, _t([1, 2, 3])).item() is True
    assert ember.isin(_t([1, 2]), 2.5).tolist() == [False, False]
    assert ember.isin(_t([1, 2, 3]), _t([2.0, 2.5])).tolist() == [False, True, False]
    with pytest.raises(TypeError):
        ember.isin(2, 3)
    with pytest.raises(RuntimeError, match="Unsupported input type encountered for isin\\(\\): Bool"):
        ember.isin(_t([True]), _t([True]))


def test_isin_in_blocks_matches_numpy(monkeypatch):
    from ember.ops import numeric
    monkeypatch.setattr(numeric, "_ISIN_BLOCK", 7)  # several blocks of test elements
    e, t = RNG.integers(0, 30, (4, 5)), RNG.integers(0, 30, 11)
    assert ember.isin(_t(e), _t(t), invert=True).numpy().tolist() == np.isin(e, t, invert=True).tolist()


# ---------------------------------------------------------------- statistics
def test_cov_errors_and_warning():
    with pytest.raises(RuntimeError, match="two or fewer dimensions"):
        ember.cov(ember.ones(2, 2, 2))
    with pytest.raises(RuntimeError, match="bool dtype is not supported"):
        ember.cov(_t([[True, False]]))
    with pytest.raises(RuntimeError, match="fweights to have integral dtype but got fweights with Float"):
        ember.cov(ember.ones(2, 3), fweights=_t([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError, match="aweights cannot be negative"):
        ember.cov(ember.ones(2, 3), aweights=_t([1.0, -2.0, 3.0]))
    with pytest.raises(RuntimeError, match="but got 2 != 3"):
        ember.cov(ember.ones(2, 3), fweights=_t([1, 2]))
    with pytest.raises(TypeError, match="'correction' must be int"):
        ember.cov(ember.ones(2, 3), correction=0.5)
    with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
        out = ember.cov(ember.ones(2, 1))
    assert np.isnan(out.numpy()).all()
    assert ember.cov(_t([[1, 2, 4], [2, 2, 1]])).dtype is ember.float32


def test_corrcoef_of_a_constant_row_is_nan():
    out = ember.corrcoef(_t([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]])).numpy()
    assert np.isnan(out[0]).all() and out[1, 1] == 1.0


# ---------------------------------------------------------------- products and distances
def test_cdist_errors():
    a = ember.ones(2, 3)
    cases = [
        (RuntimeError, lambda: ember.cdist(ember.ones(2), a), "at least 2D tensors, X1 got: 1D"),
        (RuntimeError, lambda: ember.cdist(a, ember.ones(2, 2)), "X1: 3 X2: 2"),
        (RuntimeError, lambda: ember.cdist(a, a, p=-1), "non-negative p values"),
        (ValueError, lambda: ember.cdist(a, a, compute_mode="foo"), "foo is not a valid value"),
        (RuntimeError, lambda: ember.cdist(a, ember.ones(2, 3, dtype=ember.float64)), "Float but found Double"),
        (RuntimeError, lambda: ember.cdist(ember.ones(2, 2, dtype=ember.int64), ember.ones(2, 2, dtype=ember.int64)),
         "floating-point dtypes, X1 got: Long"),
        (NotImplementedError, lambda: ember.cdist(a.half(), a.half()), "Half"),
    ]
    for error, call, message in cases:
        with pytest.raises(error, match=message):
            call()


@pytest.mark.parametrize("p, mode", [(2.0, "donot_use_mm_for_euclid_dist"), (2.0, "use_mm_for_euclid_dist"),
                                     (3.0, None), (0.5, None), (1.0, None), (math.inf, None), (0.0, None)])
def test_cdist_gradient_as_pytorch(p, mode):
    """Zero distance gives zero gradient (not NaN); for p = inf every tied coordinate gets the full gradient.
    The expected values are PyTorch's for these points."""
    x = _t([[0.0, 0.0], [1.0, 1.0]], dtype=ember.float64, requires_grad=True)
    kw = {} if mode is None else dict(compute_mode=mode)
    ember.cdist(x, x, p=p, **kw).sum().backward()
    per_p = {2.0: 2 ** 0.5, 3.0: 2 ** (1 / 3), 0.5: 4.0, 1.0: 2.0, math.inf: 2.0, 0.0: 0.0}
    np.testing.assert_allclose(x.grad.numpy(), np.array([[-1.0, -1.0], [1.0, 1.0]]) * per_p[p], atol=1e-7)


def test_cdist_matmul_path_matches_differences():
    x1, x2 = RNG.standard_normal((30, 4)), RNG.standard_normal((6, 4))
    fast = ember.cdist(_t(x1), _t(x2))  # more than 25 rows: the matrix-product expansion
    exact = ember.cdist(_t(x1), _t(x2), compute_mode="donot_use_mm_for_euclid_dist")
    np.testing.assert_allclose(fast.numpy(), exact.numpy(), rtol=1e-10)
    assert tuple(ember.cdist(ember.ones(2, 1, 4, 3), ember.ones(5, 2, 3)).shape) == (2, 5, 4, 2)


def test_renorm_and_addr_errors():
    with pytest.raises(RuntimeError, match="Expected a floating point"):
        ember.renorm(_t([[1, 2], [3, 4]]), 2, 0, 3)
    with pytest.raises(RuntimeError, match="non-positive-norm not supported"):
        ember.renorm(ember.ones(2, 2), 0, 0, 1.0)
    with pytest.raises(RuntimeError, match="expected maxnorm to be >= 0 but got -3"):
        ember.renorm(ember.ones(2, 2), 2, 0, -3)
    with pytest.raises(RuntimeError, match="needs at least 2 dimensions, got 1 dimensions"):
        ember.renorm(ember.ones(2), 2, 0, 1.0)
    long = ember.ones(2, 3, dtype=ember.int64)
    with pytest.raises(RuntimeError, match="argument alpha must not be a floating point number"):
        ember.addr(long, _t([1, 2]), _t([1, 2, 3]), alpha=1.5)
    with pytest.raises(RuntimeError, match="Expected 1-D argument vec1, but got 2-D"):
        ember.addr(ember.ones(2, 3), ember.ones(2, 1), ember.ones(3))
    with pytest.raises(RuntimeError, match="must match the existing size"):
        ember.addr(ember.ones(3, 3), ember.ones(2), ember.ones(3))
    assert ember.addr(long, _t([1.0, 2.0]), _t([1, 2, 3])).dtype is ember.float32
    x = ember.zeros(2, 2)
    assert x.addr_(_t([1.0, 2.0]), _t([3.0, 4.0]), alpha=2) is x and x.tolist() == [[6, 8], [12, 16]]


def test_kron_matches_numpy_for_mixed_ranks():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((4,))
    np.testing.assert_allclose(ember.kron(_t(a), _t(b)).numpy(), np.kron(a, b))
    assert ember.kron(_t([1, 2]), _t([1.5])).dtype is ember.float32


# ---------------------------------------------------------------- grids and arrangements
def test_meshgrid_warns_without_indexing():
    with pytest.warns(UserWarning, match="it will be required to pass the indexing argument"):
        a, b = ember.meshgrid(_t([1, 2]), _t([3, 4, 5]))
    assert a.tolist() == [[1, 1, 1], [2, 2, 2]] and b.tolist() == [[3, 4, 5], [3, 4, 5]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x, y = ember.meshgrid([_t([1, 2]), _t([3, 4, 5])], indexing="xy")
    assert tuple(x.shape) == (3, 2) and x.stride()[0] == 0  # views, not copies


def test_meshgrid_errors():
    for call, message in ((lambda: ember.meshgrid(ember.ones(2), indexing="foo"), "indexing must be one of"),
                          (lambda: ember.meshgrid(indexing="ij"), "non-empty TensorList"),
                          (lambda: ember.meshgrid(ember.ones(2, 2), indexing="ij"), "Expected 0D or 1D tensor"),
                          (lambda: ember.meshgrid(ember.ones(2), _t([1, 2]), indexing="ij"), "same dtype")):
        with pytest.raises(RuntimeError, match=message):
            call()


def test_cartesian_prod_and_combinations():
    x = _t([1, 2])
    assert ember.cartesian_prod(x) is x
    with pytest.raises(RuntimeError, match="Expect a 1D vector, but got shape \\[2, 2\\]"):
        ember.cartesian_prod(ember.ones(2, 2))
    assert tuple(ember.combinations(x, r=0).shape) == (0,)
    assert tuple(ember.combinations(x, r=3).shape) == (0, 3)
    with pytest.raises(RuntimeError, match="Expect a non-negative number, but got -1"):
        ember.combinations(x, r=-1)


def test_block_diag_rules():
    assert tuple(ember.block_diag().shape) == (1, 0)
    with pytest.raises(RuntimeError, match="Input 0 has 3 dimensions"):
        ember.block_diag(ember.ones(1, 1, 1))
    assert ember.block_diag(_t([[1, 2]]), _t(3.0)).dtype is ember.float32


@pytest.mark.parametrize("lower", [True, False])
def test_tril_triu_indices(lower, any_device):
    fn, ref = (ember.tril_indices, np.tril_indices) if lower else (ember.triu_indices, np.triu_indices)
    for row, col, offset in ((3, 4, 1), (4, 3, -1), (0, 3, 0), (5, 5, 0), (3, 3, -4)):
        got = fn(row, col, offset, device=any_device)
        assert got.dtype is ember.int64 and got.device.type == any_device
        np.testing.assert_array_equal(got.cpu().numpy(), np.stack(ref(row, offset, col)).reshape(2, -1))
    assert fn(3, 3, dtype=ember.int32).dtype is ember.int32
    with pytest.raises(NotImplementedError, match="Float"):
        fn(3, 3, dtype=ember.float32)
    with pytest.raises(RuntimeError, match="row must be non-negative"):
        fn(-1, 3)


def test_rot90_errors():
    with pytest.raises(RuntimeError, match="expected total rotation dims == 2, but got dims = 3"):
        ember.rot90(ember.ones(2, 2), 1, [0, 1, 2])
    with pytest.raises(RuntimeError, match="expected total dims >= 2, but got total dims = 1"):
        ember.rot90(ember.ones(2), 1, [0, 0])
    with pytest.raises(RuntimeError, match="dim0 = 0 and dim1 = -2"):
        ember.rot90(ember.ones(2, 2), 1, [0, -2])
    with pytest.raises(IndexError):
        ember.rot90(ember.ones(2, 2), 1, [0, 2])


def test_unravel_index_rules():
    assert [c.tolist() for c in ember.unravel_index(_t(-1), (2, 3))] == [1, 2]
    assert ember.unravel_index(_t(0), ()) == ()
    assert ember.unravel_index(_t([1], dtype=ember.int32), (2, 3))[1].dtype is ember.int64
    with pytest.raises(TypeError, match="integer dtype"):
        ember.unravel_index(_t(1.0), (2, 3))
    with pytest.raises(ValueError, match="cannot have negative values"):
        ember.unravel_index(_t(3), (-1, 2))


def test_atleast_nd_take_several_tensors():
    zero, one, two = _t(1.0), ember.ones(2), ember.ones(2, 3)
    assert [tuple(t.shape) for t in ember.atleast_1d(zero, two)] == [(1,), (2, 3)]
    assert [tuple(t.shape) for t in ember.atleast_2d([zero, one])] == [(1, 1), (1, 2)]
    assert [tuple(t.shape) for t in ember.atleast_3d(zero, one, two)] == [(1, 1, 1), (1, 2, 1), (2, 3, 1)]
    assert ember.atleast_2d(two) is two


# ---------------------------------------------------------------- einsum of integers (PyTorch 2.13's dtypes)
# (equation, result dtype for int32 operands): a sum over a subscript that only one operand holds so far is
# an int64 ``sum``; shared subscripts go through bmm, which keeps the dtype.
_EINSUM_INT32 = [("ij->j", "int64"), ("ij->", "int64"), ("ii->i", "int32"), ("ii", "int64"),
                 ("ij,ij->j", "int32"), ("ij,j->i", "int32"), ("ij,k->ijk", "int32"), ("ij,k->i", "int64"),
                 ("i,j->i", "int64"), ("ij,jk,k->i", "int32"), ("ij->ji", "int32")]


@pytest.mark.parametrize("equation, want", _EINSUM_INT32)
def test_einsum_integer_dtypes(equation, want):
    terms = equation.split("->")[0].split(",")
    sizes = dict(i=2, j=3, k=4)
    ops = [ember.ones(*(sizes[c] for c in t), dtype=ember.int32) for t in terms]
    out = ember.einsum(equation, *ops)
    assert out.dtype.name == want
    np.testing.assert_array_equal(out.numpy(), np.einsum(equation, *[o.numpy().astype(np.int64) for o in ops]))


def test_einsum_integer_edge_errors():
    with pytest.raises(RuntimeError, match="expected scalar type Long but found Int"):
        ember.einsum("ij,j->", ember.ones(2, 3, dtype=ember.int32), ember.ones(3, dtype=ember.int32))
    assert ember.einsum("ij->j", ember.ones(2, 3, dtype=ember.bool)).dtype is ember.int64
    with pytest.raises(NotImplementedError, match="bmm"):
        ember.einsum("i,i->", ember.ones(3, dtype=ember.bool), ember.ones(3, dtype=ember.bool))
