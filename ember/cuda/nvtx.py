"""``ember.cuda.nvtx`` (``torch.cuda.nvtx``): NVTX annotations for NVIDIA's profilers (Nsight),
through CuPy's NVTX binding. Annotations need no GPU: without a profiler attached they cost little."""
from __future__ import annotations

import contextlib

__all__ = ["range_push", "range_pop", "range_start", "range_end", "mark", "range"]

_depth = [0]


def _nvtx():
    try:
        from cupy.cuda import nvtx
    except ImportError:
        nvtx = None
    if nvtx is None or not nvtx.available:
        raise RuntimeError("NVTX functions not installed: they come with CuPy (pip install ember[cuda]).")
    return nvtx


def range_push(msg: str) -> int:
    """Open a nested range named ``msg``.

    Args:
        msg: the range's name.

    Returns:
        The nesting depth of the new range (0 for the outermost).
    """
    _nvtx().RangePush(msg)
    _depth[0] += 1
    return _depth[0] - 1


def range_pop() -> int:
    """Close the innermost open range.

    Returns:
        The depth of the range closed, or -1 when none was open.
    """
    _nvtx().RangePop()
    if _depth[0] == 0:
        return -1
    _depth[0] -= 1
    return _depth[0]


def range_start(msg: str) -> int:
    """Start a range that may end on another thread.

    Args:
        msg: the range's name.

    Returns:
        The range's id, for ``range_end``.
    """
    return int(_nvtx().RangeStart(msg, 0xFF76B900))  # CuPy asks for an ARGB colour; any will do


def range_end(range_id: int) -> None:
    """End a range that ``range_start`` started.

    Args:
        range_id: its id.
    """
    _nvtx().RangeEnd(range_id)


def mark(msg: str) -> None:
    """Mark an instant named ``msg``.

    Args:
        msg: the marker's name.
    """
    _nvtx().Mark(msg)


@contextlib.contextmanager
def range(msg: str, *args, **kwargs):
    """Context manager: a range around the block, named ``msg.format(*args, **kwargs)``.

    Args:
        msg: the name, formatted with the other arguments.
    """
    range_push(msg.format(*args, **kwargs))
    try:
        yield
    finally:
        range_pop()
