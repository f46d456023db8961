"""``CountingBackend``: the ``counting`` device, numpy arrays of their own type."""
from __future__ import annotations

import numpy as np

from ember.core import dtype as dt
from ember.dispatch.backend import Backend


class CountingArray(np.ndarray):
    """The backend's native array: a numpy array of its own type, so that nothing can mix
    it up with a CPU tensor's array by accident."""


def _native(array):
    if isinstance(array, np.ndarray):
        return array.view(CountingArray) if type(array) is not CountingArray else array
    return np.asarray(array).view(CountingArray)


class CountingBackend(Backend):
    device_type = "counting"
    dispatch_key = "Counting"
    name = "ember-counting"
    version = "0.1.0"
    allow_cpu_fallback = True     # an op without a kernel runs on the CPU, counted and warned once
    aliasing_views = True         # numpy views share memory

    def unavailable_reason(self):
        return None               # numpy is always there; a GPU backend would probe its device here

    def supported_dtypes(self, index=None):
        # numpy's own types, uint16/32/64 included (the default is the ordinary twelve; float8 stays on the CPU)
        return dt.ALL_DTYPES + dt.UNSIGNED_DTYPES

    def from_numpy(self, array, index):
        return _native(np.array(array, copy=True))

    def to_numpy(self, native):
        return np.asarray(native).view(np.ndarray)

    def normalize(self, native):
        return _native(native)

    def data_ptr(self, native):   # Tensor.data_ptr(); optional (the default says there is none)
        return native.__array_interface__["data"][0]

    def memory_stats(self, index=None):
        from ember_counting.kernels import CALLS
        return {"kernel_calls": sum(CALLS.values())}


BACKEND = CountingBackend()
