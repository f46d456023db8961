"""Graph node types, for ``isinstance`` checks and introspection."""
from ember.core.autograd import AccumulateGrad, Node  # noqa: F401
