"""Fake device backends registered at run time, for the dispatch and error tests.

``FakeArray`` wraps a numpy array so that CPU kernels cannot take it by accident: a
fake kernel unwraps it, and the CPU fallback has to copy it to the host and back
(``to_numpy`` / ``from_numpy``). Each fake backend implements only the kernels it is
given, counts the native calls it runs, and has two devices (``<type>:0``, ``<type>:1``).

Registration is idempotent (once per process), because the registry has no
unregister: the fake device types stay loaded, as the test suite's other runtime
backends do.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import scipy.special

from ember.core import dtype as dt
from ember.dispatch.backend import Backend
from ember.dispatch.hookspecs import hookimpl
from ember.dispatch.ops import OPS
from ember.dispatch.registry import REGISTRY
from ember.plugins.xp import XpKernels

XP = XpKernels(np, scipy.special)


def _fused_softmax(x, *, dim):
    """A fused override of the ``softmax`` composite (the CPU plugin has none)."""
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


EXTRA_KERNELS = {"softmax": _fused_softmax}

# What a fake device implements natively: creation, copies, views and a little arithmetic.
# Everything else (exp, sin, cat, sort, ...) must fall back to the CPU or fail.
BASIC_KERNELS = ("full", "arange", "copy_", "clone", "cast", "view", "permute", "expand", "basic_index",
                 "add", "sub", "mul", "neg", "sum", "eq", "where", "matmul",
                 "philox_uniform", "philox_normal")


class FakeArray:
    """A device array: numpy inside, but not an ndarray (CPU kernels cannot use it)."""
    __slots__ = ("a", "index")

    def __init__(self, a: np.ndarray, index: int):
        self.a = a
        self.index = index

    @property
    def shape(self):
        return self.a.shape

    @property
    def dtype(self):
        return self.a.dtype

    @property
    def ndim(self):
        return self.a.ndim

    @property
    def nbytes(self):
        return self.a.nbytes


class FakeBackend(Backend):
    version = "0.1"

    def __init__(self, device_type, allow_cpu_fallback=True, reason=None):
        self.device_type = device_type
        self.dispatch_key = f"Fake_{device_type}"
        self.name = f"{device_type}-plugin"
        self.allow_cpu_fallback = allow_cpu_fallback
        self.reason = reason
        self.native_calls = Counter()   # op name -> native kernel calls
        self.to_host_calls = 0

    def unavailable_reason(self):
        return self.reason

    def device_count(self):
        return 2

    def canonical_index(self, index):
        return 0 if index is None else index

    def from_numpy(self, array, index):
        return FakeArray(np.array(array, copy=True), 0 if index is None else index)

    def to_numpy(self, native):
        self.to_host_calls += 1
        return np.array(native.a, copy=True)

    def index_of(self, native):
        return native.index

    def dtype_of(self, native):
        return dt.from_numpy_dtype(native.a.dtype)

    def normalize(self, native):
        if isinstance(native, FakeArray):
            return native
        return FakeArray(np.asarray(native), 0)

    def kernel(self, name):
        """The numpy kernel ``name`` made to take and return FakeArrays."""
        fn = EXTRA_KERNELS[name] if name in EXTRA_KERNELS else getattr(XP, name)
        calls = self.native_calls

        def run(*args, **attrs):
            calls[name] += 1
            index = next((a.index for a in args if isinstance(a, FakeArray)), attrs.get("index") or 0)
            raw = [a.a if isinstance(a, FakeArray) else a for a in args]
            out = fn(*raw, **attrs)
            if raw and out is raw[0] and isinstance(args[0], FakeArray):
                return args[0]  # written in place
            if isinstance(out, tuple):
                return tuple(FakeArray(np.asarray(o), index) for o in out)
            return FakeArray(np.asarray(out), index)
        return run


class FakePlugin:
    def __init__(self, backend, kernel_names, fail_at=None):
        self.backend = backend
        self.kernel_names = kernel_names
        self.fail_at = fail_at

    @hookimpl
    def ember_backend(self):
        if self.fail_at == "backend":
            raise ImportError("fakelib is not installed")
        return self.backend

    @hookimpl
    def ember_kernels(self, backend):
        return {name: backend.kernel(name) for name in self.kernel_names}

    @hookimpl
    def ember_kernel_names(self, backend):
        return self.kernel_names


_REGISTERED: dict[str, FakeBackend] = {}


def fake_device(device_type, kernels=BASIC_KERNELS, allow_cpu_fallback=True, reason=None) -> FakeBackend:
    """Register (once) and return the fake backend for ``device_type``."""
    backend = _REGISTERED.get(device_type)
    if backend is None:
        backend = FakeBackend(device_type, allow_cpu_fallback, reason)
        REGISTRY.register_plugin(FakePlugin(backend, kernels), f"{device_type}-plugin")
        REGISTRY.backend(device_type)  # registers its kernels now
        failed = [f for f in REGISTRY.failures if f.name == f"{device_type}-plugin"]
        assert not failed, failed[0].detail
        _REGISTERED[device_type] = backend
    return backend


def forget_resolution(device_type, *op_names):
    """Drop cached kernel choices for ``device_type`` (after changing EMBER_* variables)."""
    for name in op_names or OPS:
        OPS[name].resolved.pop(device_type, None)
