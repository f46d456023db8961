"""``MPSBackend``: availability, transfers, memory and evaluation for MLX arrays.

Which MLX device runs ``mps`` (the one rule; tested in tests/test_mps_plugin.py):

* on Apple silicon with MLX's Metal backend, the GPU (``mlx.core.gpu``), as in PyTorch;
* with ``EMBER_MPS_DEVICE=cpu``, MLX's CPU device (``mlx.core.cpu``) on any machine — the
  same plugin code, which is how the tests and CI run it off Apple hardware;
* otherwise ``mps`` is unavailable, with the reason (MLX missing; not Apple silicon), as
  ``torch.backends.mps.is_available()`` is False on Linux.

Importing this module imports no MLX: that happens at the first availability question.

Laziness. MLX records operations and computes them when a value is needed. ember keeps
that, and evaluates where PyTorch's semantics need a value (``to_numpy``: ``.item()``,
``.tolist()``, printing, copies to another device; ``synchronize()``). So that the
recorded graph cannot grow without bound in a loop that never reads a value (a training
loop that updates its parameters in place, ``total = total + loss.detach()``), every
array a kernel returns is remembered weakly, and every ``EVAL_INTERVAL`` of them the ones
still alive are evaluated asynchronously (``mx.async_eval``): at most that many
operations are ever pending, and the Python thread does not wait.
"""
from __future__ import annotations

import os
import platform
import sys
import weakref

from ember.core import dtype as dt
from ember.dispatch.backend import Backend

#: how many kernel results may be pending (unevaluated) before the live ones are evaluated
EVAL_INTERVAL = int(os.environ.get("EMBER_MPS_EVAL_INTERVAL", "") or 256)

DEVICE_VARIABLE = "EMBER_MPS_DEVICE"
INSTALL = "pip install ember[mps]"


def _mlx():
    """``mlx.core``, or the ImportError saying why not."""
    import mlx.core
    return mlx.core


def requested_device() -> str:
    """'gpu' (Metal, the default) or 'cpu' (MLX's CPU device), from ``EMBER_MPS_DEVICE``."""
    value = os.environ.get(DEVICE_VARIABLE, "").strip().lower()
    return "cpu" if value == "cpu" else "gpu" if value in ("", "gpu", "metal", "mps") else value


class EvalWindow:
    """Remembers kernel results weakly; every ``interval`` of them, evaluates the live ones."""

    __slots__ = ("interval", "pending", "mx", "flushes")

    def __init__(self, interval: int):
        self.interval = max(1, interval)
        self.pending = []
        self.mx = None
        self.flushes = 0

    def note(self, array):
        pending = self.pending
        pending.append(weakref.ref(array))
        if len(pending) >= self.interval:
            self.flush(wait=False)
        return array

    def flush(self, wait: bool):
        refs, self.pending = self.pending, []
        alive = [a for a in (r() for r in refs) if a is not None]
        self.flushes += 1
        if alive:
            (self.mx.eval if wait else self.mx.async_eval)(*alive)


class MPSBackend(Backend):
    device_type = "mps"
    dispatch_key = "MPS"
    name = "ember-mps (MLX)"
    allow_cpu_fallback = True
    aliasing_views = False       # MLX arrays are values: the core writes views back into their base

    def __init__(self):
        self.window = EvalWindow(EVAL_INTERVAL)
        self._array = None       # mlx.core.array, once MLX is imported
        self._primitives = None  # ember.plugins.mps.primitives (it imports MLX), once imported
        self._dtypes = {}        # MLX dtype -> ember dtype, once imported

    # ---------------------------------------------------------------- availability
    @property
    def version(self) -> str:
        try:
            return _mlx().__version__
        except ImportError:
            return ""

    def unavailable_reason(self):
        wanted = requested_device()
        if wanted not in ("cpu", "gpu"):
            return (f"{DEVICE_VARIABLE}={os.environ.get(DEVICE_VARIABLE)!r} is not understood: "
                    f"use 'cpu' (MLX's CPU device) or leave it unset (Apple's GPU)")
        try:
            mx = _mlx()
        except ImportError as exc:
            return f"MLX is not installed ({exc}); {INSTALL}"
        if wanted == "cpu":
            return None
        if sys.platform != "darwin" or not _metal_available(mx):
            return (f"MPS needs Apple silicon and MLX's Metal backend; this machine is {platform.system()} "
                    f"{platform.machine()}, where MLX has no GPU. Set {DEVICE_VARIABLE}=cpu to run the "
                    f"mps plugin on MLX's CPU device")
        return None

    def mlx_device(self):
        """The MLX device that runs ``mps`` kernels."""
        mx = _mlx()
        return mx.cpu if requested_device() == "cpu" else mx.gpu

    def device_count(self) -> int:
        return 1 if self.unavailable_reason() is None else 0

    def supported_dtypes(self, index=None):
        from ember.plugins.mps.primitives import SUPPORTED_DTYPES
        return SUPPORTED_DTYPES

    def unsupported_dtype_error(self, dtype, device):
        if dtype is dt.float64:
            from ember.plugins.mps.primitives import FLOAT64_ERROR
            return TypeError(FLOAT64_ERROR)
        if dtype is dt.complex128:  # PyTorch's wording: MPS has no float64, so no complex128
            return TypeError("Trying to convert ComplexDouble to the MPS backend but it does not have support "
                             "for that dtype.")
        return super().unsupported_dtype_error(dtype, device)

    def canonical_index(self, index):
        return 0 if index is None else index

    def index_of(self, native):
        return 0

    # ---------------------------------------------------------------- data movement
    def _bind(self):
        """Import MLX (through ``primitives.py``) and keep what the hot path needs; returns
        the ``primitives`` module."""
        from ember.plugins.mps import primitives
        self._primitives = primitives
        self._array = primitives.mx.array
        self._dtypes = primitives.EMBER_DTYPE
        self.window.mx = primitives.mx
        return primitives

    def from_numpy(self, array, index):
        return (self._primitives or self._bind()).from_host(array)

    def to_numpy(self, native):
        return (self._primitives or self._bind()).to_host(native)  # evaluates the array

    def dtype_of(self, native):
        found = self._dtypes.get(native.dtype)
        if found is None:
            found = self._bind().EMBER_DTYPE.get(native.dtype)
        if found is None:
            raise TypeError(f"an mps kernel returned an MLX array of dtype {native.dtype}, which ember lacks")
        return found

    def normalize(self, native):
        array = self._array or self._bind().mx.array
        if type(native) is not array:
            native = array(native)
        return self.window.note(native)

    # ---------------------------------------------------------------- device management
    def synchronize(self, index=None):
        """Evaluate every pending result and wait for the device (``torch.mps.synchronize``)."""
        if self._primitives is None:
            self._bind()
        self.window.flush(wait=True)
        self._primitives.mx.synchronize()

    def memory_stats(self, index=None):
        mx = (self._primitives or self._bind()).mx
        active, peak, cache = memory_counters(mx)
        return {"allocated_bytes.all.current": active, "allocated_bytes.all.peak": peak,
                "reserved_bytes.all.current": active + cache}

    def describe(self):
        info = super().describe()
        if info["available"]:
            info["version"] = f"mlx {self.version} ({'Metal GPU' if requested_device() == 'gpu' else 'MLX CPU device'})"
        return info


def _metal_available(mx) -> bool:
    try:
        return bool(mx.metal.is_available())
    except Exception:
        return False


def memory_counters(mx):
    """(active, peak, cache) bytes as MLX reports them (``mx.get_*`` or, in older MLX, ``mx.metal.get_*``)."""
    source = mx if hasattr(mx, "get_active_memory") else mx.metal
    return int(source.get_active_memory()), int(source.get_peak_memory()), int(source.get_cache_memory())


BACKEND = MPSBackend()

