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

__all__ = ["is_available", "is_built", "unavailable_reason"]


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
