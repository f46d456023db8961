"""Padding layers over ``F.pad``: zero, constant, reflection, replication and circular."""
from __future__ import annotations

from ember.nn import functional as F
from ember.nn.functional.sampling import _ntuple
from ember.nn.modules.module import Module

__all__ = ["ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
           "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d"]


class _PadNd(Module):
    _nd = 0
    _mode = "constant"

    def __init__(self, padding, value=0.0):
        super().__init__()
        # an int pads every side; a tuple is F.pad's (last_left, last_right, ...)
        self.padding = _ntuple(padding, 2 * self._nd, "padding")
        self.value = value

    def forward(self, input):
        if self._mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}" if self._mode == "constant" else f"{self.padding}"


def _constant(nd):
    class ConstantPad(_PadNd):
        _nd = nd

        def __init__(self, padding, value):
            super().__init__(padding, value)
    return ConstantPad


def _zero(nd):
    class ZeroPad(_PadNd):
        _nd = nd

        def __init__(self, padding):
            super().__init__(padding, 0.0)

        def extra_repr(self) -> str:
            return f"{self.padding}"
    return ZeroPad


def _moded(nd, mode):
    class Pad(_PadNd):
        _nd = nd
        _mode = mode

        def __init__(self, padding):
            super().__init__(padding)
    return Pad


def _named(cls, name):
    cls.__name__ = cls.__qualname__ = name
    return cls


ConstantPad1d, ConstantPad2d, ConstantPad3d = (_named(_constant(n), f"ConstantPad{n}d") for n in (1, 2, 3))
ZeroPad1d, ZeroPad2d, ZeroPad3d = (_named(_zero(n), f"ZeroPad{n}d") for n in (1, 2, 3))
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = (_named(_moded(n, "reflect"), f"ReflectionPad{n}d")
                                                     for n in (1, 2, 3))
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = (_named(_moded(n, "replicate"), f"ReplicationPad{n}d")
                                                        for n in (1, 2, 3))
CircularPad1d, CircularPad2d, CircularPad3d = (_named(_moded(n, "circular"), f"CircularPad{n}d") for n in (1, 2, 3))
