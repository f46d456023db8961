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
    "preferred_linalg_library", "SDPAParams", "can_use_flash_attention", "can_use_efficient_attention",
    "can_use_cudnn_attention", "is_flash_attention_available", "is_ck_sdpa_available",
    "allow_fp16_bf16_reduction_math_sdp", "fp16_bf16_reduction_math_sdp_allowed", "preferred_blas_library",
    "preferred_rocm_fa_library", "cufft_plan_cache", "cuFFTPlanCache", "cuFFTPlanCacheManager",
    "blas_workspace_size", "cublas_workspace_size", "cublaslt_workspace_size",
]


class _MatmulFlags:
    """``ember.backends.cuda.matmul``: cuBLAS precision flags (attribute access only)."""

    _defaults = {"allow_tf32": False, "allow_fp16_reduced_precision_reduction": True,
                 "allow_bf16_reduced_precision_reduction": True}

    def __init__(self):
        object.__setattr__(self, "_values", dict(self._defaults))

    def __getattr__(self, name):
        if name == "allow_tf32":  # one setting with ember.get_float32_matmul_precision, as in PyTorch
            from ember.core.flags import get_float32_matmul_precision
            return get_float32_matmul_precision() != "highest"
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"Unknown attribute {name}") from None

    def __setattr__(self, name, value):
        if name not in self._values:
            raise AttributeError(f"Unknown attribute {name}")
        if name == "allow_tf32":
            from ember.core.flags import set_float32_matmul_precision
            set_float32_matmul_precision("high" if value else "highest")
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


# ---------------------------------------------------------------- scaled-dot-product attention queries
_reduced_math_sdp = [False]


def allow_fp16_bf16_reduction_math_sdp(enabled: bool) -> None:
    """Let the math attention path compute float16/bfloat16 inputs in their own precision.

    Off (the default), ``ember.nn.functional.scaled_dot_product_attention`` computes half-precision
    inputs in float32 and rounds the result once, as PyTorch's math path does.

    Args:
        enabled: the flag.
    """
    _reduced_math_sdp[0] = bool(enabled)


def fp16_bf16_reduction_math_sdp_allowed() -> bool:
    """Whether the math attention path may compute float16/bfloat16 in their own precision.

    Returns:
        The flag (default False).
    """
    return _reduced_math_sdp[0]


class SDPAParams:
    """The inputs of a scaled-dot-product-attention call, for the ``can_use_*`` questions.

    Args:
        query: the queries.
        key: the keys.
        value: the values.
        attn_mask: the mask or None.
        dropout: the dropout probability.
        is_causal: whether the attention is causal.
        enable_gqa: whether grouped-query attention is allowed.
    """

    def __init__(self, query, key, value, attn_mask, dropout, is_causal, enable_gqa=False):
        self.query, self.key, self.value, self.attn_mask = query, key, value, attn_mask
        self.dropout, self.is_causal, self.enable_gqa = float(dropout), bool(is_causal), bool(enable_gqa)


def _fused(params, debug, name):
    if not isinstance(params, SDPAParams):
        raise TypeError(f"expected SDPAParams, got {type(params).__name__}")
    if debug:
        warnings.warn(f"{name} attention is not available: ember's attention has only the math path", UserWarning,
                      stacklevel=3)
    return False


def can_use_flash_attention(params: SDPAParams, debug: bool = False) -> bool:
    """Whether the flash attention kernel could run these inputs.

    Args:
        params: the inputs.
        debug: warn with the reason when not.

    Returns:
        False: ember has no flash attention kernel.
    """
    return _fused(params, debug, "Flash")


def can_use_efficient_attention(params: SDPAParams, debug: bool = False) -> bool:
    """Whether the memory-efficient attention kernel could run these inputs.

    Args:
        params: the inputs.
        debug: warn with the reason when not.

    Returns:
        False: ember has no memory-efficient attention kernel.
    """
    return _fused(params, debug, "Memory-efficient")


def can_use_cudnn_attention(params: SDPAParams, debug: bool = False) -> bool:
    """Whether cuDNN's attention kernel could run these inputs.

    Args:
        params: the inputs.
        debug: warn with the reason when not.

    Returns:
        False: ember does not use cuDNN.
    """
    return _fused(params, debug, "cuDNN")


def is_flash_attention_available() -> bool:
    """Whether a flash attention kernel is installed.

    Returns:
        False.
    """
    return False


def is_ck_sdpa_available() -> bool:
    """Whether ROCm's Composable Kernel attention is installed.

    Returns:
        False.
    """
    return False


# ---------------------------------------------------------------- library preferences
class _BlasBackend(enum.Enum):
    """The BLAS library preference (PyTorch's ``torch._C._BlasBackend``)."""
    Default = 0
    Cublas = 1
    Cublaslt = 2
    Ck = 3

    def __repr__(self):
        return f"<_BlasBackend.{self.name}: {self.value}>"


_blas_backend = [_BlasBackend.Cublas]


def preferred_blas_library(backend: None | str | _BlasBackend = None) -> _BlasBackend:
    """Get, or set, the preferred GPU BLAS library: ember's CuPy path calls cuBLAS, the only choice.

    Args:
        backend: None to query; ``"cublas"``/``"hipblas"``/``"default"`` (or a ``_BlasBackend``).

    Returns:
        The preference now in force.

    Raises:
        RuntimeError: for an unknown name, or cuBLASLt / CK, which ember's kernels do not call.
    """
    names = {"default": _BlasBackend.Cublas, "cublas": _BlasBackend.Cublas, "hipblas": _BlasBackend.Cublas,
             "cublaslt": _BlasBackend.Cublaslt, "hipblaslt": _BlasBackend.Cublaslt, "ck": _BlasBackend.Ck}
    if backend is None:
        return _blas_backend[0]
    if isinstance(backend, str):
        if backend.lower() not in names:
            raise RuntimeError("Unknown input value. Choose from: default, cublas, hipblas, cublaslt, hipblaslt, ck.")
        backend = names[backend.lower()]
    elif not isinstance(backend, _BlasBackend):
        raise RuntimeError("Unknown input value type.")
    if backend is _BlasBackend.Default:
        backend = _BlasBackend.Cublas
    if backend is not _BlasBackend.Cublas:
        raise RuntimeError(f"Cannot set preferred backend to {backend.name}: ember's GPU matrix products are "
                           f"CuPy's cuBLAS calls")
    _blas_backend[0] = backend
    return backend


class _ROCmFABackend(enum.Enum):
    """The ROCm flash-attention library preference (PyTorch's ``torch._C._ROCmFABackend``)."""
    Default = 0
    AOTriton = 1
    Ck = 2

    def __repr__(self):
        return f"<_ROCmFABackend.{self.name}: {self.value}>"


_rocm_fa = [_ROCmFABackend.Default]


def preferred_rocm_fa_library(backend: None | str | _ROCmFABackend = None) -> _ROCmFABackend:
    """Get, or set, the preferred ROCm flash-attention library. ember's attention is its math path on
    every device, so the preference is kept and chooses nothing.

    Args:
        backend: None to query; ``"default"``, ``"aotriton"`` or ``"ck"`` (or a ``_ROCmFABackend``).

    Returns:
        The preference now in force.
    """
    names = {"default": _ROCmFABackend.Default, "aotriton": _ROCmFABackend.AOTriton, "ck": _ROCmFABackend.Ck}
    if backend is None:
        return _rocm_fa[0]
    if isinstance(backend, str):
        if backend.lower() not in names:
            raise RuntimeError("Unknown input value. Choose from: default, aotriton, ck.")
        backend = names[backend.lower()]
    elif not isinstance(backend, _ROCmFABackend):
        raise RuntimeError("Unknown input value type.")
    _rocm_fa[0] = backend
    return backend


# ---------------------------------------------------------------- cuFFT plan cache (CuPy's)
def _cupy_plan_cache(device_index):
    from ember.dispatch.registry import REGISTRY
    cp = REGISTRY.available_backend("cuda").cupy
    with cp.cuda.Device(device_index):
        return cp.fft.config.get_plan_cache()


class cuFFTPlanCache:
    """The cuFFT plan cache of one GPU (CuPy's): ``size`` plans held, ``max_size`` the capacity, ``clear()``.

    Args:
        device_index: the GPU.
    """

    def __init__(self, device_index):
        self.device_index = device_index

    @property
    def size(self) -> int:
        """How many plans the cache holds."""
        return int(_cupy_plan_cache(self.device_index).get_curr_size())

    @property
    def max_size(self) -> int:
        """How many plans the cache may hold."""
        return int(_cupy_plan_cache(self.device_index).get_size())

    @max_size.setter
    def max_size(self, value) -> None:
        if value < 0:
            raise RuntimeError(f"cuFFT plan cache size must be non-negative, got {value}")
        _cupy_plan_cache(self.device_index).set_size(int(value))

    def clear(self) -> None:
        """Drop every cached plan."""
        _cupy_plan_cache(self.device_index).clear()


class cuFFTPlanCacheManager:
    """``cufft_plan_cache[i]`` is GPU i's ``cuFFTPlanCache``; its own ``size``/``max_size``/``clear``
    answer for the current GPU."""

    def __init__(self):
        self._caches: dict = {}

    def __getitem__(self, device):
        from ember.cuda._common import index
        from ember.cuda import device_count
        i = index(device) if not isinstance(device, int) else device
        count = device_count()
        if i < 0 or i >= count:
            raise RuntimeError(f"cufft_plan_cache: expected 0 <= device index < {count}, but got device with index "
                               f"{i}")
        return self._caches.setdefault(i, cuFFTPlanCache(i))

    def _current(self):
        from ember.cuda import current_device
        return self[current_device()]

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._current(), name)

    def __setattr__(self, name, value):
        if name == "_caches":
            object.__setattr__(self, name, value)
        else:
            setattr(self._current(), name, value)


cufft_plan_cache = cuFFTPlanCacheManager()


# ---------------------------------------------------------------- cuBLAS workspaces
_WORKSPACES: dict = {}  # (kind, device) -> CuPy memory of a workspace set through these functions


def _default_workspace() -> int:
    # CUBLAS_WORKSPACE_CONFIG=":SIZE_KiB:COUNT[:SIZE:COUNT...]", as cuBLAS and PyTorch read it
    import os
    config = os.environ.get("CUBLAS_WORKSPACE_CONFIG", "")
    parts = [p for p in config.split(":") if p]
    if len(parts) >= 2 and len(parts) % 2 == 0 and all(p.isdigit() for p in parts):
        return sum(int(parts[i]) * 1024 * int(parts[i + 1]) for i in range(0, len(parts), 2))
    return 4096 * 1024 * 2 + 16 * 1024 * 8  # cuBLAS's own default on recent GPUs


def _workspace(kind: str, size):
    from ember.dispatch.registry import REGISTRY
    cp = REGISTRY.available_backend("cuda").cupy
    device = int(cp.cuda.runtime.getDevice())
    key = (kind, device)
    if size is not None:
        if size < 0:
            raise RuntimeError(f"workspace size must be non-negative, got {size}")
        memory = cp.cuda.alloc(int(size)) if size else None
        if kind == "cublas":
            _set_cublas_workspace(cp.cuda.device.get_cublas_handle(), memory.ptr if memory else 0, int(size))
        _WORKSPACES[key] = (int(size), memory)
    return _WORKSPACES.get(key, (_default_workspace(), None))[0]


def _set_cublas_workspace(handle: int, ptr: int, size: int) -> None:
    # CuPy binds no cublasSetWorkspace: call it in the cuBLAS library CuPy has loaded
    import ctypes
    for name in ("libcublas.so.13", "libcublas.so.12", "libcublas.so", "cublas64_13.dll", "cublas64_12.dll"):
        try:
            library = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        raise RuntimeError("cannot set the cuBLAS workspace: the cuBLAS library is not loadable")
    set_workspace = library.cublasSetWorkspace_v2
    set_workspace.argtypes, set_workspace.restype = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t], ctypes.c_int
    status = set_workspace(handle, ptr, size)
    if status:
        raise RuntimeError(f"cublasSetWorkspace failed with status {status}")


def cublas_workspace_size(size: int | None = None) -> int:
    """Get, or set, the cuBLAS workspace of the current GPU in bytes (setting gives cuBLAS a buffer
    of that size from the memory pool).

    Args:
        size: None to query, else the new size.

    Returns:
        The size in force.
    """
    return _workspace("cublas", size)


def cublaslt_workspace_size(size: int | None = None) -> int:
    """Get, or set, the cuBLASLt workspace size in bytes. ember's kernels do not call cuBLASLt,
    so the size is kept and reported.

    Args:
        size: None to query, else the new size.

    Returns:
        The size in force.
    """
    return _workspace("cublaslt", size)


def blas_workspace_size(size: int | None = None, backend: None | str | _BlasBackend = None) -> int:
    """Get, or set, the workspace of a BLAS library (default: the preferred one).

    Args:
        size: None to query, else the new size.
        backend: ``"cublas"`` or ``"cublaslt"`` (or a ``_BlasBackend``).

    Returns:
        The size in force.
    """
    if backend is None:
        backend = preferred_blas_library()
    if isinstance(backend, str):
        backend = {"cublas": _BlasBackend.Cublas, "hipblas": _BlasBackend.Cublas, "cublaslt": _BlasBackend.Cublaslt,
                   "hipblaslt": _BlasBackend.Cublaslt, "default": _BlasBackend.Cublas}.get(backend.lower())
        if backend is None:
            raise RuntimeError("Unknown input value. Choose from: default, cublas, hipblas, cublaslt, hipblaslt.")
    if backend is _BlasBackend.Cublaslt:
        return cublaslt_workspace_size(size)
    return cublas_workspace_size(size)
