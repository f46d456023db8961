"""``ember.cuda``: PyTorch's ``torch.cuda`` helpers for the ``cuda`` device.

Everything answers for the ``cuda`` backend plugin (``pip install ember[cuda]``), which
is the GPU of whichever CuPy build is installed — NVIDIA with CuPy for CUDA, AMD with
CuPy for ROCm, as PyTorch's ROCm builds also answer ``torch.cuda``. Without a usable GPU,
``is_available()`` is False and ``device_count()`` 0; the others raise a RuntimeError
that says why (CuPy missing, no driver, no GPU). Importing this module never imports
CuPy; it happens at the first question.

Random numbers: ember draws every device's numbers from one Philox stream
(``ember.default_generator``), so ``manual_seed`` / ``manual_seed_all`` seed that stream —
the same (seed, offset) gives the same numbers on the CPU and on the GPU.
"""
from __future__ import annotations

import contextlib
import dataclasses
import sys

from ember.core.device import device as _Device
from ember.amp import cuda_amp as amp  # torch.cuda.amp: the deprecated cuda forms of ember.amp

# `import ember.cuda.amp` / `from ember.cuda.amp import GradScaler`, as with torch.cuda.amp
sys.modules.setdefault(__name__ + ".amp", amp)

__all__ = [
    "is_available", "device_count", "current_device", "set_device", "device", "get_device_name",
    "get_device_capability", "get_device_properties", "synchronize", "manual_seed", "manual_seed_all",
    "seed", "seed_all", "initial_seed", "memory_allocated", "max_memory_allocated", "memory_reserved",
    "reset_peak_memory_stats", "memory_stats", "empty_cache", "is_bf16_supported", "Stream", "Event",
    "stream", "current_stream", "default_stream", "is_initialized", "init", "unavailable_reason",
    "amp",
]


def _backend():
    """The cuda Backend, available or not (None when no plugin provides 'cuda')."""
    from ember.dispatch.registry import REGISTRY
    try:
        return REGISTRY.backend("cuda")
    except RuntimeError:
        return None


def _usable():
    """The available cuda Backend; a RuntimeError saying why not otherwise."""
    from ember.dispatch.registry import REGISTRY
    return REGISTRY.available_backend("cuda")


def _cupy():
    return _usable().cupy


def _index(device=None) -> int:
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    d = _Device(device)
    if d.type not in ("cuda", "rocm"):
        raise ValueError(f"Expected a cuda device, but got: {d}")
    return current_device() if d.index is None else d.index


# ---------------------------------------------------------------- availability
def is_available() -> bool:
    backend = _backend()
    return backend is not None and backend.is_available()


def unavailable_reason() -> str | None:
    """None when ``cuda`` can be used, else why not (ember's addition to torch.cuda)."""
    backend = _backend()
    if backend is None:
        from ember.dispatch.registry import REGISTRY
        if "cuda" in REGISTRY.skipped:
            return "the cuda plugin is not selected by EMBER_BACKENDS"
        return "no ember backend plugin provides 'cuda' (pip install ember[cuda])"
    return backend.unavailable_reason()


def is_initialized() -> bool:
    return is_available()


def init() -> None:
    _usable()


def device_count() -> int:
    backend = _backend()
    return backend.device_count() if backend is not None and backend.is_available() else 0


def current_device() -> int:
    return int(_cupy().cuda.runtime.getDevice())


def set_device(device) -> None:
    index = _index(device)
    if index >= 0:
        _cupy().cuda.Device(index).use()


class device:
    """``with ember.cuda.device(1):`` makes GPU 1 current inside the block."""

    def __init__(self, device):
        self.index = -1 if device is None else _index(device)
        self.previous = -1

    def __enter__(self):
        if self.index >= 0:
            self.previous = current_device()
            if self.previous != self.index:
                set_device(self.index)
        return self

    def __exit__(self, *exc):
        if self.index >= 0 and self.previous != self.index:
            set_device(self.previous)
        return False


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
    props = _cupy().cuda.runtime.getDeviceProperties(_index(device))
    name = props["name"]
    return _DeviceProperties(name=name.decode() if isinstance(name, bytes) else str(name),
                             major=int(props["major"]), minor=int(props["minor"]),
                             total_memory=int(props["totalGlobalMem"]),
                             multi_processor_count=int(props["multiProcessorCount"]))


def get_device_name(device=None) -> str:
    return get_device_properties(device).name


def get_device_capability(device=None) -> tuple[int, int]:
    p = get_device_properties(device)
    return p.major, p.minor


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """True where bfloat16 tensors work: CuPy with bfloat16 and a GPU of compute
    capability 8.0 or newer (any AMD GPU on ROCm)."""
    if not is_available():
        return False
    from ember.core import dtype as dt
    if dt.bfloat16 not in _usable().supported_dtypes():
        return False
    if _cupy().cuda.runtime.is_hip:
        return True
    return including_emulation or get_device_capability()[0] >= 8


def synchronize(device=None) -> None:
    """Wait for all work queued on the GPU (``device``, default the current one)."""
    _usable().synchronize(_index(device))


# ---------------------------------------------------------------- random numbers
def manual_seed(seed) -> None:
    from ember.ops.random import manual_seed as _seed
    _seed(seed)


manual_seed_all = manual_seed


def seed() -> None:
    from ember.ops.random import seed as _seed
    _seed()


seed_all = seed


def initial_seed() -> int:
    from ember.ops.random import initial_seed as _initial
    return _initial()


# ---------------------------------------------------------------- memory
def memory_stats(device=None) -> dict:
    return _usable().memory_stats(_index(device))


def memory_allocated(device=None) -> int:
    """Bytes held by tensors (CuPy's memory pool in use) on the device."""
    return memory_stats(device)["allocated_bytes.all.current"]


def max_memory_allocated(device=None) -> int:
    return memory_stats(device)["allocated_bytes.all.peak"]


def memory_reserved(device=None) -> int:
    """Bytes the memory pool holds from the driver (in use or cached)."""
    return memory_stats(device)["reserved_bytes.all.current"]


def reset_peak_memory_stats(device=None) -> None:
    _usable().reset_peak(_index(device))


reset_max_memory_allocated = reset_peak_memory_stats


def empty_cache() -> None:
    """Give the cached, unused blocks of the device and pinned memory pools back to the driver."""
    if not is_available():
        return
    cp = _cupy()
    cp.get_default_memory_pool().free_all_blocks()
    cp.get_default_pinned_memory_pool().free_all_blocks()


# ---------------------------------------------------------------- streams and events
class Stream:
    """A CUDA stream: ``with ember.cuda.stream(s):`` queues the kernels of the block on it."""

    def __init__(self, device=None, priority=0, **kwargs):
        cp = _cupy()
        with cp.cuda.Device(_index(device)):
            self.cupy_stream = cp.cuda.Stream(non_blocking=True, priority=priority) if priority \
                else cp.cuda.Stream(non_blocking=True)
        self.device = _Device("cuda", _index(device))

    @classmethod
    def _wrap(cls, cupy_stream, index):
        s = object.__new__(cls)
        s.cupy_stream = cupy_stream
        s.device = _Device("cuda", index)
        return s

    def synchronize(self) -> None:
        self.cupy_stream.synchronize()

    def query(self) -> bool:
        return bool(self.cupy_stream.done)

    def record_event(self, event=None):
        event = event or Event()
        event.record(self)
        return event

    def wait_event(self, event) -> None:
        self.cupy_stream.wait_event(event.cupy_event)

    def wait_stream(self, stream) -> None:
        self.wait_event(stream.record_event())

    @property
    def cuda_stream(self) -> int:
        return int(self.cupy_stream.ptr)

    def __enter__(self):
        self.cupy_stream.__enter__()
        return self

    def __exit__(self, *exc):
        self.cupy_stream.__exit__(*exc)
        return False

    def __eq__(self, other):
        return isinstance(other, Stream) and self.cupy_stream.ptr == other.cupy_stream.ptr

    def __hash__(self):
        return hash(self.cupy_stream.ptr)

    def __repr__(self):
        return f"<ember.cuda.Stream device={self.device} cuda_stream={self.cuda_stream:#x}>"


class Event:
    """A CUDA event: ``record`` on a stream, ``synchronize``, ``elapsed_time`` in milliseconds."""

    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        self.cupy_event = _cupy().cuda.Event(block=blocking, disable_timing=not enable_timing,
                                             interprocess=interprocess)

    def record(self, stream=None) -> None:
        stream = stream or current_stream()
        self.cupy_event.record(stream.cupy_stream)

    def wait(self, stream=None) -> None:
        (stream or current_stream()).wait_event(self)

    def query(self) -> bool:
        return bool(self.cupy_event.done)

    def synchronize(self) -> None:
        self.cupy_event.synchronize()

    def elapsed_time(self, end_event) -> float:
        """Milliseconds between this event and ``end_event`` (both recorded, timing enabled)."""
        return float(_cupy().cuda.get_elapsed_time(self.cupy_event, end_event.cupy_event))


def current_stream(device=None) -> Stream:
    cp = _cupy()
    index = _index(device)
    with cp.cuda.Device(index):
        return Stream._wrap(cp.cuda.get_current_stream(), index)


def default_stream(device=None) -> Stream:
    return Stream._wrap(_cupy().cuda.Stream.null, _index(device))


@contextlib.contextmanager
def stream(s):
    """Queue the block's GPU work on stream ``s`` (None: leave the current stream)."""
    if s is None:
        yield
        return
    with s:
        yield
