"""The special-function kernels of the ``mps`` backend, mixed into ``MlxKernels``.

MLX has none of these functions but erf: the ones here are exact compositions of MLX
elementwise ops (xlogy, entr, sinc, hypot, copysign ...) or series evaluated with a fixed
number of terms, both branches computed and the right one picked (lgamma, digamma, the
modified Bessel functions I0/I1, the erfc family), in float32 for half precision. The
rest (``kernels.CPU_FALLBACK``: the other Bessel functions, ndtri, polygamma, zeta, the
incomplete gamma, the polynomials, gcd/lcm ...) take the counted CPU fallback. The op layer
has promoted the operands to one float dtype; a Python scalar operand takes the array's dtype.
"""
from __future__ import annotations

import math

import mlx.core as mx

_SIGNED_INT = {2: mx.int16, 4: mx.int32}
_LOW_PRECISION = (mx.float16, mx.bfloat16)

# Lanczos' approximation of the gamma function (g = 7, nine terms): ~1e-15 relative, far below float32's ulp
_LANCZOS_G = 7.0
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
            1.5056327351493116e-7)


def _in_float32(kernel):
    """``kernel`` computed in float32 for half-precision inputs (the series need the range and digits)."""
    def run(self, x):
        if x.dtype in _LOW_PRECISION:
            return kernel(self, x.astype(mx.float32)).astype(x.dtype)
        return kernel(self, x)
    run.__name__ = kernel.__name__
    return run


def _arrays(x, y):
    like = x if type(x) is mx.array else y
    return (x if type(x) is mx.array else mx.array(x, dtype=like.dtype),
            y if type(y) is mx.array else mx.array(y, dtype=like.dtype))


class MlxSpecialKernels:
    def xlogy(self, x, y):
        x, y = _arrays(x, y)
        # 0 * log(y) is 0 unless y is NaN (log(0) = -inf would give NaN)
        return mx.where(mx.logical_and(x == 0, mx.logical_not(mx.isnan(y))), mx.zeros_like(x * y), x * mx.log(y))

    def xlog1py(self, x, y):
        x, y = _arrays(x, y)
        return mx.where(mx.logical_and(x == 0, mx.logical_not(mx.isnan(y))), mx.zeros_like(x * y), x * mx.log1p(y))

    def entr(self, x):
        positive = -x * mx.log(mx.where(x > 0, x, 1))
        rest = mx.where(x == 0, 0, -math.inf).astype(x.dtype)
        return mx.where(mx.isnan(x), x, mx.where(x > 0, positive, rest))

    def sinc(self, x):
        px = math.pi * mx.where(x == 0, 1, x).astype(x.dtype)
        return mx.where(x == 0, mx.ones_like(x), mx.sin(px) / px)

    def spherical_bessel_j0(self, x):
        safe = mx.where(x == 0, 1, x).astype(x.dtype)
        r = mx.where(mx.abs(x) < 1e-4, 1 - x * x / 6, mx.sin(safe) / safe)
        return mx.where(mx.isinf(x), mx.zeros_like(x), r)

    def hypot(self, x, y):
        x, y = _arrays(x, y)
        ax, ay = mx.abs(x), mx.abs(y)
        big = mx.maximum(ax, ay)
        # scaled by the larger magnitude, so the squares neither overflow nor underflow
        scale = mx.where(mx.logical_or(big == 0, mx.isinf(big)), 1, big).astype(big.dtype)
        r = scale * mx.sqrt((ax / scale) ** 2 + (ay / scale) ** 2)
        infinite = mx.logical_or(mx.isinf(ax), mx.isinf(ay))
        return mx.where(infinite, mx.full(r.shape, math.inf, dtype=r.dtype), r)

    def copysign(self, x, y):
        x, y = _arrays(x, y)
        # the sign bit itself (-0.0 and -NaN count), read through an integer view of y
        negative = mx.view(y, _SIGNED_INT[y.dtype.size]) < 0
        magnitude = mx.abs(x)
        return mx.where(negative, -magnitude, magnitude)

    @_in_float32
    def lgamma(self, x):
        pi = math.pi
        # reflection for x < 1/2: lgamma(x) = log(pi / |sin(pi x)|) - lgamma(1 - x), with sin(pi x) taken at
        # x - round(x) (exact), so it is 0 exactly at the poles
        reflect = x < 0.5
        z = mx.where(reflect, 1 - x, x) - 1
        series = mx.full(x.shape, _LANCZOS[0], dtype=x.dtype)
        for i, c in enumerate(_LANCZOS[1:], 1):
            series = series + c / (z + i)
        t = z + _LANCZOS_G + 0.5
        body = 0.5 * math.log(2 * pi) + (z + 0.5) * mx.log(t) - t + mx.log(series)
        r = x - mx.round(x)
        reflected = math.log(pi) - mx.log(mx.abs(mx.sin(pi * r))) - body
        out = mx.where(reflect, reflected, body)
        # its zeros exactly (the series' rounding leaves ~1e-7 there, where log-likelihoods want 0)
        out = mx.where(mx.logical_or(x == 1, x == 2), mx.zeros_like(out), out)
        pole = mx.logical_and(x <= 0, x == mx.floor(x))
        return mx.where(mx.logical_or(pole, mx.isinf(x)), mx.full(x.shape, math.inf, dtype=x.dtype), out)

    @_in_float32
    def digamma(self, x):
        pi = math.pi
        # reflection below 0 (psi(x) = psi(1 - x) - pi / tan(pi x)), ten recurrence steps up past 10, then
        # the asymptotic series
        negative = x < 0
        r = x - mx.round(x)
        result = mx.where(negative, -pi / mx.tan(pi * r), mx.zeros_like(x))
        y = mx.where(negative, 1 - x, x)
        for _ in range(10):
            small = y < 10
            result = mx.where(small, result - 1 / mx.where(small, y, 1), result)
            y = mx.where(small, y + 1, y)
        z = 1 / (y * y)
        series = z * (1 / 12 - z * (1 / 120 - z * (1 / 252 - z * (1 / 240 - z / 132))))
        out = result + mx.log(y) - 0.5 / y - series
        inf = mx.full(x.shape, math.inf, dtype=x.dtype)
        out = mx.where(x == 0, mx.where(mx.view(x, mx.int32) < 0, inf, -inf), out)
        nan = mx.full(x.shape, math.nan, dtype=x.dtype)
        out = mx.where(mx.logical_and(negative, x == mx.floor(x)), nan, out)  # the poles, and -inf
        return mx.where(x == math.inf, inf, out)

    # the modified Bessel functions I0 and I1 and their exp(-|x|)-scaled forms: the power series up to
    # |x| = 12 and Hankel's asymptotic expansion beyond (its smallest term there, ~e^-24, is below float32's
    # ulp), both computed everywhere and the right one picked
    def _bessel_i(self, x, order, scaled):
        ax = mx.abs(x)
        near = mx.minimum(ax, 12.0)
        q = near * near / 4
        term = near / 2 if order else mx.ones_like(near)
        series = term
        for k in range(1, 31):
            term = term * q / (k * (k + order))
            series = series + term
        if scaled:
            series = series * mx.exp(-near)
        far = mx.maximum(ax, 12.0)
        mu = 4 * order * order
        term = mx.ones_like(far)
        asymptotic = term
        for k in range(1, 21):
            term = term * (-(mu - (2 * k - 1) ** 2) / (8 * k)) / far
            asymptotic = asymptotic + term
        asymptotic = asymptotic * mx.rsqrt(2 * math.pi * far)
        if not scaled:
            asymptotic = asymptotic * mx.exp(far)
        r = mx.where(ax <= 12.0, series, asymptotic)
        # as Cephes (scipy, PyTorch) has them: I(+-inf) is NaN, the scaled forms go to 0
        r = mx.where(mx.isinf(ax), mx.zeros_like(r) if scaled else mx.full(r.shape, math.nan, dtype=r.dtype), r)
        return mx.where(x < 0, -r, r) if order else r

    @_in_float32
    def i0(self, x):
        return self._bessel_i(x, 0, False)

    @_in_float32
    def i0e(self, x):
        return self._bessel_i(x, 0, True)

    @_in_float32
    def i1(self, x):
        return self._bessel_i(x, 1, False)

    @_in_float32
    def i1e(self, x):
        return self._bessel_i(x, 1, True)

    modified_bessel_i0 = i0
    modified_bessel_i1 = i1

    # the error-function family: 1 - erf(x) below 1 (no cancellation there: erfc(1) = 0.157), above it
    # Laplace's continued fraction for erfcx(x) = exp(x^2) erfc(x), 60 levels (1e-9 relative at x = 1), which
    # also gives log(erfc) without underflow in the tail
    @staticmethod
    def _erfcx_tail(x):
        x = mx.maximum(x, 1.0)
        t = mx.zeros_like(x)
        for k in range(60, 0, -1):
            t = (k / 2) / (x + t)
        return (1 / math.sqrt(math.pi)) / (x + t)

    @staticmethod
    def _exp_square(x, sign):
        """exp(sign * x^2) without the rounding of x^2 (float32 would lose x^2 ulps of it): x = hi + (x - hi)
        with hi on a 1/16 grid, so hi^2 is exact and the rest small."""
        hi = mx.where(mx.isinf(x), 0, mx.round(x * 16) / 16)
        r = mx.exp(sign * hi * hi) * mx.exp(sign * (x - hi) * (x + hi))
        return mx.where(mx.isinf(x), mx.exp(sign * x * x), r)

    @_in_float32
    def erfc(self, x):
        return mx.where(x < 1, 1 - mx.erf(x), self._exp_square(x, -1) * self._erfcx_tail(x))

    @_in_float32
    def erfcx(self, x):
        return mx.where(x < 1, self._exp_square(x, 1) * (1 - mx.erf(x)), self._erfcx_tail(x))

    @_in_float32
    def ndtr(self, x):
        return 0.5 * self.erfc(-x * math.sqrt(0.5))

    @_in_float32
    def log_ndtr(self, x):
        z = -x * math.sqrt(0.5)
        tail = math.log(0.5) - z * z + mx.log(self._erfcx_tail(z))     # z >= 1: far left, in log space
        middle = mx.log(0.5 * (1 - mx.erf(z)))                           # -1 <= z < 1
        right = mx.log1p(-0.5 * self.erfc(-z))                           # z < -1: log(1 - tiny)
        return mx.where(z >= 1, tail, mx.where(z >= -1, middle, right))
