"""Identity, Linear and Bilinear layers."""
from __future__ import annotations

import math

from ember.nn import functional as F
from ember.nn import init
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter
from ember.ops.creation import empty

__all__ = ["Identity", "Linear", "Bilinear"]


class Identity(Module):
    """A placeholder layer that returns its input unchanged.

    Args:
        *args: accepted and ignored, so it can stand in for any layer's constructor.
        **kwargs: accepted and ignored.

    Shape:
        input ``(*)``, output ``(*)``, the same tensor.
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        """Return ``input`` itself.

        Args:
            input: any value.

        Returns:
            ``input``, unchanged (not a copy).
        """
        return input


class Linear(Module):
    """Applies an affine map ``y = x @ weight.T + bias`` to the last dimension.

    ``weight`` has shape ``(out_features, in_features)`` and ``bias`` ``(out_features,)``.
    Both start as U(-1/sqrt(in_features), 1/sqrt(in_features)) (for the weight, that is
    ``kaiming_uniform_(a=sqrt(5))``).

    Args:
        in_features: size of each input sample's last dimension.
        out_features: size of each output sample's last dimension.
        bias: if False, the layer learns no additive bias (``bias`` is None).
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(*, in_features)``, output ``(*, out_features)``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(empty(out_features, in_features, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw ``weight`` and ``bias`` from their initial distributions (in place)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        """Apply the affine map to ``input``.

        Args:
            input: a tensor of shape ``(*, in_features)``.

        Returns:
            A tensor of shape ``(*, out_features)``.
        """
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        """Show ``in_features``, ``out_features`` and whether there is a bias."""
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """Applies a bilinear map ``y[..., o] = x1 @ weight[o] @ x2 + bias[o]`` to two inputs.

    ``weight`` has shape ``(out_features, in1_features, in2_features)`` and ``bias``
    ``(out_features,)``; both start as U(-1/sqrt(in1_features), 1/sqrt(in1_features)).

    Args:
        in1_features: size of the first input's last dimension.
        in2_features: size of the second input's last dimension.
        out_features: size of the output's last dimension.
        bias: if False, the layer learns no additive bias (``bias`` is None).
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        inputs ``(*, in1_features)`` and ``(*, in2_features)`` with the same leading dims,
        output ``(*, out_features)``.
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(empty(out_features, in1_features, in2_features, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw ``weight`` and ``bias`` from their initial distribution (in place)."""
        bound = 1 / math.sqrt(self.weight.shape[1]) if self.weight.shape[1] > 0 else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        """Apply the bilinear map to ``input1`` and ``input2``.

        Args:
            input1: a tensor of shape ``(*, in1_features)``.
            input2: a tensor of shape ``(*, in2_features)``.

        Returns:
            A tensor of shape ``(*, out_features)``.
        """
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        """Show the three feature sizes and whether there is a bias."""
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class NonDynamicallyQuantizableLinear(Linear):
    """The out-projection of MultiheadAttention: a Linear under PyTorch's name and module path, so
    that pickled attention layers load.

    Args:
        in_features: as in ``Linear``.
        out_features: as in ``Linear``.
        bias: as in ``Linear``.
        device: as in ``Linear``.
        dtype: as in ``Linear``.
    """


_LATE = {'LazyLinear'}  # at PyTorch's path here, defined in ember.nn.modules.lazy (which imports this module)


def __getattr__(name):
    if name in _LATE:
        import importlib
        return getattr(importlib.import_module("ember.nn.modules.lazy"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
