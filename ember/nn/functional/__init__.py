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
from ember.ops import channel_shuffle, native_channel_shuffle  # noqa: F401  (a reshape composite of the op layer)
from ember.nn.functional.pooling_extra import lp_pool3d  # noqa: F401
from ember.nn.functional.multilabel import multilabel_margin_loss  # noqa: F401
from ember.nn.functional.ctc import ctc_loss  # noqa: F401
from ember.nn.functional.pooling_fractional import *  # noqa: F401,F403
from ember.nn.functional.extras import *  # noqa: F401,F403
from ember.nn.functional.linear_cross_entropy import linear_cross_entropy  # noqa: F401
from ember.nn.functional.grouped_mm import grouped_mm  # noqa: F401
