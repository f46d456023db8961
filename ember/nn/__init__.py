"""``ember.nn``: modules, parameters, init and functional."""
from ember.nn import functional, init, utils  # noqa: F401
from ember.nn.parameter import Parameter, Buffer  # noqa: F401
from ember.nn.modules import *  # noqa: F401,F403
from ember.nn import parallel  # noqa: F401,E402
from ember.nn import attention  # noqa: F401,E402  (torch.nn.attention: SDPBackend, sdpa_kernel)
from ember.nn.parallel import DataParallel  # noqa: F401,E402
