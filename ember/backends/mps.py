"""``ember.backends.mps``: PyTorch's ``torch.backends.mps`` for ember's MLX-based ``mps`` device.

* ``is_built()``: the ``mps`` backend plugin and MLX, which it runs on, are installed
  (``pip install ember[mps]``). PyTorch's answer is about its build; ember's backends are
  plugins, so "built" means "installed".
* ``is_available()``: ``mps`` tensors can be made: Apple silicon with MLX's Metal backend,
  or any machine with ``EMBER_MPS_DEVICE=cpu`` (MLX's CPU device). False on Linux
  otherwise, as in PyTorch; ``unavailable_reason()`` says why.

Importing this module imports no MLX.
"""
from __future__ import annotations

import importlib.util

__all__ = ["is_available", "is_built", "unavailable_reason", "get_name", "get_core_count", "is_macos_or_newer",
           "is_macos13_or_newer"]


def _backend():
    """The ``mps`` Backend, available or not; None when no plugin provides ``mps``."""
    from ember.dispatch.registry import REGISTRY
    try:
        return REGISTRY.backend("mps")
    except RuntimeError:
        return None


def is_built() -> bool:
    """Whether a plugin provides the ``mps`` device and MLX is installed."""
    if _backend() is None:
        return False
    try:
        return importlib.util.find_spec("mlx.core") is not None
    except (ImportError, ValueError):
        return False


def is_available() -> bool:
    """Whether ``mps`` tensors can be made on this machine (see the module docstring)."""
    backend = _backend()
    return backend is not None and backend.is_available()


def unavailable_reason() -> str | None:
    """None when ``mps`` can be used, else why not (ember's addition)."""
    backend = _backend()
    if backend is None:
        from ember.dispatch.registry import REGISTRY
        if "mps" in REGISTRY.skipped:
            return "the mps plugin is not selected by EMBER_BACKENDS"
        failed = [str(f) for f in REGISTRY.failures if f.name == "mps"]
        return failed[0] if failed else "no ember backend plugin provides 'mps' (pip install ember[mps])"
    return backend.unavailable_reason()


def _require():
    backend = _backend()
    if backend is None or not backend.is_available():
        raise RuntimeError(f"mps is not available: {unavailable_reason()}")
    return backend


def get_name() -> str:
    """The name of the device ``mps`` runs on (MLX's device name: the Apple GPU, or the CPU with
    ``EMBER_MPS_DEVICE=cpu``).

    Returns:
        A string.

    Raises:
        RuntimeError: when ``mps`` is not available.
    """
    backend = _require()
    mx = backend._bind().mx
    info = mx.device_info() if hasattr(mx, "device_info") else mx.metal.device_info()
    return str(info.get("device_name") or info.get("architecture") or "")


def get_core_count() -> int:
    """The number of cores of the device ``mps`` runs on: the GPU's cores (as the system reports
    them) on a Mac, the CPU's cores with ``EMBER_MPS_DEVICE=cpu``.

    Returns:
        An int.

    Raises:
        RuntimeError: when ``mps`` is not available.
    """
    backend = _require()
    mx = backend._bind().mx
    info = mx.device_info() if hasattr(mx, "device_info") else mx.metal.device_info()
    cores = info.get("gpu_core_count") or info.get("core_count")
    if cores:
        return int(cores)
    if _is_mac() and not _on_cpu(mx):
        import subprocess
        out = subprocess.run(["system_profiler", "SPDisplaysDataType"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if "Total Number of Cores" in line:
                return int(line.split(":")[-1].strip())
    import os
    return os.cpu_count() or 1


def _is_mac() -> bool:
    import platform
    return platform.system() == "Darwin"


def _on_cpu(mx) -> bool:
    return mx.default_device() == mx.cpu


def is_macos_or_newer(major: int, minor: int) -> bool:
    """Whether the machine runs macOS ``major.minor`` or newer.

    Args:
        major: the major version.
        minor: the minor version.

    Returns:
        A bool (False off macOS).

    Raises:
        RuntimeError: when ``mps`` is not available.
    """
    _require()
    if not _is_mac():
        return False
    import platform
    parts = [int(p) for p in platform.mac_ver()[0].split(".")[:2] if p.isdigit()]
    found = (parts + [0, 0])[:2]
    return tuple(found) >= (major, minor)


def is_macos13_or_newer(minor: int = 0) -> bool:
    """Whether the machine runs macOS 13.``minor`` or newer.

    Args:
        minor: the minor version.

    Returns:
        A bool (False off macOS).
    """
    return is_macos_or_newer(13, minor)
