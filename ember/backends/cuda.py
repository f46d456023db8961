"""``ember.backends.cuda``: PyTorch's ``torch.backends.cuda`` flags for ember's CuPy ``cuda`` device.

The flags keep what the user sets. ``matmul.allow_tf32`` and the reduced-precision flags steer
cuBLAS in PyTorch; ember's CuPy kernels always compute float32 matmuls in full precision, so
(like PyTorch on a CPU-only machine) they have no numerical effect. The scaled-dot-product
attention switches do have one: ``ember.nn.functional.scaled_dot_product_attention`` refuses
to run when every backend its one (math) path can stand for is disabled, as PyTorch on CPU.
"""
from __future__ import annotations

import contextlib
import enum
import importlib.util
import warnings

__all__ = [
    "matmul", "is_built", "sdp_kernel", "flash_sdp_enabled", "enable_flash_sdp", "mem_efficient_sdp_enabled",
    "enable_mem_efficient_sdp", "math_sdp_enabled", "enable_math_sdp", "cudnn_sdp_enabled", "enable_cudnn_sdp",
    "preferred_linalg_library",
]


class _MatmulFlags:
    """``ember.backends.cuda.matmul``: cuBLAS precision flags (attribute access only)."""

    _defaults = {"allow_tf32": False, "allow_fp16_reduced_precision_reduction": True,
                 "allow_bf16_reduced_precision_reduction": True}

    def __init__(self):
        object.__setattr__(self, "_values", dict(self._defaults))

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"Unknown attribute {name}") from None

    def __setattr__(self, name, value):
        if name not in self._values:
            raise AttributeError(f"Unknown attribute {name}")
        self._values[name] = bool(value)


matmul = _MatmulFlags()

# The enabled scaled-dot-product-attention backends (PyTorch's defaults: all on).
_SDP = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True, "overrideable": True}


def is_built() -> bool:
    """Whether a plugin provides the ``cuda`` device and CuPy is installed.

    Returns:
        True when ember can run on CUDA given a GPU (PyTorch: "built with CUDA").
    """
    from ember.dispatch.registry import REGISTRY
    try:
        REGISTRY.backend("cuda")
    except RuntimeError:
        return False
    try:
        return importlib.util.find_spec("cupy") is not None
    except (ImportError, ValueError):
        return False


def flash_sdp_enabled() -> bool:
    """Whether the flash scaled-dot-product-attention backend is enabled.

    Returns:
        The flag (default True).
    """
    return _SDP["flash"]


def enable_flash_sdp(enabled: bool) -> None:
    """Enable or disable the flash scaled-dot-product-attention backend.

    Args:
        enabled: the new flag.
    """
    _SDP["flash"] = bool(enabled)


def mem_efficient_sdp_enabled() -> bool:
    """Whether the memory-efficient scaled-dot-product-attention backend is enabled.

    Returns:
        The flag (default True).
    """
    return _SDP["mem_efficient"]


def enable_mem_efficient_sdp(enabled: bool) -> None:
    """Enable or disable the memory-efficient scaled-dot-product-attention backend.

    Args:
        enabled: the new flag.
    """
    _SDP["mem_efficient"] = bool(enabled)


def math_sdp_enabled() -> bool:
    """Whether the math (reference) scaled-dot-product-attention backend is enabled.

    Returns:
        The flag (default True).
    """
    return _SDP["math"]


def enable_math_sdp(enabled: bool) -> None:
    """Enable or disable the math scaled-dot-product-attention backend.

    Args:
        enabled: the new flag.
    """
    _SDP["math"] = bool(enabled)


def cudnn_sdp_enabled() -> bool:
    """Whether the cuDNN scaled-dot-product-attention backend is enabled.

    Returns:
        The flag (default True).
    """
    return _SDP["cudnn"]


def enable_cudnn_sdp(enabled: bool) -> None:
    """Enable or disable the cuDNN scaled-dot-product-attention backend.

    Args:
        enabled: the new flag.
    """
    _SDP["cudnn"] = bool(enabled)


@contextlib.contextmanager
def sdp_kernel(enable_flash: bool = True, enable_math: bool = True, enable_mem_efficient: bool = True,
               enable_cudnn: bool = True):
    """Deprecated context manager setting the attention backends; use ``ember.nn.attention.sdpa_kernel``.

    Args:
        enable_flash: enable the flash backend inside the block.
        enable_math: enable the math backend inside the block.
        enable_mem_efficient: enable the memory-efficient backend inside the block.
        enable_cudnn: enable the cuDNN backend inside the block.

    Returns:
        A context manager restoring the previous flags on exit.
    """
    warnings.warn("`ember.backends.cuda.sdp_kernel()` is deprecated. In the future, this context manager will "
                  "be removed. Please see `ember.nn.attention.sdpa_kernel()` for the new context manager, with "
                  "updated signature.", FutureWarning, stacklevel=3)
    saved = dict(_SDP)
    _SDP.update(flash=bool(enable_flash), math=bool(enable_math), mem_efficient=bool(enable_mem_efficient),
                cudnn=bool(enable_cudnn))
    try:
        yield
    finally:
        _SDP.update(saved)


class _LinalgBackend(enum.Enum):
    """The linear-algebra library preference (PyTorch's ``torch._C._LinalgBackend``)."""
    Default = 0
    Cusolver = 1
    Magma = 2

    def __repr__(self):
        return f"_LinalgBackend.{self.name}"

    __str__ = __repr__


_linalg_backend = _LinalgBackend.Default


def preferred_linalg_library(backend: None | str | _LinalgBackend = None) -> _LinalgBackend:
    """Get, or set, the preferred CUDA linear-algebra library (ember's CuPy path uses cuSOLVER).

    Args:
        backend: ``None`` to only query, else ``"default"``, ``"cusolver"``, ``"magma"`` or a
            ``_LinalgBackend``.

    Returns:
        The preference now in force.

    Raises:
        RuntimeError: for an unknown name; TypeError for another type.
    """
    global _linalg_backend
    if backend is None:
        pass
    elif isinstance(backend, str):
        names = {"default": _LinalgBackend.Default, "cusolver": _LinalgBackend.Cusolver,
                 "magma": _LinalgBackend.Magma}
        if backend.lower() not in names:
            raise RuntimeError("Unknown input value. Choose from: default, cusolver, magma.")
        _linalg_backend = names[backend.lower()]
    elif isinstance(backend, _LinalgBackend):
        _linalg_backend = backend
    else:
        raise RuntimeError("Unknown input value type.")
    return _linalg_backend
