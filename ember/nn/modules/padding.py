"""Padding layers over ``F.pad``: zero, constant, reflection, replication and circular."""
from __future__ import annotations

from ember.nn import functional as F
from ember.ops.creation import ntuple as _ntuple
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
        """Pad ``input`` as configured.

        Args:
            input: the tensor to pad; its last dims are the ones padded.

        Returns:
            The padded tensor.
        """
        if self._mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        """Show ``padding`` (and ``value`` for constant padding)."""
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
            """Show ``padding``."""
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




# the classes above are made by factories: their docstrings are set here
ZeroPad1d.__doc__ = """Pads the last dimension of the input with zeros.

Negative amounts crop instead of padding.

Args:
    padding: the padding size: an int pads every side by the same amount; a tuple of
        2 ints gives ``(left, right)``.

Shape:
    input ``(*, W_in)``, output ``(*, W_out)``, where
    ``W_out = W_in + left + right``.
"""

ZeroPad2d.__doc__ = """Pads the last 2 dimensions of the input with zeros.

Negative amounts crop instead of padding.

Args:
    padding: the padding size: an int pads every side by the same amount; a tuple of
        4 ints gives ``(left, right, top, bottom)``, the last dim first.

Shape:
    input ``(*, H_in, W_in)``, output ``(*, H_out, W_out)``, where
    ``H_out = H_in + top + bottom``; ``W_out = W_in + left + right``.
"""

ZeroPad3d.__doc__ = """Pads the last 3 dimensions of the input with zeros.

Negative amounts crop instead of padding.

Args:
    padding: the padding size: an int pads every side by the same amount; a tuple of
        6 ints gives ``(left, right, top, bottom, front, back)``, the last dim first.

Shape:
    input ``(*, D_in, H_in, W_in)``, output ``(*, D_out, H_out, W_out)``, where
    ``D_out = D_in + front + back``; ``H_out = H_in + top + bottom``; ``W_out = W_in + left + right``.
"""

ConstantPad1d.__doc__ = """Pads the last dimension of the input with a constant ``value``.

Negative amounts crop instead of padding.

Args:
    padding: the padding size: an int pads every side by the same amount; a tuple of
        2 ints gives ``(left, right)``.
    value: the fill value.

Shape:
    input ``(*, W_in)``, output ``(*, W_out)``, where
    ``W_out = W_in + left + right``.
"""

ConstantPad2d.__doc__ = """Pads the last 2 dimensions of the input with a constant ``value``.

Negative amounts crop instead of padding.

Args:
    padding: the padding size: an int pads every side by the same amount; a tuple of
        4 ints gives ``(left, right, top, bottom)``, the last dim first.
    value: the fill value.

Shape:
    input ``(*, H_in, W_in)``, output ``(*, H_out, W_out)``, where
    ``H_out = H_in + top + bottom``; ``W_out = W_in + left + right``.
"""

ConstantPad3d.__doc__ = """Pads the last 3 dimensions of the input with a constant ``value``.

Negative amounts crop instead of padding.

Args:
    padding: the padding size: an int pads every side by the same amount; a tuple of
        6 ints gives ``(left, right, top, bottom, front, back)``, the last dim first.
    value: the fill value.

Shape:
    input ``(*, D_in, H_in, W_in)``, output ``(*, D_out, H_out, W_out)``, where
    ``D_out = D_in + front + back``; ``H_out = H_in + top + bottom``; ``W_out = W_in + left + right``.
"""

ReflectionPad1d.__doc__ = """Pads the last dimension of the input with its reflection at each border.

The border element itself is not repeated: ``[1, 2, 3]`` padded by 2 on the left gives
``[3, 2, 1, 2, 3]``. Each amount must be smaller than the size of its dim.

Args:
    padding: the padding size: an int pads every side by the same amount; a tuple of
        2 ints gives ``(left, right)``.

Shape:
    input ``(N, C, W_in)`` or ``(C, W_in)``,
    output ``(N, C, W_out)`` or ``(C, W_out)``, where
    ``W_out = W_in + left + right``.
"""

ReflectionPad2d.__doc__ = """Pads the last 2 dimensions of the input with its reflection at each border.

The border element itself is not repeated: ``[1, 2, 3]`` padded by 2 on the left gives
``[3, 2, 1, 2, 3]``. Each amount must be smaller than the size of its dim.

Args:
    padding: the padding size: an int pads every side by the same amount; a tuple of
        4 ints gives ``(left, right, top, bottom)``, the last dim first.

Shape:
    input ``(N, C, H_in, W_in)`` or ``(C, H_in, W_in)``,
    output ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``, where
    ``H_out = H_in + top + bottom``; ``W_out = W_in + left + right``.
"""

ReflectionPad3d.__doc__ = """Pads the last 3 dimensions of the input with its reflection at each border.

The border element itself is not repeated: ``[1, 2, 3]`` padded by 2 on the left gives
``[3, 2, 1, 2, 3]``. Each amount must be smaller than the size of its dim.

Args:
    padding: the padding size: an int pads every side by the same amount; a tuple of
        6 ints gives ``(left, right, top, bottom, front, back)``, the last dim first.

Shape:
    input ``(N, C, D_in, H_in, W_in)`` or ``(C, D_in, H_in, W_in)``,
    output ``(N, C, D_out, H_out, W_out)`` or ``(C, D_out, H_out, W_out)``, where
    ``D_out = D_in + front + back``; ``H_out = H_in + top + bottom``; ``W_out = W_in + left + right``.
"""

ReplicationPad1d.__doc__ = """Pads the last dimension of the input by repeating its border elements.

``[1, 2, 3]`` padded by 2 on the left gives ``[1, 1, 1, 2, 3]``.

Args:
    padding: the padding size: an int pads every side by the same amount; a tuple of
        2 ints gives ``(left, right)``.

Shape:
    input ``(N, C, W_in)`` or ``(C, W_in)``,
    output ``(N, C, W_out)`` or ``(C, W_out)``, where
    ``W_out = W_in + left + right``.
"""

ReplicationPad2d.__doc__ = """Pads the last 2 dimensions of the input by repeating its border elements.

``[1, 2, 3]`` padded by 2 on the left gives ``[1, 1, 1, 2, 3]``.

Args:
    padding: the padding size: an int pads every side by the same amount; a tuple of
        4 ints gives ``(left, right, top, bottom)``, the last dim first.

Shape:
    input ``(N, C, H_in, W_in)`` or ``(C, H_in, W_in)``,
    output ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``, where
    ``H_out = H_in + top + bottom``; ``W_out = W_in + left + right``.
"""

ReplicationPad3d.__doc__ = """Pads the last 3 dimensions of the input by repeating its border elements.

``[1, 2, 3]`` padded by 2 on the left gives ``[1, 1, 1, 2, 3]``.

Args:
    padding: the padding size: an int pads every side by the same amount; a tuple of
        6 ints gives ``(left, right, top, bottom, front, back)``, the last dim first.

Shape:
    input ``(N, C, D_in, H_in, W_in)`` or ``(C, D_in, H_in, W_in)``,
    output ``(N, C, D_out, H_out, W_out)`` or ``(C, D_out, H_out, W_out)``, where
    ``D_out = D_in + front + back``; ``H_out = H_in + top + bottom``; ``W_out = W_in + left + right``.
"""

CircularPad1d.__doc__ = """Pads the last dimension of the input by wrapping it around (periodic padding).

``[1, 2, 3]`` padded by 2 on the left gives ``[2, 3, 1, 2, 3]``. Each amount must be at most
the size of its dim.

Args:
    padding: the padding size: an int pads every side by the same amount; a tuple of
        2 ints gives ``(left, right)``.

Shape:
    input ``(N, C, W_in)`` or ``(C, W_in)``,
    output ``(N, C, W_out)`` or ``(C, W_out)``, where
    ``W_out = W_in + left + right``.
"""

CircularPad2d.__doc__ = """Pads the last 2 dimensions of the input by wrapping it around (periodic padding).

``[1, 2, 3]`` padded by 2 on the left gives ``[2, 3, 1, 2, 3]``. Each amount must be at most
the size of its dim.

Args:
    padding: the padding size: an int pads every side by the same amount; a tuple of
        4 ints gives ``(left, right, top, bottom)``, the last dim first.

Shape:
    input ``(N, C, H_in, W_in)`` or ``(C, H_in, W_in)``,
    output ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``, where
    ``H_out = H_in + top + bottom``; ``W_out = W_in + left + right``.
"""

CircularPad3d.__doc__ = """Pads the last 3 dimensions of the input by wrapping it around (periodic padding).

``[1, 2, 3]`` padded by 2 on the left gives ``[2, 3, 1, 2, 3]``. Each amount must be at most
the size of its dim.

Args:
    padding: the padding size: an int pads every side by the same amount; a tuple of
        6 ints gives ``(left, right, top, bottom, front, back)``, the last dim first.

Shape:
    input ``(N, C, D_in, H_in, W_in)`` or ``(C, D_in, H_in, W_in)``,
    output ``(N, C, D_out, H_out, W_out)`` or ``(C, D_out, H_out, W_out)``, where
    ``D_out = D_in + front + back``; ``H_out = H_in + top + bottom``; ``W_out = W_in + left + right``.
"""
