"""OpenCL C for the special functions (``ember.special``): the C expression of each one that
OpenCL C has a builtin for (lgamma, erfc, hypot, copysign) or a short exact formula, and
helper functions where a series does it (digamma, the Hurwitz zeta and polygamma, the
modified Bessel functions I0/I1, log_ndtr, erfcx), gcd/lcm. ``elementwise.expression``
hands these ops to ``expression`` here (``polygamma``, which takes an attribute, has its
own launcher); the others (the other Bessel functions, ndtri, the incomplete gamma, the
polynomials, frexp, nextafter) take the counted CPU fallback (``kernels.CPU_FALLBACK``).

The op layer has promoted the operands to one float dtype (gcd/lcm: one integer dtype);
expressions are over ``a`` (and ``b``) in the compute type ``ct``, as in ``elementwise``.
"""
from __future__ import annotations

import math
from fractions import Fraction

UNARY = ("lgamma", "digamma", "erfc", "sinc", "ndtr", "entr", "spherical_bessel_j0", "i0", "i0e", "i1", "i1e",
         "modified_bessel_i0", "modified_bessel_i1", "log_ndtr", "erfcx")
BINARY = ("hypot", "copysign", "gcd", "lcm", "xlogy", "xlog1py", "zeta")


def _bernoulli_over_factorial(count: int) -> list:
    """B_2j / (2j)! for j = 1..count, from the Bernoulli numbers (computed exactly, Akiyama-Tanigawa)."""
    numbers, row = [], []
    for m in range(2 * count + 1):
        row.append(Fraction(1, m + 1))
        for j in range(m, 0, -1):
            row[j - 1] = j * (row[j - 1] - row[j])
        numbers.append(row[0])  # B_m (with B_1 = +1/2, unused)
    return [float(numbers[2 * j] / math.factorial(2 * j)) for j in range(1, count + 1)]


# the Hurwitz zeta function by Euler-Maclaurin summation: the first terms directly until the shift passes 9,
# then the integral, the half term and twelve Bernoulli corrections (the last below 1e-17 of the sum there)
_ZETA_TERMS = ", ".join(f"{c!r}" for c in _bernoulli_over_factorial(12))
_ZETA = """
inline CT ember_zeta_CT(CT s, CT q) {
    if (isnan(s) || isnan(q)) return (CT)NAN;
    if (s == (CT)1) return (CT)INFINITY;
    if (s < (CT)1) return (CT)NAN;
    if (q == (CT)INFINITY) return (CT)0;
    if (q <= (CT)0) {
        if (q == floor(q)) return (CT)INFINITY;   /* a pole */
        if (s != floor(s)) return (CT)NAN;        /* a negative base to a fractional power */
    }
    const CT corrections[12] = {TERMS};
    CT sum = (CT)0, a = q;
    for (int k = 0; (k < 9 || a < (CT)9) && k < 1000000; ++k) { sum += pow(a, -s); a += (CT)1; }
    CT power = pow(a, -s), inv = (CT)1 / a;
    sum += power * a / (s - (CT)1) + (CT)0.5 * power;
    CT rising = s, apow = power * inv;   /* s (s + 1) ... (s + 2j - 2) and a^(-s - 2j + 1) */
    for (int j = 0; j < 12; ++j) {
        CT t = corrections[j] * rising * apow;
        sum += t;
        if (fabs(t) <= fabs(sum) * (CT)1e-17) break;
        rising *= (s + (CT)(2 * j + 1)) * (s + (CT)(2 * j + 2));
        apow *= inv * inv;
    }
    return sum;
}""".replace("TERMS", _ZETA_TERMS)


def polygamma(x, *, n):
    """The polygamma launcher: digamma for ``n = 0``, else ``(-1)^(n+1) n! zeta(n + 1, x)``."""
    from ember.plugins.opencl import cltypes as T
    from ember.plugins.opencl import elementwise as ew
    from ember.plugins.opencl.launchers import empty
    ct = T.ctype(x.dtype).compute
    out = empty(x.state, x.shape, x.dtype)
    if n == 0:
        expr, helpers = expression("digamma", ct)
        return ew.run(x.state, "digamma", expr, out, [x], ct, helpers=helpers)
    factor = (-1.0) ** (n + 1) * math.gamma(n + 1) if n < 171 else (-1.0) ** (n + 1) * math.inf
    extras = [(ct, "order", float(n + 1)), (ct, "factor", factor)]
    return ew.run(x.state, "polygamma", "factor * ember_zeta_%s(order, a)" % ct, out, [x], ct, extras=extras,
                  helpers=_ZETA.replace("CT", ct))


#: launchers of the special functions that take attributes (the rest are elementwise expressions)
LAUNCHERS = {"polygamma": polygamma}

_HELPERS = {
    # log(ndtr(x)): through erfc while it has digits, the asymptotic series of the tail below T (where
    # erfc underflows: -20 in double, -12 in float; the first omitted term is below 1e-10 of the sum)
    "log_ndtr": """
inline CT ember_log_ndtr_CT(CT x) {
    if (x < (CT)T) {
        CT z = (CT)1 / (x * x);
        CT tail = (CT)1 - z * ((CT)1 - z * ((CT)3 - z * ((CT)15 - z * (CT)105)));
        return (CT)-0.5 * x * x - log(-x) - (CT)0.91893853320467274178 + log(tail);
    }
    if (x < (CT)0) return log((CT)0.5 * erfc(-x * (CT)0.70710678118654752440));
    return log1p((CT)-0.5 * erfc(x * (CT)0.70710678118654752440));
}""",
    # exp(x^2) erfc(x): directly while exp(x^2) is finite, the asymptotic series beyond T (25 in double,
    # 9 in float; the first omitted term is below 1e-9 of the sum); 2 exp(x^2) - erfcx(-x) below 0
    "erfcx": """
inline CT ember_erfcx_pos_CT(CT x) {
    if (x < (CT)T) return exp(x * x) * erfc(x);
    CT z = (CT)1 / (x * x);
    CT series = (CT)1 - z * ((CT)0.5 - z * ((CT)0.75 - z * ((CT)1.875 - z * ((CT)6.5625 - z * (CT)29.53125))));
    return series / (x * (CT)1.77245385090551602730);
}
inline CT ember_erfcx_CT(CT x) {
    if (isnan(x)) return x;
    if (x >= (CT)0) return ember_erfcx_pos_CT(x);
    return (CT)2 * exp(x * x) - ember_erfcx_pos_CT(-x);
}""",
    # the modified Bessel functions I0 and I1 (and their exp(-|x|)-scaled forms): the power series up to
    # |x| = 20, Hankel's asymptotic expansion beyond (its smallest term there is below 1e-17)
    "bessel_i": """
inline CT ember_bessel_i_CT(CT x, int order, int scaled) {
    CT ax = fabs(x);
    /* as Cephes (scipy, PyTorch) has them: I(+-inf) is NaN, the scaled forms go to 0 */
    if (isinf(ax)) return scaled ? ((order && x < 0) ? -(CT)0 : (CT)0) : (CT)NAN;
    CT r;
    if (ax <= (CT)20) {
        CT q = ax * ax / (CT)4;
        CT term = order ? ax / (CT)2 : (CT)1;
        CT sum = term;
        for (int k = 1; k < 64 && term > sum * (CT)1e-17; ++k) {
            term *= q / ((CT)k * (CT)(k + order));
            sum += term;
        }
        r = scaled ? sum * exp(-ax) : sum;
    } else {
        CT mu = (CT)(4 * order * order);
        CT term = (CT)1, sum = (CT)1;
        for (int k = 1; k < 32 && fabs(term) > fabs(sum) * (CT)1e-17; ++k) {
            CT odd = (CT)(2 * k - 1);
            term *= -(mu - odd * odd) / ((CT)(8 * k) * ax);
            sum += term;
        }
        CT log_scale = (CT)-0.5 * log((CT)6.28318530717958647692 * ax);
        r = sum * exp(log_scale);
        if (!scaled) r *= exp(ax);  /* overflows where exp(x) does, as in Cephes */
    }
    return (order && x < 0) ? -r : r;
}""",
    "sinc": """
inline CT ember_sinc_CT(CT x) {
    if (x == (CT)0) return (CT)1;
    CT px = (CT)3.14159265358979323846 * x;
    return sin(px) / px;
}""",
    # the digamma function: reflection below 0, the recurrence up to 10, then the asymptotic series
    # (its first omitted term is below 1e-13 there); at 0 the sign of the zero picks the infinity
    "digamma": """
inline CT ember_digamma_CT(CT x) {
    if (x == (CT)0) return copysign((CT)INFINITY, -x);
    if (isnan(x) || x == -(CT)INFINITY) return (CT)NAN;
    if (x == (CT)INFINITY) return x;
    CT result = (CT)0;
    if (x < (CT)0) {
        if (x == floor(x)) return (CT)NAN;
        CT r = x - rint(x);  /* exact, and tan(pi r) = tan(pi x) without the rounding of pi x */
        result = -(CT)3.14159265358979323846 / tan((CT)3.14159265358979323846 * r);
        x = (CT)1 - x;
    }
    while (x < (CT)10) { result -= (CT)1 / x; x += (CT)1; }
    CT z = (CT)1 / (x * x);
    CT series = z * ((CT)(1.0 / 12) - z * ((CT)(1.0 / 120) - z * ((CT)(1.0 / 252) - z * ((CT)(1.0 / 240)
                - z * (CT)(1.0 / 132)))));
    return result + log(x) - (CT)0.5 / x - series;
}""",
    # gcd/lcm of integers (special functions): non-negative, 0 for gcd(0, 0) and lcm(0, x)
    "gcd": """
inline CT ember_gcd_CT(CT a, CT b) {
    a = a < 0 ? (CT)-a : a; b = b < 0 ? (CT)-b : b;
    while (b != 0) { CT t = (CT)(a % b); a = b; b = t; }
    return a;
}
inline CT ember_lcm_CT(CT a, CT b) {
    CT g = ember_gcd_CT(a, b);
    if (g == 0) return 0;
    CT r = (CT)((CT)(a / g) * b);
    return r < 0 ? (CT)-r : r;
}""",
}


def _expressions(ct: str) -> dict:
    return {
        "lgamma": "lgamma(a)", "erfc": "erfc(a)", "hypot": "hypot(a, b)", "copysign": "copysign(a, b)",
        "ndtr": f"({ct})0.5 * erfc(-a * ({ct})0.70710678118654752440)",
        # 0 * log(0) is 0 unless the other operand is NaN
        "xlogy": f"((a == 0 && !isnan(b)) ? ({ct})0 : a * log(b))",
        "xlog1py": f"((a == 0 && !isnan(b)) ? ({ct})0 : a * log1p(b))",
        "entr": f"(isnan(a) ? a : a > 0 ? -a * log(a) : a == 0 ? ({ct})0 : -({ct})INFINITY)",
        # sin(x) / x, with its limit at 0 (a series below 1e-4, where the quotient loses digits)
        "spherical_bessel_j0": f"(isinf(a) ? ({ct})0 : fabs(a) < ({ct})1e-4 ? ({ct})1 - a * a / ({ct})6 "
                               f": sin(a) / a)",
    }


def expression(op: str, ct: str):
    """(C expression, helper source) of the special function ``op`` in compute type ``ct``."""
    if op in ("log_ndtr", "erfcx"):
        limit = {"log_ndtr": {"double": "-20", "float": "-12"}, "erfcx": {"double": "25", "float": "9"}}[op][ct]
        return f"ember_{op}_{ct}(a)", _HELPERS[op].replace("(CT)T", f"(CT){limit}").replace("CT", ct)
    if op in ("sinc", "digamma"):
        return f"ember_{op}_{ct}(a)", _HELPERS[op].replace("CT", ct)
    bessel = {"i0": (0, 0), "modified_bessel_i0": (0, 0), "i1": (1, 0), "modified_bessel_i1": (1, 0),
              "i0e": (0, 1), "i1e": (1, 1)}
    if op in bessel:
        order, scaled = bessel[op]
        return f"ember_bessel_i_{ct}(a, {order}, {scaled})", _HELPERS["bessel_i"].replace("CT", ct)
    if op == "zeta":
        return f"ember_zeta_{ct}(a, b)", _ZETA.replace("CT", ct)
    if op in ("gcd", "lcm"):
        return f"ember_{op}_{ct}(a, b)", _HELPERS["gcd"].replace("CT", ct)
    return _expressions(ct)[op], ""
