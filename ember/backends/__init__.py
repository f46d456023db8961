"""``ember.backends``: PyTorch's ``torch.backends`` — questions about how ember was installed, and flags.

``ember.backends.mps.is_available()`` / ``is_built()`` answer for the ``mps`` device;
``cuda``, ``cudnn``, ``cpu``, ``mkldnn``, ``mkl``, ``nnpack``, ``openmp``, ``opt_einsum`` and
the others hold PyTorch's flags and queries, answered for ember's kernels (numpy, CuPy,
OpenCL, MLX). ``fp32_precision`` is the global float32 precision flag ("none", "ieee" or
"tf32"): ember's kernels compute float32 in full precision at every setting, which each
setting permits. ``disable_global_flags()`` freezes the flags outside ``flags()`` blocks.
"""
import contextlib
import sys

from ember.backends import _flags
from ember.backends import (cpu, cuda, cudnn, cusparselt, kleidiai, mha, miopen, mkl, mkldnn, mps,  # noqa: F401
                            nnpack, openmp, opt_einsum, python_native, quantized)

__all__ = ["cpu", "cuda", "cudnn", "cusparselt", "kleidiai", "mha", "miopen", "mkl", "mkldnn", "mps", "nnpack",
           "openmp", "opt_einsum", "python_native", "quantized", "disable_global_flags", "flags_frozen", "flags", "set_flags",
           "fp32_precision"]

_FP32_PRECISIONS = ("none", "ieee", "tf32")
fp32_precision = "none"
_FLAG_NAMES = ("fp32_precision",)


def disable_global_flags() -> None:
    """Forbid setting backend flags outside their ``flags()`` context managers from now on."""
    _flags._STATE["allow_mutation"] = False


def flags_frozen() -> bool:
    """Whether ``disable_global_flags()`` was called.

    Returns:
        A bool.
    """
    return _flags.frozen()


def set_flags(_fp32_precision="none") -> tuple:
    """Set the global float32 precision flag.

    Args:
        _fp32_precision: ``"none"``, ``"ieee"`` or ``"tf32"``.

    Returns:
        The previous values, as a tuple.
    """
    if _fp32_precision not in _FP32_PRECISIONS:
        raise RuntimeError(f"Invalid fp32_precision {_fp32_precision!r}; choose from {', '.join(_FP32_PRECISIONS)}")
    return _flags.set_module_flags(sys.modules[__name__], _FLAG_NAMES, (_fp32_precision,))


@contextlib.contextmanager
def flags(fp32_precision="none"):
    """Context manager setting the global float32 precision flag inside the block.

    Args:
        fp32_precision: the flag inside the block.
    """
    if fp32_precision not in _FP32_PRECISIONS:
        raise RuntimeError(f"Invalid fp32_precision {fp32_precision!r}; choose from {', '.join(_FP32_PRECISIONS)}")
    with _flags.module_flags(sys.modules[__name__], _FLAG_NAMES, (fp32_precision,)):
        yield


sys.modules[__name__].__class__ = _flags.FlagModule
