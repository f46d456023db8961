"""``ember.backends.python_native``: PyTorch's ``torch.backends.python_native`` — switches for the
operator overrides that kernel DSLs (Triton, CuTe DSL) register.

ember registers no DSL overrides: its kernels are each backend's own (numpy, CuPy, OpenCL C,
MLX). So ``all_dsls`` and ``available_dsls`` are empty and ``get_dsl_operations`` lists nothing;
the operation and dispatch-key switches are kept and reported (``is_operation_disabled``) and,
with no override registered, change no kernel.
"""
from __future__ import annotations

import contextlib

from ember.backends import _flags

__all__ = ["DSLController", "all_dsls", "available_dsls", "get_dsl_operations", "disable_operations",
           "enable_operations", "disable_dispatch_keys", "enable_dispatch_keys", "operations_disabled",
           "is_operation_disabled", "is_dsl_disabled"]

_DISABLED = {"dsls": set(), "operations": set(), "dispatch_keys": set()}
_DSLS: dict = {}  # name -> (available, version, operations); none in ember


def _check(name: str) -> None:
    if name not in _DSLS:
        raise ValueError(f"Unknown DSL: {name}. Available DSLs: {sorted(_DSLS)}")


class DSLController:
    """The switch of one DSL's overrides: ``enabled``, ``disable()``, ``enable()``, ``disabled()``.

    Args:
        dsl_name: the DSL's name.
    """

    def __init__(self, dsl_name: str):
        self._dsl_name = dsl_name

    @property
    def name(self) -> str:
        """The DSL's name."""
        return self._dsl_name

    @property
    def available(self) -> bool:
        """Whether the DSL's runtime is installed and registered."""
        return bool(_DSLS.get(self._dsl_name, (False,))[0])

    @property
    def version(self):
        """The DSL's version (None when not registered)."""
        found = _DSLS.get(self._dsl_name)
        return None if found is None else found[1]

    @property
    def enabled(self) -> bool:
        """Whether the DSL's overrides are on."""
        return self._dsl_name not in _DISABLED["dsls"]

    @enabled.setter
    def enabled(self, value: bool) -> None:
        if _flags.frozen():
            raise RuntimeError(f"not allowed to set {self._dsl_name} DSL flags after disable_global_flags; please "
                               f"use flags() context manager instead")
        self.enable() if value else self.disable()

    def disable(self) -> None:
        """Turn the DSL's overrides off.

        Raises:
            ValueError: for a DSL that is not registered.
        """
        _check(self._dsl_name)
        _DISABLED["dsls"].add(self._dsl_name)

    def enable(self) -> None:
        """Turn the DSL's overrides back on."""
        _DISABLED["dsls"].discard(self._dsl_name)

    @contextlib.contextmanager
    def disabled(self):
        """Context manager: the DSL's overrides are off inside the block."""
        before = self.enabled
        try:
            self.disable()
            yield
        finally:
            if before:
                self.enable()

    def __repr__(self):
        return (f"DSLController({self._dsl_name}, {'available' if self.available else 'unavailable'}, "
                f"{'enabled' if self.enabled else 'disabled'})")


def get_dsl_operations(dsl_name: str) -> list[str]:
    """The operations a DSL overrides.

    Args:
        dsl_name: the DSL.

    Returns:
        A sorted list (empty: ember registers none).
    """
    return sorted(_DSLS.get(dsl_name, (False, None, ()))[2])


def disable_operations(*op_symbols: str) -> None:
    """Turn off every DSL's override of the named operations.

    Args:
        op_symbols: operation names.
    """
    _DISABLED["operations"].update(op_symbols)


def enable_operations(*op_symbols: str) -> None:
    """Turn the overrides of the named operations back on.

    Args:
        op_symbols: operation names.
    """
    _DISABLED["operations"].difference_update(op_symbols)


def disable_dispatch_keys(*dispatch_keys: str) -> None:
    """Turn off the DSL overrides registered for the named dispatch keys.

    Args:
        dispatch_keys: keys such as ``"CUDA"``.
    """
    _DISABLED["dispatch_keys"].update(dispatch_keys)


def enable_dispatch_keys(*dispatch_keys: str) -> None:
    """Turn the DSL overrides of the named dispatch keys back on.

    Args:
        dispatch_keys: keys such as ``"CUDA"``.
    """
    _DISABLED["dispatch_keys"].difference_update(dispatch_keys)


@contextlib.contextmanager
def operations_disabled(*op_symbols: str):
    """Context manager: the named operations' overrides are off inside the block.

    Args:
        op_symbols: operation names.
    """
    already = {op for op in op_symbols if op in _DISABLED["operations"]}
    disable_operations(*op_symbols)
    try:
        yield
    finally:
        enable_operations(*(op for op in op_symbols if op not in already))


def is_operation_disabled(op_symbol: str) -> bool:
    """Whether the operation's overrides are off.

    Args:
        op_symbol: an operation name.

    Returns:
        A bool.
    """
    return op_symbol in _DISABLED["operations"]


def is_dsl_disabled(dsl_name: str) -> bool:
    """Whether a DSL's overrides are off.

    Args:
        dsl_name: the DSL.

    Returns:
        A bool.
    """
    return dsl_name in _DISABLED["dsls"]


def __getattr__(name):
    if name == "all_dsls":  # the DSLs registered, installed or not: none in ember
        return sorted(_DSLS)
    if name == "available_dsls":
        return sorted(n for n, (available, *_rest) in _DSLS.items() if available)
    if name in _DSLS:
        return DSLController(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
