"""``OpenCLBackend``: device strings ``opencl`` / ``opencl:N``, transfers, memory stats."""
from __future__ import annotations

import numpy as np

from ember.core import dtype as dt
from ember.dispatch.backend import Backend
from ember.plugins.opencl import runtime
from ember.plugins.opencl.array import CLArray

_BY_NUMPY = {d.numpy: d for d in dt.ALL_DTYPES + dt.UNSIGNED_DTYPES}


class OpenCLBackend(Backend):
    device_type = "opencl"
    dispatch_key = "OpenCL"
    name = "ember-opencl (pyopencl)"
    allow_cpu_fallback = True     # counted and reported; every primitive has a kernel here
    aliasing_views = True         # views are (buffer, offset, strides) over one allocation

    # ---------------------------------------------------------------- availability
    @property
    def version(self) -> str:
        found = runtime.probe()
        return "" if found.cl is None else "pyopencl " + ".".join(str(v) for v in found.cl.VERSION)

    def unavailable_reason(self):
        return runtime.unavailable_reason()

    def device_count(self) -> int:
        return len(runtime.probe().devices)

    def canonical_index(self, index):
        return 0 if index is None else index

    def supported_dtypes(self, index=None):
        s = runtime.state(index)
        # complex128 needs float64 pairs; complex kernels run on the CPU (see complexes.py)
        # uint16/32/64 natively (plain C types); no float8/float4 (TypeError naming dtype and device)
        return tuple(d for d in dt.ALL_DTYPES + dt.UNSIGNED_DTYPES if d not in (dt.float64, dt.complex128) or s.fp64)

    def unsupported_dtype_error(self, dtype, device):
        s = runtime.state(getattr(device, "index", None))
        return TypeError(_dtype_message(dtype.name, s))

    def device_names(self) -> list:
        found = runtime.probe()
        return [f"opencl:{i} {d.name.strip()} ({d.platform.name.strip()})" for i, d in enumerate(found.devices)]

    # ---------------------------------------------------------------- data movement
    def from_numpy(self, array, index):
        s = runtime.state(index)
        array = np.asarray(array)
        if array.dtype in (np.float64, np.complex128) and not s.fp64:
            raise TypeError(_dtype_message(array.dtype.name, s))
        from ember.plugins.opencl.launchers import from_numpy
        return from_numpy(s, array)

    def data_ptr(self, native):
        # the buffer's device address where the driver gives one, else its host handle
        buf = native.storage.buf
        base = getattr(buf, "int_ptr", None)
        return (base if base is not None else id(buf)) + native.offset * native.itemsize

    def to_numpy(self, native):
        if native.dtype.kind == "c":  # its non-contiguous copy goes through the pairs of reals
            from ember.plugins.opencl.complexes import to_numpy as complex_to_numpy
            return complex_to_numpy(native)
        from ember.plugins.opencl.launchers import to_numpy
        return to_numpy(native)

    def index_of(self, native):
        return native.device_index

    def dtype_of(self, native):
        found = _BY_NUMPY.get(native.dtype)
        return found if found is not None else dt.from_numpy_dtype(native.dtype)

    def normalize(self, native):
        return native if type(native) is CLArray else self._from_other(native)

    def _from_other(self, native):
        raise TypeError(f"an OpenCL kernel returned {type(native).__name__}, not a CLArray")

    # ---------------------------------------------------------------- device management
    def synchronize(self, index=None):
        for s in runtime.existing_states():
            if index is None or s.index == index:
                s.queue.finish()

    def memory_stats(self, index=None):
        s = runtime.state(index)
        pool = s.pool
        reserved = getattr(pool, "managed_bytes", None)
        stats = {"allocated_bytes.all.current": s.allocated, "allocated_bytes.all.peak": s.peak,
                 "num_pool_blocks.held": pool.held_blocks, "num_pool_blocks.active": pool.active_blocks}
        if reserved is not None:
            stats["reserved_bytes.all.current"] = int(reserved)
        return stats

    def reset_peak(self, index=None):
        s = runtime.state(index)
        s.peak = s.allocated

    def global_memory(self, index=None) -> int:
        """The device's global memory in bytes (torch.accelerator.get_memory_info's total)."""
        return int(runtime.state(index).device.global_mem_size)

    def empty_cache(self, index=None):
        for s in runtime.existing_states():
            if index is None or s.index == index:
                s.pool.free_held()

    def describe(self):
        info = super().describe()
        if info["available"]:
            info["devices_detail"] = self.device_names()
        return info


def _dtype_message(name, s) -> str:
    ext = {"float64": "cl_khr_fp64", "complex128": "cl_khr_fp64", "float16": "cl_khr_fp16"}.get(name, "")
    why = f": the device lacks the {ext} extension" if ext else ""
    return f"dtype {name} is not supported on OpenCL device opencl:{s.index} ({s.name}){why}"


BACKEND = OpenCLBackend()
