"""``ember.nn.grad``: the gradients of the convolutions with respect to their input and their
weight, as functions (what ``backward()`` computes for ``F.conv1d/2d/3d``, without the graph)."""
from __future__ import annotations

from ember.ops.convolution import conv_input_grad, conv_weight_grad
from ember.ops.creation import ntuple as _ntuple

__all__ = ["conv1d_input", "conv1d_weight", "conv2d_input", "conv2d_weight", "conv3d_input", "conv3d_weight"]


def _settings(nd, stride, padding, dilation):
    return dict(stride=_ntuple(stride, nd, "stride"), padding=_ntuple(padding, nd, "padding"),
                dilation=_ntuple(dilation, nd, "dilation"))


def _input_grad(nd, input_size, weight, grad_output, stride, padding, dilation, groups):
    size = tuple(int(s) for s in input_size)
    if len(size) == nd:   # spatial sizes only: batch from the gradient, channels from the weight
        size = (grad_output.shape[0], weight.shape[1] * groups) + size
    if len(size) != nd + 2:
        raise ValueError(f"input_size must have {nd} or {nd + 2} elements (got {len(size)})")
    return conv_input_grad(grad_output, weight, size, groups=groups, **_settings(nd, stride, padding, dilation))


def _weight_grad(nd, input, weight_size, grad_output, stride, padding, dilation, groups):
    size = tuple(int(s) for s in weight_size)
    if len(size) != nd + 2:
        raise ValueError(f"weight_size must have {nd + 2} elements (got {len(size)})")
    return conv_weight_grad(input, grad_output, size[2:], groups=groups, **_settings(nd, stride, padding, dilation))


def conv1d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv1d`` with respect to its input.

    Args:
        input_size: the input's shape ``(N, C_in, L)`` (or ``(L,)``).
        weight: the convolution weight ``(C_out, C_in / groups, kL)``.
        grad_output: the gradient of the output ``(N, C_out, L_out)``.
        stride, padding, dilation, groups: the convolution's settings.

    Returns:
        The input gradient, of shape ``input_size``.
    """
    return _input_grad(1, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv1d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv1d`` with respect to its weight.

    Args:
        input: the convolution input ``(N, C_in, L)``.
        weight_size: the weight's shape ``(C_out, C_in / groups, kL)``.
        grad_output: the gradient of the output ``(N, C_out, L_out)``.
        stride, padding, dilation, groups: the convolution's settings.

    Returns:
        The weight gradient, of shape ``weight_size``.
    """
    return _weight_grad(1, input, weight_size, grad_output, stride, padding, dilation, groups)


def conv2d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv2d`` with respect to its input.

    Args:
        input_size: the input's shape ``(N, C_in, H, W)`` (or ``(H, W)``).
        weight: the convolution weight ``(C_out, C_in / groups, kH, kW)``.
        grad_output: the gradient of the output ``(N, C_out, H_out, W_out)``.
        stride, padding, dilation, groups: the convolution's settings.

    Returns:
        The input gradient, of shape ``input_size``.
    """
    return _input_grad(2, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv2d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv2d`` with respect to its weight.

    Args:
        input: the convolution input ``(N, C_in, H, W)``.
        weight_size: the weight's shape ``(C_out, C_in / groups, kH, kW)``.
        grad_output: the gradient of the output ``(N, C_out, H_out, W_out)``.
        stride, padding, dilation, groups: the convolution's settings.

    Returns:
        The weight gradient, of shape ``weight_size``.
    """
    return _weight_grad(2, input, weight_size, grad_output, stride, padding, dilation, groups)


def conv3d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv3d`` with respect to its input.

    Args:
        input_size: the input's shape ``(N, C_in, D, H, W)`` (or ``(D, H, W)``).
        weight: the convolution weight ``(C_out, C_in / groups, kD, kH, kW)``.
        grad_output: the gradient of the output ``(N, C_out, D_out, H_out, W_out)``.
        stride, padding, dilation, groups: the convolution's settings.

    Returns:
        The input gradient, of shape ``input_size``.
    """
    return _input_grad(3, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv3d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv3d`` with respect to its weight.

    Args:
        input: the convolution input ``(N, C_in, D, H, W)``.
        weight_size: the weight's shape ``(C_out, C_in / groups, kD, kH, kW)``.
        grad_output: the gradient of the output ``(N, C_out, D_out, H_out, W_out)``.
        stride, padding, dilation, groups: the convolution's settings.

    Returns:
        The weight gradient, of shape ``weight_size``.
    """
    return _weight_grad(3, input, weight_size, grad_output, stride, padding, dilation, groups)
