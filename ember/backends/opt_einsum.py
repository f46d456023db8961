"""``ember.backends.opt_einsum``: PyTorch's ``torch.backends.opt_einsum``.

``is_available()`` says whether the ``opt_einsum`` package is installed. ``enabled`` and
``strategy`` keep what the user sets (with opt_einsum installed, ``strategy`` only accepts ``"auto"``,
``"greedy"`` or ``"optimal"``); ember's ``einsum`` contracts through numpy and does not consult them.
"""
from __future__ import annotations

import importlib.util
import sys
import types

__all__ = ["is_available", "get_opt_einsum", "enabled", "strategy", "flags", "set_flags"]

_STRATEGIES = ("auto", "greedy", "optimal")


def is_available() -> bool:
    """Whether the ``opt_einsum`` package is installed.

    Returns:
        True when it can be imported.
    """
    try:
        return importlib.util.find_spec("opt_einsum") is not None
    except (ImportError, ValueError):
        return False


def get_opt_einsum():
    """The ``opt_einsum`` module.

    Returns:
        The module, or None when it is not installed.
    """
    if not is_available():
        return None
    import opt_einsum
    return opt_einsum


def set_flags(_enabled=None, _strategy=None) -> tuple:
    """Set ``enabled`` and ``strategy`` (None: keep).

    Returns:
        The previous ``(enabled, strategy)``.
    """
    from ember.backends import _flags
    return _flags.set_module_flags(sys.modules[__name__], ("enabled", "strategy"), (_enabled, _strategy))


def flags(enabled=None, strategy=None):
    """Context manager setting ``enabled`` and ``strategy`` inside the block (None: keep).

    Returns:
        A context manager.
    """
    from ember.backends import _flags
    return _flags.module_flags(sys.modules[__name__], ("enabled", "strategy"), (enabled, strategy))


class _Module(types.ModuleType):
    """Checks assignments to ``strategy`` as PyTorch does."""

    def __setattr__(self, name, value):
        # As PyTorch: without opt_einsum the value is unused, so any is kept.
        if name == "strategy" and is_available() and value not in _STRATEGIES:
            raise ValueError(f"opt_einsum.strategy must be one of {_STRATEGIES}, but got {value!r}")
        if name in ("enabled", "strategy") and name in self.__dict__:
            from ember.backends import _flags
            _flags.check_mutation(self.__name__)
        super().__setattr__(name, value)


enabled = is_available()
strategy = "auto" if is_available() else None
sys.modules[__name__].__class__ = _Module
