"""PyTorch's deterministic-algorithms switches: ``ember.use_deterministic_algorithms`` and friends.

The state is global and keeps what the user sets. ember's CPU, OpenCL and MLX kernels are
deterministic already (no atomics-based reductions), so enabling the mode changes no result
there, as PyTorch's CPU ops; the state is for code that queries it.
"""
from __future__ import annotations

__all__ = ["use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled", "set_deterministic_debug_mode",
           "get_deterministic_debug_mode"]

_state = {"enabled": False, "warn_only": False}


def _check_bool(value, name):
    if not isinstance(value, bool):
        where = " (position 1)" if name == "mode" else ""
        raise TypeError(f"use_deterministic_algorithms(): argument '{name}'{where} must be bool, not "
                        f"{type(value).__name__}")


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Turn the deterministic-algorithms mode on or off.

    Args:
        mode: True to ask for deterministic algorithms.
        warn_only: with ``mode``, warn instead of raising for an op without a deterministic form.

    Raises:
        TypeError: if ``mode`` or ``warn_only`` is not a bool.
    """
    _check_bool(mode, "mode")
    _check_bool(warn_only, "warn_only")
    _state["enabled"] = mode
    _state["warn_only"] = warn_only


def are_deterministic_algorithms_enabled() -> bool:
    """Whether the deterministic-algorithms mode is on.

    Returns:
        The flag set by ``use_deterministic_algorithms``.
    """
    return _state["enabled"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """Whether the deterministic mode only warns.

    Returns:
        The ``warn_only`` flag set by ``use_deterministic_algorithms``.
    """
    return _state["warn_only"]


def set_deterministic_debug_mode(debug_mode: str | int) -> None:
    """Set the deterministic mode by level: 0/``"default"`` off, 1/``"warn"`` warn, 2/``"error"`` raise.

    Args:
        debug_mode: the level, as an int or its name.

    Raises:
        TypeError: if ``debug_mode`` is neither str nor int.
        RuntimeError: for an unknown level.
    """
    if isinstance(debug_mode, str):
        names = {"default": 0, "warn": 1, "error": 2}
        if debug_mode not in names:
            raise RuntimeError("invalid value of debug_mode, expected one of `default`, `warn`, `error`, "
                               f"but got {debug_mode}")
        debug_mode = names[debug_mode]
    elif not isinstance(debug_mode, int):  # a bool is an int here, as in PyTorch
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode)}")
    if debug_mode == 0:
        use_deterministic_algorithms(False)
    elif debug_mode == 1:
        use_deterministic_algorithms(True, warn_only=True)
    elif debug_mode == 2:
        use_deterministic_algorithms(True)
    else:
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}")


def get_deterministic_debug_mode() -> int:
    """The deterministic mode as a level.

    Returns:
        0 when off, 1 when on and warn-only, 2 when on.
    """
    if not _state["enabled"]:
        return 0
    return 1 if _state["warn_only"] else 2
