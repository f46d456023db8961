"""``ember.backends.cudnn``: PyTorch's ``torch.backends.cudnn`` flags.

ember's ``cuda`` backend runs on CuPy without cuDNN, so ``is_available()`` is False and
``version()`` is None, as on PyTorch's CPU build. ``enabled``, ``benchmark``,
``deterministic``, ``allow_tf32`` and ``benchmark_limit`` are attributes that keep what
the user sets (under ``ember.backends.disable_global_flags()`` only inside ``flags()``);
with no cuDNN they select nothing. ``rnn`` holds the RNN flag ``fp32_precision``.
"""
from __future__ import annotations

import sys
import types

from ember.backends import _flags
from ember.core import dtype as _dt

__all__ = ["flags", "set_flags", "rnn", "CUDNN_TENSOR_DTYPES", "enabled", "benchmark", "benchmark_limit",
           "deterministic", "allow_tf32", "is_available", "version", "is_acceptable"]

enabled = True
benchmark = False
benchmark_limit = 10
deterministic = False
allow_tf32 = True
fp32_precision = "none"
_FLAG_NAMES = ("enabled", "benchmark", "benchmark_limit", "deterministic", "allow_tf32", "fp32_precision")

CUDNN_TENSOR_DTYPES = {_dt.float16, _dt.float32, _dt.float64}  # the dtypes cuDNN's kernels take

rnn = types.ModuleType(__name__ + ".rnn", "cuDNN's RNN flags: ``fp32_precision`` (kept; no cuDNN here).")
rnn.fp32_precision = "tf32"
sys.modules.setdefault(rnn.__name__, rnn)


def set_flags(_enabled=None, _benchmark=None, _benchmark_limit=None, _deterministic=None, _allow_tf32=None,
              _fp32_precision="none") -> tuple:
    """Set cuDNN's flags (None: keep).

    Returns:
        The previous ``(enabled, benchmark, benchmark_limit, deterministic, allow_tf32, fp32_precision)``.
    """
    return _flags.set_module_flags(sys.modules[__name__], _FLAG_NAMES, (
        _enabled, _benchmark, _benchmark_limit, _deterministic, _allow_tf32, _fp32_precision))


def is_available() -> bool:
    """Whether cuDNN can be used.

    Returns:
        False: no ember backend links cuDNN.
    """
    return False


def version() -> int | None:
    """The cuDNN version.

    Returns:
        None, since cuDNN is not available.
    """
    return None


def is_acceptable(tensor) -> bool:
    """Whether cuDNN would handle ``tensor``.

    Args:
        tensor: an ember tensor.

    Returns:
        False: cuDNN is not available.
    """
    return False


def flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False, allow_tf32=True,
          fp32_precision="none"):
    """Context manager setting the cuDNN flags inside the block and restoring them after.

    Args:
        enabled: value of ``enabled`` inside the block.
        benchmark: value of ``benchmark`` inside the block.
        benchmark_limit: value of ``benchmark_limit`` inside the block.
        deterministic: value of ``deterministic`` inside the block.
        allow_tf32: value of ``allow_tf32`` inside the block.
        fp32_precision: value of ``fp32_precision`` inside the block.

    Returns:
        A context manager (yielding None).
    """
    return _flags.module_flags(sys.modules[__name__], _FLAG_NAMES, (
        enabled, benchmark, benchmark_limit, deterministic, allow_tf32, fp32_precision))


sys.modules[__name__].__class__ = _flags.FlagModule
