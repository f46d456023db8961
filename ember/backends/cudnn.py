"""``ember.backends.cudnn``: PyTorch's ``torch.backends.cudnn`` flags.

ember's ``cuda`` backend runs on CuPy without cuDNN, so ``is_available()`` is False and
``version()`` is None, as on PyTorch's CPU build. ``enabled``, ``benchmark``,
``deterministic``, ``allow_tf32`` and ``benchmark_limit`` are plain attributes that keep what
the user sets; with no cuDNN they select nothing.
"""
from __future__ import annotations

import contextlib
import sys

__all__ = ["flags", "enabled", "benchmark", "benchmark_limit", "deterministic", "allow_tf32", "is_available",
           "version", "is_acceptable"]

enabled = True
benchmark = False
benchmark_limit = 10
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """Whether cuDNN can be used.

    Returns:
        False: no ember backend links cuDNN.
    """
    return False


def version() -> int | None:
    """The cuDNN version.

    Returns:
        None, since cuDNN is not available.
    """
    return None


def is_acceptable(tensor) -> bool:
    """Whether cuDNN would handle ``tensor``.

    Args:
        tensor: an ember tensor.

    Returns:
        False: cuDNN is not available.
    """
    return False


@contextlib.contextmanager
def flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False, allow_tf32=True):
    """Context manager setting the cuDNN flags inside the block and restoring them after.

    Args:
        enabled: value of ``enabled`` inside the block.
        benchmark: value of ``benchmark`` inside the block.
        benchmark_limit: value of ``benchmark_limit`` inside the block.
        deterministic: value of ``deterministic`` inside the block.
        allow_tf32: value of ``allow_tf32`` inside the block.

    Returns:
        A context manager (yielding None).
    """
    module = sys.modules[__name__]
    names = ("enabled", "benchmark", "benchmark_limit", "deterministic", "allow_tf32")
    saved = {n: getattr(module, n) for n in names}
    for n, v in zip(names, (enabled, benchmark, benchmark_limit, deterministic, allow_tf32)):
        setattr(module, n, v)
    try:
        yield
    finally:
        for n, v in saved.items():
            setattr(module, n, v)
