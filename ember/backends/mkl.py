"""``ember.backends.mkl``: PyTorch's ``torch.backends.mkl`` — Intel's MKL, when numpy's BLAS is MKL."""
from __future__ import annotations

__all__ = ["is_available", "VERBOSE_OFF", "VERBOSE_ON", "verbose"]

VERBOSE_OFF = 0
VERBOSE_ON = 1


def is_available() -> bool:
    """Whether numpy (ember's CPU kernels) runs its BLAS on MKL.

    Returns:
        A bool.
    """
    import numpy as np
    try:
        blas = np.__config__.CONFIG["Build Dependencies"]["blas"]["name"]
    except (AttributeError, KeyError, TypeError):
        return False
    return "mkl" in str(blas).lower()


class verbose:
    """Context manager turning MKL's verbose log on inside the block (through mkl-service).

    Args:
        enable: ``VERBOSE_ON`` or ``VERBOSE_OFF``.
    """

    def __init__(self, enable):
        self.enable = enable

    def __enter__(self):
        if self.enable == VERBOSE_OFF:
            return self
        assert _set_verbose(self.enable), ("Failed to set MKL into verbose mode. Please consider to disable this "
                                           "verbose scope.")
        return self

    def __exit__(self, *exc):
        if self.enable != VERBOSE_OFF:
            _set_verbose(VERBOSE_OFF)
        return False


def _set_verbose(level) -> bool:
    if not is_available():
        return False
    try:
        import mkl
    except ImportError:
        return False
    mkl.verbose(int(level))
    return True
