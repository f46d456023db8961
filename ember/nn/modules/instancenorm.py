"""Instance normalization layers at PyTorch's module path (``nn.modules.instancenorm``):
InstanceNorm1d/2d/3d (defined in ``normalization``) and their lazy forms."""
from __future__ import annotations

from ember.nn.modules.batchnorm import _LAZY_ARGS, _LazyNormBase
from ember.nn.modules.normalization import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, _InstanceNorm

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d",
           "LazyInstanceNorm3d"]


class _LazyInstanceNorm(_LazyNormBase, _InstanceNorm):
    def __init__(self, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None, dtype=None):
        super().__init__(eps, momentum, affine, track_running_stats, device, dtype)

    def _channel_dim(self, input) -> int:
        return 0 if input.ndim == self._nd + 1 else 1  # an unbatched input has its channels first


class LazyInstanceNorm1d(_LazyInstanceNorm):
    __doc__ = ("An ``InstanceNorm1d`` whose ``num_features`` is read from the first input's channel dim; it "
               "becomes an ``InstanceNorm1d`` after the first forward call.\n\n"
               + _LAZY_ARGS.replace("if True, learn", "if True (default False), learn")
               .replace("if True, keep", "if True (default False), keep"))
    cls_to_become = InstanceNorm1d
    _nd = InstanceNorm1d._nd


class LazyInstanceNorm2d(_LazyInstanceNorm):
    __doc__ = LazyInstanceNorm1d.__doc__.replace("1d", "2d")
    cls_to_become = InstanceNorm2d
    _nd = InstanceNorm2d._nd


class LazyInstanceNorm3d(_LazyInstanceNorm):
    __doc__ = LazyInstanceNorm1d.__doc__.replace("1d", "3d")
    cls_to_become = InstanceNorm3d
    _nd = InstanceNorm3d._nd
