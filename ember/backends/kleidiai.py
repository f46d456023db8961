"""``ember.backends.kleidiai``: PyTorch's ``torch.backends.kleidiai`` (Arm's KleidiAI kernels)."""
from __future__ import annotations

__all__ = ["is_available"]


def is_available() -> bool:
    """Whether KleidiAI kernels can be used.

    Returns:
        False: ember's CPU kernels are numpy's.
    """
    return False
