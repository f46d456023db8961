"""Fake quantization (quantization-aware training): ``fake_quantize_per_tensor_affine`` and
``fake_quantize_per_channel_affine``.

The values are quantized and dequantized in floating point,
``(clamp(round(x / scale + zero_point), quant_min, quant_max) - zero_point) * scale``, with
round-half-to-even as PyTorch's; the gradient is the straight-through estimator: it passes where
the rounded value lies in ``[quant_min, quant_max]`` and is zero where it was clamped. Written in
ember ops, so it runs and differentiates on every device.
"""
from __future__ import annotations

from ember.core import dtype as dt
from ember.core.tensor import Tensor
from ember.ops import elementwise as ew
from ember.ops.creation import cast
from ember.ops.public import public


def _check_range(quant_min, quant_max):
    if quant_min > quant_max:
        raise RuntimeError("`quant_min` should be less than or equal to `quant_max`.")


def _fake_quantize(input, scale, zero_point, quant_min, quant_max):
    """The fake-quantized values, with the straight-through gradient (``scale``/``zero_point``:
    numbers or tensors broadcasting against ``input``)."""
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"fake_quantize: expected a floating point input, got {input.dtype}")
    q = ew.add(ew.round(ew.add(ew.div(input.detach(), scale), zero_point)), 0.0)  # + 0.0: -0.0 becomes 0.0
    kept = ew.logical_and(ew.ge(q, quant_min), ew.le(q, quant_max))
    values = ew.mul(ew.sub(ew.clamp(q, min=quant_min, max=quant_max), zero_point), scale)
    values = cast(values, input.dtype)
    if not input.requires_grad:
        return values
    # value: the fake-quantized one; gradient: 1 where not clamped, 0 where clamped
    return ew.add(values, ew.mul(ew.sub(input, input.detach()), cast(kept, input.dtype)))


@public
def fake_quantize_per_tensor_affine(input, scale, zero_point, quant_min, quant_max) -> Tensor:
    """Quantize and dequantize ``input`` with one scale and zero point (affine, per tensor).

    Args:
        input: a floating-point tensor.
        scale: the quantization step (a float, or a one-element float tensor).
        zero_point: the integer that 0.0 maps to (an int, or a one-element int32 tensor).
        quant_min: the smallest quantized value.
        quant_max: the largest quantized value.

    Returns:
        A tensor of ``input``'s shape and dtype; its gradient passes where the value was not clamped.

    Raises:
        RuntimeError: ``quant_min > quant_max``, or ``zero_point`` outside ``[quant_min, quant_max]``.
    """
    _check_range(quant_min, quant_max)
    if isinstance(scale, Tensor):
        scale = float(scale.reshape(-1)[0].item())
    if isinstance(zero_point, Tensor):
        zero_point = int(zero_point.reshape(-1)[0].item())
    if not quant_min <= zero_point <= quant_max:
        raise RuntimeError("`zero_point` must be between `quant_min` and `quant_max`.")
    return _fake_quantize(input, float(scale), int(zero_point), quant_min, quant_max)


@public
def fake_quantize_per_channel_affine(input, scale, zero_point, axis, quant_min, quant_max) -> Tensor:
    """Quantize and dequantize ``input`` with a scale and zero point per slice along ``axis``.

    Args:
        input: a floating-point tensor.
        scale: a 1-d float tensor, one step per channel.
        zero_point: a 1-d int32 (or floating) tensor, one zero point per channel.
        axis: the channel dimension.
        quant_min: the smallest quantized value.
        quant_max: the largest quantized value.

    Returns:
        A tensor of ``input``'s shape and dtype; its gradient passes where the value was not clamped.

    Raises:
        RuntimeError: for inconsistent shapes, an int64 ``zero_point``, a bad range, or a zero point
            outside it.
    """
    _check_range(quant_min, quant_max)
    if zero_point.dtype not in (dt.int32, dt.float32, dt.float16, dt.float64, dt.bfloat16):
        from ember.ops.out import _title
        raise RuntimeError(f"Zero-point must be Int32, Float or Half, found {_title(zero_point.dtype)}")
    axis = axis % input.ndim
    channels = input.shape[axis]
    if scale.ndim != 1 or zero_point.ndim != 1 or scale.shape[0] != channels or zero_point.shape[0] != channels:
        raise RuntimeError("dimensions of scale and zero-point are not consistent with input tensor")
    if bool(ew.logical_or(ew.lt(zero_point, quant_min), ew.gt(zero_point, quant_max)).any()):
        raise RuntimeError("`zero_point` must be between `quant_min` and `quant_max`.")
    along = tuple(channels if d == axis else 1 for d in range(input.ndim))
    step = cast(scale, input.dtype).reshape(along)
    zero = cast(zero_point, input.dtype).reshape(along)
    return _fake_quantize(input, step, zero, quant_min, quant_max)


__all__ = ["fake_quantize_per_tensor_affine", "fake_quantize_per_channel_affine"]
