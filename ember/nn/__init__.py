"""``ember.nn``: modules, parameters, init and functional."""
from ember.nn import functional, init, utils  # noqa: F401
from ember.nn.parameter import Parameter, Buffer  # noqa: F401
# ---- Module, containers, linear, activations, losses, dropout, embedding (engineer A)
# ---- conv, pooling, normalization, upsampling, recurrent, attention, transformer (engineer B)
