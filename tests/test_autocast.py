"""Autocast: the output dtype of every case of tests/fixtures/autocast_cases.py under
autocast("cpu", bfloat16 / float16) against PyTorch 2.13 (autocast_cpu.json, recorded by
record_autocast.py); the GPU policy on opencl and mps against the dtypes PyTorch's CUDA
lists give (the CPU-only PyTorch wheel cannot record those: they are derived from the
documented lists, see EXPECTED_GPU); and the region's behaviour (nesting, enabled=False,
decorator, deprecated forms, state per device type, the weight-cast cache, gradients)."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from conftest import available_devices
from ember.amp import policy as P
from ember.dispatch.keys import ACTIVE

FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
from autocast_cases import CASES, MATH_CASES, VARIANTS  # noqa: E402

RECORDED = json.loads((FIXTURES / "autocast_cpu.json").read_text())

#: (case, variant) where ember differs from PyTorch for reasons outside autocast
KNOWN = {
    **{("pdist", v): "PyTorch has no CPU pdist kernel for half dtypes (NotImplementedError)" for v in ("low", "mixed")},
    **{("nn.LSTM", v): "ember's recurrent layers are written over matmul, PyTorch's CPU LSTM is one fused op "
       "(which raises for float32 inputs under autocast)" for v in VARIANTS},
    **{(m, v): "ember's cross and linalg.cross promote mixed dtypes where PyTorch raises (not autocast)"
       for m in ("cross", "linalg.cross") for v in ("mixed",)},
    **{("vander", v): "ember's vander refuses half precision, PyTorch's computes in it (not autocast)"
       for v in ("low", "mixed")},
    **{("nuclear_norm", v): "ember raises NotImplementedError for half precision, PyTorch RuntimeError (not autocast)"
       for v in ("low", "mixed")},
    **{(m, "mixed"): "ember checks the LU's dtype before the operands' agreement, PyTorch after (not autocast)"
       for m in ("linalg.lu_solve", "linalg.solve_ex")},
}


def _maker(variant, low, device="cpu"):
    def x(*shape, slot=1):
        dtype = {"f32": ember.float32, "low": low, "f64": ember.float64,
                 "mixed": low if slot == 0 else ember.float32}[variant]
        return ember.randn(*shape).to(device=device, dtype=dtype)
    x.long = lambda values: ember.tensor(values, dtype=ember.int64, device=device)
    x.device = device
    return x


def _run(case, device, low, variant):
    try:
        with ember.autocast(device, dtype=low):
            out = case(ember, F, _maker(variant, low, device))
        out = out[0] if isinstance(out, tuple) else out
        return out.dtype.name
    except Exception as error:
        return f"error:{type(error).__name__}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_cpu_policy_matches_pytorch(name):
    for low in (ember.bfloat16, ember.float16):
        for variant in VARIANTS:
            if (name, variant) in KNOWN:
                continue
            want = RECORDED[name][low.name][variant]
            assert _run(CASES[name], "cpu", low, variant) == want, (name, low.name, variant)


# ---------------------------------------------------------------- the GPU policy
#: case -> the GPU-policy op it exercises (cases named after their op map to themselves)
_GPU_OP = {"__matmul__": "matmul", "Tensor.matmul": "matmul", "Tensor.addmm": "addmm", "linear_nobias": "linear",
           "Tensor.exp": "exp", "pow_tensor": "pow", "F.softmax": "softmax", "Tensor.softmax": "softmax",
           "prod_dim": "prod", "Tensor.sum_dim": "sum", "cross_entropy": "cross_entropy_loss",
           "cross_entropy_probs": "cross_entropy_loss", "grid_sample": "grid_sampler", "nn.Linear": "linear",
           "nn.Conv2d": "conv2d", "nn.LayerNorm": "layer_norm", "nn.GRUCell": "rnn_cell",
           "linalg.vector_norm": "linalg_vector_norm", "linalg.matrix_norm": "linalg_matrix_norm",
           "linalg.norm": "linalg_norm", "linalg.norm_vector": "linalg_norm", "linalg.multi_dot": "linalg_multi_dot",
           "linalg.vecdot": "linalg_vecdot", "special.expm1": "expm1", "special.logsumexp": "logsumexp",
           "special.softmax": "softmax",
           # not listed, but PyTorch's versions call a listed op (mm, sum, cumsum), which sets the dtype
           "linalg.matrix_power": "mm", "matrix_power": "mm", "cov": "mm", "corrcoef": "mm", "trace": "sum",
           "trapezoid": "sum", "cumulative_trapezoid": "cumsum"}
_RULES = {  # policy kind -> variant -> the output dtype ("low": the region's dtype)
    P.LOWER: {"f32": "low", "low": "low", "mixed": "low"},
    P.FP32: {"f32": "float32", "low": "float32", "mixed": "float32"},
    P.FP32_UNLESS_DTYPE: {"f32": "float32", "low": "float32", "mixed": "float32"},
    P.PROMOTE: {"f32": "float32", "low": "low", "mixed": "float32"},
    P.BANNED: {"f32": "error:RuntimeError", "low": "error:RuntimeError", "mixed": "error:RuntimeError"},
}
EXPECTED_GPU = {case: _RULES[P.GPU[_GPU_OP.get(case, case)]] for case in CASES
                if P.GPU.get(_GPU_OP.get(case, case)) in _RULES}
EXPECTED_GPU["add"] = {"f32": "float32", "low": "low", "mixed": "float32"}     # on no list: as without autocast
EXPECTED_GPU["relu"] = EXPECTED_GPU["sigmoid"] = {"f32": "float32", "low": "low", "mixed": "low"}
GPU_DEVICES = [d for d in ("opencl", "mps") if d in available_devices()]


#: math cases whose PyTorch CUDA versions call a listed op inside that the tests do not model (matmul in
#: pinv, pow in istft, cumprod in vander) or that ember refuses in half precision (vander)
_GPU_CAST_INSIDE = {"linalg.pinv", "pinverse", "istft", "vander", "linalg.vander"}
#: the math cases PyTorch's CUDA autocast leaves alone: they give what they give without autocast
GPU_UNCAST = sorted(set(MATH_CASES) - set(EXPECTED_GPU) - _GPU_CAST_INSIDE)


def _plain(case, device, low, variant):
    try:
        out = case(ember, F, _maker(variant, low, device))
        out = out[0] if isinstance(out, tuple) else out
        return out.dtype.name
    except Exception as error:
        return f"error:{type(error).__name__}"


@pytest.mark.parametrize("device", GPU_DEVICES)
def test_gpu_policy_leaves_unlisted_math_alone(device):
    """An op PyTorch's CUDA lists do not name (and that calls none) must not pick up a cast from the
    listed ops ember's version calls inside (matmul in solve, log1p in logaddexp ...)."""
    assert len(GPU_UNCAST) > 80
    for name in GPU_UNCAST:
        for variant in ("f32", "low"):
            want = _plain(CASES[name], device, ember.float16, variant)
            assert _run(CASES[name], device, ember.float16, variant) == want, (device, name, variant)


@pytest.mark.parametrize("device", GPU_DEVICES)
def test_gpu_policy_on_accelerators(device):
    for name, expected in sorted(EXPECTED_GPU.items()):
        for variant, want in expected.items():
            want = "float16" if want == "low" else want
            assert _run(CASES[name], device, ember.float16, variant) == want, (device, name, variant)


def test_the_gpu_policy_is_the_documented_cuda_list():
    assert P.policy_for("cuda") is P.GPU and P.policy_for("mps") is P.GPU and P.policy_for("opencl") is P.GPU
    assert P.policy_for("cpu") is P.CPU
    assert P.GPU["softmax"] == P.FP32_UNLESS_DTYPE and P.GPU["layer_norm"] == P.FP32 and P.GPU["mm"] == P.LOWER
    assert "layer_norm" not in P.CPU and P.CPU["mse_loss"] == P.FP32 and P.CPU["cat"] == P.PROMOTE


#: the modules whose listed ops are marked
_MARKED_MODULES = {"ember.ops.linalg", "ember.ops.convolution", "ember.ops.reduction", "ember.ops.elementwise",
                   "ember.ops.shape", "ember.ops.indexing", "ember.ops.pooling", "ember.nn.functional.misc",
                   "ember.nn.functional.activation", "ember.nn.functional.attention", "ember.nn.functional.loss",
                   "ember.nn.functional.normalization", "ember.nn.functional.pooling",
                   "ember.nn.functional.sampling", "ember.ops.decompositions", "ember.ops.matrix_functions",
                   "ember.ops.spectral", "ember.ops.numeric", "ember.ops.special", "ember.ops.complex"}


def test_every_policy_op_ember_has_is_a_dispatch_point():
    """A listed op ember implements must be intercepted, or autocast silently skips it."""
    names = {**{n: getattr(ember, n) for n in dir(ember)}, **{n: getattr(F, n) for n in dir(F)},
             **{f"linalg_{n}": getattr(ember.linalg, n) for n in dir(ember.linalg)},
             **{f"fft_{n}": getattr(ember.fft, n) for n in dir(ember.fft)}}
    aliases = {"cross_entropy_loss": "cross_entropy", "grid_sampler": "grid_sample", "vdot": "dot"}
    checked = 0
    for op in set(P.CPU) | set(P.GPU):
        fn = names.get(aliases.get(op, op))
        if callable(fn) and not isinstance(fn, type) and getattr(fn, "__module__", "") in _MARKED_MODULES:
            assert getattr(fn, "__public_op__", None) is not None, op
            checked += 1
    assert checked >= 120


# ---------------------------------------------------------------- the region
def test_nesting_enabled_false_and_state_per_device_type():
    a, b = ember.randn(3, 4), ember.randn(4, 2)
    assert ACTIVE.modes == () and not ember.is_autocast_enabled("cpu")
    with ember.autocast("cpu"):
        assert ember.is_autocast_enabled("cpu") and not ember.is_autocast_enabled("cuda")
        assert (a @ b).dtype is ember.bfloat16 and ember.get_autocast_dtype("cpu") is ember.bfloat16
        with ember.autocast("cpu", dtype=ember.float16):
            assert (a @ b).dtype is ember.float16
            with ember.autocast("cpu", enabled=False):
                assert (a @ b).dtype is ember.float32 and not ember.is_autocast_enabled("cpu")
            assert (a @ b).dtype is ember.float16
        assert (a @ b).dtype is ember.bfloat16
        with ember.autocast("opencl"):  # another device type's region leaves CPU tensors to the CPU policy
            assert (a @ b).dtype is ember.bfloat16 and ember.is_autocast_enabled("opencl")
    assert (a @ b).dtype is ember.float32 and ACTIVE.modes == ()
    assert ember.get_autocast_dtype("cuda") is ember.float16 and ember.get_autocast_dtype("mps") is ember.float16


def test_decorator_and_errors():
    @ember.autocast("cpu")
    def product(a, b):
        return a @ b
    assert product(ember.randn(2, 2), ember.randn(2, 2)).dtype is ember.bfloat16
    assert not ember.is_autocast_enabled("cpu")
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        ember.autocast(ember.device("cpu"))
    with pytest.raises(RuntimeError):
        ember.autocast("nonsense")
    with pytest.raises(TypeError, match="requires a callable"):
        ember.autocast("cpu")(3)
    with pytest.warns(UserWarning, match="In CPU autocast, but the target dtype is not supported"):
        region = ember.autocast("cpu", dtype=ember.float64)
    with region:
        assert not ember.is_autocast_enabled("cpu")


def test_deprecated_forms_warn_and_work():
    a, b = ember.randn(2, 3), ember.randn(3, 2)
    with pytest.warns(FutureWarning, match=r"`torch.cpu.amp.autocast\(args...\)` is deprecated"):
        region = ember.cpu.amp.autocast()
    with region:
        assert (a @ b).dtype is ember.bfloat16
    with pytest.warns(FutureWarning, match=r"`torch.cuda.amp.autocast\(args...\)` is deprecated"):
        from ember.cuda.amp import autocast as cuda_autocast
        cuda_autocast(enabled=False)
    with pytest.warns(DeprecationWarning, match="get_autocast_gpu_dtype"):
        assert ember.get_autocast_gpu_dtype() is ember.float16
    with pytest.warns(DeprecationWarning, match="get_autocast_cpu_dtype"):
        assert ember.get_autocast_cpu_dtype() is ember.bfloat16
    assert ember.amp.autocast is ember.autocast and ember.amp.is_autocast_available("cpu")
    ember.set_autocast_enabled("cpu", True)
    try:
        assert ember.is_autocast_enabled("cpu") and (a @ b).dtype is ember.bfloat16
    finally:
        ember.set_autocast_enabled("cpu", False)
    assert ACTIVE.modes == () and not ember.is_autocast_enabled()


def test_weight_cast_cache_and_gradients_in_the_parameters_dtype():
    layer = ember.nn.Linear(4, 3)
    x = ember.randn(5, 4)
    with ember.autocast("cpu"):
        first = F.linear(x, layer.weight)
        cached = ember.amp.autocast_mode.STATE.cache[id(layer.weight)][4]
        F.linear(x, layer.weight)
        assert ember.amp.autocast_mode.STATE.cache[id(layer.weight)][4] is cached  # cast once per region
        assert ember.is_autocast_cache_enabled()
        loss = F.mse_loss(layer(x), ember.zeros(5, 3))
        assert first.dtype is ember.bfloat16 and loss.dtype is ember.float32
    assert ember.amp.autocast_mode.STATE.cache == {}  # dropped on leaving the region
    loss.backward()
    assert layer.weight.grad.dtype is ember.float32 and layer.bias.grad.dtype is ember.float32
    # the gradient is the float32 one, up to bfloat16 rounding of the forward
    w, b, xn = layer.weight.detach().numpy().astype(np.float64), layer.bias.detach().numpy(), x.numpy()
    expected = 2 * (xn @ w.T + b).T @ xn / 15
    np.testing.assert_allclose(layer.weight.grad.numpy(), expected, rtol=0.05, atol=0.02)
    with ember.autocast("cpu", cache_enabled=False):
        F.linear(x, layer.weight)
        assert ember.amp.autocast_mode.STATE.cache == {}


def test_custom_fwd_and_bwd():
    seen = {}

    class Double(ember.autograd.Function):
        @staticmethod
        @ember.amp.custom_fwd(device_type="cpu", cast_inputs=ember.float32)
        def forward(ctx, a, b):
            seen["fwd"] = (a.dtype, ember.is_autocast_enabled("cpu"))
            return a @ b

        @staticmethod
        @ember.amp.custom_bwd(device_type="cpu")
        def backward(ctx, grad):
            seen["bwd"] = ember.is_autocast_enabled("cpu")
            return grad, grad

    a = ember.randn(2, 2, dtype=ember.bfloat16, requires_grad=True)
    with ember.autocast("cpu"):
        out = Double.apply(a, ember.randn(2, 2))
    assert seen["fwd"] == (ember.float32, False) and out.dtype is ember.float32
    out.sum().backward()
    assert seen["bwd"] is False


def test_in_place_forms_are_not_autocast(monkeypatch):
    import ember.amp.autocast_mode as mode
    casts = []
    real = mode._cast_all
    monkeypatch.setattr(mode, "_cast_all", lambda *a, **k: casts.append(a) or real(*a, **k))
    x = ember.randn(4).abs()
    with ember.autocast("cpu"):
        with pytest.raises(RuntimeError, match="same dtype"):  # as PyTorch: in place, nothing is promoted
            x.clone().index_copy_(0, ember.tensor([1]), ember.ones(1, dtype=ember.bfloat16))
        assert casts == []
        assert ember.index_copy(x, 0, ember.tensor([1]), ember.ones(1, dtype=ember.bfloat16)).dtype is ember.float32
        assert len(casts) == 1  # the out-of-place form promoted


def test_calls_with_out_are_not_autocast():
    a, b, out = ember.randn(3, 4), ember.randn(4, 2), ember.empty(3, 2)
    with ember.autocast("cpu"):
        ember.matmul(a, b, out=out)
        assert (a @ b).dtype is ember.bfloat16
    np.testing.assert_allclose(out.numpy(), a.numpy() @ b.numpy(), rtol=1e-6)  # computed in float32


# ---------------------------------------------------------------- low-precision kernels
def test_low_precision_matmul_rounds_once_and_cupy_keeps_half_native():
    import ml_dtypes
    from ember.plugins.xp import XpKernels
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 7)).astype(np.float32), rng.standard_normal((7, 3)).astype(np.float32)
    for low in (np.float16, ml_dtypes.bfloat16):
        x, y = a.astype(low), b.astype(low)
        got = XpKernels(np, None).matmul(x, y.T.copy().T)  # a strided operand too
        want = (x.astype(np.float64) @ y.astype(np.float64)).astype(np.float32).astype(low)
        assert got.dtype == low and np.array_equal(got.astype(np.float32), want.astype(np.float32))

    class FakeCupy:  # CuPy's API over numpy: which dtypes reach its matmul
        seen = []

        def __getattr__(self, name):
            return getattr(np, name)

        def matmul(self, p, q):
            self.seen.append(p.dtype)
            return np.matmul(p, q)
    fake = FakeCupy()
    XpKernels(fake, None).matmul(a.astype(np.float16), b.astype(np.float16))
    XpKernels(fake, None).matmul(a.astype(ml_dtypes.bfloat16), b.astype(ml_dtypes.bfloat16))
    assert fake.seen == [np.dtype(np.float16), np.dtype(np.float32)]  # half native; bfloat16 through float32


def test_bfloat16_elementwise_computes_in_float32():
    import ml_dtypes
    from ember.plugins.xp import XpKernels
    k = XpKernels(np, None)
    x = np.random.default_rng(1).standard_normal(64).astype(ml_dtypes.bfloat16)
    for name, fn in (("add", np.add), ("mul", np.multiply), ("div", np.true_divide), ("maximum", np.maximum)):
        got = getattr(k, name)(x, x[::-1])
        want = fn(x.astype(np.float32), x[::-1].astype(np.float32)).astype(ml_dtypes.bfloat16)
        assert got.dtype == x.dtype and np.array_equal(got.view(np.uint16), want.view(np.uint16)), name
    assert k.lt(x, 0.5).dtype == np.bool_ and k.add(x, 2.5).dtype == x.dtype


#: ops on no GPU list: they keep float16 (PyTorch computes them without a listed op; ember's versions
#: of some call sum, pow or log inside, which must not turn them float32)
_GPU_UNLISTED = {
    "mean": lambda x, v: x.mean(1), "var": lambda x, v: x.var(), "std": lambda x, v: x.std(1),
    "var_mean": lambda x, v: ember.var_mean(v)[0], "gelu": lambda x, v: F.gelu(v), "silu": lambda x, v: F.silu(v),
    "logsigmoid": lambda x, v: F.logsigmoid(v), "logit": lambda x, v: ember.logit(v.sigmoid()),
    "avg_pool2d": lambda x, v: F.avg_pool2d(x, 2), "adaptive_avg_pool2d": lambda x, v: F.adaptive_avg_pool2d(x, 1),
    "batch_norm": lambda x, v: F.batch_norm(x, None, None, training=True), "instance_norm": lambda x, v: F.instance_norm(x),
    "interpolate_area": lambda x, v: F.interpolate(x, scale_factor=2, mode="area"), "outer": lambda x, v: ember.outer(v[0], v[1]),
    "dropout": lambda x, v: F.dropout(v, 0.5), "sqrt": lambda x, v: v.abs().sqrt(),
}


@pytest.mark.parametrize("device", GPU_DEVICES)
def test_gpu_policy_leaves_unlisted_ops_alone(device):
    x, v = ember.randn(2, 3, 4, 4).to(device).half(), ember.randn(3, 4).to(device).half()
    with ember.autocast(device):
        for name, fn in _GPU_UNLISTED.items():
            assert fn(x, v).dtype is ember.float16, name
        assert v.sum().dtype is ember.float32 and ember.inner(v, v.float()).dtype is ember.float32  # listed
        # PyTorch 2.13's CUDA fp32 list has rms_norm and the upsample_* kernels interpolate reaches
        assert F.rms_norm(v, (4,)).dtype is ember.float32
        for mode in ("nearest", "bilinear", "bicubic"):
            assert F.interpolate(x, scale_factor=2, mode=mode).dtype is ember.float32, mode
