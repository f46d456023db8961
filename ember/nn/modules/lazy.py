"""Lazy modules: layers whose input size is read from the first batch they see.

A lazy layer starts with ``UninitializedParameter`` / ``UninitializedBuffer`` state. Its first
forward call (or a ``load_state_dict`` that brings the shapes) materializes that state, and the
first forward then turns the module into its ordinary class (``LazyLinear`` -> ``Linear``).
"""
from __future__ import annotations

import itertools

from ember.core.autograd import no_grad
from ember.nn.modules.conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from ember.nn.modules.linear import Linear
from ember.nn.parameter import UninitializedBuffer, UninitializedParameter, is_lazy

__all__ = ["LazyModuleMixin", "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
           "LazyConvTranspose2d", "LazyConvTranspose3d"]


class LazyModuleMixin:
    """Mixin for modules whose parameters' shapes are inferred from the first input.

    The subclass creates ``UninitializedParameter`` / ``UninitializedBuffer`` members and defines
    ``initialize_parameters(*args, **kwargs)``, which materializes them from the forward inputs. The
    first forward call runs it; once nothing is left uninitialized the module becomes
    ``cls_to_become`` (when set) and the hooks go away. ``load_state_dict`` materializes the
    uninitialized members it finds values for, with the values' shapes.
    """

    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # the hooks are found again by value when they go (a handle would keep the module from pickling)
        self.register_load_state_dict_pre_hook(LazyModuleMixin._lazy_load_hook)
        self.register_forward_pre_hook(LazyModuleMixin._infer_parameters, with_kwargs=True)

    def initialize_parameters(self, *args, **kwargs) -> None:
        """Materialize the uninitialized members from the forward inputs; subclasses define it.

        Args:
            *args: the positional arguments of the first forward call.
            **kwargs: its keyword arguments.
        """
        raise NotImplementedError(f"initialize_parameters is not implemented for {type(self).__name__}")

    def has_uninitialized_params(self) -> bool:
        """Tell whether some parameter or buffer of this module (not its children) is still uninitialized.

        Returns:
            True while an ``UninitializedParameter`` or ``UninitializedBuffer`` remains.
        """
        return any(is_lazy(t) for t in itertools.chain(self._parameters.values(), self._buffers.values()))

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        # an uninitialized member is saved as itself, so loading it elsewhere keeps it lazy
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars or is_lazy(param) else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars or is_lazy(buf) else buf.detach()

    @staticmethod
    def _lazy_load_hook(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                        error_msgs):
        for name, member in itertools.chain(self._parameters.items(), self._buffers.items()):
            key = prefix + name
            if member is not None and key in state_dict and is_lazy(member) and not is_lazy(state_dict[key]):
                with no_grad():
                    member.materialize(state_dict[key].shape)

    @staticmethod
    def _infer_parameters(self, args, kwargs=None):
        self.initialize_parameters(*args, **(kwargs or {}))
        if self.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        for hooks, hook in ((self._forward_pre_hooks, LazyModuleMixin._infer_parameters),
                            (self._load_state_dict_pre_hooks, LazyModuleMixin._lazy_load_hook)):
            for key in [key for key, value in hooks.items() if value is hook]:
                del hooks[key]
                self._forward_pre_hooks_with_kwargs.pop(key, None)
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become

    def _apply(self, fn, recurse=True):
        # buffers are replaced by fn's result: keep the uninitialized ones uninitialized
        lazy = {name: buf.requires_grad for name, buf in self._buffers.items() if is_lazy(buf)}
        out = super()._apply(fn, recurse)
        for name, requires_grad in lazy.items():
            moved = self._buffers[name]
            if not is_lazy(moved):
                self._buffers[name] = UninitializedBuffer(requires_grad, moved.device, moved.dtype)
        return out

    def _replicate_for_data_parallel(self):
        raise RuntimeError("Modules with uninitialized parameters can't be used with `DataParallel`. "
                           "Run a dummy forward pass to correctly initialize the modules")


class LazyLinear(LazyModuleMixin, Linear):
    """A ``Linear`` layer whose ``in_features`` is read from the last dimension of its first input.

    It becomes an ``nn.Linear`` after the first forward call.

    Args:
        out_features: size of each output sample's last dimension.
        bias: if False, the layer learns no additive bias.
        device: where the parameters are created.
        dtype: the parameters' dtype.

    Shape:
        input ``(*, H_in)``, output ``(*, out_features)``.
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__(0, 0, False)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        """Draw the initial weights, once their shapes are known (before that, nothing to do)."""
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        """Read ``in_features`` from ``input``'s last dimension and materialize the parameters.

        Args:
            input: the first forward input.
        """
        if self.in_features == 0:
            self.in_features = input.shape[-1]
        if self.has_uninitialized_params():
            with no_grad():
                self.weight.materialize((self.out_features, self.in_features))
                if self.bias is not None:
                    self.bias.materialize((self.out_features,))
                self.reset_parameters()


class _LazyConvMixin(LazyModuleMixin):
    """What the lazy convolutions share: ``in_channels`` comes from the input's channel dim."""

    def _lazy_init(self, bias, device, dtype):
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        """Draw the initial weights, once their shapes are known (before that, nothing to do)."""
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        """Read ``in_channels`` from ``input`` (dim 1, or dim 0 unbatched) and materialize the parameters.

        Args:
            input: the first forward input.
        """
        if self.in_channels == 0:
            nd = self._nd
            if input.ndim not in (nd + 1, nd + 2):
                raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                                   f"{self._get_name()}, but got input of size: {list(input.shape)}")
            self.in_channels = input.shape[1 if input.ndim == nd + 2 else 0]
            if self.in_channels % self.groups:
                raise ValueError("in_channels must be divisible by groups")
        if self.has_uninitialized_params():
            if self.transposed:
                shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
            else:
                shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
            with no_grad():
                self.weight.materialize(shape)
                if self.bias is not None:
                    self.bias.materialize((self.out_channels,))
                self.reset_parameters()


class _LazyConvNdMixin(_LazyConvMixin):
    """The constructor the lazy (non-transposed) convolutions share: ``Conv*d``'s, without ``in_channels``."""

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__(0, out_channels, kernel_size, stride, padding, dilation, groups, False, padding_mode,
                         device, dtype)
        self._lazy_init(bias, device, dtype)


class LazyConv1d(_LazyConvNdMixin, Conv1d):
    """A ``Conv1d`` whose ``in_channels`` is read from its first input (dim 1, or dim 0 unbatched).

    It becomes an ``nn.Conv1d`` after the first forward call.

    Args:
        out_channels: channels produced by the convolution.
        kernel_size, stride, padding, dilation, groups, bias, padding_mode: as for ``Conv1d``.
        device: where the parameters are created.
        dtype: the parameters' dtype.
    """

    cls_to_become = Conv1d


class LazyConv2d(_LazyConvNdMixin, Conv2d):
    """A ``Conv2d`` whose ``in_channels`` is read from its first input (dim 1, or dim 0 unbatched).

    It becomes an ``nn.Conv2d`` after the first forward call.

    Args:
        out_channels: channels produced by the convolution.
        kernel_size, stride, padding, dilation, groups, bias, padding_mode: as for ``Conv2d``.
        device: where the parameters are created.
        dtype: the parameters' dtype.
    """

    cls_to_become = Conv2d


class LazyConv3d(_LazyConvNdMixin, Conv3d):
    """A ``Conv3d`` whose ``in_channels`` is read from its first input (dim 1, or dim 0 unbatched).

    It becomes an ``nn.Conv3d`` after the first forward call.

    Args:
        out_channels: channels produced by the convolution.
        kernel_size, stride, padding, dilation, groups, bias, padding_mode: as for ``Conv3d``.
        device: where the parameters are created.
        dtype: the parameters' dtype.
    """

    cls_to_become = Conv3d


class _LazyConvTransposeMixin(_LazyConvMixin):
    """The constructor the lazy transposed convolutions share: ``ConvTranspose*d``'s, without ``in_channels``."""

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True,
                 dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(0, out_channels, kernel_size, stride, padding, output_padding, groups, False, dilation,
                         padding_mode, device, dtype)
        self._lazy_init(bias, device, dtype)


class LazyConvTranspose1d(_LazyConvTransposeMixin, ConvTranspose1d):
    """A ``ConvTranspose1d`` whose ``in_channels`` is read from its first input (dim 1, or dim 0 unbatched).

    It becomes an ``nn.ConvTranspose1d`` after the first forward call.

    Args:
        out_channels: channels produced by the convolution.
        kernel_size, stride, padding, output_padding, groups, bias, dilation, padding_mode: as for
            ``ConvTranspose1d``.
        device: where the parameters are created.
        dtype: the parameters' dtype.
    """

    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTransposeMixin, ConvTranspose2d):
    """A ``ConvTranspose2d`` whose ``in_channels`` is read from its first input (dim 1, or dim 0 unbatched).

    It becomes an ``nn.ConvTranspose2d`` after the first forward call.

    Args:
        out_channels: channels produced by the convolution.
        kernel_size, stride, padding, output_padding, groups, bias, dilation, padding_mode: as for
            ``ConvTranspose2d``.
        device: where the parameters are created.
        dtype: the parameters' dtype.
    """

    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTransposeMixin, ConvTranspose3d):
    """A ``ConvTranspose3d`` whose ``in_channels`` is read from its first input (dim 1, or dim 0 unbatched).

    It becomes an ``nn.ConvTranspose3d`` after the first forward call.

    Args:
        out_channels: channels produced by the convolution.
        kernel_size, stride, padding, output_padding, groups, bias, dilation, padding_mode: as for
            ``ConvTranspose3d``.
        device: where the parameters are created.
        dtype: the parameters' dtype.
    """

    cls_to_become = ConvTranspose3d
