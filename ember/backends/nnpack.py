"""``ember.backends.nnpack``: PyTorch's ``torch.backends.nnpack``.

ember has no NNPACK kernels, so ``is_available()`` is False; ``enabled`` is kept and selects nothing.
"""
from __future__ import annotations

import sys

from ember.backends import _flags

__all__ = ["is_available", "flags", "set_flags"]

enabled = True
_FLAG_NAMES = ("enabled",)


def is_available() -> bool:
    """Whether NNPACK kernels can be used.

    Returns:
        False: ember's CPU kernels are numpy's.
    """
    return False


def set_flags(_enabled) -> tuple:
    """Set NNPACK's flag.

    Args:
        _enabled: the new ``enabled``.

    Returns:
        The previous value, as a tuple.
    """
    return _flags.set_module_flags(sys.modules[__name__], _FLAG_NAMES, (_enabled,))


def flags(enabled=False):
    """Context manager setting NNPACK's flag inside the block.

    Args:
        enabled: ``enabled`` inside the block.

    Returns:
        A context manager.
    """
    return _flags.module_flags(sys.modules[__name__], _FLAG_NAMES, (enabled,))


sys.modules[__name__].__class__ = _flags.FlagModule
