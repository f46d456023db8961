"""Reading checkpoints in the layout ember wrote before its checkpoints went through planners and
storage readers (ember 0.x's first ``distributed.checkpoint``): ``.metadata`` is JSON
``{"world_size", "entries"}`` and each ``__<rank>_0.distcp`` an ``.npz`` of the arrays that rank
wrote. ``load`` detects such a directory and reads it here, so nothing saved then is lost.
"""
from __future__ import annotations

import json
import os

import numpy as np

import ember

_META = ".metadata"


def is_legacy_checkpoint(checkpoint_id) -> bool:
    """Whether directory ``checkpoint_id`` holds a checkpoint in the npz layout."""
    path = os.path.join(os.fspath(checkpoint_id), _META)
    try:
        with open(path, "rb") as f:
            saved = json.loads(f.read())
    except (OSError, ValueError):
        return False
    return isinstance(saved, dict) and set(saved) == {"world_size", "entries"}


def _group_of(process_group):
    from ember import distributed as dist
    return dist._group(process_group) if dist.is_initialized() else None


def load_legacy(state_dict, checkpoint_id, *, process_group=None, no_dist=False):
    """Fill ``state_dict``'s tensors in place from the npz-layout checkpoint in ``checkpoint_id``.

    Each tensor receives its key's value — a ``fully_shard`` parameter only this rank's shard,
    whatever number of ranks saved it; plain values (an optimizer's ``step``) are replaced in
    their dicts.

    Args:
        state_dict: the structure to fill (its tensors give the devices and, for shards, the layout).
        checkpoint_id: the directory the old ``save`` wrote.
        process_group: the ranks loading together (default: the default group).
        no_dist: load in this process alone.

    Raises:
        RuntimeError: for a key the checkpoint lacks, or a shape that does not match.
    """
    from ember import distributed as dist
    from ember.distributed.fsdp import shard_info
    group = None if no_dist else _group_of(process_group)
    rank, world = (group.rank(), group.size()) if group is not None else (0, 1)
    with open(os.path.join(checkpoint_id, _META), "rb") as f:
        saved = json.loads(f.read())
    meta, saved_world = saved["entries"], saved["world_size"]
    files = [np.load(os.path.join(checkpoint_id, n), allow_pickle=False)
             for n in sorted(os.listdir(checkpoint_id)) if n.endswith(".distcp")]

    def full_value(key):
        entry = meta[key]
        if entry["kind"] == "tensor":
            name = f"{key}@{rank if saved_world == world else 0}"
            for f in files:
                if name in f.files:
                    return f[name]
            raise RuntimeError(f"checkpoint {checkpoint_id} has no data for {key!r}")
        pieces = []
        for r in range(entry["shards"]):
            name = f"{key}@{r}"
            piece = next((f[name] for f in files if name in f.files), None)
            if piece is None:
                raise RuntimeError(f"checkpoint {checkpoint_id} lacks shard {r} of {key!r}")
            pieces.append(piece)
        return np.concatenate(pieces)[:entry["numel"]].reshape(entry["shape"])

    def fill(tree, prefix):
        items = tree.items() if isinstance(tree, dict) else enumerate(tree)
        for k, v in list(items):
            key = f"{prefix}{k}"
            if isinstance(v, (dict, list)):
                fill(v, key + ".")
                continue
            if isinstance(v, tuple):  # saved item by item (Adam's betas): refilled as a tuple
                items = list(v)
                fill(items, key + ".")
                tree[k] = tuple(items)
                continue
            if key not in meta:
                raise RuntimeError(f"Missing key in checkpoint state_dict: {key}.")
            if meta[key]["kind"] == "value":
                tree[k] = meta[key]["value"]
                continue
            value = full_value(key)
            info = shard_info(v) if isinstance(v, ember.Tensor) else None
            if info is not None:
                rec, group = info
                flat = np.concatenate([value.reshape(-1), np.zeros(rec.chunk * group.size() - rec.numel,
                                                                   dtype=value.dtype)])
                value = flat[group.rank() * rec.chunk:(group.rank() + 1) * rec.chunk]
            if not isinstance(v, ember.Tensor):
                tree[k] = ember.from_numpy(np.array(value))
                continue
            if tuple(value.shape) != tuple(v.shape):
                raise RuntimeError(f"Size mismatch for {key!r}: the checkpoint (saved by {saved_world} rank(s)) "
                                   f"holds {list(value.shape)}, the state_dict expects {list(v.shape)}")
            with ember.no_grad():
                v.copy_(ember.from_numpy(np.array(value)).to(v.device, v.dtype))
    fill(state_dict, "")
    if group is not None:
        dist.barrier(group=group)   # every rank has read before any may write the directory again
