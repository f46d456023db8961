"""``ember.distributed.checkpoint``: distributed checkpoints of (possibly sharded) state dicts.

``save`` and ``load`` go through a planner (``DefaultSavePlanner``/``DefaultLoadPlanner``, or a
user's) and a storage layer (``FileSystemWriter``/``FileSystemReader``, the Hugging Face
safetensors ones, or a user's ``StorageWriter``/``StorageReader``), as PyTorch's do: every rank
writes the values it owns, the coordinator writes the metadata, and loading fills the given
state dict in place, each rank its part, so a checkpoint saved by N ranks loads on M.
"""
from ember.distributed.checkpoint import state_dict  # noqa: F401
from ember.distributed.checkpoint.api import CheckpointException  # noqa: F401
from ember.distributed.checkpoint.default_planner import DefaultLoadPlanner, DefaultSavePlanner  # noqa: F401
from ember.distributed.checkpoint.filesystem import FileSystemReader, FileSystemWriter  # noqa: F401
from ember.distributed.checkpoint.hf_storage import HuggingFaceStorageReader, HuggingFaceStorageWriter  # noqa: F401
from ember.distributed.checkpoint.metadata import (  # noqa: F401
    BytesStorageMetadata, ChunkStorageMetadata, Metadata, TensorStorageMetadata)
from ember.distributed.checkpoint.optimizer import load_sharded_optimizer_state_dict  # noqa: F401
from ember.distributed.checkpoint.quantized_hf_storage import QuantizedHuggingFaceStorageReader  # noqa: F401
from ember.distributed.checkpoint.planner import (  # noqa: F401
    LoadPlan, LoadPlanner, ReadItem, SavePlan, SavePlanner, WriteItem)
from ember.distributed.checkpoint.state_dict import (  # noqa: F401
    StateDictOptions, get_model_state_dict, set_model_state_dict)
from ember.distributed.checkpoint.state_dict_loader import load, load_state_dict  # noqa: F401
from ember.distributed.checkpoint.state_dict_saver import async_save, save, save_state_dict  # noqa: F401
from ember.distributed.checkpoint.storage import StorageReader, StorageWriter  # noqa: F401
from ember.distributed.checkpoint import (  # noqa: F401
    api, default_planner, filesystem, hf_storage, logger, logging_handlers, metadata, optimizer, planner,
    planner_helpers, quantized_hf_storage, resharding, staging, state_dict_loader, state_dict_saver, stateful, utils)

__all__ = ["CheckpointException", "DefaultLoadPlanner", "DefaultSavePlanner", "FileSystemReader", "FileSystemWriter",
           "HuggingFaceStorageReader", "HuggingFaceStorageWriter", "QuantizedHuggingFaceStorageReader", "BytesStorageMetadata", "ChunkStorageMetadata",
           "Metadata", "TensorStorageMetadata", "load_sharded_optimizer_state_dict", "LoadPlan", "LoadPlanner",
           "ReadItem", "SavePlan", "SavePlanner", "WriteItem", "load", "load_state_dict", "async_save", "save",
           "save_state_dict", "StorageReader", "StorageWriter", "StateDictOptions", "get_model_state_dict",
           "set_model_state_dict"]
