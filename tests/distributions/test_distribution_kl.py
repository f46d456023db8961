"""kl_divergence: closed forms against Monte-Carlo estimates E_p[log p - log q], the registry's
dispatch (most specific pair, register_kl) and PyTorch's table of pairs."""
import math

import numpy as np
import pytest

import ember
import ember.distributions as D
from ember.distributions import kl

N_MC = 100_000


def _f(x):
    return ember.tensor(x, dtype=ember.float64)


def _spd(seed):
    a = np.random.default_rng(seed).normal(size=(3, 3))
    return _f(a @ a.T + 3 * np.eye(3))


# (p, q): one representative pair per closed form (cross-family pairs included)
_PAIRS = {
    "Normal-Normal": (lambda: D.Normal(_f([0.3, -1.0]), _f([1.2, 0.5])), lambda: D.Normal(_f([-0.2, 0.4]), _f([0.8, 1.5]))),
    "Bernoulli-Bernoulli": (lambda: D.Bernoulli(_f([0.2, 0.7])), lambda: D.Bernoulli(_f([0.5, 0.4]))),
    "Categorical-Categorical": (lambda: D.Categorical(_f([[0.2, 0.3, 0.5]])), lambda: D.Categorical(_f([[0.4, 0.4, 0.2]]))),
    "OneHotCategorical-OneHotCategorical": (lambda: D.OneHotCategorical(_f([[0.2, 0.3, 0.5]])),
                                            lambda: D.OneHotCategorical(_f([[0.4, 0.4, 0.2]]))),
    "Beta-Beta": (lambda: D.Beta(_f([1.5, 0.7]), _f([2.0, 1.2])), lambda: D.Beta(_f([0.9, 2.0]), _f([1.1, 3.0]))),
    "Binomial-Binomial": (lambda: D.Binomial(_f(10.0), _f([0.3, 0.6])), lambda: D.Binomial(_f(10.0), _f([0.5, 0.45]))),
    "Cauchy-Cauchy": (lambda: D.Cauchy(_f([0.0]), _f([1.0])), lambda: D.Cauchy(_f([1.0]), _f([2.0]))),
    "ContinuousBernoulli-ContinuousBernoulli": (lambda: D.ContinuousBernoulli(_f([0.2, 0.8])),
                                                lambda: D.ContinuousBernoulli(_f([0.6, 0.3]))),
    "Dirichlet-Dirichlet": (lambda: D.Dirichlet(_f([[1.5, 0.7, 2.0]])), lambda: D.Dirichlet(_f([[1.0, 1.0, 3.0]]))),
    "Exponential-Exponential": (lambda: D.Exponential(_f([0.5, 2.0])), lambda: D.Exponential(_f([1.5, 1.0]))),
    "Gamma-Gamma": (lambda: D.Gamma(_f([2.0, 0.8]), _f([1.0, 2.0])), lambda: D.Gamma(_f([1.5, 1.2]), _f([0.7, 3.0]))),
    "Gumbel-Gumbel": (lambda: D.Gumbel(_f([0.0]), _f([1.0])), lambda: D.Gumbel(_f([0.5]), _f([1.7]))),
    "Geometric-Geometric": (lambda: D.Geometric(_f([0.3, 0.6])), lambda: D.Geometric(_f([0.5, 0.4]))),
    "HalfNormal-HalfNormal": (lambda: D.HalfNormal(_f([1.0])), lambda: D.HalfNormal(_f([2.0]))),
    "Laplace-Laplace": (lambda: D.Laplace(_f([0.0]), _f([1.0])), lambda: D.Laplace(_f([0.7]), _f([2.0]))),
    "Pareto-Pareto": (lambda: D.Pareto(_f([2.0]), _f([3.0])), lambda: D.Pareto(_f([1.0]), _f([2.0]))),
    "Poisson-Poisson": (lambda: D.Poisson(_f([2.0, 7.0])), lambda: D.Poisson(_f([3.0, 5.0]))),
    "Uniform-Uniform": (lambda: D.Uniform(_f([0.0]), _f([1.0])), lambda: D.Uniform(_f([-1.0]), _f([2.0]))),
    "MultivariateNormal-MultivariateNormal": (
        lambda: D.MultivariateNormal(_f([0.0, 1.0, -1.0]), covariance_matrix=_spd(1)),
        lambda: D.MultivariateNormal(_f([0.5, 0.0, 0.0]), covariance_matrix=_spd(2))),
    "LowRankMultivariateNormal-MultivariateNormal": (
        lambda: D.LowRankMultivariateNormal(_f([0.0, 1.0, -1.0]), _f([[1.0], [0.5], [0.2]]), _f([1.0, 2.0, 0.5])),
        lambda: D.MultivariateNormal(_f([0.5, 0.0, 0.0]), covariance_matrix=_spd(2))),
    "Independent-Independent": (lambda: D.Independent(D.Normal(_f([[0.0, 1.0]]), _f([[1.0, 2.0]])), 1),
                                lambda: D.Independent(D.Normal(_f([[0.5, 0.0]]), _f([[1.5, 1.0]])), 1)),
    "TransformedDistribution-TransformedDistribution": (lambda: D.LogNormal(_f([0.0]), _f([1.0])),
                                                        lambda: D.LogNormal(_f([0.3]), _f([0.6]))),
    "Bernoulli-Poisson": (lambda: D.Bernoulli(_f([0.3])), lambda: D.Poisson(_f([0.7]))),
    "Beta-Exponential": (lambda: D.Beta(_f([1.5]), _f([2.0])), lambda: D.Exponential(_f([2.0]))),
    "Beta-Gamma": (lambda: D.Beta(_f([1.5]), _f([2.0])), lambda: D.Gamma(_f([2.0]), _f([3.0]))),
    "Beta-Normal": (lambda: D.Beta(_f([1.5]), _f([2.0])), lambda: D.Normal(_f([0.3]), _f([0.5]))),
    "Beta-Uniform": (lambda: D.Beta(_f([1.5]), _f([2.0])), lambda: D.Uniform(_f([-0.5]), _f([1.5]))),
    "Beta-ContinuousBernoulli": (lambda: D.Beta(_f([1.5]), _f([2.0])), lambda: D.ContinuousBernoulli(_f([0.3]))),
    "ContinuousBernoulli-Exponential": (lambda: D.ContinuousBernoulli(_f([0.3])), lambda: D.Exponential(_f([2.0]))),
    "ContinuousBernoulli-Normal": (lambda: D.ContinuousBernoulli(_f([0.3])), lambda: D.Normal(_f([0.3]), _f([0.5]))),
    "ContinuousBernoulli-Uniform": (lambda: D.ContinuousBernoulli(_f([0.3])), lambda: D.Uniform(_f([0.0]), _f([2.0]))),
    "Exponential-Gamma": (lambda: D.Exponential(_f([1.5])), lambda: D.Gamma(_f([2.0]), _f([3.0]))),
    "Exponential-Gumbel": (lambda: D.Exponential(_f([1.5])), lambda: D.Gumbel(_f([0.5]), _f([1.2]))),
    "Exponential-Normal": (lambda: D.Exponential(_f([1.5])), lambda: D.Normal(_f([0.3]), _f([1.5]))),
    "Gamma-Exponential": (lambda: D.Gamma(_f([2.0]), _f([3.0])), lambda: D.Exponential(_f([1.5]))),
    "Gamma-Gumbel": (lambda: D.Gamma(_f([2.0]), _f([3.0])), lambda: D.Gumbel(_f([0.5]), _f([1.2]))),
    "Gamma-Normal": (lambda: D.Gamma(_f([2.0]), _f([3.0])), lambda: D.Normal(_f([0.3]), _f([1.5]))),
    "Gumbel-Normal": (lambda: D.Gumbel(_f([0.5]), _f([1.2])), lambda: D.Normal(_f([0.3]), _f([1.5]))),
    "Laplace-Normal": (lambda: D.Laplace(_f([0.5]), _f([1.2])), lambda: D.Normal(_f([0.3]), _f([1.5]))),
    "Normal-Gumbel": (lambda: D.Normal(_f([0.3]), _f([0.7])), lambda: D.Gumbel(_f([0.5]), _f([1.2]))),
    "Normal-Laplace": (lambda: D.Normal(_f([0.3]), _f([0.7])), lambda: D.Laplace(_f([-0.5]), _f([1.2]))),
    "Pareto-Exponential": (lambda: D.Pareto(_f([1.0]), _f([4.0])), lambda: D.Exponential(_f([0.7]))),
    "Pareto-Gamma": (lambda: D.Pareto(_f([1.0]), _f([4.0])), lambda: D.Gamma(_f([2.0]), _f([1.5]))),
    "Pareto-Normal": (lambda: D.Pareto(_f([1.0]), _f([5.0])), lambda: D.Normal(_f([1.0]), _f([0.7]))),
    "Uniform-Beta": (lambda: D.Uniform(_f([0.2]), _f([0.7])), lambda: D.Beta(_f([1.5]), _f([2.0]))),
    "Uniform-ContinuousBernoulli": (lambda: D.Uniform(_f([0.2]), _f([0.7])), lambda: D.ContinuousBernoulli(_f([0.3]))),
    "Uniform-Exponential": (lambda: D.Uniform(_f([0.2]), _f([1.7])), lambda: D.Exponential(_f([0.7]))),
    "Uniform-Gamma": (lambda: D.Uniform(_f([0.2]), _f([1.7])), lambda: D.Gamma(_f([2.0]), _f([1.5]))),
    "Uniform-Gumbel": (lambda: D.Uniform(_f([0.2]), _f([1.7])), lambda: D.Gumbel(_f([0.5]), _f([1.2]))),
    "Uniform-Normal": (lambda: D.Uniform(_f([0.2]), _f([1.7])), lambda: D.Normal(_f([0.5]), _f([1.2]))),
    "Uniform-Pareto": (lambda: D.Uniform(_f([1.2]), _f([2.7])), lambda: D.Pareto(_f([1.0]), _f([2.0]))),
    "ExponentialFamily-ExponentialFamily": (lambda: D.Wishart(_f(5.0), covariance_matrix=_spd(1)),
                                            lambda: D.Wishart(_f(4.0), covariance_matrix=_spd(2))),
}


@pytest.mark.parametrize("pair", sorted(_PAIRS))
def test_kl_matches_monte_carlo(pair):
    p, q = (make() for make in _PAIRS[pair])
    closed = kl.kl_divergence(p, q).detach().numpy()
    x = p.sample((N_MC if pair != "ExponentialFamily-ExponentialFamily" else 20_000,))
    log_ratio = (p.log_prob(x) - q.log_prob(x)).numpy()
    se = log_ratio.std(0) / math.sqrt(log_ratio.shape[0])
    assert closed.shape == log_ratio.shape[1:]
    assert np.all(np.abs(log_ratio.mean(0) - closed) < 5 * se + 1e-9), (pair, closed, log_ratio.mean(0), se)


def test_infinite_pairs_and_supports():
    assert np.isinf(D.kl_divergence(D.Normal(_f([0.0]), _f([1.0])), D.Exponential(_f([1.0]))).numpy()).all()
    assert np.isinf(D.kl_divergence(D.Poisson(_f([1.0])), D.Bernoulli(_f([0.5]))).numpy()).all()
    assert np.isinf(D.kl_divergence(D.Uniform(_f([-1.0]), _f([1.0])), D.Uniform(_f([0.0]), _f([2.0]))).numpy()).all()
    assert np.isinf(D.kl_divergence(D.Pareto(_f([1.0]), _f([2.0])), D.Pareto(_f([2.0]), _f([2.0]))).numpy()).all()
    assert np.isinf(D.kl_divergence(D.Pareto(_f([1.0]), _f([0.8])), D.Exponential(_f([1.0]))).numpy()).all()
    kl_bern = D.kl_divergence(D.Bernoulli(_f([0.3])), D.Bernoulli(_f([0.0]))).numpy()
    assert np.isinf(kl_bern).all()
    assert D.kl_divergence(D.Bernoulli(_f([0.0])), D.Bernoulli(_f([0.4]))).item() == pytest.approx(-math.log(0.6))


def test_the_table_is_pytorchs():
    names = {(a.__name__, b.__name__) for a, b in kl._KL_REGISTRY}
    assert len(names) == 87
    for pair in [("Gamma", "Gumbel"), ("LowRankMultivariateNormal", "LowRankMultivariateNormal"),
                 ("Poisson", "Binomial"), ("ExponentialFamily", "ExponentialFamily"), ("Uniform", "Pareto")]:
        assert pair in names


def test_dispatch_and_register_kl():
    class MyNormal(D.Normal):
        pass

    p, q = MyNormal(_f([0.0]), _f([1.0])), D.Normal(_f([1.0]), _f([1.0]))
    assert D.kl_divergence(p, q).item() == pytest.approx(0.5)  # inherits Normal-Normal
    calls = []

    @D.register_kl(MyNormal, D.Normal)
    def _mine(p, q):
        calls.append(1)
        return ember.zeros(p.batch_shape)

    assert D.kl_divergence(p, q).item() == 0.0 and calls  # the more specific rule wins (memo cleared)
    assert D.kl_divergence(q, q).item() == 0.0
    del kl._KL_REGISTRY[MyNormal, D.Normal]
    kl._KL_MEMOIZE.clear()
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p type Normal and q type "
                                                  "VonMises"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.VonMises(0.0, 1.0))
    with pytest.raises(NotImplementedError, match="cannot be computed using Bregman divergences"):
        kl._kl_expfamily_expfamily(D.Poisson(_f(1.0)), D.Exponential(_f(1.0)))
    with pytest.raises(ValueError, match="KL-divergence between two Multivariate Normals with different event shapes"):
        D.kl_divergence(D.MultivariateNormal(_f([0.0, 0.0]), _f(np.eye(2))),
                        D.MultivariateNormal(_f([0.0, 0.0, 0.0]), _f(np.eye(3))))


def test_kl_differentiates_on_every_device(any_device):
    loc = ember.tensor([0.3, -0.2], device=any_device, requires_grad=True)
    scale = ember.tensor([1.5, 0.5], device=any_device, requires_grad=True)
    value = D.kl_divergence(D.Normal(loc, scale), D.Normal(ember.zeros(2, device=any_device), 1.0)).sum()
    value.backward()
    np.testing.assert_allclose(loc.grad.cpu().numpy(), [0.3, -0.2], rtol=1e-5)
    np.testing.assert_allclose(scale.grad.cpu().numpy(), [1.5 - 1 / 1.5, 0.5 - 1 / 0.5], rtol=1e-5)
