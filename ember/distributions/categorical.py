"""The categorical distribution over {0, ..., K-1}."""
import math

import ember
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import lazy_property, logits_to_probs, probs_to_logits

__all__ = ["Categorical"]

#: above this many (draw, category) comparisons, sampling uses ember.multinomial instead
_INVERSE_CDF_MAX_ELEMENTS = 1 << 24


class Categorical(Distribution):
    """A distribution over category indices, with probabilities (or logits) along the last dimension.

    Args:
        probs: nonnegative event weights (normalised to sum to one along the last dimension).
        logits: unnormalised log-probabilities (normalised by logsumexp).
        validate_args: whether to validate arguments.

    Returns:
        A discrete distribution whose samples are int64 indices.
    """
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            if probs.dim() < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            if logits.dim() < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            # normalise so that logsumexp over the categories is 0
            self.logits = logits - logits.logsumexp(dim=-1, keepdim=True)
        self._param = self.probs if probs is not None else self.logits
        self._num_events = self._param.size()[-1]
        batch_shape = self._param.size()[:-1] if self._param.dim() > 1 else ember.Size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Categorical, _instance)
        batch_shape = ember.Size(batch_shape)
        param_shape = batch_shape + ember.Size((self._num_events,))
        if "probs" in self.__dict__:
            new.probs = self.probs.expand(param_shape)
            new._param = new.probs
        if "logits" in self.__dict__:
            new.logits = self.logits.expand(param_shape)
            new._param = new.logits
        new._num_events = self._num_events
        super(Categorical, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _new(self, *args, **kwargs):
        return self._param.new(*args, **kwargs)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @lazy_property
    def logits(self):
        """The log-probabilities (normalised log-odds)."""
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        """The event probabilities."""
        return logits_to_probs(self.logits)

    @property
    def param_shape(self):
        """The shape of the parameter tensor (probs or logits) this distribution was built from."""
        return self._param.size()

    @property
    def mean(self):
        return ember.full(self._extended_shape(), math.nan, dtype=self.probs.dtype, device=self.probs.device)

    @property
    def mode(self):
        return self.probs.argmax(dim=-1)

    @property
    def variance(self):
        return ember.full(self._extended_shape(), math.nan, dtype=self.probs.dtype, device=self.probs.device)

    def sample(self, sample_shape=ember.Size()):
        if not isinstance(sample_shape, ember.Size):
            sample_shape = ember.Size(sample_shape)
        with ember.no_grad():
            if sample_shape.numel() * self.probs.numel() > _INVERSE_CDF_MAX_ELEMENTS:
                # too many (draw, category) pairs to compare at once: multinomial draws per row
                probs_2d = self.probs.reshape(-1, self._num_events)
                samples_2d = ember.multinomial(probs_2d, sample_shape.numel(), True).T
                return samples_2d.reshape(self._extended_shape(sample_shape))
            # inverse CDF, one uniform per draw: the index is the number of cumulative weights at
            # or below u * total (zero-weight categories are never chosen). A handful of cheap
            # elementwise ops, so sampling in a loop stays fast on every device.
            cdf = self.probs.cumsum(-1)
            u = ember.rand(self._extended_shape(sample_shape), dtype=cdf.dtype, device=cdf.device)
            threshold = (u * cdf[..., -1]).unsqueeze(-1)
            return (cdf <= threshold).sum(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        value, log_pmf = ember.broadcast_tensors(value, self.logits)
        value = value[..., :1]
        return log_pmf.gather(-1, value).squeeze(-1)

    def entropy(self):
        min_real = ember.finfo(self.logits.dtype).min
        logits = ember.clamp(self.logits, min=min_real)
        p_log_p = logits * self.probs
        return -p_log_p.sum(-1)

    def enumerate_support(self, expand=True):
        num_events = self._num_events
        values = ember.arange(num_events, dtype=ember.long, device=self._param.device)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1,) + self._batch_shape)
        return values
