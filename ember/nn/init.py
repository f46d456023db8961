"""Weight initialisation (``nn.init``): fill a tensor in place, without recording autograd.

Every function draws from ember's random stream (or ``generator``), so a seed gives
the same values on every device. ``orthogonal_`` runs its QR decomposition with numpy
on the host: it is an init-time operation, and the result is copied to the tensor's
device.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ember.core.autograd import no_grad
from ember.core.tensor import Tensor

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_",
]

_LINEAR_GAIN_ONE = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                    "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity, param=None) -> float:
    """Return the recommended gain (scale) for weights feeding into ``nonlinearity``.

    The values: 1 for ``'linear'``, the ``'conv*'`` and ``'conv_transpose*'`` names and
    ``'sigmoid'``; 5/3 for ``'tanh'``; ``sqrt(2)`` for ``'relu'``;
    ``sqrt(2 / (1 + negative_slope ** 2))`` for ``'leaky_relu'``; 3/4 for ``'selu'``.

    Args:
        nonlinearity: the name of the nonlinearity; any other name raises ``ValueError``.
        param: for ``'leaky_relu'``, the negative slope (default: 0.01).

    Returns:
        The gain, a Python number.
    """
    if nonlinearity in _LINEAR_GAIN_ONE:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _check(tensor, name):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}(): argument 'tensor' must be Tensor, not {type(tensor).__name__}")


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel): in * prod(kernel), out * prod(kernel)."""
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill ``tensor`` with values drawn from the uniform distribution U(a, b).

    Args:
        tensor: the tensor to fill, in place (autograd does not record it).
        a: the lower bound (default: 0).
        b: the upper bound (default: 1).
        generator: the random generator to draw from (default: ember's global one).

    Returns:
        ``tensor``.
    """
    _check(tensor, "uniform_")
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill ``tensor`` with values drawn from the normal distribution N(mean, std ** 2).

    Args:
        tensor: the tensor to fill, in place (autograd does not record it).
        mean: the mean (default: 0).
        std: the standard deviation (default: 1).
        generator: the random generator to draw from (default: ember's global one).

    Returns:
        ``tensor``.
    """
    _check(tensor, "normal_")
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill ``tensor`` with values from N(mean, std ** 2) truncated to ``[a, b]``.

    The values are drawn by inverse-CDF sampling, so every one lies in ``[a, b]``. A
    ``mean`` more than 2 standard deviations outside ``[a, b]`` gives a warning.

    Args:
        tensor: the tensor to fill, in place (autograd does not record it).
        mean: the mean of the normal distribution (default: 0).
        std: its standard deviation (default: 1).
        a: the lower cut-off, in the tensor's units (default: -2).
        b: the upper cut-off, in the tensor's units (default: 2).
        generator: the random generator to draw from (default: ember's global one).

    Returns:
        ``tensor``.
    """
    _check(tensor, "trunc_normal_")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The distribution of values "
                      "may be incorrect.", stacklevel=2)

    def cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    low, high = cdf((a - mean) / std), cdf((b - mean) / std)
    with no_grad():
        from ember.ops.random import rand
        from ember.ops import elementwise as ew
        u = rand(tensor.shape, dtype=_draw_dtype(tensor), device=tensor.device, generator=generator)
        u = u * (2 * high - 2 * low) + (2 * low - 1)
        values = ew.erfinv(u) * (std * math.sqrt(2.0)) + mean
        return tensor.copy_(values.clamp(min=a, max=b))


def _draw_dtype(tensor):
    from ember.core import dtype as dt
    return dt.float64 if tensor.dtype is dt.float64 else dt.float32


def constant_(tensor, val):
    """Fill ``tensor`` with the value ``val``.

    Args:
        tensor: the tensor to fill, in place (autograd does not record it).
        val: the fill value.

    Returns:
        ``tensor``.
    """
    _check(tensor, "constant_")
    with no_grad():
        return tensor.fill_(val)


def ones_(tensor):
    """Fill ``tensor`` with ones.

    Args:
        tensor: the tensor to fill, in place (autograd does not record it).

    Returns:
        ``tensor``.
    """
    return constant_(tensor, 1.0)


def zeros_(tensor):
    """Fill ``tensor`` with zeros.

    Args:
        tensor: the tensor to fill, in place (autograd does not record it).

    Returns:
        ``tensor``.
    """
    _check(tensor, "zeros_")
    with no_grad():
        return tensor.zero_()


def eye_(tensor):
    """Fill a 2-D ``tensor`` with the identity matrix: ones on the diagonal, zeros elsewhere.

    It need not be square. Useful to make a ``Linear`` layer start as the identity map.

    Args:
        tensor: a 2-D tensor to fill, in place (autograd does not record it).

    Returns:
        ``tensor``.
    """
    _check(tensor, "eye_")
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    from ember.ops.creation import eye
    with no_grad():
        return tensor.copy_(eye(tensor.shape[0], tensor.shape[1], dtype=tensor.dtype, device=tensor.device))


def dirac_(tensor, groups=1):
    """Fill a 3-, 4- or 5-D convolution weight so that the convolution passes its input through.

    Each output channel ``c`` of a group gets a 1 at the centre of the kernel of input channel
    ``c`` (for the first ``min(out_channels // groups, in_channels_per_group)`` channels), and
    every other value is 0.

    Args:
        tensor: a ``(out_channels, in_channels / groups, *kernel)`` tensor to fill, in place.
        groups: the number of groups of the convolution; ``tensor.shape[0]`` must be divisible by
            it (default: 1).

    Returns:
        ``tensor``.
    """
    _check(tensor, "dirac_")
    if tensor.ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tuple(tensor.shape)
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_per_group = sizes[0] // groups
    channels = min(out_per_group, sizes[1])
    values = np.zeros(sizes, dtype=np.float64)
    centre = tuple(s // 2 for s in sizes[2:])
    for g in range(groups):
        for c in range(channels):
            values[(g * out_per_group + c, c) + centre] = 1.0
    return _copy_from_host(tensor, values)


def _copy_from_host(tensor, values: np.ndarray):
    """Write host ``values`` into ``tensor`` (cast on the host first: not every device has float64)."""
    from ember.ops.creation import from_host
    with no_grad():
        return tensor.copy_(from_host(values.astype(np.float64)).to(tensor.dtype).to(tensor.device))


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Fill ``tensor`` with the Glorot (Xavier) uniform initialisation.

    Values are drawn from U(-bound, bound) with ``bound = gain * sqrt(6 / (fan_in + fan_out))``.
    ``fan_in`` is ``tensor.shape[1]`` times the product of the dims after the second (the
    kernel size of a convolution weight), and ``fan_out`` is ``tensor.shape[0]`` times that
    product; ``tensor`` needs at least 2 dims.

    Args:
        tensor: the tensor to fill, in place (autograd does not record it).
        gain: a scale factor, such as ``calculate_gain(...)`` (default: 1).
        generator: the random generator to draw from (default: ember's global one).

    Returns:
        ``tensor``.
    """
    _check(tensor, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Fill ``tensor`` with the Glorot (Xavier) normal initialisation.

    Values are drawn from N(0, std ** 2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``.
    ``fan_in`` is ``tensor.shape[1]`` times the product of the dims after the second (the
    kernel size of a convolution weight), and ``fan_out`` is ``tensor.shape[0]`` times that
    product; ``tensor`` needs at least 2 dims.

    Args:
        tensor: the tensor to fill, in place (autograd does not record it).
        gain: a scale factor, such as ``calculate_gain(...)`` (default: 1).
        generator: the random generator to draw from (default: ember's global one).

    Returns:
        ``tensor``.
    """
    _check(tensor, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """Fill ``tensor`` with the He (Kaiming) uniform initialisation.

    Values are drawn from U(-bound, bound) with ``bound = gain * sqrt(3 / fan)``, where ``gain``
    is ``calculate_gain(nonlinearity, a)`` and ``fan`` is ``fan_in`` or ``fan_out`` as ``mode``
    says. ``fan_in`` is ``tensor.shape[1]`` times the product of the dims after the second (the
    kernel size of a convolution weight), and ``fan_out`` is ``tensor.shape[0]`` times that
    product; ``tensor`` needs at least 2 dims. A tensor with no elements is left as is, with a warning.

    Args:
        tensor: the tensor to fill, in place (autograd does not record it).
        a: the negative slope of the rectifier after this layer (used with ``'leaky_relu'``)
            (default: 0).
        mode: ``'fan_in'`` (default) keeps the variance of the activations in the forward pass;
            ``'fan_out'`` keeps that of the gradients in the backward pass.
        nonlinearity: the nonlinearity after this layer, as ``calculate_gain`` names it
            (default: ``'leaky_relu'``).
        generator: the random generator to draw from (default: ember's global one).

    Returns:
        ``tensor``.
    """
    _check(tensor, "kaiming_uniform_")
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """Fill ``tensor`` with the He (Kaiming) normal initialisation.

    Values are drawn from N(0, std ** 2) with ``std = gain / sqrt(fan)``, where ``gain`` is
    ``calculate_gain(nonlinearity, a)`` and ``fan`` is ``fan_in`` or ``fan_out`` as ``mode``
    says. ``fan_in`` is ``tensor.shape[1]`` times the product of the dims after the second (the
    kernel size of a convolution weight), and ``fan_out`` is ``tensor.shape[0]`` times that
    product; ``tensor`` needs at least 2 dims. A tensor with no elements is left as is, with a warning.

    Args:
        tensor: the tensor to fill, in place (autograd does not record it).
        a: the negative slope of the rectifier after this layer (used with ``'leaky_relu'``)
            (default: 0).
        mode: ``'fan_in'`` (default) keeps the variance of the activations in the forward pass;
            ``'fan_out'`` keeps that of the gradients in the backward pass.
        nonlinearity: the nonlinearity after this layer, as ``calculate_gain`` names it
            (default: ``'leaky_relu'``).
        generator: the random generator to draw from (default: ember's global one).

    Returns:
        ``tensor``.
    """
    _check(tensor, "kaiming_normal_")
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(tensor, gain=1, generator=None):
    """Fill ``tensor`` with a (semi-)orthogonal matrix, scaled by ``gain``.

    The dims after the first are flattened: a ``(rows, cols)`` view gets orthonormal rows
    (when ``rows <= cols``) or columns. The normal draws come from ember's generator; the QR
    decomposition runs in numpy on the host (an init-time cost), and the result is copied to
    the tensor's device. A tensor with no elements is left as is.

    Args:
        tensor: a tensor with at least 2 dims to fill, in place (autograd does not record it).
        gain: a scale factor (default: 1).
        generator: the random generator to draw from (default: ember's global one).

    Returns:
        ``tensor``.
    """
    _check(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    from ember.ops.creation import to_numpy
    from ember.ops.random import randn
    from ember.core import dtype as dt
    with no_grad():
        flat = to_numpy(randn(rows, cols, dtype=dt.float64, generator=generator)).astype(np.float64)
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    q = q * signs
    if rows < cols:
        q = q.T
    return _copy_from_host(tensor, (q * gain).reshape(tuple(tensor.shape)))


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """Fill a 2-D ``tensor`` as a sparse matrix: N(0, std ** 2) values with a fraction of each column zeroed.

    In every column, ``ceil(sparsity * rows)`` randomly chosen elements are set to zero.

    Args:
        tensor: a 2-D tensor to fill, in place (autograd does not record it).
        sparsity: the fraction of each column to zero, in ``[0, 1]``.
        std: the standard deviation of the non-zero values (default: 0.01).
        generator: the random generator to draw from (default: ember's global one).

    Returns:
        ``tensor``.
    """
    _check(tensor, "sparse_")
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    zeros_per_col = int(math.ceil(sparsity * rows))
    from ember.ops.random import rand
    from ember.ops.creation import to_numpy
    with no_grad():
        normal_(tensor, 0.0, std, generator)
        keys = to_numpy(rand(rows, cols, dtype=_draw_dtype(tensor), generator=generator))
    mask = np.ones((rows, cols))
    order = np.argsort(keys, axis=0)
    for c in range(cols):
        mask[order[:zeros_per_col, c], c] = 0.0
    with no_grad():
        normal_values = tensor.detach().cpu().numpy().astype(np.float64)
    return _copy_from_host(tensor, normal_values * mask)
