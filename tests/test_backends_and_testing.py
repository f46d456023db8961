"""ember.backends flags, deterministic-mode switches, ember.nn.attention, ember.accelerator and
ember.testing.assert_close / make_tensor, checked against PyTorch 2.13's documented (and, on its
CPU build, observed) values, messages and exception classes."""
import math
import warnings

import numpy as np
import pytest

import ember
from ember.nn.attention import SDPBackend, sdpa_kernel
from ember.testing import assert_close, make_tensor


# ---------------------------------------------------------------- ember.backends
def test_backend_defaults_match_pytorch_cpu_build():
    b = ember.backends
    assert (b.cuda.matmul.allow_tf32, b.cuda.matmul.allow_fp16_reduced_precision_reduction,
            b.cuda.matmul.allow_bf16_reduced_precision_reduction) == (False, True, True)
    assert b.cuda.flash_sdp_enabled() and b.cuda.mem_efficient_sdp_enabled() and b.cuda.math_sdp_enabled()
    assert b.cuda.cudnn_sdp_enabled()
    assert repr(b.cuda.preferred_linalg_library()) == "_LinalgBackend.Default"
    assert (b.cudnn.enabled, b.cudnn.benchmark, b.cudnn.deterministic, b.cudnn.allow_tf32) == (True, False, False,
                                                                                                True)
    assert b.cudnn.is_available() is False and b.cudnn.version() is None
    assert b.mkldnn.enabled is True and b.mkldnn.is_available() is False
    assert b.cpu.get_cpu_capability() in ("AVX512", "AVX2", "VSX", "ZVECTOR", "SVE256", "DEFAULT")
    assert b.opt_einsum.enabled is b.opt_einsum.is_available()
    assert b.opt_einsum.strategy == ("auto" if b.opt_einsum.is_available() else None)
    assert isinstance(b.cuda.is_built(), bool) and isinstance(b.mps.is_built(), bool)


def test_flags_keep_what_is_set_and_reject_unknown_names(monkeypatch):
    m = ember.backends.cuda.matmul
    saved = m.allow_tf32
    try:
        m.allow_tf32 = True
        assert m.allow_tf32 is True
    finally:
        m.allow_tf32 = saved
    with pytest.raises(AttributeError, match="Unknown attribute foo"):
        m.foo
    with pytest.raises(AttributeError, match="Unknown attribute foo"):
        m.foo = 1
    monkeypatch.setattr(ember.backends.cudnn, "benchmark", True)
    assert ember.backends.cudnn.benchmark is True
    with ember.backends.cudnn.flags(enabled=False, deterministic=True):
        assert ember.backends.cudnn.enabled is False and ember.backends.cudnn.deterministic is True
        assert ember.backends.cudnn.benchmark is False
    assert ember.backends.cudnn.enabled is True and ember.backends.cudnn.benchmark is True
    lib = ember.backends.cuda.preferred_linalg_library
    try:
        assert repr(lib("cusolver")) == "_LinalgBackend.Cusolver"
        assert repr(lib()) == "_LinalgBackend.Cusolver"
        with pytest.raises(RuntimeError, match="Choose from: default, cusolver, magma"):
            lib("foo")
        with pytest.raises(RuntimeError, match="Unknown input value type"):
            lib(3)
    finally:
        lib("default")


def test_sdp_kernel_is_deprecated_and_restores():
    cuda = ember.backends.cuda
    with pytest.warns(FutureWarning, match="deprecated"):
        with cuda.sdp_kernel(enable_flash=False, enable_math=False):
            assert not cuda.flash_sdp_enabled() and not cuda.math_sdp_enabled()
            assert cuda.mem_efficient_sdp_enabled()
    assert cuda.flash_sdp_enabled() and cuda.math_sdp_enabled()


# ---------------------------------------------------------------- deterministic mode
def test_deterministic_modes():
    try:
        assert ember.get_deterministic_debug_mode() == 0 and not ember.are_deterministic_algorithms_enabled()
        ember.use_deterministic_algorithms(True, warn_only=True)
        assert ember.are_deterministic_algorithms_enabled() and ember.is_deterministic_algorithms_warn_only_enabled()
        assert ember.get_deterministic_debug_mode() == 1
        for mode, state in (("error", (True, False, 2)), ("default", (False, False, 0)), (1, (True, True, 1)),
                            (2, (True, False, 2)), (0, (False, False, 0)), (True, (True, True, 1))):
            ember.set_deterministic_debug_mode(mode)
            assert (ember.are_deterministic_algorithms_enabled(),
                    ember.is_deterministic_algorithms_warn_only_enabled(),
                    ember.get_deterministic_debug_mode()) == state
        with pytest.raises(RuntimeError, match="expected one of `default`, `warn`, `error`, but got x"):
            ember.set_deterministic_debug_mode("x")
        with pytest.raises(RuntimeError, match="expected 0, 1, or 2, but got 3"):
            ember.set_deterministic_debug_mode(3)
        with pytest.raises(TypeError, match="debug_mode must be str or int"):
            ember.set_deterministic_debug_mode(1.0)
        with pytest.raises(TypeError, match="'mode' .* must be bool, not int"):
            ember.use_deterministic_algorithms(1)
        with pytest.raises(TypeError, match="'warn_only' must be bool, not int"):
            ember.use_deterministic_algorithms(True, warn_only=1)
    finally:
        ember.use_deterministic_algorithms(False)


# ---------------------------------------------------------------- ember.nn.attention
def test_sdpa_kernel_restricts_like_pytorch_cpu():
    assert [(m.name, m.value) for m in SDPBackend] == [
        ("ERROR", -1), ("MATH", 0), ("FLASH_ATTENTION", 1), ("EFFICIENT_ATTENTION", 2), ("CUDNN_ATTENTION", 3),
        ("OVERRIDEABLE", 4)]
    rng = np.random.default_rng(0)
    q = rng.standard_normal((1, 2, 4, 8))
    s = q @ np.swapaxes(q, -1, -2) / math.sqrt(8)
    w = np.exp(s - s.max(-1, keepdims=True))
    ref = (w / w.sum(-1, keepdims=True)) @ q
    t = ember.tensor(q)
    sdpa = ember.nn.functional.scaled_dot_product_attention
    for allowed in (SDPBackend.MATH, [SDPBackend.FLASH_ATTENTION], [SDPBackend.EFFICIENT_ATTENTION,
                                                                     SDPBackend.MATH]):
        with sdpa_kernel(allowed):
            np.testing.assert_allclose(sdpa(t, t, t).numpy(), ref, rtol=1e-12, atol=1e-12)
    for refused in ([SDPBackend.EFFICIENT_ATTENTION], [SDPBackend.CUDNN_ATTENTION], []):
        with sdpa_kernel(refused):
            assert not ember.backends.cuda.math_sdp_enabled()
            with pytest.raises(RuntimeError, match="No viable backend for scaled_dot_product_attention"):
                sdpa(t, t, t)
    assert ember.backends.cuda.math_sdp_enabled() and ember.backends.cuda.flash_sdp_enabled()
    sdpa(t, t, t)
    with pytest.raises(AssertionError, match="instance of SDPBackend"):
        with sdpa_kernel("x"):
            pass


# ---------------------------------------------------------------- ember.accelerator
def test_accelerator_follows_the_registry():
    from ember.dispatch.registry import REGISTRY
    REGISTRY.load()
    available = [t for t in ("cuda", "rocm", "mps", "opencl") if t in REGISTRY.backends
                 and REGISTRY.backend(t).is_available()]
    acc = ember.accelerator
    if not available:
        assert not acc.is_available() and acc.current_accelerator() is None and acc.device_count() == 0
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
            acc.current_device_index()
        return
    assert acc.is_available()
    assert acc.current_accelerator() == ember.device(available[0])
    assert acc.device_count() == REGISTRY.backend(available[0]).device_count() >= 1
    assert acc.current_device_index() == 0
    acc.set_device_index(0)
    acc.synchronize()
    with pytest.raises(ValueError):
        acc.set_device_index(acc.device_count())
    with pytest.raises(ValueError, match="doesn't match the current accelerator"):
        acc.set_device_index("cpu")


def test_get_device_module():
    assert ember.get_device_module("cpu") is ember.cpu
    assert ember.get_device_module(ember.device("cuda")) is ember.cuda
    assert ember.get_device_module("mps:0") is ember.mps
    with pytest.raises(RuntimeError, match="does not have a corresponding module"):
        ember.get_device_module("meta")
    with pytest.raises(RuntimeError, match="Invalid value of device"):
        ember.get_device_module(3)


# ---------------------------------------------------------------- assert_close
def _message(actual, expected, **kw):
    with pytest.raises(AssertionError) as info:
        assert_close(actual, expected, **kw)
    return str(info.value)


def test_assert_close_messages_match_pytorch():
    # strings recorded from PyTorch 2.13 (ember prints its own dtype / Size names)
    assert _message(ember.tensor([1., 2., 3.]), ember.tensor([1., 2.5, 3.1])) == (
        "Tensor-likes are not close!\n\nMismatched elements: 2 / 3 (66.7%)\n"
        "Greatest absolute difference: 0.5 at index (1,) (up to 1e-05 allowed)\n"
        "Greatest relative difference: 0.20000000298023224 at index (1,) (up to 1.3e-06 allowed)")
    assert _message(ember.tensor([1, 2, 3]), ember.tensor([1, 5, 3])) == (
        "Tensor-likes are not equal!\n\nMismatched elements: 1 / 3 (33.3%)\n"
        "Greatest absolute difference: 3 at index (1,)\nGreatest relative difference: 0.6000000238418579 at index (1,)")
    assert _message(ember.tensor(1.), ember.tensor(2.)) == (
        "Scalars are not close!\n\nExpected 2.0 but got 1.0.\nAbsolute difference: 1.0 (up to 1e-05 allowed)\n"
        "Relative difference: 0.5 (up to 1.3e-06 allowed)")
    assert _message(1, 2) == "Scalars are not equal!\n\nExpected 2 but got 1.\nAbsolute difference: 1\n" \
                             "Relative difference: 0.5"
    assert _message(ember.tensor([1., 2.]), ember.tensor([1., 2.], dtype=ember.float64)) == (
        f"The values for attribute 'dtype' do not match: {ember.float32} != {ember.float64}.")
    assert "attribute 'shape'" in _message(ember.zeros(2), ember.zeros(3))
    assert _message(ember.tensor([1., float("inf")]), ember.tensor([1., -float("inf")])).startswith(
        "Tensor-likes are not close!\n\nMismatched elements: 1 / 2 (50.0%)\nGreatest absolute difference: inf")
    assert _message([ember.tensor([1., 2.])], [ember.tensor([1., 3.])]).endswith(
        "\n\nThe failure occurred for item [0]")
    assert _message({"a": 1.}, {"a": 2.}).endswith("The failure occurred for item ['a']")
    assert _message([1, 2], [1, 2, 3]) == "The length of the sequences mismatch: 2 != 3"
    assert _message(1, 1.0) == "The (d)types do not match: <class 'int'> != <class 'float'>."
    assert _message(True, False) == "Booleans mismatch: True is not False"
    assert _message(ember.tensor([1.]), ember.tensor([2.]), msg="boom") == "boom"
    assert _message(ember.tensor([1.]), ember.tensor([2.]), msg=lambda m: "X" + m[:5]) == "XTenso"
    x = ember.tensor([[1., 2.], [3., 4.]])
    assert "attribute 'stride()'" in _message(x, x.t().contiguous().t(), check_stride=True)


def test_assert_close_tolerances_nan_and_options():
    rng = np.random.default_rng(1)
    for dtype, rtol, atol in ((ember.float16, 1e-3, 1e-5), (ember.bfloat16, 1.6e-2, 1e-5),
                              (ember.float32, 1.3e-6, 1e-5), (ember.float64, 1e-7, 1e-7)):
        base = rng.uniform(1, 2, 64)
        e = ember.tensor(base).to(dtype)
        inside = (e.to(ember.float64) * (1 + rtol / 4)).to(dtype)
        within = np.abs(inside.to(ember.float64).numpy() - e.to(ember.float64).numpy()) <= atol + rtol * np.abs(
            e.to(ember.float64).numpy())
        if within.all():
            assert_close(inside, e)
        outside = (e.to(ember.float64) * (1 + 4 * rtol) + 4 * atol).to(dtype)
        with pytest.raises(AssertionError, match=f"up to {atol!r} allowed"):
            assert_close(outside, e)
    nan = ember.tensor([1., float("nan")])
    with pytest.raises(AssertionError, match="Greatest absolute difference: nan at index \\(1,\\)"):
        assert_close(nan, nan)
    assert_close(nan, nan, equal_nan=True)
    assert_close(ember.tensor([1., 2.]), ember.tensor([1., 2.5]), rtol=0.3, atol=0)
    with pytest.raises(ValueError, match="got no atol"):
        assert_close(ember.tensor([1.]), ember.tensor([1.]), rtol=1e-3)
    # check_dtype=False: promoted, the looser tolerance of the two dtypes applies
    assert_close(ember.tensor([1.]), ember.tensor([1. + 5e-6], dtype=ember.float64), check_dtype=False)
    with pytest.raises(TypeError, match="No comparison pair"):
        assert_close(ember.tensor([1.]), [1.])
    assert_close(np.array([1., 2.]), np.array([1., 2.]))
    assert_close({"a": [ember.ones(2), None]}, {"a": [ember.ones(2), None]})
    other = "opencl" if "opencl" in ember.dispatch.registry.REGISTRY.backends and \
        ember.dispatch.registry.REGISTRY.backend("opencl").is_available() else None
    if other is not None:
        t = ember.arange(4.)
        with pytest.raises(AssertionError, match="attribute 'device'"):
            assert_close(t, t.to(other))
        assert_close(t, t.to(other), check_device=False)


# ---------------------------------------------------------------- make_tensor
def test_make_tensor_ranges_and_options():
    ember.manual_seed(0)
    f = make_tensor(2000, dtype=ember.float32, device="cpu").numpy()
    assert f.min() >= -9 and f.max() < 9 and f.std() > 4
    i = make_tensor((2000,), dtype=ember.int64, device="cpu").numpy()
    assert set(np.unique(i)) == set(range(-9, 10))
    u = make_tensor([2000], dtype=ember.uint8, device="cpu").numpy()
    assert set(np.unique(u)) == set(range(0, 10))
    z = make_tensor(2000, dtype=ember.int64, device="cpu", low=-3, high=3, exclude_zero=True).numpy()
    assert set(np.unique(z)) == {-3, -2, -1, 1, 2}
    assert (make_tensor(2000, dtype=ember.float16, device="cpu", low=-1e-4, high=1e-4,
                        exclude_zero=True).numpy() != 0).all()
    assert make_tensor(2000, dtype=ember.float16, device="cpu", low=-1e30, high=1e30).numpy().dtype == np.float16
    b = make_tensor(50, dtype=ember.bool, device="cpu").numpy()
    assert b.dtype == np.bool_ and b.any() and not b.all()
    c = make_tensor(3, 4, dtype=ember.complex64, device="cpu", noncontiguous=True)
    assert c.shape == (3, 4) and c.dtype is ember.complex64 and not c.is_contiguous() and c.stride() == (8, 2)
    g = make_tensor(2, 3, dtype=ember.float64, device="cpu", requires_grad=True)
    assert g.requires_grad and g.is_leaf
    assert make_tensor((), dtype=ember.float32, device="cpu", noncontiguous=True).shape == ()
    with pytest.raises(ValueError, match="`low` must be less than `high`, but got 2 >= 1"):
        make_tensor(2, dtype=ember.float32, device="cpu", low=2, high=1)
    with pytest.raises(ValueError, match="cannot be NaN"):
        make_tensor(2, dtype=ember.float32, device="cpu", low=float("nan"))
    with pytest.raises(ValueError, match="not supported for boolean and integral dtypes"):
        make_tensor(2, dtype=ember.int64, device="cpu", requires_grad=True)
    ember.manual_seed(5)
    a = make_tensor(4, dtype=ember.float32, device="cpu")
    ember.manual_seed(5)
    assert_close(make_tensor(4, dtype=ember.float32, device="cpu"), a, rtol=0, atol=0)
