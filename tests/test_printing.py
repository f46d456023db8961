"""``repr(tensor)`` in PyTorch's format.

Each expected string is what PyTorch prints for the same tensor (with ``torch.`` read
as ``ember.`` in dtype names): the element format (integer-valued floats, fixed point
with 4 decimals, scientific), one width per tensor, 80-column wrapping, summarisation
of large tensors, and the suffixes (dtype, device, size, grad_fn, requires_grad).
"""
import pytest

import ember

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("make, expected", [
    # element formats
    (lambda: ember.tensor([0.1, 0.2]), "tensor([0.1000, 0.2000])"),
    (lambda: ember.tensor([1.0, 2.0]), "tensor([1., 2.])"),
    (lambda: ember.tensor([0.0, 0.0]), "tensor([0., 0.])"),
    (lambda: ember.tensor([-0.0, 1.0]), "tensor([-0., 1.])"),
    (lambda: ember.tensor([0.0, 0.5, -1.25]), "tensor([ 0.0000,  0.5000, -1.2500])"),
    (lambda: ember.tensor([-0.5, 0.25]), "tensor([-0.5000,  0.2500])"),
    (lambda: ember.tensor([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
    (lambda: ember.tensor([1e10, 1.0]), "tensor([1.0000e+10, 1.0000e+00])"),
    (lambda: ember.tensor([1.0, 2000.0]), "tensor([1.0000e+00, 2.0000e+03])"),
    (lambda: ember.tensor([0.001, 2.0]), "tensor([1.0000e-03, 2.0000e+00])"),
    (lambda: ember.tensor([123456.789, 1.0]), "tensor([1.2346e+05, 1.0000e+00])"),
    # non-finite values
    (lambda: ember.tensor([NAN, 1.0, -INF]), "tensor([nan, 1., -inf])"),
    (lambda: ember.tensor([NAN, 1.5]), "tensor([   nan, 1.5000])"),
    (lambda: ember.tensor([INF, 1e-6]), "tensor([       inf, 1.0000e-06])"),
    (lambda: ember.tensor([NAN]), "tensor([nan])"),
    # integers and booleans share one width
    (lambda: ember.tensor([1, -20, 300]), "tensor([  1, -20, 300])"),
    (lambda: ember.tensor([True, False]), "tensor([ True, False])"),
    (lambda: ember.tensor([[True, False], [False, True]]), "tensor([[ True, False],\n        [False,  True]])"),
    # 0-d tensors
    (lambda: ember.tensor(3.5), "tensor(3.5000)"),
    (lambda: ember.tensor(3), "tensor(3)"),
    (lambda: ember.tensor(True), "tensor(True)"),
])
def test_element_formats(make, expected):
    assert repr(make()) == expected
    assert str(make()) == expected


@pytest.mark.parametrize("make, expected", [
    (lambda: ember.tensor([1, 2], dtype=ember.int32), "tensor([1, 2], dtype=ember.int32)"),
    (lambda: ember.tensor([1, 2], dtype=ember.uint8), "tensor([1, 2], dtype=ember.uint8)"),
    (lambda: ember.tensor([1.5, 2], dtype=ember.float64), "tensor([1.5000, 2.0000], dtype=ember.float64)"),
    (lambda: ember.tensor([1.5, 2], dtype=ember.float16), "tensor([1.5000, 2.0000], dtype=ember.float16)"),
    (lambda: ember.tensor([0.1, 0.2], dtype=ember.bfloat16), "tensor([0.1001, 0.2002], dtype=ember.bfloat16)"),
    (lambda: ember.tensor([]), "tensor([])"),
    (lambda: ember.zeros(2, 0), "tensor([], size=(2, 0))"),
    (lambda: ember.zeros(1, 0, 2), "tensor([], size=(1, 0, 2))"),
    (lambda: ember.zeros(0, dtype=ember.int32), "tensor([], dtype=ember.int32)"),
    (lambda: ember.zeros(0, dtype=ember.int64), "tensor([], dtype=ember.int64)"),
])
def test_dtype_and_size_suffixes(make, expected):
    assert repr(make()) == expected


def test_autograd_suffixes():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
    assert repr((x * 2).sum()) == "tensor(6., grad_fn=<SumBackward0>)"
    assert repr((x * 2).detach()) == "tensor([2., 4.])"
    m = ember.tensor([[1.5, -2.25], [3.0, 4.0]], dtype=ember.float64, requires_grad=True)
    assert repr(m) == ("tensor([[ 1.5000, -2.2500],\n"
                       "        [ 3.0000,  4.0000]], dtype=ember.float64, requires_grad=True)")


def test_dtype_suffix_follows_the_default_dtype():
    saved = ember.get_default_dtype()
    try:
        ember.set_default_dtype(ember.float64)
        assert repr(ember.tensor([1.5])) == "tensor([1.5000])"
        assert repr(ember.tensor([1.5], dtype=ember.float32)) == "tensor([1.5000], dtype=ember.float32)"
    finally:
        ember.set_default_dtype(saved)


def test_device_suffix():
    from _fakedev import fake_device
    fake_device("fakedev")
    assert repr(ember.tensor([1.0, 2.0], device="fakedev:1")) == "tensor([1., 2.], device='fakedev:1')"


def test_rows_and_higher_dimensions():
    assert repr(ember.arange(12).reshape(3, 4) - 5) == ("tensor([[-5, -4, -3, -2],\n"
                                                       "        [-1,  0,  1,  2],\n"
                                                       "        [ 3,  4,  5,  6]])")
    assert repr(ember.arange(24.0).reshape(2, 3, 4)) == (
        "tensor([[[ 0.,  1.,  2.,  3.],\n"
        "         [ 4.,  5.,  6.,  7.],\n"
        "         [ 8.,  9., 10., 11.]],\n"
        "\n"
        "        [[12., 13., 14., 15.],\n"
        "         [16., 17., 18., 19.],\n"
        "         [20., 21., 22., 23.]]])")
    assert repr(ember.arange(6.0).reshape(1, 2, 3, 1)) == (
        "tensor([[[[0.],\n"
        "          [1.],\n"
        "          [2.]],\n"
        "\n"
        "         [[3.],\n"
        "          [4.],\n"
        "          [5.]]]])")


def test_long_rows_wrap_at_80_columns():
    assert repr(ember.arange(10.0) / 3) == (
        "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n"
        "        3.0000])")
    assert repr(ember.arange(30)) == (
        "tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,\n"
        "        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29])")


def test_large_tensors_are_summarised():
    assert repr(ember.arange(2000)) == "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"
    assert repr(ember.arange(2000.0) / 7) == (
        "tensor([0.0000e+00, 1.4286e-01, 2.8571e-01,  ..., 2.8529e+02, 2.8543e+02,\n"
        "        2.8557e+02])")
    assert repr(ember.arange(3000).reshape(30, 100)) == (
        "tensor([[   0,    1,    2,  ...,   97,   98,   99],\n"
        "        [ 100,  101,  102,  ...,  197,  198,  199],\n"
        "        [ 200,  201,  202,  ...,  297,  298,  299],\n"
        "        ...,\n"
        "        [2700, 2701, 2702,  ..., 2797, 2798, 2799],\n"
        "        [2800, 2801, 2802,  ..., 2897, 2898, 2899],\n"
        "        [2900, 2901, 2902,  ..., 2997, 2998, 2999]])")


def test_size_and_device_reprs():
    assert repr(ember.zeros(2, 3).shape) == "ember.Size([2, 3])"
    assert repr(ember.Size([])) == "ember.Size([])"
    assert repr(ember.device("cpu")) == "device(type='cpu')"
    assert repr(ember.float16) == "ember.float16"
