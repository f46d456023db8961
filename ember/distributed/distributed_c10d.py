"""``torch.distributed.distributed_c10d``: the module holding the c10d API (the same objects as
``ember.distributed``'s)."""
from ember.distributed import *  # noqa: F401,F403
from ember.distributed import (  # noqa: F401
    AllgatherOptions, Backend, GroupMember, ProcessGroupGloo, group, _world)
from ember.distributed._c10d import SHRINK_ABORT, SHRINK_DEFAULT  # noqa: F401

PG_WRAPPER_STORE_PREFIX = "pg_wrapper"
STORE_BASED_BARRIER_PREFIX = "store_based_barrier_key"
