"""Activation functions (``F.relu``, ``F.gelu``, ``F.softmax``, ...).

Each is a composite of ember ops, so it runs and differentiates on every backend.
Branches are written with ``where`` and the value fed to a branch that is not taken is
kept finite (``exp`` of a clamped argument), so no inf*0 reaches a gradient. The
``inplace=True`` forms compute the result and write it into the input.
"""
from __future__ import annotations

import math
import warnings

from ember.core.autograd import is_grad_enabled
from ember.core.tensor import Tensor
from ember.ops import elementwise as ew
from ember.ops import reduction as red
from ember.ops.creation import clone

__all__ = [
    "threshold", "threshold_", "relu", "relu_", "relu6", "hardtanh", "hardtanh_", "elu", "elu_", "selu", "selu_",
    "celu", "celu_", "leaky_relu", "leaky_relu_", "prelu", "rrelu", "rrelu_", "glu", "gelu", "logsigmoid",
    "hardshrink", "tanhshrink", "softsign", "softplus", "softmin", "softmax", "softshrink", "gumbel_softmax",
    "log_softmax", "tanh", "sigmoid", "hardsigmoid", "silu", "mish", "hardswish",
]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


# ---------------------------------------------------------------- helpers
def _check_tensor(input, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")


def _write_into(input: Tensor, compute):
    """In-place form: ``input`` takes the value of ``compute(input)``.

    When autograd records, the function reads a copy, so what its backward saved is not
    overwritten by the write (as PyTorch's in-place activations behave).
    """
    source = clone(input) if is_grad_enabled() and input.requires_grad else input
    return input.copy_(compute(source))


def _maybe_inplace(input, inplace, compute, name):
    _check_tensor(input, name)
    return _write_into(input, compute) if inplace else compute(input)


def _softplus_unit(z: Tensor) -> Tensor:
    """log(1 + exp(z)) without overflow: relu(z) + log1p(exp(-|z|)).

    -|z| is written so that its gradient at 0 is +1 (not 0), which keeps the derivative
    at z = 0 exactly sigmoid(0) = 0.5.
    """
    positive = z > 0
    neg_abs = ew.where(positive, ew.neg(z), z)
    return ew.where(positive, z, 0.0) + ew.log1p(ew.exp(neg_abs))


# ---------------------------------------------------------------- rectifiers
def threshold(input, threshold, value, inplace=False):
    """``input`` where it is greater than ``threshold``, else ``value``."""
    return _maybe_inplace(input, inplace, lambda x: ew.where(x > threshold, x, value), "threshold")


def threshold_(input, threshold, value):
    return _write_into(input, lambda x: ew.where(x > threshold, x, value))


def relu(input, inplace=False):
    _check_tensor(input, "relu")
    return input.relu_() if inplace else ew.relu(input)


def relu_(input):
    return input.relu_()


def _hardtanh(x, min_val, max_val):
    # the gradient is 0 at and outside the limits, as in PyTorch
    return ew.where(x <= min_val, min_val, ew.where(x >= max_val, max_val, x))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError(f"min_val cannot be greater than max_val, got min_val={min_val}, max_val={max_val}")
    return _maybe_inplace(input, inplace, lambda x: _hardtanh(x, min_val, max_val), "hardtanh")


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def _elu(x, alpha, scale=1.0, input_scale=1.0):
    negative = ew.expm1(ew.clamp(x, max=0.0) * input_scale) * alpha
    out = ew.where(x > 0, x, negative)
    return out * scale if scale != 1.0 else out


def elu(input, alpha=1.0, inplace=False):
    return _maybe_inplace(input, inplace, lambda x: _elu(x, alpha), "elu")


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def selu(input, inplace=False):
    return _maybe_inplace(input, inplace, lambda x: _elu(x, _SELU_ALPHA, _SELU_SCALE), "selu")


def selu_(input):
    return selu(input, inplace=True)


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: celu's alpha must not be 0")
    return _maybe_inplace(input, inplace, lambda x: _elu(x, alpha, input_scale=1.0 / alpha), "celu")


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _maybe_inplace(input, inplace, lambda x: ew.where(x > 0, x, x * negative_slope), "leaky_relu")


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def prelu(input, weight):
    """``max(0, x) + weight * min(0, x)``, one weight per channel (dim 1) or one shared."""
    _check_tensor(input, "prelu")
    if not isinstance(weight, Tensor):
        raise TypeError(f"prelu(): argument 'weight' must be Tensor, not {type(weight).__name__}")
    n = weight.numel()
    if n != 1:
        if input.ndim == 0:
            raise RuntimeError(f"Not allow zero-dim input tensor when weight has {n} elements.")
        channels = input.shape[1] if input.ndim >= 2 else 1
        if channels != n:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                               f"{n} and channel size = {channels}.")
        weight = weight.reshape((n,) + (1,) * (input.ndim - 2))
    elif weight.ndim:
        weight = weight.reshape(())
    return ew.where(input > 0, input, weight * input)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky ReLU: in training the negative slope of each element is drawn
    from U(lower, upper); in evaluation it is their mean."""
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    from ember.ops.random import rand_like

    def compute(x):
        slopes = rand_like(x) * (upper - lower) + lower
        return ew.where(x >= 0, x, x * slopes)
    return _maybe_inplace(input, inplace, compute, "rrelu")


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


# ---------------------------------------------------------------- smooth activations
def gelu(input, approximate="none"):
    """Gaussian error linear unit: ``x * Phi(x)``; ``approximate='tanh'`` uses the tanh formula."""
    _check_tensor(input, "gelu")
    if approximate == "none":
        return input * 0.5 * (ew.erf(input * (1.0 / math.sqrt(2.0))) + 1.0)
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * 0.5 * (ew.tanh(inner) + 1.0)
    raise RuntimeError(f"approximate argument must be either none or tanh, got '{approximate}'")


def silu(input, inplace=False):
    return _maybe_inplace(input, inplace, lambda x: x * ew.sigmoid(x), "silu")


def mish(input, inplace=False):
    return _maybe_inplace(input, inplace, lambda x: x * ew.tanh(_softplus_unit(x)), "mish")


def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta * x)) / beta``; linear (``x``) where ``beta * x > threshold``."""
    _check_tensor(input, "softplus")
    z = input * beta if beta != 1 else input
    soft = _softplus_unit(z)
    if beta != 1:
        soft = soft / beta
    return ew.where(z > threshold, input, soft)


def logsigmoid(input):
    """``log(sigmoid(x)) = -softplus(-x)``, finite for large |x|."""
    _check_tensor(input, "logsigmoid")
    return ew.neg(_softplus_unit(ew.neg(input)))


def softsign(input):
    return input / (ew.abs(input) + 1.0)


def tanhshrink(input):
    return input - ew.tanh(input)


def sigmoid(input):
    return ew.sigmoid(input)


def tanh(input):
    return ew.tanh(input)


def hardsigmoid(input, inplace=False):
    def compute(x):
        return ew.where(x <= -3.0, 0.0, ew.where(x >= 3.0, 1.0, x / 6.0 + 0.5))
    return _maybe_inplace(input, inplace, compute, "hardsigmoid")


def hardswish(input, inplace=False):
    def compute(x):
        return ew.where(x < -3.0, 0.0, ew.where(x > 3.0, x, x * (x + 3.0) / 6.0))
    return _maybe_inplace(input, inplace, compute, "hardswish")


def hardshrink(input, lambd=0.5):
    _check_tensor(input, "hardshrink")
    return ew.where(ew.logical_or(input > lambd, input < -lambd), input, 0.0)


def softshrink(input, lambd=0.5):
    _check_tensor(input, "softshrink")
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return ew.where(input > lambd, input - lambd, ew.where(input < -lambd, input + lambd, 0.0))


def glu(input, dim=-1):
    """Gated linear unit: split ``input`` in halves a, b along ``dim``; ``a * sigmoid(b)``."""
    _check_tensor(input, "glu")
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    size = input.shape[dim]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim % input.ndim} is size {size}")
    a, b = input.chunk(2, dim)
    return a * ew.sigmoid(b)


# ---------------------------------------------------------------- softmax family
def _implicit_softmax_dim(name, ndim, stacklevel):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
                  f"dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    _check_tensor(input, "softmax")
    if dim is None:
        dim = _implicit_softmax_dim("softmax", input.ndim, _stacklevel)
    return red.softmax(input, dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    _check_tensor(input, "softmin")
    if dim is None:
        dim = _implicit_softmax_dim("softmin", input.ndim, _stacklevel)
    return red.softmax(ew.neg(input), dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    _check_tensor(input, "log_softmax")
    if dim is None:
        dim = _implicit_softmax_dim("log_softmax", input.ndim, _stacklevel)
    return red.log_softmax(input, dim, dtype=dtype)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """Sample from the Gumbel-softmax distribution; ``hard=True`` returns one-hot samples
    whose gradient is that of the soft sample (straight-through)."""
    from ember.ops.random import rand_like
    u = rand_like(logits).clamp(min=1e-20)
    gumbels = ew.neg(ew.log(ew.neg(ew.log(u))))
    soft = red.softmax((logits + gumbels) / tau, dim)
    if not hard:
        return soft
    index = soft.argmax(dim, keepdim=True)
    from ember.ops.creation import zeros_like
    one_hot = zeros_like(logits).scatter(dim, index, 1.0)
    return one_hot - soft.detach() + soft
