"""``torch.distributed.checkpoint.optimizer``: ``load_sharded_optimizer_state_dict``, an optimizer's
state from a checkpoint, laid out like the model's (sharded) parameters."""
from __future__ import annotations

import ember
from ember.distributed.checkpoint.default_planner import DefaultLoadPlanner
from ember.distributed.checkpoint.metadata import TensorStorageMetadata

__all__ = ["load_sharded_optimizer_state_dict"]


def load_sharded_optimizer_state_dict(model_state_dict, optimizer_key, storage_reader, planner=None):
    """Load the optimizer state saved under ``optimizer_key``, each tensor shaped (and sharded) like the
    parameter of ``model_state_dict`` it belongs to.

    The checkpoint's optimizer state must be keyed by parameter name (as ``get_optimizer_state_dict``
    and FSDP's ``optim_state_dict`` make it): ``<optimizer_key>.state.<param name>.<state name>``.

    Args:
        model_state_dict: the model's state dict (its tensors give the layout: a shard gets a shard).
        optimizer_key: the optimizer's key in the checkpoint.
        storage_reader: a StorageReader of the checkpoint.
        planner: a LoadPlanner (default: DefaultLoadPlanner()).

    Returns:
        ``{optimizer_key: {"state": ..., "param_groups": ...}}``.
    """
    from ember.distributed.checkpoint.state_dict_loader import load
    from ember.distributed.fsdp import register_shard, shard_info
    metadata = storage_reader.read_metadata()
    prefix = f"{optimizer_key}."
    state, groups = {}, {}
    for fqn, md in metadata.state_dict_metadata.items():
        if not fqn.startswith(prefix):
            continue
        rest = fqn[len(prefix):]
        path = (metadata.planner_data or {}).get("mappings", {}).get(fqn)
        parts = path[1:] if path else rest.split(".")
        if parts[0] == "state":
            name = next((n for n in model_state_dict if rest.startswith(f"state.{n}.")), None)
            if name is None:
                continue
            key = rest[len(f"state.{name}."):]
            if isinstance(md, TensorStorageMetadata):
                param = model_state_dict[name]
                info = shard_info(param) if isinstance(param, ember.Tensor) else None
                if tuple(md.size) == tuple(param.shape if info is None else info[0].shape) and len(md.size):
                    value = ember.zeros_like(param)
                    if info is not None:
                        register_shard(value, *info)
                else:
                    value = ember.zeros(tuple(md.size), dtype=md.properties.dtype)
            else:
                value = None
            state.setdefault(name, {})[key] = value
        elif parts[0] == "param_groups":
            groups[fqn] = None
    target = {optimizer_key: {"state": state}}
    load(target, storage_reader=storage_reader, planner=planner or DefaultLoadPlanner(allow_partial_load=True))
    # the param groups (plain values) in their nested shape
    pg_state = {}
    for fqn in groups:
        pg_state[fqn] = None
    if pg_state:
        tree = {optimizer_key: {"param_groups": _placeholders(metadata, f"{optimizer_key}.param_groups")}}
        load(tree, storage_reader=storage_reader, planner=DefaultLoadPlanner(allow_partial_load=True))
        target[optimizer_key]["param_groups"] = tree[optimizer_key]["param_groups"]
    return target


def _placeholders(metadata, prefix):
    """The nested list/dict skeleton of the keys under ``prefix`` (leaves None)."""
    mappings = (metadata.planner_data or {}).get("mappings", {})
    root = []
    depth = len(prefix.split("."))
    for fqn, path in mappings.items():
        if not fqn.startswith(prefix + "."):
            continue
        node, rest = root, path[depth:]
        for i, p in enumerate(rest):
            last = i == len(rest) - 1
            if isinstance(node, list):
                while len(node) <= int(p):
                    node.append(None)
                if last:
                    node[int(p)] = None
                else:
                    if node[int(p)] is None:
                        node[int(p)] = [] if isinstance(rest[i + 1], int) else {}
                    node = node[int(p)]
            else:
                if last:
                    node[p] = None
                else:
                    node = node.setdefault(p, [] if isinstance(rest[i + 1], int) else {})
    return root
