"""``ember.distributed.checkpoint``: state dicts of sharded (``fully_shard``) and DDP models, and
``save``/``load`` of them to a checkpoint directory (reshardable)."""
from ember.distributed.checkpoint import state_dict  # noqa: F401
from ember.distributed.checkpoint.state_dict import (  # noqa: F401
    StateDictOptions, get_model_state_dict, set_model_state_dict)
from ember.distributed.checkpoint.storage import load, save  # noqa: F401
