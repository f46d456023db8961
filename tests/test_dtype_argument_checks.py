"""Dtype and argument checks found while extending autocast (issue 14 follow-up): ``addmv`` refuses mixed
dtypes, ``layer_norm`` its parameters' dtypes as PyTorch's CPU kernels do, and ``max_pool2d`` keeps integer
inputs integer on every backend and takes 0-d integer tensors as sizes. The messages are PyTorch 2.13's
(pinned by hand against a CPU install)."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from conftest import DEVICES


# ---------------------------------------------------------------- addmv
@pytest.mark.parametrize("dtypes, names", [
    (("bfloat16", "float32", "float32"), "BFloat16, Float, and Float"),
    (("float32", "float32", "float64"), "Float, Float, and Double"),
    (("float64", "float32", "float32"), "Double, Float, and Float"),
    (("int64", "float32", "float32"), "Long, Float, and Float"),
])
def test_addmv_refuses_mixed_dtypes(dtypes, names):
    shapes = ((3,), (3, 4), (4,))
    args = [ember.randn(*s).to(getattr(ember, d)) for s, d in zip(shapes, dtypes)]
    for kwargs in ({}, {"beta": 0}):  # PyTorch checks even when the input is not read
        with pytest.raises(RuntimeError, match=f"addmv input tensors must have the same dtype, but got {names}$"):
            ember.addmv(*args, **kwargs)


def test_addmv_same_dtype_still_computes():
    rng = np.random.default_rng(0)
    v, m, w = rng.standard_normal(3), rng.standard_normal((3, 4)), rng.standard_normal(4)
    got = ember.addmv(ember.tensor(v), ember.tensor(m), ember.tensor(w), beta=0.5, alpha=2)
    assert got.dtype is ember.float64
    np.testing.assert_allclose(got.numpy(), 0.5 * v + 2 * m @ w, rtol=1e-12)


# ---------------------------------------------------------------- layer_norm
_MIXED = "mixed dtype \\(CPU\\): expect parameter to have scalar type of Float"
_SHARE = "mixed dtype \\(CPU\\): all inputs must share same datatype."


@pytest.mark.parametrize("x, w, b, outcome", [
    ("float64", "float32", "float32", _SHARE),
    ("float64", "float32", None, _SHARE),
    ("float64", None, "float32", _SHARE),
    ("float32", "float64", "float64", _MIXED),
    ("float32", None, "float64", _MIXED),
    ("bfloat16", "float32", "bfloat16", _MIXED),
    ("float16", "bfloat16", None, _MIXED),
    ("float32", "float32", "float64", "expected scalar type Float but found Double"),
    ("bfloat16", "bfloat16", "float32", "expected scalar type BFloat16 but found Float"),
    ("bfloat16", "float32", "float32", "bfloat16"),   # PyTorch's mixed kernels: float32 parameters
    ("float16", None, "float32", "float16"),
    ("float64", "float64", None, "float64"),
])
def test_layer_norm_parameter_dtypes(x, w, b, outcome):
    def make(dtype, *shape):
        return None if dtype is None else ember.randn(*shape).to(getattr(ember, dtype))
    args = (make(x, 2, 4), (4,), make(w, 4), make(b, 4))
    if outcome in ("bfloat16", "float16", "float64"):
        assert F.layer_norm(*args).dtype is getattr(ember, outcome)
    else:
        with pytest.raises(RuntimeError, match=f"^{outcome}$"):
            F.layer_norm(*args)


def test_layer_norm_module_refuses_float64_input_and_mixed_result_is_right():
    with pytest.raises(RuntimeError, match=_SHARE):
        ember.nn.LayerNorm(4)(ember.randn(2, 4, dtype=ember.float64))
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((3, 8)), rng.standard_normal(8), rng.standard_normal(8)
    low = ember.tensor(x).bfloat16()
    got = F.layer_norm(low, (8,), ember.tensor(w).float(), ember.tensor(b).float())
    xr = low.double().numpy()
    want = (xr - xr.mean(1, keepdims=True)) / np.sqrt(xr.var(1, keepdims=True) + 1e-5) * w + b
    assert got.dtype is ember.bfloat16
    np.testing.assert_allclose(got.double().numpy(), want, rtol=0.02, atol=0.03)


# ---------------------------------------------------------------- max_pool2d
@pytest.mark.parametrize("device", DEVICES)
def test_max_pool2d_keeps_integer_inputs_integer(device):
    values = np.random.default_rng(2).integers(-50, 50, (1, 2, 7, 7))
    x = ember.tensor(values).to(device)
    got, indices = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    padded = np.pad(values, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=np.iinfo(np.int64).min)
    want = np.array([[[[padded[n, c, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max() for j in range(4)] for i in range(4)]
                      for c in range(2)] for n in range(1)])
    assert got.dtype is ember.int64 and indices.dtype is ember.int64
    np.testing.assert_array_equal(got.cpu().numpy(), want)
    assert F.max_pool2d(x, 2).dtype is ember.int64


@pytest.mark.parametrize("device", DEVICES)
def test_max_pool2d_takes_zero_dim_integer_tensors_as_sizes(device):
    x = ember.randn(1, 2, 6, 6).to(device)
    want = F.max_pool2d(x, 2, 2).cpu().numpy()
    for kernel, stride in ((ember.tensor(2), None), (2, ember.tensor(2)), (ember.tensor([2]), np.int64(2)),
                           ((ember.tensor(2), ember.tensor(2)), [])):
        np.testing.assert_array_equal(F.max_pool2d(x, kernel, stride).cpu().numpy(), want)
    with pytest.raises(TypeError):  # PyTorch: "must be tuple of ints, not Tensor" for a float tensor
        F.max_pool2d(x, ember.tensor(2.0))
