"""Complex dtypes as PyTorch 2.13 has them: the dtype objects and promotion, creation, casts,
printing, serialization, the real/imag views, conjugation, the ops PyTorch refuses, and autograd
with PyTorch's convention (the conjugate Wirtinger derivative), checked by finite differences.

The elementwise math on complex tensors is checked on every device by the conformance suite
(``ember/testing/opdb/complex.py``); this file holds what the op database cannot express.
"""
import io
import os
import pickle
import warnings

import numpy as np
import pytest

import ember
from conftest import DEVICES

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
C64, C128 = ember.complex64, ember.complex128


def _np(t):
    return t.detach().cpu().numpy()


def _random(shape, dtype=np.complex128, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


@pytest.fixture
def default_float64():
    old = ember.get_default_dtype()
    ember.set_default_dtype(ember.float64)
    yield
    ember.set_default_dtype(old)


# ---------------------------------------------------------------- dtype objects
def test_dtype_objects_and_aliases():
    assert ember.cfloat is C64 and ember.cdouble is C128
    assert C64.is_complex and C128.is_complex and not ember.float32.is_complex
    assert not C64.is_floating_point
    assert (C64.itemsize, C128.itemsize) == (8, 16)
    assert C64.to_real() is ember.float32 and C128.to_real() is ember.float64
    assert ember.float64.to_complex() is C128 and ember.float16.to_complex() is C64
    assert repr(C64) == "ember.complex64"
    assert pickle.loads(pickle.dumps(C128)) is C128
    with pytest.raises(RuntimeError):
        ember.int64.to_complex()


def test_finfo_is_the_real_parts_and_iinfo_refuses():
    info = ember.finfo(C64)
    assert info.dtype == "float32" and info.eps == ember.finfo(ember.float32).eps
    assert ember.finfo(C128).eps == np.finfo(np.float64).eps
    with pytest.raises(TypeError):
        ember.iinfo(C64)


@pytest.mark.parametrize("a, b, want", [
    (ember.float64, C64, C128), (ember.float32, C64, C64), (ember.float16, C64, C64),
    (ember.bfloat16, C128, C128), (ember.int64, C64, C64), (ember.bool, C128, C128), (C64, C128, C128),
])
def test_promote_types(a, b, want):
    assert ember.promote_types(a, b) is want and ember.promote_types(b, a) is want


def test_python_complex_scalars_are_weak():
    assert (ember.ones(2) + 1j).dtype is C64
    assert (ember.ones(2, dtype=ember.float64) + 1j).dtype is C128
    assert (ember.ones(2, dtype=ember.int64) * 1j).dtype is C64
    assert (ember.tensor([True]) * 1j).dtype is C64
    assert (ember.ones(2, dtype=C64) * 2.5).dtype is C64


def test_zero_dim_complex_tensors_keep_a_float_tensors_precision():
    # PyTorch: a lower-priority complex operand gives the complex type of the float result's precision
    assert (ember.ones(2, dtype=ember.float64) + ember.tensor(1j)).dtype is C128
    assert (ember.ones(2) + ember.tensor(1j, dtype=C128)).dtype is C64
    assert (ember.ones(2, dtype=ember.int32) + ember.tensor(1j, dtype=C128)).dtype is C128
    assert (ember.ones(2) + ember.ones(2, dtype=C128)).dtype is C128


def test_default_dtype_float64_makes_complex128(default_float64):
    assert ember.tensor([1 + 2j]).dtype is C128
    assert (ember.ones(2, dtype=ember.int64) * 1j).dtype is C128
    assert ember.full((2,), 1j).dtype is C128


# ---------------------------------------------------------------- creation
def test_tensor_infers_complex64():
    t = ember.tensor([1 + 2j, 3 - 1j])
    assert t.dtype is C64 and t.is_complex() and ember.is_complex(t) and not t.is_floating_point()
    np.testing.assert_array_equal(_np(ember.tensor([1j, 2])), np.array([1j, 2 + 0j], np.complex64))
    assert ember.tensor(1 + 2j).item() == 1 + 2j and isinstance(ember.tensor(1 + 2j).item(), complex)


def test_complex_data_into_a_real_dtype_is_refused():
    with pytest.raises(TypeError):
        ember.tensor([1 + 2j], dtype=ember.float32)
    with pytest.raises(TypeError):
        ember.tensor([1 + 2j], dtype=ember.int64)
    with pytest.raises(RuntimeError):
        ember.full((2,), 1 + 2j, dtype=ember.float32)


def test_filled_and_empty_tensors():
    assert ember.zeros(2, dtype=ember.cfloat).dtype is C64
    np.testing.assert_array_equal(_np(ember.ones(2, 3, dtype=C128)), np.ones((2, 3), np.complex128))
    np.testing.assert_array_equal(_np(ember.full((2,), 1j)), np.array([1j, 1j], np.complex64))
    np.testing.assert_array_equal(_np(ember.full((1,), 2.5, dtype=C64)), np.array([2.5 + 0j], np.complex64))
    np.testing.assert_array_equal(_np(ember.eye(2, dtype=C64)), np.eye(2, dtype=np.complex64))
    assert ember.empty(3, dtype=C128).dtype is C128
    np.testing.assert_allclose(_np(ember.linspace(0, 1, 3, dtype=C64)), [0, 0.5, 1])
    with pytest.raises(NotImplementedError, match="ComplexFloat"):
        ember.arange(3, dtype=C64)


def test_randn_has_pytorch_definition():
    z = ember.randn(20000, dtype=C64)
    assert z.dtype is C64
    parts = np.stack([_np(z).real, _np(z).imag])
    np.testing.assert_allclose(parts.var(axis=1), [0.5, 0.5], rtol=0.05)  # each part N(0, 1/2)
    np.testing.assert_allclose(np.abs(_np(z)).__pow__(2).mean(), 1.0, rtol=0.05)
    assert abs(np.corrcoef(parts)[0, 1]) < 0.05
    u = _np(ember.rand(5000, dtype=C128))
    assert u.dtype == np.complex128 and 0 <= u.real.min() and u.real.max() < 1 and 0 <= u.imag.min()
    assert abs(u.imag.mean() - 0.5) < 0.02


def test_random_complex_leaf_requires_grad():
    z = ember.randn(3, dtype=C128, requires_grad=True)
    assert z.requires_grad and z.is_leaf
    assert ember.zeros(2, dtype=C64).requires_grad_().requires_grad


# ---------------------------------------------------------------- casts, numpy
def test_real_to_complex_and_back():
    z = ember.tensor([1.5, -2.0]).to(C64)
    np.testing.assert_array_equal(_np(z), [1.5 + 0j, -2 + 0j])
    from ember.ops import creation
    creation._WARNED["complex_to_real"] = False
    with pytest.warns(UserWarning, match="Casting complex values to real discards the imaginary part"):
        r = ember.tensor([1 + 2j, -3 - 4j]).to(ember.float32)
    np.testing.assert_array_equal(_np(r), [1, -3])
    with warnings.catch_warnings():  # once per process, as PyTorch
        warnings.simplefilter("error")
        ember.tensor([1 + 2j]).double()
    np.testing.assert_array_equal(_np(ember.tensor([1j, 0j, 2]).to(ember.bool)), [True, False, True])
    np.testing.assert_array_equal(_np(ember.tensor([1.5 + 9j]).to(ember.int64)), [1])


def test_numpy_interop_shares_memory():
    a = _random(3, np.complex64)
    t = ember.from_numpy(a)
    assert t.dtype is C64
    t.mul_(2j)
    np.testing.assert_allclose(a, _random(3, np.complex64) * 2j, rtol=1e-6)
    assert ember.tensor(a).numpy().dtype == np.complex64


# ---------------------------------------------------------------- printing (PyTorch's output, recorded by hand)
@pytest.mark.parametrize("make, text", [
    (lambda: ember.tensor([1 + 2j, 3 - 1j]), "tensor([1.+2.j, 3.-1.j])"),
    (lambda: ember.tensor([1.5 + 2j, 3 - 1j]), "tensor([1.5000+2.j, 3.0000-1.j])"),
    (lambda: ember.tensor([1e-5 + 2j, 3e5 - 1j]), "tensor([1.0000e-05+2.j, 3.0000e+05-1.j])"),
    (lambda: ember.tensor(1 + 2j), "tensor(1.+2.j)"),
    (lambda: ember.tensor([1j, 2]), "tensor([0.+1.j, 2.+0.j])"),
    (lambda: ember.tensor([[1.2345 + 2j, -3 - 1j], [0j, float("nan") + 1j]]),
     "tensor([[ 1.2345+2.j, -3.0000-1.j],\n        [ 0.0000+0.j,     nan+1.j]])"),
    (lambda: ember.tensor([1 + 2j], dtype=C128), "tensor([1.+2.j], dtype=ember.complex128)"),
    (lambda: ember.tensor([complex("inf"), 1j]), "tensor([inf+0.j, 0.+1.j])"),
    (lambda: ember.tensor([1 + 2j], requires_grad=True), "tensor([1.+2.j], requires_grad=True)"),
])
def test_printing(make, text):
    assert repr(make()) == text


# ---------------------------------------------------------------- serialization
def test_save_load_and_pickle_round_trip():
    z = ember.tensor(_random((2, 3)))
    view = z[:, 1:]
    buf = io.BytesIO()
    ember.save({"z": z.to(C64), "w": z, "view": view}, buf)
    buf.seek(0)
    back = ember.load(buf)
    assert back["z"].dtype is C64 and back["w"].dtype is C128
    np.testing.assert_array_equal(_np(back["w"]), _np(z))
    np.testing.assert_array_equal(_np(back["view"]), _np(view))
    again = pickle.loads(pickle.dumps(z))
    assert again.dtype is C128
    np.testing.assert_array_equal(_np(again), _np(z))


def test_loads_a_pytorch_checkpoint():
    # written by tests/fixtures/record_complex.py with PyTorch 2.13
    d = ember.load(os.path.join(FIXTURES, "complex.pt"))
    assert d["z64"].dtype is C64 and d["z128"].dtype is C128
    for name in ("z64", "z128"):
        np.testing.assert_array_equal(_np(ember.view_as_real(d[name])).astype(np.float64), _np(d[f"{name}_pairs"]))
    np.testing.assert_array_equal(_np(d["view"]), _np(d["z128"])[1::2])


# ---------------------------------------------------------------- real / imag and the real views
@pytest.mark.parametrize("device", DEVICES)
def test_real_and_imag_are_views(device):
    z = ember.tensor(_random((2, 3), np.complex64), device=device)
    want = _np(z).copy()
    assert z.real.dtype is ember.float32 and z.imag.shape == (2, 3)
    np.testing.assert_array_equal(_np(z.real), want.real)
    np.testing.assert_array_equal(_np(z.imag), want.imag)
    np.testing.assert_array_equal(_np(ember.view_as_real(z)), np.stack([want.real, want.imag], -1))
    # (mps: MLX arrays cannot alias; the core writes the parts back into the base)
    z.real.add_(10)
    z.imag[0, 0] = -5
    want = want + 10
    want[0, 0] = want[0, 0].real - 5j
    np.testing.assert_allclose(_np(z), want, rtol=1e-6)
    z.imag = ember.zeros(2, 3, device=device)
    np.testing.assert_array_equal(_np(z).imag, 0)
    ember.view_as_real(z)[..., 1] = 1.0
    np.testing.assert_array_equal(_np(z).imag, 1)
    real = z[:, ::2].real  # a view of a strided view; it sees later writes to the base
    z.mul_(2)
    np.testing.assert_allclose(_np(real), _np(z)[:, ::2].real)
    pairs = ember.tensor(np.arange(8.0, dtype=np.float32).reshape(4, 2), device=device)
    ember.view_as_complex(pairs)[1:].mul_(1j)  # (re, im) -> (-im, re)
    np.testing.assert_array_equal(_np(pairs), [[0, 1], [-3, 2], [-5, 4], [-7, 6]])


def test_real_of_a_real_tensor_is_itself_and_imag_refuses():
    x = ember.ones(2)
    assert x.real is x and ember.real(x) is x
    with pytest.raises(RuntimeError, match=r"^imag is not implemented for tensors with non-complex dtypes\.$"):
        x.imag
    with pytest.raises(RuntimeError, match="view_as_real is only supported for complex tensors"):
        ember.view_as_real(x)


def test_view_as_complex_shares_memory_and_checks_like_pytorch():
    x = ember.tensor([[1.0, 2.0], [3.0, -4.0]])
    z = ember.view_as_complex(x)
    assert z.dtype is C64 and z.shape == (2,)
    np.testing.assert_array_equal(_np(z), [1 + 2j, 3 - 4j])
    z.mul_(1j)  # written into x
    np.testing.assert_array_equal(_np(x), [[-2, 1], [4, 3]])
    assert ember.view_as_complex(ember.ones(2, 2, dtype=ember.float64)).dtype is C128
    assert ember.view_as_complex(ember.ones(4, 2)[::2]).shape == (2,)
    for bad, message in [(ember.ones(3), "last dimension of size 2"), (ember.ones(2, 3), "last dimension of size 2"),
                         (ember.ones(3, 2).t().contiguous().t(), "last dimension with stride 1"),
                         (ember.ones(5)[1:].view(2, 2), "storage_offset divisible by 2"),
                         (ember.ones(2, dtype=ember.int64), "scalar type: Long"),
                         (ember.tensor(1.0), "one or more dimensions")]:
        with pytest.raises(RuntimeError, match=message):
            ember.view_as_complex(bad)


# ---------------------------------------------------------------- conjugation
def test_conj_sets_the_conjugate_bit():
    z = ember.tensor([1 + 2j, -3j])
    c = z.conj()
    assert c.is_conj() and ember.is_conj(c) and not z.is_conj()
    np.testing.assert_array_equal(_np(c), [1 - 2j, 3j])
    with pytest.raises(RuntimeError, match="unresolved conjugated tensors"):
        ember.view_as_real(c)
    r = c.resolve_conj()
    assert not r.is_conj() and not c.clone().is_conj() and not (c + 0).is_conj()
    np.testing.assert_array_equal(_np(ember.view_as_real(r)), [[1, -2], [0, 3]])
    assert not c.conj().is_conj()
    np.testing.assert_array_equal(_np(c.conj()), _np(z))
    p = ember.conj_physical(z)
    assert not p.is_conj()
    np.testing.assert_array_equal(_np(p), [1 - 2j, 3j])
    assert z.resolve_conj() is z and not z.is_neg() and z.resolve_neg() is z


def test_conj_of_a_real_tensor_is_itself():
    x = ember.tensor([1, 2])
    assert x.conj() is x and not x.conj().is_conj()
    y = ember.conj_physical(x)
    assert y is not x
    np.testing.assert_array_equal(_np(y), [1, 2])


# ---------------------------------------------------------------- complex-specific functions
def test_abs_angle_sgn_polar_complex():
    z = ember.tensor([3 + 4j, -2j, 0j])
    assert z.abs().dtype is ember.float32
    np.testing.assert_allclose(_np(z.abs()), [5, 2, 0])
    np.testing.assert_allclose(_np(z.angle()), np.angle(_np(z)), rtol=1e-6)
    np.testing.assert_allclose(_np(z.sgn()), [0.6 + 0.8j, -1j, 0], rtol=1e-6)
    np.testing.assert_allclose(_np(ember.tensor([1.0, -2.0, float("nan")]).angle()), [0, np.pi, np.nan])
    np.testing.assert_allclose(_np(ember.tensor([1, -2]).angle()), [0, np.pi])
    np.testing.assert_array_equal(_np(ember.tensor([-2, 0, 3]).sgn()), [-1, 0, 1])
    np.testing.assert_allclose(_np(ember.polar(ember.tensor([2.0]), ember.tensor([0.5]))), 2 * np.exp(0.5j),
                               rtol=1e-6)
    c = ember.complex(ember.tensor([1.0, 2.0]), ember.tensor([3.0]))
    np.testing.assert_array_equal(_np(c), [1 + 3j, 2 + 3j])
    with pytest.raises(RuntimeError, match="Expected object of scalar type Float but got scalar type Double"):
        ember.complex(ember.tensor([1.0]), ember.tensor([2.0], dtype=ember.float64))
    with pytest.raises(RuntimeError, match="Long and Long"):
        ember.polar(ember.tensor([1]), ember.tensor([2]))
    np.testing.assert_array_equal(_np(ember.tensor([1 + 1j, 2]).isreal()), [False, True])


def test_reductions_and_math():
    a = _random((3, 4))
    z = ember.tensor(a)
    np.testing.assert_allclose(_np(z.var()), a.var(ddof=1), rtol=1e-10)
    assert z.var().dtype is ember.float64 and z.std(0).dtype is ember.float64
    np.testing.assert_allclose(_np(ember.linalg_norm(z)) if hasattr(ember, "linalg_norm") else _np(z.norm()),
                               np.linalg.norm(a), rtol=1e-10)
    np.testing.assert_allclose(_np(z.cumsum(1)), np.cumsum(a, 1), rtol=1e-10)
    np.testing.assert_allclose(_np(z.cumprod(0)), np.cumprod(a, 0), rtol=1e-10)
    np.testing.assert_allclose(_np(z.sigmoid()), 1 / (1 + np.exp(-a)), rtol=1e-10)
    np.testing.assert_allclose(_np(ember.where(z.real > 0, z, 0)), np.where(a.real > 0, a, 0))
    np.testing.assert_allclose(_np(z.nan_to_num()), a)
    assert bool(ember.allclose(z, z + 1e-12)) and not bool(ember.allclose(z, z + 1e-3j))


@pytest.mark.parametrize("call, error, message", [
    (lambda z: z < 1, NotImplementedError, "\"lt_cpu\" not implemented for 'ComplexFloat'"),
    (lambda z: z.ge(z), NotImplementedError, "ComplexFloat"),
    (lambda z: z.max(), NotImplementedError, "max_all"),
    (lambda z: z.amin(), NotImplementedError, "min_values_cpu"),
    (lambda z: z.argmax(), RuntimeError, "does not support complex input"),
    (lambda z: z.sort(), RuntimeError, "Sort does not support complex dtypes on CPU"),
    (lambda z: z.topk(1), RuntimeError, "topk does not support complex"),
    (lambda z: z.median(), NotImplementedError, "median_cpu"),
    (lambda z: z.unique(), NotImplementedError, "unique"),
    (lambda z: z.clamp(0, 1), NotImplementedError, "clamp is not supported for complex types"),
    (lambda z: z.relu(), NotImplementedError, "clamp is not supported for complex types"),
    (lambda z: z.floor(), NotImplementedError, "floor is not supported for complex inputs"),
    (lambda z: z.round(), NotImplementedError, "round_vml_cpu"),
    (lambda z: z.sign(), NotImplementedError, "torch.sgn instead"),
    (lambda z: ember.maximum(z, z), RuntimeError, "maximum not implemented for complex tensors"),
    (lambda z: ember.fmax(z, z), RuntimeError, "fmax not implemented for complex tensors"),
    (lambda z: z.remainder(1), NotImplementedError, "remainder_cpu"),
    (lambda z: z // 1, NotImplementedError, "div_floor_cpu"),
    (lambda z: ember.atan2(z, z), NotImplementedError, "atan2_cpu"),
    (lambda z: z.erf(), NotImplementedError, "erf_vml_cpu"),
    (lambda z: z.nansum(), RuntimeError, "nansum on CPU does not support complex inputs"),
    (lambda z: z.signbit(), NotImplementedError, "signbit is not implemented for complex tensors"),
    (lambda z: z.abs_(), RuntimeError, "In-place abs is not supported for complex tensors"),
    (lambda z: ember.ones(2).add_(1j), RuntimeError, "can't be cast"),
    (lambda z: z.softmax(0), NotImplementedError, "softmax"),
])
def test_ops_pytorch_refuses_on_complex(call, error, message):
    with pytest.raises(error, match=message):
        call(ember.tensor([1 + 2j, 3j]))


def test_mps_has_complex64_only():
    if "mps" not in DEVICES:
        pytest.skip("mps is not available")
    z = ember.tensor([1 + 2j], device="mps")
    np.testing.assert_allclose(_np(z.exp()), np.exp([1 + 2j]), rtol=1e-6)
    with pytest.raises(TypeError, match="ComplexDouble to the MPS backend"):
        ember.tensor([1 + 2j], dtype=C128, device="mps")
    with pytest.raises(TypeError, match="ComplexDouble to the MPS backend"):
        z.to(C128)


def test_opencl_computes_complex_through_the_counted_cpu_fallback():
    if "opencl" not in DEVICES:
        pytest.skip("opencl is not available")
    from ember.dispatch import fallback_report, reset_fallback_report
    reset_fallback_report()
    z = ember.tensor([1 + 2j, -1j], device="opencl")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = (z * z).exp()
    np.testing.assert_allclose(_np(out), np.exp(np.array([1 + 2j, -1j]) ** 2), rtol=1e-6)
    assert fallback_report()[("mul", "opencl")]["calls"] >= 1


# ---------------------------------------------------------------- autograd
def test_gradient_of_abs_squared_is_two_z():
    a = _random(4)
    z = ember.tensor(a, requires_grad=True)
    (z.abs() ** 2).sum().backward()
    np.testing.assert_allclose(_np(z.grad), 2 * a, rtol=1e-10)


def test_complex_outputs_need_an_explicit_gradient():
    z = ember.tensor([1 + 1j], requires_grad=True)
    with pytest.raises(RuntimeError, match="real scalar outputs"):
        (z * z).sum().backward()
    (z * z).sum().backward(ember.tensor(1 + 0j))
    np.testing.assert_allclose(_np(z.grad), [2 - 2j])  # g * conj(2z)


def _numeric_grad(f, a, eps=1e-6):
    """d f / d Re + 1j * d f / d Im of a real-valued numpy function, by central differences."""
    g = np.zeros(a.shape, np.complex128)
    for i in range(a.size):
        for direction in (1, 1j):
            up, down = a.copy(), a.copy()
            up.flat[i] += eps * direction
            down.flat[i] -= eps * direction
            g.flat[i] += direction * (f(up) - f(down)) / (2 * eps)
    return g


@pytest.mark.parametrize("name, ember_loss, numpy_loss", [
    ("exp_mul", lambda z, w: ((z * w).exp()).real.sum(), lambda z, w: np.exp(z * w).real.sum()),
    ("log_div", lambda z, w: (ember.log(z / w) * w).imag.sum(), lambda z, w: (np.log(z / w) * w).imag.sum()),
    ("sqrt_tanh", lambda z, w: ember.view_as_real(z.sqrt() + w.tanh()).pow(2).sum(),
     lambda z, w: (np.abs(np.sqrt(z) + np.tanh(w)) ** 2).sum()),
    ("angle_conj", lambda z, w: (z.angle() + (z.conj() * w).real).sum(),
     lambda z, w: (np.angle(z) + (np.conj(z) * w).real).sum()),
    ("matmul_sum", lambda z, w: (z.reshape(2, 2) @ w.reshape(2, 2)).abs().sum(),
     lambda z, w: np.abs(z.reshape(2, 2) @ w.reshape(2, 2)).sum()),
    ("pow_sin", lambda z, w: (z ** w).sin().abs().mean(), lambda z, w: np.abs(np.sin(z ** w)).mean()),
    ("scalar_base_pow", lambda z, w: (2 ** z * w + z ** 2.5).real.sum(), lambda z, w: (2 ** z * w + z ** 2.5).real.sum()),
])
def test_gradients_by_finite_differences(name, ember_loss, numpy_loss):
    a, b = _random(4, seed=1) + 2, _random(4, seed=2)
    z = ember.tensor(a, requires_grad=True)
    w = ember.tensor(b, requires_grad=True)
    ember_loss(z, w).backward()
    np.testing.assert_allclose(_np(z.grad), _numeric_grad(lambda x: numpy_loss(x, b), a), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(_np(w.grad), _numeric_grad(lambda y: numpy_loss(a, y), b), rtol=1e-5, atol=1e-7)


def test_gradient_reaches_real_leaves_through_complex_math():
    r, theta = np.array([1.5, 0.5]), np.array([0.3, -2.0])
    re = ember.tensor(r, requires_grad=True)
    im = ember.tensor(theta, requires_grad=True)
    loss = (ember.polar(re, im) * (1 + 2j)).real.sum() + (ember.complex(re, im) ** 2).imag.sum()
    loss.backward()
    # d/dr [Re((1+2j) r e^{i t})] = cos t - 2 sin t; d/dt = -r sin t - 2 r cos t; Im((r + i t)^2) = 2 r t
    np.testing.assert_allclose(_np(re.grad), np.cos(theta) - 2 * np.sin(theta) + 2 * theta, rtol=1e-10)
    np.testing.assert_allclose(_np(im.grad), -r * np.sin(theta) - 2 * r * np.cos(theta) + 2 * r, rtol=1e-10)
    x = ember.tensor([1.0, -2.0], dtype=ember.float64, requires_grad=True)
    (x.to(C128) * 1j).imag.sum().backward()
    assert x.grad.dtype is ember.float64
    np.testing.assert_array_equal(_np(x.grad), [1, 1])


def test_gradient_through_view_as_complex_and_in_place_writes_on_views():
    pairs = ember.tensor(np.array([[1.0, 2.0], [-0.5, 3.0]]), requires_grad=True)
    z = ember.view_as_complex(pairs * 1)
    (z * z).real.sum().backward()  # Re(z^2) = x^2 - y^2
    np.testing.assert_allclose(_np(pairs.grad), [[2, -4], [-1, -6]])
    a = _random(3)
    leaf = ember.tensor(a, requires_grad=True)
    y = leaf * 1
    y.imag.mul_(3)  # y = Re a + 3j Im a
    (y.abs() ** 2).sum().backward()
    np.testing.assert_allclose(_np(leaf.grad), 2 * a.real + 18j * a.imag, rtol=1e-10)


def test_gradcheck_takes_complex_functions():
    from ember.autograd import gradcheck
    z = ember.tensor(_random(3, seed=4), requires_grad=True)
    w = ember.tensor(_random(3, seed=5), requires_grad=True)
    assert gradcheck(lambda a, b: (a * b.conj()).exp() / (b + 3), (z, w))
    x = ember.tensor(np.array([0.5, 1.5]), requires_grad=True)
    assert gradcheck(lambda r: ember.polar(r, r * 2), (x,))
    # a wrong rule must be caught: abs's gradient without the conjugate direction
    assert not gradcheck(lambda a: a * a.conj().detach() + a.abs(), (z,), raise_exception=False)


def test_python_number_conversions_and_vdot():
    assert complex(ember.tensor(1 + 2j)) == 1 + 2j and int(ember.tensor(3 + 0j)) == 3
    with pytest.raises(RuntimeError, match="value cannot be converted to type double without overflow"):
        float(ember.tensor(1 + 2j))
    with pytest.raises(TypeError, match="integer and Boolean-type tensors"):
        ~ember.tensor([1j])
    with pytest.raises(RuntimeError, match="without overflow"):
        ember.ones(2).fill_(1j)
    a, b = _random(3, seed=6), _random(3, seed=7)
    np.testing.assert_allclose(_np(ember.vdot(ember.tensor(a), ember.tensor(b))), np.vdot(a, b), rtol=1e-12)
    np.testing.assert_allclose(_np(ember.dot(ember.tensor(a), ember.tensor(b))), np.dot(a, b), rtol=1e-12)
    assert ember.vdot(ember.ones(2), ember.ones(2)).item() == 2.0


def test_module_to_complex():
    lin = ember.nn.Linear(2, 3).to(C64)
    assert lin.weight.dtype is C64 and lin.weight.requires_grad
    out = lin(ember.tensor([[1 + 1j, 2j]]))
    assert out.dtype is C64
    out.abs().sum().backward()
    assert lin.weight.grad.dtype is C64


def test_conjugate_transposes():
    a = _random((2, 3))
    z = ember.tensor(a)
    np.testing.assert_array_equal(_np(z.H), a.conj().T)
    assert z.H.is_conj() and z.mH.is_conj()
    np.testing.assert_array_equal(_np(ember.tensor(_random((2, 2, 3))).mH), _random((2, 2, 3)).conj().swapaxes(-1, -2))
    np.testing.assert_array_equal(_np(z.adjoint()), a.conj().T)
    x = ember.ones(2, 3)
    assert x.H.shape == (3, 2) and x.mH._base is x and ember.adjoint(x).shape == (3, 2)
    with pytest.raises(RuntimeError, match="tensor.H is only supported on matrices"):
        ember.ones(3).H
    with pytest.raises(RuntimeError, match="tensor.mH is only supported on matrices or batches"):
        ember.ones(3).mH
    with pytest.warns(UserWarning, match="deprecated on 0-D"):
        assert ember.tensor(1j).H.item() == -1j
