"""PyTorch's behaviour for indexing, gather/scatter, index_* ops, masks, sorting picks and shape ops, on
every device: the values, exception classes and messages written here were checked against PyTorch 2.13
(CPU). Every bad input must be refused by ember's op layer before a backend kernel sees it."""
import re
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F


def t(data, device, **kw):
    return ember.tensor(data, device=device, **kw)


def arange(n, device, shape=None):
    x = ember.arange(float(n), device=device)
    return x.reshape(shape) if shape else x


def same(a, expected, dtype=None):
    assert a.tolist() == expected
    if dtype is not None:
        assert a.dtype is dtype


def raises(exc, message):
    """``pytest.raises`` matching ``message`` literally (it names values in brackets and parentheses)."""
    return pytest.raises(exc, match=re.escape(message))


def assign(x, key, value):
    y = x.clone()
    y[key] = value
    return y


# ================================================================ slice steps (checked before any kernel)
@pytest.mark.parametrize("key", [slice(None, None, 0), (slice(None), slice(None, None, 0)),
                                 (0, slice(1, None, 0))])
def test_a_zero_slice_step_is_refused_for_get_and_set(any_device, key):
    x = arange(6, any_device, (2, 3))
    with raises(ValueError, "slice step cannot be zero"):
        x[key]
    with raises(ValueError, "slice step cannot be zero"):
        x[key] = 1.0


@pytest.mark.parametrize("key", [slice(None, None, -1), (slice(None), slice(None, None, -2)), (0, slice(2, 0, -1))])
def test_a_negative_slice_step_is_refused_for_get_and_set(any_device, key):
    x = arange(6, any_device, (2, 3))
    with raises(ValueError, "step must be greater than zero"):
        x[key]
    with raises(ValueError, "step must be greater than zero"):
        x[key] = 1.0
    same(x, [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])  # nothing was written


def test_slice_bounds_and_steps_may_be_tensors(any_device):
    x = arange(6, any_device)
    same(x[::ember.tensor(2)], [0.0, 2.0, 4.0])
    same(x[ember.tensor(1):ember.tensor(4)], [1.0, 2.0, 3.0])
    with raises(ValueError, "step must be greater than zero"):
        x[::ember.tensor(-1)]


# ================================================================ ellipses
def test_several_ellipses_index_as_pytorch_does(any_device):
    z = arange(24, any_device, (2, 3, 4))
    E = Ellipsis
    assert z[E, E].shape == (2, 3, 4) and z[E, E, E].shape == (2, 3, 4)
    same(z[E, 0, E], z[..., 0].tolist())
    assert z[0, E, E].shape == (3, 4) and z[E, None, E].shape == (2, 3, 4, 1)
    assert z[E, 0, 0, E].shape == (2,) and z[E, ember.tensor([0], device=any_device), E].shape == (2, 3, 1)
    w = z.clone()
    w[E, 0, E] = -1.0
    assert (w == -1).sum().item() == 6 and (w[..., 1:] == -1).sum().item() == 0


@pytest.mark.parametrize("key", [(Ellipsis, Ellipsis, 0), (Ellipsis, None, Ellipsis, 0), (Ellipsis, Ellipsis, None),
                                 (0, Ellipsis, Ellipsis, 0)])
def test_an_index_after_a_second_ellipsis_is_refused_for_get_and_set(any_device, key):
    # PyTorch reads past the tensor's shape here (and raises an IndexError with varying text)
    z = arange(24, any_device, (2, 3, 4))
    with raises(IndexError, "an index can only have a single ellipsis ('...')"):
        z[key]
    with raises(IndexError, "an index can only have a single ellipsis ('...')"):
        z[key] = 1.0


# ================================================================ __setitem__ values that do not broadcast
@pytest.mark.parametrize("key, value_shape, message", [
    (slice(None), (2, 2), "The expanded size of the tensor (3) must match the existing size (2) at non-singleton "
                          "dimension 1.  Target sizes: [2, 3].  Tensor sizes: [2, 2]"),
    (0, (2,), "The expanded size of the tensor (3) must match the existing size (2) at non-singleton dimension 0.  "
              "Target sizes: [3].  Tensor sizes: [2]"),
    ((0, slice(0, 2)), (1, 1, 3), "The expanded size of the tensor (2) must match the existing size (3) at "
                                  "non-singleton dimension 0.  Target sizes: [2].  Tensor sizes: [3]"),
    (0, (2, 3), "expand(torch.FloatTensor{[2, 3]}, size=[3]): the number of sizes provided (1) must be greater or "
                "equal to the number of dimensions in the tensor (2)"),
])
def test_setitem_with_a_value_that_does_not_broadcast_raises_pytorchs_error(any_device, key, value_shape, message):
    x = arange(6, any_device, (2, 3))
    if "FloatTensor" in message and any_device != "cpu":
        message = message.replace("torch.FloatTensor", f"torch.{any_device}.FloatTensor")
    with raises(RuntimeError, message):
        x[key] = ember.ones(value_shape, device=any_device)
    same(x, [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])


def test_setitem_drops_the_values_leading_ones(any_device):
    x = arange(6, any_device)
    same(assign(x, slice(0, 3), ember.ones(1, 1, 3, device=any_device)), [1.0, 1.0, 1.0, 3.0, 4.0, 5.0])
    same(assign(x, ember.tensor([0, 1], device=any_device), ember.ones(1, 1, 2, device=any_device) * 7),
         [7.0, 7.0, 2.0, 3.0, 4.0, 5.0])


@pytest.mark.parametrize("key, value_shape, message", [
    ([0, 1], (3,), "shape mismatch: value tensor of shape [3] cannot be broadcast to indexing result of shape [2]"),
    ([0, 1], (2, 2), "shape mismatch: value tensor of shape [2, 2] cannot be broadcast to indexing result of shape "
                     "[2]"),
    ([0, 1], (1, 1, 3), "shape mismatch: value tensor of shape [3] cannot be broadcast to indexing result of "
                        "shape [2]"),
    ("mask", (2,), "shape mismatch: value tensor of shape [2] cannot be broadcast to indexing result of shape [3]"),
])
def test_setitem_with_index_tensors_and_a_bad_value_raises_pytorchs_error(any_device, key, value_shape, message):
    x = arange(6, any_device)
    key = x > 2 if key == "mask" else ember.tensor(key, device=any_device)
    with raises(RuntimeError, message):
        x[key] = ember.ones(value_shape, device=any_device)
    same(x, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])


def test_index_put_checks_the_values_shape(any_device):
    x = ember.zeros(3, 4, device=any_device)
    index = (ember.tensor([0, 1], device=any_device),)
    with raises(RuntimeError, "shape mismatch: value tensor of shape [3] cannot be broadcast to indexing result of "
                              "shape [2, 4]"):
        x.index_put_(index, ember.ones(3, device=any_device))
    with raises(RuntimeError, "shape mismatch: value tensor of shape [1, 2] cannot be broadcast to indexing result "
                              "of shape [2]"):
        ember.zeros(3, device=any_device).index_put(index, ember.ones(1, 2, device=any_device), accumulate=True)
    with raises(IndexError, "too many indices for tensor of dimension 1 (got 2)"):
        ember.zeros(3, device=any_device).index_put_(index * 2, ember.tensor(1.0, device=any_device))


# ================================================================ index values out of range
@pytest.mark.parametrize("op, exc, message", [
    (lambda x, i: ember.gather(x, 0, i), RuntimeError, "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x, i: x.scatter(0, i, ember.ones(1, device=x.device)), RuntimeError,
     "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x, i: x.scatter(0, i, 1.0), RuntimeError, "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x, i: x.clone().scatter_(0, i, 1.0), RuntimeError, "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x, i: x.scatter_add(0, i, ember.ones(1, device=x.device)), RuntimeError,
     "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x, i: x.scatter_reduce(0, i, ember.ones(1, device=x.device), "amax", include_self=False), RuntimeError,
     "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x, i: x.scatter_reduce(0, i, ember.ones(1, device=x.device), "mean"), RuntimeError,
     "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x, i: ember.take_along_dim(x, i), RuntimeError, "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x, i: ember.take(x, i), IndexError, "out of range: tried to access index 5 on a tensor of 3 elements."),
    (lambda x, i: ember.index_select(x, 0, i), IndexError, "index out of range in self"),
    (lambda x, i: x.index_add(0, i, ember.ones(1, device=x.device)), IndexError, "index out of range in self"),
    (lambda x, i: x.clone().index_add_(0, i, ember.ones(1, device=x.device)), IndexError,
     "index out of range in self"),
    (lambda x, i: x.index_copy(0, i, ember.ones(1, device=x.device)), IndexError,
     "index_copy_(): index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x, i: x.index_fill(0, i, 1.0), IndexError, "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x, i: x[i], IndexError, "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x, i: assign(x, i, 1.0), IndexError, "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x, i: x.index_put((i,), ember.tensor(1.0, device=x.device)), IndexError,
     "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x, i: x.index_put((i,), ember.tensor(1.0, device=x.device), accumulate=True), IndexError,
     "index 5 is out of bounds for dimension 0 with size 3"),
])
def test_an_index_out_of_range_raises_pytorchs_error(any_device, op, exc, message):
    x = ember.tensor([1.0, 2.0, 3.0], device=any_device)
    with raises(exc, message):
        op(x, ember.tensor([5], device=any_device))


@pytest.mark.parametrize("op, message", [
    (lambda x, i: ember.gather(x, 0, i), "index -1 is out of bounds for dimension 0 with size 3"),
    (lambda x, i: x.scatter(0, i, 1.0), "index -1 is out of bounds for dimension 0 with size 3"),
    (lambda x, i: ember.index_select(x, 0, i), "index out of range in self"),
    (lambda x, i: x.index_add(0, i, ember.ones(1, device=x.device)), "index out of range in self"),
    (lambda x, i: x.index_copy(0, i, ember.ones(1, device=x.device)),
     "index_copy_(): index -1 is out of bounds for dimension 0 with size 3"),
])
def test_negative_indices_are_out_of_range_where_pytorch_says_so(any_device, op, message):
    # before: ember wrapped them silently (a wrong result)
    x = ember.tensor([1.0, 2.0, 3.0], device=any_device)
    with pytest.raises((RuntimeError, IndexError), match=re.escape(message)):
        op(x, ember.tensor([-1], device=any_device))


def test_negative_indices_count_from_the_end_where_pytorch_allows_them(any_device):
    x = ember.tensor([1.0, 2.0, 3.0], device=any_device)
    neg = ember.tensor([-1, 0], device=any_device)
    same(x[neg], [3.0, 1.0])
    same(ember.take(x, neg), [3.0, 1.0])
    same(x.index_fill(0, neg, 9.0), [9.0, 2.0, 9.0])
    same(assign(x, neg, 0.0), [0.0, 2.0, 0.0])
    same(x.index_put((neg,), ember.tensor(1.0, device=any_device), accumulate=True), [2.0, 2.0, 4.0])
    with raises(IndexError, "index -4 is out of bounds for dimension 0 with size 3"):
        x[ember.tensor([-4], device=any_device)]
    with raises(IndexError, "out of range: tried to access index -4 on a tensor of 3 elements."):
        ember.take(x, ember.tensor([-4], device=any_device))


def test_out_of_range_errors_name_the_first_bad_index_and_its_dimension(any_device):
    m = arange(6, any_device, (2, 3))
    i = lambda data: ember.tensor(data, device=any_device)  # noqa: E731
    with raises(RuntimeError, "index 7 is out of bounds for dimension 0 with size 3"):
        ember.gather(ember.tensor([1.0, 2.0, 3.0], device=any_device), 0, i([1, 7, 5]))
    with raises(RuntimeError, "index 4 is out of bounds for dimension 1 with size 3"):
        ember.gather(m, 1, i([[0], [4]]))
    with raises(RuntimeError, "index 7 is out of bounds for dimension 1 with size 3"):
        m.scatter(1, i([[0, 1], [7, 5]]), 1.0)
    # with several index tensors, the dimension is the index tensor's place among them, as in PyTorch
    with raises(IndexError, "index 3 is out of bounds for dimension 0 with size 3"):
        m[:, i([3])]
    with raises(IndexError, "index 3 is out of bounds for dimension 1 with size 3"):
        m[i([0, 1]), i([0, 3])]
    with raises(IndexError, "shape mismatch: indexing tensors could not be broadcast together with shapes [2], "
                            "[3]"):
        m[i([0, 1]), i([0, 1, 2])]


def test_index_ops_along_other_dims_word_the_error_as_pytorchs_kernels(any_device):
    m = arange(6, any_device, (2, 3))
    i = ember.tensor([3], device=any_device)
    with raises(RuntimeError, "INDICES element is out of DATA bounds, id=3 axis_dim=3"):
        m.index_select(1, i)
    with raises(RuntimeError, "index 3 is out of bounds for dimension 1 with size 3"):
        m.index_add(1, i, ember.ones(2, 1, device=any_device))
    with raises(IndexError, "index_copy_(): index 3 is out of bounds for dimension 1 with size 3"):
        m.index_copy(1, i, ember.ones(2, 1, device=any_device))
    with raises(IndexError, "index 3 is out of bounds for dimension 1 with size 3"):
        m.index_fill(1, i, 1.0)
    with raises(IndexError, "index out of range in self"):
        ember.zeros(2, 3, 4, device=any_device).index_add(1, i, ember.ones(2, 1, 4, device=any_device))
    with raises(IndexError, "take(): tried to take from an empty tensor"):
        ember.take(ember.zeros(0, device=any_device), ember.tensor([0], device=any_device))


def test_index_ops_check_dtypes_and_shapes_as_pytorch(any_device):
    m = arange(6, any_device, (2, 3))
    i = ember.tensor([0], device=any_device)
    with raises(RuntimeError, "index_add_(): self (Float) and source (Long) must have the same scalar type"):
        m.index_add(0, i, ember.ones(1, 3, dtype=ember.int64, device=any_device))
    with raises(RuntimeError, "source tensor shape must match self tensor shape, excluding the specified "
                              "dimension. Got self.shape = [2, 3] source.shape = [1, 2]"):
        m.index_add(0, i, ember.ones(1, 2, device=any_device))
    with raises(IndexError, "index_copy_(): Number of indices (1) should be equal to source.size(dim) (2)"):
        m.index_copy(0, i, ember.ones(2, 3, device=any_device))
    with raises(RuntimeError, "scatter(): Expected self.dtype to be equal to src.dtype"):
        m.scatter(0, ember.tensor([[0]], device=any_device), ember.ones(1, 1, dtype=ember.int64, device=any_device))
    with raises(RuntimeError, "take(): Expected a long tensor for index, but got Int"):
        ember.take(m, ember.tensor([1], dtype=ember.int32, device=any_device))
    same(ember.gather(m, 1, ember.tensor([[2], [0]], dtype=ember.int32, device=any_device)), [[2.0], [3.0]])


def test_take_along_dim_wraps_indices_along_dim_as_pytorch_does(any_device):
    # PyTorch 2.13 takes each index modulo the size of dim (take_along_dim without dim is gather, which checks)
    x = ember.tensor([1.0, 2.0, 3.0], device=any_device)
    same(ember.take_along_dim(x, ember.tensor([3, 4, 8, -1, -4, 100], device=any_device), 0),
         [1.0, 2.0, 3.0, 3.0, 3.0, 2.0])
    m = arange(6, any_device, (2, 3))
    same(ember.take_along_dim(m, ember.tensor([[2, 3, 4]], device=any_device), 0), [[0.0, 4.0, 2.0]])
    with raises(RuntimeError, "index -1 is out of bounds for dimension 0 with size 6"):
        ember.take_along_dim(m, ember.tensor([[-1]], device=any_device))


# ================================================================ masks
@pytest.mark.parametrize("dtype", [ember.uint8, ember.int64, ember.float32])
def test_masked_ops_need_a_bool_mask(any_device, dtype):
    names = {ember.uint8: ("unsigned char", "Byte"), ember.int64: ("long int", "Long"),
             ember.float32: ("float", "Float")}[dtype]
    x = arange(6, any_device)
    mask = ember.ones(6, dtype=dtype, device=any_device)
    with raises(RuntimeError, "masked_select: expected BoolTensor for mask"):
        ember.masked_select(x, mask)
    with raises(RuntimeError, f"masked_fill_ only supports boolean masks, but got mask with dtype {names[0]}"):
        x.masked_fill(mask, 1.0)
    with raises(RuntimeError, f"masked_scatter_ only supports boolean masks, but got mask with dtype {names[1]}"):
        x.masked_scatter(mask, x)
    with raises(RuntimeError, f"masked_scatter_ only supports boolean masks, but got mask with dtype {names[1]}"):
        x.clone().masked_scatter_(mask, x)


def test_masked_scatter_needs_enough_source_elements(any_device):
    x = arange(6, any_device)
    with raises(RuntimeError, "Number of elements of source < number of ones in mask"):
        x.masked_scatter(x > 0, ember.ones(2, device=any_device))
    same(x.masked_scatter(x > 3, ember.tensor([7.0, 8.0, 9.0], device=any_device)), [0.0, 1.0, 2.0, 3.0, 7.0, 8.0])
    with raises(RuntimeError, "The size of tensor a (2) must match the size of tensor b (6) at non-singleton "
                              "dimension 0"):
        ember.masked_select(x, ember.tensor([True, False], device=any_device))


# ================================================================ diag, diag_embed
def test_diag_embed_honours_offset_and_dims(any_device):
    same(ember.diag_embed(ember.tensor([1.0, 2.0], device=any_device), 1),
         [[0.0, 1.0, 0.0], [0.0, 0.0, 2.0], [0.0, 0.0, 0.0]])
    same(ember.tensor([1.0, 2.0], device=any_device).diag_embed(offset=-1),
         [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    b = ember.tensor([[1.0, 2.0], [3.0, 4.0]], device=any_device)
    same(ember.diag_embed(b, -1, 0, 2), [[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], [[1.0, 0.0, 0.0], [3.0, 0.0, 0.0]],
                                         [[0.0, 2.0, 0.0], [0.0, 4.0, 0.0]]])
    same(ember.diag_embed(b, 0, 0, 1), [[[1.0, 3.0], [0.0, 0.0]], [[0.0, 0.0], [2.0, 4.0]]])
    same(ember.diag_embed(arange(6, any_device, (2, 3)), 0, -1, -3),
         [[[0.0, 0.0, 0.0], [3.0, 0.0, 0.0]], [[0.0, 1.0, 0.0], [0.0, 4.0, 0.0]], [[0.0, 0.0, 2.0], [0.0, 0.0, 5.0]]])
    assert ember.diag_embed(ember.tensor([1.0, 2.0], device=any_device), 3).shape == (5, 5)
    same(ember.diag_embed(ember.tensor([float("inf"), 1.0], device=any_device)), [[float("inf"), 0.0], [0.0, 1.0]])
    same(ember.diag_embed(ember.tensor([1, 2], device=any_device), 1), [[0, 1, 0], [0, 0, 2], [0, 0, 0]],
         ember.int64)
    with raises(RuntimeError, "diagonal dimensions cannot be identical -2, 1"):
        ember.diag_embed(b, 0, -2, 1)
    with raises(IndexError, "Dimension out of range (expected to be in range of [-3, 2], but got 3)"):
        ember.diag_embed(b, 0, 0, 3)


def test_diag_embed_differentiates(any_device):
    x = ember.tensor([1.0, 2.0], device=any_device, requires_grad=True)
    (ember.diag_embed(x, -1) * ember.arange(9.0, device=any_device).reshape(3, 3)).sum().backward()
    same(x.grad, [3.0, 7.0])


@pytest.mark.parametrize("shape", [(2, 2, 2), (1, 1, 1, 1), ()])
def test_diag_takes_only_1d_or_2d_tensors(any_device, shape):
    with raises(RuntimeError, f"diag(): Supports 1D or 2D tensors. Got {len(shape)}D"):
        ember.diag(ember.zeros(shape, device=any_device))


# ================================================================ unique_consecutive, kthvalue, median
def test_unique_consecutive_honours_dim(any_device):
    rows = ember.tensor([[1, 2], [1, 2], [3, 4], [1, 2]], device=any_device)
    same(ember.unique_consecutive(rows, dim=0), [[1, 2], [3, 4], [1, 2]])
    values, inverse, counts = ember.unique_consecutive(rows, return_inverse=True, return_counts=True, dim=0)
    same(values, [[1, 2], [3, 4], [1, 2]])
    same(inverse, [0, 0, 1, 2], ember.int64)
    same(counts, [2, 1, 1], ember.int64)
    values, inverse, counts = ember.unique_consecutive(ember.tensor([[1, 1, 2], [3, 3, 4]], device=any_device),
                                                       return_inverse=True, return_counts=True, dim=1)
    same(values, [[1, 2], [3, 4]])
    same(inverse, [0, 0, 1])
    same(counts, [2, 1])
    cube = ember.tensor([[[1, 1], [1, 1], [2, 2]], [[1, 1], [1, 1], [2, 3]]], device=any_device)
    values, counts = ember.unique_consecutive(cube, return_counts=True, dim=1)
    same(values, [[[1, 1], [2, 2]], [[1, 1], [2, 3]]])
    same(counts, [2, 1])
    same(ember.tensor([[1, 2], [1, 2]], device=any_device).unique_consecutive(dim=-2), [[1, 2]])
    nan = float("nan")
    assert ember.unique_consecutive(ember.tensor([[nan], [nan]], device=any_device), dim=0).shape == (2, 1)
    values, inverse, counts = ember.unique_consecutive(ember.zeros(0, 2, device=any_device), return_inverse=True,
                                                       return_counts=True, dim=0)
    assert values.shape == (0, 2) and inverse.shape == (0,) and counts.shape == (0,)


def test_unique_consecutive_refuses_bad_dims(any_device):
    with raises(IndexError, "Dimension out of range (expected to be in range of [-2, 1], but got 2)"):
        ember.unique_consecutive(ember.zeros(2, 2, device=any_device), dim=2)
    with raises(IndexError, "Dimension specified as 0 but tensor has no dimensions"):
        ember.unique_consecutive(ember.tensor(3, device=any_device), dim=0)
    with raises(RuntimeError, "There are 0 sized dimensions, and they aren't selected, so unique cannot be applied"):
        ember.unique_consecutive(ember.zeros(3, 0, device=any_device), dim=0)


def test_kthvalue_checks_k_and_names_its_result(any_device):
    m = arange(6, any_device, (2, 3))
    with raises(RuntimeError, "kthvalue(): selected number k out of range for dimension 0"):
        ember.kthvalue(arange(3, any_device), 4)
    with raises(RuntimeError, "kthvalue(): selected number k out of range for dimension 0"):
        ember.kthvalue(arange(3, any_device), 0)
    with raises(RuntimeError, "kthvalue(): selected number k out of range for dimension 1"):
        m.kthvalue(5, -1)
    with raises(IndexError, "kthvalue(): Expected reduction dim 0 to have non-zero size."):
        ember.kthvalue(ember.zeros(0, device=any_device), 1)
    result = ember.kthvalue(m, 2, 1, True)
    assert type(result).__name__ == "kthvalue"
    same(result.values, [[1.0], [4.0]])
    same(result.indices, [[1], [1]], ember.int64)
    scalar = ember.kthvalue(ember.tensor(3.0, device=any_device), 1)
    assert scalar.values.shape == () and scalar.values.item() == 3.0 and scalar.indices.item() == 0
    with raises(RuntimeError, "kthvalue(): selected number k out of range for dimension 0"):
        ember.kthvalue(ember.tensor(3.0, device=any_device), 2)
    assert type(ember.median(m, 1)).__name__ == "median"
    assert ember.median(ember.tensor(3.0, device=any_device), 0).values.item() == 3.0
    with raises(IndexError, "median(): Expected reduction dim 0 to have non-zero size."):
        ember.median(ember.zeros(0, device=any_device), 0)


# ================================================================ tensor_split, movedim, permute
@pytest.mark.parametrize("sections", [0, -2])
def test_tensor_split_needs_a_positive_number_of_sections(any_device, sections):
    with raises(RuntimeError, f"number of sections must be larger than 0, got {sections}"):
        ember.tensor_split(arange(6, any_device), sections)


def test_tensor_split_takes_tensors_as_pytorch(any_device):
    x = arange(6, any_device)
    assert [p.tolist() for p in ember.tensor_split(x, ember.tensor(3))] == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    assert [p.tolist() for p in ember.tensor_split(x, ember.tensor([1, 4]))] == [[0.0], [1.0, 2.0, 3.0], [4.0, 5.0]]
    with raises(RuntimeError, "tensor_split expected tensor_indices_or_sections to have dtype of long, but got "
                              "Float"):
        ember.tensor_split(x, ember.tensor([1.0, 4.0]))
    with raises(RuntimeError, "tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims"):
        ember.tensor_split(ember.tensor(1.0, device=any_device), 2)


def test_movedim_checks_its_dims(any_device):
    m = arange(6, any_device, (2, 3))
    with raises(RuntimeError, "movedim: Invalid source or destination dims: source ([0, 1] dims) should contain the "
                              "same number of dims as destination ([1] dims)"):
        ember.movedim(m, (0, 1), (1,))
    with raises(RuntimeError, "movedim: repeated dim in `source` ([0, -2])"):
        ember.movedim(m, (0, -2), (0, 1))
    with raises(RuntimeError, "movedim: repeated dim in `destination` ([0, 0])"):
        m.movedim((0, 1), (0, 0))
    with raises(IndexError, "Dimension out of range (expected to be in range of [-2, 1], but got 2)"):
        ember.movedim(m, 2, 0)
    with raises(IndexError, "Dimension out of range (expected to be in range of [-2, 1], but got 5)"):
        ember.movedim(m, (0, 1), (1, 5))
    with pytest.raises(TypeError, match="movedim"):
        ember.movedim(m, 0, (0, 1))
    assert ember.movedim(ember.zeros(2, 3, 4, device=any_device), [0, 1], [2, 0]).shape == (3, 4, 2)
    assert ember.movedim(ember.tensor(3.0, device=any_device), 0, 0).shape == ()


def test_permute_checks_its_dims(any_device):
    m = arange(6, any_device, (2, 3))
    with raises(RuntimeError, "permute(): duplicate dims are not allowed."):
        m.permute(1, -1)
    with raises(RuntimeError, "number of dimensions in the tensor input does not match the length of the desired "
                              "ordering of dimensions i.e. input.dim() = 2 is not equal to len(dims) = 3"):
        m.permute(0, 1, 2)


# ================================================================ dims out of range
def _dim_error(low, high, got):
    return raises(IndexError, f"Dimension out of range (expected to be in range of [{low}, {high}], but got {got})")


@pytest.mark.parametrize("op", [
    lambda m: m.transpose(0, 2), lambda m: m.swapaxes(2, 0), lambda m: ember.swapdims(m, 0, 2),
    lambda m: m.permute(0, 2), lambda m: m.select(2, 0), lambda m: m.narrow(2, 0, 1), lambda m: m.squeeze(2),
    lambda m: m.squeeze((0, 2)), lambda m: m.flatten(2), lambda m: m.flatten(0, 2), lambda m: m.unflatten(2, (1, 3)),
    lambda m: m.unbind(2), lambda m: m.split(1, 2), lambda m: m.chunk(1, 2), lambda m: m.flip(2),
    lambda m: m.roll(1, 2), lambda m: m.diagonal(0, 0, 2), lambda m: ember.cat([m, m], 2),
])
def test_a_dim_out_of_range_raises_index_error(any_device, op):
    with _dim_error(-2, 1, 2):
        op(arange(6, any_device, (2, 3)))


def test_dims_of_a_0d_tensor_are_minus_one_and_zero(any_device):
    s = ember.tensor(3.0, device=any_device)
    with _dim_error(-1, 0, 1):
        s.transpose(0, 1)
    with _dim_error(-1, 0, 1):
        s.squeeze(1)
    with _dim_error(-1, 0, 1):
        s.squeeze((0, 1))
    with _dim_error(-1, 0, 1):
        s.flatten(0, 1)
    assert s.transpose(-1, 0).shape == () and s.squeeze(0).shape == () and s.flatten(0, -1).shape == (1,)
    with _dim_error(-3, 2, 3):
        arange(6, any_device, (2, 3)).unsqueeze(3)
    with raises(IndexError, "select() cannot be applied to a 0-dim tensor."):
        s.select(0, 0)
    with raises(RuntimeError, "narrow() cannot be applied to a 0-dim tensor."):
        s.narrow(0, 0, 1)
    with raises(IndexError, "Dimension specified as 0 but tensor has no dimensions"):
        s.unbind(0)
    with raises(RuntimeError, "split expects at least a 1-dimensional tensor"):
        s.split(1)


def test_a_dim_named_twice_is_refused(any_device):
    with raises(RuntimeError, "dim 0 appears multiple times in the list of dims"):
        ember.zeros(1, 2, device=any_device).squeeze((0, 0))
    with raises(RuntimeError, "dim 0 appears multiple times in the list of dims"):
        ember.zeros(1, 2, device=any_device).flip((0, -2))


def test_unflatten_checks_its_sizes(any_device):
    m = arange(6, any_device, (2, 3))
    with raises(RuntimeError, "unflatten: Provided sizes [2, 2] don't multiply up to the size of dim 1 (3) in the "
                              "input tensor"):
        m.unflatten(1, (2, 2))
    with raises(RuntimeError, "unflatten: sizes must be non-empty"):
        m.unflatten(1, ())


# ================================================================ cat, stack
def test_cat_and_stack_check_ranks_and_sizes(any_device):
    z = lambda *shape: ember.zeros(*shape, device=any_device)  # noqa: E731
    with raises(RuntimeError, "Tensors must have same number of dimensions: got 1 and 2"):
        ember.cat([z(2), z(2, 2)])
    with raises(RuntimeError, "Sizes of tensors must match except in dimension 0. Expected size 2 but got size 3 for "
                              "tensor number 1 in the list."):
        ember.cat([z(2, 2), z(2, 3)])
    with raises(RuntimeError, "Sizes of tensors must match except in dimension 1. Expected size 2 but got size 3 for "
                              "tensor number 1 in the list."):
        ember.cat([z(2, 2), z(3, 3)], -1)
    with raises(RuntimeError, "zero-dimensional tensor (at position 1) cannot be concatenated"):
        ember.cat([z(2), ember.tensor(1.0, device=any_device)])
    with raises(RuntimeError, "zero-dimensional tensor (at position 1) cannot be concatenated"):
        ember.cat([z(0), ember.tensor(1.0, device=any_device)])
    with raises(RuntimeError, "stack expects each tensor to be equal size, but got [2] at entry 0 and [2, 2] at "
                              "entry 1"):
        ember.stack([z(2), z(2, 2)])
    with raises(RuntimeError, "stack expects each tensor to be equal size, but got [2] at entry 0 and [3] at entry 1"):
        ember.stack([z(2), z(3)])
    same(ember.stack([ember.tensor(3.0, device=any_device)] * 2), [3.0, 3.0])


def test_joining_no_tensors_raises_as_pytorch():
    with raises(ValueError, "torch.cat(): expected a non-empty list of Tensors"):
        ember.cat([])
    with raises(ValueError, "torch.cat(): expected a non-empty list of Tensors"):
        ember.concat(())
    with raises(RuntimeError, "stack expects a non-empty TensorList"):
        ember.stack([])
    with raises(RuntimeError, "hstack expects a non-empty TensorList"):
        ember.hstack([])
    with raises(RuntimeError, "vstack expects a non-empty TensorList"):
        ember.vstack([])


# ================================================================ repeat_interleave, max_unpool
def test_repeat_interleave_checks_output_size(any_device):
    x = ember.tensor([1, 2], device=any_device)
    same(ember.repeat_interleave(x, 2, output_size=4), [1, 1, 2, 2])
    same(ember.repeat_interleave(x, ember.tensor([1, 2], device=any_device), output_size=3), [1, 2, 2])
    with raises(RuntimeError, "repeat_interleave: Invalid output_size, expected 4 but got 3"):
        ember.repeat_interleave(x, 2, output_size=3)
    with raises(RuntimeError, "repeat_interleave: Invalid output_size, expected 4 but got 5"):
        x.repeat_interleave(2, output_size=5)
    with raises(RuntimeError, "repeat_interleave: Invalid output_size, expected 6 but got 5"):
        ember.repeat_interleave(arange(6, any_device, (2, 3)), 2, dim=1, output_size=5)
    for repeats in (ember.tensor([1, 2], device=any_device), ember.tensor(2, device=any_device)):
        with raises(RuntimeError, "allocated size does not match required size"):
            ember.repeat_interleave(x, repeats, output_size=2)
    with raises(RuntimeError, "allocated size does not match required size"):
        ember.repeat_interleave(x, output_size=2)
    with raises(RuntimeError, "Repeats must be non-negative"):
        ember.repeat_interleave(x, -1)


def _pooled_1d():
    return F.max_pool1d(ember.arange(8.0).reshape(1, 1, 8), 2, return_indices=True)


def _pooled_2d():
    return F.max_pool2d(ember.arange(16.0).reshape(1, 1, 4, 4), 2, return_indices=True)


def test_max_unpool_checks_the_length_of_output_size():
    with raises(ValueError, "output_size should be a sequence containing 1 or 3 elements, but it has a length of "
                            "'4'"):
        F.max_unpool1d(*_pooled_1d(), 2, output_size=(1, 1, 2, 8))
    with raises(ValueError, "output_size should be a sequence containing 1 or 3 elements, but it has a length of "
                            "'2'"):
        F.max_unpool1d(*_pooled_1d(), 2, output_size=(1, 9))
    with raises(ValueError, "output_size should be a sequence containing 2 or 4 elements, but it has a length of "
                            "'3'"):
        F.max_unpool2d(*_pooled_2d(), 2, output_size=(1, 4, 4))
    with raises(ValueError, "output_size should be a sequence containing 2 or 4 elements, but it has a length of "
                            "'3'"):
        ember.nn.MaxUnpool2d(2)(*_pooled_2d(), output_size=(1, 4, 4))
    with raises(ValueError, 'invalid output_size "(20,)" (dim 0 must be between 6 and 10)'):
        F.max_unpool1d(*_pooled_1d(), 2, output_size=(1, 1, 20))
    assert F.max_unpool1d(*_pooled_1d(), 2, output_size=(1, 1, 9)).shape == (1, 1, 9)
    assert F.max_unpool2d(*_pooled_2d(), 2, output_size=(5, 5)).shape == (1, 1, 5, 5)


def test_max_unpool_refuses_indices_outside_the_output(any_device):
    with raises(RuntimeError, "Found an invalid max index: 9 (output volumes are of size 4x1)"):
        F.max_unpool1d(ember.ones(1, 1, 2, device=any_device), ember.tensor([[[0, 9]]], device=any_device), 2)
    with raises(RuntimeError, "Found an invalid max index: -1 (output volumes are of size 4x1)"):
        F.max_unpool1d(ember.ones(1, 1, 2, device=any_device), ember.tensor([[[0, -1]]], device=any_device), 2)
    with raises(RuntimeError, "Found an invalid max index: 99 (output volumes are of size 4x4)"):
        F.max_unpool2d(ember.ones(1, 1, 2, 2, device=any_device),
                       ember.tensor([[[[0, 1], [-3, 99]]]], device=any_device), 2)
    with raises(RuntimeError, "elements in indices should be type int64 but got: Int"):
        F.max_unpool2d(ember.ones(1, 1, 2, 2, device=any_device),
                       ember.tensor([[[[0, 1], [1, 2]]]], dtype=ember.int32, device=any_device), 2)


# ================================================================ uint8 keys
def test_a_uint8_index_tensor_is_a_mask_as_in_pytorch(any_device):
    m = arange(6, any_device, (2, 3))
    with pytest.warns(UserWarning, match="indexing with dtype torch.uint8 is now deprecated"):
        same(m[ember.tensor([1, 0], dtype=ember.uint8, device=any_device)], [[0.0, 1.0, 2.0]])
    with warnings.catch_warnings():  # PyTorch warns only once per process
        warnings.simplefilter("ignore")
        same(m[np.array([0, 1], dtype=np.uint8)], [[3.0, 4.0, 5.0]])


def test_median_as_pytorch(any_device):
    # checked against PyTorch 2.13: NaN propagates, empty gives NaN (or the smallest integer), bool is refused
    nan = float("nan")
    t = ember.tensor([[1.0, nan, 2.0], [3.0, 1.0, 2.0]], device=any_device)
    assert np.isnan(t.median().item())
    values, indices = t.median(1)
    assert np.isnan(values[0].item()) and values[1].item() == 2.0 and indices.tolist() == [1, 2]
    assert np.isnan(ember.tensor([], device=any_device).median().item())
    assert ember.tensor([], dtype=ember.int64, device=any_device).median().item() == -2 ** 63
    assert ember.tensor([3.0, 1.0, 2.0, 4.0], device=any_device).median().item() == 2.0
    with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
        ember.tensor([True], device=any_device).median()
