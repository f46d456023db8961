"""``ember.cuda.profiler`` (``torch.cuda.profiler``): start and stop the CUDA profiler's collection
(``cudaProfilerStart`` / ``cudaProfilerStop``), for tools run with collection off at launch."""
from __future__ import annotations

import contextlib

from ember.cuda import _common

__all__ = ["start", "stop", "profile"]


def start() -> None:
    """Start the profiler's collection on the GPU."""
    _common.cupy().cuda.profiler.start()


def stop() -> None:
    """Stop the profiler's collection on the GPU."""
    _common.cupy().cuda.profiler.stop()


@contextlib.contextmanager
def profile():
    """Context manager collecting profiler data around the block."""
    try:
        start()
        yield
    finally:
        stop()
