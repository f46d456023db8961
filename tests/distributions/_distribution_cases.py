"""Random parameters for the distribution tests, and scipy.stats references (float64 numpy)."""
import numpy as np
import scipy.special as sp
import scipy.stats as st

import ember
import ember.distributions as D

RNG = np.random.default_rng(1234)
N = 5  # batch size of each case


def pos(low=0.5, high=3.0, shape=(N,)):
    return RNG.uniform(low, high, size=shape)


def unit(shape=(N,)):
    return RNG.uniform(0.1, 0.9, size=shape)


def real(shape=(N,)):
    return RNG.normal(size=shape)


def spd(n, batch=2):
    a = RNG.normal(size=(batch, n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _dirichlet_logpdf(x, concentration):
    a = concentration
    return (sp.xlogy(a - 1, x).sum(-1) + sp.gammaln(a.sum(-1)) - sp.gammaln(a).sum(-1))


def _multinomial_logpmf(x, n, p):
    p = p / p.sum(-1, keepdims=True)
    return sp.gammaln(n + 1) - sp.gammaln(x + 1).sum(-1) + sp.xlogy(x, p).sum(-1)


def _mvn_logpdf(x, loc, cov):
    return np.stack([st.multivariate_normal(loc[i], cov[i]).logpdf(x[:, i]) for i in range(loc.shape[0])], -1)


def _wishart_logpdf(x, df, cov):
    return np.stack([np.array([st.wishart(df[i], cov[i]).logpdf(x[j, i]) for j in range(x.shape[0])])
                     for i in range(df.shape[0])], -1)


def _kumaraswamy_logpdf(x, a, b):
    return np.log(a) + np.log(b) + (a - 1) * np.log(x) + (b - 1) * np.log1p(-x ** a)


def _cb_logpdf(x, lam):
    norm = np.where(np.abs(lam - 0.5) < 1e-3, 2.0, 2 * np.arctanh(1 - 2 * lam) / (1 - 2 * lam))
    return np.log(norm) + sp.xlogy(x, lam) + sp.xlog1py(1 - x, -lam)


def _lkj_logpdf(L, concentration):
    eta = concentration
    # density over correlation matrices C = L L^T, pushed to L: the LKJ normaliser and Jacobian
    d = L.shape[-1]
    diag = np.diagonal(L, axis1=-2, axis2=-1)[..., 1:]
    order = 2 * (eta[..., None] - 1) + d - np.arange(2, d + 1)
    unnorm = (order * np.log(diag)).sum(-1)
    dm1 = d - 1
    alpha = eta + 0.5 * dm1
    norm = 0.5 * dm1 * np.log(np.pi) + sp.multigammaln(alpha - 0.5, dm1) - sp.gammaln(alpha) * dm1 \
        if np.ndim(alpha) == 0 else 0.5 * dm1 * np.log(np.pi) + np.array(
            [sp.multigammaln(a - 0.5, dm1) for a in np.ravel(alpha)]).reshape(np.shape(alpha)) - sp.gammaln(alpha) * dm1
    return unnorm - norm


def cases():
    """(id, constructor from tensors, numpy params, scipy logpdf(value, **params), discrete)."""
    c = []

    def add(name, cls, params, ref, ctor=None):
        c.append((name, ctor or (lambda **kw: cls(**kw)), params, ref))

    add("Normal", D.Normal, dict(loc=real(), scale=pos()), lambda x, loc, scale: st.norm.logpdf(x, loc, scale))
    add("Uniform", D.Uniform, dict(low=real() - 3, high=pos(3, 4)),
        lambda x, low, high: st.uniform.logpdf(x, low, high - low))
    add("Bernoulli", D.Bernoulli, dict(probs=unit()), lambda x, probs: st.bernoulli.logpmf(x, probs))
    add("Exponential", D.Exponential, dict(rate=pos()), lambda x, rate: st.expon.logpdf(x, scale=1 / rate))
    add("Laplace", D.Laplace, dict(loc=real(), scale=pos()), lambda x, loc, scale: st.laplace.logpdf(x, loc, scale))
    add("Cauchy", D.Cauchy, dict(loc=real(), scale=pos()), lambda x, loc, scale: st.cauchy.logpdf(x, loc, scale))
    add("Gumbel", D.Gumbel, dict(loc=real(), scale=pos()), lambda x, loc, scale: st.gumbel_r.logpdf(x, loc, scale))
    add("Geometric", D.Geometric, dict(probs=unit()), lambda x, probs: st.geom.logpmf(x + 1, probs))
    add("LogNormal", D.LogNormal, dict(loc=real(), scale=pos()),
        lambda x, loc, scale: st.lognorm.logpdf(x, scale, scale=np.exp(loc)))
    add("HalfNormal", D.HalfNormal, dict(scale=pos()), lambda x, scale: st.halfnorm.logpdf(x, scale=scale))
    add("HalfCauchy", D.HalfCauchy, dict(scale=pos()), lambda x, scale: st.halfcauchy.logpdf(x, scale=scale))
    add("Gamma", D.Gamma, dict(concentration=pos(0.3, 4), rate=pos()),
        lambda x, concentration, rate: st.gamma.logpdf(x, concentration, scale=1 / rate))
    add("Chi2", D.Chi2, dict(df=pos(1, 6)), lambda x, df: st.chi2.logpdf(x, df))
    add("Beta", D.Beta, dict(concentration1=pos(), concentration0=pos()),
        lambda x, concentration1, concentration0: st.beta.logpdf(x, concentration1, concentration0))
    add("Dirichlet", D.Dirichlet, dict(concentration=pos(shape=(N, 3))), _dirichlet_logpdf)
    add("StudentT", D.StudentT, dict(df=pos(1, 6), loc=real(), scale=pos()),
        lambda x, df, loc, scale: st.t.logpdf(x, df, loc, scale))
    add("InverseGamma", D.InverseGamma, dict(concentration=pos(2, 5), rate=pos()),
        lambda x, concentration, rate: st.invgamma.logpdf(x, concentration, scale=rate))
    add("FisherSnedecor", D.FisherSnedecor, dict(df1=pos(2, 8), df2=pos(4, 10)),
        lambda x, df1, df2: st.f.logpdf(x, df1, df2))
    add("Poisson", D.Poisson, dict(rate=pos(0.5, 20)), lambda x, rate: st.poisson.logpmf(x, rate))
    add("Binomial", D.Binomial, dict(total_count=np.full(N, 12.0), probs=unit()),
        lambda x, total_count, probs: st.binom.logpmf(x, total_count, probs))
    add("NegativeBinomial", D.NegativeBinomial, dict(total_count=pos(1, 5), probs=unit()),
        lambda x, total_count, probs: st.nbinom.logpmf(x, total_count, 1 - probs))
    add("Multinomial", None, dict(probs=pos(shape=(N, 3))), lambda x, probs: _multinomial_logpmf(x, 9, probs),
        ctor=lambda probs: D.Multinomial(9, probs=probs))
    add("Pareto", D.Pareto, dict(scale=pos(), alpha=pos(1, 4)),
        lambda x, scale, alpha: st.pareto.logpdf(x, alpha, scale=scale))
    add("Weibull", D.Weibull, dict(scale=pos(), concentration=pos()),
        lambda x, scale, concentration: st.weibull_min.logpdf(x, concentration, scale=scale))
    add("Kumaraswamy", D.Kumaraswamy, dict(concentration1=pos(1, 3), concentration0=pos(1, 3)),
        lambda x, concentration1, concentration0: _kumaraswamy_logpdf(x, concentration1, concentration0))
    add("ContinuousBernoulli", D.ContinuousBernoulli, dict(probs=unit()), lambda x, probs: _cb_logpdf(x, probs))
    add("VonMises", D.VonMises, dict(loc=real(), concentration=pos()),
        lambda x, loc, concentration: st.vonmises.logpdf(x, concentration, loc))
    add("GeneralizedPareto", D.GeneralizedPareto, dict(loc=real(), scale=pos(), concentration=real() * 0.3),
        lambda x, loc, scale, concentration: st.genpareto.logpdf(x, concentration, loc, scale))
    add("MultivariateNormal", None, dict(loc=real((2, 3)), covariance_matrix=spd(3)),
        lambda x, loc, covariance_matrix: _mvn_logpdf(x, loc, covariance_matrix),
        ctor=lambda loc, covariance_matrix: D.MultivariateNormal(loc, covariance_matrix=covariance_matrix))
    add("MultivariateNormal_precision", None, dict(loc=real((2, 3)), precision_matrix=spd(3)),
        lambda x, loc, precision_matrix: _mvn_logpdf(x, loc, np.linalg.inv(precision_matrix)),
        ctor=lambda loc, precision_matrix: D.MultivariateNormal(loc, precision_matrix=precision_matrix))
    add("LowRankMultivariateNormal", D.LowRankMultivariateNormal,
        dict(loc=real((2, 3)), cov_factor=real((2, 3, 2)), cov_diag=pos(shape=(2, 3))),
        lambda x, loc, cov_factor, cov_diag: _mvn_logpdf(
            x, loc, cov_factor @ np.swapaxes(cov_factor, -1, -2) + np.stack([np.diag(d) for d in cov_diag])))
    add("Wishart", None, dict(df=np.array([4.5, 6.0]), covariance_matrix=spd(3)),
        lambda x, df, covariance_matrix: _wishart_logpdf(x, df, covariance_matrix),
        ctor=lambda df, covariance_matrix: D.Wishart(df, covariance_matrix=covariance_matrix))
    add("LKJCholesky", None, dict(concentration=pos(shape=(2,))), _lkj_logpdf,
        ctor=lambda concentration: D.LKJCholesky(3, concentration))
    return c


CASES = cases()


def to_ember(params, dtype, device, requires_grad=False):
    """numpy parameters as ember tensors (ints stay Python numbers)."""
    return {k: ember.tensor(v, dtype=dtype, device=device, requires_grad=requires_grad) for k, v in params.items()}
