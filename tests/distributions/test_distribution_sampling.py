"""Samples: moments of 10^5 draws within statistical bounds (fixed seed), the same samples on
every device for the same seed, and reparameterized gradients (finite differences at the same
seed; the implicit gamma gradient against scipy's inverse incomplete gamma)."""
import math

import numpy as np
import pytest
import scipy.special as sp
import scipy.stats as st

import ember
import ember.distributions as D

N_SAMPLES = 100_000


def _f64(x):
    return ember.tensor(x, dtype=ember.float64)


# (id, distribution, scipy frozen distribution or (mean, var))
_MOMENT_CASES = [
    ("Normal", lambda: D.Normal(_f64([0.5, -1.0]), _f64([1.5, 0.3])), st.norm([0.5, -1.0], [1.5, 0.3])),
    ("Gamma_small", lambda: D.Gamma(_f64([0.2, 0.7]), _f64([1.0, 2.0])), st.gamma([0.2, 0.7], scale=[1.0, 0.5])),
    ("Gamma", lambda: D.Gamma(_f64([1.0, 4.5, 60.0]), _f64([0.5, 1.0, 3.0])),
     st.gamma([1.0, 4.5, 60.0], scale=[2.0, 1.0, 1 / 3])),
    ("Beta", lambda: D.Beta(_f64([0.5, 2.0]), _f64([1.5, 5.0])), st.beta([0.5, 2.0], [1.5, 5.0])),
    ("Chi2", lambda: D.Chi2(_f64([1.0, 7.0])), st.chi2([1.0, 7.0])),
    ("StudentT", lambda: D.StudentT(_f64([6.0, 9.0]), _f64([0.0, 1.0]), _f64([1.0, 2.0])),
     st.t([6.0, 9.0], [0.0, 1.0], [1.0, 2.0])),
    ("Poisson", lambda: D.Poisson(_f64([0.3, 4.0, 9.9, 10.0, 250.0])), st.poisson([0.3, 4.0, 9.9, 10.0, 250.0])),
    ("Binomial", lambda: D.Binomial(_f64([5.0, 40.0, 1000.0, 200.0]), _f64([0.3, 0.1, 0.45, 0.9])),
     st.binom([5, 40, 1000, 200], [0.3, 0.1, 0.45, 0.9])),
    ("NegativeBinomial", lambda: D.NegativeBinomial(_f64([3.0, 0.7]), _f64([0.4, 0.8])),
     st.nbinom([3.0, 0.7], [0.6, 0.2])),
    ("Geometric", lambda: D.Geometric(_f64([0.2, 0.7])), st.geom([0.2, 0.7], loc=-1)),
    ("Exponential", lambda: D.Exponential(_f64([0.5, 3.0])), st.expon(scale=[2.0, 1 / 3])),
    ("Laplace", lambda: D.Laplace(_f64([1.0]), _f64([2.0])), st.laplace(1.0, 2.0)),
    ("Gumbel", lambda: D.Gumbel(_f64([1.0]), _f64([2.0])), st.gumbel_r(1.0, 2.0)),
    ("Weibull", lambda: D.Weibull(_f64([1.0, 2.0]), _f64([1.5, 3.0])), st.weibull_min([1.5, 3.0], scale=[1.0, 2.0])),
    ("InverseGamma", lambda: D.InverseGamma(_f64([6.0]), _f64([2.0])), st.invgamma(6.0, scale=2.0)),
    ("FisherSnedecor", lambda: D.FisherSnedecor(_f64([5.0]), _f64([12.0])), st.f(5.0, 12.0)),
    ("VonMises", lambda: D.VonMises(_f64([0.5, -2.0]), _f64([0.3, 8.0])), None),
    ("Kumaraswamy", lambda: D.Kumaraswamy(_f64([2.0]), _f64([3.0])), None),
    ("ContinuousBernoulli", lambda: D.ContinuousBernoulli(_f64([0.2, 0.5, 0.9])), None),
    ("GeneralizedPareto", lambda: D.GeneralizedPareto(_f64([0.0]), _f64([1.0]), _f64([0.1])),
     st.genpareto(0.1)),
]


@pytest.mark.parametrize("name, make, frozen", _MOMENT_CASES, ids=[c[0] for c in _MOMENT_CASES])
def test_sample_moments(name, make, frozen):
    dist = make()
    x = dist.sample((N_SAMPLES,)).numpy()
    assert np.isfinite(x).all()
    if frozen is None:  # the distribution's own closed-form moments
        mean, var = dist.mean.numpy(), dist.variance.numpy()
    else:
        mean, var = frozen.mean(), frozen.var()
    if name == "VonMises":  # circular moments: E[cos(x - loc)] = 1 - circular variance
        x = np.cos(x - dist.loc.numpy())
        mean, var = 1 - dist.variance.numpy(), None
    # 5 standard errors, estimated from the samples themselves
    se_mean = x.std(0) / math.sqrt(N_SAMPLES)
    assert np.all(np.abs(x.mean(0) - mean) < 5 * se_mean + 1e-12), (x.mean(0), mean)
    if var is not None:
        centred = x - x.mean(0)
        se_var = np.sqrt(((centred ** 2 - centred.var(0)) ** 2).mean(0) / N_SAMPLES)
        assert np.all(np.abs(centred.var(0) - var) < 5 * se_var), (centred.var(0), var)


def test_discrete_samples_match_the_pmf():
    # a chi-squared goodness-of-fit test on the counts of small-rate samplers
    for dist, pmf in ((D.Poisson(_f64(2.5)), lambda k: st.poisson.pmf(k, 2.5)),
                      (D.Binomial(_f64(12.0), _f64(0.35)), lambda k: st.binom.pmf(k, 12, 0.35))):
        x = dist.sample((N_SAMPLES,)).numpy().astype(int)
        ks = np.arange(0, 9)
        observed = np.array([(x == k).sum() for k in ks] + [(x > ks[-1]).sum()])
        expected = np.append(pmf(ks), 1 - pmf(ks).sum()) * N_SAMPLES
        assert st.chisquare(observed, expected).pvalue > 1e-4


def test_multinomial_and_dirichlet_samples():
    probs = _f64([0.1, 0.3, 0.6])
    counts = D.Multinomial(20, probs=probs).sample((20000,)).numpy()
    assert (counts.sum(-1) == 20).all()
    np.testing.assert_allclose(counts.mean(0), 20 * probs.numpy(), rtol=0.02)
    conc = _f64([0.4, 1.0, 3.0])
    x = D.Dirichlet(conc).sample((N_SAMPLES,)).numpy()
    np.testing.assert_allclose(x.sum(-1), 1.0, atol=1e-12)
    a = conc.numpy()
    np.testing.assert_allclose(x.mean(0), a / a.sum(), atol=5 * x.std(0).max() / math.sqrt(N_SAMPLES))


def test_mvn_lkj_wishart_samples():
    cov = np.array([[2.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 0.5]])
    x = D.MultivariateNormal(_f64([1.0, 0.0, -1.0]), covariance_matrix=_f64(cov)).sample((N_SAMPLES,)).numpy()
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.03)
    w = D.LowRankMultivariateNormal(_f64([0.0, 0.0]), _f64([[1.0], [0.5]]), _f64([0.5, 0.2])).sample((N_SAMPLES,))
    np.testing.assert_allclose(np.cov(w.numpy().T), [[1.5, 0.5], [0.5, 0.45]], atol=0.03)
    wish = D.Wishart(_f64(5.0), covariance_matrix=_f64(cov)).sample((20000,)).numpy()
    np.testing.assert_allclose(wish.mean(0), 5 * cov, atol=0.15)
    L = D.LKJCholesky(3, _f64(2.0)).sample((20000,)).numpy()
    corr = L @ np.swapaxes(L, -1, -2)
    np.testing.assert_allclose(np.diagonal(corr, axis1=-2, axis2=-1), 1.0, atol=1e-10)
    # LKJ(eta) on 3x3: each off-diagonal correlation is 2 Beta(eta + 1/2, eta + 1/2) - 1, variance 1/(2 eta + 2)
    for i, j in ((1, 0), (2, 0), (2, 1)):
        np.testing.assert_allclose(corr[:, i, j].var(), 1 / 6, rtol=0.05)
    np.testing.assert_allclose(corr[:, 2, 1].mean(), 0.0, atol=0.02)


_DEVICE_CASES = [
    ("Normal", lambda dev: D.Normal(ember.zeros(3, device=dev), 2.0)),
    ("Gamma", lambda dev: D.Gamma(ember.tensor([0.3, 2.0, 9.0], device=dev), 1.5)),
    ("Categorical", lambda dev: D.Categorical(logits=ember.tensor([[0.1, 1.0, -1.0]], device=dev))),
    ("Poisson", lambda dev: D.Poisson(ember.tensor([2.0, 30.0], device=dev))),
    ("Binomial", lambda dev: D.Binomial(ember.tensor([10.0, 200.0], device=dev), ember.tensor([0.3, 0.6], device=dev))),
    ("Beta", lambda dev: D.Beta(ember.tensor([0.5, 2.0], device=dev), ember.tensor([1.5, 3.0], device=dev))),
    ("VonMises", lambda dev: D.VonMises(ember.tensor([0.0], device=dev), ember.tensor([2.0], device=dev))),
]


@pytest.mark.parametrize("name, make", _DEVICE_CASES, ids=[c[0] for c in _DEVICE_CASES])
def test_same_seed_same_samples_on_every_device(name, make, any_device):
    ember.manual_seed(11)
    expected = make("cpu").sample((64,)).numpy()
    ember.manual_seed(11)
    got = make(any_device).sample((64,))
    assert got.device.type == any_device
    # float32-only devices run the samplers in float32 (the cpu in float64): equal up to rounding
    np.testing.assert_allclose(got.cpu().numpy(), expected, rtol=1e-3, atol=1e-3)


# rsample gradients by central differences at the same seed: (distribution, parameters)
_FD_CASES = [
    ("Normal", lambda loc, scale: D.Normal(loc, scale), dict(loc=[0.3, -1.0], scale=[1.2, 0.4])),
    ("LogNormal", lambda loc, scale: D.LogNormal(loc, scale), dict(loc=[0.3], scale=[0.7])),
    ("Exponential", lambda rate: D.Exponential(rate), dict(rate=[0.5, 2.0])),
    ("Laplace", lambda loc, scale: D.Laplace(loc, scale), dict(loc=[0.3], scale=[1.3])),
    ("Cauchy", lambda loc, scale: D.Cauchy(loc, scale), dict(loc=[0.3], scale=[0.4])),
    ("Gumbel", lambda loc, scale: D.Gumbel(loc, scale), dict(loc=[0.3], scale=[1.4])),
    ("Uniform", lambda low, high: D.Uniform(low, high), dict(low=[-1.0], high=[2.0])),
    ("Weibull", lambda scale, concentration: D.Weibull(scale, concentration), dict(scale=[1.5], concentration=[2.0])),
    ("Pareto", lambda scale, alpha: D.Pareto(scale, alpha), dict(scale=[1.5], alpha=[3.0])),
    ("Kumaraswamy", lambda a, b: D.Kumaraswamy(a, b), dict(a=[2.0], b=[3.0])),
    ("HalfNormal", lambda scale: D.HalfNormal(scale), dict(scale=[1.5])),
    ("ContinuousBernoulli", lambda probs: D.ContinuousBernoulli(probs), dict(probs=[0.3, 0.8])),
    ("RelaxedBernoulli", lambda t, logits: D.RelaxedBernoulli(t, logits=logits), dict(t=[0.5], logits=[0.3])),
    ("RelaxedOneHotCategorical", lambda t, logits: D.RelaxedOneHotCategorical(t, logits=logits),
     dict(t=[0.7], logits=[0.1, -0.4, 0.9])),
    ("LogisticNormal", lambda loc, scale: D.LogisticNormal(loc, scale), dict(loc=[0.2, -0.3], scale=[0.5, 1.1])),
    ("MultivariateNormal", lambda loc, tril: D.MultivariateNormal(loc, scale_tril=tril.tril() + 2 * ember.eye(
        2, dtype=ember.float64, device=tril.device)), dict(loc=[0.5, -0.5], tril=[[0.3, 0.0], [0.4, 0.2]])),
    ("LowRankMultivariateNormal", lambda loc, w, d: D.LowRankMultivariateNormal(loc, w, d),
     dict(loc=[0.5, -0.5], w=[[0.3], [0.7]], d=[0.5, 1.5])),
    ("GeneralizedPareto", lambda loc, scale, c: D.GeneralizedPareto(loc, scale, c),
     dict(loc=[0.0], scale=[1.0], c=[0.2])),
]


@pytest.mark.parametrize("name, make, params", _FD_CASES, ids=[c[0] for c in _FD_CASES])
def test_rsample_gradient_by_finite_differences(name, make, params, device):
    weights = None

    def objective(values):
        nonlocal weights
        ember.manual_seed(5)
        x = make(*values).rsample((6,))
        if weights is None:
            weights = ember.tensor(np.random.default_rng(0).normal(size=tuple(x.shape)), dtype=ember.float64,
                                   device=device)
        return (x * weights).sum()

    values = [ember.tensor(v, dtype=ember.float64, device=device, requires_grad=True) for v in params.values()]
    dist = make(*values)
    assert dist.has_rsample
    objective(values).backward()
    h = 1e-6
    for i, v in enumerate(values):
        flat = v.detach().cpu().numpy().ravel()
        numeric = np.zeros_like(flat)
        for j in range(flat.size):
            shifted = []
            for sign in (1, -1):
                w = flat.copy()
                w[j] += sign * h
                shifted.append([ember.tensor(w.reshape(v.shape), dtype=ember.float64, device=device)
                                if k == i else u.detach() for k, u in enumerate(values)])
            numeric[j] = (objective(shifted[0]).item() - objective(shifted[1]).item()) / (2 * h)
        np.testing.assert_allclose(v.grad.cpu().numpy().ravel(), numeric, rtol=1e-5, atol=1e-6)


def _gamma_grad_reference(x, a, h=1e-6):
    """dx/dα at fixed quantile: differentiate scipy's inverse of the regularized incomplete gamma."""
    u = sp.gammainc(a, x)
    return (sp.gammaincinv(a * (1 + h), u) - sp.gammaincinv(a * (1 - h), u)) / (2 * a * h)


def test_gamma_rsample_gradient_is_the_implicit_one(device):
    alpha = np.array([0.05, 0.4, 1.0, 3.0, 20.0, 300.0, 5000.0])
    a = ember.tensor(np.repeat(alpha, 40), dtype=ember.float64, device=device, requires_grad=True)
    x = D.Gamma(a, ember.tensor(1.0, dtype=ember.float64, device=device)).rsample()
    x.sum().backward()
    xs, grads = x.detach().cpu().numpy(), a.grad.cpu().numpy()
    expected = _gamma_grad_reference(xs, np.repeat(alpha, 40))
    big = np.repeat(alpha, 40) > 1000  # the Wilson–Hilferty branch
    np.testing.assert_allclose(grads[~big], expected[~big], rtol=1e-5)
    np.testing.assert_allclose(grads[big], expected[big], rtol=1e-4)


def test_gamma_rate_gradient_and_float32(any_device):
    # d/d rate of x / rate is -x / rate; float32 (mps) runs the series in float32
    a = ember.tensor([0.5, 2.0, 7.0], device=any_device, requires_grad=True)
    rate = ember.tensor([2.0, 0.5, 1.0], device=any_device, requires_grad=True)
    x = D.Gamma(a, rate).rsample((200,))
    x.sum().backward()
    np.testing.assert_allclose(rate.grad.cpu().numpy(), -(x.detach() / rate.detach()).sum(0).cpu().numpy(),
                               rtol=1e-4)
    expected = _gamma_grad_reference((x.detach() * rate.detach()).cpu().numpy().astype(np.float64),
                                     np.array([0.5, 2.0, 7.0])) / rate.detach().cpu().numpy()
    np.testing.assert_allclose(a.grad.cpu().numpy(), expected.sum(0), rtol=2e-3)


@pytest.mark.parametrize("family", ["Beta", "Dirichlet", "Chi2", "StudentT", "FisherSnedecor", "InverseGamma"])
def test_gamma_family_gradients_are_unbiased(family):
    # the mean of the pathwise gradients equals the derivative of the closed-form mean
    n = 40_000
    if family == "Beta":
        params = [_f64([0.7]).requires_grad_(), _f64([2.0]).requires_grad_()]
        make = D.Beta
    elif family == "Dirichlet":
        params = [_f64([0.7, 1.5, 3.0]).requires_grad_()]
        make = D.Dirichlet
    elif family == "Chi2":
        params = [_f64([3.0]).requires_grad_()]
        make = D.Chi2
    elif family == "StudentT":
        params = [_f64([5.0]).requires_grad_(), _f64([0.5]).requires_grad_(), _f64([2.0]).requires_grad_()]
        make = D.StudentT

        def stat(x):
            return x.abs()
    elif family == "FisherSnedecor":
        params = [_f64([4.0]).requires_grad_(), _f64([9.0]).requires_grad_()]
        make = D.FisherSnedecor
    else:
        params = [_f64([5.0]).requires_grad_(), _f64([2.0]).requires_grad_()]
        make = D.InverseGamma
    if family != "StudentT":
        def stat(x):
            return x
    x = make(*params).rsample((n,))
    per_sample = stat(x)
    per_sample.mean(0).sum().backward()
    pathwise = [p.grad.numpy().copy() for p in params]
    for p in params:
        p.grad = None
    # the same statistic's expectation in closed form, differentiated by autograd
    if family == "StudentT":
        df, loc, scale = params
        # E|X| is awkward in closed form: compare with E[X] and E[X^2] instead
        x = make(*params).rsample((n,))
        (x.mean(0) + (x ** 2).mean(0) / 10).sum().backward()
        pathwise = [p.grad.numpy().copy() for p in params]
        for p in params:
            p.grad = None
        exact = make(*params)
        (exact.mean + (exact.variance + exact.mean ** 2) / 10).sum().backward()
    else:
        make(*params).mean.sum().backward()
    for got, p in zip(pathwise, params):
        expected = np.zeros_like(got) if p.grad is None else p.grad.numpy()  # F's mean ignores df1
        assert np.all(np.abs(got - expected) < 0.03 * np.abs(expected) + 0.01), (family, got, expected)


def test_categorical_sampling_paths_agree_in_distribution(monkeypatch):
    from ember.distributions import categorical
    probs = _f64([[0.1, 0.0, 0.6, 0.3], [0.25, 0.25, 0.25, 0.25]])
    for limit in (1 << 24, 0):  # inverse CDF, then the multinomial path
        monkeypatch.setattr(categorical, "_INVERSE_CDF_MAX_ELEMENTS", limit)
        x = D.Categorical(probs).sample((40_000,)).numpy()
        assert x.shape == (40_000, 2) and x.dtype == np.int64
        freq = np.stack([np.bincount(x[:, i], minlength=4) / 40_000 for i in range(2)])
        np.testing.assert_allclose(freq, probs.numpy(), atol=0.012)
        assert (x[:, 0] != 1).all()  # a zero-probability category is never drawn
