"""The guards of a compiled function as ``GuardFilterEntry`` records, for ``guard_filter_fn``.

ember's guard key (see ``eval_frame``) has one part per input leaf plus the global state
(grad mode, active mode keys, autocast) and, for a module, its submodules' ``training``
flags and its parameters' ``requires_grad``; each part is one entry here, and a part the
filter drops is no longer compared when a graph is chosen.
"""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class GuardSource:
    """Where a guarded value comes from (what the stock guard filters ask about)."""
    name: str
    nn_module: bool = False
    builtin_nn_module: bool = False

    def is_unspecialized_nn_module(self) -> bool:
        """Whether the value is state of an ``nn.Module``."""
        return self.nn_module

    def is_unspecialized_builtin_nn_module(self) -> bool:
        """Whether the value is state of ember's own ``nn`` modules only."""
        return self.builtin_nn_module


@dataclasses.dataclass(frozen=True)
class Guard:
    """One guard of a compiled function: its source and kind."""
    source: GuardSource
    guard_type: str


@dataclasses.dataclass(frozen=True)
class GuardFilterEntry:
    """What ``guard_filter_fn`` sees of one guard (PyTorch's fields)."""
    name: str
    has_value: bool
    value: object
    guard_type: str
    derived_guard_types: tuple
    is_global: bool
    orig_guard: Guard


def _entry(name, value, guard_type, is_global, nn_module=False, builtin=False, has_value=True):
    source = GuardSource(name, nn_module, builtin)
    return GuardFilterEntry(name, has_value, value, guard_type, (guard_type,), is_global, Guard(source, guard_type))


def guard_entries(key, leaves, names, root) -> list:
    """One ``GuardFilterEntry`` per part of the guard ``key`` (in order)."""
    from ember.core.tensor import Tensor
    entries = [_entry("L['args'] structure", key[0], "TYPE_MATCH", False),
               _entry("G['grad_mode']", key[1], "GLOBAL_STATE", True),
               _entry("G['dispatch_modes']", key[2], "GLOBAL_STATE", True)]
    n = 0
    i = 3
    for leaf in leaves:
        if isinstance(leaf, Tensor):
            name = names[n] if names and n < len(names) else f"arg{n}"
            entries.append(_entry(f"L['{name}']", leaf, "TENSOR_MATCH", False))
            n += 1
            i += 1
            if i < len(key) and isinstance(key[i], tuple) and key[i][:1] == ("static",):
                entries.append(_entry(f"L['{name}'].size()", key[i][1], "SHAPE_ENV", False))
                i += 1
        else:
            entries.append(_entry(f"L[{i - 3}]", leaf, "CONSTANT_MATCH", False))
            i += 1
    while i < len(key) - (2 if root is not None else 0):
        entries.append(_entry("G['autocast']", key[i], "GLOBAL_STATE", True))
        i += 1
    if root is not None:
        builtin = all(type(m).__module__.startswith("ember.") for m in root.modules())
        entries.append(_entry("L['self'].training", key[i], "ID_MATCH", False, nn_module=True, builtin=builtin))
        params = list(root.parameters())
        entries.append(_entry("L['self'].parameters()", params[0] if params else None, "TENSOR_MATCH", False,
                              nn_module=True, builtin=builtin, has_value=bool(params)))
    return entries
