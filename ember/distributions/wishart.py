"""The Wishart distribution."""
import math
from numbers import Number

import ember
from ember.distributions import constraints
from ember.distributions.exp_family import ExponentialFamily
from ember.distributions.gamma import Chi2
from ember.distributions.multivariate_normal import _precision_to_scale_tril
from ember.distributions.utils import lazy_property

__all__ = ["Wishart"]


def _mvlgamma(a, p: int):
    """The multivariate log-gamma function log Γ_p(a)."""
    j = ember.arange(p, dtype=a.dtype, device=a.device)
    return p * (p - 1) / 4 * math.log(math.pi) + ember.lgamma(a.unsqueeze(-1) - j / 2).sum(-1)


def _mvdigamma(a, p: int):
    """The multivariate digamma function, the derivative of log Γ_p."""
    j = ember.arange(p, dtype=a.dtype, device=a.device)
    return ember.digamma(a.unsqueeze(-1) - j / 2).sum(-1)


class Wishart(ExponentialFamily):
    """The Wishart distribution over positive-definite p×p matrices with ``df`` degrees of freedom
    and scale matrix given by exactly one of ``covariance_matrix``, ``precision_matrix`` or
    ``scale_tril``; ``rsample`` uses the Bartlett decomposition (chi-squared diagonal, normal
    strict lower triangle).

    Args:
        df: degrees of freedom, greater than p - 1.
        covariance_matrix: the positive-definite scale matrix.
        precision_matrix: its inverse.
        scale_tril: its lower Cholesky factor.
        validate_args: whether to validate arguments.

    Returns:
        A reparameterized distribution with event shape ``(p, p)``.
    """
    arg_constraints = {"covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky, "df": constraints.greater_than(0)}
    support = constraints.positive_definite
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None):
        if (covariance_matrix is not None) + (scale_tril is not None) + (precision_matrix is not None) != 1:
            raise AssertionError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        param = next(p for p in (covariance_matrix, precision_matrix, scale_tril) if p is not None)
        if param.dim() < 2:
            raise ValueError("scale_tril must be at least two-dimensional, with optional leading batch dimensions")
        if isinstance(df, Number):
            batch_shape = ember.Size(param.shape[:-2])
            self.df = ember.tensor(df, dtype=param.dtype, device=param.device)
        else:
            batch_shape = ember.broadcast_shapes(param.shape[:-2], df.shape)
            self.df = df
        event_shape = param.shape[-2:]
        if bool(self.df.le(event_shape[-1] - 1).any()):
            raise ValueError(f"Value of df={df} expected to be greater than ndim - 1 = {event_shape[-1] - 1}.")
        if scale_tril is not None:
            self.scale_tril = param.expand(batch_shape + (-1, -1))
        elif covariance_matrix is not None:
            self.covariance_matrix = param.expand(batch_shape + (-1, -1))
        else:
            self.precision_matrix = param.expand(batch_shape + (-1, -1))
        self.df = self.df.expand(batch_shape)
        if self.df.lt(event_shape[-1]).any():
            import warnings
            warnings.warn("Low df values detected. Singular samples are highly likely to occur for ndim - 1 < df < ndim.")
        super().__init__(batch_shape, event_shape, validate_args=validate_args)
        self._batch_dims = [-(x + 1) for x in range(len(self._batch_shape))]
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = ember.linalg.cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(precision_matrix)
        # chi-squared degrees of freedom of the Bartlett diagonal
        p = self._event_shape[-1]
        self._dist_chi2 = Chi2(df=self.df.unsqueeze(-1) - ember.arange(p, dtype=self.df.dtype,
                                                                       device=self.df.device).expand(
            batch_shape + (-1,)))

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Wishart, _instance)
        batch_shape = ember.Size(batch_shape)
        cov_shape = batch_shape + self.event_shape
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril.expand(cov_shape)
        new.df = self.df.expand(batch_shape)
        new._batch_dims = [-(x + 1) for x in range(len(batch_shape))]
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(cov_shape))
        new._dist_chi2 = Chi2(df=new.df.unsqueeze(-1) - ember.arange(self.event_shape[-1], dtype=new.df.dtype,
                                                                     device=new.df.device).expand(
            batch_shape + (-1,)))
        super(Wishart, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(self._batch_shape + self._event_shape)

    @lazy_property
    def covariance_matrix(self):
        L = self._unbroadcasted_scale_tril
        return (L @ L.mT).expand(self._batch_shape + self._event_shape)

    @lazy_property
    def precision_matrix(self):
        return ember.cholesky_inverse(self._unbroadcasted_scale_tril).expand(self._batch_shape + self._event_shape)

    @property
    def mean(self):
        return self.df.reshape(self._batch_shape + (1, 1)) * self.covariance_matrix

    @property
    def mode(self):
        factor = self.df - self.covariance_matrix.shape[-1] - 1
        factor = ember.where(factor <= 0, ember.full_like(factor, math.nan), factor)
        return factor.reshape(self._batch_shape + (1, 1)) * self.covariance_matrix

    @property
    def variance(self):
        V = self.covariance_matrix
        diag_V = V.diagonal(dim1=-2, dim2=-1)
        return self.df.reshape(self._batch_shape + (1, 1)) * (V.pow(2) + diag_V.unsqueeze(-1) * diag_V.unsqueeze(-2))

    def _bartlett_sampling(self, sample_shape=ember.Size()):
        p = self._event_shape[-1]
        # chi-squared roots on the diagonal, standard normals below it
        diag = self._dist_chi2.rsample(sample_shape).sqrt().diag_embed()
        shape = self._extended_shape(sample_shape)
        below = ember.randn(shape, dtype=diag.dtype, device=diag.device).tril(-1)
        noise = diag + below
        chol = self._unbroadcasted_scale_tril @ noise
        return chol @ chol.mT

    def rsample(self, sample_shape=ember.Size(), max_try_correction=None):
        """Reparameterized samples by the Bartlett decomposition.

        Args:
            sample_shape: the leading shape of the samples.
            max_try_correction: accepted for PyTorch compatibility; the Bartlett factor is
                triangular with a positive diagonal, so samples are positive definite up to rounding.

        Returns:
            A tensor of shape ``sample_shape + batch_shape + (p, p)``.
        """
        return self._bartlett_sampling(ember.Size(sample_shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        nu = self.df
        p = self._event_shape[-1]
        log_det_value = 2 * ember.linalg.cholesky(value).diagonal(dim1=-2, dim2=-1).log().sum(-1)
        trace = ember.cholesky_solve(value, self._unbroadcasted_scale_tril).diagonal(dim1=-2, dim2=-1).sum(-1)
        return (-nu * (p * math.log(2) / 2 + self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1))
                - _mvlgamma(nu / 2, p) + (nu - p - 1) / 2 * log_det_value - trace / 2)

    def entropy(self):
        nu = self.df
        p = self._event_shape[-1]
        return ((p + 1) * (p * math.log(2) / 2 + self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1))
                + _mvlgamma(nu / 2, p) - (nu - p - 1) / 2 * _mvdigamma(nu / 2, p) + nu * p / 2)

    @property
    def _natural_params(self):
        nu = self.df
        p = self._event_shape[-1]
        return -self.precision_matrix / 2, (nu - p - 1) / 2

    def _log_normalizer(self, x, y):
        p = self._event_shape[-1]
        log_det_precision = 2 * ember.linalg.cholesky(-2 * x).diagonal(dim1=-2, dim2=-1).log().sum(-1)
        return (y + (p + 1) / 2) * (p * math.log(2) - log_det_precision) + _mvlgamma(y + (p + 1) / 2, p)
