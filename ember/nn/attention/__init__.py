"""``ember.nn.attention``: PyTorch's ``torch.nn.attention`` — choosing scaled-dot-product-attention backends.

ember has one attention implementation, the math path of
``ember.nn.functional.scaled_dot_product_attention``, on every device. As PyTorch on CPU
(whose fused kernel is the FLASH one), a call runs while ``MATH`` or ``FLASH_ATTENTION`` is
enabled and raises ``RuntimeError`` ("No viable backend ...") when only
``EFFICIENT_ATTENTION``, ``CUDNN_ATTENTION`` or ``OVERRIDEABLE`` are.
"""
from __future__ import annotations

import contextlib
import enum

from ember.backends import cuda as _cuda

__all__ = ["SDPBackend", "sdpa_kernel", "WARN_FOR_UNFUSED_KERNELS"]

WARN_FOR_UNFUSED_KERNELS = False


class SDPBackend(enum.IntEnum):
    """The scaled-dot-product-attention backends, with PyTorch's values."""
    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4

    def __repr__(self):
        return f"<SDPBackend.{self.name}: {self.value}>"


_FLAG_OF = {SDPBackend.MATH: "math", SDPBackend.FLASH_ATTENTION: "flash",
            SDPBackend.EFFICIENT_ATTENTION: "mem_efficient", SDPBackend.CUDNN_ATTENTION: "cudnn",
            SDPBackend.OVERRIDEABLE: "overrideable"}
_priority = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH,
             SDPBackend.CUDNN_ATTENTION, SDPBackend.OVERRIDEABLE]


def _check_runnable() -> None:
    """Raise when every backend ember's math path can stand for is disabled (PyTorch's CPU rule)."""
    if not (_cuda.math_sdp_enabled() or _cuda.flash_sdp_enabled()):
        raise RuntimeError("No viable backend for scaled_dot_product_attention was found. This is likely due "
                           "to turning off both the math kernel and the fused kernels.")


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority: bool = False):
    """Context manager enabling only ``backends`` for scaled dot-product attention inside the block.

    Args:
        backends: an ``SDPBackend`` or a list of them.
        set_priority: if True, the list's order becomes the order backends are tried in (ember has
            one implementation, so the order changes no result).

    Returns:
        A context manager restoring the previous flags on exit.

    Raises:
        AssertionError: if ``backends`` is not an ``SDPBackend`` or a list of them.
    """
    assert isinstance(backends, (list, SDPBackend)), (
        f"Backend must be an instance of SDPBackend or a list of SDPBackend instances, got "
        f"{type(backends).__name__}")
    chosen = [backends] if isinstance(backends, SDPBackend) else list(backends)
    assert all(isinstance(b, SDPBackend) for b in chosen), (
        "Backend must be an instance of SDPBackend or a list of SDPBackend instances")
    global _priority
    saved, saved_priority = dict(_cuda._SDP), list(_priority)
    for backend, flag in _FLAG_OF.items():
        _cuda._SDP[flag] = backend in chosen
    if set_priority:
        _priority = chosen + [b for b in _priority if b not in chosen]
    try:
        yield
    finally:
        _cuda._SDP.clear()
        _cuda._SDP.update(saved)
        _priority = saved_priority
