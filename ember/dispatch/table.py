"""(op, dispatch key) -> kernel resolution, the CPU fallback and its accounting.

Resolution happens once per (op, device type) and is cached on the op, so the hot
path is a dictionary lookup. When a backend lacks a primitive's kernel, the CPU
fallback (copy in, run on CPU, copy out) runs if the backend allows it, with a
one-time warning, counted per (op, device); ``EMBER_STRICT=1`` makes that an error.
``EMBER_FORCE_CPU_OPS=op1,op2`` sends chosen ops through the fallback on purpose.
"""
from __future__ import annotations

import atexit
import os
import warnings

from ember.dispatch.ops import COMPOSITE, OPS, OpDef
from ember.dispatch.registry import REGISTRY


class FallbackWarning(UserWarning):
    """An op ran on the CPU because its device has no kernel for it."""


class FallbackStats:
    __slots__ = ("calls", "bytes_copied")

    def __init__(self):
        self.calls = 0
        self.bytes_copied = 0


_FALLBACKS: dict[tuple[str, str], FallbackStats] = {}


def _strict() -> bool:
    return os.environ.get("EMBER_STRICT", "") not in ("", "0")


def _forced_cpu_ops() -> set:
    return {s.strip() for s in os.environ.get("EMBER_FORCE_CPU_OPS", "").split(",") if s.strip()}


def DECOMPOSE(*args, **attrs):
    """What ``resolve`` gives for a composite the device does not override: run its decomposition
    (``OpDef.decomposition``, on Tensors) instead of a kernel. Calling it is a bug in the caller."""
    raise RuntimeError("a composite without a fused kernel was called as a kernel; run its decomposition "
                       "(ember.ops.reduction.run_composite)")


def resolve(op: OpDef, device_type: str):
    """The kernel that runs ``op`` on ``device_type`` (cached); ``DECOMPOSE`` for a composite the
    device does not override."""
    kernel = op.resolved.get(device_type)
    if kernel is None:
        kernel = op.resolved[device_type] = _resolve_uncached(op, device_type)
    return kernel


def _resolve_uncached(op: OpDef, device_type: str):
    backend = REGISTRY.available_backend(device_type)
    forced = device_type != "cpu" and op.name in _forced_cpu_ops()
    kernel = op.kernels.get(backend.dispatch_key)
    if kernel is not None and not forced:
        return kernel
    if op.kind == COMPOSITE and not forced:
        return DECOMPOSE
    cpu_kernel = op.kernels.get(REGISTRY.backend("cpu").dispatch_key)
    can_fall_back = (device_type != "cpu" and cpu_kernel is not None and not op.view
                     and (backend.allow_cpu_fallback or forced))
    if op.kind == COMPOSITE and (cpu_kernel is None or not can_fall_back):
        return DECOMPOSE  # forced to the CPU, but the CPU runs the decomposition too
    if can_fall_back and (forced or not _strict()):
        return _make_fallback(op, backend, cpu_kernel, warn=not forced)
    plugin = REGISTRY.plugin_of.get(device_type, "?")
    why = ("EMBER_STRICT=1 forbids the CPU fallback" if can_fall_back and _strict()
           else "view ops cannot fall back to the CPU" if op.view and device_type != "cpu"
           else f"the backend does not allow a CPU fallback" if device_type != "cpu"
           else "no kernel is registered")
    raise NotImplementedError(
        f"op '{op.name}' has no kernel for device '{device_type}' "
        f"(backend plugin '{plugin}' {backend.version}, key {backend.dispatch_key}); {why}")


def _make_fallback(op, backend, cpu_kernel, warn):
    stats = _FALLBACKS.setdefault((op.name, backend.device_type), FallbackStats())
    warned = [not warn]
    to_numpy, from_numpy = backend.to_numpy, backend.from_numpy

    def fallback(*args, **attrs):
        if not warned[0]:
            warned[0] = True
            warnings.warn(f"op '{op.name}' has no kernel on '{backend.device_type}' and runs on the CPU "
                          f"(copying its inputs and outputs); see ember.dispatch.fallback_report()",
                          FallbackWarning, stacklevel=4)
        if "index" in attrs:
            index = attrs["index"]
        else:
            index = next((backend.index_of(a) for a in args if hasattr(a, "shape")), None)
        copied = 0
        host = []
        for a in args:
            if hasattr(a, "shape") and not isinstance(a, (int, float, bool)):
                h = to_numpy(a)
                copied += h.nbytes
                host.append(h)
            else:
                host.append(a)
        if "index" in attrs:
            attrs["index"] = None
        out = cpu_kernel(*host, **attrs)
        if op.inplace:
            # the CPU kernel wrote into a host copy: hand the new value back to the caller
            out = from_numpy(out, index)
            copied += out.nbytes
            if backend.aliasing_views and op.name != "copy_":
                # write it into the destination array itself, so that the views aliasing
                # it see the change (a new array would leave them stale)
                native_copy = OPS["copy_"].kernels.get(backend.dispatch_key)
                if native_copy is not None:
                    out = native_copy(args[0], out)
        elif isinstance(out, tuple):
            out = tuple(from_numpy(o, index) for o in out)
            copied += sum(o.nbytes for o in out)
        else:
            out = from_numpy(out, index)
            copied += getattr(out, "nbytes", 0)
        stats.calls += 1
        stats.bytes_copied += copied
        return out

    fallback.is_cpu_fallback = True
    return fallback


def fallback_report() -> dict:
    """{(op, device type): {"calls": n, "bytes_copied": n}} for every op that fell back."""
    return {key: {"calls": s.calls, "bytes_copied": s.bytes_copied}
            for key, s in _FALLBACKS.items() if s.calls}


def reset_fallback_report() -> None:
    for s in _FALLBACKS.values():
        s.calls = s.bytes_copied = 0


def format_fallback_report() -> str:
    report = fallback_report()
    if not report:
        return "ember: no op fell back to the CPU"
    lines = ["ember: ops that fell back to the CPU", f"  {'op':24} {'device':10} {'calls':>8} {'bytes copied':>14}"]
    for (name, device), s in sorted(report.items()):
        lines.append(f"  {name:24} {device:10} {s['calls']:>8} {s['bytes_copied']:>14}")
    return "\n".join(lines)


def coverage(device_type: str) -> dict | None:
    """{op name: 'native' | 'composite' | 'fallback' | 'missing'} for a backend, available or not.

    An available backend answers from the dispatch table; an unavailable one from the
    kernel names its plugin declares (``ember_kernel_names``). None when it declares none.
    """
    backend = REGISTRY.backend(device_type)
    names = REGISTRY.kernel_names(device_type)
    if names is None:
        return None
    cpu_names = REGISTRY.kernel_names("cpu")
    result = {}
    for name, op in OPS.items():
        if name in names:
            result[name] = "native"
        elif op.kind == COMPOSITE:
            result[name] = "composite"
        elif device_type != "cpu" and backend.allow_cpu_fallback and not op.view and name in cpu_names:
            result[name] = "fallback"
        else:
            result[name] = "missing"
    return result


if os.environ.get("EMBER_FALLBACK_REPORT", "") not in ("", "0"):
    atexit.register(lambda: print(format_fallback_report()))
