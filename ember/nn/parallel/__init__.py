"""``ember.nn.parallel``: data-parallel wrappers (``DistributedDataParallel``, ``DataParallel``)."""
from ember.nn.parallel.data_parallel import DataParallel  # noqa: F401
from ember.nn.parallel.distributed import DistributedDataParallel  # noqa: F401

from ember.nn.parallel.functional import data_parallel  # noqa: F401,E402  (the function, as in PyTorch)
from ember.nn.parallel.parallel_apply import parallel_apply  # noqa: F401,E402
from ember.nn.parallel.replicate import replicate  # noqa: F401,E402
from ember.nn.parallel.scatter_gather import gather, scatter  # noqa: F401,E402

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel", "gather", "parallel_apply", "replicate", "scatter"]
