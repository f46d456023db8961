"""``ember.backends.openmp``: PyTorch's ``torch.backends.openmp``."""
from __future__ import annotations

__all__ = ["is_available"]


def is_available() -> bool:
    """Whether ember's CPU kernels run on OpenMP threads: when numpy's BLAS is an OpenMP build.

    Returns:
        A bool.
    """
    import numpy  # noqa: F401  (loads the BLAS library threadpoolctl inspects)
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return False
    return any(info.get("user_api") == "openmp" or info.get("threading_layer") == "openmp"
               for info in threadpool_info())
