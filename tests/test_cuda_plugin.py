"""The CUDA and ROCm plugins on a machine without a GPU (with or without CuPy installed).

What runs here: availability reporting (CuPy missing, broken, no driver, CUDA or ROCm
build — the last by a stand-in module), which plugin claims ``cuda`` and ``rocm``, device
strings, the errors of ``.to("cuda")``, the core's non-blocking / pinned-memory plumbing
(through a stand-in accelerator backend), the fused kernels' sources — compiled for the
GPU with nvcc or NVRTC when one is installed, and executed on the CPU under a thread
emulation of CUDA (``_gpu_emulation.py``) against numpy references — and their CuPy
launchers, driven with numpy in CuPy's place. On a GPU machine the conformance suite
covers the rest (``benchmarks/gpu/run_gpu.sh``).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest
import scipy.special

import ember
from ember.dispatch.backend import Backend
from ember.dispatch.hookspecs import hookimpl
from ember.dispatch.registry import REGISTRY, check_kernel_signature
from ember.dispatch import philox
from ember.plugins import xp as xp_kernels
from ember.plugins.cupy import fused as fused_module
from ember.plugins.cupy import runtime, sources
from ember.plugins.cupy.runtime import PLATFORM_ANY, PLATFORM_ROCM

import _gpu_emulation


def _real_probe():
    runtime.reset_probe()
    return runtime.probe()


REAL = _real_probe()
GPU_HERE = REAL.cupy is not None and REAL.device_count > 0


@pytest.fixture
def fresh_probe():
    """Let a test change what the probe finds; the real answer is restored afterwards."""
    runtime.reset_probe()
    yield
    runtime.reset_probe()


# ---------------------------------------------------------------- stand-ins for CuPy builds
class _Failure(Exception):
    pass


def fake_cupy(*, is_hip=False, devices=1, device_error=None, driver=12040, version="14.2.0"):
    """A module that answers the probe's questions as a CuPy build would."""
    def device_count():
        if device_error:
            raise _Failure(device_error)
        return devices
    rt = types.SimpleNamespace(is_hip=is_hip, runtimeGetVersion=lambda: 12090 if not is_hip else 70000000,
                               driverGetVersion=lambda: driver, getDeviceCount=device_count)
    return types.SimpleNamespace(__version__=version, cuda=types.SimpleNamespace(runtime=rt))


def probe_with(module):
    return runtime.run_probe(import_module=lambda name: module)


def reasons(found):
    return (runtime.unavailable_reason(found, PLATFORM_ANY, runtime.CUDA_INSTALL),
            runtime.unavailable_reason(found, PLATFORM_ROCM, runtime.ROCM_INSTALL))


# ---------------------------------------------------------------- availability
def test_missing_cupy_says_how_to_install(monkeypatch, fresh_probe):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ModuleNotFoundError
    found = runtime.probe()
    assert found.missing and found.cupy is None
    cuda, rocm = reasons(found)
    assert "CuPy is not installed" in cuda and "pip install ember[cuda]" in cuda
    assert "pip install ember[rocm]" in rocm
    backend = REGISTRY.backend("cuda")
    assert not backend.is_available() and backend.device_count() == 0
    assert not ember.cuda.is_available() and ember.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match=r"device 'cuda' is not available: CuPy is not installed.*ember\[cuda\]"):
        ember.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match=r"ember\[cuda\]"):
        ember.ones(2).to("cuda")
    from ember.__main__ import plugin_report
    report = plugin_report()
    assert re.search(r"cuda\s+unavailable .*pip install ember\[cuda\]", report)
    assert re.search(r"rocm\s+unavailable .*pip install ember\[rocm\]", report)


def test_cupy_that_fails_to_import_is_reported():
    def broken(name):
        raise ImportError("libcudart.so.12: cannot open shared object file")
    found = runtime.run_probe(import_module=broken)
    assert found.cupy is None and not found.missing
    cuda, _ = reasons(found)
    assert "failed to import" in cuda and "libcudart.so.12" in cuda and "pip install ember[cuda]" in cuda


def test_cupys_import_banner_is_reduced_to_the_real_error():
    def broken(name):
        banner = "=" * 64
        raise ImportError(f"{banner}\nFailed to import CuPy.\nIf you installed CuPy via wheels ...\nOriginal error:\n"
                          f"  ImportError: libamdhip64.so.7: cannot open shared object file\n{banner}")
    found = runtime.run_probe(import_module=broken)
    assert found.import_error == "ImportError: libamdhip64.so.7: cannot open shared object file"
    assert "ember[rocm]" in reasons(found)[1]


def test_a_missing_dependency_of_cupy_is_not_missing_cupy():
    def broken(name):
        raise ModuleNotFoundError("No module named 'fastrlock'", name="fastrlock")
    found = runtime.run_probe(import_module=broken)
    assert not found.missing and "fastrlock" in reasons(found)[0]


def test_no_driver_gives_cupys_error():
    found = probe_with(fake_cupy(device_error="cudaErrorInsufficientDriver: CUDA driver version is insufficient",
                                 driver=0))
    cuda, rocm = reasons(found)
    assert cuda.startswith("no usable CUDA (NVIDIA) GPU: cudaErrorInsufficientDriver")
    assert "no NVIDIA driver was found" in cuda
    assert "CUDA build" in rocm and "pip install ember[rocm]" in rocm


def test_no_gpu_found():
    cuda, _ = reasons(probe_with(fake_cupy(devices=0)))
    assert "found no CUDA (NVIDIA) GPU" in cuda


@pytest.mark.skipif(REAL.cupy is None or GPU_HERE, reason="needs CuPy installed on a machine without a GPU")
def test_this_machine_cupy_without_gpu(fresh_probe):
    found = runtime.probe()
    assert found.cupy is not None and found.device_error is not None
    assert not ember.cuda.is_available()
    with pytest.raises(RuntimeError) as info:
        ember.tensor([1.0, 2.0]).to("cuda")
    message = str(info.value)
    assert message.startswith("device 'cuda' is not available: no usable")
    assert found.device_error in message  # CuPy's own words, e.g. cudaErrorInsufficientDriver
    with pytest.raises(RuntimeError, match="not available"):
        ember.zeros(3, device="cuda:0")
    with pytest.raises(RuntimeError, match="not available"):
        ember.cuda.synchronize()
    with pytest.raises(RuntimeError, match="not available"):
        ember.cuda.Stream()
    with pytest.raises(RuntimeError, match="not available"):
        ember.cuda.memory_allocated()
    with pytest.raises(RuntimeError, match="not available"):
        ember.ones(2).pin_memory()
    assert not ember.ones(2).is_pinned()
    assert not ember.cuda.is_bf16_supported()
    ember.cuda.empty_cache()  # a no-op without a GPU, as in PyTorch


@pytest.mark.skipif(GPU_HERE, reason="checks the report of a machine without a GPU")
def test_python_m_ember_lists_cuda_and_rocm_as_unavailable():
    out = subprocess.run([sys.executable, "-m", "ember"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    cuda = re.search(r"^\s*cuda\s+unavailable\s+plugin=cuda[^:]*: (.+)$", out.stdout, re.M)
    rocm = re.search(r"^\s*rocm\s+unavailable\s+plugin=rocm[^:]*: (.+)$", out.stdout, re.M)
    assert cuda and rocm, out.stdout
    expected = (REAL.device_error or "").split(" (")[0] if REAL.cupy is not None else "pip install ember[cuda]"
    assert expected in cuda.group(1)
    assert "Traceback" not in out.stdout + out.stderr


def test_import_ember_and_cpu_work_do_not_import_cupy():
    code = ("import sys, ember; x = ember.ones(3) * 2; x.sum().item(); "
            "print('cupy' in sys.modules, ember.cuda.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "ember.cuda"]


# ---------------------------------------------------------------- which plugin claims which name
def test_cuda_build_claims_cuda_only():
    cuda, rocm = reasons(probe_with(fake_cupy(devices=2)))
    assert cuda is None
    assert "is a CUDA build" in rocm and "pip install ember[rocm]" in rocm


def test_rocm_build_answers_to_both_cuda_and_rocm():
    found = probe_with(fake_cupy(is_hip=True, devices=1))
    assert found.is_hip and found.build == "CuPy 14.2.0 for ROCm"
    assert reasons(found) == (None, None)


def test_rocm_build_without_gpu_names_rocm():
    found = probe_with(fake_cupy(is_hip=True, device_error="hipErrorNoDevice: no ROCm-capable device is detected"))
    cuda, rocm = reasons(found)
    assert cuda == rocm == "no usable ROCm (AMD) GPU: hipErrorNoDevice: no ROCm-capable device is detected"


def test_plugins_are_registered_entry_points():
    import importlib.metadata
    points = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="ember.backends")}
    assert points.get("cuda") == "ember.plugins.cuda" and points.get("rocm") == "ember.plugins.rocm"
    cuda, rocm = REGISTRY.backend("cuda"), REGISTRY.backend("rocm")
    assert (cuda.device_type, cuda.dispatch_key, cuda.platform) == ("cuda", "CUDA", PLATFORM_ANY)
    assert (rocm.device_type, rocm.dispatch_key, rocm.platform) == ("rocm", "ROCm", PLATFORM_ROCM)


# ---------------------------------------------------------------- device strings
@pytest.mark.parametrize("text, kind, index", [("cuda", "cuda", None), ("cuda:1", "cuda", 1),
                                               ("rocm:0", "rocm", 0), ("rocm", "rocm", None)])
def test_device_strings(text, kind, index):
    d = ember.device(text)
    assert (d.type, d.index, str(d)) == (kind, index, text)
    assert ember.device(kind, index) == d


def test_device_int_means_cuda_and_bad_strings_raise():
    assert ember.device(1) == ember.device("cuda:1")
    for bad in ("cuda:x", "cuda:-1", "cuda:1:2", ":1"):
        with pytest.raises(RuntimeError, match="Invalid device string"):
            ember.device(bad)


# ---------------------------------------------------------------- the core's accelerator plumbing
class FakeAccelerator(Backend):
    """A numpy 'GPU' with a current device, non-blocking copies and pinned memory, recording calls."""
    device_type = "fakegpu"
    dispatch_key = "FakeGPU"
    name, version = "fake-accelerator", "0"
    supports_non_blocking = True
    index_follows_current_device = True

    def __init__(self):
        self.current = 0
        self.calls = []
        self.pinned = set()

    def device_count(self):
        return 2

    def canonical_index(self, index):
        return self.current if index is None else index

    def from_numpy(self, array, index, non_blocking=False):
        self.calls.append(("from_numpy", index, non_blocking))
        return np.array(array, copy=True)

    def to_numpy(self, native, non_blocking=False):
        self.calls.append(("to_numpy", non_blocking))
        return self.pin(native) if non_blocking else native

    def normalize(self, native):
        return native if isinstance(native, np.ndarray) else np.asarray(native)

    def pin(self, array):
        out = np.array(array, copy=True)
        self.pinned.add(out.ctypes.data)
        return out

    def is_pinned(self, array):
        return array.ctypes.data in self.pinned


class FakeAcceleratorPlugin:
    def __init__(self):
        self.backend = FakeAccelerator()

    @hookimpl
    def ember_backend(self):
        return self.backend

    @hookimpl
    def ember_kernels(self, backend):
        return xp_kernels.XpKernels(np, scipy.special).kernels()


@pytest.fixture(scope="module")
def fakegpu():
    if "fakegpu" not in REGISTRY.backends:
        REGISTRY.register_plugin(FakeAcceleratorPlugin(), "fake-accelerator")
    backend = REGISTRY.backend("fakegpu")
    backend.calls.clear()
    return backend


def test_device_without_index_follows_the_current_device(fakegpu):
    fakegpu.current = 0
    a = ember.ones(2, device="fakegpu")
    fakegpu.current = 1
    b = ember.ones(2, device="fakegpu")
    fakegpu.current = 0
    assert (str(a.device), str(b.device)) == ("fakegpu:0", "fakegpu:1")
    assert ember.ones(1, device="fakegpu:1").device is b.device  # one Device object per device


def test_non_blocking_reaches_the_backend(fakegpu):
    fakegpu.calls.clear()
    x = ember.arange(6.0).reshape(2, 3)
    y = x.to("fakegpu", non_blocking=True)
    assert fakegpu.calls[-1] == ("from_numpy", 0, True)
    z = x.to("fakegpu")
    assert fakegpu.calls[-1] == ("from_numpy", 0, False)
    back = y.to("cpu", non_blocking=True)
    assert fakegpu.calls[-1] == ("to_numpy", True)
    assert back.is_pinned(device="fakegpu")  # lands in pinned memory, as in PyTorch
    np.testing.assert_array_equal(back.numpy(), x.numpy())
    np.testing.assert_array_equal(z.cpu().numpy(), x.numpy())


def test_pin_memory_through_a_backend(fakegpu):
    x = ember.randn(3, 4)
    assert not x.is_pinned(device="fakegpu")
    p = x.pin_memory(device="fakegpu")
    assert p.device.type == "cpu" and p.is_pinned(device="fakegpu") and p is not x
    assert p.pin_memory(device="fakegpu") is p  # already pinned: itself
    np.testing.assert_array_equal(p.numpy(), x.numpy())
    t = ember.tensor([1.0, 2.0], requires_grad=True)
    (t.pin_memory(device="fakegpu") * 3).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [3.0, 3.0])
    with pytest.raises(RuntimeError, match="only CPU tensors can be pinned"):
        ember.ones(2, device="fakegpu").pin_memory(device="fakegpu")
    assert not ember.ones(2, device="fakegpu").is_pinned(device="fakegpu")


class LateBackend(Backend):
    """A backend that counts availability checks and becomes available when told."""
    device_type = "latedev"
    dispatch_key = "LateDev"
    name, version = "late", "0"

    def __init__(self):
        self.checks = 0
        self.ready = False

    def unavailable_reason(self):
        self.checks += 1
        return None if self.ready else "not ready yet"

    def from_numpy(self, array, index):
        return np.array(array, copy=True)

    def to_numpy(self, native):
        return native


class LatePlugin:
    def __init__(self):
        self.backend = LateBackend()
        self.registrations = 0

    @hookimpl
    def ember_backend(self):
        return self.backend

    @hookimpl
    def ember_kernels(self, backend):
        self.registrations += 1
        return {"full": xp_kernels.XpKernels(np, scipy.special).full}


def test_availability_is_checked_at_first_lookup_and_again_until_available():
    plugin = LatePlugin()
    REGISTRY.register_plugin(plugin, "late")
    ember.ones(2).sum()
    assert plugin.backend.checks == 0  # loading a plugin probes nothing; CPU work neither
    with pytest.raises(RuntimeError, match="device 'latedev' is not available: not ready yet"):
        ember.ones(2, device="latedev")
    assert plugin.backend.checks > 0 and plugin.registrations == 0
    plugin.backend.ready = True
    assert ember.ones(2, device="latedev").device.type == "latedev"
    assert plugin.registrations == 1


# ---------------------------------------------------------------- kernel sources
_SIGNATURE = re.compile(r'extern "C" __global__ void (\w+)\(([^)]*)\)', re.S)


def test_every_source_is_complete_and_declares_its_parameters():
    all_sources = sources.all_sources()
    assert len(all_sources) == len(sources.BUILDERS) * len(sources.TYPES)
    assert len({s.name for s in all_sources}) == len(all_sources)
    for source in all_sources:
        assert "$" not in source.code, source.name  # every template field filled
        assert "#include" not in source.code       # self-contained: NVRTC, hiprtc and nvcc take it as is
        kernels = _SIGNATURE.findall(source.code)
        assert [k for k, _ in kernels] == [source.name]
        declared = [" ".join(p.replace("__restrict__", "").split()) for p in kernels[0][1].split(",")]
        assert declared == [f"{ctype} {name}" for ctype, name in source.params], source.name
        ctype = "double" if source.name.endswith("f64") else "float"
        assert f"{ctype}* " in " ".join(declared) + " "


def test_sources_use_no_warp_shuffles_or_fixed_warp_size():
    for source in sources.all_sources():
        assert "__shfl" not in source.code and "warpSize" not in source.code


def _gpu_compiler():
    nvcc = shutil.which("nvcc") or next((p for p in ("/usr/local/cuda/bin/nvcc",) if os.path.exists(p)), None)
    if nvcc:
        return "nvcc", nvcc
    try:
        from cupy.cuda import compiler
        compiler.compile_using_nvrtc('extern "C" __global__ void k() {}', arch="75")
        return "nvrtc", compiler
    except Exception:
        return None, None


def test_sources_compile_for_the_gpu(tmp_path):
    kind, compiler = _gpu_compiler()
    if kind is None:
        pytest.skip("neither nvcc nor CuPy's NVRTC is installed")
    code = "".join(s.code for s in sources.all_sources())
    if kind == "nvcc":
        arches = subprocess.run([compiler, "--list-gpu-arch"], capture_output=True, text=True).stdout.split()
        arch = arches[0].replace("compute_", "sm_") if arches else "sm_75"
        path = tmp_path / "ember_kernels.cu"
        path.write_text(code)
        done = subprocess.run([compiler, "--cubin", f"-arch={arch}", "-Wno-deprecated-gpu-targets", "-Werror",
                               "all-warnings", str(path), "-o", str(tmp_path / "ember_kernels.cubin")],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        symbols = (tmp_path / "ember_kernels.cubin").read_bytes()
        for source in sources.all_sources():
            assert source.name.encode() in symbols
    else:
        for source in sources.all_sources():
            compiler.compile_using_nvrtc(source.code, arch="75")


# ---------------------------------------------------------------- the kernels, executed (emulated)
@pytest.fixture(scope="module")
def emulated():
    if _gpu_emulation.host_compiler() is None:
        pytest.skip("no C++ compiler to emulate the kernels with")
    return _gpu_emulation.compile_kernels(sources.all_sources())


def _softmax_reference(x, axis, log):
    x = x.astype(np.float64)
    shift = x.max(axis=axis, keepdims=True, initial=-np.inf)  # PyTorch's: an infinite max gives NaN
    with np.errstate(all="ignore"):
        e = np.exp(x - shift)
        s = e.sum(axis=axis, keepdims=True)
        return (x - shift) - np.log(s) if log else e / s


def _special_rows(dtype):
    x = np.random.default_rng(0).standard_normal((7, 45)).astype(dtype) * 4
    x[1, 5] = np.inf
    x[2, :] = -np.inf
    x[3, 7] = np.nan
    x[4, :3] = -np.inf
    return x


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_rows_kernel(emulated, dtype, log):
    suffix = sources.TYPES[dtype][1]
    x = _special_rows(dtype)
    y = np.full_like(x, 12345)
    # grid 3 < 7 rows: the grid-stride loop; block 64 > cols / 2: idle threads in the reduction
    emulated[f"ember_softmax_rows_{suffix}"](3, 64, x, y, 7, 45, int(log))
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(y, _softmax_reference(x, 1, log), rtol=tol, atol=tol, equal_nan=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_cols_kernel(emulated, dtype, log):
    suffix = sources.TYPES[dtype][1]
    x = np.random.default_rng(1).standard_normal((3, 5, 7)).astype(dtype) * 3
    x[1, :, 2] = -np.inf
    y = np.zeros_like(x)
    emulated[f"ember_softmax_cols_{suffix}"](2, 4, x, y, 3, 5, 7, int(log))  # 8 threads for 21 columns
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(y, _softmax_reference(x, 1, log), rtol=tol, atol=tol, equal_nan=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("affine", [False, True])
def test_layer_norm_kernel(emulated, dtype, affine):
    suffix = sources.TYPES[dtype][1]
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((5, 300)) * 3 + 7).astype(dtype)
    w, b = rng.standard_normal(300).astype(dtype), rng.standard_normal(300).astype(dtype)
    y, mean, rstd = np.zeros_like(x), np.zeros(5, dtype), np.zeros(5, dtype)
    emulated[f"ember_layer_norm_rows_{suffix}"](2, 128, x, w, b, y, mean, rstd, 5, 300, 1e-5, int(affine), int(affine))
    x64 = x.astype(np.float64)
    mu = x64.mean(1, keepdims=True)
    r = 1 / np.sqrt(x64.var(1, keepdims=True) + 1e-5)
    ref = (x64 - mu) * r * (w if affine else 1) + (b if affine else 0)
    tol = 1e-4 if dtype == "float32" else 1e-11
    np.testing.assert_allclose(y, ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(mean, mu[:, 0], rtol=tol)
    np.testing.assert_allclose(rstd, r[:, 0], rtol=tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_kernel(emulated, dtype, approximate):
    suffix = sources.TYPES[dtype][1]
    x = np.random.default_rng(3).standard_normal(1001).astype(dtype) * 3
    y = np.zeros_like(x)
    emulated[f"ember_gelu_{suffix}"](2, 32, x, y, x.size, int(approximate))
    v = x.astype(np.float64)
    if approximate:
        ref = 0.5 * v * (1 + np.tanh(np.sqrt(2 / np.pi) * (v + 0.044715 * v ** 3)))
    else:
        ref = 0.5 * v * (1 + scipy.special.erf(v / np.sqrt(2)))
    tol = 1e-6 if dtype == "float32" else 1e-14
    np.testing.assert_allclose(y, ref, rtol=tol, atol=tol)


def _adam_reference(p, g, m, v, vmax, *, lr, beta1, beta2, eps, wd, step, decoupled, amsgrad, maximize):
    g = -g if maximize else g
    if wd:
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
    m = m + (1 - beta1) * (g - m)
    v = beta2 * v + (1 - beta2) * g * g
    if amsgrad:
        vmax = np.maximum(vmax, v)
    denom = np.sqrt(vmax if amsgrad else v) / np.sqrt(1 - beta2 ** step) + eps
    return p - lr / (1 - beta1 ** step) * m / denom, m, v, vmax


@pytest.mark.parametrize("flags", [dict(decoupled=False, amsgrad=False, maximize=False),
                                   dict(decoupled=True, amsgrad=True, maximize=False),
                                   dict(decoupled=False, amsgrad=True, maximize=True)])
def test_adam_kernel(emulated, flags):
    rng = np.random.default_rng(4)
    n = 77
    p = rng.standard_normal(n)
    m, v, vmax = np.zeros(n), np.zeros(n), np.zeros(n)
    rp, rm, rv, rvmax = p.copy(), m.copy(), v.copy(), vmax.copy()
    hyper = dict(lr=1e-2, beta1=0.9, beta2=0.99, eps=1e-8, wd=0.1)
    for step in (1, 2, 3):
        g = rng.standard_normal(n)
        emulated["ember_adam_f64"](2, 16, p, g, m, v, vmax, n, hyper["lr"], hyper["beta1"], hyper["beta2"],
                                   hyper["eps"], hyper["wd"], hyper["lr"] / (1 - hyper["beta1"] ** step),
                                   (1 - hyper["beta2"] ** step) ** 0.5, int(flags["decoupled"]),
                                   int(flags["amsgrad"]), int(flags["maximize"]))
        rp, rm, rv, rvmax = _adam_reference(rp, g, rm, rv, rvmax, step=step, **hyper, **flags)
    np.testing.assert_allclose(p, rp, rtol=1e-12)
    np.testing.assert_allclose(m, rm, rtol=1e-12)
    np.testing.assert_allclose(v, rv, rtol=1e-12)


def test_adam_step_matches_ember_optim_adam(emulated):
    optim = pytest.importorskip("ember.optim")
    rng = np.random.default_rng(5)
    start = rng.standard_normal(40)
    grads = [rng.standard_normal(40) for _ in range(3)]
    param = ember.tensor(start.copy(), requires_grad=True)
    opt = optim.AdamW([param], lr=0.05, betas=(0.8, 0.95), weight_decay=0.2, amsgrad=True)
    fused = fused_module.FusedKernels(_gpu_emulation.fake_cupy(emulated))
    p, m, v, vmax = start.copy(), np.zeros(40), np.zeros(40), np.zeros(40)
    for step, g in enumerate(grads, 1):
        param.grad = ember.tensor(g)
        opt.step()
        fused.adam_step(p, g, m, v, vmax, lr=0.05, beta1=0.8, beta2=0.95, eps=1e-8, weight_decay=0.2, step=step,
                        decoupled_weight_decay=True, amsgrad=True)
    np.testing.assert_allclose(p, param.detach().numpy(), rtol=1e-12, atol=1e-14)


_BITS = {"float64": 53, "float32": 24}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("seed, offset", [(0, 0), (12345, 3), (2 ** 64 - 1, 2 ** 64 - 2)])
def test_philox_uniform_kernel_is_bit_exact(emulated, dtype, seed, offset):
    suffix = sources.TYPES[dtype][1]
    n = 4 * 9 + 3  # a partial last block
    out = np.zeros(n, dtype)
    emulated[f"ember_philox_uniform_{suffix}"](2, 4, out, n, seed, offset, _BITS[dtype])
    expected = xp_kernels.XpKernels(np, scipy.special).philox_uniform(
        shape=(n,), dtype=getattr(ember, dtype), seed=seed, offset=offset, index=None)
    assert out.tobytes() == expected.tobytes()


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_philox_uniform_half_types_are_bit_exact(emulated, dtype):
    fused = fused_module.FusedKernels(_gpu_emulation.fake_cupy(emulated))
    ember_dtype = getattr(ember, dtype)
    got = fused.philox_uniform(shape=(5, 7), dtype=ember_dtype, seed=99, offset=11, index=0)
    expected = xp_kernels.XpKernels(np, scipy.special).philox_uniform(
        shape=(5, 7), dtype=ember_dtype, seed=99, offset=11, index=None)
    assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes()
    assert float(got.astype(np.float32).max()) < 1.0


def test_device_rand_matches_ember_rand(emulated):
    fused = fused_module.FusedKernels(_gpu_emulation.fake_cupy(emulated))
    ember.manual_seed(2024)
    first = ember.rand(3, 5)
    second = ember.rand(10, dtype=ember.float64)
    gen = ember.Generator().manual_seed(2024)
    seed, offset = gen._take(15, normal=False)
    np.testing.assert_array_equal(fused.philox_uniform(shape=(3, 5), dtype=ember.float32, seed=seed,
                                                       offset=offset, index=0), first.numpy())
    seed, offset = gen._take(10, normal=False)
    np.testing.assert_array_equal(fused.philox_uniform(shape=(10,), dtype=ember.float64, seed=seed,
                                                       offset=offset, index=0), second.numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_philox_normal_kernel(emulated, dtype):
    suffix = sources.TYPES[dtype][1]
    n = 4 * 5 + 1
    out = np.zeros(n, dtype)
    emulated[f"ember_philox_normal_{suffix}"](2, 2, out, n, 77, 5)
    expected = philox.philox_normal((n,), 77, 5).astype(dtype)
    # the same words and formula; the C library's log/sin/cos may round the last bit differently
    np.testing.assert_allclose(out, expected, rtol=4 * np.finfo(dtype).eps, atol=4 * np.finfo(dtype).eps)


# ---------------------------------------------------------------- the CuPy launchers, with numpy as CuPy
@pytest.fixture(scope="module")
def launcher(emulated):
    return fused_module.FusedKernels(_gpu_emulation.fake_cupy(emulated))


@pytest.mark.parametrize("shape, dim", [((4, 9), 1), ((4, 9), 0), ((2, 3, 5), 1), ((6,), 0), ((), 0),
                                        ((3, 0), 1), ((0, 4), 1)])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_launcher(launcher, shape, dim, log):
    x = np.random.default_rng(6).standard_normal(shape).astype(np.float32)
    y = launcher.log_softmax(x, dim=dim) if log else launcher.softmax(x, dim=dim)
    assert y.shape == x.shape and y.dtype == x.dtype
    ref = _softmax_reference(x.reshape(x.shape or (1,)), dim, log).reshape(shape)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_softmax_launcher_computes_half_types_in_float32(launcher, dtype):
    x = (np.random.default_rng(7).standard_normal((3, 11)) * 2).astype(getattr(ember, dtype).numpy)
    y = launcher.softmax(x, dim=1)
    assert y.dtype == x.dtype
    np.testing.assert_allclose(y.astype(np.float64), _softmax_reference(x.astype(np.float32), 1, False),
                               rtol=1e-2, atol=1e-3)


def test_softmax_launcher_matches_the_composite(launcher):
    x = ember.randn(5, 6, 7)
    for dim in (0, 1, 2):
        np.testing.assert_allclose(launcher.softmax(x.numpy(), dim=dim), ember.softmax(x, dim).numpy(),
                                   rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(launcher.log_softmax(x.numpy(), dim=dim), ember.log_softmax(x, dim).numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_layer_norm_and_gelu_launchers(launcher):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    w = rng.standard_normal((4, 5)).astype(np.float32)
    y, mean, rstd = launcher.layer_norm(x, w, None, normalized_ndim=2, eps=1e-5)
    assert y.shape == x.shape and mean.shape == rstd.shape == (2, 3)
    flat = x.reshape(6, 20).astype(np.float64)
    ref = (flat - flat.mean(1, keepdims=True)) / np.sqrt(flat.var(1, keepdims=True) + 1e-5) * w.reshape(20)
    np.testing.assert_allclose(y.reshape(6, 20), ref, rtol=1e-4, atol=1e-5)
    g = launcher.gelu(x, approximate="tanh")
    v = x.astype(np.float64)
    np.testing.assert_allclose(g, 0.5 * v * (1 + np.tanh(np.sqrt(2 / np.pi) * (v + 0.044715 * v ** 3))),
                               rtol=1e-5, atol=1e-6)


def test_launch_geometry():
    assert [fused_module.row_block(n) for n in (1, 32, 33, 200, 5000)] == [32, 32, 64, 256, 256]
    assert fused_module.elementwise_grid(0) == 1
    assert fused_module.elementwise_grid(10 ** 12) == 65535


# ---------------------------------------------------------------- the kernel table over CuPy
def test_kernel_table_covers_every_primitive_and_the_fused_composites():
    from ember.dispatch.ops import OPS, primitives
    from ember.plugins.cupy.kernels import CPU_FALLBACK, FUSED_OPS, build_kernels, kernel_names
    if REAL.cupy is not None:  # building the table compiles nothing: no GPU needed
        import cupyx.scipy.special
        table = build_kernels(REAL.cupy, cupyx.scipy.special, multi_device=False)
    else:
        table = build_kernels(np, scipy.special, multi_device=False)
    assert set(FUSED_OPS) <= set(OPS)
    missing = [op.name for op in primitives() if op.name not in table and op.name not in CPU_FALLBACK]
    assert not missing, f"primitives without a CUDA kernel: {missing}"
    assert not set(CPU_FALLBACK) & set(table)  # those run through the dispatcher's counted fallback
    for name in FUSED_OPS:
        assert table[name].__self__.__class__ is fused_module.FusedKernels
    assert {"gelu", "layer_norm"} <= set(FUSED_OPS)  # the fused composites the CuPy plugin brings
    for name, kernel in table.items():  # what the registry checks when a GPU registers them
        check_kernel_signature(OPS[name], kernel, "cuda")
    # what `python -m ember coverage` lists for cuda/rocm on a machine without CuPy
    assert set(kernel_names()) == set(table)


def test_cuda_and_rocm_list_their_kernels_without_cupy():
    out = subprocess.run([sys.executable, "-c", (
        "import sys\n"
        "sys.modules['cupy'] = None  # as if not installed\n"
        "from ember.dispatch.registry import REGISTRY\n"
        "REGISTRY.load()\n"
        "names = {d: REGISTRY.kernel_names(d) for d in ('cuda', 'rocm')}\n"
        "print(sorted(names['cuda']) == sorted(names['rocm']), len(names['cuda']), 'gelu' in names['cuda'],\n"
        "      'layer_norm' in names['cuda'], [f.name for f in REGISTRY.failures])\n")],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    from ember.plugins.cupy.kernels import kernel_names
    assert out.stdout.split() == ["True", str(len(kernel_names())), "True", "True", "[]"]


@pytest.mark.parametrize("reduce", ["multiply", "add", None])
def test_cupy_scatter_without_ufunc_at_for_products(reduce):
    from ember.plugins.cupy.kernels import CupyKernels
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 5))
    index = rng.integers(0, 4, size=(6, 3))  # repeated targets along dim 0
    src = rng.standard_normal((6, 4))
    got = CupyKernels(np, scipy.special).scatter(x, index, src, dim=0, reduce=reduce)
    expected = x.copy()
    for i in range(6):
        for j in range(3):
            if reduce == "multiply":
                expected[index[i, j], j] *= src[i, j]
            elif reduce == "add":
                expected[index[i, j], j] += src[i, j]
            else:
                expected[index[i, j], j] = src[i, j]
    if reduce is None:  # with repeated targets the winner is unspecified: compare untouched places
        touched = np.zeros_like(x, dtype=bool)
        touched[index, np.arange(3)] = True
        np.testing.assert_array_equal(got[~touched], x[~touched])
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_multi_device_guard_runs_kernels_on_their_inputs_device():
    from ember.plugins.cupy.kernels import _on_device_of_inputs
    entered = []

    class FakeDevice:
        def __init__(self, index):
            self.index = index

        def __enter__(self):
            entered.append(self.index)

        def __exit__(self, *exc):
            return False

    class FakeArray:
        device = FakeDevice(3)

    fake = types.SimpleNamespace(ndarray=FakeArray, cuda=types.SimpleNamespace(Device=FakeDevice))
    guarded = _on_device_of_inputs(fake, lambda *args, **attrs: "ran")
    assert guarded(1.0, FakeArray()) == "ran" and entered == [3]
    assert guarded(shape=(2,), index=1) == "ran" and entered == [3, 1]


def test_adam_step_kernel_uses_the_generic_update_where_the_fused_one_cannot_run():
    from ember.plugins.cupy.kernels import _adam_step
    calls = []
    fused = types.SimpleNamespace(adam_step=lambda *a, **k: calls.append("fused"))
    kernel = _adam_step(fused, lambda *a, **k: calls.append("generic"))
    contiguous = [np.zeros(4, np.float32) for _ in range(4)]
    kernel(*contiguous, None, lr=0.1)
    kernel(np.zeros(4, np.float16), *contiguous[1:], None, lr=0.1)        # dtype the kernel lacks
    kernel(np.zeros((4, 2), np.float32).T, *[np.zeros((2, 4), np.float32)] * 3, None, lr=0.1)  # strided
    assert calls == ["fused", "generic", "generic"]
