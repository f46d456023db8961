"""Activation layers: thin modules over ``ember.nn.functional``."""
from __future__ import annotations

from ember.nn import functional as F
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter
from ember.ops.creation import empty

__all__ = [
    "Threshold", "ReLU", "RReLU", "Hardtanh", "ReLU6", "Sigmoid", "Hardsigmoid", "Tanh", "SiLU", "Mish",
    "Hardswish", "ELU", "CELU", "SELU", "GLU", "GELU", "Hardshrink", "LeakyReLU", "LogSigmoid", "Softplus",
    "Softshrink", "PReLU", "Softsign", "Tanhshrink", "Softmin", "Softmax", "Softmax2d", "LogSoftmax",
]


def _inplace_repr(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


class Threshold(Module):
    """Replaces every element that is not greater than ``threshold`` by ``value``.

    ``y = x`` where ``x > threshold``, else ``y = value``.

    Args:
        threshold: the value to compare against.
        value: the replacement for elements ``<= threshold``.
        inplace: if True, write the result into the input tensor and return it.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input):
        """Apply the threshold to ``input``, elementwise.

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape (``input`` itself when ``inplace`` is True).
        """
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        """Show ``threshold``, ``value`` and ``inplace`` when set."""
        return f"threshold={self.threshold}, value={self.value}" + (", inplace=True" if self.inplace else "")


class ReLU(Module):
    """Applies the rectified linear unit ``max(0, x)`` elementwise.

    Args:
        inplace: if True, write the result into the input tensor and return it.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        """Apply ``max(0, x)`` to ``input``, elementwise.

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape (``input`` itself when ``inplace`` is True).
        """
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        """Show ``inplace=True`` when set."""
        return _inplace_repr(self.inplace)


class RReLU(Module):
    """Applies a randomized leaky ReLU elementwise.

    ``y = x`` for ``x >= 0`` and ``y = a * x`` otherwise. In training mode each element
    draws its own slope ``a`` from U(``lower``, ``upper``) on every call; in evaluation mode
    ``a = (lower + upper) / 2``.

    Args:
        lower: the lower bound of the slope distribution (default: 1/8).
        upper: the upper bound of the slope distribution (default: 1/3).
        inplace: if True, write the result into the input tensor and return it.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input):
        """Apply the randomized leaky ReLU to ``input``, elementwise (random slopes in training mode only).

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape (``input`` itself when ``inplace`` is True).
        """
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        """Show ``lower``, ``upper`` and ``inplace`` when set."""
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "")


class Hardtanh(Module):
    """Clamps every element to ``[min_val, max_val]``.

    The gradient is 0 at and beyond the limits.

    Args:
        min_val: the lower limit (default: -1).
        max_val: the upper limit (default: 1); it must be greater than ``min_val``.
        inplace: if True, write the result into the input tensor and return it.
        min_value: deprecated name of ``min_val``; when given it takes precedence.
        max_value: deprecated name of ``max_val``; when given it takes precedence.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False, min_value=None,
                 max_value=None):
        super().__init__()
        self.min_val = min_val if min_value is None else min_value
        self.max_val = max_val if max_value is None else max_value
        self.inplace = inplace
        if self.max_val <= self.min_val:
            raise AssertionError(f"max_val ({self.max_val}) must be greater than min_val ({self.min_val})")

    def forward(self, input):
        """Apply the clamp to ``input``, elementwise.

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape (``input`` itself when ``inplace`` is True).
        """
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        """Show ``min_val``, ``max_val`` and ``inplace`` when set."""
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class ReLU6(Hardtanh):
    """Applies ``min(max(0, x), 6)`` elementwise (``Hardtanh`` with limits 0 and 6).

    Args:
        inplace: if True, write the result into the input tensor and return it.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        """Show ``inplace=True`` when set."""
        return _inplace_repr(self.inplace)


class Sigmoid(Module):
    """Applies the logistic sigmoid ``1 / (1 + exp(-x))`` elementwise.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def forward(self, input):
        """Apply the sigmoid to ``input``, elementwise.

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape.
        """
        return F.sigmoid(input)


class Tanh(Module):
    """Applies the hyperbolic tangent elementwise.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def forward(self, input):
        """Apply ``tanh`` to ``input``, elementwise.

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape.
        """
        return F.tanh(input)


class _InplaceActivation(Module):
    _fn = None

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        """Apply the activation to ``input``, elementwise.

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape (``input`` itself when ``inplace`` is True).
        """
        return type(self)._fn(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        """Show ``inplace=True`` when set."""
        return _inplace_repr(self.inplace)


class Hardsigmoid(_InplaceActivation):
    """Applies a piecewise linear sigmoid elementwise.

    ``y = 0`` for ``x <= -3``, ``y = 1`` for ``x >= 3``, and ``y = x / 6 + 1 / 2`` in between.

    Args:
        inplace: if True, write the result into the input tensor and return it.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    _fn = staticmethod(F.hardsigmoid)


class SiLU(_InplaceActivation):
    """Applies the sigmoid linear unit (swish) ``x * sigmoid(x)`` elementwise.

    Args:
        inplace: if True, write the result into the input tensor and return it.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    _fn = staticmethod(F.silu)


class Mish(_InplaceActivation):
    """Applies ``x * tanh(softplus(x))`` elementwise.

    Args:
        inplace: if True, write the result into the input tensor and return it.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    _fn = staticmethod(F.mish)


class Hardswish(_InplaceActivation):
    """Applies a piecewise approximation of swish elementwise.

    ``y = 0`` for ``x < -3``, ``y = x`` for ``x > 3``, and ``y = x * (x + 3) / 6`` in between.

    Args:
        inplace: if True, write the result into the input tensor and return it.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    _fn = staticmethod(F.hardswish)


class SELU(_InplaceActivation):
    """Applies the scaled exponential linear unit elementwise.

    ``y = scale * x`` for ``x > 0`` and ``y = scale * alpha * (exp(x) - 1)`` otherwise, with the
    fixed constants ``alpha ~ 1.6733`` and ``scale ~ 1.0507`` that make it self-normalizing.

    Args:
        inplace: if True, write the result into the input tensor and return it.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    _fn = staticmethod(F.selu)


class ELU(Module):
    """Applies the exponential linear unit elementwise.

    ``y = x`` for ``x > 0`` and ``y = alpha * (exp(x) - 1)`` otherwise.

    Args:
        alpha: the scale of the negative part (default: 1).
        inplace: if True, write the result into the input tensor and return it.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        """Apply the ELU to ``input``, elementwise.

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape (``input`` itself when ``inplace`` is True).
        """
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        """Show ``alpha`` and ``inplace`` when set."""
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(ELU):
    """Applies the continuously differentiable ELU elementwise.

    ``y = x`` for ``x > 0`` and ``y = alpha * (exp(x / alpha) - 1)`` otherwise.

    Args:
        alpha: the scale of the negative part (default: 1); it must not be 0.
        inplace: if True, write the result into the input tensor and return it.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def forward(self, input):
        """Apply the CELU to ``input``, elementwise.

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape (``input`` itself when ``inplace`` is True).
        """
        return F.celu(input, self.alpha, self.inplace)


class GLU(Module):
    """Applies the gated linear unit ``a * sigmoid(b)``.

    ``a`` and ``b`` are the first and second halves of the input along ``dim``.

    Args:
        dim: the dimension to split; its size must be even (default: -1).

    Shape:
        input ``(*, 2 * M, *)``, output ``(*, M, *)``, halved along ``dim``.
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        """Gate the first half of ``input`` along ``dim`` by the sigmoid of the second half.

        Args:
            input: a tensor whose size along ``dim`` is even.

        Returns:
            A tensor with half the size along ``dim``.
        """
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        """Show ``dim``."""
        return f"dim={self.dim}"


class GELU(Module):
    """Applies the Gaussian error linear unit ``x * Phi(x)`` elementwise.

    ``Phi`` is the standard normal CDF.

    Args:
        approximate: ``'none'`` (default) computes ``Phi`` exactly with ``erf``; ``'tanh'``
            uses the tanh approximation. Any other value raises when the layer is called.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        """Apply the GELU to ``input``, elementwise.

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape.
        """
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        """Show ``approximate``."""
        return f"approximate={self.approximate!r}"


class Hardshrink(Module):
    """Zeroes the elements whose magnitude is at most ``lambd``.

    ``y = x`` where ``|x| > lambd``, else ``y = 0``.

    Args:
        lambd: the threshold (default: 0.5).

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        """Apply the hard shrinkage to ``input``, elementwise.

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape.
        """
        return F.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        """Show ``lambd``."""
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """Shrinks every element towards zero by ``lambd``.

    ``y = x - lambd`` for ``x > lambd``, ``y = x + lambd`` for ``x < -lambd``, and 0 in between.

    Args:
        lambd: the amount of shrinkage, at least 0 (default: 0.5).

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def forward(self, input):
        """Apply the soft shrinkage to ``input``, elementwise.

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape.
        """
        return F.softshrink(input, self.lambd)


class LeakyReLU(Module):
    """Applies a leaky ReLU elementwise.

    ``y = x`` for ``x > 0`` and ``y = negative_slope * x`` otherwise.

    Args:
        negative_slope: the slope for negative inputs (default: 0.01).
        inplace: if True, write the result into the input tensor and return it.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        """Apply the leaky ReLU to ``input``, elementwise.

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape (``input`` itself when ``inplace`` is True).
        """
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        """Show ``negative_slope`` and ``inplace`` when set."""
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class LogSigmoid(Module):
    """Applies ``log(sigmoid(x))`` elementwise, computed so it stays finite for large ``|x|``.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def forward(self, input):
        """Apply ``log(sigmoid(x))`` to ``input``, elementwise.

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape.
        """
        return F.logsigmoid(input)


class Softplus(Module):
    """Applies the softplus ``log(1 + exp(beta * x)) / beta`` elementwise.

    A smooth approximation of ReLU; where ``beta * x > threshold`` the result is ``x`` itself,
    for numerical stability.

    Args:
        beta: the sharpness of the curve (default: 1).
        threshold: above this value of ``beta * x`` the function is linear (default: 20).

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):
        """Apply the softplus to ``input``, elementwise.

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape.
        """
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        """Show ``beta`` and ``threshold``."""
        return f"beta={self.beta}, threshold={self.threshold}"


class PReLU(Module):
    """Applies a leaky ReLU whose negative slope is learned.

    ``y = x`` for ``x > 0`` and ``y = weight * x`` otherwise. With ``num_parameters=1`` one
    slope is shared by all elements; otherwise there is one slope per channel (dim 1 of the
    input), and ``num_parameters`` must equal the number of channels.

    Args:
        num_parameters: the number of slopes to learn: 1 or the number of input channels
            (default: 1).
        init: the initial value of every slope (default: 0.25).
        device: where the parameter is created.
        dtype: the parameter's dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(*)`` (channels on dim 1 when ``num_parameters > 1``), output of the same shape.
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set every slope back to ``init``."""
        from ember.nn.init import constant_
        constant_(self.weight, self.init)

    def forward(self, input):
        """Apply the parametric ReLU to ``input``, elementwise.

        Args:
            input: a tensor; with several slopes, its dim 1 must have ``num_parameters`` channels.

        Returns:
            A tensor of the same shape.
        """
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        """Show ``num_parameters``."""
        return f"num_parameters={self.num_parameters}"


class Softsign(Module):
    """Applies ``x / (1 + |x|)`` elementwise.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def forward(self, input):
        """Apply the softsign to ``input``, elementwise.

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape.
        """
        return F.softsign(input)


class Tanhshrink(Module):
    """Applies ``x - tanh(x)`` elementwise.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def forward(self, input):
        """Apply ``x - tanh(x)`` to ``input``, elementwise.

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape.
        """
        return F.tanhshrink(input)


class _SoftmaxLike(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def __setstate__(self, state):
        super().__setstate__(state)
        self.__dict__.setdefault("dim", None)

    def extra_repr(self) -> str:
        """Show ``dim``."""
        return f"dim={self.dim}"


class Softmin(_SoftmaxLike):
    """Applies ``softmax(-x)`` along ``dim``: the results along ``dim`` are in ``[0, 1]`` and sum to 1.

    Args:
        dim: the dimension to normalize over. None (the default) is deprecated: it picks dim 0
            for 0-, 1- and 3-D inputs and dim 1 otherwise, with a warning.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def forward(self, input):
        """Apply the softmin to ``input`` along ``dim``.

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape.
        """
        return F.softmin(input, self.dim, _stacklevel=5)


class Softmax(_SoftmaxLike):
    """Applies ``exp(x) / sum(exp(x))`` along ``dim``: the results along ``dim`` are in ``[0, 1]`` and sum to 1.

    Args:
        dim: the dimension to normalize over. None (the default) is deprecated: it picks dim 0
            for 0-, 1- and 3-D inputs and dim 1 otherwise, with a warning.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def forward(self, input):
        """Apply the softmax to ``input`` along ``dim``.

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape.
        """
        return F.softmax(input, self.dim, _stacklevel=5)


class LogSoftmax(_SoftmaxLike):
    """Applies ``log(softmax(x))`` along ``dim``, computed stably.

    Args:
        dim: the dimension to normalize over. None (the default) is deprecated: it picks dim 0
            for 0-, 1- and 3-D inputs and dim 1 otherwise, with a warning.

    Shape:
        input ``(*)``, output ``(*)``, the same shape.
    """

    def forward(self, input):
        """Apply the log-softmax to ``input`` along ``dim``.

        Args:
            input: a tensor of any shape.

        Returns:
            A tensor of the same shape.
        """
        return F.log_softmax(input, self.dim, _stacklevel=5)


class Softmax2d(Module):
    """Applies a softmax over the channels at every spatial location.

    Shape:
        input ``(N, C, H, W)`` or ``(C, H, W)``, output of the same shape.
    """

    def forward(self, input):
        """Apply the softmax along the channel dim (dim -3) of ``input``.

        Args:
            input: a tensor of shape ``(N, C, H, W)`` or ``(C, H, W)``.

        Returns:
            A tensor of the same shape.
        """
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D instead")
        return F.softmax(input, -3)


_LATE = {'MultiheadAttention'}  # at PyTorch's path here, defined in ember.nn.modules.transformer (beside the layers built on it)


def __getattr__(name):
    if name in _LATE:
        import importlib
        return getattr(importlib.import_module("ember.nn.modules.transformer"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
