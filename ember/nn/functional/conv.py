"""Convolutions of ``ember.nn.functional``: the op layer's (``ember.ops.convolution``), as in
PyTorch, where ``torch.conv2d`` and ``torch.nn.functional.conv2d`` are one function."""
from ember.ops.convolution import (conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d,  # noqa: F401
                                   conv_transpose3d)

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
