"""``ember.cpu`` (``torch.cpu``): the CPU's answers to the device-module questions, and
``ember.cpu.amp``, the deprecated CPU forms of ``ember.amp``."""
from __future__ import annotations

from ember.cpu import amp  # noqa: F401

__all__ = ["is_available", "is_initialized", "synchronize", "current_device", "device_count", "set_device", "amp"]


def is_available() -> bool:
    """Whether the CPU device is there.

    Returns:
        True: it always is.
    """
    return True


def is_initialized() -> bool:
    """Whether the CPU device is initialised.

    Returns:
        True: it needs no initialisation.
    """
    return True


def synchronize(device=None) -> None:
    """Wait for the CPU's work to finish: CPU ops run to completion when called, so nothing to wait for.

    Args:
        device: ignored (there is one CPU device).
    """


def current_device() -> str:
    """The current CPU device.

    Returns:
        ``"cpu"``.
    """
    return "cpu"


def device_count() -> int:
    """The number of CPU devices.

    Returns:
        1.
    """
    return 1


def set_device(device) -> None:
    """Select the CPU device: there is only one, so this does nothing.

    Args:
        device: ignored.
    """
