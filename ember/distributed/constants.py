"""``torch.distributed.constants``: the default timeouts of process groups."""
from datetime import timedelta

__all__ = ["default_pg_timeout", "default_pg_nccl_timeout"]

default_pg_timeout = timedelta(minutes=30)


def _nccl_timeout():
    from ember.distributed import is_nccl_available
    # as PyTorch: None in a build without NCCL; the same 30 minutes otherwise
    return default_pg_timeout if is_nccl_available() else None


default_pg_nccl_timeout = _nccl_timeout()
