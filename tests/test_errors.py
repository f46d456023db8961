"""Errors a user can cause raise PyTorch's exception type with a message naming the values.

Two-device errors use fake numpy-backed device types registered at run time (see
``_fakedev.py``), so they run on any machine.
"""
import numpy as np
import pytest

import ember
from _fakedev import fake_device


@pytest.fixture(scope="module")
def fakedev():
    fake_device("fakedev")
    return "fakedev"


@pytest.fixture(scope="module")
def nofallback():
    fake_device("fakenofb", allow_cpu_fallback=False)
    return "fakenofb"


# ================================================================ shapes
def test_broadcast_mismatch_names_both_sizes_and_the_dim():
    with pytest.raises(RuntimeError, match=r"size of tensor a \(2\) must match the size of tensor b \(4\) "
                                           r"at non-singleton dimension 0"):
        ember.ones(2, 3) + ember.ones(4, 3)
    with pytest.raises(RuntimeError, match=r"tensor a \(3\) must match the size of tensor b \(5\) "
                                           r"at non-singleton dimension 1"):
        ember.ones(3, 1) * ember.ones(2, 5, 1)


def test_broadcast_mismatch_in_where_names_the_right_operand():
    with pytest.raises(RuntimeError, match=r"\(3\) must match the size of tensor c \(4\)"):
        ember.where(ember.ones(3, dtype=ember.bool), ember.ones(3), ember.ones(4))


@pytest.mark.parametrize("a, b, text", [
    ((2, 3), (2, 3), "2x3 and 2x3"),
    ((4, 5), (6, 2), "4x5 and 6x2"),
])
def test_matmul_shape_mismatch(a, b, text):
    with pytest.raises(RuntimeError, match=f"shapes cannot be multiplied \\({text}\\)"):
        ember.ones(*a) @ ember.ones(*b)
    with pytest.raises(RuntimeError, match=text):
        ember.mm(ember.ones(*a), ember.ones(*b))


def test_vector_shape_mismatches():
    with pytest.raises(RuntimeError, match=r"\[2\].*\[3\]"):
        ember.dot(ember.ones(2), ember.ones(3))
    with pytest.raises(RuntimeError, match="2x3"):
        ember.mv(ember.ones(2, 3), ember.ones(4))
    with pytest.raises(RuntimeError, match="3D"):
        ember.bmm(ember.ones(2, 3), ember.ones(2, 3))


def test_cat_and_stack_mismatches():
    with pytest.raises(RuntimeError, match="Expected size 3 but got size 4 for tensor number 1"):
        ember.cat([ember.ones(2, 3), ember.ones(2, 4)])
    with pytest.raises(RuntimeError, match="same number of dimensions: got 2 and 1"):
        ember.cat([ember.ones(2, 3), ember.ones(2)])
    with pytest.raises(RuntimeError, match=r"got \[2\] at entry 0 and \[3\] at entry 1"):
        ember.stack([ember.ones(2), ember.ones(3)])


def test_view_and_reshape_mismatches():
    with pytest.raises(RuntimeError, match=r"shape '\[4\]' is invalid for input of size 6"):
        ember.ones(2, 3).view(4)
    with pytest.raises(RuntimeError, match=r"shape '\[4, 2\]' is invalid for input of size 6"):
        ember.ones(2, 3).reshape(4, 2)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        ember.ones(2, 3).view(-1, -1)
    with pytest.raises(RuntimeError, match="view size is not compatible.*reshape"):
        ember.ones(2, 3).t().view(6)
    np.testing.assert_array_equal(ember.arange(6).view(2, 3).t().reshape(6).numpy(), [0, 3, 1, 4, 2, 5])


def test_expand_and_copy_mismatches():
    with pytest.raises(RuntimeError, match=r"expanded size of the tensor \(3\) must match the existing size \(2\)"):
        ember.ones(2, 3).expand(3, 3)
    with pytest.raises(RuntimeError, match=r"\(3\) must match the size of tensor b \(2\)"):
        ember.ones(2, 3).copy_(ember.ones(3, 2))


@pytest.mark.parametrize("call, text", [
    (lambda: ember.ones(2, 3).sum(dim=2), r"range of \[-2, 1\], but got 2"),
    (lambda: ember.ones(2, 3).transpose(0, 2), r"but got 2"),
    (lambda: ember.ones(2, 3).unsqueeze(4), r"range of \[-3, 2\], but got 4"),
    (lambda: ember.ones(2, 3).softmax(-3), r"but got -3"),
    (lambda: ember.ones(2, 3)[:, 3], "index 3 is out of bounds for dimension 1 with size 3"),
    (lambda: ember.ones(2, 3)[0, 0, 0], "too many indices"),
])
def test_index_errors_name_the_dim_or_index(call, text):
    with pytest.raises(IndexError, match=text):
        call()


def test_creation_errors():
    with pytest.raises(RuntimeError, match=r"negative dimension -1: \[2, -1\]"):
        ember.zeros(2, -1)
    with pytest.raises(RuntimeError, match="negative dimension"):
        ember.randperm(-1)
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        ember.arange(0, 5, 0)
    with pytest.raises(RuntimeError, match="from=5 >= to=2"):
        ember.randint(5, 2, (3,))
    with pytest.raises(TypeError, match="expected np.ndarray"):
        ember.from_numpy([1, 2])
    with pytest.raises(TypeError):
        ember.tensor("abc")
    with pytest.raises(ValueError):
        ember.tensor([[1, 2], [3]])


# ================================================================ dtypes
@pytest.mark.parametrize("call", [
    lambda: ember.ones(2) & ember.ones(2),
    lambda: ember.bitwise_or(ember.ones(2, dtype=ember.float64), 1),
    lambda: ember.tensor([1, 2]) ^ 1.5,
])
def test_bitwise_ops_on_floats_are_not_implemented(call):
    with pytest.raises(NotImplementedError, match="bitwise_(and|or|xor).*float"):
        call()


def test_mean_of_an_integer_tensor_names_the_dtype():
    with pytest.raises(RuntimeError, match="mean.*floating point.*int64"):
        ember.ones(2, dtype=ember.int64).mean()
    assert ember.ones(2, dtype=ember.int64).mean(dtype=ember.float32).item() == 1.0


@pytest.mark.parametrize("dtype", [ember.int64, ember.int32, ember.uint8, ember.bool])
def test_only_floating_tensors_can_require_grad(dtype):
    with pytest.raises(RuntimeError, match="floating point"):
        ember.ones(2, dtype=dtype).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        ember.zeros(2, dtype=dtype, requires_grad=True)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # numpy's, for the float case
def test_integer_division_by_zero():
    for call in (lambda t: t // 0, lambda t: t % 0, lambda t: ember.fmod(t, 0),
                 lambda t: ember.div(t, ember.tensor([1, 0]), rounding_mode="trunc")):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            call(ember.tensor([1, 2]))
    assert np.isinf((ember.tensor([1.0]) / 0).item())  # floats divide by zero quietly


def test_integer_tensor_to_a_negative_power():
    with pytest.raises(RuntimeError, match="negative integer powers"):
        ember.tensor([1, 2]) ** -1


def test_inplace_result_that_does_not_fit_the_dtype():
    with pytest.raises(RuntimeError, match="can't be cast"):
        ember.tensor([1, 2]).div_(2)


def test_masks_must_be_boolean():
    with pytest.raises(RuntimeError, match="boolean masks.*long int"):
        ember.ones(3).masked_fill(ember.tensor([1, 0, 1]), 0.0)


def test_scalar_conversions_need_one_element():
    with pytest.raises(RuntimeError, match="2 elements cannot be converted to Scalar"):
        ember.ones(2).item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(ember.ones(2))
    with pytest.raises(TypeError):
        [1, 2][ember.tensor(1.0)]


# ================================================================ devices
def test_tensors_on_two_devices_name_both(fakedev):
    a, b = ember.ones(2, device="fakedev:0"), ember.ones(2, device="fakedev:1")
    with pytest.raises(RuntimeError, match="same device.*fakedev:0 and fakedev:1"):
        a + b
    with pytest.raises(RuntimeError, match="same device.*cpu and fakedev:0"):
        ember.ones(2) * a
    with pytest.raises(RuntimeError, match="same device.*cpu and fakedev:0"):
        ember.ones(3).add_(ember.ones(3, device=fakedev))
    copied = ember.zeros(2).copy_(a)  # copy_ is the one op that moves data between devices
    np.testing.assert_array_equal(copied.numpy(), [1.0, 1.0])


def test_zero_dim_cpu_tensors_and_scalars_join_any_device(fakedev):
    x = ember.tensor([1.0, 2.0], device="fakedev:1")
    y = x * ember.tensor(3.0) + 1
    assert y.device == ember.device("fakedev:1")
    np.testing.assert_array_equal(y.cpu().numpy(), [4.0, 7.0])


def test_device_index_out_of_range(fakedev):
    with pytest.raises(RuntimeError, match="fakedev:5.*out of range"):
        ember.zeros(2, device="fakedev:5")


def test_unavailable_device_gives_the_reason():
    fake_device("fakeabsent", reason="no fake hardware found")
    with pytest.raises(RuntimeError, match="'fakeabsent' is not available: no fake hardware found"):
        ember.zeros(2, device="fakeabsent")


def test_op_without_a_kernel_names_op_device_and_plugin(nofallback):
    t = ember.ones(3, device=nofallback)
    with pytest.raises(NotImplementedError, match="op 'exp' has no kernel for device 'fakenofb'.*"
                                                  "plugin 'fakenofb-plugin'.*does not allow a CPU fallback"):
        t.exp()
    np.testing.assert_array_equal((t + t).cpu().numpy(), [2.0, 2.0, 2.0])  # kernels it has still run


# ================================================================ autograd
def test_backward_twice_without_retain_graph():
    x = ember.ones(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        y.backward()


def test_inplace_modification_of_a_saved_tensor_names_shape_and_versions():
    x = ember.ones(3, requires_grad=True)
    y = x * 1
    z = y.sin()
    y.mul_(2)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: \[ember.float32 \[3\]\].*"
                                           r"SinBackward0, is at version 1; expected version 0"):
        z.sum().backward()


def test_inplace_on_a_leaf_that_requires_grad():
    x = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        x.mul_(2)


def test_backward_needs_a_graph_and_a_scalar_or_a_gradient():
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        ember.ones(2).sum().backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        ember.ones(2).backward()
    y = ember.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"Mismatch in shape.*\[3\].*\[2\]"):
        y.backward(ember.ones(3))


def test_autograd_grad_of_an_input_that_does_not_require_grad():
    x = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        ember.autograd.grad((x * 2).sum(), ember.ones(2))


def test_numpy_of_a_tensor_that_requires_grad():
    with pytest.raises(RuntimeError, match=r"requires grad.*detach\(\)"):
        ember.ones(2, requires_grad=True).numpy()


def test_custom_function_returning_too_many_gradients():
    class TooMany(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    y = TooMany.apply(ember.ones(2, requires_grad=True))
    with pytest.raises(RuntimeError, match=r"incorrect number of gradients \(expected 1, got 2\)"):
        y.sum().backward()
