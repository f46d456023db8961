"""``ember.backends.mkldnn``: PyTorch's ``torch.backends.mkldnn``.

ember's CPU kernels are numpy's, not oneDNN's, so ``is_available()`` is False; ``enabled``
is a plain attribute that keeps what the user sets.
"""
from __future__ import annotations

__all__ = ["is_available", "enabled"]

enabled = True


def is_available() -> bool:
    """Whether oneDNN (MKL-DNN) kernels can be used.

    Returns:
        False: no ember backend uses oneDNN.
    """
    return False
