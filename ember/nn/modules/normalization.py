"""Normalization layers: BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm, GroupNorm, RMSNorm,
LocalResponseNorm.

BatchNorm keeps ``running_mean`` / ``running_var`` / ``num_batches_tracked`` buffers (as
PyTorch names them, so state_dicts interoperate). ``momentum=None`` makes the running
statistics a cumulative average (factor 1 / num_batches_tracked).
"""
from __future__ import annotations

import numbers

from ember.core import dtype as dt
from ember.core.autograd import no_grad
from ember.nn import functional as F
from ember.nn import init
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter
from ember.ops.creation import empty, ones, tensor, zeros

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
           "LayerNorm", "GroupNorm", "RMSNorm", "LocalResponseNorm"]


class _NormBase(Module):
    """Shared state of batch and instance norm: affine parameters and running statistics."""

    _version = 2

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(empty(num_features, device=device, dtype=dtype))
            self.bias = Parameter(empty(num_features, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=dt.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Reset ``running_mean`` to 0, ``running_var`` to 1 and ``num_batches_tracked`` to 0 (when tracked)."""
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Reset the running statistics, and ``weight`` to 1 and ``bias`` to 0 when ``affine``."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def _check_input_dim(self, input):
        raise NotImplementedError

    def extra_repr(self) -> str:
        """Show ``num_features``, ``eps``, ``momentum``, ``affine`` and ``track_running_stats``."""
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        version = local_metadata.get("version", None)
        key = prefix + "num_batches_tracked"
        if (version is None or version < 2) and self.track_running_stats and key not in state_dict:
            # checkpoints from before num_batches_tracked existed
            state_dict[key] = self.num_batches_tracked if self.num_batches_tracked is not None \
                and self.num_batches_tracked.device.type != "meta" else tensor(0, dtype=dt.int64)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)


class _BatchNorm(_NormBase):
    def forward(self, input):
        """Normalize ``input`` per channel (and update the running statistics in training mode).

        Args:
            input: a tensor with channels on dim 1, of the rank the class expects.

        Returns:
            The normalized tensor, of the same shape.
        """
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            with no_grad():
                self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked.item()) if self.momentum is None else self.momentum
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if keep else None, self.running_var if keep else None,
                            self.weight, self.bias, use_batch_stats, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Applies batch normalization over a batch of feature vectors or 1-D sequences.

    Each channel is normalized with the mean and (biased) variance over the batch and
    spatial dims, ``y = (x - mean) / sqrt(var + eps) * weight + bias``. In training mode the
    batch statistics are used and, with ``track_running_stats``, folded into the
    ``running_mean`` / ``running_var`` buffers (the running variance uses the unbiased
    estimate); in evaluation mode the running statistics are used instead. ``weight``
    starts at 1 and ``bias`` at 0.

    Args:
        num_features: the number of channels ``C``.
        eps: added to the variance for numerical stability (default: 1e-5).
        momentum: the weight of the new batch statistic in the running average,
            ``running = (1 - momentum) * running + momentum * batch`` (default: 0.1); None makes
            it a cumulative average over all batches seen.
        affine: if True (default), learn a per-channel ``weight`` and ``bias``.
        track_running_stats: if True (default), keep the running statistics (and the
            ``num_batches_tracked`` counter); if False, batch statistics are used in evaluation
            mode too.
        device: where the parameters and buffers are created.
        dtype: their dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(N, C)`` or ``(N, C, L)``, output of the same shape.
    """

    def _check_input_dim(self, input):
        if input.ndim not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.ndim}D input)")


class BatchNorm2d(_BatchNorm):
    """Applies batch normalization over a batch of 2-D feature maps.

    Each channel is normalized with the mean and (biased) variance over the batch and
    spatial dims, ``y = (x - mean) / sqrt(var + eps) * weight + bias``. In training mode the
    batch statistics are used and, with ``track_running_stats``, folded into the
    ``running_mean`` / ``running_var`` buffers (the running variance uses the unbiased
    estimate); in evaluation mode the running statistics are used instead. ``weight``
    starts at 1 and ``bias`` at 0.

    Args:
        num_features: the number of channels ``C``.
        eps: added to the variance for numerical stability (default: 1e-5).
        momentum: the weight of the new batch statistic in the running average,
            ``running = (1 - momentum) * running + momentum * batch`` (default: 0.1); None makes
            it a cumulative average over all batches seen.
        affine: if True (default), learn a per-channel ``weight`` and ``bias``.
        track_running_stats: if True (default), keep the running statistics (and the
            ``num_batches_tracked`` counter); if False, batch statistics are used in evaluation
            mode too.
        device: where the parameters and buffers are created.
        dtype: their dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(N, C, H, W)``, output of the same shape.
    """

    def _check_input_dim(self, input):
        if input.ndim != 4:
            raise ValueError(f"expected 4D input (got {input.ndim}D input)")


class BatchNorm3d(_BatchNorm):
    """Applies batch normalization over a batch of 3-D feature maps.

    Each channel is normalized with the mean and (biased) variance over the batch and
    spatial dims, ``y = (x - mean) / sqrt(var + eps) * weight + bias``. In training mode the
    batch statistics are used and, with ``track_running_stats``, folded into the
    ``running_mean`` / ``running_var`` buffers (the running variance uses the unbiased
    estimate); in evaluation mode the running statistics are used instead. ``weight``
    starts at 1 and ``bias`` at 0.

    Args:
        num_features: the number of channels ``C``.
        eps: added to the variance for numerical stability (default: 1e-5).
        momentum: the weight of the new batch statistic in the running average,
            ``running = (1 - momentum) * running + momentum * batch`` (default: 0.1); None makes
            it a cumulative average over all batches seen.
        affine: if True (default), learn a per-channel ``weight`` and ``bias``.
        track_running_stats: if True (default), keep the running statistics (and the
            ``num_batches_tracked`` counter); if False, batch statistics are used in evaluation
            mode too.
        device: where the parameters and buffers are created.
        dtype: their dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(N, C, D, H, W)``, output of the same shape.
    """

    def _check_input_dim(self, input):
        if input.ndim != 5:
            raise ValueError(f"expected 5D input (got {input.ndim}D input)")


class _InstanceNorm(_NormBase):
    _nd = 0

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None,
                 dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def forward(self, input):
        """Normalize every channel of every sample of ``input`` over its spatial dims.

        Args:
            input: a batched ``(N, C, *spatial)`` or unbatched ``(C, *spatial)`` tensor.

        Returns:
            The normalized tensor, of the same shape.
        """
        nd = self._nd
        if input.ndim not in (nd + 1, nd + 2):
            raise ValueError(f"expected {nd + 1}D or {nd + 2}D input (got {input.ndim}D input)")
        batched = input.ndim == nd + 2
        channels = input.shape[1 if batched else 0]
        if channels != self.num_features and self.affine:
            raise ValueError(f"expected input's size at dim={1 if batched else 0} to match num_features "
                             f"({self.num_features}), but got: {channels}.")
        x = input if batched else input.unsqueeze(0)
        out = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                              self.training or not self.track_running_stats,
                              self.momentum if self.momentum is not None else 0.0, self.eps)
        return out if batched else out.squeeze(0)


class InstanceNorm1d(_InstanceNorm):
    """Applies instance normalization: each channel of each sample is normalized over its 1-D spatial dims.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, with the mean and (biased) variance
    of that one channel of that one sample.

    Args:
        num_features: the number of channels ``C``.
        eps: added to the variance for numerical stability (default: 1e-5).
        momentum: the weight of the new statistic in the running averages (default: 0.1);
            None leaves the running statistics unchanged.
        affine: if True, learn a per-channel ``weight`` (starting at 1) and ``bias`` (starting
            at 0) (default: False).
        track_running_stats: if True, keep running averages of the per-channel statistics
            (averaged over the batch) while training and normalize with them in evaluation
            mode (default: False: input statistics are always used).
        device: where the parameters and buffers are created.
        dtype: their dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(N, C, L)`` or ``(C, L)``, output of the same shape.
    """

    _nd = 1


class InstanceNorm2d(_InstanceNorm):
    """Applies instance normalization: each channel of each sample is normalized over its 2-D spatial dims.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, with the mean and (biased) variance
    of that one channel of that one sample.

    Args:
        num_features: the number of channels ``C``.
        eps: added to the variance for numerical stability (default: 1e-5).
        momentum: the weight of the new statistic in the running averages (default: 0.1);
            None leaves the running statistics unchanged.
        affine: if True, learn a per-channel ``weight`` (starting at 1) and ``bias`` (starting
            at 0) (default: False).
        track_running_stats: if True, keep running averages of the per-channel statistics
            (averaged over the batch) while training and normalize with them in evaluation
            mode (default: False: input statistics are always used).
        device: where the parameters and buffers are created.
        dtype: their dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(N, C, H, W)`` or ``(C, H, W)``, output of the same shape.
    """

    _nd = 2


class InstanceNorm3d(_InstanceNorm):
    """Applies instance normalization: each channel of each sample is normalized over its 3-D spatial dims.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, with the mean and (biased) variance
    of that one channel of that one sample.

    Args:
        num_features: the number of channels ``C``.
        eps: added to the variance for numerical stability (default: 1e-5).
        momentum: the weight of the new statistic in the running averages (default: 0.1);
            None leaves the running statistics unchanged.
        affine: if True, learn a per-channel ``weight`` (starting at 1) and ``bias`` (starting
            at 0) (default: False).
        track_running_stats: if True, keep running averages of the per-channel statistics
            (averaged over the batch) while training and normalize with them in evaluation
            mode (default: False: input statistics are always used).
        device: where the parameters and buffers are created.
        dtype: their dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(N, C, D, H, W)`` or ``(C, D, H, W)``, output of the same shape.
    """

    _nd = 3


def _shape_tuple(normalized_shape):
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


class LayerNorm(Module):
    """Applies layer normalization over the trailing ``normalized_shape`` dims of each sample.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, with the mean and (biased) variance
    over those trailing dims. Unlike batch norm, the statistics never involve other samples,
    so training and evaluation behave the same.

    Args:
        normalized_shape: the shape of the trailing dims to normalize over: an int (the last
            dim's size) or a sequence of ints.
        eps: added to the variance for numerical stability (default: 1e-5).
        elementwise_affine: if True (default), learn a ``weight`` (starting at 1) and a ``bias``
            (starting at 0), both of shape ``normalized_shape``.
        bias: if False, learn no ``bias`` (only with ``elementwise_affine``).
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(*, *normalized_shape)``, output of the same shape.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(empty(*self.normalized_shape, device=device, dtype=dtype))
            if bias:
                self.bias = Parameter(empty(*self.normalized_shape, device=device, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reset ``weight`` to 1 and ``bias`` to 0 (when they exist)."""
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        """Normalize ``input`` over its trailing ``normalized_shape`` dims.

        Args:
            input: a tensor whose trailing dims equal ``normalized_shape``.

        Returns:
            The normalized tensor, of the same shape.
        """
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        """Show ``normalized_shape``, ``eps`` and ``elementwise_affine``."""
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Applies group normalization: the channels are split into groups, each normalized per sample.

    For every sample, the mean and (biased) variance are taken over the channels of a group
    and all spatial positions, then ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with a
    per-channel ``weight`` and ``bias``.

    Args:
        num_groups: the number of groups; ``num_channels`` must be divisible by it.
        num_channels: the number of channels ``C`` of the input.
        eps: added to the variance for numerical stability (default: 1e-5).
        affine: if True (default), learn a per-channel ``weight`` (starting at 1) and ``bias``
            (starting at 0).
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(N, C, *)``, output of the same shape.
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError("num_channels must be divisible by num_groups")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = Parameter(empty(num_channels, device=device, dtype=dtype))
            self.bias = Parameter(empty(num_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reset ``weight`` to 1 and ``bias`` to 0 (when ``affine``)."""
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input):
        """Normalize ``input`` per sample and group of channels.

        Args:
            input: a tensor of shape ``(N, C, *)``.

        Returns:
            The normalized tensor, of the same shape.
        """
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        """Show ``num_groups``, ``num_channels``, ``eps`` and ``affine``."""
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class RMSNorm(Module):
    """Applies root-mean-square normalization over the trailing ``normalized_shape`` dims.

    ``y = x / sqrt(mean(x ** 2) + eps) * weight``, the mean taken over those trailing dims.
    Unlike layer norm, the input is not centred.

    Args:
        normalized_shape: the shape of the trailing dims to normalize over: an int (the last
            dim's size) or a sequence of ints.
        eps: added to the mean square for numerical stability; None (default) uses the machine
            epsilon of the input's dtype.
        elementwise_affine: if True (default), learn a ``weight`` of shape ``normalized_shape``
            (starting at 1).
        device: where the parameter is created.
        dtype: the parameter's dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(*, *normalized_shape)``, output of the same shape.
    """

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(empty(*self.normalized_shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reset ``weight`` to 1 (when ``elementwise_affine``)."""
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, input):
        """Normalize ``input`` by its root mean square over the trailing ``normalized_shape`` dims.

        Args:
            input: a tensor whose trailing dims equal ``normalized_shape``.

        Returns:
            The normalized tensor, of the same shape.
        """
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        """Show ``normalized_shape``, ``eps`` and ``elementwise_affine``."""
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class LocalResponseNorm(Module):
    """Applies local response normalization across neighbouring channels.

    Every element is divided by ``(k + alpha / size * sum of squares) ** beta``, the sum taken
    at the same position over the ``size`` channels around its own (zero beyond the first
    and last channel).

    Args:
        size: the number of neighbouring channels in each sum.
        alpha: the multiplicative factor (default: 1e-4).
        beta: the exponent (default: 0.75).
        k: the additive constant (default: 1).

    Shape:
        input ``(N, C, *)`` with at least one spatial dim, output of the same shape.
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        """Normalize ``input`` across neighbouring channels.

        Args:
            input: a tensor of shape ``(N, C, *)`` with at least 3 dims.

        Returns:
            The normalized tensor, of the same shape.
        """
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        """Show ``size``, ``alpha``, ``beta`` and ``k``."""
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


from ember.nn.modules.crossmaplrn import CrossMapLRN2d  # noqa: E402,F401  (defined beside; PyTorch's path)
