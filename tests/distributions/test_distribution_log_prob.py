"""log_prob (and the moments PyTorch defines in closed form) against scipy.stats, on random
parameters, at values drawn from the distribution itself, on every device."""
import math

import numpy as np
import pytest
import scipy.special as sp

import ember
import ember.distributions as D

from _distribution_cases import CASES, to_ember


def _dtype_for(device):
    from ember.dispatch.registry import REGISTRY
    return ember.float64 if ember.float64 in REGISTRY.available_backend(device).supported_dtypes() else ember.float32


def _tol(dtype):
    return dict(rtol=1e-9, atol=1e-9) if dtype == ember.float64 else dict(rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("name, ctor, params, ref", CASES, ids=[c[0] for c in CASES])
def test_log_prob_matches_scipy(name, ctor, params, ref, any_device):
    dtype = _dtype_for(any_device)
    dist = ctor(**to_ember(params, dtype, any_device))
    value = dist.sample((3,))
    assert value.shape == dist.batch_shape.__class__((3,)) + dist.batch_shape + dist.event_shape
    assert value.device.type == any_device
    assert bool(dist.support.check(value).all())
    got = dist.log_prob(value).cpu().numpy().astype(np.float64)
    expected = ref(value.cpu().numpy().astype(np.float64), **params)
    tol = _tol(dtype)
    if name in ("Wishart", "LKJCholesky", "MultivariateNormal_precision") and dtype == ember.float32:
        tol = dict(rtol=2e-3, atol=2e-3)  # matrix factorizations in float32
    np.testing.assert_allclose(got, expected, **tol)


def test_categorical_log_prob_probs_and_logits(any_device):
    dtype = _dtype_for(any_device)
    rng = np.random.default_rng(0)
    weights = rng.uniform(0.1, 2.0, size=(4, 5))
    probs = weights / weights.sum(-1, keepdims=True)
    for dist in (D.Categorical(probs=ember.tensor(weights, dtype=dtype, device=any_device)),
                 D.Categorical(logits=ember.tensor(np.log(weights) + 3.0, dtype=dtype, device=any_device))):
        value = dist.sample((6,))
        assert value.dtype == ember.int64 and value.shape == (6, 4)
        expected = np.log(np.take_along_axis(probs, value.cpu().numpy().T, -1).T)
        np.testing.assert_allclose(dist.log_prob(value).cpu().numpy(), expected, **_tol(dtype))
        np.testing.assert_allclose(dist.entropy().cpu().numpy(), -(probs * np.log(probs)).sum(-1), **_tol(dtype))
        one_hot = D.OneHotCategorical(probs=dist.probs)
        assert one_hot.sample().shape == (4, 5)
        np.testing.assert_allclose(one_hot.log_prob(ember.nn.functional.one_hot(value, 5).to(dtype)).cpu().numpy(),
                                   expected, **_tol(dtype))


# closed-form moments and entropies checked against scipy on the cpu in float64
_SCIPY_MOMENTS = {
    "Normal": lambda loc, scale: __import__("scipy.stats").stats.norm(loc, scale),
    "Laplace": lambda loc, scale: __import__("scipy.stats").stats.laplace(loc, scale),
    "Gumbel": lambda loc, scale: __import__("scipy.stats").stats.gumbel_r(loc, scale),
    "Exponential": lambda rate: __import__("scipy.stats").stats.expon(scale=1 / rate),
    "Gamma": lambda concentration, rate: __import__("scipy.stats").stats.gamma(concentration, scale=1 / rate),
    "Beta": lambda concentration1, concentration0: __import__("scipy.stats").stats.beta(concentration1,
                                                                                       concentration0),
    "StudentT": lambda df, loc, scale: __import__("scipy.stats").stats.t(df, loc, scale),
    "LogNormal": lambda loc, scale: __import__("scipy.stats").stats.lognorm(scale, scale=np.exp(loc)),
    "HalfNormal": lambda scale: __import__("scipy.stats").stats.halfnorm(scale=scale),
    "Weibull": lambda scale, concentration: __import__("scipy.stats").stats.weibull_min(concentration, scale=scale),
    "Pareto": lambda scale, alpha: __import__("scipy.stats").stats.pareto(alpha, scale=scale),
    "Chi2": lambda df: __import__("scipy.stats").stats.chi2(df),
    "InverseGamma": lambda concentration, rate: __import__("scipy.stats").stats.invgamma(concentration, scale=rate),
    "Uniform": lambda low, high: __import__("scipy.stats").stats.uniform(low, high - low),
    "Poisson": lambda rate: __import__("scipy.stats").stats.poisson(rate),
    "Binomial": lambda total_count, probs: __import__("scipy.stats").stats.binom(total_count, probs),
    "Geometric": lambda probs: __import__("scipy.stats").stats.geom(probs, loc=-1),
    "FisherSnedecor": lambda df1, df2: __import__("scipy.stats").stats.f(df1, df2),
    "GeneralizedPareto": lambda loc, scale, concentration: __import__("scipy.stats").stats.genpareto(
        concentration, loc, scale),
}
_ENTROPY_SKIP = {"Poisson", "FisherSnedecor", "Pareto"}  # no closed-form entropy in PyTorch (or none here)


@pytest.mark.parametrize("name, ctor, params, ref", [c for c in CASES if c[0] in _SCIPY_MOMENTS],
                         ids=[c[0] for c in CASES if c[0] in _SCIPY_MOMENTS])
def test_moments_and_entropy_match_scipy(name, ctor, params, ref):
    dist = ctor(**to_ember(params, ember.float64, "cpu"))
    frozen = _SCIPY_MOMENTS[name](**params)
    np.testing.assert_allclose(dist.mean.numpy(), frozen.mean(), rtol=1e-9)
    np.testing.assert_allclose(dist.variance.numpy(), frozen.var(), rtol=1e-8)
    np.testing.assert_allclose(dist.stddev.numpy(), frozen.std(), rtol=1e-8)
    if name not in _ENTROPY_SKIP and name != "Binomial":
        np.testing.assert_allclose(dist.entropy().numpy(), frozen.entropy(), rtol=1e-7, atol=1e-9)
    if hasattr(type(dist), "cdf") and name not in ("Poisson", "Binomial", "Geometric", "Beta", "StudentT",
                                                   "FisherSnedecor", "InverseGamma", "Weibull", "Pareto", "Chi2"):
        x = dist.sample((4,))
        np.testing.assert_allclose(dist.cdf(x).numpy(), frozen.cdf(x.numpy()), rtol=1e-8, atol=1e-10)
        q = ember.tensor(np.random.default_rng(3).uniform(0.05, 0.95, size=(4,) + tuple(dist.batch_shape)),
                         dtype=ember.float64)
        if name != "Gamma":
            np.testing.assert_allclose(dist.icdf(q).numpy(), frozen.ppf(q.numpy()), rtol=1e-7, atol=1e-9)


def test_enumerate_support_and_perplexity():
    d = D.Bernoulli(ember.tensor([0.2, 0.7]))
    assert d.enumerate_support().tolist() == [[0.0, 0.0], [1.0, 1.0]]
    assert d.enumerate_support(expand=False).shape == (2, 1)
    b = D.Binomial(3, ember.tensor([0.2, 0.7], dtype=ember.float64))
    assert b.enumerate_support().shape == (4, 2)
    np.testing.assert_allclose(b.entropy().numpy(), __import__("scipy.stats").stats.binom(3, [0.2, 0.7]).entropy(),
                               rtol=1e-10)
    c = D.Categorical(logits=ember.zeros(3, 4))
    assert c.enumerate_support().shape == (4, 3)
    np.testing.assert_allclose(c.perplexity().numpy(), np.full(3, 4.0), rtol=1e-6)
    with pytest.raises(NotImplementedError):
        D.Normal(0.0, 1.0).enumerate_support()


def test_mixture_same_family_log_prob_and_moments():
    rng = np.random.default_rng(2)
    w = rng.uniform(0.2, 1.0, size=(2, 3))
    loc, scale = rng.normal(size=(2, 3)), rng.uniform(0.5, 2.0, size=(2, 3))
    mix = D.MixtureSameFamily(D.Categorical(probs=ember.tensor(w, dtype=ember.float64)),
                              D.Normal(ember.tensor(loc, dtype=ember.float64), ember.tensor(scale, dtype=ember.float64)))
    x = mix.sample((5,))
    assert x.shape == (5, 2)
    p = w / w.sum(-1, keepdims=True)
    dens = (p * np.exp(-0.5 * ((x.numpy()[..., None] - loc) / scale) ** 2) / (scale * math.sqrt(2 * math.pi))).sum(-1)
    np.testing.assert_allclose(mix.log_prob(x).numpy(), np.log(dens), rtol=1e-10)
    np.testing.assert_allclose(mix.mean.numpy(), (p * loc).sum(-1), rtol=1e-10)
    second = (p * (scale ** 2 + loc ** 2)).sum(-1)
    np.testing.assert_allclose(mix.variance.numpy(), second - (p * loc).sum(-1) ** 2, rtol=1e-10)


def test_relaxed_distributions_log_prob():
    # RelaxedBernoulli: logistic density of logit(x) at temperature t, pushed through the sigmoid
    t, p = 0.6, np.array([0.2, 0.5, 0.8])
    d = D.RelaxedBernoulli(ember.tensor(t, dtype=ember.float64), probs=ember.tensor(p, dtype=ember.float64))
    x = d.sample((4,)).numpy()
    y = np.log(x) - np.log1p(-x)
    logit = np.log(p) - np.log1p(-p)
    expected = np.log(t) + (logit - t * y) - 2 * np.log1p(np.exp(logit - t * y)) - np.log(x) - np.log1p(-x)
    np.testing.assert_allclose(d.log_prob(ember.tensor(x, dtype=ember.float64)).numpy(), expected, rtol=1e-8)
    # RelaxedOneHotCategorical (the Concrete density, Maddison et al. 2017, eq. 7)
    probs = np.array([[0.2, 0.3, 0.5]])
    r = D.RelaxedOneHotCategorical(ember.tensor(t, dtype=ember.float64), probs=ember.tensor(probs, dtype=ember.float64))
    x = r.sample((4,)).numpy()
    k = 3
    expected = (sp.gammaln(k) + (k - 1) * np.log(t) + (np.log(probs) - (t + 1) * np.log(x)).sum(-1)
                - k * np.log((probs * x ** (-t)).sum(-1)))
    np.testing.assert_allclose(r.log_prob(ember.tensor(x, dtype=ember.float64)).numpy(), expected, rtol=1e-7)


@pytest.mark.parametrize("make", [
    lambda: D.Normal(_f64([0.3, -1.0]), _f64([1.2, 0.4])),
    lambda: D.Gamma(_f64([0.7, 3.0]), _f64([2.0, 0.5])),
    lambda: D.Exponential(_f64([0.7, 3.0])),
    lambda: D.Bernoulli(_f64([0.2, 0.9])),
    lambda: D.ContinuousBernoulli(_f64([0.2, 0.9])),
    lambda: D.Wishart(_f64([4.0]), covariance_matrix=_f64([[[2.0, 0.3], [0.3, 1.0]]])),
], ids=["Normal", "Gamma", "Exponential", "Bernoulli", "ContinuousBernoulli", "Wishart"])
def test_exponential_family_entropy_from_the_log_normalizer(make):
    # the Bregman-divergence entropy of ExponentialFamily equals each closed form
    dist = make()
    generic = D.ExponentialFamily.entropy(dist).detach().numpy()
    np.testing.assert_allclose(generic, dist.entropy().detach().numpy(), rtol=1e-7, atol=1e-9)
    # as in PyTorch, Beta and Dirichlet define no carrier measure (their entropy is their own)
    with pytest.raises(NotImplementedError):
        D.ExponentialFamily.entropy(D.Beta(_f64([0.7]), _f64([2.0])))


def _f64(x):
    return ember.tensor(x, dtype=ember.float64)


def test_generalized_pareto_tails():
    import scipy.stats as st
    loc, scale, xi = np.array([0.0, 1.0, 0.0]), np.array([1.0, 2.0, 1.0]), np.array([0.3, -0.4, 0.0])
    d = D.GeneralizedPareto(_f64(loc), _f64(scale), _f64(xi))
    v = np.array([0.5, 1.5, 2.0])
    np.testing.assert_allclose(d.log_cdf(_f64(v)).numpy(), st.genpareto.logcdf(v, xi, loc, scale), rtol=1e-10)
    np.testing.assert_allclose(d.log_survival_function(_f64(v)).numpy(), st.genpareto.logsf(v, xi, loc, scale),
                               rtol=1e-10)
    np.testing.assert_allclose(d.support.upper_bound.numpy(), [np.inf, 6.0, np.inf])
