"""Pooling layers: thin modules over ``ember.nn.functional`` pooling."""
from __future__ import annotations

from ember.nn import functional as F
from ember.ops.creation import ntuple as _ntuple
from ember.nn.modules.module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "LPPool1d",
           "LPPool2d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d"]


class _MaxPoolNd(Module):
    _pool = None

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        """Max-pool ``input``.

        Args:
            input: a tensor of shape ``(N, C, *spatial)`` or ``(C, *spatial)``.

        Returns:
            The pooled tensor, or a ``(pooled, indices)`` pair when ``return_indices`` is True.
        """
        return type(self)._pool(input, self.kernel_size, self.stride, self.padding, self.dilation,
                                ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        """Show the kernel size, stride, padding, dilation and ``ceil_mode``."""
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Applies 1-D max pooling: the maximum of each sliding window, per channel.

    Args:
        kernel_size: the window size: an int.
        stride: the step between windows: an int (default: ``kernel_size``).
        padding: implicit padding with the lowest value on both sides of each spatial dim, at
            most half the effective window size (default: 0).
        dilation: the spacing between the elements of a window (default: 1).
        return_indices: if True, also return the position of each maximum (its row-major
            index in the input plane), as ``MaxUnpool1d`` takes it.
        ceil_mode: if True, round the output size up instead of down, so a last partial window
            that starts inside the input (or its left padding) is kept.

    Shape:
        input ``(N, C, L)`` or ``(C, L)``,
        output ``(N, C, L_out)`` or ``(C, L_out)``.
        Each output spatial size is
        ``floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``
        (``ceil`` with ``ceil_mode``).
    """

    _pool = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """Applies 2-D max pooling: the maximum of each sliding window, per channel.

    Args:
        kernel_size: the window size: an int or a tuple of 2 ints.
        stride: the step between windows: an int or a tuple of 2 ints (default: ``kernel_size``).
        padding: implicit padding with the lowest value on both sides of each spatial dim, at
            most half the effective window size (default: 0).
        dilation: the spacing between the elements of a window (default: 1).
        return_indices: if True, also return the position of each maximum (its row-major
            index in the input plane), as ``MaxUnpool2d`` takes it.
        ceil_mode: if True, round the output size up instead of down, so a last partial window
            that starts inside the input (or its left padding) is kept.

    Shape:
        input ``(N, C, H, W)`` or ``(C, H, W)``,
        output ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``.
        Each output spatial size is
        ``floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``
        (``ceil`` with ``ceil_mode``).
    """

    _pool = staticmethod(F.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """Applies 3-D max pooling: the maximum of each sliding window, per channel.

    Args:
        kernel_size: the window size: an int or a tuple of 3 ints.
        stride: the step between windows: an int or a tuple of 3 ints (default: ``kernel_size``).
        padding: implicit padding with the lowest value on both sides of each spatial dim, at
            most half the effective window size (default: 0).
        dilation: the spacing between the elements of a window (default: 1).
        return_indices: if True, also return the position of each maximum (its row-major
            index in the input plane), as ``MaxUnpool3d`` takes it.
        ceil_mode: if True, round the output size up instead of down, so a last partial window
            that starts inside the input (or its left padding) is kept.

    Shape:
        input ``(N, C, D, H, W)`` or ``(C, D, H, W)``,
        output ``(N, C, D_out, H_out, W_out)`` or ``(C, D_out, H_out, W_out)``.
        Each output spatial size is
        ``floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``
        (``ceil`` with ``ceil_mode``).
    """

    _pool = staticmethod(F.max_pool3d)


class AvgPool1d(Module):
    """Applies 1-D average pooling: the mean of each sliding window, per channel.

    Args:
        kernel_size: the window size: an int.
        stride: the step between windows: an int (default: ``kernel_size``).
        padding: implicit zero padding on both sides of each spatial dim, at most half the
            window size (default: 0).
        ceil_mode: if True, round the output size up instead of down, so a last partial window
            that starts inside the input (or its left padding) is kept.
        count_include_pad: if True (default), the zero padding counts in the divisor of each
            window; if False, only the input elements do.

    Shape:
        input ``(N, C, L)`` or ``(C, L)``,
        output ``(N, C, L_out)`` or ``(C, L_out)``.
        Each output spatial size is
        ``floor((size + 2 * padding - kernel_size) / stride) + 1`` (``ceil`` with ``ceil_mode``).
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        """Pool ``input``.

        Args:
            input: a tensor of shape ``(N, C, *spatial)`` or ``(C, *spatial)``.

        Returns:
            The pooled tensor of shape ``(N, C, *spatial_out)`` or ``(C, *spatial_out)``.
        """
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        """Show the kernel size, stride and padding."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AvgPoolNd(Module):
    _pool = None

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        """Pool ``input``.

        Args:
            input: a tensor of shape ``(N, C, *spatial)`` or ``(C, *spatial)``.

        Returns:
            The pooled tensor of shape ``(N, C, *spatial_out)`` or ``(C, *spatial_out)``.
        """
        return type(self)._pool(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        """Show the kernel size, stride and padding."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """Applies 2-D average pooling: the mean of each sliding window, per channel.

    Args:
        kernel_size: the window size: an int or a tuple of 2 ints.
        stride: the step between windows: an int or a tuple of 2 ints (default: ``kernel_size``).
        padding: implicit zero padding on both sides of each spatial dim, at most half the
            window size (default: 0).
        ceil_mode: if True, round the output size up instead of down, so a last partial window
            that starts inside the input (or its left padding) is kept.
        count_include_pad: if True (default), the zero padding counts in the divisor of each
            window; if False, only the input elements do.
        divisor_override: if given, divide every window sum by this number instead.

    Shape:
        input ``(N, C, H, W)`` or ``(C, H, W)``,
        output ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``.
        Each output spatial size is
        ``floor((size + 2 * padding - kernel_size) / stride) + 1`` (``ceil`` with ``ceil_mode``).
    """

    _pool = staticmethod(F.avg_pool2d)


class AvgPool3d(_AvgPoolNd):
    """Applies 3-D average pooling: the mean of each sliding window, per channel.

    Args:
        kernel_size: the window size: an int or a tuple of 3 ints.
        stride: the step between windows: an int or a tuple of 3 ints (default: ``kernel_size``).
        padding: implicit zero padding on both sides of each spatial dim, at most half the
            window size (default: 0).
        ceil_mode: if True, round the output size up instead of down, so a last partial window
            that starts inside the input (or its left padding) is kept.
        count_include_pad: if True (default), the zero padding counts in the divisor of each
            window; if False, only the input elements do.
        divisor_override: if given, divide every window sum by this number instead.

    Shape:
        input ``(N, C, D, H, W)`` or ``(C, D, H, W)``,
        output ``(N, C, D_out, H_out, W_out)`` or ``(C, D_out, H_out, W_out)``.
        Each output spatial size is
        ``floor((size + 2 * padding - kernel_size) / stride) + 1`` (``ceil`` with ``ceil_mode``).
    """

    _pool = staticmethod(F.avg_pool3d)


class _AdaptivePool(Module):
    _pool = None

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        """Pool ``input``.

        Args:
            input: a tensor of shape ``(N, C, *spatial)`` or ``(C, *spatial)``.

        Returns:
            The pooled tensor of shape ``(N, C, *spatial_out)`` or ``(C, *spatial_out)``.
        """
        return type(self)._pool(input, self.output_size)

    def extra_repr(self) -> str:
        """Show ``output_size``."""
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    """Applies 1-D adaptive avg pooling: windows are chosen to give the requested output size.

    Output position ``i`` of a spatial dim of input size ``S`` and output size ``O`` takes the
    mean over ``[floor(i * S / O), ceil((i + 1) * S / O))``.

    Args:
        output_size: the output spatial size: an int.

    Shape:
        input ``(N, C, L)`` or ``(C, L)``,
        output ``(N, C, L_out)`` or ``(C, L_out)``,
        the ``*_out`` sizes given by ``output_size``.
    """

    _pool = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptivePool):
    """Applies 2-D adaptive avg pooling: windows are chosen to give the requested output size.

    Output position ``i`` of a spatial dim of input size ``S`` and output size ``O`` takes the
    mean over ``[floor(i * S / O), ceil((i + 1) * S / O))``.

    Args:
        output_size: the output spatial size: an int or a tuple of 2 ints;
            a None entry keeps that dim's input size.

    Shape:
        input ``(N, C, H, W)`` or ``(C, H, W)``,
        output ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``,
        the ``*_out`` sizes given by ``output_size``.
    """

    _pool = staticmethod(F.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptivePool):
    """Applies 3-D adaptive avg pooling: windows are chosen to give the requested output size.

    Output position ``i`` of a spatial dim of input size ``S`` and output size ``O`` takes the
    mean over ``[floor(i * S / O), ceil((i + 1) * S / O))``.

    Args:
        output_size: the output spatial size: an int or a tuple of 3 ints;
            a None entry keeps that dim's input size.

    Shape:
        input ``(N, C, D, H, W)`` or ``(C, D, H, W)``,
        output ``(N, C, D_out, H_out, W_out)`` or ``(C, D_out, H_out, W_out)``,
        the ``*_out`` sizes given by ``output_size``.
    """

    _pool = staticmethod(F.adaptive_avg_pool3d)


class _AdaptiveMaxPool(Module):
    _pool = None

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input):
        """Max-pool ``input`` to ``output_size``.

        Args:
            input: a tensor of shape ``(N, C, *spatial)`` or ``(C, *spatial)``.

        Returns:
            The pooled tensor, or a ``(pooled, indices)`` pair when ``return_indices`` is True.
        """
        return type(self)._pool(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        """Show ``output_size``."""
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    """Applies 1-D adaptive max pooling: windows are chosen to give the requested output size.

    Output position ``i`` of a spatial dim of input size ``S`` and output size ``O`` takes the
    maximum over ``[floor(i * S / O), ceil((i + 1) * S / O))``.

    Args:
        output_size: the output spatial size: an int.
        return_indices: if True, also return the position of each maximum (its row-major index
            in the input plane).

    Shape:
        input ``(N, C, L)`` or ``(C, L)``,
        output ``(N, C, L_out)`` or ``(C, L_out)``,
        the ``*_out`` sizes given by ``output_size``.
    """

    _pool = staticmethod(F.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    """Applies 2-D adaptive max pooling: windows are chosen to give the requested output size.

    Output position ``i`` of a spatial dim of input size ``S`` and output size ``O`` takes the
    maximum over ``[floor(i * S / O), ceil((i + 1) * S / O))``.

    Args:
        output_size: the output spatial size: an int or a tuple of 2 ints;
            a None entry keeps that dim's input size.
        return_indices: if True, also return the position of each maximum (its row-major index
            in the input plane).

    Shape:
        input ``(N, C, H, W)`` or ``(C, H, W)``,
        output ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``,
        the ``*_out`` sizes given by ``output_size``.
    """

    _pool = staticmethod(F.adaptive_max_pool2d)


class _LPPool(Module):
    _pool = None

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input):
        """Pool ``input``.

        Args:
            input: a tensor of shape ``(N, C, *spatial)`` or ``(C, *spatial)``.

        Returns:
            The pooled tensor of shape ``(N, C, *spatial_out)`` or ``(C, *spatial_out)``.
        """
        return type(self)._pool(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        """Show ``norm_type``, the kernel size, stride and ``ceil_mode``."""
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPool):
    """Applies 1-D power-average pooling: ``(sum of x ** p over each window) ** (1 / p)``.

    ``p = 1`` gives sum pooling; larger ``p`` weighs the largest values more.

    Args:
        norm_type: the exponent ``p``.
        kernel_size: the window size: an int.
        stride: the step between windows (default: ``kernel_size``).
        ceil_mode: if True, round the output size up instead of down.

    Shape:
        input ``(N, C, L)`` or ``(C, L)``,
        output ``(N, C, L_out)`` or ``(C, L_out)``.
        Each output spatial size is ``floor((size - kernel_size) / stride) + 1``
        (``ceil`` with ``ceil_mode``).
    """

    _pool = staticmethod(F.lp_pool1d)


class LPPool2d(_LPPool):
    """Applies 2-D power-average pooling: ``(sum of x ** p over each window) ** (1 / p)``.

    ``p = 1`` gives sum pooling; larger ``p`` weighs the largest values more.

    Args:
        norm_type: the exponent ``p``.
        kernel_size: the window size: an int or a tuple of 2 ints.
        stride: the step between windows (default: ``kernel_size``).
        ceil_mode: if True, round the output size up instead of down.

    Shape:
        input ``(N, C, H, W)`` or ``(C, H, W)``,
        output ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``.
        Each output spatial size is ``floor((size - kernel_size) / stride) + 1``
        (``ceil`` with ``ceil_mode``).
    """

    _pool = staticmethod(F.lp_pool2d)


class _MaxUnpoolNd(Module):
    _nd = 0
    _unpool = None

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _ntuple(kernel_size, self._nd, "kernel_size")
        self.stride = _ntuple(stride if stride is not None else kernel_size, self._nd, "stride")
        self.padding = _ntuple(padding, self._nd, "padding")

    def forward(self, input, indices, output_size=None):
        """Scatter the values of ``input`` to the positions given by ``indices``.

        Args:
            input: the pooled values, of shape ``(N, C, *spatial)`` or ``(C, *spatial)``.
            indices: the indices returned by max pooling with ``return_indices=True``; the same
                shape as ``input``.
            output_size: the wanted output size (the spatial sizes, optionally preceded by the batch
                and channel sizes), to undo the ambiguity of strided pooling; each must be within
                ``stride`` of the default size.

        Returns:
            A tensor of shape ``(N, C, *spatial_out)`` or ``(C, *spatial_out)``.
        """
        return type(self)._unpool(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        """Show the kernel size, stride and padding."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Computes a partial inverse of ``MaxPool1d``.

    Every value goes back to the position its index names; all other positions are zero.

    Args:
        kernel_size: the window size of the max pooling being inverted: an int.
        stride: its stride (default: ``kernel_size``).
        padding: its padding (default: 0).

    Shape:
        input ``(N, C, L)`` or ``(C, L)``,
        output ``(N, C, L_out)`` or ``(C, L_out)``.
        By default each output spatial size is
        ``(size - 1) * stride - 2 * padding + kernel_size``.
    """

    _nd = 1
    _unpool = staticmethod(F.max_unpool1d)


class MaxUnpool2d(_MaxUnpoolNd):
    """Computes a partial inverse of ``MaxPool2d``.

    Every value goes back to the position its index names; all other positions are zero.

    Args:
        kernel_size: the window size of the max pooling being inverted: an int or a tuple of 2 ints.
        stride: its stride (default: ``kernel_size``).
        padding: its padding (default: 0).

    Shape:
        input ``(N, C, H, W)`` or ``(C, H, W)``,
        output ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``.
        By default each output spatial size is
        ``(size - 1) * stride - 2 * padding + kernel_size``.
    """

    _nd = 2
    _unpool = staticmethod(F.max_unpool2d)


class MaxUnpool3d(_MaxUnpoolNd):
    """Computes a partial inverse of ``MaxPool3d``.

    Every value goes back to the position its index names; all other positions are zero.

    Args:
        kernel_size: the window size of the max pooling being inverted: an int or a tuple of 3 ints.
        stride: its stride (default: ``kernel_size``).
        padding: its padding (default: 0).

    Shape:
        input ``(N, C, D, H, W)`` or ``(C, D, H, W)``,
        output ``(N, C, D_out, H_out, W_out)`` or ``(C, D_out, H_out, W_out)``.
        By default each output spatial size is
        ``(size - 1) * stride - 2 * padding + kernel_size``.
    """

    _nd = 3
    _unpool = staticmethod(F.max_unpool3d)


from ember.nn.modules.pooling_extra import LPPool3d  # noqa: E402,F401  (defined beside; PyTorch's path is this module)
from ember.nn.modules.pooling_fractional import (  # noqa: E402,F401  (defined beside; PyTorch's path)
    AdaptiveMaxPool3d, FractionalMaxPool2d, FractionalMaxPool3d,
)
