"""Activation functions (``F.relu``, ``F.gelu``, ``F.softmax``, ...).

Each is a composite of ember ops, so it runs and differentiates on every backend.
Branches are written with ``where`` and the value fed to a branch that is not taken is
kept finite (``exp`` of a clamped argument), so no inf*0 reaches a gradient. The
``inplace=True`` forms compute the result and write it into the input.
"""
from __future__ import annotations

import math
import warnings

from ember.core import dtype as dt
from ember.dispatch.public_op import dispatch_point
from ember.core.autograd import is_grad_enabled
from ember.core.tensor import Tensor
from ember.dispatch.ops import OPS
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


def _maybe_inplace(input, inplace, compute, name, integers=False):
    """``compute(input)``, or written into ``input`` with ``inplace``. As PyTorch's kernels:
    integer inputs are refused unless the activation keeps them (``integers``), and half
    precision inputs are computed in float32, then rounded back."""
    _check_tensor(input, name)
    if not integers:
        _floating_only(input, name)
        compute = _in_float32(compute)
    return _write_into(input, compute) if inplace else compute(input)


_HALF = frozenset({dt.float16, dt.bfloat16})
_KERNEL_TYPE_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
                      "int64": "Long"}


def _floating_only(input, name):
    """PyTorch's NotImplementedError for an activation of an integer or bool tensor."""
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"{name}\" not implemented for '{_KERNEL_TYPE_NAMES[input.dtype.name]}'")


def _in_float32(compute):
    """``compute`` run in float32 for half-precision inputs, as PyTorch's CPU kernels do."""
    def run(x):
        return compute(x) if x.dtype not in _HALF else compute(x.float()).to(x.dtype)
    return run


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
    """Keeps the entries of ``input`` above ``threshold`` and replaces all others with ``value``.

    Args:
        input: the tensor.
        threshold: entries greater than this are kept unchanged.
        value: what entries less than or equal to ``threshold`` become.
        inplace: if ``True``, the result is written into ``input``, which is returned. Default: ``False``.

    Returns:
        A tensor of ``input``'s shape.
    """
    return _maybe_inplace(input, inplace, lambda x: ew.where(x > threshold, x, _like(value, x)), "threshold",
                          integers=True)


def threshold_(input, threshold, value):
    """In-place form of :func:`threshold`: writes the result into ``input``.

    Args:
        input: the tensor to modify.
        threshold: entries greater than this are kept unchanged.
        value: what entries less than or equal to ``threshold`` become.

    Returns:
        ``input``, modified.
    """
    return _write_into(input, lambda x: ew.where(x > threshold, x, _like(value, x)))


def relu(input, inplace=False):
    """Rectified linear unit: clamps the negative entries of ``input`` to zero.

    Args:
        input: the tensor.
        inplace: if ``True``, the result is written into ``input``, which is returned. Default: ``False``.

    Returns:
        A tensor of ``input``'s shape holding ``max(0, x)``.
    """
    _check_tensor(input, "relu")
    return input.relu_() if inplace else ew.relu(input)


def relu_(input):
    """In-place form of :func:`relu`.

    Args:
        input: the tensor whose negative entries are set to zero.

    Returns:
        ``input``, modified.
    """
    return input.relu_()


def _like(value, x):
    """A scalar in ``x``'s kind: an integer tensor keeps its dtype (PyTorch casts the scalar)."""
    return value if x.dtype.is_floating_point or isinstance(value, bool) else int(value)


def _hardtanh(x, min_val, max_val):
    # the gradient is 0 at and outside the limits, as in PyTorch
    min_val, max_val = _like(min_val, x), _like(max_val, x)
    return ew.where(x <= min_val, min_val, ew.where(x >= max_val, max_val, x))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """Clips ``input`` to the interval ``[min_val, max_val]``.

    The gradient is zero at and beyond the two limits.

    Args:
        input: the tensor.
        min_val: lower end of the linear region. Default: ``-1.0``.
        max_val: upper end of the linear region; must not be smaller than ``min_val``. Default: ``1.0``.
        inplace: if ``True``, the result is written into ``input``, which is returned. Default: ``False``.

    Returns:
        A tensor of ``input``'s shape.

    Raises:
        ValueError: if ``min_val > max_val``.
    """
    if min_val > max_val:
        raise ValueError(f"min_val cannot be greater than max_val, got min_val={min_val}, max_val={max_val}")
    return _maybe_inplace(input, inplace, lambda x: _hardtanh(x, min_val, max_val), "hardtanh", integers=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    """In-place form of :func:`hardtanh`.

    Args:
        input: the tensor to clip.
        min_val: lower end of the linear region. Default: ``-1.0``.
        max_val: upper end of the linear region. Default: ``1.0``.

    Returns:
        ``input``, modified.
    """
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    """ReLU capped at 6: ``min(max(0, x), 6)``, i.e. :func:`hardtanh` with limits 0 and 6.

    Args:
        input: the tensor.
        inplace: if ``True``, the result is written into ``input``, which is returned. Default: ``False``.

    Returns:
        A tensor of ``input``'s shape.
    """
    return hardtanh(input, 0.0, 6.0, inplace)


def _elu(x, alpha, scale=1.0, input_scale=1.0):
    negative = ew.expm1(ew.clamp(x, max=0.0) * input_scale) * alpha
    out = ew.where(x > 0, x, negative)
    return out * scale if scale != 1.0 else out


def elu(input, alpha=1.0, inplace=False):
    """Exponential linear unit: ``x`` for positive entries, ``alpha * (exp(x) - 1)`` for the rest.

    Args:
        input: the tensor.
        alpha: the value the negative branch saturates towards is ``-alpha``. Default: ``1.0``.
        inplace: if ``True``, the result is written into ``input``, which is returned. Default: ``False``.

    Returns:
        A tensor of ``input``'s shape.
    """
    return _maybe_inplace(input, inplace, lambda x: _elu(x, alpha), "elu")


def elu_(input, alpha=1.0):
    """In-place form of :func:`elu`.

    Args:
        input: the tensor to transform.
        alpha: scale of the negative branch. Default: ``1.0``.

    Returns:
        ``input``, modified.
    """
    return elu(input, alpha, inplace=True)


def selu(input, inplace=False):
    """Scaled ELU: ``scale * elu(x, alpha)`` with fixed self-normalizing constants.

    The constants are ``alpha ~ 1.6733`` and ``scale ~ 1.0507``.

    Args:
        input: the tensor.
        inplace: if ``True``, the result is written into ``input``, which is returned. Default: ``False``.

    Returns:
        A tensor of ``input``'s shape.
    """
    return _maybe_inplace(input, inplace, lambda x: _elu(x, _SELU_ALPHA, _SELU_SCALE), "selu")


def selu_(input):
    """In-place form of :func:`selu`.

    Args:
        input: the tensor to transform.

    Returns:
        ``input``, modified.
    """
    return selu(input, inplace=True)


def celu(input, alpha=1.0, inplace=False):
    """Continuously differentiable ELU: ``x`` for positive entries, ``alpha * (exp(x / alpha) - 1)`` otherwise.

    Args:
        input: the tensor.
        alpha: scale of the negative branch; must not be 0. Default: ``1.0``.
        inplace: if ``True``, the result is written into ``input``, which is returned. Default: ``False``.

    Returns:
        A tensor of ``input``'s shape.

    Raises:
        RuntimeError: if ``alpha`` is 0.
    """
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: celu's alpha must not be 0")
    return _maybe_inplace(input, inplace, lambda x: _elu(x, alpha, input_scale=1.0 / alpha), "celu")


def celu_(input, alpha=1.0):
    """In-place form of :func:`celu`.

    Args:
        input: the tensor to transform.
        alpha: scale of the negative branch; must not be 0. Default: ``1.0``.

    Returns:
        ``input``, modified.
    """
    return celu(input, alpha, inplace=True)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """Leaky ReLU: positive entries pass unchanged, the others are multiplied by ``negative_slope``.

    Args:
        input: the tensor.
        negative_slope: factor applied to entries that are not positive. Default: ``0.01``.
        inplace: if ``True``, the result is written into ``input``, which is returned. Default: ``False``.

    Returns:
        A tensor of ``input``'s shape.
    """
    return _maybe_inplace(input, inplace, lambda x: ew.where(x > 0, x, x * negative_slope), "leaky_relu")


def leaky_relu_(input, negative_slope=0.01):
    """In-place form of :func:`leaky_relu`.

    Args:
        input: the tensor to transform.
        negative_slope: factor applied to entries that are not positive. Default: ``0.01``.

    Returns:
        ``input``, modified.
    """
    return leaky_relu(input, negative_slope, inplace=True)


@dispatch_point("prelu")
def prelu(input, weight):
    """Parametric ReLU: ``max(0, x) + weight * min(0, x)`` with a learnable slope.

    Args:
        input: the tensor; its channels are along dim 1 (an input with fewer than 2 dims counts as one channel).
        weight: the negative slope, either a single element shared by all entries or one element per
            channel of ``input``.

    Returns:
        A tensor of ``input``'s shape.

    Raises:
        RuntimeError: if ``weight`` has more than one element and that count does not match the number of
            channels (or ``input`` is 0-d).
    """
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
    """Randomized leaky ReLU: negative entries are scaled by a slope that is random in training.

    In training each negative entry gets its own slope drawn uniformly from ``[lower, upper]``;
    otherwise every slope is the fixed ``(lower + upper) / 2``.

    Args:
        input: the tensor.
        lower: lower bound of the random slope. Default: ``1/8``.
        upper: upper bound of the random slope. Default: ``1/3``.
        training: draw random slopes if ``True``, use their mean otherwise. Default: ``False``.
        inplace: if ``True``, the result is written into ``input``, which is returned. Default: ``False``.

    Returns:
        A tensor of ``input``'s shape.
    """
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    from ember.ops.random import rand_like

    def compute(x):
        slopes = rand_like(x) * (upper - lower) + lower
        return ew.where(x >= 0, x, x * slopes)
    return _maybe_inplace(input, inplace, compute, "rrelu")


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    """In-place form of :func:`rrelu`.

    Args:
        input: the tensor to transform.
        lower: lower bound of the random slope. Default: ``1/8``.
        upper: upper bound of the random slope. Default: ``1/3``.
        training: draw random slopes if ``True``, use their mean otherwise. Default: ``False``.

    Returns:
        ``input``, modified.
    """
    return rrelu(input, lower, upper, training, inplace=True)


# ---------------------------------------------------------------- smooth activations
def gelu(input, approximate="none"):
    """Gaussian error linear unit: ``x * Phi(x)``, with ``Phi`` the standard normal CDF.

    Args:
        input: the tensor.
        approximate: ``'none'`` (default) for the exact erf form, or ``'tanh'`` for the tanh approximation
            ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))``.

    Returns:
        A tensor of ``input``'s shape.

    Raises:
        RuntimeError: if ``approximate`` is neither ``'none'`` nor ``'tanh'``.
    """
    _check_tensor(input, "gelu")
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh, got '{approximate}'")
    _floating_only(input, "GeluKernelImpl")
    return _in_float32(lambda x: red.run_composite(OPS["gelu"], x, approximate=approximate))(input)


def silu(input, inplace=False):
    """Sigmoid linear unit (swish): ``x * sigmoid(x)``.

    Args:
        input: the tensor.
        inplace: if ``True``, the result is written into ``input``, which is returned. Default: ``False``.

    Returns:
        A tensor of ``input``'s shape.
    """
    return _maybe_inplace(input, inplace, lambda x: x * ew.sigmoid(x), "silu")


def mish(input, inplace=False):
    """Mish activation: ``x * tanh(softplus(x))``.

    Args:
        input: the tensor.
        inplace: if ``True``, the result is written into ``input``, which is returned. Default: ``False``.

    Returns:
        A tensor of ``input``'s shape.
    """
    return _maybe_inplace(input, inplace, lambda x: x * ew.tanh(_softplus_unit(x)), "mish")


@dispatch_point("softplus")
def softplus(input, beta=1.0, threshold=20.0):
    """Smooth approximation of ReLU: ``log(1 + exp(beta * x)) / beta``.

    Where ``beta * x`` exceeds ``threshold`` the result is ``x`` itself; the rest is computed
    without overflow.

    Args:
        input: the tensor.
        beta: sharpness of the curve. Default: ``1.0``.
        threshold: above this value of ``beta * x`` the function is treated as linear. Default: ``20.0``.

    Returns:
        A tensor of ``input``'s shape.
    """
    _check_tensor(input, "softplus")
    _floating_only(input, "softplus")

    def compute(x):
        z = x * beta if beta != 1 else x
        soft = _softplus_unit(z)
        if beta != 1:
            soft = soft / beta
        return ew.where(z > threshold, x, soft)
    return _in_float32(compute)(input)


def logsigmoid(input):
    """Logarithm of the sigmoid, ``log(sigmoid(x)) = -softplus(-x)``, finite for inputs of any size.

    Args:
        input: the tensor.

    Returns:
        A tensor of ``input``'s shape with non-positive entries.
    """
    _check_tensor(input, "logsigmoid")
    _floating_only(input, "log_sigmoid")
    return _in_float32(lambda x: ew.neg(_softplus_unit(ew.neg(x))))(input)


def softsign(input):
    """Soft sign: ``x / (1 + |x|)``, which maps every entry into ``(-1, 1)``.

    Args:
        input: the tensor.

    Returns:
        A tensor of ``input``'s shape.
    """
    return input / (ew.abs(input) + 1.0)


def tanhshrink(input):
    """Subtracts the hyperbolic tangent from each entry: ``x - tanh(x)``.

    Args:
        input: the tensor.

    Returns:
        A tensor of ``input``'s shape.
    """
    return input - ew.tanh(input)


def sigmoid(input):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, applied entrywise.

    Args:
        input: the tensor.

    Returns:
        A tensor of ``input``'s shape with entries in ``(0, 1)``.
    """
    return ew.sigmoid(input)


def tanh(input):
    """Hyperbolic tangent, applied entrywise.

    Args:
        input: the tensor.

    Returns:
        A tensor of ``input``'s shape with entries in ``(-1, 1)``.
    """
    return ew.tanh(input)


def hardsigmoid(input, inplace=False):
    """Piecewise-linear sigmoid: 0 for ``x <= -3``, 1 for ``x >= 3``, and ``x / 6 + 1/2`` in between.

    Args:
        input: the tensor.
        inplace: if ``True``, the result is written into ``input``, which is returned. Default: ``False``.

    Returns:
        A tensor of ``input``'s shape.
    """
    def compute(x):
        return ew.where(x <= -3.0, 0.0, ew.where(x >= 3.0, 1.0, x / 6.0 + 0.5))
    return _maybe_inplace(input, inplace, compute, "hardsigmoid")


def hardswish(input, inplace=False):
    """Piecewise approximation of swish: 0 for ``x < -3``, ``x`` for ``x > 3``, ``x * (x + 3) / 6`` in between.

    Args:
        input: the tensor.
        inplace: if ``True``, the result is written into ``input``, which is returned. Default: ``False``.

    Returns:
        A tensor of ``input``'s shape.
    """
    def compute(x):
        return ew.where(x < -3.0, 0.0, ew.where(x > 3.0, x, x * (x + 3.0) / 6.0))
    return _maybe_inplace(input, inplace, compute, "hardswish")


def hardshrink(input, lambd=0.5):
    """Zeroes the entries whose magnitude is at most ``lambd`` and keeps the others unchanged.

    Args:
        input: the tensor.
        lambd: the half-width of the band around zero that is cleared. Default: ``0.5``.

    Returns:
        A tensor of ``input``'s shape.
    """
    _check_tensor(input, "hardshrink")
    _floating_only(input, "hardshrink")
    return ew.where(ew.logical_or(input > lambd, input < -lambd), input, 0.0)


def softshrink(input, lambd=0.5):
    """Soft thresholding: moves every entry ``lambd`` closer to zero, and zeroes those within ``lambd`` of it.

    Args:
        input: the tensor.
        lambd: the shrinkage amount; must be non-negative. Default: ``0.5``.

    Returns:
        A tensor of ``input``'s shape: ``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, 0 between.

    Raises:
        RuntimeError: if ``lambd`` is negative.
    """
    _check_tensor(input, "softshrink")
    _floating_only(input, "softshrink")
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return ew.where(input > lambd, input - lambd, ew.where(input < -lambd, input + lambd, 0.0))


def glu(input, dim=-1):
    """Gated linear unit: splits ``input`` into halves ``a`` and ``b`` along ``dim`` and returns ``a * sigmoid(b)``.

    Args:
        input: the tensor; its size along ``dim`` must be even.
        dim: the dimension to split. Default: ``-1``.

    Returns:
        A tensor of ``input``'s shape with the size along ``dim`` halved.

    Raises:
        RuntimeError: if ``input`` is 0-d or its size along ``dim`` is odd.
    """
    _check_tensor(input, "glu")
    _floating_only(input, "glu")
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


@dispatch_point("softmax")
def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """Rescales ``input`` along ``dim`` so that its entries are positive and sum to 1.

    Args:
        input: the tensor.
        dim: the dimension to normalize over. Leaving it ``None`` is deprecated: a warning is raised and
            dim 0 is used for 0-, 1- and 3-d inputs, dim 1 for the others.
        dtype: if given, ``input`` is cast to it first (guards against overflow in low precision).

    Returns:
        A tensor of ``input``'s shape (and of ``dtype`` when given).
    """
    _check_tensor(input, "softmax")
    if dim is None:
        dim = _implicit_softmax_dim("softmax", input.ndim, _stacklevel)
    return red.softmax(input, dim, dtype=dtype)


@dispatch_point("softmin")
def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """Softmax of the negated input: along ``dim``, the smallest entries receive the largest weights.

    Args:
        input: the tensor.
        dim: the dimension to normalize over. Leaving it ``None`` is deprecated: a warning is raised and
            dim 0 is used for 0-, 1- and 3-d inputs, dim 1 for the others.
        dtype: if given, the computation is done in (and the result has) this dtype.

    Returns:
        A tensor of ``input``'s shape whose entries along ``dim`` are positive and sum to 1.
    """
    _check_tensor(input, "softmin")
    if dim is None:
        dim = _implicit_softmax_dim("softmin", input.ndim, _stacklevel)
    return red.softmax(ew.neg(input), dim, dtype=dtype)


@dispatch_point("log_softmax")
def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """Logarithm of :func:`softmax` along ``dim``, computed in a numerically stable way.

    Args:
        input: the tensor.
        dim: the dimension to normalize over. Leaving it ``None`` is deprecated: a warning is raised and
            dim 0 is used for 0-, 1- and 3-d inputs, dim 1 for the others.
        dtype: if given, ``input`` is cast to it first.

    Returns:
        A tensor of ``input``'s shape holding log-probabilities along ``dim``.
    """
    _check_tensor(input, "log_softmax")
    if dim is None:
        dim = _implicit_softmax_dim("log_softmax", input.ndim, _stacklevel)
    return red.log_softmax(input, dim, dtype=dtype)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """Draws a sample from the Gumbel-softmax (concrete) distribution defined by ``logits``.

    Gumbel noise is added to ``logits``, the sum is divided by ``tau`` and a softmax is taken
    along ``dim``. With ``hard=True`` the sample is turned into a one-hot vector (the arg-max),
    while its gradient stays that of the soft sample (straight-through estimator).

    Args:
        logits: unnormalized log-probabilities.
        tau: temperature; smaller values give samples closer to one-hot. Default: ``1.0``.
        hard: return one-hot samples if ``True``. Default: ``False``.
        eps: deprecated and unused, as in PyTorch; a value other than ``1e-10`` raises a warning.
        dim: the dimension holding the categories. Default: ``-1``.

    Returns:
        A tensor of ``logits``' shape whose entries along ``dim`` sum to 1.
    """
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
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
