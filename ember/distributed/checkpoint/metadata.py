"""``torch.distributed.checkpoint.metadata``: what a checkpoint holds, key by key.

A tensor's entry names its global size and dtype and the chunks stored: a chunk with as many
dimensions as the tensor is a box (``offsets``, ``sizes``); a one-dimensional chunk of a
higher-dimensional tensor is a range of the tensor's row-major flattening (how ember's
``fully_shard`` splits parameters). Metadata is written as JSON (``to_json``/``from_json``), so a
checkpoint can be read without unpickling anything.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChunkStorageMetadata", "TensorStorageMetadata", "BytesStorageMetadata", "Metadata", "MetadataIndex",
           "TensorProperties", "StorageMeta"]


@dataclass
class ChunkStorageMetadata:
    """Where one stored chunk sits in its tensor.

    Args:
        offsets: the chunk's start in each dimension (or in the flattening, for a 1-D chunk).
        sizes: its extent in each dimension.
    """
    offsets: tuple
    sizes: tuple


@dataclass
class TensorProperties:
    """A stored tensor's properties.

    Args:
        dtype: its dtype.
        layout: accepted ("strided").
        requires_grad: whether it required grad.
        memory_format: accepted.
        pin_memory: accepted.
    """
    dtype: Any = None
    layout: Any = "strided"
    requires_grad: bool = False
    memory_format: Any = "contiguous_format"
    pin_memory: bool = False

    @staticmethod
    def create_from_tensor(tensor):
        """The properties of ``tensor``.

        Args:
            tensor: a tensor.

        Returns:
            TensorProperties.
        """
        return TensorProperties(dtype=tensor.dtype, requires_grad=tensor.requires_grad)


@dataclass
class TensorStorageMetadata:
    """A stored tensor: its properties, global size and stored chunks.

    Args:
        properties: TensorProperties.
        size: the global shape.
        chunks: the ChunkStorageMetadata stored.
    """
    properties: TensorProperties
    size: tuple
    chunks: list


@dataclass
class BytesStorageMetadata:
    """A stored non-tensor value (serialised bytes)."""


@dataclass(frozen=True)
class MetadataIndex:
    """The key of one stored item: its FQN, chunk offset and (for per-rank values) the rank.

    Args:
        fqn: the flattened key.
        offset: the chunk's offsets (None: the whole value).
        index: a disambiguating index (the saving rank of a per-rank value).
    """
    fqn: str
    offset: tuple | None = None
    index: int | None = field(default=None, compare=True, hash=True)

    def __post_init__(self):
        if self.offset is not None:
            object.__setattr__(self, "offset", tuple(int(o) for o in self.offset))


@dataclass
class StorageMeta:
    """Identifiers of one save or load.

    Args:
        checkpoint_id: the checkpoint's id (its path).
        save_id: the save's id.
        load_id: the load's id.
    """
    checkpoint_id: Any = None
    save_id: str | None = None
    load_id: str | None = None


@dataclass
class Metadata:
    """A checkpoint's table of contents.

    Args:
        state_dict_metadata: FQN -> TensorStorageMetadata or BytesStorageMetadata.
        planner_data: what the planner needs to rebuild the state dict (e.g. nested keys).
        storage_data: what the storage layer needs to find items (MetadataIndex -> location).
        storage_meta: a StorageMeta.
        version: the format version.
    """
    state_dict_metadata: dict
    planner_data: Any = None
    storage_data: Any = None
    storage_meta: StorageMeta | None = None
    version: str | None = "ember-1"

    # ------------------------------------------------------------ JSON
    def to_json(self):
        """The metadata as a JSON-able dict (dtypes by name, indexes as lists).

        Returns:
            dict.
        """
        entries = {}
        for fqn, md in self.state_dict_metadata.items():
            if isinstance(md, TensorStorageMetadata):
                entries[fqn] = {"type": "tensor", "dtype": _dtype_name(md.properties.dtype),
                                "requires_grad": bool(md.properties.requires_grad), "size": list(md.size),
                                "chunks": [[list(c.offsets), list(c.sizes)] for c in md.chunks]}
            else:
                entries[fqn] = {"type": "bytes"}
        storage = None
        if isinstance(self.storage_data, dict):
            storage = [[_index_json(k), _storage_json(v)] for k, v in self.storage_data.items()]
        meta = None if self.storage_meta is None else {"checkpoint_id": str(self.storage_meta.checkpoint_id)
                                                       if self.storage_meta.checkpoint_id is not None else None,
                                                       "save_id": self.storage_meta.save_id,
                                                       "load_id": self.storage_meta.load_id}
        return {"version": self.version, "state_dict_metadata": entries, "planner_data": self.planner_data,
                "storage_data": storage, "storage_meta": meta}

    @staticmethod
    def from_json(obj):
        """The metadata ``to_json`` wrote.

        Args:
            obj: the dict.

        Returns:
            Metadata.
        """
        import ember
        entries = {}
        for fqn, e in obj["state_dict_metadata"].items():
            if e["type"] == "tensor":
                entries[fqn] = TensorStorageMetadata(
                    TensorProperties(dtype=getattr(ember, e["dtype"]), requires_grad=e.get("requires_grad", False)),
                    tuple(e["size"]), [ChunkStorageMetadata(tuple(o), tuple(s)) for o, s in e["chunks"]])
            else:
                entries[fqn] = BytesStorageMetadata()
        storage = None
        if obj.get("storage_data") is not None:
            storage = {_index_from(k): _storage_from(v) for k, v in obj["storage_data"]}
        meta = obj.get("storage_meta")
        return Metadata(entries, obj.get("planner_data"), storage,
                        StorageMeta(**meta) if meta is not None else None, obj.get("version"))


def _dtype_name(dtype):
    return str(dtype).replace("ember.", "").replace("torch.", "")


def _index_json(index):
    return [index.fqn, None if index.offset is None else list(index.offset), index.index]


def _index_from(obj):
    return MetadataIndex(obj[0], None if obj[1] is None else tuple(obj[1]), obj[2])


def _storage_json(value):
    from dataclasses import asdict, is_dataclass
    if is_dataclass(value):
        return {"__class__": type(value).__name__, **asdict(value)}
    return value


def _storage_from(value):
    if isinstance(value, dict) and value.get("__class__") == "_StorageInfo":
        from ember.distributed.checkpoint.filesystem import _StorageInfo
        fields = {k: v for k, v in value.items() if k != "__class__"}
        return _StorageInfo(**fields)
    return value
