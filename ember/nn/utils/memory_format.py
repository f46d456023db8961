"""``nn.utils.convert_conv2d_weight_memory_format`` / ``convert_conv3d_weight_memory_format``: give
the convolution weights of a module tree a memory format (``ember.channels_last`` ...)."""
from __future__ import annotations

from ember.core.autograd import no_grad

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]


def _convert(module, memory_format, classes):
    if isinstance(module, classes):
        with no_grad():
            module.weight.data = module.weight.detach().clone().contiguous(memory_format=memory_format)
    for child in module.children():
        _convert(child, memory_format, classes)
    return module


def convert_conv2d_weight_memory_format(module, memory_format):
    """Lay out the weight of every ``Conv2d`` and ``ConvTranspose2d`` in ``module`` in ``memory_format``.

    The values (and the parameters' identity) are unchanged.

    Args:
        module: the module tree.
        memory_format: e.g. ``ember.channels_last`` or ``ember.contiguous_format``.

    Returns:
        ``module``.
    """
    from ember.nn.modules.conv import Conv2d, ConvTranspose2d
    return _convert(module, memory_format, (Conv2d, ConvTranspose2d))


def convert_conv3d_weight_memory_format(module, memory_format):
    """Lay out the weight of every ``Conv3d`` and ``ConvTranspose3d`` in ``module`` in ``memory_format``.

    Args:
        module: the module tree.
        memory_format: e.g. ``ember.channels_last_3d`` or ``ember.contiguous_format``.

    Returns:
        ``module``.
    """
    from ember.nn.modules.conv import Conv3d, ConvTranspose3d
    return _convert(module, memory_format, (Conv3d, ConvTranspose3d))
