"""OpInfos for the special functions (``ember.special`` and the top-level ones PyTorch has for them).

References are float64 ``scipy.special`` (or closed forms where scipy has none). The sample
lists are short on purpose: every entry runs on every device, and most of these ops take
the CPU fallback off the CPU, so more samples would test the same kernel again. Edge
values, dtype rules and errors are in ``tests/test_special.py``.
"""
from __future__ import annotations

import numpy as np
import scipy.special as sp

from ember.testing.opinfo import TRANSPOSED, OpInfo, SampleInput as S, floating, promoted, same

OPS = []

_F = ("float32", "float64")                 # the lean dtype list
_FH = ("float32", "float64", "float16")     # ops PyTorch also computes in half precision
_POLY_TOL = {"float32": (1e-4, 1e-4)}       # float32 recurrences lose a few ulps per degree


def _add(op):
    OPS.append(op)
    return op


def _special(name):
    """``ember.special.<name>``, looked up at call time (the database imports no ember)."""
    def fn(*args, **kwargs):
        import ember.special
        return getattr(ember.special, name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    return fn


def _f64(fn):
    def ref(*args, **kwargs):
        return fn(*(np.asarray(a, dtype=np.float64) if isinstance(a, np.ndarray) else a for a in args), **kwargs)
    return ref


def _unary_samples(low, high):
    def samples(mk):
        yield S(mk(3, 4, low=low, high=high), desc="2d")
        yield S(mk(low=low, high=high), desc="0d")
        yield S(mk(4, 3, low=low, high=high), desc="transposed", layout=TRANSPOSED)
    return samples


# ---------------------------------------------------------------- unary, also ember.<name> and Tensor.<name>(_)
def _top_unary(name, ref, low, high, dtypes=_FH + ("int64",), grad=True, tol=None):
    _add(OpInfo(name, ref=_f64(ref), samples=_unary_samples(low, high), dtypes=dtypes, result_dtype=floating,
                method=name, inplace=name + "_", supports_grad=grad, tol=tol))


_top_unary("lgamma", sp.gammaln, 0.1, 6)
_top_unary("digamma", sp.digamma, 0.2, 6)
_top_unary("erfc", sp.erfc, -2.5, 2.5)
_top_unary("i0", sp.i0, -4, 4)
_top_unary("sinc", np.sinc, -3, 3)


# ---------------------------------------------------------------- unary, ember.special only
def _special_unary(name, ref, low, high, dtypes=_F, grad=True, tol=None):
    _add(OpInfo(f"special.{name}", op=_special(name), ref=_f64(ref), samples=_unary_samples(low, high),
                dtypes=dtypes, result_dtype=floating, supports_grad=grad, tol=tol))


_special_unary("erfcx", sp.erfcx, -2, 5)
_special_unary("i0e", sp.i0e, -5, 5, dtypes=_FH)
_special_unary("i1", sp.i1, -4, 4, dtypes=_FH)
_special_unary("i1e", sp.i1e, -5, 5, dtypes=_FH)
_special_unary("ndtr", sp.ndtr, -4, 4, dtypes=_FH + ("int64",))
_special_unary("ndtri", sp.ndtri, 0.02, 0.98)
_special_unary("log_ndtr", sp.log_ndtr, -8, 4)
_special_unary("entr", sp.entr, 0.05, 4, dtypes=_FH)
for _name, _ref, _low, _high in (
        ("airy_ai", lambda x: sp.airy(x)[0], -5, 3), ("bessel_j0", sp.j0, -10, 10), ("bessel_j1", sp.j1, -10, 10),
        ("bessel_y0", sp.y0, 0.1, 10), ("bessel_y1", sp.y1, 0.2, 10), ("modified_bessel_i0", sp.i0, -4, 4),
        ("modified_bessel_i1", sp.i1, -4, 4), ("modified_bessel_k0", sp.k0, 0.1, 6),
        ("modified_bessel_k1", sp.k1, 0.1, 6), ("scaled_modified_bessel_k0", sp.k0e, 0.1, 6),
        ("scaled_modified_bessel_k1", sp.k1e, 0.1, 6), ("spherical_bessel_j0", lambda x: sp.spherical_jn(0, x),
                                                        -10, 10)):
    _special_unary(_name, _ref, _low, _high, grad=False)
del _name, _ref, _low, _high


# ---------------------------------------------------------------- polygamma and mvlgamma
def _polygamma_call(input, n):
    import ember
    return ember.polygamma(n, input)


_polygamma_call.__name__ = "polygamma"


def _polygamma_samples(mk):
    yield S(mk(3, 4, low=0.3, high=5), 1, desc="n1")
    yield S(mk(4, 3, low=0.3, high=5), 2, desc="n2_transposed", layout=TRANSPOSED)
    yield S(mk(low=0.3, high=5), 3, desc="n3_0d")
    yield S(mk(5, low=0.3, high=5), 0, desc="n0")


_add(OpInfo("polygamma", op=_polygamma_call, ref=lambda x, n: sp.polygamma(n, x), samples=_polygamma_samples,
            dtypes=_F + ("int64",), result_dtype=floating, method="polygamma", inplace="polygamma_",
            tol={"float32": (1e-4, 1e-5)}))


def _mvlgamma_samples(mk):
    yield S(mk(3, 4, low=2.5, high=6), desc="p3", kwargs=dict(p=3))
    yield S(mk(4, low=1, high=6), 1, desc="p1_positional")
    yield S(mk(low=1.5, high=6), desc="p2_0d", kwargs=dict(p=2))


_add(OpInfo("mvlgamma", ref=lambda x, p: sp.multigammaln(x, p) if x.ndim else np.asarray(sp.multigammaln(x, p)),
            samples=_mvlgamma_samples, dtypes=_F, result_dtype=floating, method="mvlgamma", inplace="mvlgamma_",
            tol={"float32": (1e-4, 1e-4)}))


# ---------------------------------------------------------------- binary
def _pair_samples(a, b, scalars=True, promote=True):
    def samples(mk):
        yield S(mk(3, 4, **a), mk(3, 4, **b), desc="same_shape")
        yield S(mk(3, 1, **a), mk(1, 4, **b), desc="broadcast")
        yield S(mk(4, 3, **a), mk(4, 3, **b), desc="transposed", layout=TRANSPOSED)
        if scalars:
            yield S(mk(3, 4, **a), 1.5, desc="scalar_other")
        if promote and mk.is_float:
            yield S(mk(2, 3, **a), mk(2, 3, dtype="int64", **b), desc="promote_int64")
    return samples


def _binary(name, ref, a, b, dtypes=_F, top=True, grad=True, scalars=True, scalar_first=False, tol=None,
            result_dtype=floating, inplace=True, promote=True):
    base = _pair_samples(a, b, scalars, promote)

    def samples(mk):
        yield from base(mk)
        if scalar_first:
            yield S(2.5, mk(3, 4, **b), desc="scalar_first", inplace=False)
    _add(OpInfo(name if top else f"special.{name}", op=name if top else _special(name), ref=_f64(ref),
                samples=samples, dtypes=dtypes, result_dtype=result_dtype, method=name if top else None,
                inplace=name + "_" if top and inplace else None, supports_grad=grad, scalar_input=scalar_first,
                tol=tol))


_binary("xlogy", sp.xlogy, dict(low=-3, high=3), dict(low=0.1, high=5), dtypes=_F + ("int64",), scalar_first=True)
_binary("xlog1py", sp.xlog1py, dict(low=-3, high=3), dict(low=-0.9, high=5), top=False, scalar_first=True)
# zeta and the incomplete gammas have no derivative in their first argument (PyTorch's too): the gradient
# in the second is checked in tests/test_special.py
_binary("zeta", sp.zeta, dict(low=1.5, high=5), dict(low=0.5, high=4), top=False, grad=False, scalar_first=True)
_binary("igamma", sp.gammainc, dict(low=0.5, high=5), dict(low=0.1, high=6), dtypes=_FH, grad=False,
        scalars=False, tol={"float32": (1e-4, 1e-5)})
_binary("igammac", sp.gammaincc, dict(low=0.5, high=5), dict(low=0.1, high=6), dtypes=_FH, grad=False,
        scalars=False, tol={"float32": (1e-4, 1e-5)})
_binary("hypot", np.hypot, dict(low=-3, high=3), dict(low=-3, high=3), dtypes=_FH, scalars=False)
_binary("copysign", np.copysign, dict(low=-3, high=3, nonzero=True), dict(low=-3, high=3, nonzero=True),
        dtypes=_F + ("int64",))
_binary("nextafter", np.nextafter, dict(low=-3, high=3), dict(low=-3, high=3), scalars=False, promote=False,
        result_dtype=promoted)
_binary("logaddexp", np.logaddexp, dict(low=-4, high=4), dict(low=-4, high=4), scalars=False, inplace=False)
_binary("logaddexp2", np.logaddexp2, dict(low=-4, high=4), dict(low=-4, high=4), scalars=False, inplace=False)
_binary("ldexp", lambda x, e: x * np.exp2(e), dict(low=-3, high=3), dict(low=-3, high=4, dtype="int64"),
        scalars=False, promote=False)


def _integer_samples(mk):
    low = 0 if mk.dtype == "uint8" else -12
    yield S(mk(3, 4, low=low, high=13), mk(3, 4, low=low, high=13), desc="same_shape")
    yield S(mk(3, 1, low=low, high=13), mk(1, 4, low=low, high=13), desc="broadcast")
    yield S(np.array([0, 0, 6, 4, 9, 7], dtype=mk.np_dtype), np.array([0, 5, 0, 6, 6, 7], dtype=mk.np_dtype),
            desc="zeros")


for _name, _ref in (("gcd", np.gcd), ("lcm", np.lcm)):
    _add(OpInfo(_name, ref=_ref, samples=_integer_samples, dtypes=("int64", "int32", "uint8"), result_dtype=promoted,
                method=_name, inplace=_name + "_", supports_grad=False))
del _name, _ref


def _heaviside_samples(mk):
    x = mk(3, 4, low=-3, high=3)
    x[0, :2] = 0
    yield S(x, mk(3, 4), desc="same_shape")
    yield S(x, mk(1, 4), desc="broadcast_values")
    yield S(x.T.copy(), mk(4, 3), desc="transposed", layout=TRANSPOSED)


_add(OpInfo("heaviside", ref=lambda x, v: np.heaviside(x, v).astype(np.result_type(x, v)),
            samples=_heaviside_samples, dtypes=("float32", "float64", "int64"), result_dtype=same, method="heaviside",
            inplace="heaviside_", supports_grad=False))


def _frexp_ref(x):
    m, e = np.frexp(x)
    return m, e.astype(np.int32)


def _frexp_samples(mk):
    yield S(mk(3, 4, low=-100, high=100), desc="2d")
    yield S(mk(4, 3, low=-0.01, high=0.01), desc="small_transposed", layout=TRANSPOSED)
    yield S(np.array([0.0, -0.0, 1.0, 0.5, np.inf, -np.inf, np.nan], dtype=mk.np_dtype), desc="edges", grad=False)


_add(OpInfo("frexp", ref=_frexp_ref, samples=_frexp_samples, dtypes=_FH + ("bfloat16",),
            result_dtype=lambda s, d: (same(s, d), "int32"), method="frexp"))


# ---------------------------------------------------------------- orthogonal polynomials
def _degree_ref(fn):
    """``fn(n, x)`` with PyTorch's reading of the degree: truncated, and 0 for a negative one."""
    def ref(x, n):
        degree = np.trunc(np.asarray(n, dtype=np.float64))
        value = fn(np.maximum(degree, 0).astype(np.int64), np.asarray(x, dtype=np.float64))
        return np.where(degree < 0, 0.0, value)
    return ref


def _chebyshev_v(n, x):
    theta = np.arccos(x)
    return np.cos((n + 0.5) * theta) / np.cos(theta / 2)


def _chebyshev_w(n, x):
    theta = np.arccos(x)
    return np.sin((n + 0.5) * theta) / np.sin(theta / 2)


_POLYNOMIALS = {
    "chebyshev_polynomial_t": (sp.eval_chebyt, -1, 1), "chebyshev_polynomial_u": (sp.eval_chebyu, -1, 1),
    "chebyshev_polynomial_v": (_chebyshev_v, -0.99, 0.99), "chebyshev_polynomial_w": (_chebyshev_w, -0.99, 0.99),
    "shifted_chebyshev_polynomial_t": (sp.eval_sh_chebyt, 0, 1),
    "shifted_chebyshev_polynomial_u": (sp.eval_sh_chebyu, 0, 1),
    "shifted_chebyshev_polynomial_v": (lambda n, x: _chebyshev_v(n, 2 * x - 1), 0.01, 0.99),
    "shifted_chebyshev_polynomial_w": (lambda n, x: _chebyshev_w(n, 2 * x - 1), 0.01, 0.99),
    "hermite_polynomial_h": (sp.eval_hermite, -2, 2), "hermite_polynomial_he": (sp.eval_hermitenorm, -2, 2),
    "laguerre_polynomial_l": (sp.eval_laguerre, 0, 5), "legendre_polynomial_p": (sp.eval_legendre, -1, 1),
}


def _polynomial_samples(low, high):
    def samples(mk):
        yield S(mk(3, 4, low=low, high=high), 4, desc="scalar_degree")
        yield S(mk(3, 1, low=low, high=high), np.array([0, 1, 2, 5, -1, 7], dtype=np.int64), desc="degree_tensor")
        yield S(0.5 * (low + high) + 0.1, np.array([3, 6, 0], dtype=np.int64), desc="scalar_input", inplace=False)
    return samples


for _name, (_fn, _low, _high) in _POLYNOMIALS.items():
    _add(OpInfo(f"special.{_name}", op=_special(_name), ref=_degree_ref(_fn), samples=_polynomial_samples(_low, _high),
                dtypes=_F, result_dtype=floating, supports_grad=False, scalar_input=True, tol=_POLY_TOL))
del _name, _fn, _low, _high
