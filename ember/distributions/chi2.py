"""The chi-squared distribution (defined beside Gamma)."""
from ember.distributions.gamma import Chi2

__all__ = ["Chi2"]
