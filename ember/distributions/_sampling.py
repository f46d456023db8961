"""Samplers written as ember composites (so they run on every device from ember's generator):
gamma (Marsaglia–Tsang), its reparameterized gradient, Poisson and binomial.

Each rejection sampler draws full-shape proposals in rounds and keeps, per element, the first
accepted one; rounds continue (with a cheap host check) until every element has been accepted,
so the same seed gives the same samples on every device."""
from __future__ import annotations


import ember

#: rounds after which a rejection sampler gives up (acceptance is >= 0.9 per round for all three)
_MAX_ROUNDS = 64
#: above this shape the gamma gradient uses the Wilson–Hilferty approximation (relative error < 1e-5)
_SERIES_MAX_ALPHA = 1000.0


def _work_dtype(t):
    """float64 where the device has it (the series and the samplers are more accurate), else float32."""
    from ember.dispatch.registry import REGISTRY
    backend = REGISTRY.available_backend(t.device.type)
    return ember.float64 if ember.float64 in backend.supported_dtypes() else ember.float32


def _rejection(propose, shape, dtype, device):
    """Run ``propose() -> (value, accepted)`` in rounds; per element, the first accepted value."""
    result = ember.zeros(shape, dtype=dtype, device=device)
    done = ember.zeros(shape, dtype=ember.bool, device=device)
    for _ in range(_MAX_ROUNDS):
        value, accepted = propose()
        result = ember.where(accepted & ~done, value, result)
        done = done | accepted
        if bool(done.all()):
            break
    return result


def _draw_standard_gamma(alpha):
    """Standard gamma draws (rate 1) of shape ``alpha.shape``, without a graph."""
    shape, device, out_dtype = alpha.shape, alpha.device, alpha.dtype
    dtype = _work_dtype(alpha)
    with ember.no_grad():
        a = alpha.detach().to(dtype)
        small = a < 1
        # alpha < 1: draw with alpha + 1, then multiply by U^(1/alpha)
        a1 = ember.where(small, a + 1, a)
        d = a1 - 1.0 / 3.0
        c = (9 * d).rsqrt()

        def propose():
            z = ember.randn(shape, dtype=dtype, device=device)
            u = ember.rand(shape, dtype=dtype, device=device)
            v = (1 + c * z) ** 3
            positive = v > 0
            v_safe = ember.where(positive, v, ember.ones_like(v))
            accepted = positive & (ember.log(u) < 0.5 * z * z + d - d * v_safe + d * ember.log(v_safe))
            return d * v_safe, accepted

        x = _rejection(propose, shape, dtype, device)
        u = ember.rand(shape, dtype=dtype, device=device)
        boost = ember.where(small, u.pow(1 / a), ember.ones_like(u))
        tiny = ember.finfo(out_dtype).tiny
        return (x * boost).to(out_dtype).clamp(min=tiny)


def standard_gamma_grad(x, alpha):
    """d x / d alpha at fixed quantile for x ~ Gamma(alpha, 1) (implicit differentiation of the CDF).

    With P the regularized lower incomplete gamma function, dx/dα = -(∂P/∂α) / (∂P/∂x). From the
    series P(α, x) = e^{-x} Σ_n x^{α+n} / Γ(α+n+1) this ratio is
    -Σ_n r_n (log x - ψ(α+n+1)) with r_n = x^{n+1} Γ(α) / Γ(α+n+1), summed until the terms vanish
    (relative error ~1e-9 in float64). For α above 1000 it takes the Wilson–Hilferty map
    x = α (1 - 1/(9α) + z / (3√α))^3 at fixed z (relative error < 1e-5 there).

    Args:
        x: gamma samples.
        alpha: their shapes (broadcastable).

    Returns:
        A tensor of dx/dα, in x's dtype, with no graph.
    """
    dtype = _work_dtype(x)
    with ember.no_grad():
        x64 = x.detach().to(dtype)
        a = alpha.detach().to(dtype)
        big = a > _SERIES_MAX_ALPHA
        a_series = ember.where(big, ember.ones_like(a), a)
        x_series = ember.where(big, ember.ones_like(x64), x64)
        lx = ember.log(x_series)
        base = lx - ember.digamma(a_series)
        r = x_series / a_series
        h = 1 / a_series
        total = r * (base - h)
        # enough terms for the largest sample: the terms peak near n = x - alpha
        n_terms = int(((x_series - a_series).clamp(min=0) + 12 * x_series.sqrt()).max().item()) + 20
        for n in range(1, min(n_terms, 4 * int(_SERIES_MAX_ALPHA))):
            r = r * x_series / (a_series + n)
            h = h + 1 / (a_series + n)
            total = total + r * (base - h)
        series = -total
        w = (x64 / a).pow(1.0 / 3.0)
        z = (w - 1 + 1 / (9 * a)) * 3 * a.sqrt()
        dw = 1 / (9 * a * a) - z / (6 * a.pow(1.5))
        wilson_hilferty = w ** 3 + 3 * a * w * w * dw
        return ember.where(big, wilson_hilferty, series).to(x.dtype)


def standard_gamma(alpha):
    """Reparameterized standard gamma draws: the value is a Gamma(alpha, 1) sample and its
    gradient with respect to ``alpha`` is :func:`standard_gamma_grad`.

    Args:
        alpha: the shape parameters (positive floating tensor).

    Returns:
        A tensor of ``alpha.shape``.
    """
    x = _draw_standard_gamma(alpha)
    if not (alpha.requires_grad and ember.is_grad_enabled()):
        return x
    grad = standard_gamma_grad(x, alpha)
    # value x, derivative grad: the straight-through form of the implicit reparameterization
    return x + grad * (alpha - alpha.detach())


def poisson(rate):
    """Poisson draws with the given rates (float tensor of counts, no graph).

    Rates below 10 invert the CDF term by term; larger rates use Hörmann's transformed rejection
    with squeeze (PTRS).

    Args:
        rate: nonnegative rates.

    Returns:
        A tensor of rate's shape and dtype.
    """
    shape, device = rate.shape, rate.device
    dtype = _work_dtype(rate)
    with ember.no_grad():
        lam = rate.detach().to(dtype)
        small = lam < 10
        # inversion for small rates
        lam_s = ember.where(small, lam, ember.zeros_like(lam))
        u = ember.rand(shape, dtype=dtype, device=device)
        p = ember.exp(-lam_s)
        cdf = p
        count = ember.zeros(shape, dtype=dtype, device=device)
        for k in range(60):
            count = count + (u > cdf).to(dtype)
            p = p * lam_s / (k + 1)
            cdf = cdf + p
        result = count
        if bool(small.all()):
            return result.to(rate.dtype)
        lam_b = ember.where(small, ember.full_like(lam, 10.0), lam)
        slam = lam_b.sqrt()
        loglam = lam_b.log()
        b = 0.931 + 2.53 * slam
        a = -0.059 + 0.02483 * b
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2)

        def propose():
            uu = ember.rand(shape, dtype=dtype, device=device) - 0.5
            v = ember.rand(shape, dtype=dtype, device=device)
            us = 0.5 - uu.abs()
            k = ((2 * a / us + b) * uu + lam_b + 0.43).floor()
            quick = (us >= 0.07) & (v <= vr)
            bad = (k < 0) | ((us < 0.013) & (v > us))
            k_safe = k.clamp(min=0)
            slow = ember.log(v) + ember.log(invalpha) - ember.log(a / (us * us) + b) <= \
                -lam_b + k_safe * loglam - ember.lgamma(k_safe + 1)
            return k_safe, quick | (~bad & slow)

        large = _rejection(propose, shape, dtype, device)
        return ember.where(small, result, large).to(rate.dtype)


def binomial(count, prob):
    """Binomial draws (float tensor of successes, no graph).

    Small means (n·min(p, 1-p) < 10) invert the CDF term by term; larger ones use Hörmann's
    BTRS rejection. p > 1/2 is drawn as n - Binomial(n, 1 - p).

    Args:
        count: the numbers of trials (nonnegative integers, float tensor).
        prob: the success probabilities (broadcast with ``count``).

    Returns:
        A tensor of the broadcast shape in prob's dtype.
    """
    count, prob = ember.broadcast_tensors(count, prob)
    shape, device = prob.shape, prob.device
    dtype = _work_dtype(prob)
    with ember.no_grad():
        n = count.detach().to(dtype)
        p = prob.detach().to(dtype)
        flip = p > 0.5
        q = ember.where(flip, 1 - p, p)
        small = n * q < 10
        # inversion
        q_s = ember.where(small, q, ember.zeros_like(q))
        n_s = ember.where(small, n, ember.zeros_like(n))
        u = ember.rand(shape, dtype=dtype, device=device)
        ratio = q_s / (1 - q_s)
        pk = (1 - q_s).pow(n_s)
        cdf = pk
        k_inv = ember.zeros(shape, dtype=dtype, device=device)
        n_max = int(n_s.max().item()) if n_s.numel() else 0
        for k in range(min(n_max, 110)):
            k_inv = k_inv + ((u > cdf) & (k < n_s)).to(dtype)
            pk = pk * ratio * (n_s - k).clamp(min=0) / (k + 1)
            cdf = cdf + pk
        result = k_inv
        if not bool(small.all()):
            n_b = ember.where(small, ember.full_like(n, 100.0), n)
            q_b = ember.where(small, ember.full_like(q, 0.5), q)
            spq = (n_b * q_b * (1 - q_b)).sqrt()
            b = 1.15 + 2.53 * spq
            a = -0.0873 + 0.0248 * b + 0.01 * q_b
            c = n_b * q_b + 0.5
            vr = 0.92 - 4.2 / b
            alpha = (2.83 + 5.1 / b) * spq
            lpq = ember.log(q_b / (1 - q_b))
            m = ((n_b + 1) * q_b).floor()
            h = ember.lgamma(m + 1) + ember.lgamma(n_b - m + 1)

            def propose():
                uu = ember.rand(shape, dtype=dtype, device=device) - 0.5
                v = ember.rand(shape, dtype=dtype, device=device)
                us = 0.5 - uu.abs()
                k = ((2 * a / us + b) * uu + c).floor()
                inside = (k >= 0) & (k <= n_b)
                quick = (us >= 0.07) & (v <= vr)
                k_safe = ember.minimum(k.clamp(min=0), n_b)
                lv = ember.log(v * alpha / (a / (us * us) + b))
                slow = lv <= h - ember.lgamma(k_safe + 1) - ember.lgamma(n_b - k_safe + 1) + (k_safe - m) * lpq
                return k_safe, inside & (quick | slow)

            large = _rejection(propose, shape, dtype, device)
            result = ember.where(small, result, large)
        result = ember.where(flip, n - result, result)
        return result.to(prob.dtype)
