"""``CPUBackend``: transfers and dtypes for numpy arrays (the hooks are in ``__init__.py``)."""
from __future__ import annotations

import numpy as np

from ember.core import dtype as dt
from ember.dispatch.backend import Backend
from ember.plugins.cpu._malloc import keep_freed_memory

keep_freed_memory()  # once, as the plugin loads: temporaries reuse freed memory (see _malloc.py)

_NDARRAY = np.ndarray
_BY_NUMPY = {d.numpy: d for d in dt.ALL_DTYPES + dt.LIMITED_DTYPES}
_SUPPORTED = dt.ALL_DTYPES + dt.LIMITED_DTYPES  # (uint16/32/64, float8, float4: see ember.core.dtype)


class CPUBackend(Backend):
    device_type = "cpu"
    dispatch_key = "CPU"
    name = "cpu"
    version = np.__version__
    allow_cpu_fallback = False
    native_type = _NDARRAY       # normalize and dtype_of below, for the dispatcher's hot path
    native_dtypes = _BY_NUMPY

    def canonical_index(self, index):
        return None

    def supported_dtypes(self, index=None):
        return _SUPPORTED

    def from_numpy(self, array, index):
        return np.array(array, copy=True)

    def to_numpy(self, native):
        return native

    def data_ptr(self, native):
        return native.__array_interface__["data"][0]

    def dtype_of(self, native):
        return _BY_NUMPY[native.dtype]

    def normalize(self, native):
        # numpy returns scalars for 0-d results; tensors always hold arrays
        return native if type(native) is _NDARRAY else np.asarray(native)

    def describe(self):
        info = super().describe()
        info["version"] = f"numpy {np.__version__}"
        return info


BACKEND = CPUBackend()

