"""``save`` and ``load`` of (possibly sharded) state dicts to a checkpoint directory, as
PyTorch's ``torch.distributed.checkpoint`` does: every rank writes the values it owns, rank 0
writes the metadata, and loading fills the given state dict in place, each rank taking the
part of each value it holds — so a checkpoint saved by N ranks loads on M ranks, one included.

Layout (no pickle anywhere): ``<dir>/.metadata`` is JSON (key -> kind, dtype, global shape;
for ``fully_shard`` parameters the flat chunk size and the number of shards; non-tensor leaves
such as an optimizer's ``step`` as JSON values); ``<dir>/__<rank>_0.distcp`` is an ``.npz`` of
the tensors that rank wrote (replicated values by rank 0 only). Files are written to temporary
names and renamed, so an interrupted save leaves no half-written checkpoint behind.
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np

import ember

_META = ".metadata"


def _flatten(tree, prefix=""):
    """(dotted key, leaf) pairs of nested dicts and lists (the optimizer's state dict included)."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _flatten(v, f"{prefix}{k}.")
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            yield from _flatten(v, f"{prefix}{i}.")
    else:
        yield prefix[:-1], tree


def _group_of(process_group):
    from ember import distributed as dist
    return dist._group(process_group) if dist.is_initialized() else None


def _atomic_write(path, write):
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save(state_dict, *, checkpoint_id=None, storage_writer=None, planner=None, process_group=None,
         no_dist=False):
    """Save ``state_dict`` (nested dicts of tensors and plain values) to directory ``checkpoint_id``.

    Args:
        state_dict: e.g. ``{"model": get_model_state_dict(m), "optim": opt.state_dict()}``.
        checkpoint_id: the directory (created if missing).
        storage_writer: not supported (pass ``checkpoint_id``).
        planner: not supported.
        process_group: the ranks saving together (default: the default group).
        no_dist: save from this process alone, as if it were the only rank.

    Returns:
        The checkpoint's metadata (a dict).
    """
    from ember import distributed as dist
    from ember.distributed.fsdp import shard_info
    if checkpoint_id is None or storage_writer is not None or planner is not None:
        raise ValueError("ember.distributed.checkpoint.save writes to a directory: pass checkpoint_id=<path> "
                         "(custom storage writers and planners are not available)")
    group = None if no_dist else _group_of(process_group)
    rank = group.rank() if group is not None else 0
    os.makedirs(checkpoint_id, exist_ok=True)
    meta, arrays = {}, {}
    for key, value in _flatten(state_dict):
        if isinstance(value, ember.Tensor):
            info = shard_info(value)
            host = value.detach().cpu().numpy()
            if info is not None and group is not None:
                rec, shard_group = info
                meta[key] = {"kind": "shard", "dtype": str(host.dtype), "shape": list(rec.shape),
                             "numel": rec.numel, "chunk": rec.chunk, "shards": shard_group.size()}
                arrays[f"{key}@{shard_group.rank()}"] = host
            else:
                # every rank keeps its own copy: values that differ between ranks (a sharded
                # parameter's optimizer state) come back to the rank that saved them
                meta[key] = {"kind": "tensor", "dtype": str(host.dtype), "shape": list(host.shape)}
                arrays[f"{key}@{rank}"] = host
        else:
            if not isinstance(value, (bool, int, float, str, type(None))):
                raise TypeError(f"cannot save {key!r}: a {type(value).__name__} (tensors, numbers, strings "
                                f"and None can be saved)")
            meta[key] = {"kind": "value", "value": value}
    if arrays:
        _atomic_write(os.path.join(checkpoint_id, f"__{rank}_0.distcp"),
                      lambda f: np.savez(f, **arrays))
    if group is not None:
        dist.barrier(group=group)
    if rank == 0:
        meta = {"world_size": group.size() if group is not None else 1, "entries": meta}
        _atomic_write(os.path.join(checkpoint_id, _META), lambda f: f.write(json.dumps(meta).encode()))
    if group is not None:
        dist.barrier(group=group)
    return meta


def load(state_dict, *, checkpoint_id=None, storage_reader=None, planner=None, process_group=None,
         no_dist=False):
    """Fill ``state_dict``'s tensors in place from the checkpoint in ``checkpoint_id``.

    Each tensor receives its key's value — a ``fully_shard`` parameter only this rank's shard,
    whatever number of ranks saved it; plain values (an optimizer's ``step``) are replaced in
    their dicts.

    Args:
        state_dict: the structure to fill (its tensors give the devices and, for shards, the layout).
        checkpoint_id: the directory ``save`` wrote.
        storage_reader: not supported (pass ``checkpoint_id``).
        planner: not supported.
        process_group: the ranks loading together (default: the default group).
        no_dist: load in this process alone.

    Raises:
        RuntimeError: for a key the checkpoint lacks, or a shape that does not match.
    """
    from ember import distributed as dist
    from ember.distributed.fsdp import shard_info
    if checkpoint_id is None or storage_reader is not None or planner is not None:
        raise ValueError("ember.distributed.checkpoint.load reads a directory: pass checkpoint_id=<path>")
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
