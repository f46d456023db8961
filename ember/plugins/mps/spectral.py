"""The FFT primitives of the ``mps`` backend over ``mlx.core.fft`` (complex64 only, as MLX has).

MLX's forward transforms are unscaled and its inverse transforms scaled by ``1/n``; the
primitives' ``normalization`` (the scaling of the result) is applied on top.
"""
from __future__ import annotations

import math

import mlx.core as mx


def _rescale(out, sizes, normalization, library_scaled):
    n = math.prod(sizes)
    wanted = {"none": 1.0, "by_root_n": 1.0 / math.sqrt(n), "by_n": 1.0 / n}[normalization]
    have = 1.0 / n if library_scaled else 1.0
    return out if wanted == have else out * (wanted / have)


def fft_c2c(x, *, dims, normalization, forward):
    """Complex DFT over ``dims`` (``forward``: the e^-i sign)."""
    axes = list(dims)
    sizes = [x.shape[d] for d in dims]
    out = mx.fft.fftn(x, axes=axes) if forward else mx.fft.ifftn(x, axes=axes)
    return _rescale(out, sizes, normalization, library_scaled=not forward)


def fft_r2c(x, *, dims, normalization, forward):
    """One-sided real DFT over ``dims`` (``forward`` False: its conjugate)."""
    sizes = [x.shape[d] for d in dims]
    out = _rescale(mx.fft.rfftn(x, axes=list(dims)), sizes, normalization, library_scaled=False)
    return out if forward else mx.conj(out)


def fft_c2r(x, *, dims, normalization, forward, last_dim_size):
    """Inverse of ``fft_r2c``: a real result with ``last_dim_size`` points along ``dims[-1]``."""
    sizes = [x.shape[d] for d in dims[:-1]] + [last_dim_size]
    source = mx.conj(x) if forward else x
    out = mx.fft.irfftn(source, s=sizes, axes=list(dims))
    return _rescale(out, sizes, normalization, library_scaled=True)
