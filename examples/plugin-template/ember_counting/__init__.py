"""ember-counting: a complete backend plugin living outside ember's tree.

It runs every primitive with ember's numpy kernels but counts each call, so a user can
see which kernels a model really uses (``ember_counting.CALLS``). Copy this package to
start a backend of your own: replace the kernels and the data movement, keep the hooks.

    pip install -e examples/plugin-template
    python -m ember                       # lists the "counting" device and its coverage
    pytest --pyargs ember.testing.conformance --ember-device=counting
"""
from __future__ import annotations

import collections

import numpy as np
import scipy.special

from ember.dispatch.backend import Backend
from ember.dispatch.hookspecs import hookimpl
from ember.plugins.xp import XpKernels

__version__ = "0.1.0"

#: {op name: number of kernel calls} since import (or since ``CALLS.clear()``)
CALLS: collections.Counter = collections.Counter()


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
    version = __version__
    allow_cpu_fallback = True     # an op without a kernel runs on the CPU, counted and warned once
    aliasing_views = True         # numpy views share memory

    def unavailable_reason(self):
        return None               # numpy is always there; a GPU backend would probe its device here

    def from_numpy(self, array, index):
        return _native(np.array(array, copy=True))

    def to_numpy(self, native):
        return np.asarray(native).view(np.ndarray)

    def normalize(self, native):
        return _native(native)

    def memory_stats(self, index=None):
        return {"kernel_calls": sum(CALLS.values())}


BACKEND = CountingBackend()


def _counted(name, kernel):
    def run(*args, **attrs):
        CALLS[name] += 1
        return kernel(*args, **attrs)
    run.__name__ = name
    return run


@hookimpl
def ember_backend():
    return BACKEND


@hookimpl
def ember_register_kernels(backend, register):
    for name, kernel in XpKernels(np, scipy.special).kernels().items():
        register(name, _counted(name, kernel))
