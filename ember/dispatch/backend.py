"""The Backend contract: what a plugin hands ember for one device type.

Subclass it, set ``device_type`` and ``dispatch_key``, write ``from_numpy`` and
``to_numpy`` (the two methods every plugin must write), override the others where the
defaults do not fit, and return an instance from the ``ember_backend`` hook. Kernels come
separately, from the ``ember_kernels`` hook (``ember.dispatch.hookspecs``).
"""
from __future__ import annotations

import numpy as np

from ember.core import dtype as dt


class Backend:
    """One device type's runtime: availability, devices, dtypes, transfers, memory."""
    #: device type users write in device strings ("cpu", "opencl", ...)
    device_type: str = ""
    #: dispatch key (see ember.dispatch.keys)
    dispatch_key: str = ""
    #: plugin name and version, for ``python -m ember``
    name: str = ""
    version: str = ""
    #: whether ops without a native kernel may run on the CPU (copy in, run, copy out)
    allow_cpu_fallback: bool = True
    #: whether native arrays alias memory (views share storage with their base)
    aliasing_views: bool = True
    #: whether ``from_numpy`` / ``to_numpy`` accept ``non_blocking=True`` (queue the copy and
    #: return; the caller synchronizes), as ``tensor.to(device, non_blocking=True)`` asks
    supports_non_blocking: bool = False
    #: whether a device string without an index means the current device, which
    #: ``canonical_index(None)`` answers at each call (CUDA's ``set_device``)
    index_follows_current_device: bool = False
    #: optional, for the per-op hot path: the array type that ``normalize`` returns unchanged,
    #: and ``{native dtype: ember dtype}`` giving what ``dtype_of`` gives for it; with both set,
    #: the dispatcher wraps a kernel's result of that type without calling either method
    native_type: type | None = None
    native_dtypes: dict | None = None

    # ---- availability
    def is_available(self) -> bool:
        return self.unavailable_reason() is None

    def unavailable_reason(self) -> str | None:
        """None when usable, else a sentence saying why not."""
        return None

    def device_count(self) -> int:
        return 1

    def supported_dtypes(self, index: int | None = None) -> tuple:
        return dt.ALL_DTYPES

    def unsupported_dtype_error(self, dtype: dt.dtype, device) -> Exception:
        """The exception raised for a ``dtype`` tensor on ``device`` that ``supported_dtypes`` lacks."""
        return TypeError(f"{device} tensors do not support dtype {dtype}")

    def canonical_index(self, index: int | None) -> int | None:
        """The index tensors on this device report (cpu: None, accelerators: 0)."""
        return index

    # ---- data movement
    def from_numpy(self, array: np.ndarray, index: int | None):
        """A native array on device ``index`` holding a copy of ``array``. Every plugin writes it."""
        raise NotImplementedError(self._must_implement("from_numpy"))

    def to_numpy(self, native) -> np.ndarray:
        """The values of a native array as a numpy array on the host. Every plugin writes it."""
        raise NotImplementedError(self._must_implement("to_numpy"))

    def _must_implement(self, method):
        return (f"backend plugin '{self.name or type(self).__name__}' (device type '{self.device_type}') "
                f"must implement {type(self).__name__}.{method}")

    def data_ptr(self, native) -> int:
        """The memory address of the first element of ``native`` (``Tensor.data_ptr()``)."""
        raise RuntimeError(f"'{self.device_type}' tensors expose no data pointer (backend plugin "
                           f"'{self.name or type(self).__name__}' does not implement data_ptr)")

    def index_of(self, native) -> int | None:
        """The device index a native array lives on."""
        return None

    def dtype_of(self, native) -> dt.dtype:
        return dt.from_numpy_dtype(native.dtype)

    def normalize(self, native):
        """Turn whatever a kernel returned into the backend's array type."""
        return native

    # ---- page-locked host memory (accelerators whose transfers use it)
    def pin(self, array: np.ndarray) -> np.ndarray:
        """A copy of ``array`` in page-locked host memory (``Tensor.pin_memory()``)."""
        raise RuntimeError(f"device type '{self.device_type}' has no pinned host memory")

    def is_pinned(self, array: np.ndarray) -> bool:
        return False

    # ---- device management
    def synchronize(self, index: int | None = None) -> None:
        return None

    def memory_stats(self, index: int | None = None) -> dict:
        return {}

    def describe(self) -> dict:
        """A plugin summary for ``python -m ember``."""
        reason = self.unavailable_reason()
        return {
            "name": self.name or self.device_type,
            "version": self.version,
            "device_type": self.device_type,
            "dispatch_key": self.dispatch_key,
            "available": reason is None,
            "reason": reason,
            "devices": self.device_count() if reason is None else 0,
            "dtypes": [d.name for d in self.supported_dtypes()] if reason is None else [],
        }
