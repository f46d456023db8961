"""DDP communication hooks: how a bucket of gradients is reduced across ranks."""
from ember.distributed.algorithms.ddp_comm_hooks import default_hooks

__all__ = ["default_hooks"]
