"""Special functions: the public functions behind ``ember.special`` and the top-level ones
PyTorch has for them (``ember.polygamma``, ``ember.xlogy``, ``ember.hypot``, ``ember.gcd`` ...),
and the backward rules of their primitives.

``lgamma``, ``digamma``, ``erfc``, ``i0`` and ``sinc`` are float-unary primitives whose public
functions the op table generates (``ember/ops/elementwise.py``). The functions here do
PyTorch's checks (the dtypes its kernels lack raise ``NotImplementedError`` naming the
kernel, tensor-only arguments raise ``TypeError``), promote, and call one primitive, or
are composites of ember ops (``logaddexp``, ``heaviside``, ``ldexp``, ``mvlgamma``).
Functions only ``torch.special`` has are not registered as ``ember.*`` names: they are
exported by ``ember.special``, with ``out=`` (``public.with_out``).
"""
from __future__ import annotations

import math
from collections import namedtuple

from ember.core import dtype as dt
from ember.core.autograd import GRAD_MODE, Node, Rule, edge_of, no_grad
from ember.core.call import call, record_custom
from ember.core.tensor import Tensor
from ember.dispatch.ops import OPS
from ember.dispatch.public_op import dispatch_point
from ember.ops import creation, elementwise as ew
from ember.ops.creation import cast
from ember.ops.derivatives import derivative
from ember.ops.elementwise import _binary, _float_input, _not_implemented, _require_tensor
from ember.ops.promotion import check_broadcast, result_type
from ember.ops.public import INPLACE, public, with_out

_FLOAT = dt.FLOAT
_HALF = (dt.float16, dt.bfloat16)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)

frexp_result = namedtuple("frexp", ["mantissa", "exponent"])

#: ``torch.special``-only functions defined here: name -> function taking ``out=``
SPECIAL_ONLY: dict = {}


def _special_only(fn):
    """Register ``fn`` (named as in ``torch.special``) for ``ember.special``, with ``out=``."""
    SPECIAL_ONLY[fn.__name__] = with_out(fn, fn.__name__)
    return fn


def _device(*operands):
    return next(o.device for o in operands if isinstance(o, Tensor))


def _refuse_complex(kernel, *operands):
    """PyTorch has no complex kernel for the special functions: NotImplementedError naming it (a Python
    complex beside a real tensor promotes to complex64, so it is refused too)."""
    for o in operands:
        if isinstance(o, Tensor) and o.dtype.is_complex:
            raise _not_implemented(f"{kernel}_{o.device.type}", o.dtype)
    if any(isinstance(o, complex) for o in operands):
        raise _not_implemented(f"{kernel}_{_device(*operands).type}", result_type(*operands))


# ---------------------------------------------------------------- unary, torch.special only
# (name, whether PyTorch computes half precision, what it computes)
_UNARY = {
    "erfcx": (False, "the scaled complementary error function exp(x**2) * erfc(x)"),
    "i0e": (True, "the exponentially scaled modified Bessel function exp(-|x|) * I0(x)"),
    "i1": (True, "the modified Bessel function of the first kind of order 1, I1"),
    "i1e": (True, "the exponentially scaled modified Bessel function exp(-|x|) * I1(x)"),
    "ndtr": (True, "the standard normal cumulative distribution function"),
    "ndtri": (False, "the inverse of the standard normal cumulative distribution function (the probit)"),
    "log_ndtr": (False, "the logarithm of the standard normal cumulative distribution function, accurate in "
                        "the far left tail"),
    "entr": (True, "the elementwise entropy -x * log(x) (0 at 0, -inf for negative x)"),
    "airy_ai": (False, "the Airy function Ai"),
    "bessel_j0": (False, "the Bessel function of the first kind of order 0, J0"),
    "bessel_j1": (False, "the Bessel function of the first kind of order 1, J1"),
    "bessel_y0": (False, "the Bessel function of the second kind of order 0, Y0"),
    "bessel_y1": (False, "the Bessel function of the second kind of order 1, Y1"),
    "modified_bessel_i0": (False, "the modified Bessel function of the first kind of order 0, I0"),
    "modified_bessel_i1": (False, "the modified Bessel function of the first kind of order 1, I1"),
    "modified_bessel_k0": (False, "the modified Bessel function of the second kind of order 0, K0"),
    "modified_bessel_k1": (False, "the modified Bessel function of the second kind of order 1, K1"),
    "scaled_modified_bessel_k0": (False, "the exponentially scaled modified Bessel function exp(x) * K0(x)"),
    "scaled_modified_bessel_k1": (False, "the exponentially scaled modified Bessel function exp(x) * K1(x)"),
    "spherical_bessel_j0": (False, "the spherical Bessel function of the first kind of order 0, sin(x) / x"),
}


def _unary(name, half, doc):
    op = OPS[name]

    def fn(input):
        _require_tensor(input, name)
        _refuse_complex("erf_vml" if name == "ndtr" else name, input)  # PyTorch's ndtr goes through erf
        x = _float_input(input)
        if x.dtype in _HALF and not half:
            raise _not_implemented(f"{name}_{x.device.type}", x.dtype)
        return call(op, x)
    fn.__name__ = fn.__qualname__ = name
    differentiable = "" if op.differentiable else " Not differentiable (as in PyTorch)."
    halves = "" if half else "; float16 and bfloat16 raise NotImplementedError, as in PyTorch"
    fn.__doc__ = (f"Computes {doc} of each element of ``input``.{differentiable}\n\n    Args:\n"
                  f"        input: the tensor; integer and bool inputs are computed in the default float dtype"
                  f"{halves}.\n\n    Returns:\n        A floating-point tensor of ``input``'s shape.\n    ")
    return fn


for _name, (_half, _doc) in _UNARY.items():
    globals()[_name] = _special_only(_unary(_name, _half, _doc))
del _name, _half, _doc


# ---------------------------------------------------------------- polygamma and mvlgamma
def _polygamma_order(n):
    if isinstance(n, Tensor) and n.ndim == 0 and n.dtype.category == dt.INT:
        n = int(n.item())
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"polygamma(): argument 'n' (position 1) must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative n (got n={n}).")
    return n


@public(out=True)
def polygamma(n, input):
    """The ``n``-th derivative of the digamma function at each element of ``input``.

    Args:
        n: the order, a non-negative int (0 gives ``digamma``).
        input: the tensor; integer and bool inputs are computed in the default float dtype.

    Returns:
        A floating-point tensor of ``input``'s shape.

    Raises:
        TypeError: ``n`` is not an int.
        RuntimeError: ``n`` is negative.
    """
    n = _polygamma_order(n)
    _require_tensor(input, "polygamma", position=2)
    _refuse_complex("polygamma", input)
    return call(OPS["polygamma"], _float_input(input), n=n)


@public(name="polygamma", function=False, method=True, inplace=True)
def _polygamma_method(self, n):
    """``polygamma(n, self)``: the ``n``-th derivative of the digamma function of each element.

    Args:
        n: the order, a non-negative int.

    Returns:
        A floating-point tensor of this tensor's shape.
    """
    return polygamma(n, self)


@public(method=True, inplace=True, out=True)
def mvlgamma(input, p):
    """The multivariate log-gamma function of dimension ``p`` at each element of ``input``:
    ``p * (p - 1) / 4 * log(pi) + sum over j < p of lgamma(input - j / 2)``.

    Args:
        input: the tensor; integer and bool inputs are computed in the default float dtype.
        p: the dimension, an int of at least 1.

    Returns:
        A floating-point tensor of ``input``'s shape.

    Raises:
        RuntimeError: ``p`` is less than 1.
    """
    _require_tensor(input, "mvlgamma")
    _refuse_complex("mvlgamma", input)
    if p < 1:
        raise RuntimeError(f"p has to be greater than or equal to 1 (got p={p})")
    x = _float_input(input)
    total = ew.lgamma(x)  # noqa  (generated from the op table)
    for j in range(1, p):
        total = total + ew.lgamma(x - j / 2)
    return total + p * (p - 1) / 4 * math.log(math.pi)


# ---------------------------------------------------------------- binary: scalars allowed
@public(method=True, inplace=True, out=True)
def xlogy(input, other):
    """``input * log(other)`` elementwise, 0 where ``input`` is 0 (unless ``other`` is NaN).

    Args:
        input: a tensor or a Python number.
        other: a tensor or a Python number (one of the two must be a tensor).

    Returns:
        A floating-point tensor of the broadcast shape (integer operands give the default float dtype).
    """
    _refuse_complex("xlogy", input, other)
    return _binary(OPS["xlogy"], input, other, floating=True)


@_special_only
def xlog1py(input, other):
    """``input * log1p(other)`` elementwise, 0 where ``input`` is 0 (unless ``other`` is NaN).

    Args:
        input: a tensor or a Python number.
        other: a tensor or a Python number (one of the two must be a tensor).

    Returns:
        A floating-point tensor of the broadcast shape.
    """
    _refuse_complex("xlog1py", input, other)
    return _binary(OPS["xlog1py"], input, other, floating=True)


@_special_only
def zeta(input, other):
    """The Hurwitz zeta function ``sum over k >= 0 of (k + other) ** -input``, elementwise.

    Args:
        input: the exponent ``x``, a tensor or a Python number.
        other: the shift ``q``, a tensor or a Python number (one of the two must be a tensor).

    Returns:
        A floating-point tensor of the broadcast shape (NaN where ``input < 1``, inf at ``input == 1``).

    Raises:
        NotImplementedError: the operands promote to float16 or bfloat16, as in PyTorch.
    """
    _refuse_complex("zeta", input, other)
    _check_not_half("zeta", input, other)
    return _binary(OPS["zeta"], input, other, floating=True)


def _check_not_half(name, input, other):
    if isinstance(input, Tensor) or isinstance(other, Tensor):
        dtype = result_type(input, other)
        if dtype in _HALF:
            raise _not_implemented(f"{name}_{_device(input, other).type}", dtype)


@public(method=True, inplace=True, out=True)
def copysign(input, other):
    """The magnitude of each element of ``input`` with the sign of ``other`` (its sign bit: ``-0.0`` counts).

    Args:
        input: the tensor.
        other: a tensor or a Python number.

    Returns:
        A floating-point tensor of the broadcast shape (integer operands give the default float dtype).
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"copysign(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    _refuse_complex("copysign", input, other)
    return _binary(OPS["copysign"], input, other, floating=True)


# ---------------------------------------------------------------- binary: tensors only
def _tensors_only(name, input, other, arg="other"):
    _require_tensor(input, name)
    _require_tensor(other, name, arg=arg, position=2)
    check_broadcast(input, other)


def _float_binary(name, input, other, kernel=None):
    """``name``'s primitive on two tensors promoted to a floating dtype; integer results raise (PyTorch
    has only float kernels for it)."""
    _tensors_only(name, input, other)
    dtype = result_type(input, other)
    if dtype.category != _FLOAT:
        raise _not_implemented(f"{kernel or name}_{_device(input, other).type}", dtype)
    return call(OPS[name], *ew._promoted(input, other, dtype))


@public(method=True, inplace=True, out=True)
def igamma(input, other):
    """The regularized lower incomplete gamma function ``P(input, other)``, elementwise.

    Args:
        input: the shape ``a`` (positive), a floating-point tensor.
        other: the point ``x`` (non-negative), a floating-point tensor.

    Returns:
        A tensor of the promoted dtype and the broadcast shape.

    Raises:
        TypeError: an argument is not a tensor.
        NotImplementedError: the operands promote to an integer or bool dtype.
    """
    return _float_binary("igamma", input, other)


@public(method=True, inplace=True, out=True)
def igammac(input, other):
    """The regularized upper incomplete gamma function ``Q(input, other) = 1 - P(input, other)``, elementwise.

    Args:
        input: the shape ``a`` (positive), a floating-point tensor.
        other: the point ``x`` (non-negative), a floating-point tensor.

    Returns:
        A tensor of the promoted dtype and the broadcast shape.

    Raises:
        TypeError: an argument is not a tensor.
        NotImplementedError: the operands promote to an integer or bool dtype.
    """
    return _float_binary("igammac", input, other)


@public(method=True, inplace=True, out=True)
def hypot(input, other):
    """``sqrt(input ** 2 + other ** 2)`` elementwise, without overflow or underflow in the squares.

    Args:
        input: a floating-point tensor.
        other: a tensor broadcastable with ``input``.

    Returns:
        A tensor of the promoted dtype and the broadcast shape.

    Raises:
        TypeError: an argument is not a tensor.
        NotImplementedError: the operands promote to an integer or bool dtype.
    """
    return _float_binary("hypot", input, other)


@public(method=True, inplace=True, out=True)
def nextafter(input, other):
    """The next floating-point value after each element of ``input`` in the direction of ``other``.

    Args:
        input: a floating-point tensor.
        other: a tensor broadcastable with ``input``.

    Returns:
        A tensor of the promoted dtype and the broadcast shape.

    Raises:
        TypeError: an argument is not a tensor.
        NotImplementedError: the operands promote to an integer or bool dtype.
    """
    return _float_binary("nextafter", input, other)


def _integer_binary(name, input, other):
    _tensors_only(name, input, other)
    dtype = result_type(input, other)
    if dtype.category != dt.INT:
        raise _not_implemented(f"{name}_{_device(input, other).type}", dtype)
    return call(OPS[name], *ew._promoted(input, other, dtype))


@public(method=True, inplace=True, out=True)
def gcd(input, other):
    """The greatest common divisor of each pair of elements (non-negative; ``gcd(0, 0) = 0``).

    Args:
        input: an integer tensor.
        other: an integer tensor broadcastable with ``input``.

    Returns:
        A tensor of the promoted integer dtype and the broadcast shape.

    Raises:
        TypeError: an argument is not a tensor.
        NotImplementedError: the operands promote to a floating-point or bool dtype.
    """
    return _integer_binary("gcd", input, other)


@public(method=True, inplace=True, out=True)
def lcm(input, other):
    """The least common multiple of each pair of elements (non-negative; 0 if either is 0).

    Args:
        input: an integer tensor.
        other: an integer tensor broadcastable with ``input``.

    Returns:
        A tensor of the promoted integer dtype and the broadcast shape (wrapping on overflow).

    Raises:
        TypeError: an argument is not a tensor.
        NotImplementedError: the operands promote to a floating-point or bool dtype.
    """
    return _integer_binary("lcm", input, other)


def _cast_checked_first(fn):
    """``Tensor.gcd_`` / ``lcm_``: PyTorch checks that the promoted dtype casts to the tensor's before it
    looks for a kernel, so an integer tensor with a float argument is a cast error, not a missing kernel."""
    def inplace(self, other):
        _tensors_only(fn.__name__, self, other)
        dtype = result_type(self, other)
        if dtype.category > self.dtype.category:
            from ember.ops.out import _title
            raise RuntimeError(f"result type {_title(dtype)} can't be cast to the desired output type "
                               f"{_title(self.dtype)}")
        return fn(self, other)
    inplace.__name__ = inplace.__qualname__ = fn.__name__
    inplace.__doc__ = fn.__doc__
    return inplace


INPLACE["gcd"] = (_cast_checked_first(gcd), "write")
INPLACE["lcm"] = (_cast_checked_first(lcm), "write")


# ---------------------------------------------------------------- composites
def _float_pair(name, input, other, complex_=False):
    _tensors_only(name, input, other)
    dtype = result_type(input, other)
    if dtype.category != _FLOAT and not (complex_ and dtype.is_complex):
        raise _not_implemented(f"{name}_{_device(input, other).type}", dtype)
    return ew._promoted(input, other, dtype)


@public(method=True, out=True)
@dispatch_point("logaddexp")
def logaddexp(input, other):
    """``log(exp(input) + exp(other))`` elementwise, computed without overflow.

    Args:
        input: a floating-point or complex tensor.
        other: a tensor broadcastable with ``input``.

    Returns:
        A tensor of the promoted dtype and the broadcast shape.

    Raises:
        TypeError: an argument is not a tensor.
        NotImplementedError: the operands promote to an integer or bool dtype.
    """
    a, b = _float_pair("logaddexp", input, other, complex_=True)
    if a.dtype.is_complex:
        return _complex_log_add(a, b)
    return _log_add(a, b, lambda gap: ew.log1p(ew.exp(gap)))  # noqa  (generated from the op table)


def _complex_log_add(a, b):
    """``log(exp(a) + exp(b))`` for complex operands, as PyTorch computes it: the operand with the larger real
    part factored out (``hi + log1p(exp(lo - hi))``); where both real parts are the same infinity, ``lo`` for
    -inf (exp gives 0 whatever the angle) and the plain formula for +inf."""
    from ember.ops.complex import real
    first = ew.ge(real(a), real(b))
    hi, lo = ew.where(first, a, b), ew.where(first, b, a)
    hi_r, lo_r = real(hi), real(lo)
    both_inf = ew.logical_and(ew.isinf(lo_r), ew.eq(lo_r, hi_r))
    # each branch sees harmless values where it is not taken, so no NaN reaches the other's gradient
    hi_f, lo_f = ew.where(both_inf, 0.0, hi), ew.where(both_inf, 0.0, lo)
    hi_i, lo_i = ew.where(both_inf, hi, 0.0), ew.where(both_inf, lo, 0.0)
    finite = hi_f + ew.log1p(ew.exp(lo_f - hi_f))  # noqa  (generated from the op table)
    infinite = ew.where(ew.lt(lo_r, 0), lo_i, ew.log(ew.exp(lo_i) + ew.exp(hi_i)))  # noqa  (generated)
    return ew.where(both_inf, infinite, finite)


def _log_add(a, b, softplus_of_gap):
    """``max(a, b) + softplus_of_gap(-|a - b|)``, written so that the gradient is right at ties (half
    to each) and no branch overflows; equal infinities give themselves (their difference is NaN)."""
    first = ew.ge(a, b)
    gap = ew.where(first, b - a, a - b)  # never positive
    out = ew.where(first, a, b) + softplus_of_gap(gap)
    return ew.where(ew.logical_and(ew.eq(a, b), ew.isinf(a)), a, out)


@public(method=True, out=True)
@dispatch_point("logaddexp2")
def logaddexp2(input, other):
    """``log2(2 ** input + 2 ** other)`` elementwise, computed without overflow.

    Args:
        input: a floating-point tensor.
        other: a tensor broadcastable with ``input``.

    Returns:
        A tensor of the promoted dtype and the broadcast shape.

    Raises:
        TypeError: an argument is not a tensor.
        NotImplementedError: the operands promote to an integer or bool dtype.
    """
    a, b = _float_pair("logaddexp2", input, other)
    return _log_add(a, b, lambda gap: ew.log1p(ew.exp2(gap)) / math.log(2.0))  # noqa  (generated)


@public(method=True, inplace=True, out=True)
def heaviside(input, values):
    """The Heaviside step function: 0 where ``input < 0``, ``values`` where it is 0, 1 where it is positive
    (and 0 for NaN).

    Args:
        input: the tensor.
        values: a tensor of ``input``'s dtype (broadcastable), the value at 0.

    Returns:
        A tensor of ``input``'s dtype and the broadcast shape.

    Raises:
        TypeError: an argument is not a tensor.
        RuntimeError: the two tensors have different dtypes.
    """
    _tensors_only("heaviside", input, values, arg="values")
    if input.dtype.is_complex or values.dtype.is_complex:
        raise RuntimeError("heaviside is not yet implemented for complex tensors.")
    if input.dtype is not values.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    with no_grad():
        out = ew.where(ew.eq(input, 0), values, cast(ew.gt(input, 0), input.dtype))
    if GRAD_MODE.enabled and (input._rg or values._rg) and out.dtype.is_floating_point:
        # as in PyTorch: the result requires grad, and backward through it raises
        edges = (edge_of(input), edge_of(values))
        record_custom(Node("NotImplemented", _HEAVISIDE_RULE, {}, edges, (None, None)), [out])
    return out


def _heaviside_backward(node, g):
    raise RuntimeError("derivative for aten::heaviside is not implemented")


_HEAVISIDE_RULE = Rule(_heaviside_backward, "NotImplemented", frozenset(), False)


@public(method=True, inplace=True, out=True)
def ldexp(input, other):
    """``input * 2 ** other`` elementwise.

    Args:
        input: the tensor (the mantissa).
        other: a tensor broadcastable with ``input`` (the exponent; need not be whole).

    Returns:
        A floating-point tensor of the broadcast shape: the promoted dtype, or the default float dtype for
        integer operands.

    Raises:
        TypeError: an argument is not a tensor.
    """
    _tensors_only("ldexp", input, other)
    if input.dtype.is_complex and not other.dtype.is_complex:  # a complex mantissa, a real exponent
        return ew.mul(input, ew.exp2(_float_input(other)))  # noqa  (generated from the op table)
    _refuse_complex("ldexp", other)
    dtype = result_type(input, other)
    if dtype.category != _FLOAT:
        dtype = dt.get_default_dtype()
    a, b = ew._promoted(input, other, dtype)
    return ew.mul(a, ew.exp2(b))  # noqa  (generated from the op table)


@public(method=True, out=True)
def frexp(input):
    """Splits each element of ``input`` into a mantissa in ``[0.5, 1)`` (in absolute value) and an integer
    exponent, ``input = mantissa * 2 ** exponent`` (zero, inf and NaN keep their value, exponent 0).

    Args:
        input: a floating-point tensor.

    Returns:
        A named tuple ``(mantissa, exponent)``: the mantissa in ``input``'s dtype, the exponent int32.

    Raises:
        RuntimeError: ``input`` is not floating point.
    """
    _require_tensor(input, "frexp")
    if input.dtype.category != _FLOAT:
        raise RuntimeError(f"torch.frexp() only supports floating-point dtypes (got {input.dtype.name})")
    mantissa, exponent = call(OPS["frexp"], input)
    return frexp_result(mantissa, exponent)


# ---------------------------------------------------------------- orthogonal polynomials
_POLYNOMIALS = {
    "chebyshev_polynomial_t": "the Chebyshev polynomial of the first kind T_n",
    "chebyshev_polynomial_u": "the Chebyshev polynomial of the second kind U_n",
    "chebyshev_polynomial_v": "the Chebyshev polynomial of the third kind V_n",
    "chebyshev_polynomial_w": "the Chebyshev polynomial of the fourth kind W_n",
    "shifted_chebyshev_polynomial_t": "the shifted Chebyshev polynomial of the first kind T*_n(x) = T_n(2x - 1)",
    "shifted_chebyshev_polynomial_u": "the shifted Chebyshev polynomial of the second kind U*_n(x) = U_n(2x - 1)",
    "shifted_chebyshev_polynomial_v": "the shifted Chebyshev polynomial of the third kind V*_n(x) = V_n(2x - 1)",
    "shifted_chebyshev_polynomial_w": "the shifted Chebyshev polynomial of the fourth kind W*_n(x) = W_n(2x - 1)",
    "hermite_polynomial_h": "the physicists' Hermite polynomial H_n",
    "hermite_polynomial_he": "the probabilists' Hermite polynomial He_n",
    "laguerre_polynomial_l": "the Laguerre polynomial L_n",
    "legendre_polynomial_p": "the Legendre polynomial P_n",
}


def _polynomial(name, doc):
    op = OPS[name]

    def fn(input, n):
        if not isinstance(input, Tensor) and not isinstance(n, Tensor):
            raise TypeError(f"{name}(): expected a Tensor for 'input' or 'n', got {type(input).__name__} and "
                            f"{type(n).__name__}")
        _refuse_complex(name, input, n)
        dtype = result_type(input, n)
        if dtype.category == _FLOAT and dtype in _HALF:
            raise _not_implemented(f"{name}_{_device(input, n).type}", dtype)
        return _binary(op, input, n, floating=True)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"Evaluates {doc} at each element of ``input``. Not differentiable (as in PyTorch).\n\n"
                  f"    Args:\n        input: the points, a tensor or a Python number.\n"
                  f"        n: the degree, a tensor or a Python number, truncated to an integer; negative degrees "
                  f"give 0.\n\n    Returns:\n        A floating-point tensor of the broadcast shape (integer "
                  f"operands give the default float dtype).\n\n    Raises:\n        NotImplementedError: the "
                  f"operands promote to float16 or bfloat16, as in PyTorch.\n    ")
    return fn


for _name, _doc in _POLYNOMIALS.items():
    globals()[_name] = _special_only(_polynomial(_name, _doc))
del _name, _doc


# ---------------------------------------------------------------- derivative rules
def _x(node, i=0):
    return node.saved_input(i)


def _not_differentiable(what):
    return NotImplementedError(f"the derivative for '{what}' is not implemented.")


@derivative("lgamma", inputs=(0,))
def _lgamma(node, g):
    return (g * ew.digamma(_x(node)),)  # noqa  (generated)


@derivative("digamma", inputs=(0,))
def _digamma(node, g):
    return (g * call(OPS["polygamma"], _x(node), n=1),)


@derivative("polygamma", inputs=(0,))
def _polygamma(node, g):
    return (g * call(OPS["polygamma"], _x(node), n=node.attrs["n"] + 1),)


@derivative("erfc", inputs=(0,))
def _erfc(node, g):
    x = _x(node)
    return (g * (-2 / math.sqrt(math.pi)) * ew.exp(-x * x),)  # noqa


@derivative("erfcx", inputs=(0,), output=True)
def _erfcx(node, g):
    return (g * (2 * _x(node) * node.saved_output() - 2 / math.sqrt(math.pi)),)


@derivative("i0", inputs=(0,))
def _i0(node, g):
    return (g * call(OPS["i1"], _x(node)),)


@derivative("i0e", inputs=(0,), output=True)
def _i0e(node, g):
    x = _x(node)
    return (g * (call(OPS["i1e"], x) - ew.sign(x) * node.saved_output()),)


@derivative("i1", inputs=(0,), output=True)
def _i1(node, g):
    x = _x(node)
    zero = ew.eq(x, 0)
    safe = ew.where(zero, 1.0, x)
    return (g * ew.where(zero, 0.5, call(OPS["i0"], x) - node.saved_output() / safe),)


@derivative("i1e", inputs=(0,), output=True)
def _i1e(node, g):
    x = _x(node)
    zero = ew.eq(x, 0)
    safe = ew.where(zero, 1.0, x)
    d = call(OPS["i0e"], x) - node.saved_output() * (ew.sign(x) + 1 / safe)
    return (g * ew.where(zero, 0.5, d),)


@derivative("ndtr", inputs=(0,))
def _ndtr(node, g):
    x = _x(node)
    return (g * ew.exp(-0.5 * x * x - _LOG_SQRT_2PI),)  # noqa


@derivative("ndtri", output=True)
def _ndtri(node, g):
    y = node.saved_output()
    return (g * ew.exp(0.5 * y * y + _LOG_SQRT_2PI),)  # noqa


@derivative("log_ndtr", inputs=(0,), output=True)
def _log_ndtr(node, g):
    x = _x(node)
    return (g * ew.exp(-0.5 * x * x - _LOG_SQRT_2PI - node.saved_output()),)  # noqa


@derivative("entr", inputs=(0,))
def _entr(node, g):
    return (g * -(1 + ew.log(_x(node))),)  # noqa


@derivative("sinc", inputs=(0,))
def _sinc(node, g):
    x = _x(node)
    zero = ew.eq(x, 0)
    px = math.pi * ew.where(zero, 1.0, x)
    d = (px * ew.cos(px) - ew.sin(px)) / (px * ew.where(zero, 1.0, x))  # noqa
    return (g * ew.where(zero, 0.0, d),)


@derivative("xlogy", inputs=(0, 1))
def _xlogy(node, g):
    x, y = _x(node, 0), _x(node, 1)
    gx = g * xlogy(ew.ne(x, 0), y) if node.needs_grad(0) else None
    gy = g * x / y if node.needs_grad(1) else None
    return gx, gy


@derivative("xlog1py", inputs=(0, 1))
def _xlog1py(node, g):
    x, y = _x(node, 0), _x(node, 1)
    gx = g * xlog1py(ew.ne(x, 0), y) if node.needs_grad(0) else None
    gy = g * x / (y + 1) if node.needs_grad(1) else None
    return gx, gy


@derivative("zeta", inputs=(0, 1))
def _zeta(node, g):
    if node.needs_grad(0):
        raise _not_differentiable("zeta")
    x, q = _x(node, 0), _x(node, 1)
    return None, g * -x * zeta(x + 1.0, q)


def _igamma_other(node, g, sign, name):
    if node.needs_grad(0):
        raise _not_differentiable(f"{name}: input")
    a, x = _x(node, 0), _x(node, 1)
    return None, sign * g * ew.exp((a - 1) * ew.log(x) - x - ew.lgamma(a))  # noqa


@derivative("igamma", inputs=(0, 1))
def _igamma(node, g):
    return _igamma_other(node, g, 1, "igamma")


@derivative("igammac", inputs=(0, 1))
def _igammac(node, g):
    return _igamma_other(node, g, -1, "igammac")


@derivative("hypot", inputs=(0, 1), output=True)
def _hypot(node, g):
    out = node.saved_output()
    x, y = _x(node, 0), _x(node, 1)
    return (g * x / out if node.needs_grad(0) else None), (g * y / out if node.needs_grad(1) else None)


@derivative("copysign", inputs=(0,), output=True)
def _copysign(node, g):
    x = _x(node)
    zero = ew.eq(x, 0)
    ratio = ew.where(zero, 0.0, node.saved_output() / ew.where(zero, 1.0, x))
    return g * ratio, (creation.zeros_like(g) if node.needs_grad(1) else None)


@derivative("nextafter")
def _nextafter(node, g):
    return g, (creation.zeros_like(g) if node.needs_grad(1) else None)


@derivative("frexp")
def _frexp(node, g):
    exponent = node.extra_outputs[0]
    return (g / ew.exp2(cast(exponent, g.dtype)),)  # noqa


# PyTorch's names for the nodes of the torch.special-only functions (grad_fn.name())
for _name, _node in (("erfcx", "SpecialErfcxBackward0"), ("i0e", "SpecialI0EBackward0"),
                     ("i1", "SpecialI1Backward0"), ("i1e", "SpecialI1EBackward0"),
                     ("ndtri", "SpecialNdtriBackward0"), ("log_ndtr", "SpecialLogNdtrBackward0"),
                     ("entr", "SpecialEntrBackward0"), ("xlog1py", "SpecialXlog1PyBackward0"),
                     ("zeta", "SpecialZetaBackward0")):
    OPS[_name].rule.node_name = _node
del _name, _node
