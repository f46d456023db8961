"""The device modules: ember.cuda (without a usable GPU here, and its CuPy paths through fakes where a
fake proves the wiring), ember.accelerator, ember.cpu, ember.mps, ember.Stream / ember.Event, and
ember.backends' flags — against PyTorch 2.13's behaviour on a machine without CUDA."""
import ctypes.util
import math
import sys
import types

import numpy as np
import pytest

import ember
from ember.cuda import _common

NO_GPU = pytest.mark.skipif(ember.cuda.is_available(), reason="checks a machine without a usable GPU")


# ---------------------------------------------------------------- ember.cuda without a GPU
@NO_GPU
@pytest.mark.parametrize("call", [
    lambda c: c.mem_get_info(), lambda c: c.set_per_process_memory_fraction(0.5),
    lambda c: c.get_per_process_memory_fraction(), lambda c: c.caching_allocator_alloc(16), lambda c: c.MemPool(),
    lambda c: c.CUDAGraph(), lambda c: c.graph_pool_handle(), lambda c: c.is_current_stream_capturing(),
    lambda c: c.get_sync_debug_mode(), lambda c: c.set_sync_debug_mode("warn"), lambda c: c.cudart(),
    lambda c: c.current_blas_handle(), lambda c: c.current_solver_handle(), lambda c: c.ipc_collect(),
    lambda c: c.can_device_access_peer(0, 1), lambda c: c.get_allocator_backend(), lambda c: c.ExternalStream(1),
    lambda c: c.get_stream_from_external(1), lambda c: c.get_rng_state(), lambda c: c.max_memory_reserved(),
    lambda c: c.memory_summary(), lambda c: c.reset_accumulated_memory_stats(), lambda c: c.profiler.start(),
    lambda c: c.nccl.version(), lambda c: c.make_graphed_callables(lambda x: x, (ember.ones(1),)),
    lambda c: c.jiterator._create_jit_fn("template <typename T> T f(T x) { return x; }")(ember.ones(2)),
], ids=lambda f: "")
def test_cuda_calls_that_need_a_gpu_raise_runtime_error(call):
    with pytest.raises(RuntimeError, match="not available"):
        call(ember.cuda)


@NO_GPU
def test_cuda_answers_pytorch_gives_without_a_gpu():
    c = ember.cuda
    assert c.get_arch_list() == [] and c.get_gencode_flags() == "" and c.is_tf32_supported() is False
    assert c.get_rng_state_all() == [] and c.default_generators == ()
    assert c.memory_stats_as_nested_dict() == {}
    before = ember.get_rng_state()
    c.set_rng_state(ember.zeros(3, dtype=ember.int64))  # queued until CUDA starts in PyTorch: no effect
    c.set_rng_state_all([ember.zeros(3, dtype=ember.int64)])
    assert ember.equal(ember.get_rng_state(), before)
    c.caching_allocator_enable(False)
    c.caching_allocator_enable(True)
    with c.caching_allocator_disabled():
        pass
    assert c.StreamContext(None).__enter__() is None and c.set_stream(None) is None
    with c.stream(None):
        pass
    with c.device_of(ember.ones(1)) as d:
        assert d.idx == -1
    assert c.has_half is True and c.has_magma is False
    assert (c.cudaStatus.SUCCESS, c.cudaStatus.ERROR_NOT_READY) == (0, 34)
    assert not c.nccl.is_available([ember.ones(1)])
    with pytest.raises(TypeError, match="not available"):
        c.FloatTensor(1)


def test_cuda_errors():
    ember.cuda.check_error(0)
    with pytest.raises(ember.cuda.CudaError, match=r"\(2\)$") as info:
        ember.cuda.check_error(2)
    assert isinstance(info.value, RuntimeError) and info.value.code == 2
    assert issubclass(ember.cuda.DeferredCudaCallError, Exception)


def test_nvml_readings_need_nvidia_ml_py(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # not importable
    for name in ("clock_rate", "utilization", "temperature", "power_draw", "memory_usage", "device_memory_used"):
        with pytest.raises(ModuleNotFoundError, match="nvidia-ml-py does not seem to be installed"):
            getattr(ember.cuda, name)()
    assert ember.cuda.list_gpu_processes() == "pynvml module not found, please install nvidia-ml-py"


def test_nvml_readings_ask_nvml_the_right_questions(monkeypatch):
    from ember.cuda import _nvml, memory
    handle = object()
    fake = types.SimpleNamespace(
        NVML_CLOCK_SM=1, NVML_TEMPERATURE_GPU=0, nvmlInit=lambda: None,
        nvmlDeviceGetClockInfo=lambda h, kind: 1980 if (h, kind) == (handle, 1) else -1,
        nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(gpu=37, memory=12),
        nvmlDeviceGetTemperature=lambda h, kind: 61 if kind == 0 else -1,
        nvmlDeviceGetPowerUsage=lambda h: 123456,
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(used=5 << 30),
        nvmlDeviceGetComputeRunningProcesses=lambda h: [types.SimpleNamespace(pid=42, usedGpuMemory=3 << 20)])
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.setattr(_nvml, "handle", lambda index: handle)
    monkeypatch.setattr(_common, "index", lambda device=None, optional=True: 0)
    monkeypatch.setattr(memory, "_index", lambda device=None: 0)
    c = ember.cuda
    assert (c.clock_rate(), c.utilization(), c.memory_usage(), c.temperature(), c.power_draw(),
            c.device_memory_used()) == (1980, 37, 12, 61, 123456, 5 << 30)
    assert c.list_gpu_processes().splitlines() == ["GPU:0", "process         42 uses        3.000 MB GPU memory"]


class _FakeBackend:
    """What ember.cuda asks of the cuda Backend, with fixed pool numbers."""

    def __init__(self):
        self.stats = {"allocated_bytes.all.current": 3 * 1024 ** 2, "allocated_bytes.all.peak": 5 * 1024 ** 2,
                      "allocated_bytes.all.allocated": 7 * 1024 ** 3, "reserved_bytes.all.current": 8 * 1024 ** 2,
                      "reserved_bytes.all.peak": 9 * 1024 ** 2, "allocation.all.allocated": 11}
        self.reset = []

    def memory_stats(self, index):
        return dict(self.stats)

    def reset_peak(self, index):
        self.reset.append(("peak", index))

    def reset_accumulated(self, index):
        self.reset.append(("accumulated", index))


@pytest.fixture
def fake_gpu(monkeypatch):
    backend = _FakeBackend()
    monkeypatch.setattr(_common, "usable", lambda: backend)
    monkeypatch.setattr(_common, "available", lambda: True)
    monkeypatch.setattr(_common, "index", lambda device=None, optional=True: 0 if device is None else int(device))
    return backend


def test_memory_statistics_read_the_pool(fake_gpu):
    c = ember.cuda
    assert (c.memory_allocated(), c.max_memory_allocated(), c.memory_reserved(), c.max_memory_reserved(),
            c.memory_cached(), c.max_memory_cached()) == (3 << 20, 5 << 20, 8 << 20, 9 << 20, 8 << 20, 9 << 20)
    assert list(c.memory_stats()) == sorted(fake_gpu.stats)
    nested = c.memory_stats_as_nested_dict()
    assert nested["allocated_bytes"]["all"] == {"current": 3 << 20, "peak": 5 << 20, "allocated": 7 << 30}
    assert nested["allocation"]["all"]["allocated"] == 11
    c.reset_peak_memory_stats(1)
    c.reset_max_memory_cached()
    c.reset_accumulated_memory_stats()
    assert fake_gpu.reset == [("peak", 1), ("peak", 0), ("accumulated", 0)]


def test_memory_summary_formats_the_pool_numbers(fake_gpu):
    text = ember.cuda.memory_summary()
    rows = {line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:5]]
            for line in text.splitlines() if line.count("|") == 5}
    assert rows["Allocated memory"] == ["3.0 MiB", "5.0 MiB", "7.0 GiB"]
    assert rows["Reserved memory"] == ["8.0 MiB", "9.0 MiB", ""]
    assert rows["Allocations"] == ["", "", "11"]
    assert "device 0" in text


def test_pluggable_allocator_loads_its_functions():
    libc = ctypes.util.find_library("c")
    if libc is None:
        pytest.skip("no C library to load")
    allocator = ember.cuda.CUDAPluggableAllocator(libc, "malloc", "free")
    assert allocator._alloc.restype is ctypes.c_void_p
    with pytest.raises(AttributeError):
        ember.cuda.CUDAPluggableAllocator(libc, "malloc", "no_such_function_in_libc")
    with pytest.raises(OSError):
        ember.cuda.CUDAPluggableAllocator("/no/such/library.so", "a", "b")
    with pytest.raises(TypeError, match="CUDAPluggableAllocator"):
        ember.cuda.change_current_allocator(object())


def test_submodules_are_there_and_lazy():
    import ast
    import inspect
    # the rarely used submodules are not imported by `import ember.cuda` (no import of them at its top level)
    tree = ast.parse(inspect.getsource(ember.cuda))
    imported = {alias.name for node in tree.body if isinstance(node, ast.ImportFrom) and node.module == "ember.cuda"
                for alias in node.names} | {node.module for node in tree.body if isinstance(node, ast.ImportFrom)}
    lazy = {"nccl", "nvtx", "profiler", "jiterator", "tunable", "sparse"}
    assert not imported & (lazy | {f"ember.cuda.{m}" for m in lazy})
    assert set(ember.cuda._LAZY_SUBMODULES) == lazy
    for name in ("memory", "random", "streams", "graphs", "nccl", "nvtx", "profiler", "jiterator", "tunable",
                 "sparse"):
        assert getattr(ember.cuda, name).__name__ == f"ember.cuda.{name}"
    assert ember.cuda.memory.memory_allocated is ember.cuda.memory_allocated
    assert ember.cuda.graphs.CUDAGraph is ember.cuda.CUDAGraph


def test_nvtx_ranges_nest():
    nvtx = ember.cuda.nvtx
    try:
        outer = nvtx.range_push("outer")
    except RuntimeError:
        pytest.skip("CuPy's NVTX is not installed")
    assert (outer, nvtx.range_push("inner"), nvtx.range_pop(), nvtx.range_pop()) == (0, 1, 1, 0)
    with nvtx.range("step {}", 3):
        nvtx.mark("here")
    nvtx.range_end(nvtx.range_start("async"))


def test_jiterator_reads_the_function_signature():
    f = ember.cuda.jiterator._create_jit_fn(
        "template <typename T> T my_fn(T x, T y, T alpha) { return -x + alpha * y; }", alpha=1.0)
    assert (f.name, f.params, f.kwargs_dict) == ("my_fn", ["x", "y", "alpha"], {"alpha": 1.0})
    g = ember.cuda.jiterator._create_multi_output_jit_fn(
        "template <typename T> void two(T x, T& a, T& b) { a = x; b = -x; }", num_outputs=2)
    assert (g.name, g.params) == ("two", ["x"])
    with pytest.raises(ValueError, match="templated function"):
        ember.cuda.jiterator._create_jit_fn("int f(int x) { return x; }")


def test_tunable_settings_and_results_file(tmp_path):
    t = ember.cuda.tunable
    saved = dict(t._state)
    try:
        t.enable(True)
        t.tuning_enable(False)
        t.set_max_tuning_duration(7)
        t.set_max_tuning_iterations(9)
        t.set_filename(str(tmp_path / "r.csv"), insert_device_ordinal=True)
        assert (t.is_enabled(), t.tuning_is_enabled(), t.get_max_tuning_duration(),
                t.get_max_tuning_iterations()) == (True, False, 7, 9)
        assert t.get_filename() == str(tmp_path / "r0.csv") and t.get_results() == ()
        path = tmp_path / "r0.csv"
        path.write_text("Validator,ember_version,0.1.0\nGemmTunableOp_float_NN,nn_4_4_4,Default,0.012\n")
        assert t.read_file() is True
        assert t.get_results() == (("GemmTunableOp_float_NN", "nn_4_4_4", "Default", 0.012),)
        assert t.read_file(str(tmp_path / "missing.csv")) is False
    finally:
        t._state.clear()
        t._state.update(saved)


# ---------------------------------------------------------------- ember.Stream / ember.Event / ember.cpu
def test_cpu_stream_and_event_follow_pytorch():
    s = ember.Stream("cpu")
    assert (s.device_type, s.device_index, s.stream_id) == (0, -1, 0) and s.query()
    assert s == ember.Stream("cpu")
    e = ember.Event("cpu")
    assert e.query()
    with pytest.raises(RuntimeError, match="cpu backend doesn't support events"):
        e.record()
    with pytest.raises(RuntimeError, match="cpu backend doesn't support events"):
        s.record_event()
    with pytest.raises(ValueError, match="enable_timing=True"):
        e.elapsed_time(ember.Event("cpu"))


def test_stream_and_event_on_queued_devices(any_device):
    if any_device == "cpu":
        pytest.skip("the CPU has no events")
    s = ember.Stream(any_device)
    assert s.device == ember.device(any_device, 0)
    start, end = ember.Event(any_device, enable_timing=True), ember.Event(any_device, enable_timing=True)
    start.record()
    x = ember.randn(64, 64, device=any_device)
    (x @ x).sum().item()
    s.record_event(end)
    assert start.elapsed_time(end) >= 0 and end.query()
    with pytest.raises(RuntimeError, match="recorded"):
        ember.Event(any_device, enable_timing=True).elapsed_time(end)


def test_cpu_module_streams():
    c = ember.cpu
    s = c.Stream()
    assert c.current_stream() is not s and s.record_event() is None and s.query()
    with c.stream(s):
        assert c.current_stream() is s
    assert c.current_stream() is not s
    with c.StreamContext(None):
        pass
    e = c.Event()
    e.record()
    assert e.query()


def test_cpu_capabilities_match_the_kernel_flags():
    caps = ember.cpu.get_capabilities()
    with pytest.raises(TypeError):
        caps["avx2"] = False  # read-only, as PyTorch's mappingproxy
    assert caps["num_logical_cores"] >= caps["num_physical_cores"] >= 1
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        pytest.skip("no /proc/cpuinfo flags")
    assert caps["avx2"] == ("avx2" in flags) and caps["sse3"] == ("pni" in flags)
    assert caps["avx512_f"] == ("avx512f" in flags) and caps["sha"] == ("sha_ni" in flags)


# ---------------------------------------------------------------- ember.accelerator
ACCELERATOR = ember.accelerator.current_accelerator()


@pytest.mark.skipif(ACCELERATOR is None, reason="needs an accelerator")
def test_accelerator_memory_and_streams():
    a = ember.accelerator
    a.empty_cache()
    a.reset_peak_memory_stats()
    a.reset_accumulated_memory_stats()
    before = a.memory_allocated()
    x = ember.ones(1 << 16, device=ACCELERATOR) + 1  # 256 KiB
    ember.get_device_module(ACCELERATOR).synchronize() if ACCELERATOR.type == "mps" else a.synchronize()
    assert a.memory_allocated() >= before + (1 << 18) and a.max_memory_allocated() >= a.memory_allocated()
    assert a.memory_reserved() >= a.memory_allocated() and a.max_memory_reserved() >= a.memory_reserved()
    assert set(a.memory_stats()) >= {"allocated_bytes.all.current", "allocated_bytes.all.peak"}
    free, total = a.get_memory_info()
    assert 0 <= free <= total
    assert ember.float32 in a.get_device_capability()["supported_dtypes"]
    s = a.current_stream()
    assert s.device.type == ACCELERATOR.type
    a.set_stream(s)
    with a.device_index(0):
        assert a.current_device_index() == 0
    with a.device_index(None):
        pass
    a.empty_host_cache()
    del x


@pytest.mark.skipif(ACCELERATOR is None or ACCELERATOR.type in ("cuda", "rocm"), reason="a non-cuda accelerator")
def test_accelerator_graph_needs_cuda():
    with pytest.raises(RuntimeError, match="no graph capture"):
        ember.accelerator.Graph()


def test_accelerator_functions_without_an_accelerator(monkeypatch):
    from ember import accelerator
    monkeypatch.setattr(accelerator, "_accelerator_type", lambda: None)
    for call in (accelerator.memory_stats, accelerator.memory_allocated, accelerator.empty_cache,
                 accelerator.empty_host_cache, accelerator.get_memory_info, accelerator.get_device_capability,
                 accelerator.current_stream, accelerator.reset_peak_memory_stats, accelerator.Graph):
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
            call()


# ---------------------------------------------------------------- ember.mps
def test_mps_shaders_and_profiler_need_metal():
    with pytest.raises(RuntimeError):
        ember.mps.compile_shader("kernel void f() {}")
    with pytest.raises(RuntimeError):
        ember.mps.load_metallib("lib.metallib")
    with pytest.raises(RuntimeError):
        ember.mps.profiler.start()
    assert ember.mps.profiler.is_metal_capture_enabled() is False
    assert ember.mps.profiler.is_capturing_metal() is False


@pytest.mark.skipif(not ember.backends.mps.is_available(), reason="needs the mps device")
def test_backends_mps_device_queries():
    m = ember.backends.mps
    assert isinstance(m.get_name(), str) and m.get_name()
    assert m.get_core_count() >= 1
    import platform
    if platform.system() != "Darwin":
        assert m.is_macos_or_newer(13, 0) is False and m.is_macos13_or_newer() is False


# ---------------------------------------------------------------- ember.backends
@pytest.fixture
def unfrozen():
    from ember.backends import _flags
    yield
    _flags._STATE["allow_mutation"] = True


def test_set_flags_return_the_previous_values():
    b = ember.backends
    assert b.cudnn.set_flags(False, True) == (True, False, 10, False, True, "none")
    assert (b.cudnn.enabled, b.cudnn.benchmark) == (False, True)
    assert b.cudnn.set_flags(True, False) == (False, True, 10, False, True, "none")
    assert b.mkldnn.set_flags(False) == (True, False, True, "none") and b.mkldnn.enabled is False
    b.mkldnn.set_flags(True)
    assert b.nnpack.set_flags(False) == (True,) and b.nnpack.set_flags(True) == (False,)
    assert b.miopen.set_flags(True) == (False,) and b.miopen.set_flags(False) == (True,)
    assert b.set_flags("ieee") == ("none",) and b.fp32_precision == "ieee"
    assert b.set_flags("none") == ("ieee",)
    with pytest.raises(RuntimeError, match="Invalid fp32_precision"):
        b.set_flags("fast")
    with b.mkldnn.flags(enabled=False, deterministic=True):
        assert (b.mkldnn.enabled, b.mkldnn.deterministic) == (False, True)
    assert (b.mkldnn.enabled, b.mkldnn.deterministic) == (True, False)
    with b.opt_einsum.flags(enabled=False):
        assert b.opt_einsum.enabled is False
    assert b.opt_einsum.enabled == b.opt_einsum.is_available()


def test_disable_global_flags_freezes_all_but_flags_blocks(unfrozen):
    b = ember.backends
    assert not b.flags_frozen()
    b.disable_global_flags()
    assert b.flags_frozen()
    with pytest.raises(RuntimeError, match="not allowed to set torch.backends.cudnn flags after "
                                           "disable_global_flags"):
        b.cudnn.enabled = False
    with pytest.raises(RuntimeError, match="torch.backends.cudnn flags"):
        b.cudnn.set_flags(False)
    with pytest.raises(RuntimeError, match="torch.backends.mkldnn flags"):
        b.mkldnn.enabled = False
    with pytest.raises(RuntimeError, match="torch.backends.nnpack flags"):
        b.nnpack.set_flags(False)
    with b.cudnn.flags(enabled=False):
        assert b.cudnn.enabled is False
    assert b.cudnn.enabled is True
    with b.flags(fp32_precision="tf32"):
        assert b.fp32_precision == "tf32"
    assert b.fp32_precision == "none"


def test_backend_queries_answer_for_embers_kernels():
    b = ember.backends
    assert (b.cusparselt.is_available(), b.cusparselt.version(), b.cusparselt.get_max_alg_id()) == (False, None, None)
    assert b.kleidiai.is_available() is False and b.nnpack.is_available() is False
    assert b.mkldnn.is_acl_available() is False
    import numpy
    blas = numpy.__config__.CONFIG["Build Dependencies"]["blas"]["name"]
    assert b.mkl.is_available() == ("mkl" in blas.lower())
    assert isinstance(b.openmp.is_available(), bool)
    assert (b.mkl.VERBOSE_OFF, b.mkl.VERBOSE_ON) == (0, 1)
    assert (b.mkldnn.VERBOSE_OFF, b.mkldnn.VERBOSE_ON, b.mkldnn.VERBOSE_ON_CREATION) == (0, 1, 2)
    with b.mkldnn.verbose(b.mkldnn.VERBOSE_OFF):
        pass
    with pytest.raises(AssertionError, match="Failed to set MKLDNN into verbose mode"):
        with b.mkldnn.verbose(b.mkldnn.VERBOSE_ON):
            pass
    if not b.mkl.is_available():
        with pytest.raises(AssertionError, match="Failed to set MKL into verbose mode"):
            with b.mkl.verbose(b.mkl.VERBOSE_ON):
                pass
    assert b.cudnn.CUDNN_TENSOR_DTYPES == {ember.float16, ember.float32, ember.float64}
    assert b.cudnn.rnn.fp32_precision == "tf32"
    assert b.quantized.engine == "none" and b.quantized.supported_engines == ["none"]
    with pytest.raises(RuntimeError, match="quantized engine FBGEMM is not supported"):
        b.quantized.engine = "fbgemm"


def test_mha_fastpath_flag():
    m = ember.backends.mha
    assert m.get_fastpath_enabled() is True
    try:
        m.set_fastpath_enabled(False)
        assert m.get_fastpath_enabled() is False
    finally:
        m.set_fastpath_enabled(True)


def test_backends_cuda_attention_queries():
    c = ember.backends.cuda
    q = ember.randn(1, 2, 3, 4)
    params = c.SDPAParams(q, q, q, None, 0.0, True, False)
    assert (params.dropout, params.is_causal, params.enable_gqa, params.attn_mask) == (0.0, True, False, None)
    assert not c.can_use_flash_attention(params) and not c.can_use_efficient_attention(params)
    assert not c.can_use_cudnn_attention(params)
    with pytest.warns(UserWarning, match="Flash attention is not available"):
        c.can_use_flash_attention(params, debug=True)
    assert c.is_flash_attention_available() is False and c.is_ck_sdpa_available() is False


def test_half_precision_attention_accumulates_in_float32_unless_allowed():
    c = ember.backends.cuda
    F = ember.nn.functional
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 40, 64)).astype(np.float32) * 3 for _ in range(3))
    s = q.astype(np.float64) @ k.transpose(0, 2, 1).astype(np.float64) / 8.0
    w = np.exp(s - s.max(-1, keepdims=True))
    reference = (w / w.sum(-1, keepdims=True)) @ v.astype(np.float64)
    half = [ember.from_numpy(a).half() for a in (q, k, v)]
    assert c.fp16_bf16_reduction_math_sdp_allowed() is False
    upcast = F.scaled_dot_product_attention(*half)
    expected = F.scaled_dot_product_attention(*(h.float() for h in half)).half()
    assert upcast.dtype is ember.float16 and ember.equal(upcast, expected)
    try:
        c.allow_fp16_bf16_reduction_math_sdp(True)
        reduced = F.scaled_dot_product_attention(*half)
    finally:
        c.allow_fp16_bf16_reduction_math_sdp(False)
    assert reduced.dtype is ember.float16 and not ember.equal(reduced, upcast)
    q64 = np.stack([h.float().numpy() for h in half])  # the rounded inputs, in float64
    s = q64[0].astype(np.float64) @ q64[1].transpose(0, 2, 1) / 8.0
    w = np.exp(s - s.max(-1, keepdims=True))
    exact = (w / w.sum(-1, keepdims=True)) @ q64[2]
    err_up = np.abs(upcast.float().numpy() - exact).max()
    err_reduced = np.abs(reduced.float().numpy() - exact).max()
    assert err_up <= 0.02 and err_up <= err_reduced and math.isfinite(float(np.abs(reference).max()))


def test_backends_cuda_library_preferences():
    c = ember.backends.cuda
    assert repr(c.preferred_blas_library()) == "<_BlasBackend.Cublas: 1>"
    assert c.preferred_blas_library("default") is c._BlasBackend.Cublas
    with pytest.raises(RuntimeError, match="Unknown input value. Choose from: default, cublas"):
        c.preferred_blas_library("x")
    with pytest.raises(RuntimeError, match="Cannot set preferred backend to Cublaslt"):
        c.preferred_blas_library("cublaslt")
    try:
        assert repr(c.preferred_rocm_fa_library("ck")) == "<_ROCmFABackend.Ck: 2>"
        assert c.preferred_rocm_fa_library() is c._ROCmFABackend.Ck
    finally:
        c.preferred_rocm_fa_library("default")
    assert isinstance(c.cufft_plan_cache, c.cuFFTPlanCacheManager)


@NO_GPU
def test_backends_cuda_gpu_queries_without_a_gpu():
    c = ember.backends.cuda
    with pytest.raises(RuntimeError, match=r"expected 0 <= device index < 0, but got device with index 0"):
        c.cufft_plan_cache[0]
    with pytest.raises(RuntimeError, match="not available"):
        c.cufft_plan_cache.max_size
    for call in (c.cublas_workspace_size, c.cublaslt_workspace_size, c.blas_workspace_size):
        with pytest.raises(RuntimeError, match="not available"):
            call()


@NO_GPU
def test_host_memory_stats_without_a_gpu():
    assert ember.cuda.host_memory_stats() == {} and ember.cuda.host_memory_stats_as_nested_dict() == {}
    for call in (ember.cuda.reset_peak_host_memory_stats, ember.cuda.reset_accumulated_host_memory_stats):
        with pytest.raises(RuntimeError, match="not available"):
            call()
    assert ember.cuda.amp.amp_definitely_not_available() is True


def test_cupy_plugin_counts_pinned_blocks_until_their_arrays_go(monkeypatch):
    from ember.plugins.cupy import backend as cupy_backend
    stats = dict.fromkeys(cupy_backend.HOST_STATS, 0)
    monkeypatch.setattr(cupy_backend, "HOST_STATS", stats)
    block = np.empty(10, np.uint8)
    cupy_backend._host_allocated(block, 10)
    view = block[2:]
    del block
    assert (stats["allocations.current"], stats["allocated_bytes.current"], stats["num_host_alloc"]) == (1, 10, 1)
    del view  # the last array over the block: it goes back
    assert (stats["allocations.current"], stats["allocated_bytes.freed"], stats["num_host_free"]) == (0, 10, 1)
    assert stats["allocated_bytes.peak"] == 10
    cupy_backend.CupyBackend.reset_host_peak(None)
    cupy_backend.CupyBackend.reset_host_accumulated(None)
    assert stats["allocated_bytes.peak"] == 0 and stats["num_host_alloc"] == 0


def test_cupy_plugin_counts_device_allocations(monkeypatch):
    # the tracking allocator CuPy calls: peaks of bytes in use and held, allocation counts
    from ember.plugins.cupy import backend as cupy_backend

    class Pool:
        used = total = 0

        def malloc(self, n):
            self.used += n
            self.total = max(self.total, self.used + 512)
            return types.SimpleNamespace(device_id=0)

        def used_bytes(self):
            return self.used

        def total_bytes(self):
            return self.total

    pool = Pool()
    installed = []
    fake = types.SimpleNamespace(get_default_memory_pool=lambda: pool,
                                 cuda=types.SimpleNamespace(set_allocator=installed.append))
    for name, value in (("_TRACKING", []), ("PEAKS", {}), ("RESERVED_PEAKS", {}), ("ALLOCATIONS", {})):
        monkeypatch.setattr(cupy_backend, name, value)
    cupy_backend.install_peak_tracking(fake)
    malloc = installed[0]
    malloc(1000)
    malloc(24)
    pool.used = 0  # both freed
    assert cupy_backend.PEAKS[0] == 1024 and cupy_backend.RESERVED_PEAKS[0] == 1536
    assert cupy_backend.ALLOCATIONS[0] == (2, 1024)


# ---------------------------------------------------------------- CuPy paths through a fake CuPy
class _FakeCupy:
    """The parts of CuPy that ember.cuda's graphs and memory functions call, recording the calls."""

    def __init__(self):
        import contextlib
        self.calls = []
        fake = self

        class Stream:
            def __init__(self, ptr):
                self.ptr, self.captured = ptr, None

            def begin_capture(self, mode):
                fake.calls.append(("begin_capture", self.ptr, mode))

            def end_capture(self):
                fake.calls.append(("end_capture", self.ptr))
                return Graph()

            def is_capturing(self):
                return False

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

        class Graph:
            graph, graphExec = 11, 12

            def launch(self, stream):
                fake.calls.append(("launch", stream.ptr))

        class MemoryPool:
            def __init__(self, allocator=None):
                self.limit = 0

            def malloc(self, n):
                return types.SimpleNamespace(ptr=0x1000 + n)

            def set_limit(self, fraction):
                fake.calls.append(("set_limit", fraction))

            def get_limit(self):
                return 0

        @contextlib.contextmanager
        def using_allocator(malloc):
            fake.calls.append(("using_allocator", getattr(malloc, "__self__", None)))
            yield

        @contextlib.contextmanager
        def device(index):
            yield

        self.current = Stream(0)
        self.default_pool = MemoryPool()
        self.cuda = types.SimpleNamespace(
            get_current_stream=lambda: self.current, using_allocator=using_allocator, MemoryPool=MemoryPool,
            Device=device, alloc=self.default_pool.malloc, ExternalStream=lambda ptr, index: Stream(ptr),
            runtime=types.SimpleNamespace(streamCaptureModeGlobal=0, streamCaptureModeThreadLocal=1,
                                          streamCaptureModeRelaxed=2, memGetInfo=lambda: (3 << 30, 8 << 30)))
        self.Stream = Stream
        self.get_default_memory_pool = lambda: self.default_pool


@pytest.fixture
def fake_cupy(monkeypatch):
    fake = _FakeCupy()
    monkeypatch.setattr(_common, "cupy", lambda: fake)
    monkeypatch.setattr(_common, "index", lambda device=None, optional=True: 0)
    return fake


def test_cuda_graph_captures_on_the_current_stream_into_its_pool(fake_cupy):
    g = ember.cuda.CUDAGraph()
    with pytest.raises(RuntimeError, match="non-default stream"):
        g.capture_begin()  # the current stream is the null stream (ptr 0)
    fake_cupy.calls.clear()
    fake_cupy.current = fake_cupy.Stream(0x77)
    shared = ember.cuda.graph_pool_handle()
    g.capture_begin(pool=shared, capture_error_mode="relaxed")
    g.capture_end()
    g.replay()
    pool = ember.cuda.graphs._POOLS[shared]._pool
    assert fake_cupy.calls == [("using_allocator", pool), ("begin_capture", 0x77, 2), ("end_capture", 0x77),
                               ("launch", 0x77)]
    assert g.pool() == shared and (g.raw_cuda_graph, g.raw_cuda_graph_exec) == (11, 12)
    g.reset()
    with pytest.raises(RuntimeError, match="not been captured"):
        g.replay()
    with pytest.raises(RuntimeError, match="Unknown capture error mode"):
        g.capture_begin(capture_error_mode="loose")


def test_raw_allocations_and_memory_limits(fake_cupy):
    c = ember.cuda
    fake_cupy.current = fake_cupy.Stream(0x5)
    ptr = c.caching_allocator_alloc(64, stream=0x5)
    assert ptr == 0x1000 + 64
    c.caching_allocator_delete(ptr)
    with pytest.raises(RuntimeError, match="invalid device pointer"):
        c.caching_allocator_delete(ptr)
    with pytest.raises(TypeError, match="Invalid type for stream argument"):
        c.caching_allocator_alloc(8, stream="s")
    with pytest.raises(TypeError, match="must be `float`"):
        c.set_per_process_memory_fraction(1)
    with pytest.raises(ValueError, match="Invalid fraction value: 1.5. Allowed range: 0~1"):
        c.set_per_process_memory_fraction(1.5)
    c.set_per_process_memory_fraction(0.25)
    assert ("set_limit", 0.25) in fake_cupy.calls
    assert c.get_per_process_memory_fraction() == 1.0 and c.mem_get_info() == (3 << 30, 8 << 30)
    pool = c.MemPool()
    with c.use_mem_pool(pool):
        assert pool.use_count() == 2
    assert pool.use_count() == 1 and fake_cupy.calls[-1] == ("using_allocator", pool._pool)
    with pytest.raises(NotImplementedError, match="use_on_oom"):
        c.MemPool(use_on_oom=True)


def test_make_graphed_callables_wires_forward_and_backward_through_the_graphs(monkeypatch):
    # graphs that replay nothing: the outputs are those of the capture, made from the sample inputs
    # themselves, and backward hands each input and parameter the gradient slot captured for it
    import contextlib
    from ember.cuda import graphs, streams
    replays = []

    class Graph:
        def replay(self):
            replays.append(self)

    monkeypatch.setattr(graphs, "CUDAGraph", Graph)
    monkeypatch.setattr(graphs, "graph", lambda g, pool=None, **k: contextlib.nullcontext())
    monkeypatch.setattr(graphs, "graph_pool_handle", lambda: (0, 1))
    monkeypatch.setattr(streams, "Stream", lambda *a, **k: contextlib.nullcontext())
    monkeypatch.setattr(_common, "cupy", lambda: None)
    layer = ember.nn.Linear(3, 2)
    x = ember.randn(4, 3, requires_grad=True)
    expected = layer(x)
    graphed = ember.cuda.make_graphed_callables(layer, (x,), num_warmup_iters=1)
    out = graphed(x)
    assert graphed is layer and out.requires_grad and ember.allclose(out, expected)
    out.sum().backward()
    assert len(replays) == 2 and replays[0] is not replays[1]  # the forward graph, then the backward one
    assert x.grad.shape == x.shape and layer.weight.grad.shape == layer.weight.shape
    assert layer.bias.grad.shape == layer.bias.shape


def test_generic_stream_and_event_make_cuda_ones(monkeypatch):
    made = []

    class Device:
        def __init__(self, index):
            made.append(("device", index))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def use(self):
            pass

    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(
        Stream=lambda **k: made.append(("stream", k)) or types.SimpleNamespace(ptr=5),
        Event=lambda **k: made.append(("event", k)) or types.SimpleNamespace(ptr=6),
        Device=Device, runtime=types.SimpleNamespace(getDevice=lambda: 0)))
    monkeypatch.setattr(_common, "cupy", lambda: fake)
    s = ember.Stream("cuda:1", priority=-1)
    e = ember.Event("cuda", enable_timing=True)
    assert type(s) is ember.cuda.Stream and type(e) is ember.cuda.Event
    assert isinstance(s, ember.Stream) and isinstance(e, ember.Event) and s.device == ember.device("cuda", 1)
    assert ("stream", {"non_blocking": True, "priority": -1}) in made
    assert ("event", {"block": False, "disable_timing": False, "interprocess": False}) in made
    assert s.cuda_stream == 5 and e.cuda_event == 6


def test_python_native_has_no_dsl_overrides_and_keeps_its_switches(unfrozen):
    pn = ember.backends.python_native
    assert pn.all_dsls == [] and pn.available_dsls == [] and pn.get_dsl_operations("triton") == []
    assert not pn.is_operation_disabled("scaled_mm")
    with pn.operations_disabled("scaled_mm", "mm"):
        assert pn.is_operation_disabled("scaled_mm") and pn.is_operation_disabled("mm")
    assert not pn.is_operation_disabled("scaled_mm")
    pn.disable_dispatch_keys("CUDA")
    pn.enable_dispatch_keys("CUDA")
    triton = pn.DSLController("triton")
    assert (triton.name, triton.available, triton.version, triton.enabled) == ("triton", False, None, True)
    with pytest.raises(ValueError, match="Unknown DSL: triton. Available DSLs: \\[\\]"):
        triton.disable()
    ember.backends.disable_global_flags()
    with pytest.raises(RuntimeError, match="not allowed to set triton DSL flags"):
        triton.enabled = False
    with pytest.raises(AttributeError):
        pn.triton
