"""Batch normalization layers at PyTorch's module path (``nn.modules.batchnorm``): BatchNorm1d/2d/3d
(defined in ``normalization``), their lazy forms, and SyncBatchNorm.

SyncBatchNorm computes the batch statistics over every process of a process group: each rank
contributes per-channel sums, sums of squares and counts, which are all-reduced (and whose
gradients are all-reduced on the way back), so the ranks normalize with the statistics of the
global batch. Without an initialized process group it is plain batch normalization.
"""
from __future__ import annotations

import ember
from ember.autograd.function import Function
from ember.core import dtype as dt
from ember.core.autograd import no_grad
from ember.nn.modules.lazy import LazyModuleMixin
from ember.nn.modules.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, _BatchNorm, _NormBase
from ember.nn.parameter import UninitializedBuffer, UninitializedParameter
from ember.ops.creation import tensor

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d",
           "SyncBatchNorm"]


class _LazyNormBase(LazyModuleMixin, _NormBase):
    """Lazy batch/instance norm: ``num_features`` is read from the first input's channel dimension."""

    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None, dtype=None):
        # the parent builds no members (affine and tracking off); the uninitialized ones follow
        super().__init__(0, eps, momentum, False, False, device, dtype)
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)
            self.num_batches_tracked = tensor(0, dtype=dt.int64, device=device)

    def reset_parameters(self) -> None:
        """Reset the statistics and affine parameters, once their shapes are known."""
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def _channel_dim(self, input) -> int:
        return 1

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        """Read ``num_features`` from ``input``'s channel dimension and materialize the members.

        Args:
            input: the first forward input.
        """
        if self.num_features == 0:
            self.num_features = input.shape[self._channel_dim(input)]
        if self.has_uninitialized_params():
            with no_grad():
                if self.affine:
                    self.weight.materialize((self.num_features,))
                    self.bias.materialize((self.num_features,))
                if self.track_running_stats:
                    self.running_mean.materialize((self.num_features,))
                    self.running_var.materialize((self.num_features,))
                self.reset_parameters()


_LAZY_ARGS = """    Args:
        eps: added to the variance for numerical stability (default: 1e-5).
        momentum: the weight of the new batch statistic in the running average (default: 0.1).
        affine: if True, learn a per-channel ``weight`` and ``bias``.
        track_running_stats: if True, keep running statistics.
        device: where the parameters and buffers are created.
        dtype: their dtype.
"""


class LazyBatchNorm1d(_LazyNormBase, _BatchNorm):
    __doc__ = ("A ``BatchNorm1d`` whose ``num_features`` is read from the first input (dim 1); it becomes a "
               "``BatchNorm1d`` after the first forward call.\n\n" + _LAZY_ARGS)
    cls_to_become = BatchNorm1d
    _check_input_dim = BatchNorm1d._check_input_dim


class LazyBatchNorm2d(_LazyNormBase, _BatchNorm):
    __doc__ = ("A ``BatchNorm2d`` whose ``num_features`` is read from the first input (dim 1); it becomes a "
               "``BatchNorm2d`` after the first forward call.\n\n" + _LAZY_ARGS)
    cls_to_become = BatchNorm2d
    _check_input_dim = BatchNorm2d._check_input_dim


class LazyBatchNorm3d(_LazyNormBase, _BatchNorm):
    __doc__ = ("A ``BatchNorm3d`` whose ``num_features`` is read from the first input (dim 1); it becomes a "
               "``BatchNorm3d`` after the first forward call.\n\n" + _LAZY_ARGS)
    cls_to_become = BatchNorm3d
    _check_input_dim = BatchNorm3d._check_input_dim


class _AllReduceSum(Function):
    """Sum over the ranks of a group; its gradient is the sum of the ranks' gradients."""

    @staticmethod
    def forward(ctx, value, group):
        import ember.distributed as dist
        ctx.group = group
        out = value.clone()
        dist.all_reduce(out, group=group)
        return out

    @staticmethod
    def backward(ctx, grad):
        import ember.distributed as dist
        grad = grad.clone()
        dist.all_reduce(grad, group=ctx.group)
        return grad, None


class SyncBatchNorm(_BatchNorm):
    """Batch normalization whose statistics are those of the batch across all processes of a group.

    In training with an initialized ``ember.distributed`` process group of more than one rank, the
    per-channel mean and (biased) variance are computed over every rank's batch, and gradients flow
    through that reduction; otherwise (one process, or evaluation) it is ``BatchNorm`` with the same
    numerics. The running statistics use the unbiased variance of the global batch.

    Args:
        num_features: the number of channels ``C``.
        eps: added to the variance for numerical stability (default: 1e-5).
        momentum: the weight of the new batch statistic in the running average (default: 0.1); None for
            a cumulative average.
        affine: if True (default), learn a per-channel ``weight`` and ``bias``.
        track_running_stats: if True (default), keep running statistics.
        process_group: the group whose ranks share statistics (default: the whole world).
        device: where the parameters and buffers are created.
        dtype: their dtype.

    Shape:
        input ``(N, C, *)`` with at least 2 dims, output of the same shape.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {input.ndim}D input)")

    def _check_non_zero_input_channels(self, input):
        if input.shape[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")

    def _world(self) -> int:
        import ember.distributed as dist
        if not (dist.is_available() and dist.is_initialized()):
            return 1
        return dist.get_world_size(self.process_group)

    def forward(self, input):
        """Normalize ``input`` per channel with the statistics of the global batch.

        Args:
            input: ``(N, C, *)``.

        Returns:
            The normalized tensor, of ``input``'s shape.
        """
        self._check_input_dim(input)
        self._check_non_zero_input_channels(input)
        if not self.training or self._world() == 1:
            return super().forward(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            with no_grad():
                self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked.item()) if self.momentum is None else self.momentum
        dims = [0, *range(2, input.ndim)]
        compute = input if input.dtype in (dt.float32, dt.float64) else input.float()
        count = compute.numel() // compute.shape[1]
        # one reduction carries [sum, sum of squares, count] per channel
        local = tensor([float(count)], dtype=compute.dtype, device=compute.device).expand(compute.shape[1])
        stats = _AllReduceSum.apply(
            ember.stack([compute.sum(dims), (compute * compute).sum(dims), local]), self.process_group)
        total = stats[2]
        mean = stats[0] / total
        var = stats[1] / total - mean * mean
        shape = [1, -1] + [1] * (input.ndim - 2)
        out = (compute - mean.reshape(shape)) * (var.reshape(shape) + self.eps).rsqrt()
        if self.weight is not None:
            out = out * self.weight.reshape(shape) + self.bias.reshape(shape)
        if self.track_running_stats and self.running_mean is not None:
            n = float(total[0].item())
            if n <= 1:
                raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                                 f"{list(input.shape)}")
            with no_grad():
                self.running_mean.mul_(1 - factor).add_(mean.detach().to(self.running_mean.dtype), alpha=factor)
                unbiased = var.detach() * (n / (n - 1))
                self.running_var.mul_(1 - factor).add_(unbiased.to(self.running_var.dtype), alpha=factor)
        return out.to(input.dtype)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Replace every ``BatchNorm*d`` in ``module`` (itself included) by a ``SyncBatchNorm``.

        The new layers share the old ones' parameters and buffers and keep their training mode.

        Args:
            module: the module tree to convert.
            process_group: the group the new layers synchronize over (default: the whole world).

        Returns:
            ``module`` with its batch norms replaced, or the new layer when ``module`` is one.
        """
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                module.track_running_stats, process_group)
            if module.affine:
                with no_grad():
                    out.weight = module.weight
                    out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
            if hasattr(module, "qconfig"):
                out.qconfig = module.qconfig
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        del module
        return out
