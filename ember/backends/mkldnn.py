"""``ember.backends.mkldnn``: PyTorch's ``torch.backends.mkldnn`` (oneDNN).

ember's CPU kernels are numpy's, not oneDNN's, so ``is_available()`` and ``is_acl_available()``
are False; ``enabled``, ``deterministic``, ``allow_tf32`` and ``fp32_precision`` keep what the
user sets (under ``ember.backends.disable_global_flags()`` only inside ``flags()``) and select
nothing. ``verbose(VERBOSE_ON)`` raises, as PyTorch does where oneDNN cannot log.
"""
from __future__ import annotations

import sys

from ember.backends import _flags

__all__ = ["is_available", "is_acl_available", "enabled", "deterministic", "allow_tf32", "fp32_precision",
           "VERBOSE_OFF", "VERBOSE_ON", "VERBOSE_ON_CREATION", "verbose", "flags", "set_flags"]

VERBOSE_OFF = 0
VERBOSE_ON = 1
VERBOSE_ON_CREATION = 2

enabled = True
deterministic = False
allow_tf32 = True
fp32_precision = "none"
_FLAG_NAMES = ("enabled", "deterministic", "allow_tf32", "fp32_precision")


def is_available() -> bool:
    """Whether oneDNN (MKL-DNN) kernels can be used.

    Returns:
        False: no ember backend uses oneDNN.
    """
    return False


def is_acl_available() -> bool:
    """Whether oneDNN was built with Arm's Compute Library.

    Returns:
        False: oneDNN is not available.
    """
    return False


class verbose:
    """Context manager turning oneDNN's verbose log on inside the block.

    Args:
        level: ``VERBOSE_OFF``, ``VERBOSE_ON`` or ``VERBOSE_ON_CREATION``.
    """

    def __init__(self, level):
        self.level = level

    def __enter__(self):
        if self.level == VERBOSE_OFF:
            return self
        assert is_available(), ("Failed to set MKLDNN into verbose mode. Please consider to disable this verbose "
                                "scope.")
        return self

    def __exit__(self, *exc):
        return False


def set_flags(_enabled=None, _deterministic=None, _allow_tf32=None, _fp32_precision="none") -> tuple:
    """Set oneDNN's flags (None: keep).

    Returns:
        The previous ``(enabled, deterministic, allow_tf32, fp32_precision)``.
    """
    return _flags.set_module_flags(sys.modules[__name__], _FLAG_NAMES,
                                   (_enabled, _deterministic, _allow_tf32, _fp32_precision))


def flags(enabled=False, deterministic=False, allow_tf32=True, fp32_precision="none"):
    """Context manager setting oneDNN's flags inside the block.

    Returns:
        A context manager.
    """
    return _flags.module_flags(sys.modules[__name__], _FLAG_NAMES,
                               (enabled, deterministic, allow_tf32, fp32_precision))


sys.modules[__name__].__class__ = _flags.FlagModule
