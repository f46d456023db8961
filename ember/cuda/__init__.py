"""``ember.cuda``: PyTorch's ``torch.cuda`` helpers for the ``cuda`` device.

Everything answers for the ``cuda`` backend plugin (``pip install ember[cuda]``), which
is the GPU of whichever CuPy build is installed — NVIDIA with CuPy for CUDA, AMD with
CuPy for ROCm, as PyTorch's ROCm builds also answer ``torch.cuda``. Without a usable GPU,
``is_available()`` is False and ``device_count()`` 0; the functions that need a GPU raise a
RuntimeError that says why (CuPy missing, no driver, no GPU), and those that PyTorch answers
without one (``get_arch_list()``, ``memory_stats_as_nested_dict()``, ``get_rng_state_all()``,
``is_tf32_supported()``, ...) give PyTorch's answers. Importing this package never imports
CuPy; it happens at the first question.

The parts live in submodules, as in PyTorch: ``memory`` (CuPy's memory pool), ``random``,
``streams``, ``graphs`` (CUDA graphs by stream capture), ``nccl``, ``nvtx``, ``profiler``,
``jiterator``, ``tunable`` and ``sparse`` (legacy sparse constructors).

Random numbers: ember draws every device's numbers from one Philox stream
(``ember.default_generator``), so ``manual_seed`` / ``manual_seed_all`` seed that stream —
the same (seed, offset) gives the same numbers on the CPU and on the GPU.
"""
from __future__ import annotations

import dataclasses
import sys

from ember.amp import cuda_amp as amp  # torch.cuda.amp: the deprecated cuda forms of ember.amp
from ember.cuda import _common
from ember.cuda import graphs, memory, random, streams  # noqa: F401  (nccl, nvtx, ... load on first use)
from ember.cuda._common import index as _index
from ember.cuda._nvml import clock_rate, device_memory_used, memory_usage, power_draw, temperature, utilization
from ember.cuda.graphs import CUDAGraph, graph, graph_pool_handle, is_current_stream_capturing, \
    make_graphed_callables
from ember.cuda.memory import (
    CUDAPluggableAllocator, MemPool, caching_allocator_alloc, caching_allocator_delete, caching_allocator_disabled,
    caching_allocator_enable, change_current_allocator, empty_cache, get_allocator_backend,
    get_per_process_memory_fraction, list_gpu_processes, max_memory_allocated, max_memory_cached,
    max_memory_reserved, mem_get_info, memory_allocated, memory_cached, memory_reserved, memory_stats,
    memory_stats_as_nested_dict, memory_summary, reset_accumulated_memory_stats, reset_max_memory_allocated,
    reset_max_memory_cached, reset_peak_memory_stats, set_per_process_memory_fraction, use_mem_pool,
    host_memory_stats, host_memory_stats_as_nested_dict, reset_accumulated_host_memory_stats,
    reset_peak_host_memory_stats,
)
from ember.cuda.random import (
    get_rng_state, get_rng_state_all, initial_seed, manual_seed, manual_seed_all, seed, seed_all, set_rng_state,
    set_rng_state_all,
)
from ember.cuda.streams import Event, ExternalStream, Stream, StreamContext, current_stream, default_stream, \
    get_stream_from_external, set_stream, stream
from ember.ops.storage import legacy_storage_types as _legacy_storage_types, \
    legacy_tensor_types as _legacy_tensor_types

# `import ember.cuda.amp` / `from ember.cuda.amp import GradScaler`, as with torch.cuda.amp
sys.modules.setdefault(__name__ + ".amp", amp)

__all__ = [
    "is_available", "device_count", "current_device", "set_device", "device", "device_of", "get_device_name",
    "get_device_capability", "get_device_properties", "synchronize", "manual_seed", "manual_seed_all",
    "seed", "seed_all", "initial_seed", "get_rng_state", "get_rng_state_all", "set_rng_state",
    "set_rng_state_all", "memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved",
    "memory_cached", "max_memory_cached", "reset_peak_memory_stats", "reset_max_memory_allocated",
    "reset_max_memory_cached", "reset_accumulated_memory_stats", "memory_stats", "memory_stats_as_nested_dict",
    "memory_summary", "mem_get_info", "empty_cache", "set_per_process_memory_fraction",
    "get_per_process_memory_fraction", "caching_allocator_alloc", "caching_allocator_delete",
    "caching_allocator_enable", "caching_allocator_disabled", "get_allocator_backend", "CUDAPluggableAllocator",
    "change_current_allocator", "MemPool", "use_mem_pool", "list_gpu_processes", "ipc_collect",
    "host_memory_stats", "host_memory_stats_as_nested_dict", "reset_accumulated_host_memory_stats",
    "reset_peak_host_memory_stats",
    "is_bf16_supported", "is_tf32_supported", "Stream", "ExternalStream", "Event", "StreamContext", "stream",
    "set_stream", "current_stream", "default_stream", "get_stream_from_external", "CUDAGraph", "graph",
    "graph_pool_handle", "make_graphed_callables", "is_current_stream_capturing", "is_initialized", "init",
    "unavailable_reason", "get_arch_list", "get_gencode_flags", "has_half", "has_magma", "can_device_access_peer",
    "current_blas_handle", "current_solver_handle", "check_error", "cudart", "cudaStatus", "CudaError",
    "DeferredCudaCallError", "get_sync_debug_mode", "set_sync_debug_mode", "clock_rate", "utilization",
    "temperature", "power_draw", "memory_usage", "device_memory_used", "default_generators", "amp", "memory",
    "random", "streams", "graphs", "nccl", "nvtx", "profiler", "jiterator", "tunable", "sparse",
    *_legacy_tensor_types("cuda"), *_legacy_storage_types("cuda"),
]

globals().update(_legacy_tensor_types("cuda"))   # ember.cuda.FloatTensor, ... (legacy typed constructors)
globals().update(_legacy_storage_types("cuda"))  # ember.cuda.FloatStorage, ...

has_half = True    # CuPy computes in float16 on every GPU it runs on
has_magma = False  # ember's GPU linear algebra is cuSOLVER's (CuPy), not MAGMA's


# ---------------------------------------------------------------- availability
def is_available() -> bool:
    """Whether a GPU can run ember's cuda tensors.

    Returns:
        A bool.
    """
    return _common.available()


def unavailable_reason() -> str | None:
    """None when ``cuda`` can be used, else why not (ember's addition to torch.cuda)."""
    backend = _common.backend()
    if backend is None:
        from ember.dispatch.registry import REGISTRY
        if "cuda" in REGISTRY.skipped:
            return "the cuda plugin is not selected by EMBER_BACKENDS"
        return "no ember backend plugin provides 'cuda' (pip install ember[cuda])"
    return backend.unavailable_reason()


def is_initialized() -> bool:
    """Whether the GPU is ready: ember initialises it at the first question, so when it is usable."""
    return is_available()


def init() -> None:
    """Initialise the GPU (raises RuntimeError saying why when it cannot be used)."""
    _common.usable()


def device_count() -> int:
    """How many GPUs ember can use.

    Returns:
        An int (0 without a usable GPU).
    """
    backend = _common.backend()
    return backend.device_count() if backend is not None and backend.is_available() else 0


def current_device() -> int:
    """The index of the current GPU.

    Returns:
        An int.
    """
    return int(_common.cupy().cuda.runtime.getDevice())


def set_device(device) -> None:
    """Make ``device`` the current GPU (a negative index does nothing).

    Args:
        device: an index, a device or a string.
    """
    index = _index(device)
    if index >= 0:
        _common.cupy().cuda.Device(index).use()


class device:
    """``with ember.cuda.device(1):`` makes GPU 1 current inside the block (None or -1: no change).

    Args:
        device: an index, a device or a string.
    """

    def __init__(self, device):
        self.idx = -1 if device is None else _index(device)
        self.prev_idx = -1

    @property
    def index(self) -> int:
        return self.idx

    def __enter__(self):
        if self.idx >= 0:
            self.prev_idx = current_device()
            if self.prev_idx != self.idx:
                set_device(self.idx)
        return self

    def __exit__(self, *exc):
        if self.idx >= 0 and self.prev_idx != self.idx:
            set_device(self.prev_idx)
        return False


class device_of(device):
    """``with ember.cuda.device_of(t):`` makes the GPU of ``t`` current (no change for a CPU tensor).

    Args:
        obj: a tensor (or storage).
    """

    def __init__(self, obj):
        super().__init__(obj.get_device() if obj.is_cuda else -1)


@dataclasses.dataclass(frozen=True)
class _DeviceProperties:
    name: str
    major: int
    minor: int
    total_memory: int
    multi_processor_count: int

    def __repr__(self):
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, "
                f"total_memory={self.total_memory // (1024 * 1024)}MB, "
                f"multi_processor_count={self.multi_processor_count})")


def get_device_properties(device=None) -> _DeviceProperties:
    """The GPU's name, compute capability, memory and multiprocessor count.

    Args:
        device: the GPU (default: the current one).

    Returns:
        A properties record.
    """
    props = _common.cupy().cuda.runtime.getDeviceProperties(_index(device))
    name = props["name"]
    return _DeviceProperties(name=name.decode() if isinstance(name, bytes) else str(name),
                             major=int(props["major"]), minor=int(props["minor"]),
                             total_memory=int(props["totalGlobalMem"]),
                             multi_processor_count=int(props["multiProcessorCount"]))


def get_device_name(device=None) -> str:
    """The GPU's name.

    Args:
        device: the GPU (default: the current one).

    Returns:
        A string.
    """
    return get_device_properties(device).name


def get_device_capability(device=None) -> tuple[int, int]:
    """The GPU's compute capability.

    Args:
        device: the GPU (default: the current one).

    Returns:
        ``(major, minor)``.
    """
    p = get_device_properties(device)
    return p.major, p.minor


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """True where bfloat16 tensors work: CuPy with bfloat16 and a GPU of compute
    capability 8.0 or newer (any AMD GPU on ROCm)."""
    if not is_available():
        return False
    from ember.core import dtype as dt
    if dt.bfloat16 not in _common.usable().supported_dtypes():
        return False
    if _common.cupy().cuda.runtime.is_hip:
        return True
    return including_emulation or get_device_capability()[0] >= 8


def is_tf32_supported() -> bool:
    """Whether the GPU has TensorFloat-32 matrix units (compute capability 8.0 or newer; gfx94x/95x on ROCm).

    Returns:
        A bool (False without a usable GPU).
    """
    if not is_available():
        return False
    if _common.cupy().cuda.runtime.is_hip:
        arch = _arch_name(current_device())
        return arch.startswith(("gfx94", "gfx95"))
    return get_device_capability()[0] >= 8


def synchronize(device=None) -> None:
    """Wait for all work queued on the GPU (``device``, default the current one)."""
    _common.usable().synchronize(_index(device))


def ipc_collect() -> None:
    """Free GPU memory that other processes received through CUDA IPC and released: ember shares no
    cuda tensors between processes, so there is none to free (the GPU must be usable)."""
    _common.usable()


# ---------------------------------------------------------------- what the GPUs are
def _arch_name(index: int) -> str:
    cp = _common.cupy()
    props = cp.cuda.runtime.getDeviceProperties(index)
    if cp.cuda.runtime.is_hip:
        name = props.get("gcnArchName", b"")
        return (name.decode() if isinstance(name, bytes) else str(name)).split(":")[0]
    return f"sm_{props['major']}{props['minor']}"


def get_arch_list() -> list[str]:
    """The GPU architectures ember's kernels are built for: CuPy compiles them at run time (NVRTC)
    for the GPUs present, so one entry per kind of GPU present.

    Returns:
        A list such as ``["sm_90"]``; empty without a usable GPU.
    """
    if not is_available():
        return []
    return sorted({_arch_name(i) for i in range(device_count())})


def get_gencode_flags() -> str:
    """``get_arch_list()`` as nvcc ``-gencode`` flags.

    Returns:
        A string; empty without a usable GPU.
    """
    pairs = [arch.split("_") for arch in get_arch_list() if "_" in arch]
    return " ".join(f"-gencode compute=compute_{arch},code={kind}_{arch}" for kind, arch in pairs)


def can_device_access_peer(device, peer_device) -> bool:
    """Whether ``device`` can read and write ``peer_device``'s memory directly.

    Args:
        device: a GPU.
        peer_device: another GPU.

    Returns:
        A bool.

    Raises:
        AssertionError: for an index outside the GPUs present (as PyTorch).
    """
    cp = _common.cupy()
    d, p = _index(device), _index(peer_device)
    if d < 0 or d >= device_count():
        raise AssertionError("Invalid device id")
    if p < 0 or p >= device_count():
        raise AssertionError("Invalid peer device id")
    return bool(cp.cuda.runtime.deviceCanAccessPeer(d, p))


def current_blas_handle() -> int:
    """The cuBLAS handle of the current GPU (CuPy's), as an int."""
    return int(_common.cupy().cuda.device.get_cublas_handle())


def current_solver_handle() -> int:
    """The cuSOLVER dense handle of the current GPU (CuPy's), as an int."""
    return int(_common.cupy().cuda.device.get_cusolver_handle())


# ---------------------------------------------------------------- errors and the runtime
class cudaStatus:
    """The CUDA runtime status codes PyTorch names."""
    SUCCESS: int = 0
    ERROR_NOT_READY: int = 34


class CudaError(RuntimeError):
    """An error code of the CUDA runtime, with the runtime's description.

    Args:
        code: the ``cudaError_t`` value.
    """

    def __init__(self, code: int) -> None:
        try:
            from cupy_backends.cuda.api.runtime import CUDARuntimeError
            message = str(CUDARuntimeError(int(code)))
        except Exception:  # CuPy missing or its runtime not loadable: the code alone
            message = "CUDA error"
        super().__init__(f"{message} ({code})")
        self.code = code


class DeferredCudaCallError(Exception):
    """A call queued until CUDA initialised failed when it ran."""


def check_error(res: int) -> None:
    """Raise ``CudaError`` for a non-zero CUDA runtime status.

    Args:
        res: a ``cudaError_t`` value.
    """
    if res != cudaStatus.SUCCESS:
        raise CudaError(res)


class _Cudart:
    """The CUDA runtime functions PyTorch's ``cudart()`` offers, over CuPy's runtime binding."""

    def __init__(self, runtime, profiler):
        self._runtime, self._profiler = runtime, profiler

    def cudaGetErrorString(self, code: int) -> str:
        return str(CudaError(code)).rsplit(" (", 1)[0].split(": ", 1)[-1]

    def cudaProfilerStart(self) -> int:
        self._profiler.start()
        return 0

    def cudaProfilerStop(self) -> int:
        self._profiler.stop()
        return 0

    def cudaHostRegister(self, ptr: int, size: int, flags: int) -> int:
        self._runtime.hostRegister(ptr, size, flags)
        return 0

    def cudaHostUnregister(self, ptr: int) -> int:
        self._runtime.hostUnregister(ptr)
        return 0

    def cudaStreamCreate(self) -> int:
        return int(self._runtime.streamCreate())

    def cudaStreamDestroy(self, stream: int) -> int:
        self._runtime.streamDestroy(stream)
        return 0

    def cudaMemGetInfo(self, device: int) -> tuple[int, int]:
        return mem_get_info(device)


def cudart():
    """The CUDA runtime's functions (``cudaProfilerStart``, ``cudaHostRegister``, ...), through CuPy.

    Returns:
        An object with PyTorch's ``cudart()`` methods.
    """
    cp = _common.cupy()
    return _Cudart(cp.cuda.runtime, cp.cuda.profiler)


_SYNC_MODES = {"default": 0, "warn": 1, "error": 2}
_sync_mode = [0]


def set_sync_debug_mode(debug_mode) -> None:
    """Set the debug mode for operations that make the host wait for the GPU.

    ``"error"`` (2) turns on CuPy's synchronisation detection, which raises
    ``cupyx.DeviceSynchronized`` at the copies to the host it sees; ``"warn"`` (1) is kept
    and reported by ``get_sync_debug_mode`` but CuPy has no warning form, so it warns of nothing.

    Args:
        debug_mode: 0 / ``"default"``, 1 / ``"warn"`` or 2 / ``"error"``.
    """
    _common.usable()
    if isinstance(debug_mode, str):
        if debug_mode not in _SYNC_MODES:
            raise RuntimeError("invalid value of debug_mode, expected one of `default`, `warn`, `error`")
        debug_mode = _SYNC_MODES[debug_mode]
    if debug_mode not in (0, 1, 2):
        raise RuntimeError("invalid value of debug_mode, expected one of 0, 1, 2")
    from cupy._core import syncdetect
    syncdetect._thread_local.allowed = debug_mode != 2
    _sync_mode[0] = int(debug_mode)


def get_sync_debug_mode() -> int:
    """The debug mode for synchronising operations (see ``set_sync_debug_mode``).

    Returns:
        0, 1 or 2.
    """
    _common.usable()
    return _sync_mode[0]


_LAZY_SUBMODULES = ("jiterator", "nccl", "nvtx", "profiler", "tunable", "sparse")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    if name == "default_generators":
        # one per GPU, all ember's one Philox stream (see the module docstring); () without a GPU
        from ember.ops.random import default_generator
        return (default_generator,) * device_count()
    raise AttributeError(f"module 'ember.cuda' has no attribute {name!r}")
