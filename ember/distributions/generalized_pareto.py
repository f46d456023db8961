"""The generalized Pareto distribution."""
import math

import ember
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import broadcast_all

__all__ = ["GeneralizedPareto"]


class GeneralizedPareto(Distribution):
    """The generalized Pareto distribution with location ``loc``, scale ``scale`` and shape
    ``concentration`` (ξ): CDF 1 - (1 + ξ z)^(-1/ξ) for z = (x - loc) / scale (1 - e^-z at ξ = 0);
    the support is [loc, inf) for ξ >= 0 and [loc, loc - scale/ξ] for ξ < 0.

    Args:
        loc: the location.
        scale: the scale, positive.
        concentration: the shape ξ, any real.
        validate_args: whether to validate arguments.

    Returns:
        A reparameterized distribution (sampled through ``icdf``).
    """
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive, "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        batch_shape = self.loc.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(GeneralizedPareto, _instance)
        batch_shape = ember.Size(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        super(GeneralizedPareto, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _is_zero(self):
        return self.concentration == 0

    def _nonzero_concentration(self):
        # ξ = 0 takes the exponential limit; a placeholder keeps the other branch finite
        return ember.where(self._is_zero(), ember.ones_like(self.concentration), self.concentration)

    def rsample(self, sample_shape=ember.Size()):
        shape = self._extended_shape(sample_shape)
        u = ember.rand(shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.icdf(u)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        xi = self._nonzero_concentration()
        general = -(1 + 1 / xi) * ember.log1p(xi * z)
        return ember.where(self._is_zero(), -z, general) - self.scale.log()

    def _z(self, x):
        return (x - self.loc) / self.scale

    def log_survival_function(self, value):
        """log P(X > value).

        Args:
            value: a tensor in the support.

        Returns:
            ``-log1p(ξ z) / ξ`` (``-z`` at ξ = 0).
        """
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        xi = self._nonzero_concentration()
        return ember.where(self._is_zero(), -z, -ember.log1p(xi * z) / xi)

    def log_cdf(self, value):
        """log P(X <= value), computed as log(-expm1(log survival)) for accuracy in the tails.

        Args:
            value: a tensor in the support.

        Returns:
            A tensor of log-probabilities.
        """
        return ember.log(-ember.expm1(self.log_survival_function(value)))

    def cdf(self, value):
        return -ember.expm1(self.log_survival_function(value))

    def icdf(self, value):
        xi = self._nonzero_concentration()
        log1mp = ember.log1p(-value)
        general = ember.expm1(-xi * log1mp) / xi
        return self.loc + self.scale * ember.where(self._is_zero(), -log1mp, general)

    @property
    def mean(self):
        result = self.loc + self.scale / (1 - self.concentration)
        return ember.where(self.concentration < 1, result, ember.full_like(result, math.nan))

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        xi = self.concentration
        result = self.scale.pow(2) / ((1 - xi).pow(2) * (1 - 2 * xi))
        return ember.where(xi < 0.5, result, ember.full_like(result, math.nan))

    def entropy(self):
        return self.scale.log() + self.concentration + 1

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        xi = self._nonzero_concentration()
        upper = ember.where(self.concentration < 0, self.loc - self.scale / xi,
                            ember.full_like(self.loc, math.inf))
        return constraints.interval(self.loc, upper)
