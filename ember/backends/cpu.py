"""``ember.backends.cpu``: PyTorch's ``torch.backends.cpu``."""
from __future__ import annotations

__all__ = ["get_cpu_capability"]


def get_cpu_capability() -> str:
    """The widest SIMD instruction set the CPU kernels (numpy's) use.

    Returns:
        ``"AVX512"``, ``"AVX2"``, ``"VSX"``, ``"ZVECTOR"``, ``"SVE256"`` or ``"DEFAULT"``, PyTorch's names.
    """
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as features
    for flag, name in (("AVX512_SKX", "AVX512"), ("AVX2", "AVX2"), ("VSX", "VSX"), ("VX", "ZVECTOR"),
                       ("SVE", "SVE256")):
        if features.get(flag):
            return name
    return "DEFAULT"
