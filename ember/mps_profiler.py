"""``ember.mps.profiler`` (``torch.mps.profiler``): Metal captures of the ``mps`` device's work.

ember's ``mps`` device runs MLX. ``metal_capture(path)`` records a GPU trace (a
``.gputrace`` for Xcode) through MLX's Metal capture, which Metal allows when the process
starts with ``MTL_CAPTURE_ENABLED=1``. PyTorch's ``start``/``stop``/``profile`` emit OS signposts
for Instruments from its own Metal kernels, which MLX does not offer: they raise. Without a
Metal GPU (no Mac, or ``EMBER_MPS_DEVICE=cpu``) every call raises a RuntimeError, as PyTorch's do
without MPS.
"""
from __future__ import annotations

import contextlib
import os

__all__ = ["start", "stop", "profile", "is_metal_capture_enabled", "is_capturing_metal", "metal_capture"]

_capturing = [False]


def _metal():
    from ember.dispatch.registry import REGISTRY
    backend = REGISTRY.available_backend("mps")
    mx = backend._bind().mx
    try:
        on_metal = bool(mx.metal.is_available()) and mx.default_device() == mx.gpu
    except Exception:
        on_metal = False
    if not on_metal:
        raise RuntimeError("the mps profiler needs the Metal GPU: ember's mps device runs on MLX's CPU here")
    return mx


def start(mode: str = "interval", wait_until_completed: bool = False) -> None:
    """Start emitting OS signposts for the device's kernels (see the module docstring: MLX has none).

    Args:
        mode: ``"interval"``, ``"event"`` or both joined by a comma.
        wait_until_completed: wait for each kernel to finish.

    Raises:
        RuntimeError: always (without Metal), or NotImplementedError on Metal.
    """
    _metal()
    raise NotImplementedError("MLX, which runs ember's mps device, emits no OS signposts; use metal_capture()")


def stop() -> None:
    """Stop emitting OS signposts (see ``start``)."""
    _metal()
    raise NotImplementedError("MLX, which runs ember's mps device, emits no OS signposts; use metal_capture()")


@contextlib.contextmanager
def profile(mode: str = "interval", wait_until_completed: bool = False):
    """Context manager emitting OS signposts around the block (see ``start``)."""
    start(mode, wait_until_completed)
    try:
        yield
    finally:
        stop()


def is_metal_capture_enabled() -> bool:
    """Whether Metal captures may be taken: a Metal GPU and ``MTL_CAPTURE_ENABLED=1`` at start.

    Returns:
        A bool.
    """
    try:
        _metal()
    except RuntimeError:
        return False
    return os.environ.get("MTL_CAPTURE_ENABLED") == "1"


def is_capturing_metal() -> bool:
    """Whether a ``metal_capture`` block is running.

    Returns:
        A bool.
    """
    return _capturing[0]


@contextlib.contextmanager
def metal_capture(fname: str):
    """Context manager recording the block's GPU work into ``fname`` (a ``.gputrace`` for Xcode).

    Args:
        fname: the trace's path.
    """
    mx = _metal()
    path = fname if fname.endswith(".gputrace") else fname + ".gputrace"
    mx.metal.start_capture(path)
    _capturing[0] = True
    try:
        yield
    finally:
        mx.synchronize()
        mx.metal.stop_capture()
        _capturing[0] = False
