"""pyopencl, found lazily: the OpenCL devices, one context + queue + memory pool each,
and the program cache.

Nothing here imports pyopencl at module import: ``probe()`` does, the first time the
``opencl`` device type is looked up, and caches what it found (or why it found nothing).

Devices: every device of every platform, GPUs first (then accelerators, then CPUs), in
platform order within a kind; ``opencl:N`` is the N-th. ``EMBER_OPENCL_DEVICE`` picks
which ones ember sees, as a comma-separated list of selectors, each ``P:D`` (device D of
platform P, numbered as ``clinfo -l`` numbers them), ``P`` (all devices of platform P)
or a case-insensitive part of a platform or device name (``pocl``, ``nvidia``), or a
device kind (``gpu``, ``accelerator``, ``cpu``). ``EMBER_OPENCL_NO_FP64=1`` hides the
devices' cl_khr_fp64 (to check how ember behaves on a device without float64).

Programs are built once per (context, source) and kept for the life of the process;
pyopencl also caches the binaries on disk, so a second process skips the compiler.
Kernels always run with a fixed work-group size (PoCL compiles a kernel once per
work-group size), and take shapes and strides as run-time arguments, so one program
serves every shape of a given (op, dtypes) pair.
"""
from __future__ import annotations

import os
import threading

import numpy as np

LOCAL_SIZE = 64          # work-items per work-group of the 1-d kernels
MAX_DIMS = 8             # dims a kernel's shape/stride arguments hold (after merging dims)


class Probe:
    def __init__(self):
        self.cl = None
        self.reason = None
        self.devices = []        # pyopencl Device, in ember's order
        self.platforms = []      # the platform index of each device


_PROBE = []
_LOCK = threading.RLock()


def probe() -> Probe:
    if _PROBE:
        return _PROBE[0]
    with _LOCK:
        if not _PROBE:
            _PROBE.append(_probe())
    return _PROBE[0]


def forget_probe():
    """Probe again at the next call (tests)."""
    _PROBE.clear()
    _STATES.clear()


def _probe() -> Probe:
    found = Probe()
    try:
        import pyopencl as cl
    except Exception as exc:  # ImportError, or a broken ICD loader
        found.reason = (f"pyopencl is not importable ({type(exc).__name__}: {exc}); "
                        f"install it with `pip install ember[opencl]`")
        return found
    try:
        platforms = cl.get_platforms()
    except Exception as exc:  # no ICD at all raises here (PLATFORM_NOT_FOUND_KHR)
        found.reason = (f"no OpenCL platform found ({type(exc).__name__}: {exc}); install a driver, "
                        f"e.g. the PoCL CPU driver with `pip install ember[opencl]`")
        return found
    if not platforms:
        found.reason = "no OpenCL platform found; `pip install ember[opencl]` installs the PoCL CPU driver"
        return found
    candidates = []
    for p_index, platform in enumerate(platforms):
        try:
            devices = platform.get_devices()
        except Exception:
            devices = []
        for d_index, device in enumerate(devices):
            candidates.append((p_index, d_index, platform, device))
    if not candidates:
        found.reason = "the OpenCL platforms (" + ", ".join(p.name for p in platforms) + ") have no device"
        return found
    selected = _select(candidates, cl, os.environ.get("EMBER_OPENCL_DEVICE", "").strip())
    if not selected:
        names = "; ".join(f"{p}:{d} {dev.name} ({plat.name})" for p, d, plat, dev in candidates)
        found.reason = (f"EMBER_OPENCL_DEVICE={os.environ.get('EMBER_OPENCL_DEVICE')!r} matches no OpenCL "
                        f"device (found: {names})")
        return found
    found.cl = cl
    found.devices = [c[3] for c in selected]
    found.platforms = [c[0] for c in selected]
    return found


def _kind_rank(cl, device) -> int:
    t = device.type
    if t & cl.device_type.GPU:
        return 0
    if t & cl.device_type.ACCELERATOR:
        return 1
    return 2


def _select(candidates, cl, spec):
    if not spec:
        return sorted(candidates, key=lambda c: (_kind_rank(cl, c[3]), c[0], c[1]))
    chosen = []
    for part in (s.strip() for s in spec.split(",")):
        if not part:
            continue
        for c in candidates:
            p, d, platform, device = c
            if ":" in part and part.replace(":", "").isdigit():
                hit = part == f"{p}:{d}"
            elif part.isdigit():
                hit = int(part) == p
            else:
                kinds = {"gpu": 0, "accelerator": 1, "cpu": 2}
                hit = (part.lower() in platform.name.lower() or part.lower() in device.name.lower()
                       or kinds.get(part.lower()) == _kind_rank(cl, device))
            if hit and c not in chosen:
                chosen.append(c)
    return chosen


def unavailable_reason() -> str | None:
    return probe().reason


# ---------------------------------------------------------------- one device
class DeviceState:
    """Context, queue, memory pool, capabilities and compiled programs of one device."""

    def __init__(self, index: int, cl, device):
        self.index = index
        self.cl = cl
        self.device = device
        self.context = cl.Context([device])
        self.queue = cl.CommandQueue(self.context)
        import pyopencl.tools as cl_tools
        self.pool = cl_tools.MemoryPool(cl_tools.ImmediateAllocator(self.queue))
        ext = device.extensions.split()
        self.fp64 = "cl_khr_fp64" in ext and os.environ.get("EMBER_OPENCL_NO_FP64", "") in ("", "0")
        self.fp16 = "cl_khr_fp16" in ext
        self.int64_atomics = "cl_khr_int64_base_atomics" in ext
        self.name = device.name.strip()
        self.is_cpu = bool(device.type & cl.device_type.CPU)
        self.local_size = min(LOCAL_SIZE, device.max_work_group_size)
        units = max(device.max_compute_units, 1)
        # work-groups of a grid-stride kernel: a few per core on a CPU, many on a GPU
        self.max_groups = max(8, 4 * units) if self.is_cpu else max(256, 32 * units)
        self.lock = threading.RLock()
        self.programs = {}   # source -> built Program
        self.kernels = {}    # (source, name) -> Kernel
        self.allocated = 0   # bytes held by live arrays
        self.peak = 0
        self._empty = None

    def describe(self) -> str:
        return f"opencl:{self.index} ({self.name})"

    # ---- memory
    def allocate(self, nbytes: int):
        buf = self.pool.allocate(max(int(nbytes), 8))
        self.allocated += nbytes
        if self.allocated > self.peak:
            self.peak = self.allocated
        return buf

    def release(self, nbytes: int):
        self.allocated -= nbytes

    def dummy_buffer(self):
        """A small buffer passed where a kernel's pointer argument is unused."""
        if self._empty is None:
            self._empty = self.pool.allocate(16)
        return self._empty

    # ---- programs
    def kernel(self, source: str, name: str):
        k = self.kernels.get((source, name))
        if k is None:
            program = self.programs.get(source)
            if program is None:
                program = self.build(source)
            k = self.kernels[(source, name)] = getattr(program, name)
        return k

    def build(self, source: str):
        cl = self.cl
        try:
            program = cl.Program(self.context, source).build(options=["-cl-std=CL1.2"])
        except cl.RuntimeError as exc:
            raise RuntimeError(f"OpenCL compiler error on {self.describe()}: {exc}\n--- source ---\n{source}") from None
        self.programs[source] = program
        return program

    def launch(self, kernel, global_size, local_size, args):
        """Enqueue ``kernel`` (1-d or 2-d sizes) with ``args`` (buffers, numpy scalars/arrays)."""
        with self.lock:
            kernel.set_args(*args)
            self.cl.enqueue_nd_range_kernel(self.queue, kernel, global_size, local_size)

    def groups_for(self, n: int) -> int:
        """Work-groups for a grid-stride kernel over ``n`` items: one item per work-item
        (PoCL vectorizes across work-items; a long per-item loop defeats that), up to a
        bound past which work-items loop."""
        return max(1, min(-(-n // self.local_size), 1 << 22))


_STATES: dict[int, DeviceState] = {}


def state(index: int | None) -> DeviceState:
    index = index or 0
    s = _STATES.get(index)
    if s is None:
        with _LOCK:
            s = _STATES.get(index)
            if s is None:
                found = probe()
                if found.reason is not None:
                    raise RuntimeError(f"device 'opencl' is not available: {found.reason}")
                if not 0 <= index < len(found.devices):
                    raise RuntimeError(f"invalid device ordinal opencl:{index}: ember sees "
                                       f"{len(found.devices)} OpenCL device(s)")
                s = _STATES[index] = DeviceState(index, found.cl, found.devices[index])
    return s


def existing_states():
    return list(_STATES.values())


def meta_array(values, size: int) -> np.ndarray:
    """Kernel metadata (shapes, strides) as an int64 array of ``size`` passed by value."""
    m = np.zeros(size, dtype=np.int64)
    m[:len(values)] = values
    return m
