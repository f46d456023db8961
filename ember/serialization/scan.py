"""Looking inside a checkpoint without unpickling it."""
from __future__ import annotations

import pickletools

from ember.serialization.checkpoint import _open_for_reading
from ember.serialization.unpickler import _ALLOWED, _PY2_MODULES, _USER_ALLOWED
from ember.serialization.zipformat import ArchiveReader

_STRING_OPCODES = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING",
                   "SHORT_BINSTRING"}


def globals_in_pickle(data: bytes) -> list[str]:
    """Every ``module.name`` the pickle refers to (GLOBAL / STACK_GLOBAL), in order, once each."""
    found, strings = [], []
    for opcode, arg, _ in pickletools.genops(data):
        if opcode.name == "GLOBAL":
            module, name = arg.split(" ", 1)
            found.append(f"{_PY2_MODULES.get(module, module)}.{name}")
        elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
            found.append(f"{strings[-2]}.{strings[-1]}")
        if opcode.name in _STRING_OPCODES:
            strings.append(arg)
    return list(dict.fromkeys(found))


def get_unsafe_globals_in_checkpoint(f) -> list[str]:
    """The globals a checkpoint needs that ``weights_only=True`` would refuse (nothing is run)."""
    file, owned = _open_for_reading(f)
    try:
        data = ArchiveReader(file).read("data.pkl")
    finally:
        if owned:
            file.close()
    return [g for g in globals_in_pickle(data) if g not in _ALLOWED and g not in _USER_ALLOWED]
