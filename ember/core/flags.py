"""Process-wide switches of PyTorch's top-level namespace that the core and the ops read.

``ember.set_default_device`` (thread-local, as PyTorch's: the device factory functions use when
given none), ``ember.set_warn_always`` (one-time warnings become every-time warnings) and
``ember.set_float32_matmul_precision``. They live in the core so that the transfer helpers and
the op layer can read them; the public functions are re-exported by ``ember``.
"""
from __future__ import annotations

import warnings

from ember.core import device as _device_module

__all__ = ["get_default_device", "set_default_device", "set_warn_always", "is_warn_always_enabled",
           "get_float32_matmul_precision", "set_float32_matmul_precision", "warn_once"]

_STATE = {"warn_always": False, "matmul_precision": "highest"}
_WARNED: set = set()


def default_device_or_none():
    """The device set by ``set_default_device`` (or a ``with ember.device(...)`` block) in this
    thread, or None when factories use the CPU."""
    return getattr(_device_module.DEFAULT, "device", None)


def get_default_device():
    """The device that factory functions (``zeros``, ``tensor``, ``randn``...) use when given none.

    Returns:
        An ``ember.device``: the CPU unless ``set_default_device`` or a device block chose another;
        for an accelerator type without an index, the index of its current device.
    """
    from ember.core.device import device
    chosen = default_device_or_none()
    if chosen is None:
        return device("cpu")
    if chosen.type != "cpu" and chosen.index is None:
        from ember.dispatch.registry import REGISTRY
        backend = REGISTRY.backend(chosen.type)
        index = backend.canonical_index(None)
        return device(chosen.type, 0 if index is None else index)
    return chosen


def set_default_device(device) -> None:
    """Set the device that factory functions use when no ``device`` is given (in this thread).

    Args:
        device: a device, a device string, an int (a CUDA index) or None (back to the CPU).

    Raises:
        RuntimeError: if ``device`` names an unknown device type.
    """
    from ember.core.device import device as Device
    if device is None:
        _device_module.DEFAULT.device = None
        return
    chosen = Device(device) if not isinstance(device, Device) else device
    _device_module.DEFAULT.device = None if (chosen.type == "cpu" and chosen.index in (None, 0)) else chosen


def set_warn_always(b: bool) -> None:
    """Make warnings that PyTorch gives once per process (casting complex to real ...) be given
    every time, or only once again.

    Args:
        b: True to warn every time.
    """
    _STATE["warn_always"] = bool(b)


def is_warn_always_enabled() -> bool:
    """Whether one-time warnings are given every time (``set_warn_always``).

    Returns:
        The flag (default False).
    """
    return _STATE["warn_always"]


def warn_once(key: str, message: str, category=UserWarning, stacklevel: int = 2) -> None:
    """Warn ``message`` the first time ``key`` is seen in this process, or every time under
    ``set_warn_always(True)``."""
    if key in _WARNED and not _STATE["warn_always"]:
        return
    _WARNED.add(key)
    warnings.warn(message, category, stacklevel=stacklevel + 1)


_PRECISIONS = ("highest", "high", "medium")


def get_float32_matmul_precision() -> str:
    """The precision float32 matrix products may use: ``"highest"`` (full float32), ``"high"``
    (TensorFloat32 or bfloat16x3 allowed) or ``"medium"`` (bfloat16 allowed).

    Returns:
        The current setting (default ``"highest"``); ``ember.backends.cuda.matmul.allow_tf32``
        reads True for anything but ``"highest"``.
    """
    return _STATE["matmul_precision"]


def set_float32_matmul_precision(precision: str) -> None:
    """Set the precision float32 matrix products may use (see ``get_float32_matmul_precision``).

    ember's kernels (numpy, CuPy's cuBLAS calls without TF32 math mode, OpenCL, MLX) compute
    float32 products in full precision at every setting, which the setting permits: it is a
    lower bound on what a backend may trade away.

    Args:
        precision: ``"highest"``, ``"high"`` or ``"medium"``; another value is ignored with a
            warning, as in PyTorch.
    """
    if precision not in _PRECISIONS:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      f"setFloat32MatmulPrecision call has no effect.", UserWarning, stacklevel=2)
        return
    _STATE["matmul_precision"] = precision

