"""``ExponentialFamily``: distributions of the form p(x) = h(x) exp(<t(x), θ> - F(θ))."""
import ember
from ember.distributions.distribution import Distribution

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):
    """Base of exponential-family distributions; gives the entropy (and, through
    ``kl_divergence``, the KL between two members of one family) from the log-normalizer.

    Args:
        (as Distribution): subclasses define ``_natural_params``, ``_log_normalizer`` and
            ``_mean_carrier_measure``.

    Returns:
        A distribution.
    """

    @property
    def _natural_params(self):
        """The natural parameters θ, a tuple of tensors."""
        raise NotImplementedError

    def _log_normalizer(self, *natural_params):
        """The log-normalizer F(θ)."""
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self):
        """E[log h(x)], the expected log base measure."""
        raise NotImplementedError

    def entropy(self):
        """The entropy, computed as the Bregman divergence of the log-normalizer.

        Returns:
            A tensor of shape ``batch_shape``.
        """
        result = -self._mean_carrier_measure
        nparams = [p.detach().requires_grad_() for p in self._natural_params]
        with ember.enable_grad():
            lg_normal = self._log_normalizer(*nparams)
            gradients = ember.autograd.grad(lg_normal.sum(), nparams, create_graph=True)
        result = result + lg_normal
        for np_, g in zip(nparams, gradients):
            result = result - (np_ * g).reshape(self._batch_shape + (-1,)).sum(-1)
        return result
