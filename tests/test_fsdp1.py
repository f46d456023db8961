"""FullyShardedDataParallel (FSDP1) and the fsdp namespace's configuration: the records here, and
on two ranks every sharding strategy, state-dict type, optimizer state dict, gradient clipping,
no_sync, mixed precision, communication hooks and CPU offload against one process's training."""
import re

import pytest

import ember as torch
import ember.distributed as dist
from _dist_launch import launch
from ember.distributed import fsdp


def test_enums_and_configs_match_pytorch():
    assert [(m.name, m.value) for m in fsdp.ShardingStrategy] == [
        ("FULL_SHARD", 1), ("SHARD_GRAD_OP", 2), ("NO_SHARD", 3), ("HYBRID_SHARD", 4), ("_HYBRID_SHARD_ZERO2", 5)]
    assert [m.name for m in fsdp.BackwardPrefetch] == ["BACKWARD_PRE", "BACKWARD_POST"]
    assert [m.name for m in fsdp.StateDictType] == ["FULL_STATE_DICT", "LOCAL_STATE_DICT", "SHARDED_STATE_DICT"]
    assert [m.name for m in fsdp.OptimStateKeyType] == ["PARAM_NAME", "PARAM_ID"]
    assert fsdp.CPUOffload().offload_params is False
    mp = fsdp.MixedPrecision(param_dtype=torch.bfloat16)
    assert (mp.reduce_dtype, mp.buffer_dtype, mp.keep_low_precision_grads, mp.cast_forward_inputs,
            mp.cast_root_forward_inputs) == (None, None, False, False, True)
    assert fsdp.FullStateDictConfig() == fsdp.FullStateDictConfig(offload_to_cpu=False, rank0_only=False)
    assert fsdp.FullOptimStateDictConfig().offload_to_cpu is True and fsdp.LocalOptimStateDictConfig().offload_to_cpu is False
    assert isinstance(fsdp.ShardedStateDictConfig(), fsdp.StateDictConfig)
    assert isinstance(fsdp.ShardedOptimStateDictConfig(), fsdp.OptimStateDictConfig)
    s = fsdp.StateDictSettings(fsdp.StateDictType.FULL_STATE_DICT, fsdp.FullStateDictConfig(),
                               fsdp.FullOptimStateDictConfig())
    assert s.state_dict_type is fsdp.StateDictType.FULL_STATE_DICT
    dims = fsdp.DataParallelMeshDims(shard=("a", "b"), replicate="r")
    assert dims.shard_names == ("a", "b") and dims.replicate_names == ("r",)
    with pytest.raises(ValueError, match="At least one"):
        fsdp.DataParallelMeshDims()
    assert fsdp.UnshardHandle().wait() is None
    with pytest.raises(ValueError, match="FSDPModule"):
        fsdp.share_comm_ctx([torch.nn.Linear(1, 1)])
    fsdp.register_fsdp_forward_method(torch.nn.Linear(1, 1), "forward")   # not sharded: left alone


@pytest.mark.slow
@pytest.mark.skipif(not dist.is_available(), reason="needs ember[distributed]")
def test_two_ranks_fsdp1_strategies_state_dicts_and_optimizer_state(tmp_path):
    from conftest import DEVICES
    p = launch(2, "fsdp1.py", tmp_path, *(["opencl"] if "opencl" in DEVICES else []))
    assert p.returncode == 0, p.stdout + p.stderr
    assert sorted(re.findall(r"OK fsdp1 rank \d", p.stdout)) == ["OK fsdp1 rank 0", "OK fsdp1 rank 1"]
