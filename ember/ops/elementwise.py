"""Elementwise ops: PyTorch's promotion, then one primitive call each."""
from __future__ import annotations

from ember.core import dtype as dt
from ember.core.call import call
from ember.core.tensor import Tensor
from ember.dispatch.meta import check_broadcast, result_type
from ember.dispatch.ops import OPS
from ember.ops.creation import cast

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


def _make_float_unary(name):
    op = OPS[name]

    def unary(input, *, out=None):
        _require_tensor(input, name)
        return call(op, _float_input(input))
    unary.__name__ = unary.__qualname__ = name
    unary.__doc__ = f"Elementwise {name}; integer inputs are computed in the default float dtype."
    return unary


_FLOAT_UNARY = """sqrt rsqrt exp exp2 expm1 log log2 log10 log1p sin cos tan asin acos atan
    sinh cosh tanh sigmoid erf erfinv reciprocal""".split()
_g = globals()
for _name in _FLOAT_UNARY:
    _g[_name] = _make_float_unary(_name)
del _g, _name
arcsin, arccos, arctan = asin, acos, atan  # noqa: F821  (numpy-style aliases, as in PyTorch)


def _make_rounding(name):
    op = OPS[name]

    def rounding(input, *, out=None):
        _require_tensor(input, name)
        if input.dtype.category != _FLOAT:
            return input.clone()  # integers are already whole
        return call(op, input)
    rounding.__name__ = rounding.__qualname__ = name
    return rounding


floor = _make_rounding("floor")
ceil = _make_rounding("ceil")
trunc = _make_rounding("trunc")
fix = trunc


def round(input, *, decimals=0, out=None):
    _require_tensor(input, "round")
    if input.dtype.category != _FLOAT:
        return input.clone()
    return call(OPS["round"], input, decimals=decimals)


def neg(input, *, out=None):
    if input.dtype is dt.bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.")
    return call(OPS["neg"], input)


negative = neg


def abs(input, *, out=None):
    return call(OPS["abs"], input)


absolute = abs


def sign(input, *, out=None):
    return call(OPS["sign"], input)


def relu(input):
    return call(OPS["relu"], input)


def frac(input, *, out=None):
    return input - trunc(input)


def logical_not(input, *, out=None):
    return call(OPS["logical_not"], input)


def bitwise_not(input, *, out=None):
    _check_bitwise(input, "bitwise_not")
    return call(OPS["bitwise_not"], input)


def isnan(input):
    if input.dtype.category != _FLOAT:
        return _all_like(input, False)
    return call(OPS["isnan"], input)


def isinf(input):
    if input.dtype.category != _FLOAT:
        return _all_like(input, False)
    return call(OPS["isinf"], input)


def isfinite(input):
    if input.dtype.category != _FLOAT:
        return _all_like(input, True)
    return logical_not(logical_or(isnan(input), isinf(input)))


def isposinf(input):
    return logical_and(isinf(input), input > 0)


def isneginf(input):
    return logical_and(isinf(input), input < 0)


def _all_like(input, value):
    from ember.ops.creation import full_like
    return full_like(input, value, dtype=dt.bool_)


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
def add(input, other, *, alpha=1, out=None):
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(OPS["add"], input, other)


def sub(input, other, *, alpha=1, out=None):
    if isinstance(input, Tensor) and input.dtype is dt.bool_ and isinstance(other, Tensor) \
            and other.dtype is dt.bool_:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(OPS["sub"], input, other)


subtract = sub


def rsub(input, other, *, alpha=1):
    return sub(other, input, alpha=alpha)


def mul(input, other, *, out=None):
    return _binary(OPS["mul"], input, other)


multiply = mul


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


divide = true_divide = div


def _has_zero(x):
    if isinstance(x, Tensor):
        return bool(call(OPS["eq"], x, 0).any()) if x.numel() else False
    return x == 0


def floor_divide(input, other, *, out=None):
    return div(input, other, rounding_mode="floor")


def remainder(input, other, *, out=None):
    _check_integer_divisor(input, other)
    return _binary(OPS["remainder"], input, other)


def fmod(input, other, *, out=None):
    _check_integer_divisor(input, other)
    return _binary(OPS["fmod"], input, other)


def _check_integer_divisor(input, other):
    if result_type(input, other).category != _FLOAT and _has_zero(other):
        raise RuntimeError("ZeroDivisionError: integer division by zero")


def pow(input, exponent, *, out=None):
    if isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        if exponent == 1:
            return input.clone()
        if exponent == 2:
            return mul(input, input)
    if isinstance(input, Tensor) and input.dtype.category == dt.INT and isinstance(exponent, int) and exponent < 0:
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    return _binary(OPS["pow"], input, exponent)


def float_power(input, exponent):
    return pow(input.double() if isinstance(input, Tensor) else input,
               exponent.double() if isinstance(exponent, Tensor) else exponent)


def atan2(input, other, *, out=None):
    return _binary(OPS["atan2"], input, other, floating=True)


arctan2 = atan2


def maximum(input, other, *, out=None):
    return _binary(OPS["maximum"], input, other)


def minimum(input, other, *, out=None):
    return _binary(OPS["minimum"], input, other)


fmax, fmin = maximum, minimum


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


clip = clamp


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


def lerp(input, end, weight, *, out=None):
    return add(input, mul(weight, sub(end, input)))


def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    """``input + value * tensor1 * tensor2`` (the scale applies to tensor1 first, as in PyTorch)."""
    scaled = tensor1 if value == 1 else mul(tensor1, value)
    return add(input, mul(scaled, tensor2))


def addcdiv(input, tensor1, tensor2, *, value=1, out=None):
    """``input + value * tensor1 / tensor2``; integer tensor1 and tensor2 are refused, as in PyTorch."""
    if all(isinstance(t, Tensor) and t.dtype.category != _FLOAT for t in (tensor1, tensor2)):
        raise RuntimeError(f"Integer division with addcdiv is no longer supported (got {tensor1.dtype.name} "
                           f"and {tensor2.dtype.name}); use addcmul with a float reciprocal or true "
                           f"division instead.")
    scaled = tensor1 if value == 1 else mul(tensor1, value)
    return add(input, div(scaled, tensor2))


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
    from ember.dispatch.meta import broadcast_shapes
    broadcast_shapes(*(x._data.shape for x in (condition, input, other) if isinstance(x, Tensor)))
    return call(OPS["where"], condition, input, other)


# ---------------------------------------------------------------- comparisons and logic
def _make_compare(name):
    op = OPS[name]

    def compare(input, other, *, out=None):
        return _binary(op, input, other)
    compare.__name__ = compare.__qualname__ = name
    return compare


eq = _make_compare("eq")
ne = _make_compare("ne")
lt = _make_compare("lt")
le = _make_compare("le")
gt = _make_compare("gt")
ge = _make_compare("ge")
not_equal, less, less_equal, greater, greater_equal = ne, lt, le, gt, ge


def _make_logical(name):
    op = OPS[name]

    def logical(input, other, *, out=None):
        check_broadcast(input, other)
        return call(op, input, other)
    logical.__name__ = logical.__qualname__ = name
    return logical


logical_and = _make_logical("logical_and")
logical_or = _make_logical("logical_or")
logical_xor = _make_logical("logical_xor")


def _check_bitwise(x, name):
    # NotImplementedError (a RuntimeError) is what PyTorch raises for a dtype a kernel lacks
    if isinstance(x, Tensor) and x.dtype.category == _FLOAT:
        raise NotImplementedError(f"\"{name}\" not implemented for '{x.dtype.name}': bitwise ops need "
                                  f"integer or bool tensors")
    if isinstance(x, float):
        raise NotImplementedError(f"\"{name}\" not implemented for a float scalar ({x})")


def _make_bitwise(name):
    op = OPS[name]

    def bitwise(input, other, *, out=None):
        _check_bitwise(input, name)
        _check_bitwise(other, name)
        return _binary(op, input, other)
    bitwise.__name__ = bitwise.__qualname__ = name
    return bitwise


bitwise_and = _make_bitwise("bitwise_and")
bitwise_or = _make_bitwise("bitwise_or")
bitwise_xor = _make_bitwise("bitwise_xor")
bitwise_left_shift = _make_bitwise("bitwise_left_shift")
bitwise_right_shift = _make_bitwise("bitwise_right_shift")


def equal(input, other) -> bool:
    """True when both have the same shape and elements."""
    return input.shape == other.shape and bool(eq(input, other).all())


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


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
