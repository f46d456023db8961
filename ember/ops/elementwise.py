"""Elementwise ops: PyTorch's promotion, then one primitive call each."""
from __future__ import annotations

import math

from ember.core import dtype as dt
from ember.core.call import call
from ember.core.tensor import Tensor
from ember.dispatch.meta import broadcast_shapes
from ember.ops.promotion import check_broadcast, result_type
from ember.dispatch.ops import BITWISE, COMPARISON, FLOAT_UNARY, LOGICAL, OPS, ROUNDING
from ember.ops.creation import cast
from ember.ops.out import write_out
from ember.ops.public import export, public

_FLOAT = dt.FLOAT


# ---------------------------------------------------------------- helpers
def _promoted(a, b, dtype):
    if isinstance(a, Tensor):
        if a.dtype is not dtype:
            a = cast(a, dtype)
    elif dtype.category == dt.INT:
        a = _wrapped_int(a, dtype)
    elif dtype is dt.bfloat16 and isinstance(b, Tensor):
        a = _bfloat16_scalar(a, b)
    if isinstance(b, Tensor):
        if b.dtype is not dtype:
            b = cast(b, dtype)
    elif dtype.category == dt.INT:
        b = _wrapped_int(b, dtype)
    elif dtype is dt.bfloat16 and isinstance(a, Tensor):
        b = _bfloat16_scalar(b, a)
    return a, b


def _bfloat16_scalar(value, like: Tensor):
    """A Python float as a 0-d bfloat16 tensor: numpy (ml_dtypes) would promote
    bfloat16 with a Python float to float32 or float64, PyTorch keeps bfloat16."""
    if type(value) is not float:
        return value
    from ember.ops.creation import full
    return full((), value, dtype=dt.bfloat16, device=like.device)


def _wrapped_int(value, dtype):
    """A Python int outside ``dtype``'s range wraps around, as in PyTorch (numpy 2 would raise)."""
    if type(value) is not int:
        return value
    info = dtype.numpy
    import numpy as np
    limits = np.iinfo(info)
    if limits.min <= value <= limits.max:
        return value
    return int(np.array(value & 0xFFFF_FFFF_FFFF_FFFF, dtype=np.uint64).astype(info))


# float dtypes numpy also keeps with a Python scalar (bfloat16 it would widen: see _promoted)
_KEEPS_DTYPE_WITH_SCALARS = frozenset({dt.float16, dt.float32, dt.float64})


def _binary(op, a, b, floating=False):
    """Promote a and b (PyTorch rules), check broadcasting, call the primitive."""
    if type(a) is Tensor and type(b) is Tensor and a.dtype is b.dtype and not floating \
            and a._data.shape == b._data.shape:
        return call(op, a, b)
    # a float tensor with a Python number keeps its dtype (the number takes part weakly)
    tb = type(b)
    if (tb is float or tb is int) and isinstance(a, Tensor) and a.dtype in _KEEPS_DTYPE_WITH_SCALARS:
        return call(op, a, b)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op.name}(): expected at least one Tensor argument, got "
                        f"{type(a).__name__} and {type(b).__name__}")
    dtype = result_type(a, b)
    if floating and dtype.category != _FLOAT:
        dtype = dt.get_default_dtype()
    check_broadcast(a, b)
    a, b = _promoted(a, b, dtype)
    return call(op, a, b)


def _float_input(x: Tensor) -> Tensor:
    return x if x.dtype.category == _FLOAT else cast(x, dt.get_default_dtype())


def _require_tensor(x, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(x).__name__}")


# ---------------------------------------------------------------- families generated from the op table
def _float_unary(op):
    def fn(input, *, out=None):
        _require_tensor(input, op.name)
        return write_out(call(op, _float_input(input)), out, op.name)
    fn.__doc__ = _docstring(f"Computes {op.doc} of each element of ``input``.",
                            "integer and bool inputs are computed in the default float dtype",
                            "input", "A floating-point tensor of ``input``'s shape.")
    return fn


def _rounding(op):
    def fn(input, *, out=None):
        _require_tensor(input, op.name)
        result = call(op, input) if input.dtype.category == _FLOAT else call(OPS["clone"], input)
        return write_out(result, out, op.name)
    fn.__doc__ = _docstring(f"Elementwise, {op.doc}.", "integer inputs are already whole and come back as a copy",
                            "input", "A tensor of ``input``'s shape and dtype.")
    return fn


def _comparison(op):
    def fn(input, other, *, out=None):
        return write_out(_binary(op, input, other), out, op.name)
    fn.__doc__ = _docstring(f"Whether each element of ``input`` is {op.doc} ``other``.",
                            "the operands are promoted to a common dtype and broadcast", "input, other",
                            "A bool tensor of the broadcast shape.")
    return fn


def _logical(op):
    def fn(input, other, *, out=None):
        check_broadcast(input, other)
        return write_out(call(op, input, other), out, op.name)
    fn.__doc__ = _docstring(f"Elementwise logical {op.doc} of the truth values (nonzero is True) of the operands.",
                            "any dtypes; the operands broadcast", "input, other",
                            "A bool tensor of the broadcast shape.")
    return fn


def _bitwise(op):
    def fn(input, other, *, out=None):
        _check_bitwise(input, op.name)
        _check_bitwise(other, op.name)
        return write_out(_binary(op, input, other), out, op.name)
    fn.__doc__ = _docstring(f"Elementwise bitwise {op.doc} of integer or bool operands.",
                            "the operands are promoted to a common dtype and broadcast", "input, other",
                            "A tensor of the promoted dtype and the broadcast shape.")
    return fn


def _docstring(summary, rule, args, returns):
    arg_lines = {"input": "input: the tensor.", "input, other": "input: a tensor (or a Python number if ``other`` "
                 "is a tensor).\n        other: a tensor or a Python number."}[args]
    return (f"{summary}\n\n    Note: {rule}.\n\n    Args:\n        {arg_lines}\n        out: if given, the "
            f"result is written into it and it is returned.\n\n    Returns:\n        {returns}\n    ")


_FAMILIES = {FLOAT_UNARY: _float_unary, ROUNDING: _rounding, COMPARISON: _comparison, LOGICAL: _logical,
             BITWISE: _bitwise}
for _op in OPS.values():
    if _op.family in _FAMILIES:
        globals()[_op.name] = export(_op, _FAMILIES[_op.family](_op))
del _op


@public(method=True, inplace=True)
def round(input, *, decimals=0, out=None):
    _require_tensor(input, "round")
    if input.dtype.category != _FLOAT:
        return input.clone()
    return call(OPS["round"], input, decimals=decimals)


@public(method=True, inplace=True, aliases=("negative",))
def neg(input, *, out=None):
    if input.dtype is dt.bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.")
    return call(OPS["neg"], input)


@public(method=True, inplace=True, aliases=("absolute",))
def abs(input, *, out=None):
    return call(OPS["abs"], input)


@public(method=True, inplace=True)
def sign(input, *, out=None):
    return call(OPS["sign"], input)


@public(method=True, inplace=True)
def relu(input):
    return call(OPS["relu"], input)


@public(method=True, inplace=True)
def frac(input, *, out=None):
    return input - trunc(input)


@public(method=True, inplace=True)
def logical_not(input, *, out=None):
    return call(OPS["logical_not"], input)


@public(method=True, inplace=True)
def bitwise_not(input, *, out=None):
    _check_bitwise(input, "bitwise_not")
    return call(OPS["bitwise_not"], input)


@public(method=True)
def isnan(input):
    if input.dtype.category != _FLOAT:
        return _all_like(input, False)
    return call(OPS["isnan"], input)


@public(method=True)
def isinf(input):
    if input.dtype.category != _FLOAT:
        return _all_like(input, False)
    return call(OPS["isinf"], input)


@public(method=True)
def isfinite(input):
    if input.dtype.category != _FLOAT:
        return _all_like(input, True)
    return logical_not(logical_or(isnan(input), isinf(input)))


@public(method=True)
def isposinf(input):
    return logical_and(isinf(input), input > 0)


@public(method=True)
def isneginf(input):
    return logical_and(isinf(input), input < 0)


def _all_like(input, value):
    from ember.ops.creation import full_like
    return full_like(input, value, dtype=dt.bool_)


@public(method=True, inplace=True)
def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    if input.dtype.category != _FLOAT:
        return input.clone()
    import numpy as np
    import ml_dtypes
    info = ml_dtypes.finfo(input.dtype.numpy)  # numpy's finfo does not know bfloat16
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    out = where(isnan(input), nan, input)
    out = where(logical_and(isinf(out), out > 0), posinf, out)
    return where(logical_and(isinf(out), out < 0), neginf, out)


# ---------------------------------------------------------------- arithmetic
@public(method=True, inplace=True)
def add(input, other, *, alpha=1, out=None):
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(OPS["add"], input, other)


@public(method=True, inplace=True, aliases=("subtract",))
def sub(input, other, *, alpha=1, out=None):
    if isinstance(input, Tensor) and input.dtype is dt.bool_ and isinstance(other, Tensor) \
            and other.dtype is dt.bool_:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(OPS["sub"], input, other)


@public
def rsub(input, other, *, alpha=1):
    return sub(other, input, alpha=alpha)


@public(method=True, inplace=True, aliases=("multiply",))
def mul(input, other, *, out=None):
    return _binary(OPS["mul"], input, other)


@public(method=True, inplace=True, aliases=("divide", "true_divide"))
def div(input, other, *, rounding_mode=None, out=None):
    if rounding_mode is None:
        return _binary(OPS["div"], input, other, floating=True)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found '{rounding_mode}'")
    dtype = result_type(input, other)
    check_broadcast(input, other)
    if dtype.category != _FLOAT and _has_zero(other):
        raise RuntimeError("ZeroDivisionError: integer division by zero")
    a, b = _promoted(input, other, dtype)
    return call(OPS["div_rounding"], a, b, mode=rounding_mode)


def _has_zero(x):
    if isinstance(x, Tensor):
        return bool(call(OPS["eq"], x, 0).any()) if x.numel() else False
    return x == 0


@public(method=True, inplace=True)
def floor_divide(input, other, *, out=None):
    return div(input, other, rounding_mode="floor")


@public(method=True, inplace=True)
def remainder(input, other, *, out=None):
    _check_integer_divisor(input, other)
    return _binary(OPS["remainder"], input, other)


@public(method=True, inplace=True)
def fmod(input, other, *, out=None):
    _check_integer_divisor(input, other)
    return _binary(OPS["fmod"], input, other)


def _check_integer_divisor(input, other):
    if result_type(input, other).category != _FLOAT and _has_zero(other):
        raise RuntimeError("ZeroDivisionError: integer division by zero")


@public(method=True, inplace=True)
def pow(input, exponent, *, out=None):
    if isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        if exponent == 1:
            return input.clone()
        if exponent == 2:
            return mul(input, input)
    if isinstance(input, Tensor) and input.dtype.category == dt.INT and isinstance(exponent, int) and exponent < 0:
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    return _binary(OPS["pow"], input, exponent)


@public(method=True)
def float_power(input, exponent):
    return pow(input.double() if isinstance(input, Tensor) else input,
               exponent.double() if isinstance(exponent, Tensor) else exponent)


@public(method=True, inplace=True, aliases=("arctan2",))
def atan2(input, other, *, out=None):
    return _binary(OPS["atan2"], input, other, floating=True)


@public(method=True)
def maximum(input, other, *, out=None):
    """The elementwise maximum of ``input`` and ``other``; NaN wins (see ``fmax`` for the opposite).

    Args:
        input: a tensor.
        other: a tensor or a Python number, broadcast against ``input``.

    Returns:
        A tensor of the promoted dtype and the broadcast shape.
    """
    return _binary(OPS["maximum"], input, other)


@public(method=True)
def minimum(input, other, *, out=None):
    """The elementwise minimum of ``input`` and ``other``; NaN wins (see ``fmin`` for the opposite).

    Args:
        input: a tensor.
        other: a tensor or a Python number, broadcast against ``input``.

    Returns:
        A tensor of the promoted dtype and the broadcast shape.
    """
    return _binary(OPS["minimum"], input, other)


def _nan_ignoring(op, input, other):
    result = _binary(op, input, other)
    if result.dtype.category != _FLOAT:
        return result
    a, b = (x if isinstance(x, Tensor) else _full_like(result, x) for x in (input, other))
    return where(isnan(b), a, where(isnan(a), b, result))


def _full_like(like, value):
    from ember.ops.creation import full
    return full((), value, dtype=like.dtype, device=like.device)


@public(method=True)
def fmax(input, other, *, out=None):
    """The elementwise maximum, ignoring NaN: where exactly one operand is NaN, the other is taken.

    Args:
        input: a tensor.
        other: a tensor or a Python number, broadcast against ``input``.

    Returns:
        A tensor of the promoted dtype and the broadcast shape (NaN only where both are NaN).
    """
    return _nan_ignoring(OPS["maximum"], input, other)


@public(method=True)
def fmin(input, other, *, out=None):
    """The elementwise minimum, ignoring NaN: where exactly one operand is NaN, the other is taken.

    Args:
        input: a tensor.
        other: a tensor or a Python number, broadcast against ``input``.

    Returns:
        A tensor of the promoted dtype and the broadcast shape (NaN only where both are NaN).
    """
    return _nan_ignoring(OPS["minimum"], input, other)


@public(method=True, inplace=True, aliases=("clip",))
def clamp(input, min=None, max=None, *, out=None):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    out = input
    dtype = result_type(*(v for v in (input, min, max) if v is not None))
    if out.dtype is not dtype:
        out = cast(out, dtype)
    # where() rather than maximum/minimum: the gradient passes inside [min, max], ends included
    if min is not None:
        out = where(lt(out, min), min, out)
    if max is not None:
        out = where(gt(out, max), max, out)
    return out


@public(method=True, inplace=True)
def clamp_min(input, min):
    return clamp(input, min=min)


@public(method=True, inplace=True)
def clamp_max(input, max):
    return clamp(input, max=max)


@public(method=True, inplace=True)
def lerp(input, end, weight, *, out=None):
    return add(input, mul(weight, sub(end, input)))


@public(method=True, inplace=True)
def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    """``input + value * tensor1 * tensor2`` (the scale applies to tensor1 first, as in PyTorch)."""
    scaled = tensor1 if value == 1 else mul(tensor1, value)
    return add(input, mul(scaled, tensor2))


@public(method=True, inplace=True)
def addcdiv(input, tensor1, tensor2, *, value=1, out=None):
    """``input + value * tensor1 / tensor2``; integer tensor1 and tensor2 are refused, as in PyTorch."""
    if all(isinstance(t, Tensor) and t.dtype.category != _FLOAT for t in (tensor1, tensor2)):
        raise RuntimeError(f"Integer division with addcdiv is no longer supported (got {tensor1.dtype.name} "
                           f"and {tensor2.dtype.name}); use addcmul with a float reciprocal or true "
                           f"division instead.")
    scaled = tensor1 if value == 1 else mul(tensor1, value)
    return add(input, div(scaled, tensor2))


@public
def where(condition, input=None, other=None, *, out=None):
    if input is None and other is None:
        from ember.ops.indexing import nonzero
        return nonzero(condition, as_tuple=True)
    if condition.dtype is not dt.bool_:
        condition = cast(condition, dt.bool_)
    dtype = result_type(input, other)
    input, other = _promoted(input, other, dtype)
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        from ember.ops.creation import full
        input = full((), input, dtype=dtype, device=condition.device)
    broadcast_shapes(*(x._data.shape for x in (condition, input, other) if isinstance(x, Tensor)))
    return call(OPS["where"], condition, input, other)


@public(name="where", function=False, method=True)
def _where_method(self, condition, other):
    """``x.where(condition, y)``: the elements of this tensor where ``condition`` holds, else ``y``'s.

    Args:
        condition: a bool tensor broadcast against this one.
        other: a tensor or a Python number for the places where ``condition`` is False.

    Returns:
        ``ember.where(condition, self, other)``.
    """
    return where(condition, self, other)


def _check_bitwise(x, name):
    # NotImplementedError (a RuntimeError) is what PyTorch raises for a dtype a kernel lacks
    if isinstance(x, Tensor) and x.dtype.category == _FLOAT:
        raise NotImplementedError(f"\"{name}\" not implemented for '{x.dtype.name}': bitwise ops need "
                                  f"integer or bool tensors")
    if isinstance(x, float):
        raise NotImplementedError(f"\"{name}\" not implemented for a float scalar ({x})")




@public(method=True)
def equal(input, other) -> bool:
    """True when both have the same shape and elements."""
    return input.shape == other.shape and bool(eq(input, other).all())


@public(method=True)
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


@public(method=True)
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    dtype = result_type(input, other)
    if dtype.category != _FLOAT:
        dtype = dt.get_default_dtype()
    a, b = _promoted(input, other, dtype)
    close = le(abs(sub(a, b)), add(mul(abs(b), rtol), atol))
    close = logical_or(close, eq(a, b))  # equal infinities
    if equal_nan:
        close = logical_or(close, logical_and(isnan(a), isnan(b)))
    return close


# ---------------------------------------------------------------- composites a backend may fuse
def _gelu_reference(input, *, approximate):
    """The ``gelu`` composite: ``x * Phi(x)`` (erf form) or its tanh approximation."""
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * 0.5 * (tanh(inner) + 1.0)  # noqa: F821  (generated from the op table)
    return input * 0.5 * (erf(input * (1.0 / math.sqrt(2.0))) + 1.0)  # noqa: F821


OPS["gelu"].decomposition = _gelu_reference

