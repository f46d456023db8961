"""Elementwise ops: PyTorch's promotion, then one primitive call each."""
from __future__ import annotations

import math
import numbers

import numpy as np

from ember.core import dtype as dt
from ember.dispatch.public_op import dispatch_point
from ember.core.call import call
from ember.core.tensor import Tensor
from ember.dispatch.meta import broadcast_shapes
from ember.ops.promotion import check_broadcast, result_type
from ember.dispatch.ops import BITWISE, COMPARISON, FLOAT_UNARY, LOGICAL, OPS, ROUNDING
from ember.ops.creation import cast
from ember.ops.out import _title
from ember.ops.public import export, public

_FLOAT = dt.FLOAT
_COMPLEX = dt.COMPLEX
_BOOL = dt.bool_
_builtin_abs = abs  # (``abs`` below is ember's)
_NUMBER = numbers.Number


# ---------------------------------------------------------------- helpers
def _promoted(a, b, dtype):
    if isinstance(a, Tensor):
        if a.dtype is not dtype:
            a = cast(a, dtype)
    else:
        if isinstance(a, np.generic):  # a numpy scalar takes part as a Python number, as in PyTorch
            a = a.item()
        if dtype.category == dt.INT:
            a = _wrapped_int(a, dtype)
        elif (dtype is dt.bfloat16 or dtype._ops is not None) and isinstance(b, Tensor):
            a = _bfloat16_scalar(a, b, dtype)
    if isinstance(b, Tensor):
        if b.dtype is not dtype:
            b = cast(b, dtype)
    else:
        if isinstance(b, np.generic):
            b = b.item()
        if dtype.category == dt.INT:
            b = _wrapped_int(b, dtype)
        elif (dtype is dt.bfloat16 or dtype._ops is not None) and isinstance(a, Tensor):
            b = _bfloat16_scalar(b, a, dtype)
    return a, b


def _bfloat16_scalar(value, like: Tensor, dtype=dt.bfloat16):
    """A Python float as a 0-d bfloat16 (or float8) tensor: numpy (ml_dtypes) would promote
    bfloat16 with a Python float to float32 or float64, PyTorch keeps bfloat16 (and rounds
    the number to float8 first: ``x == 2.6`` holds for a float8_e4m3fn 2.5)."""
    if type(value) is not float and (dtype._ops is None or isinstance(value, Tensor)):
        return value
    from ember.ops.creation import full
    return full((), value, dtype=dtype, device=like.device)


def _wrapped_int(value, dtype):
    """A Python int outside ``dtype``'s range wraps around, as in PyTorch (numpy 2 would raise)."""
    if type(value) is not int:
        return value
    info = dtype.numpy
    limits = np.iinfo(info)
    if limits.min <= value <= limits.max:
        return value
    return int(np.array(value & 0xFFFF_FFFF_FFFF_FFFF, dtype=np.uint64).astype(info))


# float dtypes numpy also keeps with a Python scalar (bfloat16 it would widen: see _promoted)
_KEEPS_DTYPE_WITH_SCALARS = frozenset({dt.float16, dt.float32, dt.float64})
_RELU = OPS["relu"]


def _refuse_complex(op, a, b):
    """PyTorch's error for a binary op it has no complex kernel for."""
    device = (a if isinstance(a, Tensor) else b).device.type
    if op.name in ("maximum", "minimum"):
        return RuntimeError(f"{op.name} not implemented for complex tensors.")
    return _not_implemented(f"{op.name}_{device}", result_type(a, b))


# binary primitives PyTorch refuses for complex operands (no ordering, no rounding)
_NO_COMPLEX = frozenset({"lt", "le", "gt", "ge", "maximum", "minimum", "atan2", "remainder", "fmod"})


_ADD, _MUL = OPS["add"], OPS["mul"]  # (add and mul take every dtype: no complex refusal to check)


def _binary(op, a, b, floating=False):
    """Promote a and b (PyTorch rules), check broadcasting, call the primitive."""
    if type(a) is Tensor and type(b) is Tensor and a.dtype is b.dtype and not floating \
            and a._data.shape == b._data.shape:
        if a.dtype.category == _COMPLEX and op.name in _NO_COMPLEX:
            raise _refuse_complex(op, a, b)
        return call(op, a, b)
    # a float tensor with a Python number keeps its dtype (the number takes part weakly)
    tb = type(b)
    if (tb is float or tb is int) and isinstance(a, Tensor) and a.dtype in _KEEPS_DTYPE_WITH_SCALARS:
        return call(op, a, b)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op.name}(): expected at least one Tensor argument, got "
                        f"{type(a).__name__} and {type(b).__name__}")
    try:
        dtype = result_type(a, b)
    except TypeError:
        wrong = a if not isinstance(a, (Tensor, _NUMBER)) else b
        raise TypeError(f"{op.name}(): argument '{'input' if wrong is a else 'other'}' must be Tensor or Number, "
                        f"not {type(wrong).__name__}") from None
    if dtype.category == _COMPLEX and op.name in _NO_COMPLEX:
        raise _refuse_complex(op, a, b)
    if floating and dtype.category < _FLOAT:
        dtype = dt.get_default_dtype()
    check_broadcast(a, b)
    a, b = _promoted(a, b, dtype)
    return call(op, a, b)


def _float_input(x: Tensor) -> Tensor:
    return x if x.dtype.category >= _FLOAT else cast(x, dt.get_default_dtype())


def _require_tensor(x, name, arg="input", position=1):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be Tensor, not {type(x).__name__}")


def _not_implemented(kernel, dtype):
    """PyTorch's error for a dtype its kernel lacks (NotImplementedError, a RuntimeError):
    ``"abs_cpu" not implemented for 'Bool'``, ``kernel`` being PyTorch's kernel name."""
    return NotImplementedError(f"\"{kernel}\" not implemented for '{_title(dtype)}'")


# ---------------------------------------------------------------- families generated from the op table
# PyTorch has no complex kernels for these (checked op by op against 2.13): its kernel names, in its errors
_NO_COMPLEX_UNARY = {"erf": "erf_vml", "erfinv": "erfinv_vml", "erfc": "erfc_vml", "lgamma": "lgamma_vml",
                     "i0": "i0_vml", "digamma": "digamma"}


def _float_unary(op):
    def fn(input):
        _require_tensor(input, op.name)
        if input.dtype.category == _COMPLEX:
            if op.name in _NO_COMPLEX_UNARY:
                kernel = _NO_COMPLEX_UNARY[op.name]
                raise _not_implemented(kernel if kernel == "digamma" else f"{kernel}_{input.device.type}",
                                       input.dtype)
            if op.name == "sigmoid":  # the real kernels' overflow guards compare: the plain formula
                return call(OPS["reciprocal"], call(OPS["exp"], call(OPS["neg"], input)) + 1)
        return call(op, _float_input(input))
    fn.__doc__ = _docstring(f"Computes {op.doc} of each element of ``input``.",
                            "integer and bool inputs are computed in the default float dtype",
                            "input", "A floating-point tensor of ``input``'s shape.")
    return fn


def _rounding(op):
    def fn(input):
        _require_tensor(input, op.name)
        if input.dtype.category == _FLOAT:
            return call(op, input)
        if input.dtype.category == _COMPLEX:
            raise NotImplementedError(f"{op.name} is not supported for complex inputs")
        if input.dtype is _BOOL:
            raise _not_implemented(f"{op.name}_vml_{input.device.type}", input.dtype)
        return call(OPS["clone"], input)
    fn.__doc__ = _docstring(f"Elementwise, {op.doc}.", "integer inputs are already whole and come back as a copy; "
                            "bool inputs raise NotImplementedError, as in PyTorch",
                            "input", "A tensor of ``input``'s shape and dtype.")
    return fn


def _comparison(op):
    def fn(input, other):
        return _binary(op, input, other)
    fn.__doc__ = _docstring(f"Whether each element of ``input`` is {op.doc} ``other``.",
                            "the operands are promoted to a common dtype and broadcast", "input, other",
                            "A bool tensor of the broadcast shape.")
    return fn


def _logical(op):
    def fn(input, other):
        check_broadcast(input, other)
        return call(op, input, other)
    fn.__doc__ = _docstring(f"Elementwise logical {op.doc} of the truth values (nonzero is True) of the operands.",
                            "any dtypes; the operands broadcast", "input, other",
                            "A bool tensor of the broadcast shape.")
    return fn


_SHIFT_KERNELS = {"bitwise_left_shift": "lshift", "bitwise_right_shift": "rshift"}


def _bitwise(op):
    shift = _SHIFT_KERNELS.get(op.name)

    def fn(input, other):
        _check_bitwise(input, op.name)
        _check_bitwise(other, op.name)
        if shift is not None and result_type(input, other) is _BOOL:  # PyTorch shifts no bools
            raise _not_implemented(f"{shift}_{_device_of(input, other).type}", _BOOL)
        return _binary(op, input, other)
    fn.__doc__ = _docstring(f"Elementwise bitwise {op.doc} of integer or bool operands.",
                            "the operands are promoted to a common dtype and broadcast", "input, other",
                            "A tensor of the promoted dtype and the broadcast shape.")
    return fn


def _docstring(summary, rule, args, returns):
    arg_lines = {"input": "input: the tensor.", "input, other": "input: a tensor (or a Python number if ``other`` "
                 "is a tensor).\n        other: a tensor or a Python number."}[args]
    return (f"{summary}\n\n    Note: {rule}.\n\n    Args:\n        {arg_lines}\n\n    Returns:\n"
            f"        {returns}\n    ")


_FAMILIES = {FLOAT_UNARY: _float_unary, ROUNDING: _rounding, COMPARISON: _comparison, LOGICAL: _logical,
             BITWISE: _bitwise}
for _op in OPS.values():
    if _op.family in _FAMILIES:
        _fn = _FAMILIES[_op.family](_op)
        if _op.family == FLOAT_UNARY:  # autocast points: the GPU policy runs exp, log, rsqrt ... in float32
            _fn = dispatch_point(_op.name)(_fn)
        globals()[_op.name] = export(_op, _fn)
del _op, _fn


@public(method=True, inplace=True, out=True)
def round(input, *, decimals=0):
    """Rounds each element of ``input`` to ``decimals`` decimal places; exact halves go to the even neighbour.

    Args:
        input: the tensor.
        decimals: how many decimal places to keep (default 0); a negative value rounds to tens, hundreds, ...

    Returns:
        A tensor of ``input``'s shape and dtype; integer inputs (without ``decimals``) come back as an unchanged
        copy.

    Raises:
        NotImplementedError: ``input`` is a bool tensor, or an integer tensor with ``decimals``, as in PyTorch.
    """
    _require_tensor(input, "round")
    if input.dtype.category != _FLOAT:
        if input.dtype is _BOOL or decimals != 0 or input.dtype.category == _COMPLEX:
            kernel = "round_vml" if decimals == 0 else "round"
            raise _not_implemented(f"{kernel}_{input.device.type}", input.dtype)
        return input.clone()
    return call(OPS["round"], input, decimals=decimals)


@public(method=True, inplace=True, aliases=("negative",), out=True)
def neg(input):
    """The negation ``-input`` of each element.

    Args:
        input: the tensor.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        RuntimeError: ``input`` is a bool tensor (to invert a mask, use ``~`` or ``logical_not``).
    """
    if input.dtype is dt.bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.")
    return call(OPS["neg"], input)


@public(method=True, inplace=True, aliases=("absolute",), out=True)
def abs(input):
    """The absolute value of each element of ``input``.

    Args:
        input: the tensor.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        NotImplementedError: ``input`` is a bool tensor (PyTorch has no bool kernel for it).
    """
    if input.dtype is dt.bool_:
        raise _not_implemented(f"abs_{input.device.type}", input.dtype)
    return call(OPS["abs"], input)


@public(method=True, inplace=True, out=True)
def sign(input):
    """The sign of each element of ``input``: -1 for negative, 0 for zero (and NaN), 1 for positive.

    ``sgn`` (``ember/ops/complex.py``) is the same for real tensors and also takes complex ones.

    Args:
        input: the tensor.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        NotImplementedError: ``input`` is complex (use ``sgn``), as in PyTorch.
    """
    if input.dtype.is_complex:
        raise NotImplementedError("Unlike NumPy, torch.sign is not intended to support complex numbers. "
                                  "Please use torch.sgn instead.")
    return call(OPS["sign"], input)


@public(method=True)
def positive(input):
    """``input`` itself (``+input``): bool tensors are refused, as in PyTorch.

    Args:
        input: the tensor.

    Returns:
        ``input``.
    """
    _require_tensor(input, "positive")
    if input.dtype is dt.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


_SAME_SIZE_INT = {2: dt.int16, 4: dt.int32, 8: dt.int64}


@public(method=True, out=True)
def signbit(input):
    """Whether the sign bit of each element of ``input`` is set: True for negative values, ``-0.0``
    and NaNs with the sign bit.

    Args:
        input: the tensor.

    Returns:
        A bool tensor of ``input``'s shape (all False for bool and unsigned dtypes).
    """
    _require_tensor(input, "signbit")
    if input.dtype.category == _COMPLEX:
        raise NotImplementedError("signbit is not implemented for complex tensors.")
    if input.dtype.category == _FLOAT:  # the bits themselves: -0.0 and -nan count
        from ember.ops.shape import view
        bits = input.contiguous() if input.ndim else input.reshape(1)
        return (view(bits, _SAME_SIZE_INT[input.dtype.itemsize]) < 0).reshape(input.shape)
    return input < 0 if input.dtype.is_signed else _all_like(input, False)


@public(method=True)
def isreal(input):
    """Whether each element of ``input`` is real: its imaginary part is 0 (always True for real dtypes).

    Args:
        input: the tensor.

    Returns:
        A bool tensor of ``input``'s shape.
    """
    _require_tensor(input, "isreal")
    if input.dtype.category == _COMPLEX:
        from ember.ops.complex import imag
        return imag(input) == 0
    return _all_like(input, True)


@public(method=True, inplace=True, out=True)
def deg2rad(input):
    """Each element of ``input``, in degrees, converted to radians.

    Args:
        input: the tensor; integer and bool inputs are computed in the default float dtype.

    Returns:
        A floating-point tensor of ``input``'s shape.
    """
    _require_tensor(input, "deg2rad")
    if input.dtype.category == _COMPLEX:
        raise RuntimeError("deg2rad is not supported for complex tensors.")
    return mul(_float_input(input), math.pi / 180.0)


@public(method=True, inplace=True, out=True)
def rad2deg(input):
    """Each element of ``input``, in radians, converted to degrees.

    Args:
        input: the tensor; integer and bool inputs are computed in the default float dtype.

    Returns:
        A floating-point tensor of ``input``'s shape.
    """
    _require_tensor(input, "rad2deg")
    if input.dtype.category == _COMPLEX:
        raise RuntimeError("rad2deg is not supported for complex tensors.")
    return mul(_float_input(input), 180.0 / math.pi)


@public(method=True, inplace=True, out=True)
@dispatch_point("logit")
def logit(input, eps=None):
    """The log-odds ``log(p / (1 - p))`` of each element ``p`` of ``input``.

    Args:
        input: the probabilities; integer and bool inputs are computed in the default float dtype.
        eps: if given, each ``p`` below ``eps`` is taken as ``eps`` and each above ``1 - eps`` as
            ``1 - eps`` first (so 0 and 1 give finite values).

    Returns:
        A floating-point tensor of ``input``'s shape (``-inf``/``inf`` at 0/1 without ``eps``, NaN
        outside [0, 1]).
    """
    _require_tensor(input, "logit")
    if input.dtype.category == _COMPLEX:
        raise _not_implemented(f"logit_{input.device.type}", input.dtype)
    p = _float_input(input)
    if eps is not None:
        p = where(lt(p, eps), eps, where(gt(p, 1.0 - eps), 1.0 - eps, p))  # noqa: F821  (generated)
    return log(div(p, sub(1.0, p)))  # noqa: F821  (generated from the op table)


@public(method=True, inplace=True)
def relu(input):
    """The rectified linear unit: each element of ``input`` where it is positive, 0 elsewhere.

    Args:
        input: the tensor.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        RuntimeError: ``input`` is a bool tensor.
    """
    if input.dtype.category != _FLOAT:  # one test on the hot path (floating point)
        if input.dtype is _BOOL:
            raise RuntimeError("Boolean inputs not supported for relu")
        if input.dtype.category == _COMPLEX:
            raise NotImplementedError("clamp is not supported for complex types")
    return call(_RELU, input)


@public(method=True, inplace=True, out=True)
def frac(input):
    """The fractional part of each element of ``input``, ``input - trunc(input)``, with ``input``'s sign.

    Args:
        input: a floating-point tensor.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        NotImplementedError: ``input`` is an integer or bool tensor, as in PyTorch.
    """
    _require_tensor(input, "frac")
    if input.dtype.category != _FLOAT:
        raise _not_implemented(f"frac_{input.device.type}", input.dtype)
    return input - trunc(input)  # noqa: F821  (generated from the op table)


@public(method=True, inplace=True, out=True)
def logical_not(input):
    """Elementwise logical NOT: True where ``input`` is zero (or False), False where it is nonzero.

    Args:
        input: a tensor of any dtype.

    Returns:
        A bool tensor of ``input``'s shape.
    """
    return call(OPS["logical_not"], input)


@public(method=True, inplace=True, out=True)
def bitwise_not(input):
    """Elementwise bitwise NOT of an integer or bool tensor (for bool, the same as ``logical_not``).

    Args:
        input: an integer or bool tensor.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        NotImplementedError: ``input`` is a floating-point tensor.
    """
    _check_bitwise(input, "bitwise_not")
    return call(OPS["bitwise_not"], input)


@public(method=True)
def isnan(input):
    """Whether each element of ``input`` is NaN.

    Args:
        input: the tensor.

    Returns:
        A bool tensor of ``input``'s shape; all False for integer and bool inputs.
    """
    if input.dtype.category < _FLOAT:
        return _all_like(input, False)
    return call(OPS["isnan"], input)


@public(method=True)
def isinf(input):
    """Whether each element of ``input`` is positive or negative infinity.

    Args:
        input: the tensor.

    Returns:
        A bool tensor of ``input``'s shape; all False for integer and bool inputs.
    """
    if input.dtype.category < _FLOAT:
        return _all_like(input, False)
    return call(OPS["isinf"], input)


@public(method=True)
def isfinite(input):
    """Whether each element of ``input`` is finite, that is neither infinite nor NaN.

    Args:
        input: the tensor.

    Returns:
        A bool tensor of ``input``'s shape; all True for integer and bool inputs.
    """
    if input.dtype.category < _FLOAT:
        return _all_like(input, True)
    return logical_not(logical_or(isnan(input), isinf(input)))


@public(method=True, out=True)
def isposinf(input):
    """Whether each element of ``input`` is positive infinity.

    Args:
        input: the tensor.

    Returns:
        A bool tensor of ``input``'s shape.
    """
    return logical_and(isinf(input), input > 0)


@public(method=True, out=True)
def isneginf(input):
    """Whether each element of ``input`` is negative infinity.

    Args:
        input: the tensor.

    Returns:
        A bool tensor of ``input``'s shape.
    """
    return logical_and(isinf(input), input < 0)


def _all_like(input, value):
    from ember.ops.creation import full_like
    return full_like(input, value, dtype=dt.bool_)


@public(method=True, inplace=True, out=True)
def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """Replaces the NaNs and infinities of ``input`` with finite numbers.

    Args:
        input: the tensor.
        nan: the value that replaces NaN (default 0.0).
        posinf: the value that replaces positive infinity (default: the largest finite value of ``input``'s dtype).
        neginf: the value that replaces negative infinity (default: the lowest finite value of ``input``'s dtype).

    Returns:
        A tensor of ``input``'s shape and dtype; integer and bool inputs come back as an unchanged copy.
    """
    if input.dtype.category == _COMPLEX:  # each part on its own, as PyTorch does
        from ember.ops.complex import complex as from_parts, imag, real
        return from_parts(*(nan_to_num(part, nan, posinf, neginf) for part in (real(input), imag(input))))
    if input.dtype.category != _FLOAT:
        return input.clone()
    import ml_dtypes
    info = ml_dtypes.finfo(input.dtype.numpy)  # numpy's finfo does not know bfloat16
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    out = where(isnan(input), nan, input)
    out = where(logical_and(isinf(out), out > 0), posinf, out)
    return where(logical_and(isinf(out), out < 0), neginf, out)


# ---------------------------------------------------------------- arithmetic
@public(method=True, inplace=True, out=True)
def add(input, other, *, alpha=1):
    """Elementwise ``input + alpha * other``, with broadcasting and PyTorch's type promotion.

    Args:
        input: a tensor (or a Python number if ``other`` is a tensor).
        other: a tensor or a Python number, broadcast against ``input``.
        alpha: a factor ``other`` is multiplied by before the addition (default 1).

    Returns:
        A tensor of the promoted dtype and the broadcast shape (``alpha`` does not take part in the
        promotion).

    Raises:
        RuntimeError: ``alpha`` is a float and the operands are integer or bool, or ``alpha`` is a bool
            and they are not both bool.
    """
    if alpha != 1 or type(alpha) is not int:
        other = _scaled_by_alpha(input, other, alpha, "add")
    elif type(input) is Tensor:  # _binary's fast paths, inlined (the hot path)
        to = type(other)
        if (input.dtype is other.dtype and input._data.shape == other._data.shape if to is Tensor
                else (to is float or to is int) and input.dtype in _KEEPS_DTYPE_WITH_SCALARS):
            return call(_ADD, input, other)
    return _binary(OPS["add"], input, other)


@public(method=True, inplace=True, aliases=("subtract",), out=True)
def sub(input, other, *, alpha=1):
    """Elementwise ``input - alpha * other``, with broadcasting and PyTorch's type promotion.

    Args:
        input: a tensor (or a Python number if ``other`` is a tensor).
        other: a tensor or a Python number, broadcast against ``input``.
        alpha: a factor ``other`` is multiplied by before the subtraction (default 1).

    Returns:
        A tensor of the promoted dtype and the broadcast shape.

    Raises:
        RuntimeError: an operand is a bool tensor or a Python bool (for two, use ``^`` or ``logical_xor``;
            to invert a mask, ``~`` or ``logical_not``), or ``alpha`` does not fit the operands (see ``add``).
    """
    input_bool = input.dtype is _BOOL if isinstance(input, Tensor) else type(input) is bool
    other_bool = other.dtype is _BOOL if isinstance(other, Tensor) else type(other) is bool
    if input_bool or other_bool:
        if input_bool and other_bool:
            raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                               "Use the `^` or `logical_xor()` operator instead.")
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.")
    if alpha != 1 or type(alpha) is not int:
        other = _scaled_by_alpha(input, other, alpha, "sub")
    return _binary(OPS["sub"], input, other)


def _scaled_by_alpha(input, other, alpha, name):
    """``alpha * other`` for add/sub, in the dtype ``input`` and ``other`` promote to (``alpha`` does
    not take part), with PyTorch's checks on ``alpha``; a Python number ``other`` stays one."""
    if not isinstance(alpha, _NUMBER):
        raise TypeError(f"{name}(): argument 'alpha' must be Number, not {type(alpha).__name__}")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"{name}(): expected at least one Tensor argument, got "
                        f"{type(input).__name__} and {type(other).__name__}")
    dtype = result_type(input, other)
    boolean = isinstance(alpha, (bool, np.bool_))
    if isinstance(alpha, complex) and dtype.category != _COMPLEX:
        raise RuntimeError(f"For non-complex input tensors, argument alpha must not be a complex number.")
    if dtype.category < _FLOAT and not boolean and not isinstance(alpha, numbers.Integral):
        raise RuntimeError(f"For integral input tensors, argument alpha must not be a floating point number "
                           f"(got alpha={alpha} for {dtype.name} operands).")
    if boolean and dtype is not dt.bool_:
        raise RuntimeError(f"Boolean alpha only supported for Boolean results (got alpha={alpha} for "
                           f"{dtype.name} operands).")
    alpha = bool(alpha) if dtype is dt.bool_ else alpha if dtype.category >= _FLOAT else int(alpha)
    if not isinstance(other, Tensor):
        return (bool(other) and alpha) if dtype is dt.bool_ else other * alpha
    if other.dtype is not dtype:
        other = cast(other, dtype)  # the product is formed in the result's dtype, as in PyTorch's kernel
    return mul(other, alpha)


@public
def rsub(input, other, *, alpha=1):
    """Elementwise ``other - alpha * input``: ``sub`` with its operands swapped.

    Args:
        input: a tensor (or a Python number if ``other`` is a tensor), the one that is scaled and subtracted.
        other: a tensor or a Python number to subtract from.
        alpha: a factor ``input`` is multiplied by before the subtraction (default 1).

    Returns:
        A tensor of the promoted dtype and the broadcast shape.
    """
    return sub(other, input, alpha=alpha)


@public(method=True, inplace=True, aliases=("multiply",), out=True)
def mul(input, other):
    """Elementwise ``input * other``, with broadcasting and PyTorch's type promotion.

    Args:
        input: a tensor (or a Python number if ``other`` is a tensor).
        other: a tensor or a Python number, broadcast against ``input``.

    Returns:
        A tensor of the promoted dtype and the broadcast shape.
    """
    if type(input) is Tensor:  # _binary's fast paths, inlined (the hot path)
        to = type(other)
        if (input.dtype is other.dtype and input._data.shape == other._data.shape if to is Tensor
                else (to is float or to is int) and input.dtype in _KEEPS_DTYPE_WITH_SCALARS):
            return call(_MUL, input, other)
    return _binary(OPS["mul"], input, other)


@public(method=True, inplace=True, aliases=("divide", "true_divide"), out=True)
def div(input, other, *, rounding_mode=None):
    """Elementwise ``input / other``; with ``rounding_mode``, the quotient rounded to a whole number.

    Args:
        input: a tensor (or a Python number if ``other`` is a tensor).
        other: a tensor or a Python number, broadcast against ``input``.
        rounding_mode: ``None`` (default) for true division; ``"trunc"`` rounds the quotient toward zero (C's
            integer division), ``"floor"`` rounds it toward negative infinity (Python's ``//``).

    Returns:
        A tensor of the broadcast shape. True division gives a floating-point result (the default float dtype
        for integer and bool operands); with a rounding mode the promoted dtype is kept.

    Raises:
        ValueError: ``rounding_mode`` is not ``None``, ``"trunc"`` or ``"floor"``.
        RuntimeError: an integer division by zero with a rounding mode.
        NotImplementedError: a rounding mode with operands that promote to bool.
    """
    if rounding_mode is None:
        return _binary(OPS["div"], input, other, floating=True)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found '{rounding_mode}'")
    dtype = result_type(input, other)
    check_broadcast(input, other)
    if dtype is dt.bool_ or dtype.category == _COMPLEX:
        raise _not_implemented(f"div_{rounding_mode}_{_device_of(input, other).type}", dtype)
    if dtype.category != _FLOAT and _has_zero(other):
        raise RuntimeError("ZeroDivisionError: integer division by zero")
    a, b = _promoted(input, other, dtype)
    return call(OPS["div_rounding"], a, b, mode=rounding_mode)


def _device_of(a, b):
    return a.device if isinstance(a, Tensor) else b.device


def _has_zero(x):
    if isinstance(x, Tensor):
        return bool(call(OPS["eq"], x, 0).any()) if x.numel() else False
    return x == 0


@public(method=True, inplace=True, out=True)
def floor_divide(input, other):
    """Elementwise ``input / other`` rounded toward negative infinity (Python's ``//``).

    The same as ``div(input, other, rounding_mode="floor")``.

    Args:
        input: a tensor (or a Python number if ``other`` is a tensor).
        other: a tensor or a Python number, broadcast against ``input``.

    Returns:
        A tensor of the promoted dtype and the broadcast shape.

    Raises:
        RuntimeError: an integer division by zero.
        NotImplementedError: the operands promote to bool.
    """
    return div(input, other, rounding_mode="floor")


@public(method=True, inplace=True, out=True)
def remainder(input, other):
    """The elementwise remainder of ``input / other``, with the sign of ``other`` (Python's ``%``).

    Args:
        input: a tensor (or a Python number if ``other`` is a tensor).
        other: a tensor or a Python number, broadcast against ``input``.

    Returns:
        A tensor of the promoted dtype and the broadcast shape.

    Raises:
        RuntimeError: an integer division by zero.
        NotImplementedError: the operands promote to bool.
    """
    _check_integer_divisor(input, other, "remainder")
    return _binary(OPS["remainder"], input, other)


@public(method=True, inplace=True, out=True)
def fmod(input, other):
    """The elementwise remainder of ``input / other``, with the sign of ``input`` (C's ``fmod``).

    Args:
        input: a tensor (or a Python number if ``other`` is a tensor).
        other: a tensor or a Python number, broadcast against ``input``.

    Returns:
        A tensor of the promoted dtype and the broadcast shape.

    Raises:
        RuntimeError: an integer division by zero.
        NotImplementedError: the operands promote to bool.
    """
    _check_integer_divisor(input, other, "fmod")
    return _binary(OPS["fmod"], input, other)


def _check_integer_divisor(input, other, name):
    dtype = result_type(input, other)
    if dtype is dt.bool_ or dtype.category == _COMPLEX:
        raise _not_implemented(f"{name}_{_device_of(input, other).type}", dtype)
    if dtype.category != _FLOAT and _has_zero(other):
        raise RuntimeError("ZeroDivisionError: integer division by zero")


@public(method=True, inplace=True, out=True)
@dispatch_point("pow")
def pow(input, exponent):
    """Elementwise ``input`` raised to the power ``exponent``.

    Integer powers stay integers (wrapping on overflow); a negative integer exponent given as a tensor
    gives ``1`` for a base of 1, ``±1`` for -1 and ``0`` otherwise (the truncated reciprocal).

    Args:
        input: a tensor (or a Python number if ``exponent`` is a tensor).
        exponent: a tensor or a Python number, broadcast against ``input``.

    Returns:
        A tensor of the promoted dtype and the broadcast shape.

    Raises:
        RuntimeError: ``input`` is an integer or bool tensor and ``exponent`` a negative Python int.
        NotImplementedError: the operands promote to bool (PyTorch has no bool kernel), unless ``exponent``
            is a Python bool (``x ** True`` is a copy of ``x``, ``x ** False`` all True).
    """
    if isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        # PyTorch's shortcuts, in the promoted dtype: x ** 2 is x * x, x ** 1 a copy (bool ** False: ones)
        if input.dtype.category >= _FLOAT:  # a float tensor keeps its dtype with a Python number
            if exponent == 2:
                return mul(input, input)
            if exponent == 1:
                return input.clone()
            return _binary(OPS["pow"], input, exponent)
        if isinstance(exponent, numbers.Integral) and exponent < 0:
            raise RuntimeError(f"Integers to negative integer powers are not allowed (got {input.dtype.name} "
                               f"to the power {exponent}).")
        if isinstance(exponent, (int, float)) and exponent in (0, 1, 2):
            dtype = result_type(input, exponent)
            x = input if input.dtype is dtype else cast(input, dtype)
            if exponent == 2:
                return mul(x, x)
            if exponent == 1:
                return x.clone() if x is input else x
            if dtype is dt.bool_:  # x ** 0 in other dtypes goes through the kernel
                from ember.ops.creation import full_like
                return full_like(input, True)
    if isinstance(exponent, Tensor) or isinstance(input, Tensor):
        if result_type(input, exponent) is dt.bool_:
            raise _not_implemented("pow", dt.bool_)
    return _binary(OPS["pow"], input, exponent)


@public(method=True, inplace=True, out=True)
def square(input):
    """The square ``input * input`` of each element.

    Args:
        input: the tensor.

    Returns:
        A tensor of ``input``'s shape and dtype; a bool input gives int64, as in PyTorch (integers wrap
        on overflow).
    """
    _require_tensor(input, "square")
    if input.dtype is dt.bool_:
        input = cast(input, dt.int64)
    return mul(input, input)


@public(method=True, out=True)
def float_power(input, exponent):
    """Elementwise ``input`` raised to the power ``exponent``, computed in float64.

    Args:
        input: a tensor (or a Python number if ``exponent`` is a tensor).
        exponent: a tensor or a Python number, broadcast against ``input``.

    Returns:
        A float64 tensor of the broadcast shape.
    """
    return pow(input.double() if isinstance(input, Tensor) else input,
               exponent.double() if isinstance(exponent, Tensor) else exponent)


@public(method=True, inplace=True, aliases=("arctan2",), out=True)
@dispatch_point("atan2")
def atan2(input, other):
    """The elementwise angle of the point ``(other, input)``: ``atan(input / other)`` in the right quadrant.

    Args:
        input: the y-coordinates, a tensor (or a Python number if ``other`` is a tensor).
        other: the x-coordinates, a tensor or a Python number broadcast against ``input``.

    Returns:
        A floating-point tensor of the broadcast shape, in radians within [-pi, pi]; integer and bool
        operands give the default float dtype.
    """
    return _binary(OPS["atan2"], input, other, floating=True)


@public(method=True, out=True)
def maximum(input, other):
    """The elementwise maximum of ``input`` and ``other``; NaN wins (see ``fmax`` for the opposite).

    Args:
        input: a tensor.
        other: a tensor or a Python number, broadcast against ``input``.

    Returns:
        A tensor of the promoted dtype and the broadcast shape.
    """
    return _binary(OPS["maximum"], input, other)


@public(method=True, out=True)
def minimum(input, other):
    """The elementwise minimum of ``input`` and ``other``; NaN wins (see ``fmin`` for the opposite).

    Args:
        input: a tensor.
        other: a tensor or a Python number, broadcast against ``input``.

    Returns:
        A tensor of the promoted dtype and the broadcast shape.
    """
    return _binary(OPS["minimum"], input, other)


def _nan_ignoring(op, input, other):
    if result_type(input, other).category == _COMPLEX:
        raise RuntimeError(f"{ {'maximum': 'fmax', 'minimum': 'fmin'}[op.name]} not implemented for complex "
                           f"tensors.")
    result = _binary(op, input, other)
    if result.dtype.category != _FLOAT:
        return result
    a, b = (x if isinstance(x, Tensor) else _full_like(result, x) for x in (input, other))
    return where(isnan(b), a, where(isnan(a), b, result))


def _full_like(like, value):
    from ember.ops.creation import full
    return full((), value, dtype=like.dtype, device=like.device)


@public(method=True, out=True)
def fmax(input, other):
    """The elementwise maximum, ignoring NaN: where exactly one operand is NaN, the other is taken.

    Args:
        input: a tensor.
        other: a tensor or a Python number, broadcast against ``input``.

    Returns:
        A tensor of the promoted dtype and the broadcast shape (NaN only where both are NaN).
    """
    return _nan_ignoring(OPS["maximum"], input, other)


@public(method=True, out=True)
def fmin(input, other):
    """The elementwise minimum, ignoring NaN: where exactly one operand is NaN, the other is taken.

    Args:
        input: a tensor.
        other: a tensor or a Python number, broadcast against ``input``.

    Returns:
        A tensor of the promoted dtype and the broadcast shape (NaN only where both are NaN).
    """
    return _nan_ignoring(OPS["minimum"], input, other)


@public(method=True, inplace=True, aliases=("clip",), out=True)
def clamp(input, min=None, max=None):
    """Limits each element of ``input`` to the range [``min``, ``max``].

    Args:
        input: the tensor.
        min: the lower bound, a Python number or a tensor broadcast against ``input`` (default: no lower bound).
        max: the upper bound, likewise (default: no upper bound). Where ``min`` is above ``max``, the result
            is ``max``.

    Returns:
        A tensor of the broadcast shape, in the dtype promoted from ``input`` and the bounds; NaN stays NaN, and a
        NaN bound gives NaN.

    Raises:
        RuntimeError: both ``min`` and ``max`` are ``None``, or a Python int bound does not fit an integer
            result's dtype.
        NotImplementedError: the result would be bool, unless there is one bound and it is a tensor.
    """
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(input, Tensor) and input.dtype.category == _COMPLEX:
        raise NotImplementedError("clamp is not supported for complex types")
    out = input
    dtype = result_type(*(v for v in (input, min, max) if v is not None))
    if dtype is _BOOL and (min is not None and max is not None or not isinstance(min if max is None else max, Tensor)):
        raise _not_implemented(_clamp_kernel(min, max, input.device.type), dtype)  # (one tensor bound: a max/min)
    if dtype.category == dt.INT:
        for bound in (min, max):
            _check_bound_fits(bound, dtype)
    if out.dtype is not dtype:
        out = cast(out, dtype)
    # where() rather than maximum/minimum: the gradient passes inside [min, max], ends included
    if min is not None:
        out = where(_beyond(lt, out, min), min, out)
    if max is not None:
        out = where(_beyond(gt, out, max), max, out)
    return out


def _beyond(compare, out, bound):
    """Where ``out`` passes ``bound`` (or ``bound`` is NaN: a NaN bound gives NaN, as in PyTorch)."""
    mask = compare(out, bound)
    if out.dtype.category == _FLOAT:
        if isinstance(bound, Tensor):
            if bound.dtype.category == _FLOAT:
                mask = logical_or(mask, isnan(bound))
        elif bound != bound:
            mask = logical_or(mask, True)
    return mask


def _clamp_kernel(min, max, device):
    """PyTorch's name for the clamp kernel these bounds select (in its dtype error)."""
    which = "clamp" if min is not None and max is not None else "clamp_min" if max is None else "clamp_max"
    scalar = not isinstance(min if min is not None else max, Tensor)
    if scalar and which == "clamp":
        return f"clamp_scalar_{device}"
    return f"{which}{'_scalar' if scalar else ''}_{device}"


def _check_bound_fits(bound, dtype):
    """A Python int bound must fit ``dtype`` (an unsigned one also takes down to -max, wrapping), as in PyTorch."""
    if type(bound) is not int:
        return
    info = np.iinfo(dtype.numpy)
    lowest = -info.max if info.min == 0 else info.min
    if not lowest <= bound <= info.max:
        raise RuntimeError(f"value cannot be converted to type {dtype.numpy}_t without overflow (got {bound} for a "
                           f"{dtype.name} tensor)")


@public(method=True, inplace=True, out=True)
def clamp_min(input, min):
    """Limits each element of ``input`` from below: ``clamp(input, min=min)``.

    Args:
        input: the tensor.
        min: the lower bound, a Python number or a tensor broadcast against ``input``.

    Returns:
        A tensor of the broadcast shape, in the dtype promoted from ``input`` and ``min``.
    """
    return clamp(input, min=min)


@public(method=True, inplace=True, out=True)
def clamp_max(input, max):
    """Limits each element of ``input`` from above: ``clamp(input, max=max)``.

    Args:
        input: the tensor.
        max: the upper bound, a Python number or a tensor broadcast against ``input``.

    Returns:
        A tensor of the broadcast shape, in the dtype promoted from ``input`` and ``max``.
    """
    return clamp(input, max=max)


@public(method=True, inplace=True, out=True)
def lerp(input, end, weight):
    """Linear interpolation from ``input`` to ``end``: elementwise ``input + weight * (end - input)``.

    Args:
        input: the start points, a tensor.
        end: the end points, a tensor broadcast against ``input``.
        weight: how far to go, a Python number or a tensor (0 gives ``input``, 1 gives ``end``).

    Returns:
        A tensor of ``input``'s dtype and the broadcast shape; half-precision inputs are computed in float32.

    Raises:
        RuntimeError: ``end`` or a tensor ``weight`` has another dtype than ``input``.
        NotImplementedError: ``input`` is not floating point.
    """
    _require_tensor(input, "lerp")
    for name, value in (("end", end), ("weight", weight)):
        if isinstance(value, Tensor) and value.dtype is not input.dtype:
            raise RuntimeError(f"expected dtype {input.dtype.name} for `{name}` but got dtype {value.dtype.name}")
    if input.dtype.category < _FLOAT:
        kernel = "lerp_kernel_tensor" if isinstance(weight, Tensor) else "lerp_kernel_scalar"
        raise _not_implemented(kernel, input.dtype)
    low = input.dtype in (dt.float16, dt.bfloat16)
    a, b = (cast(input, dt.float32), cast(end, dt.float32)) if low else (input, end)
    w = cast(weight, dt.float32) if low and isinstance(weight, Tensor) else weight
    diff = sub(b, a)
    # PyTorch's two forms: exact at weight 0 (the first) and at weight 1 (the second)
    if isinstance(w, Tensor):
        out = where(lt(abs(w), 0.5), add(a, mul(w, diff)), sub(b, mul(diff, sub(1, w))))
    elif _builtin_abs(w) < 0.5:
        out = add(a, mul(diff, w))
    else:
        out = sub(b, mul(diff, 1 - w))
    return cast(out, input.dtype) if low else out


@public(method=True, inplace=True, out=True)
@dispatch_point("addcmul")
def addcmul(input, tensor1, tensor2, *, value=1):
    """Elementwise ``input + value * tensor1 * tensor2`` (the scale applies to ``tensor1`` first, as in PyTorch).

    Args:
        input: the tensor added to.
        tensor1: the first factor, broadcast against the others.
        tensor2: the second factor, broadcast against the others.
        value: the scale of the product (default 1).

    Returns:
        A tensor of the promoted dtype and the broadcast shape.
    """
    scaled = tensor1 if value == 1 else mul(tensor1, value)
    return add(input, mul(scaled, tensor2))


@public(method=True, inplace=True, out=True)
@dispatch_point("addcdiv")
def addcdiv(input, tensor1, tensor2, *, value=1):
    """Elementwise ``input + value * tensor1 / tensor2``; integer tensor1 and tensor2 are refused, as in PyTorch.

    Args:
        input: the tensor added to.
        tensor1: the numerator, broadcast against the others.
        tensor2: the denominator, broadcast against the others.
        value: the scale of the quotient (default 1).

    Returns:
        A floating-point tensor of the broadcast shape (the division is true division).

    Raises:
        RuntimeError: ``tensor1`` and ``tensor2`` are both integer (or bool) tensors.
    """
    if all(isinstance(t, Tensor) and t.dtype.category < _FLOAT for t in (tensor1, tensor2)):
        raise RuntimeError(f"Integer division with addcdiv is no longer supported (got {tensor1.dtype.name} "
                           f"and {tensor2.dtype.name}); use addcmul with a float reciprocal or true "
                           f"division instead.")
    scaled = tensor1 if value == 1 else mul(tensor1, value)
    return add(input, div(scaled, tensor2))


@public(out=True)
def where(condition, input=None, other=None):
    """Takes each element from ``input`` where ``condition`` holds and from ``other`` where it does not.

    ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``.

    Args:
        condition: a bool tensor (a uint8 one is read as bool, with PyTorch's deprecation warning).
        input: a tensor or a Python number for the places where ``condition`` is True.
        other: a tensor or a Python number for the places where ``condition`` is False.

    Returns:
        A tensor of the broadcast shape of the three, in the dtype promoted from ``input`` and ``other``;
        with ``condition`` alone, a tuple of int64 index tensors, one per dim of ``condition``.

    Raises:
        TypeError: only one of ``input`` and ``other`` is given (PyTorch has no such form).
        RuntimeError: ``condition`` is neither bool nor uint8.
    """
    if input is None or other is None:
        if input is None and other is None:
            from ember.ops.indexing import nonzero
            return nonzero(condition, as_tuple=True)
        given, value = ("input", input) if other is None else ("other", other)
        raise TypeError(f"where() received an invalid combination of arguments - got ({type(condition).__name__}, "
                        f"{given}={type(value).__name__}), but expected one of: (Tensor condition) or "
                        f"(Tensor condition, Tensor input, Tensor other)")
    if condition.dtype is not dt.bool_:
        if condition.dtype is not dt.uint8:
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                               f"{_title(condition.dtype)}")
        import warnings
        warnings.warn("where received a uint8 condition tensor. This behavior is deprecated and will be removed in a "
                      "future version of PyTorch. Use a boolean condition instead.", UserWarning, stacklevel=3)
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
    if isinstance(x, Tensor) and x.dtype.category >= _FLOAT:
        raise NotImplementedError(f"\"{name}\" not implemented for '{x.dtype.name}': bitwise ops need "
                                  f"integer or bool tensors")
    if isinstance(x, float):
        raise NotImplementedError(f"\"{name}\" not implemented for a float scalar ({x})")




@public(method=True)
def equal(input, other) -> bool:
    """True when ``input`` and ``other`` have the same shape and elements.

    Args:
        input: a tensor.
        other: a tensor.

    Returns:
        A Python bool (NaN is unequal to everything, so a tensor holding NaN is not equal to itself).
    """
    return input.shape == other.shape and bool(eq(input, other).all())


@public(method=True)
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """Whether every element of ``input`` is close to the matching element of ``other`` (see ``isclose``).

    Args:
        input: a tensor.
        other: a tensor of ``input``'s dtype, broadcast against it.
        rtol: the relative tolerance (default 1e-05).
        atol: the absolute tolerance (default 1e-08).
        equal_nan: count two NaNs as close (default False).

    Returns:
        A Python bool.

    Raises:
        TypeError: an operand is not a tensor.
        RuntimeError: the dtypes differ, or a tolerance is negative.
    """
    return bool(_isclose(input, other, rtol, atol, equal_nan, "allclose").all())


@public(method=True)
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether each element of ``input`` is close to ``other``'s: ``|input - other| <= atol + rtol * |other|``.

    Equal elements, infinities included, are always close; an infinity is close to nothing else (the
    difference must be finite), and NaN is close to nothing unless ``equal_nan``. Integer and bool operands
    are compared exactly for equality and otherwise in the default float dtype.

    Args:
        input: a tensor.
        other: a tensor of ``input``'s dtype, broadcast against it.
        rtol: the relative tolerance (default 1e-05).
        atol: the absolute tolerance (default 1e-08).
        equal_nan: count two NaNs as close (default False).

    Returns:
        A bool tensor of the broadcast shape.

    Raises:
        TypeError: an operand is not a tensor.
        RuntimeError: the dtypes differ, or a tolerance is negative.
    """
    return _isclose(input, other, rtol, atol, equal_nan, "isclose")


def _isclose(input, other, rtol, atol, equal_nan, name):
    _require_tensor(input, name)
    _require_tensor(other, name, "other", 2)
    if input.dtype is not other.dtype:
        raise RuntimeError(f"{_title(input.dtype)} did not match {_title(other.dtype)}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")
    close = eq(input, other)
    if equal_nan and input.dtype.category >= _FLOAT:
        close = logical_or(close, logical_and(isnan(input), isnan(other)))
    if rtol == 0 and atol == 0:
        return close
    a, b = _float_input(input), _float_input(other)
    allowed = add(abs(mul(b, rtol)), atol)
    actual = abs(sub(a, b))
    return logical_or(close, logical_and(isfinite(actual), le(actual, allowed)))


# ---------------------------------------------------------------- composites a backend may fuse
def _gelu_reference(input, *, approximate):
    """The ``gelu`` composite: ``x * Phi(x)`` (erf form) or its tanh approximation."""
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * 0.5 * (tanh(inner) + 1.0)  # noqa: F821  (generated from the op table)
    return input * 0.5 * (erf(input * (1.0 / math.sqrt(2.0))) + 1.0)  # noqa: F821


OPS["gelu"].decomposition = _gelu_reference

