"""Spectral ops: window functions (``ember.hann_window`` and friends), the transforms and
helpers of ``ember.fft``, and ``ember.stft`` / ``ember.istft``.

Windows and frequencies are composites of ``arange`` and elementwise ops, computed on the
requested device in the requested dtype (as PyTorch computes them). Every transform is one
call of the three FFT primitives (``fft_c2c``, ``fft_r2c``, ``fft_c2r``, after PyTorch's own
``_fft_*``), after the op layer has done PyTorch's checks, promoted the dtype and padded or
trimmed the input to ``n`` / ``s``; their derivative rules (below) are the adjoint transforms.
``stft`` / ``istft`` are composites of frames (an index gather / ``index_add``) and the transforms.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ember.core import dtype as dt
from ember.core.autograd import no_grad
from ember.core.call import call
from ember.core.tensor import Tensor
from ember.dispatch.meta import normalize_dim
from ember.dispatch.ops import OPS
from ember.dispatch.public_op import dispatch_point
from ember.ops import creation, shape
from ember.ops import elementwise as ew
from ember.ops.creation import _resolve_dtype
from ember.ops.derivatives import derivative
from ember.ops.public import public, with_out


# ---------------------------------------------------------------- argument checks
def _check_length(name, window_length):
    # PyTorch's parser takes ints only (bools are refused too)
    if not isinstance(window_length, numbers.Integral) or isinstance(window_length, bool):
        raise TypeError(f"{name}(): argument 'window_length' (position 1) must be int, not "
                        f"{type(window_length).__name__}")
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={window_length}")
    return int(window_length)


def _check_periodic(name, periodic):
    if not isinstance(periodic, (bool, np.bool_)):  # PyTorch's parser takes a bool only
        raise TypeError(f"{name}(): argument 'periodic' (position 2) must be bool, not {type(periodic).__name__}")


def _window_dtype(name, dtype):
    dtype = _resolve_dtype(dtype)
    if not dtype.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dtype}")
    return dtype


def _finish(window: Tensor, requires_grad: bool) -> Tensor:
    return window.requires_grad_(True) if requires_grad else window


def _positions(length, dtype, device):
    return creation.arange(length, dtype=dtype, device=device)


# ---------------------------------------------------------------- windows
def _cosine_window(name, window_length, periodic, coefficients, dtype, device, requires_grad):
    """sum_k (-1)^k a_k cos(2 pi k n / (N - 1)) over n = 0..N-1, N one longer when periodic,
    in PyTorch's order of operations (so half-precision results round as its do)."""
    length = _check_length(name, window_length)
    _check_periodic(name, periodic)
    dtype = _window_dtype(name, dtype)
    if length <= 1:
        return creation.ones(length, dtype=dtype, device=device, requires_grad=requires_grad)
    full_length = length + 1 if periodic else length
    with no_grad():
        if len(coefficients) == 2:  # Hann, Hamming: cos(2 pi n / (N - 1)) * -beta + alpha
            alpha, beta = coefficients
            phase = _positions(full_length, dtype, device) * (2 * math.pi / (full_length - 1))
            window = ew.cos(phase) * -beta + alpha
        else:  # Blackman: 0.08 cos(4 x) - 0.5 cos(2 x) + 0.42, x = pi n / (N - 1)
            a0, a1, a2 = coefficients
            phase = _positions(full_length, dtype, device) * (math.pi / (full_length - 1))
            window = ew.cos(phase * 4) * a2 - ew.cos(phase * 2) * a1 + a0
        if periodic:
            window = window[:length]
    return _finish(window, requires_grad)


@public
def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, pin_memory=False,
                requires_grad=False) -> Tensor:
    """The Hann window ``0.5 - 0.5 cos(2 pi n / (N - 1))``, ``N = window_length`` (``+ 1`` when periodic).

    Args:
        window_length: the number of points (a non-negative int).
        periodic: if True (the default), the window for spectral analysis: the first
            ``window_length`` points of the symmetric window one point longer.
        dtype: a floating-point dtype (default: ``ember.get_default_dtype()``).
        layout: accepted for PyTorch compatibility (tensors are always strided).
        device: where the result lives (default: the CPU).
        pin_memory: accepted for PyTorch compatibility.
        requires_grad: whether autograd records operations on the result.

    Returns:
        A 1-d tensor of ``window_length`` elements (``[1.]`` for a length of 1).

    Raises:
        TypeError: if ``window_length`` is not an int.
        RuntimeError: if ``window_length`` is negative or ``dtype`` is not a floating-point type.
    """
    return _cosine_window("hann_window", window_length, periodic, (0.5, 0.5), dtype, device, requires_grad)


@public
def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, layout=None,
                   device=None, pin_memory=False, requires_grad=False) -> Tensor:
    """The generalised Hamming window ``alpha - beta cos(2 pi n / (N - 1))``.

    Args:
        window_length: the number of points (a non-negative int).
        periodic: if True (the default), the first ``window_length`` points of the symmetric
            window one point longer (for spectral analysis).
        alpha: the constant coefficient (default: ``0.54``).
        beta: the cosine coefficient (default: ``0.46``).
        dtype: a floating-point dtype (default: ``ember.get_default_dtype()``).
        layout: accepted for PyTorch compatibility (tensors are always strided).
        device: where the result lives (default: the CPU).
        pin_memory: accepted for PyTorch compatibility.
        requires_grad: whether autograd records operations on the result.

    Returns:
        A 1-d tensor of ``window_length`` elements (``[1.]`` for a length of 1).

    Raises:
        TypeError: if ``window_length`` is not an int.
        RuntimeError: if ``window_length`` is negative or ``dtype`` is not a floating-point type.
    """
    return _cosine_window("hamming_window", window_length, periodic, (float(alpha), float(beta)), dtype, device,
                          requires_grad)


@public
def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, pin_memory=False,
                    requires_grad=False) -> Tensor:
    """The Blackman window ``0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))``.

    Args:
        window_length: the number of points (a non-negative int).
        periodic: if True (the default), the first ``window_length`` points of the symmetric
            window one point longer (for spectral analysis).
        dtype: a floating-point dtype (default: ``ember.get_default_dtype()``).
        layout: accepted for PyTorch compatibility (tensors are always strided).
        device: where the result lives (default: the CPU).
        pin_memory: accepted for PyTorch compatibility.
        requires_grad: whether autograd records operations on the result.

    Returns:
        A 1-d tensor of ``window_length`` elements (``[1.]`` for a length of 1).

    Raises:
        TypeError: if ``window_length`` is not an int.
        RuntimeError: if ``window_length`` is negative or ``dtype`` is not a floating-point type.
    """
    return _cosine_window("blackman_window", window_length, periodic, (0.42, 0.5, 0.08), dtype, device,
                          requires_grad)


@public
def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, pin_memory=False,
                    requires_grad=False) -> Tensor:
    """The Bartlett (triangular) window ``1 - |2 n / (N - 1) - 1|``.

    Args:
        window_length: the number of points (a non-negative int).
        periodic: if True (the default), the first ``window_length`` points of the symmetric
            window one point longer (for spectral analysis).
        dtype: a floating-point dtype (default: ``ember.get_default_dtype()``).
        layout: accepted for PyTorch compatibility (tensors are always strided).
        device: where the result lives (default: the CPU).
        pin_memory: accepted for PyTorch compatibility.
        requires_grad: whether autograd records operations on the result.

    Returns:
        A 1-d tensor of ``window_length`` elements (``[1.]`` for a length of 1).

    Raises:
        TypeError: if ``window_length`` is not an int.
        RuntimeError: if ``window_length`` is negative or ``dtype`` is not a floating-point type.
    """
    name = "bartlett_window"
    length = _check_length(name, window_length)
    _check_periodic(name, periodic)
    dtype = _window_dtype(name, dtype)
    if length <= 1:
        return creation.ones(length, dtype=dtype, device=device, requires_grad=requires_grad)
    full_length = length + 1 if periodic else length
    with no_grad():
        ramp = _positions(full_length, dtype, device) * (2.0 / (full_length - 1))
        # the rising half as is, the falling half mirrored (2 - ramp), as PyTorch splits it
        rising = ((full_length - 1) >> 1) + 1
        window = ew.where(_positions(full_length, dt.int64, device) < rising, ramp, 2 - ramp)
        if periodic:
            window = window[:length]
    return _finish(window, requires_grad)


def _i0(x: Tensor, largest: float) -> Tensor:
    """The modified Bessel function I0 of ``x`` (all ``0 <= x <= largest``), by its power series
    sum_k ((x / 2)^k / k!)^2, with as many terms as ``largest`` needs."""
    quarter_square = x * x * 0.25
    term = creation.ones_like(x)
    total = creation.ones_like(x)
    t, value, k = largest * largest / 4, 1.0, 0
    peak = 1.0
    while True:  # count the terms on the host, for the largest argument
        k += 1
        value *= t / (k * k)
        peak = max(peak, value)
        term = term * quarter_square * (1.0 / (k * k))
        total = total + term
        if value < 1e-17 * peak or k > 500:
            break
    return total


@public
def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None, device=None,
                  pin_memory=False, requires_grad=False) -> Tensor:
    """The Kaiser window ``I0(beta sqrt(1 - (2 n / (N - 1) - 1)^2)) / I0(beta)``.

    Args:
        window_length: the number of points (a non-negative int).
        periodic: if True (the default), the first ``window_length`` points of the symmetric
            window one point longer (for spectral analysis).
        beta: the shape parameter (default: ``12.0``); larger values give a narrower window.
        dtype: a floating-point dtype (default: ``ember.get_default_dtype()``).
        layout: accepted for PyTorch compatibility (tensors are always strided).
        device: where the result lives (default: the CPU).
        pin_memory: accepted for PyTorch compatibility.
        requires_grad: whether autograd records operations on the result.

    Returns:
        A 1-d tensor of ``window_length`` elements (``[1.]`` for a length of 1).

    Raises:
        TypeError: if ``window_length`` is not an int.
        RuntimeError: if ``window_length`` is negative or ``dtype`` is not a floating-point type.
    """
    name = "kaiser_window"
    length = _check_length(name, window_length)
    _check_periodic(name, periodic)
    dtype = _window_dtype(name, dtype)
    if length <= 1:
        return creation.ones(length, dtype=dtype, device=device, requires_grad=requires_grad)
    beta = float(beta)
    full_length = length + 1 if periodic else length
    with no_grad():
        # half precision would overflow I0 of moderate betas: compute in float32 and round once
        work = dt.float32 if dtype.itemsize < 4 else dtype
        centre = (full_length - 1) / 2.0
        ratio = (_positions(full_length, work, device) - centre) * (1.0 / centre)
        argument = ew.sqrt(ew.clamp(1 - ratio * ratio, min=0.0)) * abs(beta)
        window = _i0(argument, abs(beta)) / float(np.i0(beta))
        if periodic:
            window = window[:length]
        window = window.to(dtype)
    return _finish(window, requires_grad)


# ---------------------------------------------------------------- ember.fft helpers
def _check_n(name, n):
    if not isinstance(n, numbers.Integral) or isinstance(n, bool):
        raise TypeError(f"fft_{name}(): argument 'n' (position 1) must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    return int(n)


def _frequency_dtype(name, dtype):
    dtype = _resolve_dtype(dtype)
    if dtype.is_complex:  # PyTorch builds the frequencies with arange, which has no complex kernel
        raise NotImplementedError(f"\"arange_cpu\" not implemented for '{_TORCH_NAMES[dtype.name]}'")
    if not dtype.is_floating_point:
        raise RuntimeError(f"{name} requires a floating point or complex dtype")
    return dtype


def _reciprocal(n, d):
    """1 / (n * d) with IEEE results for a zero product (PyTorch computes it in C++ doubles)."""
    d = d.item() if isinstance(d, Tensor) else d
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(1.0) / (np.float64(n) * np.float64(d)))


def fftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """The sample frequencies of an ``n``-point FFT: ``[0, 1, ..., (n - 1) // 2, -(n // 2), ..., -1] / (d n)``.

    Args:
        n: the FFT length.
        d: the sample spacing (the inverse of the sampling rate; default ``1.0``).
        dtype: a floating-point dtype (default: ``ember.get_default_dtype()``).
        layout: accepted for PyTorch compatibility (tensors are always strided).
        device: where the result lives (default: the CPU).
        requires_grad: whether autograd records operations on the result.
        pin_memory: accepted for PyTorch compatibility.

    Returns:
        A 1-d tensor of ``n`` frequencies, in the order ``ember.fft.fft`` returns them.

    Raises:
        TypeError: if ``n`` is not an int.
        RuntimeError: if ``n`` is negative or ``dtype`` is an integer type.
    """
    n = _check_n("fftfreq", n)
    dtype = _frequency_dtype("fftfreq", dtype)
    scale = _reciprocal(n, d)
    with no_grad():
        index = creation.arange(n, dtype=dt.int64, device=device)
        signed = ew.where(index < (n + 1) // 2, index, index - n)  # exact in int64
        result = signed.to(dtype) * scale
    return _finish(result, requires_grad)


def rfftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """The sample frequencies of ``ember.fft.rfft`` of an ``n``-point signal: ``[0, 1, ..., n // 2] / (d n)``.

    Args:
        n: the real FFT's signal length.
        d: the sample spacing (default ``1.0``).
        dtype: a floating-point dtype (default: ``ember.get_default_dtype()``).
        layout: accepted for PyTorch compatibility (tensors are always strided).
        device: where the result lives (default: the CPU).
        requires_grad: whether autograd records operations on the result.
        pin_memory: accepted for PyTorch compatibility.

    Returns:
        A 1-d tensor of ``n // 2 + 1`` non-negative frequencies.

    Raises:
        TypeError: if ``n`` is not an int.
        RuntimeError: if ``n`` is negative or ``dtype`` is an integer type.
    """
    n = _check_n("rfftfreq", n)
    dtype = _frequency_dtype("rfftfreq", dtype)
    scale = _reciprocal(n, d)
    with no_grad():
        result = creation.arange(n // 2 + 1, dtype=dtype, device=device) * scale
    return _finish(result, requires_grad)


def _shift(name, input, dim, half_of):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if dim is None:
        dims = tuple(range(input.ndim))
    elif isinstance(dim, numbers.Integral):
        dims = (int(dim),)
    else:
        dims = tuple(int(d) for d in dim)
    if not dims:
        return input.clone()
    dims = tuple(normalize_dim(d, input.ndim) for d in dims)
    shifts = tuple(half_of(input.shape[d]) for d in dims)
    return shape.roll(input, shifts, dims)


def fftshift(input, dim=None) -> Tensor:
    """``input`` with the zero-frequency term moved to the centre: a roll by ``size // 2`` along ``dim``.

    Args:
        input: a tensor in the order ``ember.fft.fftn`` returns.
        dim: the dims to shift (an int or a sequence; default: all of them).

    Returns:
        A new tensor, negative frequencies first.

    Raises:
        IndexError: if a dim is out of range.
    """
    return _shift("fftshift", input, dim, lambda size: size // 2)


def ifftshift(input, dim=None) -> Tensor:
    """The inverse of ``fftshift``: a roll by ``(size + 1) // 2`` along ``dim``.

    Args:
        input: a tensor in ``fftshift``'s order.
        dim: the dims to shift (an int or a sequence; default: all of them).

    Returns:
        A new tensor in the order ``ember.fft.fftn`` returns.

    Raises:
        IndexError: if a dim is out of range.
    """
    return _shift("ifftshift", input, dim, lambda size: (size + 1) // 2)


# ---------------------------------------------------------------- the transforms (ember.fft)
# PyTorch's names for the dtypes its FFT refuses
_TORCH_NAMES = {"float16": "Half", "bfloat16": "BFloat16", "complex64": "ComplexFloat",
                "complex128": "ComplexDouble"}


def _normalization(norm, forward):
    """The primitives' scaling of the result for PyTorch's ``norm`` and a transform direction."""
    if norm is None or norm == "backward":
        return "none" if forward else "by_n"
    if norm == "ortho":
        return "by_root_n"
    if norm == "forward":
        return "by_n" if forward else "none"
    raise RuntimeError(f'Invalid normalization mode: "{norm}"')


def _promote(fname, input, *, real_only=False, to_complex=False):
    """``input`` in a dtype the transforms take: integers and bool in the default float dtype;
    half precision refused (as PyTorch's CPU FFT does); complex refused where ``real_only``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"fft_{fname}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    d = input.dtype
    if d.is_complex:
        if real_only:
            raise RuntimeError(f"{fname} expects a real input tensor, but got {_TORCH_NAMES[d.name]}")
        return input
    if not d.is_floating_point:
        input = input.to(dt.get_default_dtype())
    elif d.itemsize < 4:
        raise RuntimeError(f"Unsupported dtype {_TORCH_NAMES[d.name]}")
    return input.to(input.dtype.to_complex()) if to_complex else input


def _check_points(n):
    if n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")


def _int_arg(fname, name, value):
    if value is None:
        return None
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"fft_{fname}(): argument '{name}' must be int, not {type(value).__name__}")
    return int(value)


def _one_dim(fname, x, n, dim):
    """(normalised dim, n) of a 1-d transform."""
    n, dim = _int_arg(fname, "n", n), _int_arg(fname, "dim", dim)
    if x.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return normalize_dim(dim, x.ndim), n


def _nd_dims(fname, x, s, dim):
    """(dims, sizes) of an n-d transform: PyTorch's rules for s= and dim=; a size of -1 keeps the dim."""
    if s is not None:
        if isinstance(s, numbers.Integral):
            s = (s,)
        s = list(s)
        for v in s:
            if not isinstance(v, numbers.Integral) or isinstance(v, bool):
                raise TypeError(f"fft_{fname}(): argument 's' must be tuple of ints, but found element of type "
                                f"{type(v).__name__}")
    if dim is not None:
        dims = [dim] if isinstance(dim, numbers.Integral) else list(dim)
        if s is not None and len(s) != len(dims):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
        if x.ndim == 0 and dims:
            raise IndexError(f"Dimension specified as {dims[0]} but tensor has no dimensions")
        dims = [normalize_dim(int(d), x.ndim) for d in dims]
    elif s is not None:
        if len(s) > x.ndim:
            raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has {x.ndim} dimensions.")
        dims = list(range(x.ndim - len(s), x.ndim))
    else:
        dims = list(range(x.ndim))
    if len(set(dims)) != len(dims):
        raise RuntimeError("FFT dims must be unique")
    sizes = [x.shape[d] if s is None or s[i] == -1 else int(s[i]) for i, d in enumerate(dims)]
    for n in sizes:
        _check_points(n)
    return dims, sizes


def _resize(x, dims, sizes):
    """``x`` trimmed or zero-padded at the end of each of ``dims`` to ``sizes``."""
    for d, n in zip(dims, sizes):
        have = x.shape[d]
        if n < have:
            x = shape.narrow(x, d, 0, n)
        elif n > have:
            pad = list(x.shape)
            pad[d] = n - have
            x = shape.cat([x, creation.zeros(pad, dtype=x.dtype, device=x.device)], d)
    return x


def _c2c(x, dims, norm, forward):
    if not dims:  # nothing to transform: the input as complex (a copy, as PyTorch returns)
        return x.clone()
    return call(OPS["fft_c2c"], x, dims=tuple(dims), normalization=_normalization(norm, forward), forward=forward)


def _r2c(x, dims, norm, forward):
    return call(OPS["fft_r2c"], x, dims=tuple(dims), normalization=_normalization(norm, forward), forward=forward)


def _c2r(x, dims, norm, forward, last_dim_size):
    return call(OPS["fft_c2r"], x, dims=tuple(dims), normalization=_normalization(norm, forward), forward=forward,
                last_dim_size=last_dim_size)


def _complex_1d(fname, forward, input, n, dim, norm):
    x = _promote(fname, input, to_complex=True)
    dim, n = _one_dim(fname, x, n, dim)
    n = x.shape[dim] if n is None else n
    _check_points(n)
    _normalization(norm, forward)
    return _c2c(_resize(x, [dim], [n]), [dim], norm, forward)


def _real_in_1d(fname, forward, input, n, dim, norm):
    x = _promote(fname, input, real_only=True)
    dim, n = _one_dim(fname, x, n, dim)
    n = x.shape[dim] if n is None else n
    _check_points(n)
    _normalization(norm, forward)
    return _r2c(_resize(x, [dim], [n]), [dim], norm, forward)


def _real_out_1d(fname, forward, input, n, dim, norm):
    x = _promote(fname, input, to_complex=True)
    dim, n = _one_dim(fname, x, n, dim)
    n = 2 * (x.shape[dim] - 1) if n is None else n
    _check_points(n)
    _normalization(norm, forward)
    return _c2r(_resize(x, [dim], [n // 2 + 1]), [dim], norm, forward, n)


def _complex_nd(fname, forward, input, s, dim, norm):
    x = _promote(fname, input, to_complex=True)
    dims, sizes = _nd_dims(fname, x, s, dim)
    _normalization(norm, forward)
    return _c2c(_resize(x, dims, sizes), dims, norm, forward)


def _real_in_nd(fname, forward, input, s, dim, norm):
    x = _promote(fname, input, real_only=True)
    dims, sizes = _nd_dims(fname, x, s, dim)
    if not dims:
        raise RuntimeError(f"{fname} must transform at least one axis")
    _normalization(norm, forward)
    return _r2c(_resize(x, dims, sizes), dims, norm, forward)


def _real_out_nd(fname, forward, input, s, dim, norm):
    x = _promote(fname, input, to_complex=True)
    dims, sizes = _nd_dims(fname, x, s, dim)
    if not dims:
        raise RuntimeError(f"{fname} must transform at least one axis")
    last = sizes[-1] if s is not None and list(s)[-1] != -1 else 2 * (x.shape[dims[-1]] - 1)
    _check_points(last)
    _normalization(norm, forward)
    x = _resize(x, dims, sizes[:-1] + [last // 2 + 1])
    return _c2r(x, dims, norm, forward, last)


_1D_ARGS = """
    Args:
        input: the input tensor{kind}.
        n: the signal length{n_doc} (the input is zero-padded or trimmed to it; default: {n_default}).
        dim: the dim to transform (default: the last).
        norm: ``"backward"`` (the default: {backward}), ``"ortho"`` (``1/sqrt(n)`` both ways) or
            ``"forward"`` ({forward}).

    Returns:
        {returns}

    Raises:
        RuntimeError: for a complex input where a real one is required, half precision, ``n < 1``
            or an unknown ``norm``.
        IndexError: if ``dim`` is out of range.
    """
_ND_ARGS = """
    Args:
        input: the input tensor{kind}.
        s: the signal size in each transformed dim{n_doc} (the input is zero-padded or trimmed to
            it; ``-1`` keeps a dim's size; default: {n_default}).
        dim: the dims to transform (default: {dims}).
        norm: ``"backward"`` (the default: {backward}), ``"ortho"`` (``1/sqrt(n)`` both ways) or
            ``"forward"`` ({forward}).

    Returns:
        {returns}

    Raises:
        RuntimeError: for a complex input where a real one is required, half precision, a size
            below 1, repeated dims, ``s`` and ``dim`` of different lengths or an unknown ``norm``.
        IndexError: if a dim is out of range.
    """
_FWD = dict(backward="no scaling", forward="scaled by ``1/n``")
_INV = dict(backward="scaled by ``1/n``", forward="no scaling")


def _doc(summary, template, **fields):
    return summary + "\n" + template.format(**fields)


def fft(input, n=None, dim=-1, norm=None) -> Tensor:
    return _complex_1d("fft", True, input, n, dim, norm)


def ifft(input, n=None, dim=-1, norm=None) -> Tensor:
    return _complex_1d("ifft", False, input, n, dim, norm)


def rfft(input, n=None, dim=-1, norm=None) -> Tensor:
    return _real_in_1d("rfft", True, input, n, dim, norm)


def irfft(input, n=None, dim=-1, norm=None) -> Tensor:
    return _real_out_1d("irfft", False, input, n, dim, norm)


def hfft(input, n=None, dim=-1, norm=None) -> Tensor:
    return _real_out_1d("hfft", True, input, n, dim, norm)


def ihfft(input, n=None, dim=-1, norm=None) -> Tensor:
    return _real_in_1d("ihfft", False, input, n, dim, norm)


def fftn(input, s=None, dim=None, norm=None) -> Tensor:
    return _complex_nd("fftn", True, input, s, dim, norm)


def ifftn(input, s=None, dim=None, norm=None) -> Tensor:
    return _complex_nd("ifftn", False, input, s, dim, norm)


def rfftn(input, s=None, dim=None, norm=None) -> Tensor:
    return _real_in_nd("rfftn", True, input, s, dim, norm)


def irfftn(input, s=None, dim=None, norm=None) -> Tensor:
    return _real_out_nd("irfftn", False, input, s, dim, norm)


def hfftn(input, s=None, dim=None, norm=None) -> Tensor:
    return _real_out_nd("hfftn", True, input, s, dim, norm)


def ihfftn(input, s=None, dim=None, norm=None) -> Tensor:
    return _real_in_nd("ihfftn", False, input, s, dim, norm)


def fft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    return _complex_nd("fft2", True, input, s, dim, norm)


def ifft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    return _complex_nd("ifft2", False, input, s, dim, norm)


def rfft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    return _real_in_nd("rfft2", True, input, s, dim, norm)


def irfft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    return _real_out_nd("irfft2", False, input, s, dim, norm)


def hfft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    return _real_out_nd("hfft2", True, input, s, dim, norm)


def ihfft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    return _real_in_nd("ihfft2", False, input, s, dim, norm)


_COMPLEX_OUT = "A complex tensor (complex64 for float32 or integer input, complex128 for float64)."
_REAL_OUT = "A real tensor (float32 for complex64 input, float64 for complex128)."
_ONESIDED = ("A complex tensor holding the non-negative frequencies of the last transformed dim "
             "(``n // 2 + 1`` of them).")
fft.__doc__ = _doc("The 1-d discrete Fourier transform of ``input`` along ``dim``.", _1D_ARGS, kind=" (real or "
                   "complex)", n_doc="", n_default="the input's size", returns=_COMPLEX_OUT, **_FWD)
ifft.__doc__ = _doc("The 1-d inverse discrete Fourier transform of ``input`` along ``dim``.", _1D_ARGS,
                    kind=" (real or complex)", n_doc="", n_default="the input's size", returns=_COMPLEX_OUT, **_INV)
rfft.__doc__ = _doc("The 1-d Fourier transform of a real signal: the ``n // 2 + 1`` non-negative frequencies.",
                    _1D_ARGS, kind=" (real)", n_doc="", n_default="the input's size", returns=_ONESIDED, **_FWD)
irfft.__doc__ = _doc("The inverse of ``rfft``: the real signal whose one-sided spectrum is ``input``.", _1D_ARGS,
                     kind=" (a one-sided Hermitian spectrum)", n_doc=" of the real output",
                     n_default="``2 * (input.size(dim) - 1)``", returns=_REAL_OUT, **_INV)
hfft.__doc__ = _doc("The 1-d Fourier transform of a Hermitian-symmetric signal given by its first half: a real "
                    "spectrum.", _1D_ARGS, kind=" (one half of a Hermitian signal)", n_doc=" of the real output",
                    n_default="``2 * (input.size(dim) - 1)``", returns=_REAL_OUT, **_FWD)
ihfft.__doc__ = _doc("The inverse of ``hfft``: the first half of the Hermitian signal of a real spectrum.",
                     _1D_ARGS, kind=" (real)", n_doc="", n_default="the input's size", returns=_ONESIDED, **_INV)
for _fn, _summary, _dims, _kind, _n_doc, _n_default, _returns, _dir in (
        (fftn, "The n-d discrete Fourier transform of ``input``.", "all", " (real or complex)", "",
         "the input's sizes", _COMPLEX_OUT, _FWD),
        (ifftn, "The n-d inverse discrete Fourier transform of ``input``.", "all", " (real or complex)", "",
         "the input's sizes", _COMPLEX_OUT, _INV),
        (rfftn, "The n-d Fourier transform of a real signal, one-sided in the last transformed dim.", "all",
         " (real)", "", "the input's sizes", _ONESIDED, _FWD),
        (irfftn, "The inverse of ``rfftn``: the real signal whose one-sided spectrum is ``input``.", "all",
         " (one-sided in the last transformed dim)", " of the real output",
         "the input's sizes, ``2 * (size - 1)`` in the last dim", _REAL_OUT, _INV),
        (hfftn, "The n-d Fourier transform of a Hermitian-symmetric signal given by its first half: a real "
         "spectrum.", "all", " (half of a Hermitian signal)", " of the real output",
         "the input's sizes, ``2 * (size - 1)`` in the last dim", _REAL_OUT, _FWD),
        (ihfftn, "The inverse of ``hfftn``: half of the Hermitian signal of a real spectrum.", "all", " (real)", "",
         "the input's sizes", _ONESIDED, _INV),
        (fft2, "The 2-d discrete Fourier transform of ``input``.", "the last two", " (real or complex)", "",
         "the input's sizes", _COMPLEX_OUT, _FWD),
        (ifft2, "The 2-d inverse discrete Fourier transform of ``input``.", "the last two", " (real or complex)", "",
         "the input's sizes", _COMPLEX_OUT, _INV),
        (rfft2, "The 2-d Fourier transform of a real signal, one-sided in the last dim.", "the last two", " (real)",
         "", "the input's sizes", _ONESIDED, _FWD),
        (irfft2, "The inverse of ``rfft2``.", "the last two", " (one-sided in the last transformed dim)",
         " of the real output", "the input's sizes, ``2 * (size - 1)`` in the last dim", _REAL_OUT, _INV),
        (hfft2, "The 2-d Fourier transform of a Hermitian-symmetric signal given by its first half.",
         "the last two", " (half of a Hermitian signal)", " of the real output",
         "the input's sizes, ``2 * (size - 1)`` in the last dim", _REAL_OUT, _FWD),
        (ihfft2, "The inverse of ``hfft2``.", "the last two", " (real)", "", "the input's sizes", _ONESIDED, _INV)):
    _fn.__doc__ = _doc(_summary, _ND_ARGS, kind=_kind, n_doc=_n_doc, n_default=_n_default, dims=_dims,
                       returns=_returns, **_dir)

# PyTorch's transforms and frequency helpers take out= (the shifts do not); the transforms are
# dispatch points named fft_<name>, as in PyTorch's autocast lists (ember.amp.policy)
(fft, ifft, rfft, irfft, hfft, ihfft, fftn, ifftn, rfftn, irfftn, hfftn, ihfftn, fft2, ifft2, rfft2, irfft2, hfft2,
 ihfft2) = (with_out(dispatch_point(f"fft_{_fn.__name__}")(_fn), _fn.__name__) for _fn in (
    fft, ifft, rfft, irfft, hfft, ihfft, fftn, ifftn, rfftn, irfftn, hfftn, ihfftn, fft2, ifft2, rfft2, irfft2,
    hfft2, ihfft2))
fftfreq, rfftfreq = with_out(fftfreq, "fftfreq"), with_out(rfftfreq, "rfftfreq")


# ---------------------------------------------------------------- derivatives of the FFT primitives
def _last_dim_weights(dims, n, one_sided_length, device, dtype, value_inside, ndim):
    """A real tensor broadcasting along ``dims[-1]``: 1 at index 0 (and at ``n / 2`` for even n),
    ``value_inside`` at the indices whose mirror image is outside the one-sided half."""
    inside = n - one_sided_length  # indices 1 .. n - one_sided_length have their mirror outside
    index = creation.arange(one_sided_length, dtype=dt.int64, device=device)
    weights = ew.where((index >= 1) & (index <= inside), value_inside, 1.0).to(dtype)
    shape_ = [1] * ndim
    shape_[dims[-1]] = one_sided_length
    return weights.reshape(shape_)


@derivative("fft_c2c")
def _fft_c2c(node, g):
    a = node.attrs
    return (call(OPS["fft_c2c"], g, dims=a["dims"], normalization=a["normalization"], forward=not a["forward"]),)


@derivative("fft_r2c")
def _fft_r2c(node, g):
    # the adjoint of a one-sided real DFT: the full-spectrum gradient (zeros where the half was cut)
    # transformed back and its real part taken, which is a c2r of g with the halved weights
    a = node.attrs
    dims, n = a["dims"], node.input_shape(0)[a["dims"][-1]]
    w = _last_dim_weights(dims, n, g.shape[dims[-1]], g.device, g.dtype.to_real(), 0.5, g.ndim)
    return (call(OPS["fft_c2r"], g * w, dims=dims, normalization=a["normalization"], forward=not a["forward"],
                 last_dim_size=n),)


@derivative("fft_c2r")
def _fft_c2r(node, g):
    # c2r fills the other half by conjugate symmetry: entries with a mirror image there count twice
    a = node.attrs
    dims, n = a["dims"], a["last_dim_size"]
    half = node.input_shape(0)[dims[-1]]
    grad = call(OPS["fft_r2c"], g, dims=dims, normalization=a["normalization"], forward=not a["forward"])
    return (grad * _last_dim_weights(dims, n, half, g.device, g.dtype, 2.0, g.ndim),)


# ---------------------------------------------------------------- short-time Fourier transforms
def _pad_1d(x, pad, mode):
    """``x`` (..., L) padded by ``pad`` on both ends of its last dim, as ``nn.functional.pad`` would."""
    if pad == 0:
        return x
    length = x.shape[-1]
    if mode == "constant":
        zeros = creation.zeros((*x.shape[:-1], pad), dtype=x.dtype, device=x.device)
        return shape.cat([zeros, x, zeros], -1)
    if mode == "reflect":
        if pad >= length:
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({pad}, {pad}) at dimension {x.ndim - 1} of input "
                               f"{list(x.shape)}")
        left = shape.flip(x[..., 1:pad + 1], (-1,))
        right = shape.flip(x[..., length - pad - 1:length - 1], (-1,))
        return shape.cat([left, x, right], -1)
    if mode == "replicate":
        return shape.cat([x[..., :1].expand(*x.shape[:-1], pad), x, x[..., -1:].expand(*x.shape[:-1], pad)], -1)
    if mode == "circular":
        if pad > length:
            raise RuntimeError(f"Padding value causes wrapping around more than once (padding {pad}, size {length})")
        return shape.cat([x[..., length - pad:], x, x[..., :pad]], -1)
    raise NotImplementedError(f"Unrecognised padding mode {mode}")


def _stft_where(name, input, n_fft, hop_length, win_length, window):
    """The call as PyTorch's messages describe it."""
    w = "None" if window is None else f"tensor of shape {list(window.shape)}"
    return (f"{name}(tensor of shape {list(input.shape)}, n_fft={n_fft}, hop_length={hop_length}, "
            f"win_length={win_length}, window={w})")


def _full_window(window, win_length, n_fft, dtype, device, name):
    """The window over ``n_fft`` points: ``window`` (ones when None) zero-padded on both sides."""
    if window is None:
        window = creation.ones(win_length, dtype=dtype, device=device)
    if win_length < n_fft:
        left = (n_fft - win_length) // 2
        window = shape.cat([creation.zeros(left, dtype=window.dtype, device=window.device), window,
                            creation.zeros(n_fft - win_length - left, dtype=window.dtype, device=window.device)])
    return window


def _check_window(where, window, win_length):
    if window is not None and (window.ndim != 1 or window.shape[0] != win_length):
        raise RuntimeError(f"{where} : expected a 1D window tensor of size equal to win_length={win_length}, but "
                           f"got window with size {list(window.shape)}")


@public(method=True)
@dispatch_point("stft")
def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, pad_mode="reflect",
         normalized=False, onesided=None, return_complex=None, align_to_window=None) -> Tensor:
    """The short-time Fourier transform: the DFT of windowed frames ``hop_length`` apart.

    Args:
        input: a 1-d signal or a 2-d batch of signals (real or complex).
        n_fft: the frame (and DFT) size.
        hop_length: the distance between neighbouring frames (default: ``n_fft // 4``).
        win_length: the window's size, at most ``n_fft`` (default: ``n_fft``); a shorter window
            is zero-padded on both sides to ``n_fft``.
        window: a 1-d tensor of ``win_length`` points (default: a rectangular window of ones).
        center: if True (the default), the signal is padded by ``n_fft // 2`` on both sides, so
            frame ``t`` is centred on sample ``t * hop_length``.
        pad_mode: how ``center`` pads: ``"reflect"`` (the default), ``"constant"``,
            ``"replicate"`` or ``"circular"``.
        normalized: whether the result is scaled by ``n_fft ** -0.5``.
        onesided: whether only the ``n_fft // 2 + 1`` non-negative frequencies are returned
            (default: True for a real input and window; complex ones refuse it).
        return_complex: whether the result is complex; False gives ``view_as_real`` of it (a
            deprecated form). Required for real inputs, as in PyTorch.
        align_to_window: only with ``center=False``: if True, frame ``t``'s window (centred in
            its ``n_fft`` points) starts at sample ``t * hop_length`` instead of the frame itself.

    Returns:
        A tensor of shape ``(*batch, n_freq, n_frames)`` (complex), or ``(*batch, n_freq,
        n_frames, 2)`` (real) with ``return_complex=False``.

    Raises:
        RuntimeError: if ``return_complex`` is not given for a real input, the input is not 1-d
            or 2-d, or ``n_fft``, ``hop_length``, ``win_length`` or ``window`` do not fit.
        NotImplementedError: for an unknown ``pad_mode``.
    """
    import warnings
    if window is None:
        warnings.warn("A window was not provided. A rectangular window will be applied, which is known to cause "
                      "spectral leakage. Other windows such as ember.hann_window or ember.hamming_window are "
                      "recommended. To suppress this warning and use a rectangular window, explicitly set "
                      "`window=ember.ones(n_fft, device=<device>)`.", UserWarning, stacklevel=2)
    is_complex = input.dtype.is_complex or (window is not None and window.dtype.is_complex)
    if return_complex is None:
        if not is_complex:
            raise RuntimeError("stft requires the return_complex parameter be given for real inputs, and will "
                               "further require that return_complex=True in a future PyTorch release.")
        return_complex = True
    if not return_complex:
        warnings.warn("stft with return_complex=False is deprecated. In a future pytorch release, stft will "
                      "return complex tensors for all inputs, and return_complex=False will raise an error. "
                      "Note: you can still call ember.view_as_real on the complex output to recover the old "
                      "return format.", UserWarning, stacklevel=2)
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    if center and align_to_window is not None:
        raise RuntimeError("stft align_to_window should only be set when center = false")
    if center:
        if input.ndim not in (1, 2):
            raise RuntimeError(f"{_stft_where('stft', input, n_fft, hop, win, window)} : expected a 1D or 2D tensor")
        input = _pad_1d(input, n_fft // 2, pad_mode)
    where = _stft_where("stft", input, n_fft, hop, win, window)
    if input.ndim not in (1, 2):
        raise RuntimeError(f"{where} : expected a 1D or 2D tensor")
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise RuntimeError(f"{where} : expected a tensor of floating point or complex values")
    length = input.shape[-1]
    # frames aligned to the window need only the window inside the signal
    frame = win if align_to_window else n_fft
    if not 0 < frame <= length:
        raise RuntimeError(f"{where} : expected 0 < n_fft < {length}, but got n_fft={frame}")
    if hop <= 0:
        raise RuntimeError(f"{where} : expected hop_length > 0, but got hop_length={hop}")
    if not 0 < win <= n_fft:
        raise RuntimeError(f"{where} : expected 0 < win_length <= n_fft, but got win_length={win}")
    _check_window(where, window, win)
    if onesided is None:
        onesided = not is_complex
    elif onesided and is_complex:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    batched = input.ndim == 2
    x = input if batched else input.reshape(1, length)
    if x.dtype.itemsize < 4 and not x.dtype.is_complex:
        raise RuntimeError(f"Unsupported dtype {_TORCH_NAMES[x.dtype.name]}")
    full = _full_window(window, win, n_fft, x.dtype, x.device, "stft")
    if align_to_window and win < n_fft:
        # the window (centred in its frame) starts at sample t * hop: zeros around the signal for the frame
        left = (n_fft - win) // 2
        x = shape.cat([creation.zeros((x.shape[0], left), dtype=x.dtype, device=x.device), x,
                       creation.zeros((x.shape[0], n_fft - win - left), dtype=x.dtype, device=x.device)], 1)
        length = x.shape[-1]
    n_frames = 1 + (length - n_fft) // hop
    # frame t is x[t * hop : t * hop + n_fft]: one gather through an index grid
    grid = (creation.arange(n_frames, dtype=dt.int64, device=x.device).reshape(n_frames, 1) * hop
            + creation.arange(n_fft, dtype=dt.int64, device=x.device))
    frames = x[:, grid] * full  # (batch, n_frames, n_fft)
    norm = "ortho" if normalized else "backward"
    spectrum = rfft(frames, norm=norm) if onesided else fft(frames, norm=norm)
    out = spectrum.transpose(1, 2)
    out = out if batched else out[0]
    if not return_complex:
        from ember.ops.complex import view_as_real
        return view_as_real(out.contiguous())
    return out


@public(method=True)
def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, normalized=False,
          onesided=None, length=None, return_complex=False) -> Tensor:
    """The inverse short-time Fourier transform: overlap-add of the frames' inverse DFTs, divided
    by the summed squared window (least squares, as ``stft``'s inverse).

    Args:
        input: the complex output of ``stft``: ``(*batch, n_freq, n_frames)``, batch of at most one dim.
        n_fft: the frame size ``stft`` used.
        hop_length: the distance between frames (default: ``n_fft // 4``).
        win_length: the window's size (default: ``n_fft``).
        window: the window ``stft`` used (default: ones).
        center: whether ``stft`` padded the signal (its padding is removed).
        normalized: whether ``stft`` scaled by ``n_fft ** -0.5``.
        onesided: whether ``input`` holds the non-negative frequencies only (default: when its
            frequency dim is not ``n_fft``).
        length: the output length (trimmed, or zero-padded with a warning; default: all of it).
        return_complex: whether the signal is complex (then ``onesided`` must be False).

    Returns:
        A tensor of shape ``(*batch, length)``: real, or complex with ``return_complex``.

    Raises:
        RuntimeError: for a real input, sizes that do not fit, or a window whose overlap-add
            vanishes somewhere in the output (the inversion would divide by zero).
    """
    import warnings
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    where = (f"istft(tensor of shape {list(input.shape)}, n_fft={n_fft}, hop_length={hop}, win_length={win}, "
             f"center={center}, normalized={normalized}, onesided={onesided}, length={length}, "
             f"return_complex={return_complex})")
    if not input.dtype.is_complex:
        raise RuntimeError("istft requires a complex-valued input tensor matching the output from stft with "
                           "return_complex=True.")
    if window is None:
        warnings.warn("A window was not provided. A rectangular window will be applied. Please provide the same "
                      "window used by stft to make the inversion lossless. To suppress this warning and use a "
                      "rectangular window, explicitly set `window=ember.ones(n_fft, device=<device>)`.",
                      UserWarning, stacklevel=2)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"{where} : expected a tensor with 2 or 3 dimensions of complex values, but got "
                           f"{input.ndim}")
    batched = input.ndim == 3
    x = input if batched else input.reshape(1, *input.shape)
    fft_size, n_frames = x.shape[-2], x.shape[-1]
    if onesided is None:
        onesided = fft_size != n_fft
    if onesided:
        if n_fft // 2 + 1 != fft_size:
            raise RuntimeError(f"{where} : expected the frequency dimension (3rd to the last) of the input tensor to "
                               f"match n_fft / 2 + 1 when onesided=True, but got {fft_size}")
    elif n_fft != fft_size:
        raise RuntimeError(f"{where} : expected the frequency dimension (3rd to the last) of the input tensor to "
                           f"match n_fft when onesided=False, but got {fft_size}")
    if not 0 < hop <= win:
        raise RuntimeError(f"{where} : expected 0 < hop_length <= win_length")
    if not 0 < win <= n_fft:
        raise RuntimeError(f"{where} : expected 0 < win_length <= n_fft")
    _check_window(where, window, win)
    if return_complex and onesided:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    real_dtype = x.dtype.to_real()
    full = _full_window(window, win, n_fft, real_dtype, x.device, "istft")
    norm = "ortho" if normalized else "backward"
    columns = x.transpose(1, 2)  # (batch, n_frames, fft_size)
    if onesided:
        frames = irfft(columns, n=n_fft, norm=norm)
    else:
        frames = ifft(columns, n=n_fft, norm=norm)
        if not return_complex:
            from ember.ops.complex import real
            frames = real(frames)
    frames = frames * full
    total = n_fft + hop * (n_frames - 1)
    # overlap-add: sample t * hop + k of the output collects frame t's sample k
    positions = (creation.arange(n_frames, dtype=dt.int64, device=x.device).reshape(n_frames, 1) * hop
                 + creation.arange(n_fft, dtype=dt.int64, device=x.device)).reshape(-1)
    batch = x.shape[0]
    y = creation.zeros((batch, total), dtype=frames.dtype, device=x.device)
    from ember.ops.indexing import index_add
    y = index_add(y, 1, positions, frames.reshape(batch, n_frames * n_fft))
    squared = (full * full).to(real_dtype)
    envelope = index_add(creation.zeros(total, dtype=real_dtype, device=x.device), 0, positions,
                         squared.expand(n_frames, n_fft).reshape(-1))
    start = n_fft // 2 if center else 0
    if length is not None:
        end = start + length
    else:
        end = total - n_fft // 2 if center else total
    end = min(end, total)
    y, envelope = y[:, start:end], envelope[start:end]
    if envelope.numel() and float(envelope.abs().min().item()) < 1e-11:
        raise RuntimeError(f"{where} window overlap add min: {float(envelope.abs().min().item())}")
    y = y / envelope
    if length is not None and y.shape[-1] < length:
        warnings.warn("The length of signal is shorter than the length parameter. Result is being padded with "
                      "zeros in the tail. Please check your center and hop_length settings.", UserWarning,
                      stacklevel=2)
        y = shape.cat([y, creation.zeros((batch, length - y.shape[-1]), dtype=y.dtype, device=y.device)], 1)
    return y if batched else y[0]
