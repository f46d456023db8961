"""``torch.distributed.checkpoint.hf_storage``: checkpoints as Hugging Face safetensors files.

``HuggingFaceStorageWriter`` writes ``model-0000i-of-0000n.safetensors`` files (split by
``fqn_to_index_mapping``) and ``model.safetensors.index.json`` (the weight map); with
``save_distributed`` each rank writes its own ``shard-<rank>-model-...`` files. Sharded
(``fully_shard``) values are gathered by the planner's caller: save a full state dict.
``HuggingFaceStorageReader`` reads any directory of safetensors files, into whole tensors or
``fully_shard`` shards.
"""
from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

import ember
from ember.distributed.checkpoint.filesystem import _atomic_write, _completed, _np_dtype
from ember.distributed.checkpoint.metadata import (
    ChunkStorageMetadata, Metadata, MetadataIndex, StorageMeta, TensorProperties, TensorStorageMetadata)
from ember.distributed.checkpoint.planner import LoadItemType, WriteItemType
from ember.distributed.checkpoint.storage import StorageReader, StorageWriter, WriteResult

__all__ = ["HuggingFaceStorageWriter", "HuggingFaceStorageReader"]

SUFFIX = ".safetensors"
_METADATA_FN = "model.safetensors.index.json"


def _file_name(index, highest, shard_index=None):
    name = f"model-{index:05d}-of-{highest:05d}{SUFFIX}"
    return name if shard_index is None else f"shard-{shard_index:05d}-{name}"


class HuggingFaceStorageWriter(StorageWriter):
    """Write a checkpoint as safetensors files.

    Args:
        path: the directory.
        fqn_to_index_mapping: key -> file number (1-based) to split the tensors over files.
        thread_count: accepted (files are written in turn).
        save_distributed: every rank writes its own files (prefixed ``shard-<n>-``).
        enable_consolidation: after a distributed save, merge the ranks' files into ``model-*`` files.
        thread_count_consolidation: accepted.
    """

    def __init__(self, path, fqn_to_index_mapping=None, thread_count=1, save_distributed=False,
                 enable_consolidation=False, thread_count_consolidation=1):
        self.path = str(path)
        self.fqn_to_index_mapping = fqn_to_index_mapping
        self.thread_count, self.save_distributed = thread_count, save_distributed
        self.enable_consolidation, self.thread_count_consolidation = enable_consolidation, thread_count_consolidation

    def reset(self, checkpoint_id=None):
        if checkpoint_id is not None:
            self.path = str(checkpoint_id)

    def set_up_storage_writer(self, is_coordinator, *args, **kwargs):
        self.is_coordinator = is_coordinator

    def storage_meta(self):
        return StorageMeta(checkpoint_id=self.path)

    def prepare_local_plan(self, plan):
        os.makedirs(self.path, exist_ok=True)
        for item in plan.items:
            if item.type is WriteItemType.SHARD:
                raise ValueError(f"HuggingFaceStorageWriter writes whole tensors: {item.index.fqn!r} is a shard "
                                 f"(save a full state dict)")
        return plan

    def prepare_global_plan(self, plans):
        out = []
        for i, plan in enumerate(plans, start=1):
            data = {}
            if self.fqn_to_index_mapping is not None:
                data["fqn_to_index_mapping"] = self.fqn_to_index_mapping
            if self.save_distributed:
                data["shard_index"] = i
            out.append(dataclasses.replace(plan, storage_data=data))
        return out

    def write_data(self, plan, planner):
        from ember.serialization import safetensors_io
        if not plan.items:
            return _completed([])
        data = plan.storage_data or {}
        mapping = data.get("fqn_to_index_mapping")
        shard_index = data.get("shard_index")
        highest = max(mapping.values()) if mapping else 1
        buckets = {}
        for item in plan.items:
            if item.type is WriteItemType.BYTE_IO:
                continue   # safetensors hold tensors only; plain values are left out, as PyTorch's writer does
            buckets.setdefault(mapping[item.index.fqn] if mapping else 1, []).append(item)
        results = []
        for index, items in buckets.items():
            name = _file_name(index, highest, shard_index)
            tensors = {item.index.fqn: planner.resolve_data(item).detach().cpu().contiguous() for item in items}
            blob = safetensors_io.save(tensors)
            _atomic_write(os.path.join(self.path, name), lambda f: f.write(blob))
            for item in items:
                t = tensors[item.index.fqn]
                results.append(WriteResult(item.index, t.numel() * t.element_size(), {"relative_path": name}))
        return _completed(results)

    def finish(self, metadata, results):
        if self.save_distributed:
            if self.enable_consolidation:
                self._consolidate()
            return
        weight_map, total = {}, 0
        for rank_results in results:
            for wr in rank_results:
                weight_map[wr.index.fqn] = wr.storage_data["relative_path"]
                total += wr.size_in_bytes
        text = json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2).encode()
        _atomic_write(os.path.join(self.path, _METADATA_FN), lambda f: f.write(text))

    def _consolidate(self):
        from ember.serialization import safetensors_io
        merged = {}
        for name in sorted(os.listdir(self.path)):
            if name.startswith("shard-") and name.endswith(SUFFIX):
                merged.update(safetensors_io.load_file(os.path.join(self.path, name)))
        mapping = self.fqn_to_index_mapping or dict.fromkeys(merged, 1)
        highest = max(mapping.values()) if mapping else 1
        files = {}
        for fqn, t in merged.items():
            files.setdefault(mapping.get(fqn, 1), {})[fqn] = t
        weight_map, total = {}, 0
        for index, tensors in files.items():
            name = _file_name(index, highest)
            blob = safetensors_io.save(tensors)
            _atomic_write(os.path.join(self.path, name), lambda f: f.write(blob))
            for fqn, t in tensors.items():
                weight_map[fqn] = name
                total += t.numel() * t.element_size()
        text = json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2).encode()
        _atomic_write(os.path.join(self.path, _METADATA_FN), lambda f: f.write(text))

    @classmethod
    def validate_checkpoint_id(cls, checkpoint_id):
        return isinstance(checkpoint_id, (str, os.PathLike))


def _header(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(n)), 8 + n


_ST_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
              "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool", "U16": "uint16",
              "U32": "uint32", "U64": "uint64", "C64": "complex64"}


class HuggingFaceStorageReader(StorageReader):
    """Read a directory of safetensors files as a checkpoint.

    Args:
        path: the directory.
        thread_count: accepted (files are read in turn).
    """

    def __init__(self, path, thread_count=1):
        self.path = str(path)
        self.thread_count = thread_count

    def reset(self, checkpoint_id=None):
        if checkpoint_id is not None:
            self.path = str(checkpoint_id)

    def read_metadata(self, *args, **kwargs):
        entries, storage = {}, {}
        for name in sorted(os.listdir(self.path)):
            if not name.endswith(SUFFIX):
                continue
            header, base = _header(os.path.join(self.path, name))
            for fqn, info in header.items():
                if fqn == "__metadata__":
                    continue
                dtype = getattr(ember, _ST_DTYPES[info["dtype"]])
                shape = tuple(info["shape"])
                start, stop = info["data_offsets"]
                entries[fqn] = TensorStorageMetadata(TensorProperties(dtype=dtype), shape,
                                                     [ChunkStorageMetadata((0,) * len(shape), shape)])
                storage[MetadataIndex(fqn, (0,) * len(shape))] = {"relative_path": name, "offset": base + start,
                                                                  "length": stop - start}
        return Metadata(entries, planner_data={"mappings": {k: [k] for k in entries}}, storage_data=storage,
                        storage_meta=StorageMeta(checkpoint_id=self.path))

    def set_up_storage_reader(self, metadata, is_coordinator, *args, **kwargs):
        self.metadata = metadata
        self.storage_data = metadata.storage_data

    def prepare_local_plan(self, plan):
        return plan

    def prepare_global_plan(self, plans):
        return plans

    def _read_values(self, f, info, dt, item):
        f.seek(info["offset"] + int(item.storage_offsets[0]) * dt.itemsize)
        n = int(item.lengths[0])
        return np.frombuffer(f.read(n * dt.itemsize), dtype=dt)

    def read_data(self, plan, planner):
        by_file = {}
        for item in plan.items:
            if item.type is LoadItemType.BYTE_IO:
                raise RuntimeError(f"{item.dest_index.fqn!r} is not a tensor: safetensors files hold only tensors")
            key = MetadataIndex(item.storage_index.fqn, item.storage_index.offset)
            info = self.storage_data[key]
            by_file.setdefault(info["relative_path"], []).append((item, info))
        for name, entries in by_file.items():
            with open(os.path.join(self.path, name), "rb") as f:
                for item, info in entries:
                    md = self.metadata.state_dict_metadata[item.storage_index.fqn]
                    dt = _np_dtype(md.properties.dtype).newbyteorder("<")
                    arr = self._read_values(f, info, dt, item).astype(dt.newbyteorder("="))
                    target = planner.resolve_tensor(item)
                    with ember.no_grad():
                        target.copy_(ember.from_numpy(arr.reshape(tuple(target.shape))).to(target.device,
                                                                                          target.dtype))
                    planner.commit_tensor(item, target)
        return _completed(None)

    @classmethod
    def validate_checkpoint_id(cls, checkpoint_id):
        return isinstance(checkpoint_id, (str, os.PathLike))

