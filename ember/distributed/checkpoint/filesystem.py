"""``torch.distributed.checkpoint.filesystem``: checkpoints in a directory.

``<dir>/.metadata`` is the JSON of the Metadata (where every item lies); each rank writes
``__<rank>_<n>.distcp`` files of raw little-endian item bytes. Every file is written to a
temporary name, synced and renamed, and the metadata is written last, by the coordinator after
every rank has written, so an interrupted save never leaves a checkpoint that looks whole.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

import ember
from ember.distributed.checkpoint.metadata import Metadata, StorageMeta
from ember.distributed.checkpoint.planner import LoadItemType, WriteItemType
from ember.distributed.checkpoint.storage import StorageReader, StorageWriter, WriteResult

__all__ = ["FileSystemWriter", "FileSystemReader", "FileSystem"]

_METADATA_FN = ".metadata"


@dataclass
class _StorageInfo:
    """Where an item's bytes lie: file, offset, length."""
    relative_path: str
    offset: int
    length: int


def _np_dtype(dtype):
    return ember.empty(0, dtype=dtype).numpy().dtype


def _atomic_write(path, write, sync=True):
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            if sync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class FileSystem:
    """The local file system operations the file-system storage uses."""

    def concat_path(self, path, suffix):
        """``path/suffix``."""
        return os.path.join(str(path), suffix)

    def mkdir(self, path):
        """Make ``path`` (and its parents)."""
        os.makedirs(path, exist_ok=True)

    def exists(self, path):
        """Whether ``path`` exists."""
        return os.path.exists(path)


def _completed(value):
    from ember.futures import Future
    fut = Future()
    fut.set_result(value)
    return fut


class FileSystemWriter(StorageWriter):
    """Write a checkpoint into a directory.

    Args:
        path: the directory (created if missing).
        single_file_per_rank: one file per rank (per writer thread); else one file per item.
        sync_files: fsync every file before it is renamed into place.
        thread_count: write with this many threads (each its own file).
        per_thread_copy_ahead: accepted (items are staged on the CPU before writing).
        cache_staged_state_dict: accepted.
        overwrite: allow saving over an existing checkpoint (else raise).
    """

    def __init__(self, path, single_file_per_rank=True, sync_files=True, thread_count=1,
                 per_thread_copy_ahead=10_000_000, cache_staged_state_dict=False, overwrite=True):
        self.fs = FileSystem()
        self.path = str(path)
        self.single_file_per_rank, self.sync_files = single_file_per_rank, sync_files
        self.thread_count, self.per_thread_copy_ahead = max(int(thread_count), 1), per_thread_copy_ahead
        self.cache_staged_state_dict, self.overwrite = cache_staged_state_dict, overwrite
        self.save_id = uuid.uuid4().hex
        self.rank = 0

    @property
    def checkpoint_id(self):
        """The directory."""
        return self.path

    def reset(self, checkpoint_id=None):
        if checkpoint_id is not None:
            self.path = str(checkpoint_id)
        self.save_id = uuid.uuid4().hex

    def set_up_storage_writer(self, is_coordinator, *args, **kwargs):
        self.is_coordinator = is_coordinator
        self.rank = kwargs.get("rank", args[0] if args else 0)

    def storage_meta(self):
        return StorageMeta(checkpoint_id=self.path, save_id=self.save_id)

    def prepare_local_plan(self, plan):
        self.fs.mkdir(self.path)
        if not self.overwrite and self.fs.exists(self.fs.concat_path(self.path, _METADATA_FN)):
            raise RuntimeError(f"Checkpoint already exists at {self.path} and overwrite=False")
        return plan

    def prepare_global_plan(self, plans):
        import dataclasses
        return [dataclasses.replace(p, storage_data={"prefix": f"__{i}_"}) for i, p in enumerate(plans)]

    def _buckets(self, items):
        if not self.single_file_per_rank:
            return [[i] for i in items]
        buckets = [[] for _ in range(min(self.thread_count, max(len(items), 1)))]
        for n, item in enumerate(items):
            buckets[n % len(buckets)].append(item)
        return buckets

    def write_data(self, plan, planner):
        prefix = (plan.storage_data or {}).get("prefix", f"__{self.rank}_")
        # the data of each item, staged on the CPU now (the planner's tensors may change after)
        staged = []
        for item in plan.items:
            data = planner.resolve_data(item)
            if item.type is WriteItemType.BYTE_IO:
                staged.append((item, data.getvalue() if hasattr(data, "getvalue") else bytes(data)))
            else:
                arr = np.ascontiguousarray(data.detach().cpu().numpy())
                staged.append((item, arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()))
        by_item = {id(i): b for i, b in staged}

        def write_file(n, bucket):
            name = f"{prefix}{n}.distcp"
            results, offset = [], 0
            chunks = []
            for item in bucket:
                raw = by_item[id(item)]
                results.append(WriteResult(item.index, len(raw), _StorageInfo(name, offset, len(raw))))
                chunks.append(raw)
                offset += len(raw)
            _atomic_write(self.fs.concat_path(self.path, name), lambda f: [f.write(c) for c in chunks],
                          self.sync_files)
            return results
        buckets = [b for b in self._buckets(plan.items) if b]
        if len(buckets) > 1 and self.thread_count > 1:
            with ThreadPoolExecutor(self.thread_count) as pool:
                parts = list(pool.map(lambda nb: write_file(*nb), enumerate(buckets)))
        else:
            parts = [write_file(n, b) for n, b in enumerate(buckets)]
        return _completed([r for part in parts for r in part])

    def finish(self, metadata, results):
        storage = {}
        for rank_results in results:
            for wr in rank_results:
                storage[wr.index] = wr.storage_data
        metadata.storage_data = storage
        metadata.storage_meta = self.storage_meta()
        text = json.dumps(metadata.to_json()).encode()
        _atomic_write(self.fs.concat_path(self.path, _METADATA_FN), lambda f: f.write(text), self.sync_files)

    @classmethod
    def validate_checkpoint_id(cls, checkpoint_id):
        return isinstance(checkpoint_id, (str, os.PathLike))


class FileSystemReader(StorageReader):
    """Read a checkpoint from a directory ``FileSystemWriter`` wrote.

    Args:
        path: the directory.
    """

    def __init__(self, path):
        self.fs = FileSystem()
        self.path = str(path)
        self.load_id = uuid.uuid4().hex

    @property
    def checkpoint_id(self):
        """The directory."""
        return self.path

    def reset(self, checkpoint_id=None):
        if checkpoint_id is not None:
            self.path = str(checkpoint_id)
        self.load_id = uuid.uuid4().hex

    def read_metadata(self, *args, **kwargs):
        path = self.fs.concat_path(self.path, _METADATA_FN)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no checkpoint metadata at {path}")
        with open(path, "rb") as f:
            md = Metadata.from_json(json.loads(f.read()))
        if md.storage_meta is None:
            md.storage_meta = StorageMeta()
        md.storage_meta.load_id = self.load_id
        return md

    def set_up_storage_reader(self, metadata, is_coordinator, *args, **kwargs):
        self.storage_data = metadata.storage_data
        self.metadata = metadata

    def prepare_local_plan(self, plan):
        return plan

    def prepare_global_plan(self, plans):
        return plans

    def read_data(self, plan, planner):
        by_file = {}
        for item in plan.items:
            info = self.storage_data.get(item.storage_index)
            if info is None:
                raise RuntimeError(f"checkpoint {self.path} has no data for {item.storage_index}")
            by_file.setdefault(info.relative_path, []).append((item, info))
        for name, entries in by_file.items():
            with open(self.fs.concat_path(self.path, name), "rb") as f:
                for item, info in entries:
                    if item.type is LoadItemType.BYTE_IO:
                        f.seek(info.offset)
                        planner.load_bytes(item, io.BytesIO(f.read(info.length)))
                        continue
                    md = self.metadata.state_dict_metadata[item.storage_index.fqn]
                    dt = _np_dtype(md.properties.dtype).newbyteorder("<")
                    f.seek(info.offset + int(item.storage_offsets[0]) * dt.itemsize)
                    n = int(item.lengths[0])
                    arr = np.frombuffer(f.read(n * dt.itemsize), dtype=dt).astype(dt.newbyteorder("="))
                    target = planner.resolve_tensor(item)
                    with ember.no_grad():
                        target.copy_(ember.from_numpy(arr.reshape(tuple(target.shape))).to(target.device,
                                                                                          target.dtype))
                    planner.commit_tensor(item, target)
        return _completed(None)

    @classmethod
    def validate_checkpoint_id(cls, checkpoint_id):
        return isinstance(checkpoint_id, (str, os.PathLike))
