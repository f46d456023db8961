"""Fold an eval-mode batch norm into the convolution or linear layer before it."""
from __future__ import annotations

import copy

from ember.core.autograd import no_grad
from ember.nn.parameter import Parameter

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights"]


def fuse_conv_bn_eval(conv, bn, transpose=False):
    """Return a copy of ``conv`` that computes ``bn(conv(x))`` (both in eval mode) in one layer.

    Args:
        conv: a convolution module in eval mode.
        bn: the batch norm after it, in eval mode, with running statistics.
        transpose: whether ``conv`` is a transposed convolution (output channels on dim 1).

    Returns:
        The fused convolution (a deep copy of ``conv`` with new weight and bias).
    """
    if conv.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    fused = copy.deepcopy(conv)
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("bn.running_mean and bn.running_var must not be None")
    fused.weight, fused.bias = fuse_conv_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                    bn.eps, bn.weight, bn.bias, transpose)
    return fused


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose=False):
    """Return the weight and bias of a convolution followed by a batch norm, as one convolution.

    Args:
        conv_w: the convolution weight.
        conv_b: its bias, or None.
        bn_rm: the batch norm's running mean.
        bn_rv: its running variance.
        bn_eps: its eps.
        bn_w: its weight (None: ones).
        bn_b: its bias (None: zeros).
        transpose: whether the convolution is transposed.

    Returns:
        ``(weight, bias)``, two new Parameters (with ``conv_w``'s ``requires_grad``).
    """
    import ember
    with no_grad():
        dtype = conv_w.dtype
        bias_dtype = conv_b.dtype if conv_b is not None else dtype
        if conv_b is None:
            conv_b = ember.zeros_like(bn_rm)
        if bn_w is None:
            bn_w = ember.ones_like(bn_rm)
        if bn_b is None:
            bn_b = ember.zeros_like(bn_rm)
        scale = bn_w * ember.rsqrt(bn_rv + bn_eps)
        shape = [1] * conv_w.ndim
        shape[1 if transpose else 0] = -1
        weight = (conv_w * scale.to(dtype).reshape(shape)).to(dtype)
        bias = ((conv_b - bn_rm) * scale + bn_b).to(bias_dtype)
    return Parameter(weight, conv_w.requires_grad), Parameter(bias, conv_b.requires_grad)


def fuse_linear_bn_eval(linear, bn):
    """Return a copy of ``linear`` that computes ``bn(linear(x))`` (both in eval mode) in one layer.

    Args:
        linear: a linear module in eval mode.
        bn: the batch norm after it, in eval mode; its features must equal ``linear``'s outputs
            (or be 1, broadcast).

    Returns:
        The fused linear layer (a deep copy of ``linear``).
    """
    if linear.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    if not (linear.out_features == bn.num_features or bn.num_features == 1):
        raise AssertionError(f"To fuse, linear.out_features == bn.num_features or bn.num_features == 1, got "
                             f"linear.out_features={linear.out_features} and bn.num_features={bn.num_features}")
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("bn.running_mean and bn.running_var must not be None")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                      bn.eps, bn.weight, bn.bias)
    return fused


def fuse_linear_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """Return the weight and bias of a linear layer followed by a batch norm, as one linear layer.

    Args:
        linear_w: the linear weight ``(out, in)``.
        linear_b: its bias, or None.
        bn_rm: the batch norm's running mean.
        bn_rv: its running variance.
        bn_eps: its eps.
        bn_w: its weight.
        bn_b: its bias.

    Returns:
        ``(weight, bias)``, two new Parameters (with ``linear_w``'s ``requires_grad``).
    """
    import ember
    with no_grad():
        if linear_b is None:
            linear_b = ember.zeros_like(bn_rm)
        scale = bn_w * ember.rsqrt(bn_rv + bn_eps)
        weight = linear_w * scale.unsqueeze(-1)
        bias = (linear_b - bn_rm) * scale + bn_b
    return Parameter(weight, linear_w.requires_grad), Parameter(bias, linear_b.requires_grad)
