"""The device-named forms PyTorch keeps for old code, ``torch.cuda.amp`` and ``torch.cpu.amp``:
they work, and warn (FutureWarning) that ``ember.amp``'s form is the one to use."""
from __future__ import annotations

import functools
import warnings

from ember.amp.autocast_mode import autocast as _autocast, custom_bwd as _custom_bwd, custom_fwd as _custom_fwd
from ember.amp.grad_scaler import GradScaler as _GradScaler
from ember.core import dtype as dt


def _warn(what, device_type):
    warnings.warn(f"`torch.{device_type}.amp.{what}(args...)` is deprecated. Please use "
                  f"`torch.amp.{what}('{device_type}', args...)` instead.", FutureWarning, stacklevel=3)


class CudaAutocast(_autocast):
    """Deprecated: ``ember.autocast("cuda", ...)``.

    Args:
        enabled: False turns autocast off in the region.
        dtype: the low dtype (float16).
        cache_enabled: whether weight casts are kept for the region.
    """

    def __init__(self, enabled: bool = True, dtype=dt.float16, cache_enabled: bool = True):
        _warn("autocast", "cuda")
        super().__init__("cuda", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


class CpuAutocast(_autocast):
    """Deprecated: ``ember.autocast("cpu", ...)``.

    Args:
        enabled: False turns autocast off in the region.
        dtype: the low dtype (bfloat16).
        cache_enabled: whether weight casts are kept for the region.
    """

    def __init__(self, enabled: bool = True, dtype=dt.bfloat16, cache_enabled: bool = True):
        _warn("autocast", "cpu")
        super().__init__("cpu", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


class CudaGradScaler(_GradScaler):
    """Deprecated: ``ember.amp.GradScaler("cuda", ...)`` (same arguments, less ``device``)."""

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:
        _warn("GradScaler", "cuda")
        super().__init__("cuda", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval, enabled=enabled)


class CpuGradScaler(_GradScaler):
    """Deprecated: ``ember.amp.GradScaler("cpu", ...)`` (same arguments, less ``device``)."""

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:
        _warn("GradScaler", "cpu")
        super().__init__("cpu", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval, enabled=enabled)


def cuda_custom_fwd(fwd=None, *, cast_inputs=None):
    """Deprecated: ``ember.amp.custom_fwd(device_type="cuda", ...)``.

    Args:
        fwd: the forward staticmethod (omitted: returns a decorator).
        cast_inputs: as for ``ember.amp.custom_fwd``.

    Returns:
        The decorated forward.
    """
    warnings.warn("`torch.cuda.amp.custom_fwd(args...)` is deprecated. Please use "
                  "`torch.amp.custom_fwd(args..., device_type='cuda')` instead.", FutureWarning, stacklevel=2)
    if fwd is None:
        return functools.partial(_custom_fwd, device_type="cuda", cast_inputs=cast_inputs)
    return _custom_fwd(fwd, device_type="cuda", cast_inputs=cast_inputs)


def cuda_custom_bwd(bwd=None):
    """Deprecated: ``ember.amp.custom_bwd(device_type="cuda")``.

    Args:
        bwd: the backward staticmethod.

    Returns:
        The decorated backward.
    """
    warnings.warn("`torch.cuda.amp.custom_bwd(args...)` is deprecated. Please use "
                  "`torch.amp.custom_bwd(args..., device_type='cuda')` instead.", FutureWarning, stacklevel=2)
    if bwd is None:
        return functools.partial(_custom_bwd, device_type="cuda")
    return _custom_bwd(bwd, device_type="cuda")
