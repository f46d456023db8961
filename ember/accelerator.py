"""``ember.accelerator``: PyTorch's ``torch.accelerator``, over ember's backend plugins.

ember's *accelerator* is the first available of the ``cuda``, ``rocm``, ``mps`` and
``opencl`` backends, else the first other available non-CPU backend a plugin provides (in
device-type order); with none, there is no accelerator and the device functions raise
``RuntimeError``, as PyTorch on a CPU-only machine. ``mps`` counts when MLX can run
(``EMBER_MPS_DEVICE=cpu`` makes it available anywhere), like PyTorch's ``mps`` on a Mac.
"""
from __future__ import annotations

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index", "current_device_idx",
           "set_device_index", "set_device_idx", "synchronize"]

_PREFERRED = ("cuda", "rocm", "mps", "opencl")
_NOT_ACCELERATORS = ("cpu", "meta")
_current_index = {}  # device type -> index chosen by set_device_index (backends without their own)


def _accelerator_type() -> str | None:
    from ember.dispatch.registry import REGISTRY
    REGISTRY.load()
    others = sorted(t for t in REGISTRY.backends if t not in _PREFERRED and t not in _NOT_ACCELERATORS)
    for device_type in (*_PREFERRED, *others):
        if device_type not in REGISTRY.backends:
            continue
        try:
            if REGISTRY.backend(device_type).is_available():
                return device_type
        except RuntimeError:  # a plugin whose probe fails is not available
            continue
    return None


def _require() -> str:
    device_type = _accelerator_type()
    if device_type is None:
        raise RuntimeError("Cannot access accelerator device when none is available.")
    return device_type


def is_available() -> bool:
    """Whether an accelerator (see the module docstring) is available.

    Returns:
        True when one is.
    """
    return _accelerator_type() is not None


def current_accelerator(check_available: bool = False):
    """The accelerator's device type, as a device without index.

    Args:
        check_available: kept for PyTorch's signature; an ember accelerator is always available.

    Returns:
        An ``ember.device`` such as ``device(type='mps')``, or None when there is no accelerator.
    """
    import ember
    device_type = _accelerator_type()
    return None if device_type is None else ember.device(device_type)


def device_count() -> int:
    """How many devices the accelerator has.

    Returns:
        The count, 0 when there is no accelerator.
    """
    device_type = _accelerator_type()
    if device_type is None:
        return 0
    from ember.dispatch.registry import REGISTRY
    return REGISTRY.backend(device_type).device_count()


def _index_of(device, device_type) -> int:
    import ember
    if isinstance(device, int) and not isinstance(device, bool):
        return device
    d = device if isinstance(device, ember.device) else ember.device(device)
    if d.type != device_type:
        raise ValueError(f"{d.type} doesn't match the current accelerator {device_type}.")
    return current_device_index() if d.index is None else d.index


def current_device_index() -> int:
    """The index of the accelerator's current device.

    Returns:
        The index (0 unless ``set_device_index`` chose another).

    Raises:
        RuntimeError: when there is no accelerator.
    """
    device_type = _require()
    if device_type in ("cuda", "rocm"):
        import ember
        return ember.cuda.current_device()
    return _current_index.get(device_type, 0)


def set_device_index(device, /) -> None:
    """Make ``device`` the accelerator's current device.

    Args:
        device: an index, or an accelerator device / device string; a negative index does nothing.

    Raises:
        RuntimeError: when there is no accelerator.
        ValueError: for another device type, or an index beyond ``device_count()``.
    """
    device_type = _require()
    index = _index_of(device, device_type)
    if index < 0:
        return
    if index >= device_count():
        raise ValueError(f"device index {index} is out of range for the {device_type} accelerator, which has "
                         f"{device_count()} device(s)")
    if device_type in ("cuda", "rocm"):
        import ember
        ember.cuda.set_device(index)
    else:
        _current_index[device_type] = index


def synchronize(device=None, /) -> None:
    """Wait for all queued work on an accelerator device.

    Args:
        device: the device (index, device or string); None means the current one.

    Raises:
        RuntimeError: when there is no accelerator.
    """
    device_type = _require()
    index = current_device_index() if device is None else _index_of(device, device_type)
    from ember.dispatch.registry import REGISTRY
    REGISTRY.backend(device_type).synchronize(index)


# PyTorch's older spellings
current_device_idx = current_device_index
set_device_idx = set_device_index


def get_device_module(device=None):
    """The ``ember.<type>`` module for a device type (``ember.cuda``, ``ember.mps``, ``ember.cpu``).

    Args:
        device: a device, device string or None (the accelerator's module, else ``ember.cpu``).

    Returns:
        The module.

    Raises:
        RuntimeError: for a device string ember does not know, or a type with no module.
    """
    import importlib

    import ember
    if device is None:
        device_type = _accelerator_type() or "cpu"
    elif isinstance(device, ember.device):
        device_type = device.type
    elif isinstance(device, str):
        device_type = ember.device(device).type
    else:
        raise RuntimeError(f"Invalid value of device '{device}', expect torch.device, str, or None")
    name = "cuda" if device_type == "rocm" else device_type  # ROCm is driven through ember.cuda
    try:
        module = importlib.import_module(f"ember.{name}")
    except ImportError:
        module = None
    if module is None or name in ("dispatch", "core", "ops", "plugins"):
        raise RuntimeError(f"Device '{device_type}' does not have a corresponding module registered as "
                           f"'ember.{name}'.")
    return module
