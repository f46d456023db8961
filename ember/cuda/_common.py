"""What every part of ``ember.cuda`` asks first: the cuda Backend, CuPy, and device indices.

Nothing here imports CuPy until a question needs the GPU.
"""
from __future__ import annotations

from ember.core.device import device as _Device


def backend():
    """The cuda Backend, available or not (None when no plugin provides 'cuda')."""
    from ember.dispatch.registry import REGISTRY
    try:
        return REGISTRY.backend("cuda")
    except RuntimeError:
        return None


def usable():
    """The available cuda Backend; a RuntimeError saying why not otherwise."""
    from ember.dispatch.registry import REGISTRY
    return REGISTRY.available_backend("cuda")


def available() -> bool:
    found = backend()
    return found is not None and found.is_available()


def cupy():
    """The cupy module of a usable GPU; a RuntimeError saying why not otherwise."""
    return usable().cupy


def index(device=None, optional=True) -> int:
    """The GPU index ``device`` names (an int, a device, a string; None: the current GPU)."""
    if device is None:
        return int(cupy().cuda.runtime.getDevice())
    if isinstance(device, int) and not isinstance(device, bool):
        return device
    d = _Device(device)
    if d.type not in ("cuda", "rocm"):
        raise ValueError(f"Expected a cuda device, but got: {d}")
    return int(cupy().cuda.runtime.getDevice()) if d.index is None else d.index
