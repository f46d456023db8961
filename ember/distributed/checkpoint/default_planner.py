"""``torch.distributed.checkpoint.default_planner``: ``DefaultSavePlanner`` and ``DefaultLoadPlanner``.

Saving flattens nested state dicts into dotted keys, writes ``fully_shard`` shards as ranges of
their parameters, and writes each replicated value once (values that differ between ranks —
the optimizer state of a sharded parameter, say — are kept per rank). Loading reads into the
given tensors in place, each rank the part it holds.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json

import numpy as np

import ember
from ember.distributed.checkpoint.metadata import (
    BytesStorageMetadata, Metadata, TensorStorageMetadata)
from ember.distributed.checkpoint.planner import LoadPlan, LoadPlanner, SavePlan, SavePlanner, WriteItemType
from ember.distributed.checkpoint.planner_helpers import _create_read_items, _create_write_items, _shard_range

__all__ = ["DefaultSavePlanner", "DefaultLoadPlanner", "create_default_local_save_plan",
           "create_default_global_save_plan", "create_default_local_load_plan", "create_default_global_load_plan"]


def _flatten(tree, prefix=(), out=None, paths=None):
    """``({dotted key: leaf}, {dotted key: path})`` of nested dicts and lists."""
    out = {} if out is None else out
    paths = {} if paths is None else paths
    if isinstance(tree, dict):
        for k, v in tree.items():
            _flatten(v, prefix + (k,), out, paths)
    elif isinstance(tree, (list, tuple)) and tree and not isinstance(tree, str):
        for i, v in enumerate(tree):
            _flatten(v, prefix + (i,), out, paths)
    else:
        key = ".".join(str(p) for p in prefix)
        out[key], paths[key] = tree, list(prefix)
    return out, paths


def _set_element(root, path, value):
    node = root
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value


def _encode(value, fqn):
    if isinstance(value, (bytes, bytearray)):
        return b"B" + bytes(value)
    try:
        return b"J" + json.dumps(value).encode()
    except TypeError:
        raise TypeError(f"cannot save {fqn!r}: a {type(value).__name__} (tensors, numbers, strings, bytes, None "
                        f"and JSON values can be saved; checkpoints hold no pickles)") from None


def _decode(raw):
    return bytes(raw[1:]) if raw[:1] == b"B" else json.loads(raw[1:].decode())


def _digest(tensor):
    arr = np.ascontiguousarray(tensor.detach().cpu().numpy())
    return hashlib.blake2b(arr.tobytes(), digest_size=16).hexdigest() + str(arr.dtype) + str(arr.shape)


class DefaultSavePlanner(SavePlanner):
    """The planner ``save`` uses by default.

    Args:
        flatten_state_dict: flatten nested dicts and lists into dotted keys (restored on load).
        flatten_sharded_tensors: accepted (shards are flat already).
        dedup_replicated_tensors: accepted (replicated values are always written once).
        dedup_save_to_lowest_rank: write each replicated value from the lowest rank holding it (else
            spread the writes over the ranks, balancing their bytes).
        enable_plan_caching: reuse the global plan when the local plans repeat.
    """

    def __init__(self, flatten_state_dict=True, flatten_sharded_tensors=True, dedup_replicated_tensors=None,
                 dedup_save_to_lowest_rank=False, enable_plan_caching=False):
        self.flatten_state_dict = flatten_state_dict
        self.flatten_sharded_tensors = flatten_sharded_tensors
        self.dedup_save_to_lowest_rank = dedup_save_to_lowest_rank
        self.enable_plan_caching = enable_plan_caching
        self._cached = None

    def set_up_planner(self, state_dict, storage_meta=None, is_coordinator=False):
        """Take the state dict (flattened when ``flatten_state_dict``)."""
        if self.flatten_state_dict:
            state_dict, self.mappings = _flatten(state_dict)
        else:
            self.mappings = {k: [k] for k in state_dict}
        self.state_dict, self.storage_meta, self.is_coordinator = state_dict, storage_meta, is_coordinator

    def create_local_plan(self):
        """This rank's items, with digests of its replicated tensors (so equal values are written once)."""
        plan = create_default_local_save_plan(self.state_dict, self.is_coordinator)
        digests = {}
        for item in plan.items:
            if item.type is WriteItemType.TENSOR:
                digests[item.index.fqn] = _digest(self.state_dict[item.index.fqn])
            elif item.type is WriteItemType.BYTE_IO:
                digests[item.index.fqn] = hashlib.blake2b(_encode(self.state_dict[item.index.fqn], item.index.fqn),
                                                          digest_size=16).hexdigest()
        self.plan = dataclasses.replace(plan, planner_data={"mappings": self.mappings, "digests": digests})
        return self.plan

    def create_global_plan(self, all_plans):
        """Write each replicated value once (values that differ between ranks per rank) and build the Metadata."""
        key = [[(i.index, i.type) for i in p.items] for p in all_plans]
        if self.enable_plan_caching and self._cached is not None and self._cached[0] == key:
            return self._cached[1], self._cached[2]
        plans, metadata = create_default_global_save_plan(all_plans, self.dedup_save_to_lowest_rank)
        self._cached = (key, plans, metadata)
        return plans, metadata

    def finish_plan(self, new_plan):
        """Take this rank's final plan."""
        self.plan = new_plan
        return new_plan

    def resolve_data(self, write_item):
        """A CPU tensor of the item's chunk, or the BytesIO of a non-tensor value."""
        value = self.lookup_object(write_item.index)
        return self.transform_object(write_item, value)

    def lookup_object(self, index):
        """The state-dict value of ``index``."""
        return self.state_dict[index.fqn]

    def transform_object(self, write_item, obj):
        """The data written for ``obj``."""
        if write_item.type is WriteItemType.BYTE_IO:
            return io.BytesIO(_encode(obj, write_item.index.fqn))
        data = obj.detach()
        if write_item.type is WriteItemType.SHARD:
            data = data.reshape(-1)[:write_item.tensor_data.chunk.sizes[0]]   # without the padding
        return data.cpu().contiguous()


def create_default_local_save_plan(state_dict, is_coordinator):
    """The items of every value of a (flat) state dict.

    Args:
        state_dict: the flat state dict.
        is_coordinator: unused (every rank lists everything it holds).

    Returns:
        SavePlan.
    """
    items = []
    for fqn, value in state_dict.items():
        items.extend(_create_write_items(fqn, value))
    return SavePlan(items)


def create_default_global_save_plan(all_plans, dedup_save_to_lowest_rank=False):
    """Deduplicate replicated items across ranks and build the Metadata.

    Args:
        all_plans: one SavePlan per rank (planner_data with digests).
        dedup_save_to_lowest_rank: keep the lowest rank's copy (else balance bytes over ranks).

    Returns:
        ``(plans, Metadata)``.
    """
    from ember.distributed.checkpoint.metadata import MetadataIndex
    holders = {}
    for r, p in enumerate(all_plans):
        digests = (p.planner_data or {}).get("digests", {})
        for item in p.items:
            if item.type is not WriteItemType.SHARD:
                holders.setdefault(item.index.fqn, []).append((r, digests.get(item.index.fqn)))
    per_rank, writer = set(), {}
    load = [0] * len(all_plans)
    for fqn, hs in holders.items():
        if len({d for _, d in hs}) > 1 and all(d is not None for _, d in hs):
            per_rank.add(fqn)   # the ranks hold different values: each keeps its own
            continue
        ranks = [r for r, _ in hs]
        writer[fqn] = min(ranks) if dedup_save_to_lowest_rank else min(ranks, key=lambda r: (load[r], r))
        item = next(i for i in all_plans[writer[fqn]].items if i.index.fqn == fqn)
        load[writer[fqn]] += item.tensor_storage_size() or 1
    plans, entries, mappings = [], {}, {}
    for r, p in enumerate(all_plans):
        mappings.update((p.planner_data or {}).get("mappings", {}))
        kept = []
        for item in p.items:
            fqn = item.index.fqn
            if item.type is not WriteItemType.SHARD and fqn not in per_rank and writer.get(fqn) != r:
                continue
            if fqn in per_rank:
                item = dataclasses.replace(item, index=MetadataIndex(fqn, item.index.offset, r))
            kept.append(item)
            if item.type is WriteItemType.BYTE_IO:
                entries[fqn] = BytesStorageMetadata()
                continue
            td = item.tensor_data
            md = entries.setdefault(fqn, TensorStorageMetadata(td.properties, tuple(td.size), []))
            if td.chunk not in md.chunks:
                md.chunks.append(td.chunk)
        plans.append(dataclasses.replace(p, items=kept))
    planner_data = {"mappings": {k: list(v) for k, v in mappings.items()}, "per_rank": sorted(per_rank),
                    "world_size": len(all_plans)}
    return plans, Metadata(entries, planner_data=planner_data)


class DefaultLoadPlanner(LoadPlanner):
    """The planner ``load`` uses by default: fills the state dict's tensors in place.

    Args:
        flatten_state_dict: flatten nested dicts and lists into dotted keys.
        flatten_sharded_tensors: accepted.
        allow_partial_load: skip state-dict keys the checkpoint lacks (else raise).
    """

    def __init__(self, flatten_state_dict=True, flatten_sharded_tensors=True, allow_partial_load=False):
        self.flatten_state_dict = flatten_state_dict
        self.flatten_sharded_tensors = flatten_sharded_tensors
        self.allow_partial_load = allow_partial_load

    def set_up_planner(self, state_dict, metadata=None, is_coordinator=False):
        """Take the state dict to fill and the checkpoint's metadata."""
        self.original_state_dict = state_dict
        if self.flatten_state_dict:
            state_dict, self.mappings = _flatten(state_dict)
        else:
            self.mappings = {k: [k] for k in state_dict}
        self.state_dict, self.metadata, self.is_coordinator = state_dict, metadata, is_coordinator
        self._staged, self._pending = {}, {}

    def _rank_index(self, fqn):
        data = self.metadata.planner_data or {}
        if fqn not in set(data.get("per_rank", ())):
            return None
        from ember import distributed as dist
        rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
        # the same number of ranks: each takes back its own value; else rank 0's
        return rank if world == data.get("world_size") else 0

    def create_local_plan(self):
        """The pieces this rank reads, for every key of its state dict."""
        items = []
        for fqn, value in self.state_dict.items():
            md = self.metadata.state_dict_metadata.get(fqn)
            if md is None:
                if self.allow_partial_load:
                    continue
                raise RuntimeError(f"Missing key in checkpoint state_dict: {fqn}.")
            if isinstance(md, TensorStorageMetadata) and not isinstance(value, ember.Tensor):
                # a placeholder: load into a new tensor of the stored size
                value = ember.zeros(tuple(md.size), dtype=md.properties.dtype)
                self.state_dict[fqn] = value
                _set_element(self.original_state_dict, self.mappings[fqn], value)
            mine = _create_read_items(fqn, md, value, self._rank_index(fqn))
            if isinstance(md, TensorStorageMetadata):
                self._pending[fqn] = len(mine)
            items.extend(mine)
        return LoadPlan(items)

    def create_global_plan(self, global_plan):
        """Every rank reads its own pieces: the plans are kept as they are."""
        return global_plan

    def finish_plan(self, central_plan):
        """Take this rank's final plan."""
        return central_plan

    def load_bytes(self, read_item, value):
        """Put a non-tensor value back where it was in the state dict."""
        obj = _decode(value.getvalue() if hasattr(value, "getvalue") else value.read())
        fqn = read_item.dest_index.fqn
        self.state_dict[fqn] = obj
        _set_element(self.original_state_dict, self.mappings[fqn], obj)

    def lookup_tensor(self, index):
        """The destination tensor of ``index``."""
        return self.state_dict[index.fqn]

    def resolve_tensor(self, read_item):
        """A CPU tensor of the piece's length, in the stored dtype."""
        md = self.metadata.state_dict_metadata[read_item.dest_index.fqn]
        return ember.empty(int(read_item.lengths[0]), dtype=md.properties.dtype)

    def commit_tensor(self, read_item, tensor):
        """Place the piece in the destination (written once all of its pieces have arrived)."""
        fqn = read_item.dest_index.fqn
        dest = self.lookup_tensor(read_item.dest_index)
        staged = self._staged.get(fqn)
        if staged is None:
            shard = _shard_range(dest)
            host = dest.detach().cpu().numpy()
            staged = self._staged[fqn] = np.array(host.reshape(-1) if shard is None else
                                                  host.reshape(-1)[:shard[1]], copy=True)
        start = int(read_item.dest_offsets[0])
        piece = tensor.detach().cpu().numpy().reshape(-1)
        staged[start:start + piece.size] = piece.astype(staged.dtype, copy=False)
        self._pending[fqn] -= 1
        if self._pending[fqn] == 0:
            values = self._staged.pop(fqn)
            with ember.no_grad():
                if _shard_range(dest) is not None:
                    flat = dest.detach().cpu().numpy().reshape(-1).copy()
                    flat[:values.size] = values
                    values = flat
                dest.copy_(ember.from_numpy(values.reshape(tuple(dest.shape))).to(dest.device, dest.dtype))


def create_default_local_load_plan(state_dict, metadata, strict=True):
    """The pieces one rank reads for ``state_dict`` from a checkpoint's metadata.

    Args:
        state_dict: the (flat) state dict to fill.
        metadata: the Metadata.
        strict: raise for keys the checkpoint lacks.

    Returns:
        LoadPlan.
    """
    planner = DefaultLoadPlanner(flatten_state_dict=False, allow_partial_load=not strict)
    planner.set_up_planner(state_dict, metadata)
    return planner.create_local_plan()


def create_default_global_load_plan(all_plans):
    """The global load plan: each rank's own (no coordination is needed).

    Args:
        all_plans: one LoadPlan per rank.

    Returns:
        The plans.
    """
    return all_plans

