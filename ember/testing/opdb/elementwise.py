"""OpInfos for elementwise ops: unary math, arithmetic, comparisons, logic, bitwise."""
from __future__ import annotations

import operator as O

import ml_dtypes
import numpy as np
import scipy.special

from ember.testing import dtypes as D
from ember.testing import samples as smp
from ember.testing.opinfo import (STRIDED, TRANSPOSED, OpInfo, SampleInput as S, boolean, floating, promoted,
                                  same)

OPS = []


def _add(op):
    OPS.append(op)
    return op


# ---------------------------------------------------------------- unary, computed in floating point
def _f64(fn):
    """A reference computed in float64 whatever the inputs (numpy would use float16 for bool)."""
    def ref(*args):
        return fn(*(np.asarray(a, dtype=np.float64) if isinstance(a, np.ndarray) else a for a in args))
    return ref


def _float_unary(name, ref, low, high, nonfinite=True, grad=True, tol=None, nonzero=False, aliases=()):
    ref = _f64(ref)

    def samples(mk):
        return smp.unary(mk, low, high, nonzero=nonzero, specials=smp.NONFINITE if nonfinite else None)
    return _add(OpInfo(name, ref=ref, samples=samples, dtypes=D.ALL, result_dtype=floating, method=name,
                       inplace=name + "_", supports_grad=grad, tol=tol, aliases=aliases))


_float_unary("sqrt", np.sqrt, 0.1, 6)
_float_unary("rsqrt", lambda x: 1 / np.sqrt(x), 0.1, 6)
_float_unary("exp", np.exp, -4, 4)
_float_unary("exp2", np.exp2, -4, 4)
_float_unary("expm1", np.expm1, -3, 3)
_float_unary("log", np.log, 0.1, 6)
_float_unary("log2", np.log2, 0.1, 6)
_float_unary("log10", np.log10, 0.1, 6)
_float_unary("log1p", np.log1p, -0.9, 6)
_float_unary("sin", np.sin, -5, 5)
_float_unary("cos", np.cos, -5, 5)
_float_unary("tan", np.tan, -1.3, 1.3)
_float_unary("asin", np.arcsin, -0.95, 0.95, aliases=("arcsin",))
_float_unary("acos", np.arccos, -0.95, 0.95, aliases=("arccos",))
_float_unary("atan", np.arctan, -5, 5, aliases=("arctan",))
_float_unary("sinh", np.sinh, -3, 3)
_float_unary("cosh", np.cosh, -3, 3)
_float_unary("tanh", np.tanh, -3, 3)
_float_unary("asinh", np.arcsinh, -5, 5, aliases=("arcsinh",))
_float_unary("acosh", np.arccosh, 1.1, 6, aliases=("arccosh",))
_float_unary("atanh", np.arctanh, -0.9, 0.9, aliases=("arctanh",))
_float_unary("sigmoid", scipy.special.expit, -6, 6)
_float_unary("erf", scipy.special.erf, -2.5, 2.5)
_float_unary("erfinv", scipy.special.erfinv, -0.95, 0.95)
_float_unary("reciprocal", lambda x: 1 / x, -5, 5, nonzero=True)


# ---------------------------------------------------------------- unary, dtype kept
def _same_unary(name, ref, dtypes, low=None, high=None, nonfinite=True, grad=True, operator=None, inplace=True,
                kwargs=None, result_dtype=same, aliases=(), samples=None):
    if samples is None:
        def samples(mk):
            return smp.unary(mk, low, high, specials=smp.NONFINITE if nonfinite else None, kwargs=kwargs)
    return _add(OpInfo(name, ref=ref, samples=samples, dtypes=dtypes, result_dtype=result_dtype, method=name,
                       operator=operator, inplace=name + "_" if inplace else None, supports_grad=grad,
                       aliases=aliases))


def _sign(x):
    return x.copy() if x.dtype == np.bool_ else np.sign(x)


_same_unary("neg", np.negative, D.ALL_BUT_BOOL, operator=O.neg, aliases=("negative",))
_same_unary("abs", np.abs, D.ALL_BUT_BOOL, operator=O.abs, aliases=("absolute",))


def _sign_samples(mk):
    yield from smp.unary(mk)
    if mk.is_float:
        yield S(np.array([0.0, -0.0, np.inf, -np.inf, 2.0, -3.0], dtype=mk.np_dtype), desc="zeros_infs", grad=False)


_same_unary("sign", _sign, D.ALL, samples=_sign_samples)
_same_unary("relu", lambda x: np.maximum(x, 0), D.ALL_BUT_BOOL, nonfinite=False)
_same_unary("floor", np.floor, D.ALL_BUT_BOOL)
_same_unary("ceil", np.ceil, D.ALL_BUT_BOOL)
_same_unary("trunc", np.trunc, D.ALL_BUT_BOOL, aliases=("fix",))
_same_unary("frac", lambda x: x - np.trunc(x), D.FLOATS, nonfinite=False)


def _square_dtype(sample, dtype):
    """square keeps the dtype, except bool, which squares to int64 (PyTorch 2.13)."""
    name = same(sample, dtype)
    return "int64" if name == "bool" else name


_add(OpInfo("square", ref=lambda x: np.square(x.astype(np.int64) if x.dtype == np.bool_ else x),
            samples=lambda mk: smp.unary(mk, specials=smp.NONFINITE), dtypes=D.ALL, result_dtype=_square_dtype,
            method="square", inplace="square_", inplace_dtypes=D.ALL_BUT_BOOL))


def _round_samples(mk):
    yield from smp.unary(mk, specials=smp.NONFINITE)
    halves = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.0, 0.25], dtype=mk.np_dtype) if mk.is_float else mk(8)
    yield S(halves, desc="half_to_even", grad=False)  # round jumps at .5: no derivative there
    if mk.dtype in ("float32", "float64"):  # decimals scale by 10**d: exact ties only in wide dtypes
        yield S(mk(3, 4), desc="decimals2", kwargs=dict(decimals=2))
        yield S(mk(3, 4, low=-500, high=500), desc="decimals_neg1", kwargs=dict(decimals=-1))


_add(OpInfo("round", ref=lambda x, decimals=0: np.round(x, decimals), samples=_round_samples, dtypes=D.ALL_BUT_BOOL,
            method="round", inplace="round_"))


def _isx_samples(mk):
    yield from smp.unary(mk, specials=smp.NONFINITE)


for _name, _ref in (("isnan", np.isnan), ("isinf", np.isinf), ("isfinite", np.isfinite)):
    _add(OpInfo(_name, ref=(lambda f: lambda x: f(x.astype(np.float64)))(_ref), samples=_isx_samples, dtypes=D.ALL,
                result_dtype=boolean, method=_name, supports_grad=False))


def _nan_to_num_ref(x, nan=0.0, posinf=None, neginf=None, test_dtype=None):
    if not D.is_float(test_dtype):
        return x.copy()
    info = ml_dtypes.finfo(D.NUMPY[test_dtype])
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    out = np.where(np.isnan(x), nan, x)
    out = np.where(np.isposinf(out), posinf, out)
    return np.where(np.isneginf(out), neginf, out)


def _nan_to_num_samples(mk):
    yield from smp.unary(mk, specials=smp.NONFINITE)
    if mk.is_float:
        special = np.array(smp.NONFINITE * 2, dtype=mk.np_dtype).reshape(2, 7)
        yield S(special, desc="given_values", kwargs=dict(nan=1.5, posinf=2.0, neginf=-3.0), grad=False)
        yield S(special, 0.5, desc="positional_nan", grad=False)


_add(OpInfo("nan_to_num", ref=_nan_to_num_ref, ref_dtype=True, samples=_nan_to_num_samples, dtypes=D.ALL,
            method="nan_to_num", inplace="nan_to_num_"))

_add(OpInfo("logical_not", ref=np.logical_not, samples=lambda mk: smp.unary(mk, specials=smp.NONFINITE),
            dtypes=D.ALL, result_dtype=boolean, method="logical_not", inplace="logical_not_", supports_grad=False))
_add(OpInfo("bitwise_not", ref=np.invert, samples=smp.unary, dtypes=D.INTS_AND_BOOL, method="bitwise_not",
            operator=O.invert, inplace="bitwise_not_", supports_grad=False))


# ---------------------------------------------------------------- binary arithmetic
def _binary_op(name, ref, dtypes, result_dtype=promoted, operator=None, inplace_operator=None, method=...,
               inplace=..., grad=True, a=None, b=None, scalars=("int", "float"), promote=True, scalar_first=None,
               ties=False, post=None, kwargs=None, extra=None, op=..., scalar_input=False, aliases=(), tol=None,
               float_partner=True, scalar_first_grad=True):
    scalar_first = operator is not None if scalar_first is None else scalar_first

    def samples(mk):
        yield from smp.binary(mk, a=a, b=b, scalars=scalars, promote=promote, scalar_first=scalar_first,
                              ties=ties, post=post, kwargs=kwargs, float_partner=float_partner,
                              scalar_first_grad=scalar_first_grad)
        if extra is not None:
            yield from extra(mk)
    return _add(OpInfo(name, op=op, ref=ref, samples=samples, dtypes=dtypes, result_dtype=result_dtype,
                       method=name if method is ... else method, operator=operator, inplace_operator=inplace_operator,
                       inplace=(name + "_") if inplace is ... else inplace, supports_grad=grad,
                       scalar_input=scalar_input, aliases=aliases, tol=tol))


def _alpha_samples(mk):
    if mk.dtype != "bool":
        alpha = 0.5 if mk.is_float else 2
        yield S(mk(3, 4), mk(4), desc="alpha", kwargs=dict(alpha=alpha))


def _add_ref(x, y, alpha=1):
    return x + y if alpha == 1 else x + alpha * y


def _sub_ref(x, y, alpha=1):
    return x - y if alpha == 1 else x - alpha * y


_binary_op("add", _add_ref, D.ALL, operator=O.add, inplace_operator=O.iadd, extra=_alpha_samples)
_binary_op("sub", _sub_ref, D.ALL_BUT_BOOL, operator=O.sub, inplace_operator=O.isub, extra=_alpha_samples,
           aliases=("subtract",))
_binary_op("mul", np.multiply, D.ALL, operator=O.mul, inplace_operator=O.imul, aliases=("multiply",))
_binary_op("div", _f64(np.true_divide), D.ALL, result_dtype=floating,
           operator=O.truediv, inplace_operator=O.itruediv, b=dict(nonzero=True, low=-4, high=4),
           aliases=("divide", "true_divide"))


def _div_trunc_ref(x, y, rounding_mode):
    return np.trunc(np.true_divide(x, y))


def _div_floor_ref(x, y, rounding_mode=None):
    if np.asarray(x).dtype.kind in "iub" and np.asarray(y).dtype.kind in "iub":
        return np.floor_divide(x, y)
    return np.floor(np.true_divide(x, y))


_div_b = dict(nonzero=True, low=-4, high=4)
_binary_op("div_trunc", _div_trunc_ref, D.ALL_BUT_BOOL, op="div", method="div", inplace="div_", b=_div_b,
           kwargs=dict(rounding_mode="trunc"), post=smp.power_of_two_divisor, scalar_first_grad=False, grad=True)
_binary_op("div_floor", _div_floor_ref, D.ALL_BUT_BOOL, op="div", method="div", inplace="div_", b=_div_b,
           kwargs=dict(rounding_mode="floor"), post=smp.power_of_two_divisor, scalar_first_grad=False, grad=True)
_binary_op("floor_divide", _div_floor_ref, D.ALL_BUT_BOOL, operator=O.floordiv, inplace_operator=O.ifloordiv,
           b=_div_b, post=smp.power_of_two_divisor, scalar_first_grad=False, grad=False)
_binary_op("remainder", np.remainder, D.ALL_BUT_BOOL, operator=O.mod, inplace_operator=O.imod, b=_div_b,
           post=smp.power_of_two_divisor, scalar_first_grad=False)
_binary_op("fmod", np.fmod, D.ALL_BUT_BOOL, b=_div_b, post=smp.power_of_two_divisor, scalar_first_grad=False)


def _pow_ref(x, y):
    if np.asarray(x).dtype.kind in "iub" and np.asarray(y).dtype.kind in "iub":
        negative = np.asarray(y) < 0
        if not negative.any():
            return np.power(x, y)
        # integers to negative integer powers: 1 and -1 give +-1, other bases 0 (PyTorch, not numpy's error)
        r = np.power(x, np.where(negative, 0, y))
        reciprocal = np.where(np.equal(x, 1), 1, np.where(np.equal(x, -1), np.where(np.asarray(y) % 2, -1, 1), 0))
        return np.where(negative, reciprocal, r)
    return np.power(np.asarray(x, dtype=np.float64), y)


def _pow_samples(mk):
    if mk.is_float:
        yield from smp.binary(mk, a=dict(low=0.25, high=3), b=dict(low=-2, high=3))
        yield S(mk(3, 4), 2, desc="square")
        yield S(mk(3, 4), 3, desc="cube")
        yield S(mk(3, 4, low=0, high=4), 0.5, desc="sqrt_exponent")
        yield S(mk(3, 4, low=0.5, high=3), -1.5, desc="negative_exponent")
        # d/dy x**y needs log(x): not differentiable in y where x < 0
        yield S(mk(3, 4, low=-3, high=3), mk(3, 4, low=0, high=4).round(), desc="negative_base_int_exponent",
                grad=False)
        yield S(2.5, mk(3, 4, low=-2, high=2), desc="scalar_base_function", inplace=False)
    else:
        # integer powers: non-negative exponents (PyTorch raises for negative integer scalars)
        yield from smp.binary(mk, a=dict(low=-3, high=4), b=dict(low=0, high=4))
        yield S(mk(3, 4, low=-3, high=4), 2, desc="square")
        yield S(mk(3, 4, low=0, high=4), 0.5, desc="float_exponent")
        yield S(2, mk(3, 4, low=0, high=4), desc="scalar_base_function", inplace=False)
        if mk.dtype != "uint8":  # negative exponents as a tensor compute (as a Python int they raise)
            base = np.array([2, 1, -1, -1, 0, 3, -2, 1], dtype=mk.np_dtype)
            yield S(base, np.array([-1, -3, -3, -2, -1, 0, -1, 2], dtype=mk.np_dtype), desc="negative_exponents",
                    grad=False)
            yield S(-1, mk(3, 4, low=-3, high=3), desc="scalar_base_negative_exponents", inplace=False, grad=False)


_add(OpInfo("pow", ref=_pow_ref, samples=_pow_samples, dtypes=D.ALL_BUT_BOOL, result_dtype=promoted, method="pow",
            operator=O.pow, inplace_operator=O.ipow, inplace="pow_", scalar_input=True))


_binary_op("atan2", _f64(np.arctan2), D.ALL, result_dtype=floating, scalars=(), b=dict(nonzero=True), inplace="atan2_",
           aliases=("arctan2",))


def _nan_extra(mk):
    if mk.is_float:
        x, y = mk(2, 3), mk(2, 3)
        x[0, 1] = np.nan
        y[1, 2] = np.nan
        yield S(x, y, desc="nan_propagates", grad=False)


for _name, _ref in (("maximum", np.maximum), ("minimum", np.minimum)):
    _binary_op(_name, _ref, D.ALL, scalars=(), ties=True, extra=_nan_extra, inplace=None)


_add(OpInfo("max_binary", op="max", method="max", ref=np.maximum, dtypes=D.ALL, result_dtype=promoted,
            samples=lambda mk: smp.binary(mk, scalars=(), scalar_first=False)))
_add(OpInfo("min_binary", op="min", method="min", ref=np.minimum, dtypes=D.ALL, result_dtype=promoted,
            samples=lambda mk: smp.binary(mk, scalars=(), scalar_first=False)))


# ---------------------------------------------------------------- comparisons and logic
_COMPARE = {"eq": (np.equal, O.eq), "ne": (np.not_equal, O.ne), "lt": (np.less, O.lt), "le": (np.less_equal, O.le),
            "gt": (np.greater, O.gt), "ge": (np.greater_equal, O.ge)}
_COMPARE_ALIASES = {"ne": ("not_equal",), "lt": ("less",), "le": ("less_equal",), "gt": ("greater",),
                    "ge": ("greater_equal",)}
for _name, (_ref, _operator) in _COMPARE.items():
    _binary_op(_name, _ref, D.ALL, result_dtype=boolean, operator=_operator, ties=True, grad=False,
               extra=_nan_extra, aliases=_COMPARE_ALIASES.get(_name, ()))

for _name in ("logical_and", "logical_or", "logical_xor"):
    _binary_op(_name, getattr(np, _name), D.ALL, result_dtype=boolean, scalars=(), grad=False, ties=True)

_BITWISE = {"bitwise_and": (np.bitwise_and, O.and_, O.iand), "bitwise_or": (np.bitwise_or, O.or_, O.ior),
            "bitwise_xor": (np.bitwise_xor, O.xor, O.ixor)}
for _name, (_ref, _operator, _iop) in _BITWISE.items():
    _binary_op(_name, _ref, D.INTS_AND_BOOL, operator=_operator, inplace_operator=_iop, scalars=("int",),
               grad=False, float_partner=False)


def _shift_samples(mk):
    return smp.binary(mk, b=dict(low=0, high=4), scalars=("int",), float_partner=False)


_add(OpInfo("bitwise_left_shift", ref=np.left_shift, samples=_shift_samples, dtypes=D.INTS, result_dtype=promoted,
            method="bitwise_left_shift", operator=O.lshift, inplace_operator=O.ilshift, supports_grad=False))
_add(OpInfo("bitwise_right_shift", ref=np.right_shift, samples=_shift_samples, dtypes=D.INTS,
            result_dtype=promoted, method="bitwise_right_shift", operator=O.rshift, inplace_operator=O.irshift,
            supports_grad=False))


# ---------------------------------------------------------------- three operands
def _where_samples(mk):
    yield S(mk.mask(3, 4), mk(3, 4), mk(3, 4), desc="same_shape")
    yield S(mk.mask(3, 1), mk(1, 4), mk(3, 4), desc="broadcast")
    yield S(mk.mask(), mk(), mk(), desc="0d")
    yield S(mk.mask(4, 3), mk(4, 3), mk(4, 3), desc="transposed", layout=TRANSPOSED)
    yield S(mk.mask(2, 5), mk(2, 5), mk(2, 5), desc="strided", layout=STRIDED)
    yield S(mk.mask(0, 3), mk(0, 3), mk(3), desc="empty")
    if mk.dtype != "bool":
        yield S(mk.mask(3, 4), mk(3, 4), mk.scalar("int"), desc="scalar_other")
    yield S(mk.mask(3, 4), 1.5, mk(3, 4), desc="scalar_float_input")
    yield S(mk.mask(3, 4), mk(3, 4), mk(3, 4, dtype=smp.promotion_partner(mk.dtype)), desc="promote")


def _where_dtype(sample, dtype):
    return D.result_type(sample.args[0], sample.args[1])


def _where_method(cond, x, y):
    return x.where(cond, y)


_add(OpInfo("where", ref=np.where, samples=_where_samples, dtypes=D.ALL, result_dtype=_where_dtype))
_add(OpInfo("where_method", op=_where_method, ref=np.where, supports_grad=False,
            samples=lambda mk: (s for s in _where_samples(mk) if isinstance(s.args[0], np.ndarray)),
            dtypes=D.ALL, result_dtype=_where_dtype))


def _lerp_samples(mk):
    yield S(mk(3, 4), mk(3, 4), 0.25, desc="scalar_weight")
    yield S(mk(3, 4), mk(3, 4), 0.75, desc="scalar_weight_high")
    yield S(mk(3, 4), mk(4), mk(3, 1, low=0, high=1), desc="tensor_weight_broadcast")
    yield S(mk(), mk(), mk(low=0, high=1), desc="0d")
    yield S(mk(4, 3), mk(4, 3), mk(4, 3, low=0, high=1), desc="transposed", layout=TRANSPOSED)
    yield S(mk(2, 5), mk(2, 5), 0.5, desc="strided", layout=STRIDED)
    yield S(mk(0, 3), mk(0, 3), 0.5, desc="empty")


_add(OpInfo("lerp", ref=lambda x, end, w: x + w * (end - x), samples=_lerp_samples, dtypes=D.FLOATS,
            method="lerp", inplace="lerp_", tol={"bfloat16": (3e-2, 3e-2)}))


def _clamp_ref(x, min=None, max=None):
    out = x
    if min is not None:
        out = np.maximum(out, min)
    if max is not None:
        out = np.minimum(out, max)
    return out


def _clamp_samples(mk):
    lo, hi = (-2, 3) if mk.dtype != "uint8" else (3, 8)
    yield S(mk(3, 4), lo, hi, desc="scalars_int")
    yield S(mk(3, 4), desc="min_only", kwargs=dict(min=lo))
    yield S(mk(3, 4), desc="max_only", kwargs=dict(max=hi))
    yield S(mk(), lo, hi, desc="0d")
    yield S(mk(4, 3), lo, hi, desc="transposed", layout=TRANSPOSED)
    yield S(mk(2, 5), lo, hi, desc="strided", layout=STRIDED)
    yield S(mk(0, 3), lo, hi, desc="empty")
    yield S(mk(3, 4), hi, lo, desc="min_above_max")
    yield S(mk(3, 4), mk(3, 1, low=-4, high=0), mk(4, low=1, high=5), desc="tensor_bounds_broadcast")
    yield S(mk(3, 4), -1.5, 2.5, desc="scalars_float")
    if mk.is_float:
        x = mk(2, 3)
        x[0, 0] = np.nan
        yield S(x, -1.0, 1.0, desc="nan_propagates", grad=False)


def _clamp_dtype(sample, dtype):
    bounds = list(sample.args) + [sample.kwargs.get("min"), sample.kwargs.get("max")]
    return D.result_type(sample.input, *[b for b in bounds if b is not None])


_add(OpInfo("clamp", ref=_clamp_ref, samples=_clamp_samples, dtypes=D.ALL_BUT_BOOL, result_dtype=_clamp_dtype,
            method="clamp", inplace="clamp_", aliases=("clip",)))
