"""The special-function kernels of ``XpKernels`` (``ember/plugins/xp.py``): written once over
an array module ``xp`` and its ``special`` module (``scipy.special`` for numpy,
``cupyx.scipy.special`` for cupy).

Half precision (float16, bfloat16) is computed in float32 and rounded back, as PyTorch
does; the op layer (``ember/ops/special.py``) has already promoted the operands and
refused the dtypes PyTorch refuses. The orthogonal polynomials are three-term
recurrences in ``xp`` itself (neither special module evaluates them with a per-element
degree), so they run unchanged on numpy and cupy.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

_LOW_PRECISION = frozenset({np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)})

# op name -> name of the function in scipy.special / cupyx.scipy.special
_SPECIAL_UNARY = {
    "erfc": "erfc", "erfcx": "erfcx", "i0": "i0", "i0e": "i0e", "i1": "i1", "i1e": "i1e",
    "ndtr": "ndtr", "ndtri": "ndtri", "log_ndtr": "log_ndtr", "entr": "entr", "bessel_j0": "j0",
    "bessel_j1": "j1", "bessel_y0": "y0", "bessel_y1": "y1", "modified_bessel_i0": "i0",
    "modified_bessel_i1": "i1", "modified_bessel_k0": "k0", "modified_bessel_k1": "k1",
    "scaled_modified_bessel_k0": "k0e", "scaled_modified_bessel_k1": "k1e",
}
_SPECIAL_BINARY = {"xlogy": "xlogy", "xlog1py": "xlog1py", "zeta": "zeta", "igamma": "gammainc",
                   "igammac": "gammaincc"}


def _low(x) -> bool:
    return getattr(x, "dtype", None) in _LOW_PRECISION


def _unary_kernel(fn_name):
    def kernel(self, x):
        return self._in_float32(getattr(self.special, fn_name), x)
    kernel.__name__ = fn_name
    return kernel


def _binary_kernel(fn_name):
    def kernel(self, x, y):
        return self._in_float32(getattr(self.special, fn_name), x, y)
    kernel.__name__ = fn_name
    return kernel


class SpecialKernels:
    """Mixed into ``XpKernels``: one method per special-function primitive."""

    def _in_float32(self, fn, *args):
        """``fn(*args)`` in the dtype of the array arguments (the op layer made them one): half-precision
        arrays computed in float32 and the result rounded back; a result scipy widened (float64 for a
        float32 array with a Python scalar, polygamma) narrowed again."""
        dtype = next(a.dtype for a in args if hasattr(a, "dtype"))
        if dtype in _LOW_PRECISION:
            f32 = self.xp.float32
            args = [a.astype(f32) if _low(a) else a for a in args]
        return self.xp.asarray(fn(*args)).astype(dtype, copy=False)

    def lgamma(self, x):
        r = self._in_float32(self.special.gammaln, x)
        # log|gamma(-inf)| is +inf, as C's lgamma (and PyTorch) have it; scipy answers -inf
        return self.xp.where(x == -np.inf, self.xp.asarray(np.inf, dtype=r.dtype), r)

    def digamma(self, x):
        xp = self.xp
        r = self._in_float32(self.special.digamma, x)
        # at a zero PyTorch answers -inf for +0 and +inf for -0 (the limit from the side of the sign)
        return xp.where(x == 0, xp.copysign(xp.asarray(np.inf, dtype=r.dtype), -x), r).astype(r.dtype, copy=False)

    def polygamma(self, x, *, n):
        if n == 0:
            return self.digamma(x)
        return self._in_float32(lambda v: self.special.polygamma(n, v), x)

    def sinc(self, x):
        return self._in_float32(self.xp.sinc, x)

    def spherical_bessel_j0(self, x):
        xp = self.xp
        safe = xp.where(x == 0, 1, x).astype(x.dtype, copy=False)
        # sin(x)/x, and its limit 1 at 0 (a series below 1e-4, where the quotient loses digits)
        small = xp.abs(x) < 1e-4
        r = xp.where(small, 1 - x * x / 6, xp.sin(safe) / safe)
        return xp.where(xp.isinf(x), 0, r).astype(x.dtype, copy=False)

    def airy_ai(self, x):
        # cupyx.scipy.special has no airy: the CuPy table leaves this out, so the counted CPU fallback runs it
        return self.special.airy(x)[0]

    def frexp(self, x):
        if _low(x) and x.dtype != np.float16:  # bfloat16: exact through float32
            m, e = self.xp.frexp(x.astype(self.xp.float32))
            return m.astype(x.dtype), e.astype(self.xp.int32)
        m, e = self.xp.frexp(x)
        return m, e.astype(self.xp.int32, copy=False)

    def hypot(self, x, y):
        return self._in_float32(self.xp.hypot, x, y)

    def copysign(self, x, y):
        return self._in_float32(self.xp.copysign, x, y)

    def nextafter(self, x, y):
        # in the dtype itself: its spacing is the point (ml_dtypes gives bfloat16 its own loop)
        return self.xp.nextafter(x, y)

    def gcd(self, x, y):
        return self.xp.gcd(x, y)

    def lcm(self, x, y):
        return self.xp.lcm(x, y)

    # ---------------------------------------------------------------- orthogonal polynomials
    def _recurrence(self, x, n, p0, p1, step):
        """p_n(x) per element for a degree tensor ``n`` (truncated; negative degrees give 0), by
        ``p_{k+1} = step(k, x, p_k, p_{k-1})`` from ``p0``, ``p1``."""
        xp = self.xp
        dtype = x.dtype if hasattr(x, "dtype") else n.dtype
        work = xp.float32 if dtype in _LOW_PRECISION else dtype
        x = xp.asarray(x, dtype=work)
        degree = xp.trunc(xp.asarray(n, dtype=work))
        finite = xp.isfinite(degree)
        degree = xp.where(finite, degree, -1).astype(xp.int64)
        shape = np.broadcast_shapes(x.shape, degree.shape)
        top = int(degree.max()) if degree.size else 0
        prev = xp.broadcast_to(xp.asarray(p0(x), dtype=work), shape)
        out = xp.where(degree == 0, prev, 0).astype(work)
        if top >= 1:
            cur = xp.broadcast_to(xp.asarray(p1(x), dtype=work), shape)
            out = xp.where(degree == 1, cur, out)
            for k in range(1, top):
                prev, cur = cur, step(k, x, cur, prev)
                out = xp.where(degree == k + 1, cur, out)
        return out.astype(dtype, copy=False)

    def _chebyshev(self, x, n, first):
        return self._recurrence(x, n, lambda v: 1, first, lambda k, v, p, q: 2 * v * p - q)

    def chebyshev_polynomial_t(self, x, n):
        return self._chebyshev(x, n, lambda v: v)

    def chebyshev_polynomial_u(self, x, n):
        return self._chebyshev(x, n, lambda v: 2 * v)

    def chebyshev_polynomial_v(self, x, n):
        return self._chebyshev(x, n, lambda v: 2 * v - 1)

    def chebyshev_polynomial_w(self, x, n):
        return self._chebyshev(x, n, lambda v: 2 * v + 1)

    def _shifted(self, x):
        return 2 * x - 1 if hasattr(x, "dtype") else 2.0 * x - 1.0

    def shifted_chebyshev_polynomial_t(self, x, n):
        return self.chebyshev_polynomial_t(self._shifted(x), n)

    def shifted_chebyshev_polynomial_u(self, x, n):
        return self.chebyshev_polynomial_u(self._shifted(x), n)

    def shifted_chebyshev_polynomial_v(self, x, n):
        return self.chebyshev_polynomial_v(self._shifted(x), n)

    def shifted_chebyshev_polynomial_w(self, x, n):
        return self.chebyshev_polynomial_w(self._shifted(x), n)

    def hermite_polynomial_h(self, x, n):
        return self._recurrence(x, n, lambda v: 1, lambda v: 2 * v, lambda k, v, p, q: 2 * v * p - 2 * k * q)

    def hermite_polynomial_he(self, x, n):
        return self._recurrence(x, n, lambda v: 1, lambda v: v, lambda k, v, p, q: v * p - k * q)

    def laguerre_polynomial_l(self, x, n):
        return self._recurrence(x, n, lambda v: 1, lambda v: 1 - v,
                                lambda k, v, p, q: ((2 * k + 1 - v) * p - k * q) / (k + 1))

    def legendre_polynomial_p(self, x, n):
        return self._recurrence(x, n, lambda v: 1, lambda v: v,
                                lambda k, v, p, q: ((2 * k + 1) * v * p - k * q) / (k + 1))


# the one-function kernels, named after their ops (XpKernels.kernel_names finds them on the class)
for _name, _fn in _SPECIAL_UNARY.items():
    setattr(SpecialKernels, _name, _unary_kernel(_fn))
for _name, _fn in _SPECIAL_BINARY.items():
    setattr(SpecialKernels, _name, _binary_kernel(_fn))
del _name, _fn
