"""ember.utils.data: datasets, samplers, collation and the DataLoader (``torch.utils.data``).

The package is split by idea: ``dataset.py`` (where samples come from), ``sampler.py`` and
``distributed.py`` (in which order), ``collate.py`` (how samples become a batch),
``fetch.py`` (one request to one batch), ``worker.py`` (the worker process side) and
``dataloader.py`` (the iterator that ties them together). This module only re-exports.
"""
from ember.utils.data.collate import default_collate, default_convert
from ember.utils.data.dataloader import DataLoader, _DatasetKind  # noqa: F401  (_DatasetKind: as torch has it)
from ember.utils.data.dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset,
                                      TensorDataset, random_split)
from ember.utils.data.distributed import DistributedSampler
from ember.utils.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                                      WeightedRandomSampler)
from ember.utils.data.worker import WorkerInfo, get_worker_info

__all__ = [
    "BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler",
    "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "StackDataset", "Subset",
    "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "WorkerInfo",
    "default_collate", "default_convert", "get_worker_info", "random_split",
    "IterDataPipe", "MapDataPipe", "DFIterDataPipe", "DataChunk", "functional_datapipe", "argument_validation",
    "runtime_validation", "runtime_validation_disabled", "guaranteed_datapipes_determinism", "non_deterministic",
]

_DATAPIPE_NAMES = ("IterDataPipe", "MapDataPipe", "DFIterDataPipe", "DataChunk", "functional_datapipe",
                   "argument_validation", "runtime_validation", "runtime_validation_disabled",
                   "guaranteed_datapipes_determinism", "non_deterministic")


def __getattr__(name):
    # the DataPipes load on first use (import time): ember.utils.data.IterDataPipe, .datapipes
    if name in _DATAPIPE_NAMES or name == "datapipes":
        import importlib
        datapipes = importlib.import_module("ember.utils.data.datapipes")
        return datapipes if name == "datapipes" else getattr(datapipes, name)
    raise AttributeError(f"module 'ember.utils.data' has no attribute {name!r}")
