"""``CupyBackend``: the Backend of the ``cuda`` and ``rocm`` plugins (one class, two instances:
``ember/plugins/cuda/backend.py`` and ``ember/plugins/rocm/backend.py``).

Everything here imports CuPy only through ``runtime.probe()``, so creating the backend
(at plugin discovery) costs nothing; the probe runs when a CUDA/ROCm device is first
looked up, and its answer is cached.

Memory: tensors live in CuPy's default memory pool; the plugin installs an allocator
over that pool that records each device's peak use (``ember.cuda.max_memory_allocated``).
Pinned host memory comes from CuPy's pinned pool; a non-blocking copy from it is queued
on the current stream and the host array is kept alive until the copy is done.
"""
from __future__ import annotations

import collections
import weakref

import numpy as np

from ember.core import dtype as dt
from ember.dispatch.backend import Backend
from ember.plugins.cupy import runtime

_BY_NUMPY = {d.numpy: d for d in dt.ALL_DTYPES + dt.UNSIGNED_DTYPES}


class CupyBackend(Backend):
    allow_cpu_fallback = True
    aliasing_views = True
    supports_non_blocking = True
    index_follows_current_device = True

    def __init__(self, device_type: str, dispatch_key: str, platform: str, install: str):
        self.device_type = device_type
        self.dispatch_key = dispatch_key
        self.name = f"ember-{device_type} (CuPy)"
        self.platform = platform
        self.install = install
        self._in_flight = collections.deque()  # (event, host array) of queued host-to-device copies

    # ---------------------------------------------------------------- availability
    @property
    def version(self) -> str:
        found = runtime.probe()
        return found.build if found.cupy is not None else ""

    def unavailable_reason(self):
        return runtime.unavailable_reason(runtime.probe(), self.platform, self.install)

    @property
    def cupy(self):
        """The cupy module; a RuntimeError saying why when the device cannot be used."""
        reason = self.unavailable_reason()
        if reason is not None:
            raise RuntimeError(f"device '{self.device_type}' is not available: {reason}")
        return runtime.probe().cupy

    def device_count(self) -> int:
        return runtime.probe().device_count if self.unavailable_reason() is None else 0

    def supported_dtypes(self, index=None):
        found = runtime.probe()
        major = int(found.version.split(".")[0]) if found.version[:1].isdigit() else 0
        # uint16/32/64 are CuPy's own; float8/float4 it lacks (TypeError naming the dtype and the device)
        if major >= 14:  # CuPy 14 added bfloat16 (through ml_dtypes)
            return dt.ALL_DTYPES + dt.UNSIGNED_DTYPES
        return tuple(d for d in dt.ALL_DTYPES + dt.UNSIGNED_DTYPES if d is not dt.bfloat16)

    def canonical_index(self, index):
        """'cuda' means the current device, as in PyTorch (``ember.cuda.set_device``)."""
        return self.current_device() if index is None else index

    def current_device(self) -> int:
        return int(self.cupy.cuda.runtime.getDevice())

    # ---------------------------------------------------------------- data movement
    def from_numpy(self, array, index, non_blocking=False):
        cp = self.cupy
        with cp.cuda.Device(index or 0):
            if not non_blocking:
                return cp.array(array, copy=True)
            out = cp.empty(array.shape, dtype=array.dtype)
            stream = cp.cuda.get_current_stream()
            out.set(array, stream=stream)
            self._keep_until_done(stream, array)
            return out

    def _keep_until_done(self, stream, array):
        """Hold the source of a queued copy until the stream has passed it."""
        while self._in_flight and self._in_flight[0][0].done:
            self._in_flight.popleft()
        self._in_flight.append((stream.record(), array))

    def data_ptr(self, native):
        return int(native.data.ptr)

    def to_numpy(self, native, non_blocking=False):
        if not non_blocking:
            return native.get()
        cp = self.cupy
        out = self.pinned_empty(native.shape, native.dtype)
        with native.device:
            native.get(stream=cp.cuda.get_current_stream(), out=out, blocking=False)
        return out

    def index_of(self, native):
        return native.device.id

    def dtype_of(self, native):
        found = _BY_NUMPY.get(native.dtype)
        return found if found is not None else dt.from_numpy_dtype(native.dtype)

    _ndarray = None  # cupy.ndarray, once known

    def normalize(self, native):
        ndarray = self._ndarray
        if ndarray is None:
            ndarray = CupyBackend._ndarray = runtime.probe().cupy.ndarray
        return native if type(native) is ndarray else runtime.probe().cupy.asarray(native)

    # ---------------------------------------------------------------- pinned host memory
    def pinned_empty(self, shape, dtype) -> np.ndarray:
        """An uninitialised numpy array in page-locked host memory."""
        dtype = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        nbytes = max(count * dtype.itemsize, 1)
        memory = self.cupy.cuda.alloc_pinned_memory(nbytes)
        flat = np.frombuffer(memory, dtype=dtype, count=count)
        _host_allocated(flat, nbytes)
        return flat.reshape(shape)

    def pin(self, array: np.ndarray) -> np.ndarray:
        """A copy of ``array`` in page-locked host memory."""
        out = self.pinned_empty(array.shape, array.dtype)
        out[...] = array
        return out

    def is_pinned(self, array: np.ndarray) -> bool:
        found = runtime.probe()
        if found.cupy is None or found.device_count == 0:
            return False
        base = array
        while isinstance(base, np.ndarray) and base.base is not None:
            base = base.base
        if isinstance(base, found.cupy.cuda.PinnedMemoryPointer):
            return True
        try:  # page-locked by someone else (cudaHostRegister, another library)
            attributes = found.cupy.cuda.runtime.pointerGetAttributes(array.ctypes.data)
            return int(getattr(attributes, "type", 0)) == 1  # cudaMemoryTypeHost
        except Exception:
            return False

    # ---------------------------------------------------------------- device management
    def synchronize(self, index=None):
        cp = self.cupy
        with cp.cuda.Device(self.current_device() if index is None else index) as device:
            device.synchronize()

    def memory_stats(self, index=None):
        cp = self.cupy
        index = self.current_device() if index is None else index
        pool = cp.get_default_memory_pool()
        with cp.cuda.Device(index):
            allocated, reserved = int(pool.used_bytes()), int(pool.total_bytes())
        peak = max(PEAKS.get(index, 0), allocated)
        count, total = ALLOCATIONS.get(index, (0, 0))
        return {"allocated_bytes.all.current": allocated, "allocated_bytes.all.peak": peak,
                "reserved_bytes.all.current": reserved,
                "reserved_bytes.all.peak": max(RESERVED_PEAKS.get(index, 0), reserved),
                "allocation.all.allocated": count, "allocated_bytes.all.allocated": total}

    def reset_peak(self, index=None):
        index = self.current_device() if index is None else index
        stats = self.memory_stats(index)
        PEAKS[index] = stats["allocated_bytes.all.current"]
        RESERVED_PEAKS[index] = stats["reserved_bytes.all.current"]

    def reset_accumulated(self, index=None):
        """Restart the allocation counts (torch.cuda.reset_accumulated_memory_stats)."""
        ALLOCATIONS.pop(self.current_device() if index is None else index, None)

    def host_memory_stats(self):
        """The page-locked host memory's counts (torch.cuda.host_memory_stats)."""
        return dict(HOST_STATS)

    def reset_host_peak(self):
        HOST_STATS["allocations.peak"] = HOST_STATS["allocations.current"]
        HOST_STATS["allocated_bytes.peak"] = HOST_STATS["allocated_bytes.current"]

    def reset_host_accumulated(self):
        for key in ("allocations.allocated", "allocations.freed", "allocated_bytes.allocated",
                    "allocated_bytes.freed", "num_host_alloc", "num_host_free"):
            HOST_STATS[key] = 0

    def describe(self):
        info = super().describe()
        info["version"] = self.version
        return info


# ---------------------------------------------------------------- peak-memory accounting
PEAKS: dict[int, int] = {}   # device index -> most bytes in use at once (both plugins share CuPy)
RESERVED_PEAKS: dict[int, int] = {}  # device index -> most bytes the pool held at once
ALLOCATIONS: dict[int, tuple] = {}   # device index -> (allocations, bytes allocated) since the last reset
_TRACKING = []
HOST_STATS = dict.fromkeys(("allocations.current", "allocations.peak", "allocations.allocated", "allocations.freed",
                            "allocated_bytes.current", "allocated_bytes.peak", "allocated_bytes.allocated",
                            "allocated_bytes.freed", "num_host_alloc", "num_host_free"), 0)


def _host_allocated(array, nbytes) -> None:
    """Count a page-locked block, and its release when the last array over it goes."""
    s = HOST_STATS
    for kind, amount in (("allocations", 1), ("allocated_bytes", nbytes)):
        s[f"{kind}.current"] += amount
        s[f"{kind}.allocated"] += amount
        s[f"{kind}.peak"] = max(s[f"{kind}.peak"], s[f"{kind}.current"])
    s["num_host_alloc"] += 1
    weakref.finalize(array, _host_freed, nbytes)


def _host_freed(nbytes) -> None:
    s = HOST_STATS
    for kind, amount in (("allocations", 1), ("allocated_bytes", nbytes)):
        s[f"{kind}.current"] -= amount
        s[f"{kind}.freed"] += amount
    s["num_host_free"] += 1


def install_peak_tracking(cupy) -> None:
    """Route CuPy's allocations through its default pool, noting each device's peak use."""
    if _TRACKING:
        return
    pool = cupy.get_default_memory_pool()

    def malloc(nbytes):
        memory = pool.malloc(nbytes)
        device = memory.device_id
        used = pool.used_bytes()  # of the current device, where the allocation happened
        if used > PEAKS.get(device, 0):
            PEAKS[device] = used
        held = pool.total_bytes()
        if held > RESERVED_PEAKS.get(device, 0):
            RESERVED_PEAKS[device] = held
        count, total = ALLOCATIONS.get(device, (0, 0))
        ALLOCATIONS[device] = (count + 1, total + nbytes)
        return memory
    cupy.cuda.set_allocator(malloc)
    _TRACKING.append(malloc)
