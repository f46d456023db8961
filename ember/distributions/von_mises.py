"""The von Mises (circular normal) distribution."""
import math

import ember
from ember.distributions import constraints
from ember.distributions._sampling import _rejection, _work_dtype
from ember.distributions.distribution import Distribution
from ember.distributions.utils import broadcast_all, lazy_property

__all__ = ["VonMises"]


def _log_i0(x):
    """log I0(x) = log(i0e(x)) + x, finite for large x."""
    return ember.log(ember.special.i0e(x)) + x


class VonMises(Distribution):
    """A distribution on the circle, density exp(κ cos(x - loc)) / (2π I0(κ)), with values in [-π, π).
    Sampled by the Best–Fisher rejection algorithm in float64 where the device has it; its samples
    carry no gradient (``has_rsample`` is False, as in PyTorch).

    Args:
        loc: the mean angle in radians.
        concentration: κ, positive.
        validate_args: whether to validate arguments.

    Returns:
        A distribution.
    """
    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        batch_shape = self.loc.shape
        event_shape = ember.Size()
        super().__init__(batch_shape, event_shape, validate_args)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_prob = self.concentration * ember.cos(value - self.loc)
        return log_prob - math.log(2 * math.pi) - _log_i0(self.concentration)

    @lazy_property
    def _loc(self):
        return self.loc.to(_work_dtype(self.loc))

    @lazy_property
    def _concentration(self):
        return self.concentration.to(_work_dtype(self.loc))

    @lazy_property
    def _proposal_r(self):
        kappa = self._concentration
        tau = 1 + (1 + 4 * kappa ** 2).sqrt()
        rho = (tau - (2 * tau).sqrt()) / (2 * kappa)
        proposal_r = (1 + rho ** 2) / (2 * rho)
        # for tiny κ the expression cancels: r ≈ 1/κ + κ
        proposal_r_taylor = 1 / kappa + kappa
        return ember.where(kappa < 1e-5, proposal_r_taylor, proposal_r)

    def sample(self, sample_shape=ember.Size()):
        shape = self._extended_shape(sample_shape)
        with ember.no_grad():
            dtype = self._loc.dtype
            device = self.loc.device
            conc = self._concentration.expand(shape)
            r = self._proposal_r.expand(shape)

            def propose():
                u1 = ember.rand(shape, dtype=dtype, device=device)
                u2 = ember.rand(shape, dtype=dtype, device=device)
                u3 = ember.rand(shape, dtype=dtype, device=device)
                z = ember.cos(math.pi * u1)
                f = (1 + r * z) / (r + z)
                c = conc * (r - f)
                u2 = u2.clamp(min=ember.finfo(dtype).tiny)
                accept = ((c * (2 - c) - u2) > 0) | ((c / u2).log() + 1 - c >= 0)
                x = (u3 - 0.5).sign() * ember.acos(f.clamp(min=-1, max=1))
                return x, accept

            x = _rejection(propose, shape, dtype, device)
            x = ember.remainder(x + math.pi + self._loc, 2 * math.pi) - math.pi
            return x.to(self.loc.dtype)

    def expand(self, batch_shape, _instance=None):
        try:
            return super().expand(batch_shape)
        except NotImplementedError:
            validate_args = self.__dict__.get("_validate_args")
            loc = self.loc.expand(batch_shape)
            concentration = self.concentration.expand(batch_shape)
            return type(self)(loc, concentration, validate_args=validate_args)

    @property
    def mean(self):
        """The circular mean, ``loc``."""
        return self.loc

    @property
    def mode(self):
        return self.loc

    @lazy_property
    def variance(self):
        """The circular variance 1 - I1(κ)/I0(κ)."""
        return (1 - (ember.special.i1e(self._concentration) / ember.special.i0e(self._concentration))
                ).to(self.loc.dtype)
