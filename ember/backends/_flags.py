"""The mechanics shared by ``ember.backends``' flag modules: PyTorch's global-flag freeze.

After ``ember.backends.disable_global_flags()``, assigning a flag attribute of a backend
module (``ember.backends.cudnn.enabled = False``) or calling its ``set_flags`` raises; the
``flags()`` context managers still work, as in PyTorch.
"""
from __future__ import annotations

import contextlib
import types

_STATE = {"allow_mutation": True, "inside_flags": 0}


def frozen() -> bool:
    """Whether global flag changes outside ``flags()`` blocks are forbidden."""
    return not _STATE["allow_mutation"]


def check_mutation(module_name: str) -> None:
    """Raise when a flag of ``module_name`` may not be set now."""
    if frozen() and not _STATE["inside_flags"]:
        raise RuntimeError(f"not allowed to set {module_name.replace('ember.', 'torch.')} flags after "
                           f"disable_global_flags; please use flags() context manager instead")


@contextlib.contextmanager
def mutation_allowed():
    """Inside a ``flags()`` block: flags may change even when frozen."""
    _STATE["inside_flags"] += 1
    try:
        yield
    finally:
        _STATE["inside_flags"] -= 1


class FlagModule(types.ModuleType):
    """A module whose names in ``_FLAG_NAMES`` are flags: assigning one obeys the freeze."""

    def __setattr__(self, name, value):
        if name in self.__dict__.get("_FLAG_NAMES", ()):
            check_mutation(self.__name__)
        super().__setattr__(name, value)


def set_module_flags(module, names, values) -> tuple:
    """Set ``module``'s flags ``names`` to ``values`` (None: keep) and return the previous values."""
    check_mutation(module.__name__)
    before = tuple(getattr(module, n) for n in names)
    with mutation_allowed():
        for n, v in zip(names, values):
            if v is not None:
                setattr(module, n, v)
    return before


@contextlib.contextmanager
def module_flags(module, names, values):
    """Context manager: ``module``'s flags set to ``values`` inside the block, restored after."""
    with mutation_allowed():
        before = set_module_flags(module, names, values)
    try:
        yield
    finally:
        with mutation_allowed():
            for n, v in zip(names, before):
                setattr(module, n, v)
