"""``ember.backends.miopen``: PyTorch's ``torch.backends.miopen`` (AMD's MIOpen).

ember's ROCm device runs CuPy's kernels, not MIOpen's: ``immediate`` (MIOpen's immediate
mode) is kept and reported and selects nothing.
"""
from __future__ import annotations

import sys

from ember.backends import _flags

__all__ = ["immediate", "flags", "set_flags"]

immediate = False
_FLAG_NAMES = ("immediate",)


def set_flags(_immediate=None) -> tuple:
    """Set MIOpen's flags.

    Args:
        _immediate: the new ``immediate`` (None: keep).

    Returns:
        The previous values, as a tuple.
    """
    return _flags.set_module_flags(sys.modules[__name__], _FLAG_NAMES, (_immediate,))


def flags(immediate=False):
    """Context manager setting MIOpen's flags inside the block.

    Args:
        immediate: ``immediate`` inside the block.

    Returns:
        A context manager.
    """
    return _flags.module_flags(sys.modules[__name__], _FLAG_NAMES, (immediate,))


sys.modules[__name__].__class__ = _flags.FlagModule
