"""PyTorch's behaviour for creation, conversion, devices, grad modes and random draws (the
expected values, classes and messages were read off PyTorch 2.13)."""
import numpy as np
import pytest

import ember


def test_unknown_device_types_are_refused_with_the_known_ones():
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda, .*mps.* device type at start of device "
                                           "string: foo"):
        ember.device("foo")
    assert str(ember.device("xla:0")) == "xla:0"  # PyTorch knows the type; using it is what fails
    assert ember.device("opencl").type == "opencl"


@pytest.mark.parametrize("data, dtype", [
    ([np.int32(1)], ember.int32), ([np.float64(1.5)], ember.float64), ([np.int32(1), 2], ember.int64),
    ([np.int16(1), 2.5], ember.float32), ([True, np.int8(1)], ember.int8), ([[np.float16(1)]], ember.float16),
    ([np.bool_(True)], ember.bool), (np.float64(2), ember.float64), ([1, 2], ember.int64), ([1.5], ember.float32),
])
def test_tensor_infers_numpy_scalars_as_pytorch_does(data, dtype):
    assert ember.tensor(data).dtype is dtype


def test_format_and_python_numbers():
    assert format(ember.tensor(1.23456), ".4f") == "1.2346" and f"{ember.tensor(2.5):.3f}" == "2.500"
    assert format(ember.ones(2), "") == repr(ember.ones(2))
    with pytest.raises(TypeError, match="unsupported format string passed to Tensor.__format__"):
        format(ember.tensor([1.2]), ".2f")
    with pytest.raises(ValueError, match="only one element tensors can be converted to Python scalars"):
        float(ember.ones(2))
    with pytest.raises(ValueError, match="only one element tensors"):
        int(ember.ones(2))
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted to Scalar"):
        ember.ones(2).item()


@pytest.mark.parametrize("bad", ["float", 5])
def test_a_dtype_argument_must_be_a_dtype(bad):
    with pytest.raises(TypeError, match="argument 'dtype' must be ember.dtype"):
        ember.ones(2, dtype=bad)


def test_to_takes_non_blocking_and_copy_positionally():
    x = ember.ones(2)
    assert x.to(ember.float64, True).dtype is ember.float64
    assert x.to(ember.float32, False, True) is not x and x.to(ember.float32, False, False) is x


def test_grad_modes_as_pytorch():
    assert not ember.is_inference_mode_enabled()
    with ember.no_grad():
        assert not ember.is_inference_mode_enabled() and not ember.is_grad_enabled()
        with ember.inference_mode(False):
            assert ember.is_grad_enabled() and not ember.is_inference_mode_enabled()
    with ember.inference_mode():
        assert ember.is_inference_mode_enabled() and not ember.is_grad_enabled()

    @ember.no_grad
    def bare():
        return ember.is_grad_enabled()

    @ember.set_grad_enabled(False)
    def decorated():
        return ember.is_grad_enabled()
    assert ember.is_grad_enabled() and bare() is False and decorated() is False and ember.is_grad_enabled()

    @ember.inference_mode
    def inferring():
        return ember.is_inference_mode_enabled()
    assert inferring() and not ember.is_inference_mode_enabled()


def test_random_fills_follow_pytorchs_ranges():
    assert int(ember.ones(200).random_(10).max()) < 10
    drawn = ember.ones(200).random_(2, 5)
    assert 2 <= float(drawn.min()) and float(drawn.max()) < 5
    small = ember.ones(500, dtype=ember.int8).random_()
    assert int(small.min()) >= 0 and small.dtype is ember.int8
    assert int(ember.ones(500, dtype=ember.uint8).random_().max()) <= 255
    assert float(ember.ones(500, dtype=ember.float16).random_().max()) <= 2048
    assert set(ember.ones(100, dtype=ember.bool).random_().tolist()) <= {False, True}
    with pytest.raises(RuntimeError, match="random_ expects 'from' to be less than 'to', but got from=0 >= to=0"):
        ember.ones(3).random_(0)


def test_normal_with_tensor_arguments_takes_no_size():
    with pytest.raises(TypeError, match="normal\\(\\) received an invalid combination of arguments"):
        ember.normal(ember.zeros(2), 1.0, size=(3,))
    assert ember.normal(0.0, 1.0, size=(3,)).shape == (3,)
    assert ember.normal(2.0, ember.ones(3)).shape == (3,)


def test_a_generator_must_belong_to_the_device(any_device):
    if any_device == "cpu":
        return
    with pytest.raises(RuntimeError, match=f"Expected a '{any_device}' device type for generator but found 'cpu'"):
        ember.randn(2, device=any_device, generator=ember.Generator(device="cpu"))
    mine = ember.Generator(device=any_device)
    assert ember.randn(2, device=any_device, generator=mine).device.type == any_device


@pytest.mark.parametrize("call, error, message", [
    (lambda: ember.tensor([300], dtype=ember.uint8), RuntimeError, "value cannot be converted to type uint8"),
    (lambda: ember.tensor([-256], dtype=ember.uint8), RuntimeError, "without overflow"),
    (lambda: ember.tensor([2 ** 63]), ValueError, "Overflow when unpacking long long"),
    (lambda: ember.tensor(None), RuntimeError, "Could not infer dtype of NoneType"),
    (lambda: ember.tensor({1: 2}), RuntimeError, "Could not infer dtype of dict"),
    (lambda: ember.tensor("a"), TypeError, "invalid data type 'str'"),
    (lambda: ember.tensor([ember.tensor([1, 2])]), TypeError, "only integer tensors of a single element"),
    (lambda: ember.tensor([[1, 2], [3]]), ValueError, "sequence|inhomogeneous"),
    (lambda: ember.full((2,), 300, dtype=ember.uint8), RuntimeError, "without overflow"),
    (lambda: ember.full((2,), 1e40), RuntimeError, "value cannot be converted to type float32"),
    (lambda: ember.full(2, 5), TypeError, "argument 'size' \\(position 1\\) must be tuple of ints, not int"),
    (lambda: ember.arange(0, 2, 0.5, dtype=ember.int64), ValueError, "step must be nonzero"),
    (lambda: ember.arange(0, 2, 0), RuntimeError, "step must be nonzero"),
    (lambda: ember.arange(3, dtype=ember.bool), NotImplementedError, "'Bool'"),
    (lambda: ember.arange(float("inf")), RuntimeError, "unsupported range: 0 -> inf"),
    (lambda: ember.arange(3, 0), RuntimeError, "upper bound and lower bound inconsistent with step sign"),
    (lambda: ember.Size([2.5]), TypeError, "takes an iterable of 'int' \\(item 0 is 'float'\\)"),
    (lambda: ember.iinfo(ember.bool), TypeError, "not supported by ember.iinfo"),
    (lambda: ember.device(" cpu"), RuntimeError, "Invalid device string"),
    (lambda: iter(ember.tensor(1.0)), TypeError, "iteration over a 0-d tensor"),
    (lambda: +ember.tensor([True]), RuntimeError, "The `\\+` operator, on a bool tensor is not supported"),
    (lambda: ~ember.ones(2), TypeError, "only implemented on integer and Boolean-type tensors"),
    (lambda: ember.ones(2) < None, TypeError, "not supported between instances of 'Tensor' and 'NoneType'"),
])
def test_pytorchs_errors_for_bad_values(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_pytorchs_results_for_edge_values():
    assert ember.tensor([-1], dtype=ember.uint8).tolist() == [255]
    assert ember.tensor([1e40], dtype=ember.float64).item() == 1e40
    assert ember.tensor([1e40]).tolist() == [float("inf")]  # the default float32 overflows, as PyTorch's
    assert ember.tensor([1.5], dtype=ember.int64).tolist() == [1]
    assert ember.tensor([ember.tensor(1.5), 2]).dtype is ember.float32
    assert ember.full((2,), -255, dtype=ember.uint8).tolist() == [1, 1]
    assert ember.full_like(ember.ones(2, dtype=ember.uint8), -1).tolist() == [255, 255]
    assert ember.full((1,), 70000.0, dtype=ember.float16).tolist() == [float("inf")]
    assert ember.arange(0, 5, 1.5, dtype=ember.int64).tolist() == [0, 1, 2, 3, 4]
    t = ember.ones(2)
    assert (t == None) is False and (t != None) is True and (None == t) is False  # noqa: E711
    assert [10, 20][ember.tensor(True)] == 20 and list(range(ember.tensor(True))) == [0]
    assert ember.ones(3).nbytes == 12 and ember.ones(2, dtype=ember.int16).itemsize == 2
    assert not ember.ones(2, dtype=ember.uint8).is_signed() and ember.ones(2).is_signed()
    assert [x.tolist() for x in ember.tensor([[1, 2], [3, 4]])] == [[1, 2], [3, 4]]
    assert ember.finfo(ember.float16).resolution == 0.001 and ember.finfo(ember.float32).resolution == 1e-06
    assert ember.device("cpu") != "cpu" and ember.device("cpu") == ember.device("cpu")


def test_numpy_keyword_names_are_accepted_as_pytorch_does():
    a = ember.ones(2, 3)
    assert ember.sum(a, axis=1).tolist() == [3.0, 3.0] and a.sum(axis=0).shape == (3,)
    assert a.mean(axis=1, keepdims=True).shape == (2, 1) and ember.max(a, axis=1).values.shape == (2,)
    assert ember.cat([a, a], axis=1).shape == (2, 6) and ember.concatenate([a, a], axis=0).shape == (4, 3)
    with pytest.raises(TypeError, match="got both 'dim' and its alias 'axis'"):
        a.sum(dim=0, axis=1)
