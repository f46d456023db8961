"""The Tensor API: creation functions, attributes, conversions and host interop.

PyTorch's documented behaviour is the specification. Values are compared with numpy
references; random inputs come from a seeded numpy generator.
"""
import numpy as np
import pytest

import ember

RNG = np.random.default_rng(1234)


def values(t):
    """A tensor's values as a numpy array (through the CPU)."""
    return t.detach().cpu().numpy()


# ================================================================ creation from data
@pytest.mark.parametrize("data, dtype, shape", [
    ([1, 2, 3], ember.int64, (3,)),
    ([1.0, 2, 3], ember.float32, (3,)),
    ([True, False], ember.bool, (2,)),
    ([[1, 2], [3, 4], [5, 6]], ember.int64, (3, 2)),
    (3.5, ember.float32, ()),
    (7, ember.int64, ()),
    (False, ember.bool, ()),
    ([], ember.float32, (0,)),
])
def test_tensor_infers_dtype_and_shape_from_python_data(data, dtype, shape):
    t = ember.tensor(data)
    assert t.dtype is dtype
    assert t.shape == shape
    np.testing.assert_array_equal(values(t), np.array(data, dtype=dtype.numpy))


def test_tensor_keeps_numpy_dtype_and_copies_the_data():
    source = RNG.standard_normal((2, 3))
    t = ember.tensor(source)
    assert t.dtype is ember.float64
    source[0, 0] = 100.0
    assert values(t)[0, 0] != 100.0


def test_tensor_keyword_arguments():
    t = ember.tensor([1, 2], dtype=ember.float64, device="cpu", requires_grad=True)
    assert t.dtype is ember.float64
    assert t.device == ember.device("cpu")
    assert t.requires_grad and t.is_leaf and t.grad is None and t.grad_fn is None


def test_tensor_python_type_as_dtype():
    assert ember.tensor([1, 2], dtype=float).dtype is ember.float64
    assert ember.zeros(2, dtype=int).dtype is ember.int64
    assert ember.zeros(2, dtype=bool).dtype is ember.bool


def test_tensor_of_tensors_and_of_a_tensor():
    a = ember.tensor([1.0, 2.0])
    # as PyTorch: a list of one-element tensors is a tensor of their values; of longer ones, an error
    np.testing.assert_array_equal(values(ember.tensor([a[0], a[1] * 2])), [1, 4])
    with pytest.raises(ValueError, match="only one element tensors can be converted to Python scalars"):
        ember.tensor([a, a * 2])
    copy = ember.tensor(a)
    copy.add_(1)
    np.testing.assert_array_equal(values(a), [1, 2])


def test_as_tensor_shares_memory_with_a_numpy_array_of_the_same_dtype():
    source = np.arange(4.0)
    t = ember.as_tensor(source)
    source[0] = 42.0
    assert t[0].item() == 42.0
    converted = ember.as_tensor(source, dtype=ember.float32)  # a different dtype: a copy
    source[1] = -1.0
    assert converted[1].item() == 1.0
    existing = ember.ones(3)
    assert ember.as_tensor(existing) is existing


def test_from_numpy_shares_memory_both_ways():
    source = RNG.standard_normal((3, 4)).astype(np.float32)
    t = ember.from_numpy(source)
    assert t.dtype is ember.float32 and t.shape == (3, 4)
    source[1, 2] = 5.0
    assert t[1, 2].item() == 5.0
    t[0, 0] = -7.0
    assert source[0, 0] == -7.0


def test_from_numpy_of_a_non_contiguous_array():
    source = np.arange(6.0).reshape(2, 3).T
    t = ember.from_numpy(source)
    np.testing.assert_array_equal(values(t), source)
    source[0, 1] = 9.0
    assert t[0, 1].item() == 9.0


# ================================================================ filled tensors
@pytest.mark.parametrize("factory, fill", [(ember.zeros, 0.0), (ember.ones, 1.0), (ember.empty, None)])
def test_size_arguments_in_every_form(factory, fill):
    for t in (factory(2, 3), factory((2, 3)), factory([2, 3]), factory(ember.Size([2, 3]))):
        assert t.shape == (2, 3)
        assert t.dtype is ember.float32
        if fill is not None:
            np.testing.assert_array_equal(values(t), np.full((2, 3), fill))


def test_zero_sized_and_scalar_shapes():
    assert ember.zeros(0).shape == (0,)
    assert ember.zeros(2, 0, 3).numel() == 0
    assert ember.zeros(()).shape == () and ember.zeros(()).numel() == 1


@pytest.mark.parametrize("value, dtype", [(3, ember.int64), (2.5, ember.float32), (True, ember.bool)])
def test_full_infers_dtype_from_the_fill_value(value, dtype):
    t = ember.full((2, 2), value)
    assert t.dtype is dtype
    np.testing.assert_array_equal(values(t), np.full((2, 2), value))


def test_full_with_explicit_dtype_converts_the_value():
    t = ember.full((3,), 1.5, dtype=ember.int32)
    assert t.dtype is ember.int32
    np.testing.assert_array_equal(values(t), [1, 1, 1])


@pytest.mark.parametrize("args, dtype", [
    ((5,), ember.int64), ((2, 9, 3), ember.int64), ((0.0, 1.0, 0.1), ember.float32),
    ((5, 0, -1.5), ember.float32), ((-3, 3), ember.int64),
])
def test_arange_matches_numpy(args, dtype):
    t = ember.arange(*args)
    assert t.dtype is dtype
    np.testing.assert_allclose(values(t), np.arange(*args), rtol=1e-6, atol=1e-6)


def test_arange_with_dtype():
    t = ember.arange(4, dtype=ember.float64)
    assert t.dtype is ember.float64
    np.testing.assert_array_equal(values(t), [0, 1, 2, 3])


def test_linspace_matches_numpy_and_hits_both_ends_exactly():
    start, end = RNG.uniform(-5, 0), RNG.uniform(1, 5)
    t = ember.linspace(start, end, 17, dtype=ember.float64)
    ref = np.linspace(start, end, 17)
    np.testing.assert_allclose(values(t), ref, rtol=1e-12, atol=1e-12)
    assert values(t)[0] == start and values(t)[-1] == end
    assert ember.linspace(0, 1, 5).dtype is ember.float32
    np.testing.assert_array_equal(values(ember.linspace(-1, 1, 1)), [-1.0])
    assert ember.linspace(0, 1, 0).shape == (0,)


@pytest.mark.parametrize("n, m", [(3, None), (2, 4), (4, 2), (1, None)])
def test_eye_matches_numpy(n, m):
    t = ember.eye(n, m)
    assert t.dtype is ember.float32
    np.testing.assert_array_equal(values(t), np.eye(n, m))
    assert ember.eye(n, m, dtype=ember.int64).dtype is ember.int64


def test_random_factories_shapes_and_dtypes():
    assert ember.rand(2, 3).shape == (2, 3) and ember.rand(2, 3).dtype is ember.float32
    assert ember.randn((4,), dtype=ember.float64).dtype is ember.float64
    r = ember.randint(0, 10, (3, 2))
    assert r.shape == (3, 2) and r.dtype is ember.int64
    assert ember.randint(10, (5,)).shape == (5,)  # randint(high, size)
    assert ember.randint(0, 10, (2,), dtype=ember.int32).dtype is ember.int32
    p = ember.randperm(6)
    assert p.shape == (6,) and p.dtype is ember.int64
    n = ember.normal(0.0, 1.0, (2, 5))
    assert n.shape == (2, 5) and n.dtype is ember.float32
    assert ember.normal(ember.zeros(3, dtype=ember.float64), 1.0).dtype is ember.float64


def test_like_factories_follow_the_input_unless_told_otherwise():
    base = ember.tensor([[1, 2, 3]], dtype=ember.int32)
    for factory, fill in ((ember.zeros_like, 0), (ember.ones_like, 1), (ember.empty_like, None)):
        t = factory(base)
        assert t.shape == (1, 3) and t.dtype is ember.int32 and t.device == base.device
        if fill is not None:
            np.testing.assert_array_equal(values(t), np.full((1, 3), fill))
    full = ember.full_like(base, 7)
    assert full.dtype is ember.int32 and values(full).tolist() == [[7, 7, 7]]
    assert ember.zeros_like(base, dtype=ember.float64).dtype is ember.float64
    floats = ember.ones(2, 2, dtype=ember.float64)
    assert ember.rand_like(floats).dtype is ember.float64 and ember.rand_like(floats).shape == (2, 2)
    assert ember.randn_like(floats).shape == (2, 2)
    ints = ember.randint_like(floats, 3, 6)
    assert ints.shape == (2, 2) and ints.dtype is ember.float64
    assert set(values(ints).ravel().tolist()) <= {3.0, 4.0, 5.0}


@pytest.mark.parametrize("factory", [
    lambda: ember.zeros(2, requires_grad=True), lambda: ember.ones(2, requires_grad=True),
    lambda: ember.full((2,), 3.0, requires_grad=True), lambda: ember.rand(2, requires_grad=True),
    lambda: ember.randn(2, requires_grad=True), lambda: ember.arange(2.0, requires_grad=True),
    lambda: ember.linspace(0, 1, 2, requires_grad=True), lambda: ember.eye(2, requires_grad=True),
    lambda: ember.zeros_like(ember.ones(2), requires_grad=True),
])
def test_factories_make_leaves_that_require_grad(factory):
    t = factory()
    assert t.requires_grad and t.is_leaf and t.grad_fn is None


def test_new_factories_inherit_dtype_and_device():
    base = ember.zeros(3, dtype=ember.float64)
    assert base.new_ones(2).dtype is ember.float64
    assert base.new_zeros((2, 2)).shape == (2, 2)
    assert base.new_full((2,), 4.0).tolist() == [4.0, 4.0]
    assert base.new_tensor([1, 2]).dtype is ember.float64


def test_legacy_tensor_constructor():
    t = ember.Tensor(2, 3)
    assert t.shape == (2, 3) and t.dtype is ember.float32
    data = ember.Tensor([1, 2])
    assert data.dtype is ember.float32
    np.testing.assert_array_equal(values(data), [1.0, 2.0])
    assert ember.Tensor().shape == (0,)
    assert isinstance(t, ember.Tensor) and ember.is_tensor(t) and not ember.is_tensor([1])


# ================================================================ attributes
def test_shape_size_dim_numel():
    t = ember.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and isinstance(t.shape, ember.Size) and isinstance(t.shape, tuple)
    assert t.size() == ember.Size([2, 3, 4])
    assert t.size(1) == 3 and t.size(-1) == 4
    assert t.ndim == 3 and t.dim() == 3
    assert t.numel() == 24 and ember.numel(t) == 24 and t.shape.numel() == 24
    assert len(t) == 2
    assert t.shape[1:] == ember.Size([3, 4])
    assert repr(t.shape) == "ember.Size([2, 3, 4])"


def test_size_of_a_missing_dim_raises_index_error():
    with pytest.raises(IndexError, match=r"range of \[-2, 1\], but got 2"):
        ember.zeros(2, 3).size(2)


def test_transposes_T_and_mT():
    a = RNG.standard_normal((2, 3))
    np.testing.assert_array_equal(values(ember.tensor(a).T), a.T)
    b = RNG.standard_normal((4, 2, 3))
    mt = ember.tensor(b).mT
    assert mt.shape == (4, 3, 2)
    np.testing.assert_array_equal(values(mt), np.swapaxes(b, -1, -2))


def test_autograd_attributes_of_leaves_and_results():
    x = ember.ones(2, requires_grad=True)
    y = x * 2
    plain = ember.ones(2)
    assert x.is_leaf and x.requires_grad and x.grad_fn is None and x.grad is None
    assert not y.is_leaf and y.requires_grad and y.grad_fn is not None
    assert plain.is_leaf and not plain.requires_grad


def test_data_property_reads_and_writes_without_history():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    d = x.data
    assert not d.requires_grad and d.grad_fn is None
    d.mul_(3)  # shares memory, and no leaf error: .data is outside autograd
    np.testing.assert_array_equal(values(x), [3.0, 6.0])
    x.data = ember.tensor([5.0, 6.0, 7.0])
    assert x.shape == (3,) and x.requires_grad and x.is_leaf
    np.testing.assert_array_equal(values(x), [5.0, 6.0, 7.0])


def test_is_contiguous_and_contiguous():
    t = ember.tensor(RNG.standard_normal((3, 4)))
    assert t.is_contiguous()
    assert t.contiguous() is t
    tt = t.t()
    assert not tt.is_contiguous()
    c = tt.contiguous()
    assert c.is_contiguous()
    np.testing.assert_array_equal(values(c), values(t).T)


# ================================================================ conversion
def test_numpy_shares_memory_and_refuses_tensors_that_require_grad():
    t = ember.zeros(3)
    arr = t.numpy()
    arr[1] = 4.0
    assert t[1].item() == 4.0
    needs_grad = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        needs_grad.numpy()
    np.testing.assert_array_equal(needs_grad.detach().numpy(), [1.0, 1.0])


def test_item_returns_python_numbers():
    assert ember.tensor(2.5).item() == 2.5 and type(ember.tensor(2.5).item()) is float
    assert type(ember.tensor([7]).item()) is int
    assert ember.tensor(True).item() is True
    assert type(ember.tensor(1.5, dtype=ember.bfloat16).item()) is float


def test_tolist_returns_nested_python_lists():
    assert ember.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert ember.tensor(1.5).tolist() == 1.5
    assert ember.tensor([True, False]).tolist() == [True, False]
    assert ember.tensor([0.5], dtype=ember.bfloat16).tolist() == [0.5]


def test_python_number_protocols():
    assert float(ember.tensor([2.5])) == 2.5
    assert int(ember.tensor(3.9)) == 3
    assert bool(ember.tensor([1])) is True and bool(ember.tensor(0.0)) is False
    assert list(range(ember.tensor(3))) == [0, 1, 2]
    assert [10, 20, 30][ember.tensor(1)] == 20


def test_to_dtype_device_and_tensor():
    t = ember.tensor([1.5, -2.5])
    assert t.to(ember.float32) is t  # nothing to do: the same tensor, as in PyTorch
    assert t.to("cpu") is t and t.cpu() is t
    assert t.to(ember.float64).dtype is ember.float64
    assert t.to("cpu", ember.int32).dtype is ember.int32
    assert t.to(device=ember.device("cpu"), dtype=ember.float16).dtype is ember.float16
    assert t.to(ember.zeros(1, dtype=ember.int8)).dtype is ember.int8
    copied = t.to(ember.float32, copy=True)
    assert copied is not t
    copied.add_(1)
    np.testing.assert_array_equal(values(t), [1.5, -2.5])


@pytest.mark.parametrize("method, dtype", [
    ("float", ember.float32), ("double", ember.float64), ("half", ember.float16),
    ("bfloat16", ember.bfloat16), ("long", ember.int64), ("int", ember.int32), ("short", ember.int16),
    ("char", ember.int8), ("byte", ember.uint8), ("bool", ember.bool),
])
def test_dtype_conversion_methods(method, dtype):
    source = np.array([-1.75, 0.0, 0.5, 2.25, 3.0])
    t = getattr(ember.tensor(source, dtype=ember.float64), method)()
    assert t.dtype is dtype
    if dtype.is_floating_point:
        np.testing.assert_allclose(values(t).astype(np.float64), source, rtol=1e-2)
    elif dtype is ember.bool:
        np.testing.assert_array_equal(values(t), source != 0)
    elif dtype is ember.uint8:
        np.testing.assert_array_equal(values(t)[1:], np.trunc(source[1:]))
    else:  # float -> int truncates toward zero
        np.testing.assert_array_equal(values(t), np.trunc(source))


def test_type_as_and_type():
    t = ember.tensor([1.7, -1.7])
    converted = t.type_as(ember.zeros(1, dtype=ember.int64))
    assert converted.dtype is ember.int64 and converted.tolist() == [1, -1]
    assert t.type(ember.float64).dtype is ember.float64


def test_clone_copies_and_keeps_the_graph():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.requires_grad and not c.is_leaf
    (c * 3).sum().backward()
    np.testing.assert_array_equal(values(x.grad), [3.0, 3.0])
    plain = ember.tensor([1.0, 2.0])
    copy = plain.clone()
    copy.add_(1)
    np.testing.assert_array_equal(values(plain), [1.0, 2.0])


def test_detach_shares_memory_and_drops_history():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    d.zero_()
    np.testing.assert_array_equal(values(y), [0.0, 0.0])


def test_array_protocol():
    source = RNG.standard_normal((2, 2)).astype(np.float32)
    t = ember.tensor(source)
    np.testing.assert_array_equal(np.asarray(t), source)
    as64 = np.asarray(t, dtype=np.float64)
    assert as64.dtype == np.float64
    np.testing.assert_array_equal(as64, source.astype(np.float64))


def test_dlpack_exchange_with_numpy_shares_memory():
    t = ember.arange(4.0)
    exported = np.from_dlpack(t)
    np.testing.assert_array_equal(exported, [0, 1, 2, 3])
    exported[0] = 10.0
    assert t[0].item() == 10.0
    source = np.arange(3, dtype=np.int32)
    imported = ember.from_dlpack(source)
    assert imported.dtype is ember.int32
    source[2] = 8
    assert imported[2].item() == 8
    roundtrip = ember.from_dlpack(t)
    np.testing.assert_array_equal(values(roundtrip), values(t))


def test_dlpack_refuses_tensors_that_require_grad():
    with pytest.raises(RuntimeError, match="require"):
        ember.ones(2, requires_grad=True).__dlpack__()


def test_inplace_methods_return_self_and_keep_dtype():
    t = ember.tensor([1, 2, 3], dtype=ember.int32)
    assert t.add_(2) is t
    assert t.dtype is ember.int32
    np.testing.assert_array_equal(values(t), [3, 4, 5])
    assert t.zero_() is t and t.tolist() == [0, 0, 0]
    assert t.fill_(7) is t and t.tolist() == [7, 7, 7]


def test_inplace_op_cannot_change_the_dtype_category():
    t = ember.tensor([1, 2], dtype=ember.int64)
    with pytest.raises(RuntimeError, match="Float.*Long|float32.*int64"):
        t.mul_(1.5)


def test_size_keyword_in_factories():
    assert ember.zeros(size=(2, 3)).shape == (2, 3)
    assert ember.ones(size=[4]).tolist() == [1.0] * 4
    assert ember.empty(size=(1, 2)).shape == (1, 2)
    assert ember.rand(size=(3,)).shape == (3,) and ember.randn(size=(2, 2)).shape == (2, 2)


def test_strides_and_device_index():
    t = ember.zeros(2, 3, 4)
    assert t.stride() == (12, 4, 1) and t.stride(1) == 4 and t.stride(-1) == 1
    assert t.permute(2, 0, 1).stride() == (1, 12, 4)
    assert ember.zeros(3, 1).expand(3, 5).stride() == (1, 0)
    assert t.get_device() == -1


def test_small_helpers():
    assert ember.is_floating_point(ember.ones(1)) and not ember.is_floating_point(ember.ones(1, dtype=ember.int64))
    assert ember.Size([2]) + ember.Size([3]) == ember.Size([2, 3])
    assert isinstance(ember.Size([2]) + (3,), ember.Size)
    assert [row.tolist() for row in ember.tensor([[1, 2], [3, 4]])] == [[1, 2], [3, 4]]
    assert 2 in ember.tensor([1, 2, 3]) and 5 not in ember.tensor([1, 2, 3])
    with pytest.raises(TypeError):
        len(ember.tensor(1))
