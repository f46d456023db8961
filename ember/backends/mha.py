"""``ember.backends.mha``: PyTorch's ``torch.backends.mha`` — the multi-head-attention fast path flag.

PyTorch's ``nn.MultiheadAttention`` and ``nn.TransformerEncoderLayer`` take a fused inference
kernel when this flag allows it. ember's modules have one path (attention written in ember
ops, the same numbers either way), so the flag is kept and reported and chooses nothing.
"""
from __future__ import annotations

__all__ = ["get_fastpath_enabled", "set_fastpath_enabled"]

_fastpath = [True]


def get_fastpath_enabled() -> bool:
    """Whether the fast path may be taken (default True).

    Returns:
        A bool.
    """
    return _fastpath[0]


def set_fastpath_enabled(value: bool) -> None:
    """Allow or forbid the fast path (see the module docstring: ember has none).

    Args:
        value: the flag.
    """
    _fastpath[0] = bool(value)
