"""Shape and dtype inference for the FFT primitives (``ember.dispatch.ops``, section "spectral").

Each takes the input's ``TensorMeta`` and the op's attributes, as ``ember.dispatch.meta``'s
functions do. ``dims`` are the transformed axes (non-negative, unique); the op layer has
already padded or trimmed the input to the transform's sizes.
"""
from __future__ import annotations

from ember.dispatch.meta import TensorMeta


def c2c(x, *, dims, normalization, forward) -> TensorMeta:
    """Complex to complex: the input's shape and dtype."""
    return TensorMeta(x.shape, x.dtype)


def r2c(x, *, dims, normalization, forward) -> TensorMeta:
    """Real to complex, one-sided: the last transformed dim keeps ``n // 2 + 1`` entries."""
    shape = list(x.shape)
    shape[dims[-1]] = shape[dims[-1]] // 2 + 1
    return TensorMeta(shape, x.dtype.to_complex())


def c2r(x, *, dims, normalization, forward, last_dim_size) -> TensorMeta:
    """One-sided complex to real: the last transformed dim grows to ``last_dim_size``."""
    shape = list(x.shape)
    shape[dims[-1]] = last_dim_size
    return TensorMeta(shape, x.dtype.to_real())
