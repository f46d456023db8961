"""Convolution layers: Conv1d/2d/3d and ConvTranspose1d/2d/3d.

Weights and biases start as PyTorch documents: kaiming_uniform_(a=sqrt(5)) for the
weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias. ``padding_mode`` other than
'zeros' pads explicitly with ``F.pad`` and then convolves without padding.
"""
from __future__ import annotations

import math

from ember.nn import functional as F
from ember.nn import init
from ember.ops.creation import ntuple as _ntuple
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter
from ember.ops.creation import empty

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    _nd = 0

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, transposed,
                 output_padding, groups, bias, padding_mode, device=None, dtype=None):
        super().__init__()
        nd = self._nd
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {list(_PADDING_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        kernel_size = _ntuple(kernel_size, nd, "kernel_size")
        stride = _ntuple(stride, nd, "stride")
        dilation = _ntuple(dilation, nd, "dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string '{padding}', should be one of ['valid', 'same']")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        else:
            padding = _ntuple(padding, nd, "padding")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = _ntuple(output_padding, nd, "output_padding")
        self.groups = groups
        self.padding_mode = padding_mode
        # F.pad amounts for padding_mode != 'zeros' (last dim first, as F.pad takes them)
        if isinstance(padding, str):
            amounts = []
            if padding == "same":
                for d, k in zip(reversed(dilation), reversed(kernel_size)):
                    total = d * (k - 1)
                    amounts += [total // 2, total - total // 2]
            else:
                amounts = [0, 0] * nd
        else:
            amounts = []
            for p in reversed(padding):
                amounts += [p, p]
        self._reversed_padding_repeated_twice = amounts
        shape = (in_channels, out_channels // groups) if transposed else (out_channels, in_channels // groups)
        self.weight = Parameter(empty(*shape, *kernel_size, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw ``weight`` and ``bias`` from their initial distributions (in place)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        """Show the channel counts, kernel size and stride, and the other settings that differ from their defaults."""
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * len(self.kernel_size):
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if self.dilation != (1,) * len(self.kernel_size):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.kernel_size):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def __setstate__(self, state):
        super().__setstate__(state)
        if not hasattr(self, "padding_mode"):
            self.padding_mode = "zeros"


class _Conv(_ConvNd):
    _conv = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, False, 0, groups,
                         bias, padding_mode, device, dtype)

    def _conv_forward(self, input, weight, bias):
        conv = type(self)._conv
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return conv(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
        return conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input):
        """Convolve ``input`` with the layer's weight (padding it first as ``padding_mode`` says).

        Args:
            input: a tensor of shape ``(N, C_in, *spatial)`` or ``(C_in, *spatial)``.

        Returns:
            A tensor of shape ``(N, C_out, *spatial_out)`` or ``(C_out, *spatial_out)``.
        """
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """Applies a 1-D convolution (cross-correlation) over a batch of 1-D inputs with several channels.

    ``weight`` has shape ``(out_channels, in_channels // groups, *kernel_size)`` and ``bias``
    ``(out_channels,)``. Both start as U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    ``fan_in = (in_channels // groups) * prod(kernel_size)``.

    Args:
        in_channels: the number of channels of the input.
        out_channels: the number of channels produced.
        kernel_size: the size of the kernel: an int or a tuple of 1 ints (k,).
        stride: the step of the kernel: an int or a tuple of 1 ints (default: 1).
        padding: the padding added to both sides of each spatial dim: an int, a tuple of 1
            ints, ``'valid'`` (no padding) or ``'same'`` (the output has the input's size; only
            with stride 1) (default: 0).
        dilation: the spacing between kernel elements: an int or a tuple of 1 ints (default: 1).
        groups: the number of blocked connections from input to output channels; both channel
            counts must be divisible by it (default: 1).
        bias: if False, the layer learns no additive bias (``bias`` is None).
        padding_mode: how the padding is filled: ``'zeros'`` (default), ``'reflect'``,
            ``'replicate'`` or ``'circular'``.
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(N, C_in, L)`` or ``(C_in, L)``, output ``(N, C_out, L_out)`` or
        ``(C_out, L_out)``, where each spatial size is
        ``floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``.
    """

    _nd = 1
    _conv = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """Applies a 2-D convolution (cross-correlation) over a batch of 2-D inputs with several channels.

    ``weight`` has shape ``(out_channels, in_channels // groups, *kernel_size)`` and ``bias``
    ``(out_channels,)``. Both start as U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    ``fan_in = (in_channels // groups) * prod(kernel_size)``.

    Args:
        in_channels: the number of channels of the input.
        out_channels: the number of channels produced.
        kernel_size: the size of the kernel: an int or a tuple of 2 ints (kh, kw).
        stride: the step of the kernel: an int or a tuple of 2 ints (default: 1).
        padding: the padding added to both sides of each spatial dim: an int, a tuple of 2
            ints, ``'valid'`` (no padding) or ``'same'`` (the output has the input's size; only
            with stride 1) (default: 0).
        dilation: the spacing between kernel elements: an int or a tuple of 2 ints (default: 1).
        groups: the number of blocked connections from input to output channels; both channel
            counts must be divisible by it (default: 1).
        bias: if False, the layer learns no additive bias (``bias`` is None).
        padding_mode: how the padding is filled: ``'zeros'`` (default), ``'reflect'``,
            ``'replicate'`` or ``'circular'``.
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(N, C_in, H, W)`` or ``(C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` or
        ``(C_out, H_out, W_out)``, where each spatial size is
        ``floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``.
    """

    _nd = 2
    _conv = staticmethod(F.conv2d)


class Conv3d(_Conv):
    """Applies a 3-D convolution (cross-correlation) over a batch of 3-D inputs with several channels.

    ``weight`` has shape ``(out_channels, in_channels // groups, *kernel_size)`` and ``bias``
    ``(out_channels,)``. Both start as U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    ``fan_in = (in_channels // groups) * prod(kernel_size)``.

    Args:
        in_channels: the number of channels of the input.
        out_channels: the number of channels produced.
        kernel_size: the size of the kernel: an int or a tuple of 3 ints (kd, kh, kw).
        stride: the step of the kernel: an int or a tuple of 3 ints (default: 1).
        padding: the padding added to both sides of each spatial dim: an int, a tuple of 3
            ints, ``'valid'`` (no padding) or ``'same'`` (the output has the input's size; only
            with stride 1) (default: 0).
        dilation: the spacing between kernel elements: an int or a tuple of 3 ints (default: 1).
        groups: the number of blocked connections from input to output channels; both channel
            counts must be divisible by it (default: 1).
        bias: if False, the layer learns no additive bias (``bias`` is None).
        padding_mode: how the padding is filled: ``'zeros'`` (default), ``'reflect'``,
            ``'replicate'`` or ``'circular'``.
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)``, output ``(N, C_out, D_out, H_out, W_out)`` or
        ``(C_out, D_out, H_out, W_out)``, where each spatial size is
        ``floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``.
    """

    _nd = 3
    _conv = staticmethod(F.conv3d)


class _ConvTranspose(_ConvNd):
    _conv_transpose = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f"Only \"zeros\" padding mode is supported for {type(self).__name__}")
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__} does not support string padding, got padding='{padding}'")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, True, output_padding,
                         groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input, output_size):
        """The output_padding that makes the output ``output_size`` (PyTorch's rule)."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        output_size = list(output_size)
        if len(output_size) == nd + 2 or (len(output_size) == nd + 1 and input.ndim == nd + 1):
            output_size = output_size[-nd:]
        if len(output_size) != nd:
            raise ValueError(f"ConvTranspose{nd}D: for {input.ndim}D input, output_size must have {nd} or "
                             f"{nd + 2} elements (got {len(output_size)})")
        spatial = input.shape[-nd:]
        result = []
        for i in range(nd):
            smallest = ((spatial[i] - 1) * self.stride[i] - 2 * self.padding[i]
                        + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            largest = smallest + self.stride[i] - 1
            if not smallest <= output_size[i] <= largest:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes range from "
                                 f"{smallest} to {largest} (for an input of {list(spatial)})")
            result.append(output_size[i] - smallest)
        return tuple(result)

    def forward(self, input, output_size=None):
        """Apply the transposed convolution to ``input``.

        Args:
            input: a tensor of shape ``(N, C_in, *spatial)`` or ``(C_in, *spatial)``.
            output_size: the wanted output size, overriding ``output_padding``: the spatial sizes
                (optionally preceded by the batch and channel sizes). Each must lie between the
                smallest possible output size and that plus ``stride - 1``.

        Returns:
            A tensor of shape ``(N, C_out, *spatial_out)`` or ``(C_out, *spatial_out)``.
        """
        output_padding = self._output_padding(input, output_size)
        return type(self)._conv_transpose(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                                          self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """Applies a 1-D transposed convolution (the gradient of a convolution with respect to its input).

    ``weight`` has shape ``(in_channels, out_channels // groups, *kernel_size)`` and ``bias``
    ``(out_channels,)``. Both start as U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    ``fan_in = (out_channels // groups) * prod(kernel_size)``.

    Args:
        in_channels: the number of channels of the input.
        out_channels: the number of channels produced.
        kernel_size: the size of the kernel: an int or a tuple of 1 ints (k,).
        stride: the step of the kernel: an int or a tuple of 1 ints (default: 1).
        padding: ``dilation * (kernel_size - 1) - padding`` zeros are added to both sides of
            each spatial dim of the input, so ``padding`` trims the output: an int or a tuple of
            1 ints (default: 0); strings are not accepted.
        output_padding: extra size added to one side of each spatial dim of the output, to pick
            among the output sizes a strided convolution maps to the same input size: an int or
            a tuple of 1 ints (default: 0).
        groups: the number of blocked connections from input to output channels; both channel
            counts must be divisible by it (default: 1).
        bias: if False, the layer learns no additive bias (``bias`` is None).
        dilation: the spacing between kernel elements: an int or a tuple of 1 ints (default: 1).
        padding_mode: only ``'zeros'`` is supported.
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(N, C_in, L)`` or ``(C_in, L)``, output ``(N, C_out, L_out)`` or
        ``(C_out, L_out)``, where each spatial size is
        ``(size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1``.
    """

    _nd = 1
    _conv_transpose = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """Applies a 2-D transposed convolution (the gradient of a convolution with respect to its input).

    ``weight`` has shape ``(in_channels, out_channels // groups, *kernel_size)`` and ``bias``
    ``(out_channels,)``. Both start as U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    ``fan_in = (out_channels // groups) * prod(kernel_size)``.

    Args:
        in_channels: the number of channels of the input.
        out_channels: the number of channels produced.
        kernel_size: the size of the kernel: an int or a tuple of 2 ints (kh, kw).
        stride: the step of the kernel: an int or a tuple of 2 ints (default: 1).
        padding: ``dilation * (kernel_size - 1) - padding`` zeros are added to both sides of
            each spatial dim of the input, so ``padding`` trims the output: an int or a tuple of
            2 ints (default: 0); strings are not accepted.
        output_padding: extra size added to one side of each spatial dim of the output, to pick
            among the output sizes a strided convolution maps to the same input size: an int or
            a tuple of 2 ints (default: 0).
        groups: the number of blocked connections from input to output channels; both channel
            counts must be divisible by it (default: 1).
        bias: if False, the layer learns no additive bias (``bias`` is None).
        dilation: the spacing between kernel elements: an int or a tuple of 2 ints (default: 1).
        padding_mode: only ``'zeros'`` is supported.
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(N, C_in, H, W)`` or ``(C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` or
        ``(C_out, H_out, W_out)``, where each spatial size is
        ``(size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1``.
    """

    _nd = 2
    _conv_transpose = staticmethod(F.conv_transpose2d)


class ConvTranspose3d(_ConvTranspose):
    """Applies a 3-D transposed convolution (the gradient of a convolution with respect to its input).

    ``weight`` has shape ``(in_channels, out_channels // groups, *kernel_size)`` and ``bias``
    ``(out_channels,)``. Both start as U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    ``fan_in = (out_channels // groups) * prod(kernel_size)``.

    Args:
        in_channels: the number of channels of the input.
        out_channels: the number of channels produced.
        kernel_size: the size of the kernel: an int or a tuple of 3 ints (kd, kh, kw).
        stride: the step of the kernel: an int or a tuple of 3 ints (default: 1).
        padding: ``dilation * (kernel_size - 1) - padding`` zeros are added to both sides of
            each spatial dim of the input, so ``padding`` trims the output: an int or a tuple of
            3 ints (default: 0); strings are not accepted.
        output_padding: extra size added to one side of each spatial dim of the output, to pick
            among the output sizes a strided convolution maps to the same input size: an int or
            a tuple of 3 ints (default: 0).
        groups: the number of blocked connections from input to output channels; both channel
            counts must be divisible by it (default: 1).
        bias: if False, the layer learns no additive bias (``bias`` is None).
        dilation: the spacing between kernel elements: an int or a tuple of 3 ints (default: 1).
        padding_mode: only ``'zeros'`` is supported.
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)``, output ``(N, C_out, D_out, H_out, W_out)`` or
        ``(C_out, D_out, H_out, W_out)``, where each spatial size is
        ``(size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1``.
    """

    _nd = 3
    _conv_transpose = staticmethod(F.conv_transpose3d)


_LATE = {'LazyConv1d', 'LazyConv2d', 'LazyConv3d', 'LazyConvTranspose1d', 'LazyConvTranspose2d', 'LazyConvTranspose3d'}  # at PyTorch's path here, defined in ember.nn.modules.lazy (which imports this module)


def __getattr__(name):
    if name in _LATE:
        import importlib
        return getattr(importlib.import_module("ember.nn.modules.lazy"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
