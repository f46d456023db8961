"""Normalization: batch_norm, instance_norm, layer_norm, group_norm, rms_norm,
and local_response_norm.

Statistics use the biased variance (divide by n), as PyTorch does for normalizing;
running variances are updated with the unbiased one. Running statistics are updated in
place, outside the autograd graph. Half-precision inputs are normalized in float32.
"""
from __future__ import annotations

import ember
from ember.core import dtype as dt
from ember.dispatch.public_op import dispatch_point
from ember.core.autograd import no_grad
from ember.dispatch.ops import OPS
from ember.ops.reduction import run_composite

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm", "local_response_norm"]


def _in_float32(fn):
    """Run ``fn`` in float32 for half-precision inputs (statistics need the range) and cast back."""
    import functools

    @functools.wraps(fn)
    def wrapper(input, *args, **kwargs):
        if input.dtype not in (dt.float16, dt.bfloat16):
            return fn(input, *args, **kwargs)
        return fn(input.to(dt.float32), *args, **kwargs).to(input.dtype)
    return wrapper


_KERNEL_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int", "int64": "Long"}


def _moments(x, dims):
    mean = x.mean(dims, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(dims, keepdim=True)
    return mean, centered, var


def _channel_shape(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _affine(out, weight, bias, shape):
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def _update_running(running, value, momentum):
    with no_grad():
        running.mul_(1 - momentum).add_(value.detach().to(running.dtype) * momentum)


@_in_float32
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalize each channel (dim 1) over the batch and spatial dims.

    In training the statistics of the batch are used and, when given, ``running_mean`` and
    ``running_var`` are updated in place as ``(1 - momentum) * running + momentum * batch``
    (the variance update uses the unbiased batch variance). In evaluation the running
    statistics normalize the input.

    Args:
        input: tensor of shape ``(N, C, *)``.
        running_mean: ``(C,)`` running mean; required when ``training`` is ``False``.
        running_var: ``(C,)`` running variance; required when ``training`` is ``False``.
        weight: optional ``(C,)`` scale applied after normalizing.
        bias: optional ``(C,)`` shift applied after normalizing.
        training: use (and record) batch statistics if ``True``, running statistics otherwise.
            Default: ``False``.
        momentum: weight of the new batch statistic in the running averages. Default: ``0.1``.
        eps: added to the variance before the square root. Default: ``1e-5``.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        ValueError: if ``input`` has fewer than 2 dims, or has only one value per channel in training.
        RuntimeError: if a per-channel tensor has the wrong size, or running statistics are missing in
            evaluation.
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input with at least 2 dims (N, C, ...), got input of size "
                         f"{list(input.shape)}")
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and t.numel() != channels:
            raise RuntimeError(f"batch_norm: {name} should contain {channels} elements not {t.numel()}")
    dims = (0,) + tuple(range(2, input.ndim))
    shape = _channel_shape(input)
    if training:
        count = input.numel() // max(channels, 1)
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                             f"{list(input.shape)}")
        mean, centered, var = _moments(input, dims)
        if running_mean is not None:
            _update_running(running_mean, mean.reshape(channels), momentum)
        if running_var is not None:
            _update_running(running_var, var.reshape(channels) * (count / (count - 1)), momentum)
        out = centered * ember.rsqrt(var + eps)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm: running_mean and running_var must be defined in evaluation mode "
                               "(training=False)")
        out = (input - running_mean.reshape(shape)) * ember.rsqrt(running_var.reshape(shape) + eps)
    return _affine(out, weight, bias, shape)


@_in_float32
def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalize each (sample, channel) over its spatial dims.

    With ``use_input_stats`` each instance is normalized by its own statistics, and the
    running statistics, when given, are updated in place with their average over the batch;
    otherwise the running statistics normalize the input.

    Args:
        input: tensor of shape ``(N, C, *)`` with at least one spatial dim.
        running_mean: optional ``(C,)`` running mean.
        running_var: optional ``(C,)`` running variance.
        weight: optional ``(C,)`` scale applied after normalizing.
        bias: optional ``(C,)`` shift applied after normalizing.
        use_input_stats: normalize with each instance's own statistics if ``True`` (default), with the
            running statistics (which must then be given) otherwise.
        momentum: weight of the new statistic in the running averages. Default: ``0.1``.
        eps: added to the variance before the square root. Default: ``1e-5``.

    Returns:
        A tensor of ``input``'s shape and dtype.
    """
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected an input with at least 3 dims (N, C, ...), got input of size "
                         f"{list(input.shape)}")
    n, c = input.shape[:2]
    shape = _channel_shape(input)
    if use_input_stats:
        dims = tuple(range(2, input.ndim))
        if input.numel() // max(n * c, 1) <= 1:
            raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                             f"{list(input.shape)}")
        mean, centered, var = _moments(input, dims)
        count = input.numel() // max(n * c, 1)
        if running_mean is not None:
            _update_running(running_mean, mean.reshape(n, c).mean(0), momentum)
        if running_var is not None:
            _update_running(running_var, (var.reshape(n, c) * (count / (count - 1))).mean(0), momentum)
        out = centered * ember.rsqrt(var + eps)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("instance_norm: Expected running_mean and running_var to be defined when "
                               "use_input_stats is false")
        out = (input - running_mean.reshape(shape)) * ember.rsqrt(running_var.reshape(shape) + eps)
    return _affine(out, weight, bias, shape)


def _normalized_dims(input, normalized_shape, name):
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != shape or input.ndim < k:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape [*, "
                           f"{', '.join(str(s) for s in shape)}], but got input of size{list(input.shape)}")
    return shape, tuple(range(input.ndim - k, input.ndim))


def _check_param_dtypes(input, weight, bias):
    """PyTorch's rule for layer_norm's parameters: the input's dtype, or float32 for a bfloat16 /
    float16 input (its "mixed dtype" kernels); anything else raises, with its messages."""
    from ember.ops.out import _title
    params = [t for t in (weight, bias) if t is not None]
    if not params:
        return
    first, rest = params[0], params[1:]
    if first.dtype is input.dtype:
        for t in rest:
            if t.dtype is not input.dtype:
                raise RuntimeError(f"expected scalar type {_title(input.dtype)} but found {_title(t.dtype)}")
    elif first.dtype is dt.float32 and all(t.dtype is dt.float32 for t in rest):
        if input.dtype not in (dt.bfloat16, dt.float16):
            raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")
    else:
        raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")


@dispatch_point("layer_norm")
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the trailing ``normalized_shape`` dims.

    Args:
        input: tensor whose last dims equal ``normalized_shape``.
        normalized_shape: an int or sequence of ints: the trailing shape to normalize over.
        weight: optional scale of shape ``normalized_shape``, applied after normalizing.
        bias: optional shift of shape ``normalized_shape``, applied after normalizing.
        eps: added to the variance before the square root. Default: ``1e-5``.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        RuntimeError: if ``input`` does not end with ``normalized_shape``, ``weight``/``bias`` has
            another shape, or their dtypes are neither ``input``'s nor float32 for a half-precision input.
    """
    shape, dims = _normalized_dims(input, normalized_shape, "layer_norm")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"LayerNormKernelImpl\" not implemented for '{_KERNEL_NAMES[input.dtype.name]}'")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise RuntimeError(f"layer_norm: expected {name} of shape {list(shape)}, got {list(t.shape)}")
    _check_param_dtypes(input, weight, bias)
    return run_composite(OPS["layer_norm"], input, weight, bias, normalized_ndim=len(dims), eps=eps)[0]


@dispatch_point("rms_norm")
def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x ** 2) + eps) over the trailing dims; eps defaults to the dtype's machine epsilon.

    Args:
        input: tensor whose last dims equal ``normalized_shape``.
        normalized_shape: an int or sequence of ints: the trailing shape to normalize over.
        weight: optional scale of shape ``normalized_shape``, applied after normalizing.
        eps: added to the mean square; ``None`` uses ``finfo(input.dtype).eps``.

    Returns:
        A tensor of ``input``'s shape and dtype.
    """
    if eps is None:
        eps = ember.finfo(input.dtype).eps
    return _rms_norm(input, normalized_shape, weight, eps)


@_in_float32
def _rms_norm(input, normalized_shape, weight, eps):
    shape, dims = _normalized_dims(input, normalized_shape, "rms_norm")
    if weight is not None and tuple(weight.shape) != shape:
        raise RuntimeError(f"rms_norm: expected weight of shape {list(shape)}, got {list(weight.shape)}")
    out = input * ember.rsqrt((input * input).mean(dims, keepdim=True) + eps)
    return out * weight if weight is not None else out


@dispatch_point("group_norm")
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Split the channels into ``num_groups`` groups; normalize each (sample, group).

    Args:
        input: tensor of shape ``(N, C, *)``.
        num_groups: number of groups; must divide ``C``.
        weight: optional ``(C,)`` per-channel scale applied after normalizing.
        bias: optional ``(C,)`` per-channel shift applied after normalizing.
        eps: added to the variance before the square root. Default: ``1e-5``.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        RuntimeError: the channels do not split into ``num_groups``, ``weight``/``bias`` is not of size ``C``,
            or their dtypes are neither ``input``'s nor float32 for a half-precision input.
        NotImplementedError: ``input`` is not floating point.
    """
    if input.ndim < 2:
        raise RuntimeError(f"group_norm: expected an input with at least 2 dims (N, C, ...), got input of size "
                           f"{list(input.shape)}")
    n, c = input.shape[:2]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {list(input.shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in input, "
                               f"but got {name} of shape {list(t.shape)} and input of shape {list(input.shape)}")
    if not input.dtype.is_floating_point:
        from ember.ops.out import _title
        raise NotImplementedError(f"\"GroupNormKernelImpl\" not implemented for "
                                  f"'{_KERNEL_NAMES.get(input.dtype.name, _title(input.dtype))}'")
    _check_param_dtypes(input, weight, bias)  # the same rule as layer_norm's
    return _group_norm(input, num_groups, weight, bias, eps)


@_in_float32
def _group_norm(input, num_groups, weight, bias, eps):
    n = input.shape[0]
    grouped = input.reshape(n, num_groups, -1)
    _, centered, var = _moments(grouped, (2,))
    out = (centered * ember.rsqrt(var + eps)).reshape(input.shape)
    return _affine(out, weight, bias, _channel_shape(input))


@_in_float32
def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Divide by (k + alpha * mean of squares over ``size`` neighbouring channels) ** beta.

    The window is centred on each channel and zero-padded at the ends of the channel dim;
    the mean always divides by ``size``.

    Args:
        input: tensor of shape ``(N, C, *)`` with at least 3 dims.
        size: number of neighbouring channels in the window.
        alpha: multiplicative factor. Default: ``1e-4``.
        beta: exponent. Default: ``0.75``.
        k: additive constant. Default: ``1.0``.

    Returns:
        A tensor of ``input``'s shape.
    """
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)")
    if input.numel() == 0:
        return input
    from ember.ops.shape import constant_pad_nd as _pad_constant
    squares = (input * input).unsqueeze(1)                              # (N, 1, C, ...)
    amounts = (0, 0) * (input.ndim - 2) + (size // 2, (size - 1) // 2)
    padded = _pad_constant(squares, amounts, 0)
    channels = input.shape[1]
    total = None
    for j in range(size):
        part = padded.narrow(2, j, channels)
        total = part if total is None else total + part
    div = (total.squeeze(1) * (alpha / size) + k).pow(beta)
    return input / div

