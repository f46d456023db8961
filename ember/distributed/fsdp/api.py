"""``torch.distributed.fsdp.api``: the configuration records of FullyShardedDataParallel (FSDP1)
and of ``fully_shard`` on an SPMD mesh."""
from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["ShardingStrategy", "BackwardPrefetch", "MixedPrecision", "CPUOffload", "StateDictType",
           "StateDictConfig", "FullStateDictConfig", "LocalStateDictConfig", "ShardedStateDictConfig",
           "OptimStateDictConfig", "FullOptimStateDictConfig", "LocalOptimStateDictConfig",
           "ShardedOptimStateDictConfig", "StateDictSettings", "OptimStateKeyType", "DataParallelMeshDims"]


class ShardingStrategy(enum.Enum):
    """How FSDP spreads parameters, gradients and optimizer state over the ranks.

    FULL_SHARD: all sharded, parameters freed after forward (ZeRO-3); SHARD_GRAD_OP: full
    parameters kept from forward to backward (ZeRO-2); NO_SHARD: replicated, gradients all-reduced
    (as DDP); HYBRID_SHARD: FULL_SHARD within a node, replicated across nodes;
    _HYBRID_SHARD_ZERO2: SHARD_GRAD_OP within a node, replicated across.
    """
    FULL_SHARD = 1
    SHARD_GRAD_OP = 2
    NO_SHARD = 3
    HYBRID_SHARD = 4
    _HYBRID_SHARD_ZERO2 = 5


class BackwardPrefetch(enum.Enum):
    """When backward gathers the next module's parameters: before (BACKWARD_PRE) or after
    (BACKWARD_POST) the current module's gradient computation."""
    BACKWARD_PRE = 1
    BACKWARD_POST = 2


class StateDictType(enum.Enum):
    """Which state dict an FSDP module returns: full tensors, this rank's flat local shards, or
    shards that a distributed checkpoint reassembles."""
    FULL_STATE_DICT = 1
    LOCAL_STATE_DICT = 2
    SHARDED_STATE_DICT = 3


class OptimStateKeyType(enum.Enum):
    """How an optimizer state dict's keys name parameters: by name or by integer id."""
    PARAM_NAME = 1
    PARAM_ID = 2


@dataclass
class CPUOffload:
    """Whether FSDP keeps parameters (shards, gradients, optimizer step) on the CPU.

    Args:
        offload_params: keep them on the CPU and gather them onto the compute device.
    """
    offload_params: bool = False


@dataclass
class MixedPrecision:
    """The dtypes FSDP computes, reduces and keeps buffers in.

    Args:
        param_dtype: the dtype of the gathered parameters forward and backward use.
        reduce_dtype: the dtype gradients are reduced in (default: ``param_dtype``).
        buffer_dtype: the dtype of the buffers during compute.
        keep_low_precision_grads: leave the sharded gradients in the low precision.
        cast_forward_inputs: cast every FSDP module's floating-point inputs to ``param_dtype``.
        cast_root_forward_inputs: cast the root FSDP module's inputs.
        _module_classes_to_ignore: module classes left in full precision.
    """
    param_dtype: object = None
    reduce_dtype: object = None
    buffer_dtype: object = None
    keep_low_precision_grads: bool = False
    cast_forward_inputs: bool = False
    cast_root_forward_inputs: bool = True
    _module_classes_to_ignore: tuple = ()


@dataclass
class StateDictConfig:
    """The base of the state-dict configurations.

    Args:
        offload_to_cpu: move the values to the CPU.
    """
    offload_to_cpu: bool = False


@dataclass
class FullStateDictConfig(StateDictConfig):
    """A full state dict's configuration.

    Args:
        offload_to_cpu: move the values to the CPU.
        rank0_only: only rank 0 receives the values (the others an empty dict).
    """
    rank0_only: bool = False


@dataclass
class LocalStateDictConfig(StateDictConfig):
    """A local (flat shard) state dict's configuration."""


@dataclass
class ShardedStateDictConfig(StateDictConfig):
    """A sharded state dict's configuration.

    Args:
        offload_to_cpu: move the values to the CPU.
        _use_dtensor: accepted (shards are plain tensors that checkpoints reassemble).
    """
    _use_dtensor: bool = False


@dataclass
class OptimStateDictConfig:
    """The base of the optimizer state-dict configurations.

    Args:
        offload_to_cpu: move the values to the CPU.
    """
    offload_to_cpu: bool = True


@dataclass
class FullOptimStateDictConfig(OptimStateDictConfig):
    """A full optimizer state dict's configuration.

    Args:
        offload_to_cpu: move the values to the CPU.
        rank0_only: only rank 0 receives the state.
    """
    rank0_only: bool = False


@dataclass
class LocalOptimStateDictConfig(OptimStateDictConfig):
    """A local optimizer state dict's configuration.

    Args:
        offload_to_cpu: move the values to the CPU.
    """
    offload_to_cpu: bool = False


@dataclass
class ShardedOptimStateDictConfig(OptimStateDictConfig):
    """A sharded optimizer state dict's configuration.

    Args:
        offload_to_cpu: move the values to the CPU.
        _use_dtensor: accepted.
    """
    _use_dtensor: bool = False


@dataclass
class StateDictSettings:
    """The state-dict type and configurations an FSDP module uses.

    Args:
        state_dict_type: a StateDictType.
        state_dict_config: its StateDictConfig.
        optim_state_dict_config: its OptimStateDictConfig.
    """
    state_dict_type: StateDictType
    state_dict_config: StateDictConfig
    optim_state_dict_config: OptimStateDictConfig


@dataclass
class DataParallelMeshDims:
    """Which dimensions of a mesh ``fully_shard`` shards over and replicates over.

    Args:
        shard: a mesh dimension name (or a tuple, flattened into one) to shard over.
        replicate: a name (or tuple) to replicate over (HSDP or DDP).
    """
    shard: object = None
    replicate: object = None

    def __post_init__(self):
        if self.shard is None and self.replicate is None:
            raise ValueError("At least one of shard or replicate must be set in DataParallelMeshDims")

    @property
    def shard_names(self):
        """The shard dimension names (a tuple)."""
        return () if self.shard is None else ((self.shard,) if isinstance(self.shard, str) else tuple(self.shard))

    @property
    def replicate_names(self):
        """The replicate dimension names (a tuple)."""
        return () if self.replicate is None else \
            ((self.replicate,) if isinstance(self.replicate, str) else tuple(self.replicate))
