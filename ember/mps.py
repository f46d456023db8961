"""``ember.mps``: PyTorch's ``torch.mps`` helpers for the ``mps`` device (MLX).

The device runs MLX: Apple's GPU through Metal, or MLX's CPU device with
``EMBER_MPS_DEVICE=cpu`` (see ``ember.backends.mps``). Where ``mps`` is unavailable the
helpers that need the device raise a RuntimeError saying why; ``device_count()`` is 0.

* ``synchronize()`` evaluates every pending MLX computation ember queued and waits
  for the device: MLX is lazy, so a timing taken without it measures only the recording.
* Memory: ``current_allocated_memory()`` is MLX's active memory (bytes held by arrays),
  ``driver_allocated_memory()`` adds MLX's cache of freed buffers it keeps for reuse,
  ``empty_cache()`` gives that cache back. On MLX's CPU device these are what MLX
  reports for its host allocations.
* Random numbers: every device draws from ember's one Philox stream
  (``ember.default_generator``), so ``manual_seed`` seeds it and the same seed gives the
  same numbers on ``mps`` and on the CPU.
"""
from __future__ import annotations

import os
import time

__all__ = ["is_available", "device_count", "synchronize", "manual_seed", "seed", "get_rng_state",
           "set_rng_state", "empty_cache", "current_allocated_memory", "driver_allocated_memory",
           "recommended_max_memory", "set_per_process_memory_fraction", "Event", "compile_shader", "load_metallib",
           "profiler"]


def _usable():
    """The available ``mps`` Backend; a RuntimeError saying why not otherwise."""
    from ember.dispatch.registry import REGISTRY
    return REGISTRY.available_backend("mps")


def _mlx():
    return _usable()._bind().mx


def is_available() -> bool:
    from ember.backends.mps import is_available as available
    return available()


def device_count() -> int:
    return 1 if is_available() else 0


def synchronize() -> None:
    """Evaluate everything queued on ``mps`` and wait until the device is done."""
    _usable().synchronize()


# ---------------------------------------------------------------- random numbers
def manual_seed(seed) -> None:
    from ember.ops.random import manual_seed as _seed
    _seed(seed)


def seed() -> None:
    from ember.ops.random import seed as _seed
    _seed()


def get_rng_state():
    from ember.ops.random import get_rng_state as _get
    return _get()


def set_rng_state(new_state) -> None:
    from ember.ops.random import set_rng_state as _set
    _set(new_state)


# ---------------------------------------------------------------- memory
def current_allocated_memory() -> int:
    """Bytes of memory held by MLX arrays (``mx.get_active_memory()``)."""
    return _usable().memory_stats()["allocated_bytes.all.current"]


def driver_allocated_memory() -> int:
    """Bytes MLX holds from the system: active arrays plus its cache of freed buffers."""
    return _usable().memory_stats()["reserved_bytes.all.current"]


def empty_cache() -> None:
    """Give MLX's cache of freed buffers back to the system."""
    if not is_available():
        return
    mx = _mlx()
    (mx.clear_cache if hasattr(mx, "clear_cache") else mx.metal.clear_cache)()


def recommended_max_memory() -> int:
    """The device's recommended working-set size in bytes (Metal); on MLX's CPU device,
    the machine's physical memory."""
    mx = _mlx()
    info = mx.device_info() if hasattr(mx, "device_info") else mx.metal.device_info()
    found = info.get("max_recommended_working_set_size") or info.get("memory_size")
    if found:
        return int(found)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def set_per_process_memory_fraction(fraction: float) -> None:
    """Limit MLX's memory to ``fraction`` of ``recommended_max_memory()`` (0: no limit)."""
    if not 0 <= fraction <= 2:
        raise ValueError(f"invalid fraction value: {fraction}. Allowed range: 0~2")
    mx = _mlx()
    limit = int(fraction * recommended_max_memory()) if fraction else recommended_max_memory() * 4
    (mx.set_memory_limit if hasattr(mx, "set_memory_limit") else mx.metal.set_memory_limit)(limit)


# ---------------------------------------------------------------- events
class Event:
    """``torch.mps.Event``: ``record()``, ``synchronize()``, ``elapsed_time(end)`` in milliseconds.

    MLX has no device timestamps: recording synchronizes (evaluates everything queued)
    and notes the host clock, so ``elapsed_time`` covers the work between two records.
    """

    def __init__(self, enable_timing: bool = False):
        self.enable_timing = enable_timing
        self.time = None

    def record(self) -> None:
        synchronize()
        self.time = time.perf_counter()

    def wait(self) -> None:
        synchronize()

    def query(self) -> bool:
        return self.time is not None

    def synchronize(self) -> None:
        synchronize()

    def elapsed_time(self, end_event: "Event") -> float:
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError("Events were not created with enable_timing=True")
        if self.time is None or end_event.time is None:
            raise RuntimeError("both events must be recorded before calling elapsed_time()")
        return (end_event.time - self.time) * 1000.0


# ---------------------------------------------------------------- Metal shaders and the profiler
def _require_metal():
    mx = _mlx()
    try:
        on_metal = bool(mx.metal.is_available()) and mx.default_device() == mx.gpu
    except Exception:
        on_metal = False
    if not on_metal:
        raise RuntimeError("MPS is not available: Metal shaders need Apple's GPU, and ember's mps device runs on "
                           "MLX's CPU here")
    return mx


def compile_shader(source: str):
    """Compile a Metal shader library from source, as ``torch.mps.compile_shader``.

    Without Apple's GPU this raises a RuntimeError, as PyTorch does without MPS. On the GPU it
    raises NotImplementedError: MLX, which runs ember's ``mps`` device, compiles kernels from a
    kernel body (``mx.fast.metal_kernel``), not whole Metal libraries.

    Args:
        source: Metal Shading Language source.

    Returns:
        Nothing: it raises.
    """
    _require_metal()
    raise NotImplementedError("MLX compiles Metal kernel bodies (mlx.core.fast.metal_kernel), not whole shader "
                              "libraries; ember's mps device cannot load one")


def load_metallib(path: str):
    """Load a compiled Metal library (``.metallib``), as ``torch.mps.load_metallib`` (see ``compile_shader``:
    the same limits).

    Args:
        path: the library's path.

    Returns:
        Nothing: it raises.
    """
    _require_metal()
    raise NotImplementedError("MLX loads no precompiled Metal libraries for ember's mps device")


def __getattr__(name):
    if name == "profiler":  # loads on first use
        from ember import mps_profiler
        return mps_profiler
    raise AttributeError(f"module 'ember.mps' has no attribute {name!r}")
