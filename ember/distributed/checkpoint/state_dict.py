"""Full or sharded model state dicts, for models whose parameters ``fully_shard`` split across
ranks: a full state dict gathers every parameter back to its own shape, so one rank can save a
checkpoint that a single process loads with ``load_state_dict``."""
from __future__ import annotations

from dataclasses import dataclass

import ember


@dataclass
class StateDictOptions:
    """How to build a state dict.

    Args:
        full_state_dict: gather sharded parameters into full tensors (else keep this rank's shards).
        cpu_offload: move the values to the CPU.
        ignore_frozen_params: leave out parameters that do not require grad.
        keep_submodule_prefixes: accepted for compatibility.
        strict: for loading, require every key to match.
        broadcast_from_rank0: for loading, take rank 0's values (the others may pass an empty dict).
    """
    full_state_dict: bool = False
    cpu_offload: bool = False
    ignore_frozen_params: bool = False
    keep_submodule_prefixes: bool = True
    strict: bool = True
    broadcast_from_rank0: bool = False


def _unwrap(model):
    from ember.nn.parallel import DistributedDataParallel
    return model.module if isinstance(model, DistributedDataParallel) else model


def get_model_state_dict(model, *, submodules=None, options=None):
    """The state dict of ``model`` (a DDP wrapper's without the ``module.`` prefix).

    Args:
        model: the module, sharded or not.
        submodules: unused, as in PyTorch (deprecated there).
        options: a StateDictOptions.

    Returns:
        An ordered dict of name to tensor.
    """
    from ember import distributed as dist
    from ember.distributed.fsdp import _records
    options = options or StateDictOptions()
    model = _unwrap(model)
    records = _records(model)
    out = model.state_dict(keep_vars=True)
    for key, value in list(out.items()):
        entry = records.get(id(value))
        if entry is not None and options.full_state_dict:
            m, rec = entry
            g = m._fsdp_group
            gathered = ember.empty(rec.chunk * g.size(), dtype=value.dtype, device=value.device)
            dist.all_gather_into_tensor(gathered, value.detach(), group=g)
            value = gathered[:rec.numel].reshape(rec.shape)
        if options.ignore_frozen_params and isinstance(value, ember.nn.Parameter) and not value.requires_grad:
            del out[key]
            continue
        value = value.detach()
        value = value.cpu() if options.cpu_offload else value
        if entry is not None and not options.full_state_dict:
            from ember.distributed.fsdp import register_shard
            register_shard(value, entry[1], entry[0]._fsdp_group)   # still a shard: checkpoints reassemble it
        out[key] = value
    return out


def set_model_state_dict(model, model_state_dict, *, options=None):
    """Load a full (or this rank's sharded) state dict into ``model``.

    Args:
        model: the module, sharded or not.
        model_state_dict: the values, full shapes for sharded parameters when ``full_state_dict``.
        options: a StateDictOptions.

    Returns:
        The ``(missing_keys, unexpected_keys)`` of the load.
    """
    from ember import distributed as dist
    from ember.distributed.fsdp import _records
    options = options or StateDictOptions()
    model = _unwrap(model)
    if options.broadcast_from_rank0:
        box = [dict(model_state_dict) if dist.get_rank() == 0 else None]
        dist.broadcast_object_list(box, src=0)
        model_state_dict = box[0]
    records = _records(model)
    current = model.state_dict(keep_vars=True)
    values = dict(model_state_dict)
    for key, value in current.items():
        entry = records.get(id(value))
        if entry is not None and key in values and options.full_state_dict:
            m, rec = entry
            g = m._fsdp_group
            flat = values[key].reshape(-1)
            flat = ember.cat([flat, ember.zeros(rec.chunk * g.size() - rec.numel, dtype=flat.dtype)])
            values[key] = flat[g.rank() * rec.chunk:(g.rank() + 1) * rec.chunk]
    return model.load_state_dict(values, strict=options.strict)
