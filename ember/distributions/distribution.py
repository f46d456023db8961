"""The ``Distribution`` base class: shapes, argument and sample validation, and the
interface every distribution fills in."""
from __future__ import annotations

import warnings

import ember
from ember.distributions import constraints
from ember.distributions.utils import lazy_property

__all__ = ["Distribution"]


def _shape_of(value):
    return ember.Size(value)


class Distribution:
    """The base of every probability distribution.

    Args:
        batch_shape: the shape over which parameters are batched.
        event_shape: the shape of one sample (one event).
        validate_args: whether to check parameters and ``log_prob`` values; ``None`` takes the
            class default set by :meth:`set_default_validate_args` (True unless Python runs with -O).

    Returns:
        A distribution object; subclasses implement ``sample``/``rsample``, ``log_prob`` and the rest.
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn argument validation on or off for every distribution created afterwards.

        Args:
            value: True to validate (the default), False to skip the checks.

        Returns:
            None.
        """
        if value not in [True, False]:
            raise ValueError
        Distribution._validate_args = value

    def __init__(self, batch_shape=ember.Size(), event_shape=ember.Size(), validate_args=None):
        self._batch_shape = _shape_of(batch_shape)
        self._event_shape = _shape_of(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            try:
                arg_constraints = self.arg_constraints
            except NotImplementedError:
                arg_constraints = {}
                warnings.warn(f"{self.__class__} does not define `arg_constraints`. Please set "
                              f"`arg_constraints = {{}}` or initialize the distribution with "
                              f"`validate_args=False` to turn off validation.")
            for param, constraint in arg_constraints.items():
                if constraints.is_dependent(constraint):
                    continue  # skip constraints that cannot be checked
                if param not in self.__dict__ and isinstance(getattr(type(self), param, None), lazy_property):
                    continue  # skip checking lazily-constructed args
                value = getattr(self, param)
                valid = constraint.check(value)
                if not bool(valid.all()):
                    raise ValueError(
                        f"Expected parameter {param} ({type(value).__name__} of shape {tuple(value.shape)}) "
                        f"of distribution {self!r} to satisfy the constraint {constraint!r}, "
                        f"but found invalid values:\n{value}")
        super().__init__()

    def expand(self, batch_shape, _instance=None):
        """A new distribution with its batch dimensions expanded to ``batch_shape`` (parameters
        are expanded views, not copies).

        Args:
            batch_shape: the desired batch shape.
            _instance: used by subclasses that override ``expand``.

        Returns:
            A distribution of the same class.
        """
        raise NotImplementedError

    @property
    def batch_shape(self):
        """The shape over which parameters are batched."""
        return self._batch_shape

    @property
    def event_shape(self):
        """The shape of a single sample, without batching."""
        return self._event_shape

    @property
    def arg_constraints(self):
        """A dict from parameter name to the constraint its values must satisfy."""
        raise NotImplementedError

    @property
    def support(self):
        """The constraint describing where this distribution puts its mass."""
        raise NotImplementedError

    @property
    def mean(self):
        """The mean of the distribution."""
        raise NotImplementedError

    @property
    def mode(self):
        """The mode of the distribution."""
        raise NotImplementedError(f"{self.__class__} does not implement mode")

    @property
    def variance(self):
        """The variance of the distribution."""
        raise NotImplementedError

    @property
    def stddev(self):
        """The standard deviation of the distribution."""
        return self.variance.sqrt()

    def sample(self, sample_shape=ember.Size()):
        """Draw samples, outside the autograd graph.

        Args:
            sample_shape: the leading shape of the batch of samples.

        Returns:
            A tensor of shape ``sample_shape + batch_shape + event_shape``.
        """
        with ember.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=ember.Size()):
        """Draw reparameterized samples: gradients flow back to the parameters.

        Args:
            sample_shape: the leading shape of the batch of samples.

        Returns:
            A tensor of shape ``sample_shape + batch_shape + event_shape``.
        """
        raise NotImplementedError

    def sample_n(self, n):
        """Draw ``n`` samples (deprecated: use ``sample((n,))``).

        Args:
            n: the number of samples.

        Returns:
            A tensor of shape ``(n,) + batch_shape + event_shape``.
        """
        warnings.warn("sample_n will be deprecated. Use .sample((n,)) instead", UserWarning)
        return self.sample(ember.Size((n,)))

    def log_prob(self, value):
        """The log of the probability density (or mass) at ``value``.

        Args:
            value: a tensor broadcastable with ``batch_shape + event_shape``.

        Returns:
            A tensor over the batch dimensions.
        """
        raise NotImplementedError

    def cdf(self, value):
        """The cumulative distribution function at ``value``.

        Args:
            value: a tensor.

        Returns:
            A tensor of probabilities.
        """
        raise NotImplementedError

    def icdf(self, value):
        """The inverse of the cumulative distribution function.

        Args:
            value: probabilities.

        Returns:
            The quantiles.
        """
        raise NotImplementedError

    def enumerate_support(self, expand=True):
        """Every value of a discrete support, along a new leading dimension.

        Args:
            expand: when True, expand the result over the batch shape; when False, leave the
                batch dimensions of size one.

        Returns:
            A tensor of shape ``(cardinality,) + batch_shape + event_shape`` (or with ones for
            the batch dimensions when ``expand`` is False).
        """
        raise NotImplementedError

    def entropy(self):
        """The entropy, per batch element.

        Returns:
            A tensor of shape ``batch_shape``.
        """
        raise NotImplementedError

    def perplexity(self):
        """The exponential of the entropy.

        Returns:
            A tensor of shape ``batch_shape``.
        """
        return ember.exp(self.entropy())

    def _extended_shape(self, sample_shape=ember.Size()):
        """``sample_shape + batch_shape + event_shape``."""
        if not isinstance(sample_shape, ember.Size):
            sample_shape = ember.Size(sample_shape)
        return ember.Size(sample_shape + self._batch_shape + self._event_shape)

    def _validate_sample(self, value):
        """Raise ValueError unless ``value`` is a tensor of a compatible shape within the support."""
        if not isinstance(value, ember.Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        event_dim_start = len(value.size()) - len(self._event_shape)
        if value.size()[event_dim_start:] != self._event_shape:
            raise ValueError(f"The right-most size of value must match event_shape: {value.size()} vs "
                             f"{self._event_shape}.")
        actual_shape = value.size()
        expected_shape = self._batch_shape + self._event_shape
        for i, j in zip(reversed(actual_shape), reversed(expected_shape)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: {actual_shape} vs "
                                 f"{expected_shape}.")
        try:
            support = self.support
        except NotImplementedError:
            warnings.warn(f"{self.__class__} does not define `support` to enable sample validation. Please "
                          f"initialize the distribution with `validate_args=False` to turn off validation.")
            return
        assert support is not None
        valid = support.check(value)
        if not bool(valid.all()):
            raise ValueError(
                f"Expected value argument ({type(value).__name__} of shape {tuple(value.shape)}) "
                f"to be within the support ({support!r}) of the distribution {self!r}, "
                f"but found invalid values:\n{value}")

    def _get_checked_instance(self, cls, _instance=None):
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(f"Subclass {self.__class__.__name__} of {cls.__name__} that defines a "
                                      f"custom __init__ method must also define a custom .expand() method.")
        return self.__new__(type(self)) if _instance is None else _instance

    def __repr__(self):
        param_names = [k for k, _ in self.arg_constraints.items() if k in self.__dict__]
        args_string = ", ".join(
            f"{p}: {self.__dict__[p] if self.__dict__[p].numel() == 1 else self.__dict__[p].size()}"
            for p in param_names)
        return self.__class__.__name__ + "(" + args_string + ")"
