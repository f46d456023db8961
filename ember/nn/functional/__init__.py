"""``ember.nn.functional`` (``F``): the functional forms of the layers and losses.

Each family lives in its own module; this package re-exports them.
"""
from ember.nn.functional.activation import *  # noqa: F401,F403
from ember.nn.functional.loss import *  # noqa: F401,F403
from ember.nn.functional.misc import *  # noqa: F401,F403
from ember.nn.functional.conv import *  # noqa: F401,F403
from ember.nn.functional.pooling import *  # noqa: F401,F403
from ember.nn.functional.normalization import *  # noqa: F401,F403
from ember.nn.functional.attention import *  # noqa: F401,F403
from ember.nn.functional.sampling import *  # noqa: F401,F403
