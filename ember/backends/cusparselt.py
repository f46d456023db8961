"""``ember.backends.cusparselt``: PyTorch's ``torch.backends.cusparselt``.

ember has no semi-structured sparse kernels (cuSPARSELt), so it is never available.
"""
from __future__ import annotations

__all__ = ["version", "is_available", "get_max_alg_id"]


def is_available() -> bool:
    """Whether cuSPARSELt kernels can be used.

    Returns:
        False: no ember backend uses cuSPARSELt.
    """
    return False


def version() -> int | None:
    """cuSPARSELt's version.

    Returns:
        None: it is not available.
    """
    return None


def get_max_alg_id() -> int | None:
    """The largest cuSPARSELt algorithm id.

    Returns:
        None: it is not available.
    """
    return None
