"""AdaptiveMaxPool3d and FractionalMaxPool2d/3d (at ``nn.modules.pooling`` as in PyTorch)."""
from __future__ import annotations

from ember.nn.functional.pooling_fractional import adaptive_max_pool3d, fractional_max_pool2d, fractional_max_pool3d
from ember.nn.modules.module import Module
from ember.nn.modules.pooling import _AdaptiveMaxPool

__all__ = ["AdaptiveMaxPool3d", "FractionalMaxPool2d", "FractionalMaxPool3d"]


class AdaptiveMaxPool3d(_AdaptiveMaxPool):
    """Applies 3-D adaptive max pooling: windows are chosen to give the requested output size.

    Args:
        output_size: the output spatial size: an int or a tuple of 3 ints; a None entry keeps that dim's size.
        return_indices: if True, also return the position of each maximum (its row-major index in the
            input volume).

    Shape:
        input ``(N, C, D, H, W)`` or ``(C, D, H, W)``, output ``(N, C, *output_size)`` or ``(C, *output_size)``.
    """

    _pool = staticmethod(adaptive_max_pool3d)


class _FractionalMaxPool(Module):
    _pool = None
    _nd = 0

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False, _random_samples=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.output_size = output_size
        self.output_ratio = output_ratio
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        if output_size is None and output_ratio is None:
            raise ValueError(f"FractionalMaxPool{self._nd}d requires specifying either an output size, or a "
                             f"pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if output_ratio is not None:
            ratios = (output_ratio,) * self._nd if isinstance(output_ratio, (int, float)) else tuple(output_ratio)
            if not all(0 < r < 1 for r in ratios):
                raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input):
        """Pool ``input`` with fractional windows (fixed by ``_random_samples`` when it was given).

        Args:
            input: ``(N, C, *spatial)`` or ``(C, *spatial)``.

        Returns:
            The pooled tensor, or a ``(pooled, indices)`` pair when ``return_indices`` is True.
        """
        return type(self)._pool(input, self.kernel_size, self.output_size, self.output_ratio, self.return_indices,
                                _random_samples=self._random_samples)


class FractionalMaxPool2d(_FractionalMaxPool):
    """Applies 2-D fractional max pooling: ``kernel_size`` windows at pseudo-random fractional steps.

    Args:
        kernel_size: the window size, an int or a pair.
        output_size: the output size ``(H_out, W_out)``, an int or a pair.
        output_ratio: instead of ``output_size``, its ratio to the input size, in (0, 1).
        return_indices: if True, also return the positions of the maxima.
        _random_samples: optional ``(N, C, 2)`` samples fixing the window placement.

    Shape:
        input ``(N, C, H, W)`` or ``(C, H, W)``, output ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``.
    """

    _pool = staticmethod(fractional_max_pool2d)
    _nd = 2


class FractionalMaxPool3d(_FractionalMaxPool):
    """Applies 3-D fractional max pooling: ``kernel_size`` windows at pseudo-random fractional steps.

    Args:
        kernel_size: the window size, an int or a triple.
        output_size: the output size ``(T_out, H_out, W_out)``, an int or a triple.
        output_ratio: instead of ``output_size``, its ratio to the input size, in (0, 1).
        return_indices: if True, also return the positions of the maxima.
        _random_samples: optional ``(N, C, 3)`` samples fixing the window placement.

    Shape:
        input ``(N, C, T, H, W)`` or ``(C, T, H, W)``, output ``(N, C, T_out, H_out, W_out)`` or unbatched.
    """

    _pool = staticmethod(fractional_max_pool3d)
    _nd = 3
