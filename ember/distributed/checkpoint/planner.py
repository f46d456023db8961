"""``torch.distributed.checkpoint.planner``: the plans of a save or load, and the planner
interfaces that make them (``SavePlanner``, ``LoadPlanner``)."""
from __future__ import annotations

import abc
import enum
import io
from dataclasses import dataclass
from typing import Any

from ember.distributed.checkpoint.metadata import ChunkStorageMetadata, MetadataIndex, TensorProperties

__all__ = ["WriteItemType", "LoadItemType", "TensorWriteData", "WriteItem", "ReadItem", "SavePlan", "LoadPlan",
           "SavePlanner", "LoadPlanner", "BytesIOWriteData"]


class WriteItemType(enum.Enum):
    """What a WriteItem writes: a whole tensor, a shard (chunk) of one, or serialised bytes."""
    TENSOR = enum.auto()
    SHARD = enum.auto()
    BYTE_IO = enum.auto()


class LoadItemType(enum.Enum):
    """What a ReadItem reads: (part of) a tensor, or serialised bytes."""
    TENSOR = enum.auto()
    BYTE_IO = enum.auto()


@dataclass(frozen=True)
class BytesIOWriteData:
    """The size of a bytes item.

    Args:
        nbytes: its length.
    """
    nbytes: int


@dataclass(frozen=True)
class TensorWriteData:
    """What a tensor item writes: its chunk of the tensor, the tensor's properties and global size.

    Args:
        chunk: a ChunkStorageMetadata.
        properties: TensorProperties.
        size: the global shape.
    """
    chunk: ChunkStorageMetadata
    properties: TensorProperties
    size: tuple


@dataclass(frozen=True)
class WriteItem:
    """One item a rank writes.

    Args:
        index: its MetadataIndex.
        type: a WriteItemType.
        bytes_io_data: the size of a bytes item.
        tensor_data: a TensorWriteData for tensor items.
    """
    index: MetadataIndex
    type: WriteItemType
    bytes_io_data: BytesIOWriteData | None = None
    tensor_data: TensorWriteData | None = None

    def tensor_storage_size(self):
        """The bytes the tensor item occupies (None for a bytes item).

        Returns:
            int or None.
        """
        if self.tensor_data is None:
            return None
        import math
        return math.prod(self.tensor_data.chunk.sizes) * _itemsize(self.tensor_data.properties.dtype)


def _itemsize(dtype):
    import ember
    return ember.empty(0, dtype=dtype).element_size()


@dataclass(frozen=True)
class ReadItem:
    """One piece a rank reads: ``lengths`` elements from ``storage_index``'s chunk at
    ``storage_offsets`` into the destination ``dest_index`` at ``dest_offsets``.

    Args:
        type: a LoadItemType.
        dest_index: the destination's MetadataIndex.
        dest_offsets: where in the destination (per dimension, or in its flattening).
        storage_index: the stored chunk's MetadataIndex.
        storage_offsets: where in the stored chunk.
        lengths: how much.
    """
    type: LoadItemType
    dest_index: MetadataIndex
    dest_offsets: tuple
    storage_index: MetadataIndex
    storage_offsets: tuple
    lengths: tuple


@dataclass(frozen=True)
class SavePlan:
    """The items one rank writes, with planner and storage data.

    Args:
        items: the WriteItems.
        storage_data: the storage layer's data for this rank.
        planner_data: the planner's data.
        usable: whether the plan may be used (False: a cached plan is reused).
    """
    items: list
    storage_data: Any = None
    planner_data: Any = None
    usable: bool = True


@dataclass
class LoadPlan:
    """The items one rank reads.

    Args:
        items: the ReadItems.
        storage_data: the storage layer's data.
        planner_data: the planner's data.
    """
    items: list
    storage_data: Any = None
    planner_data: Any = None


class SavePlanner(abc.ABC):
    """Makes a save's plans: each rank's items (``create_local_plan``), the coordinator's merge
    (``create_global_plan``, which also returns the Metadata), and the data of each item
    (``resolve_data``)."""

    @abc.abstractmethod
    def set_up_planner(self, state_dict, storage_meta=None, is_coordinator=False):
        """Take the state dict this save writes.

        Args:
            state_dict: the state dict.
            storage_meta: the storage's StorageMeta.
            is_coordinator: whether this rank merges the plans.
        """

    @abc.abstractmethod
    def create_local_plan(self):
        """This rank's SavePlan.

        Returns:
            SavePlan.
        """

    @abc.abstractmethod
    def create_global_plan(self, all_plans):
        """Merge every rank's plan (on the coordinator).

        Args:
            all_plans: one SavePlan per rank.

        Returns:
            ``(the plans to use, Metadata)``.
        """

    @abc.abstractmethod
    def finish_plan(self, new_plan):
        """Accept the coordinator's plan for this rank.

        Args:
            new_plan: this rank's SavePlan from the global plan.

        Returns:
            The SavePlan to execute.
        """

    @abc.abstractmethod
    def resolve_data(self, write_item):
        """The data of ``write_item``: a tensor (of the chunk) or a BytesIO.

        Args:
            write_item: a WriteItem of the plan.

        Returns:
            A tensor or io.BytesIO.
        """


class LoadPlanner(abc.ABC):
    """Makes a load's plans and receives the data read: ``resolve_tensor`` gives the tensor a
    piece is read into, ``commit_tensor`` is called once it holds the data, ``load_bytes``
    receives bytes items."""

    @abc.abstractmethod
    def set_up_planner(self, state_dict, metadata=None, is_coordinator=False):
        """Take the state dict to fill and the checkpoint's metadata.

        Args:
            state_dict: the state dict.
            metadata: the checkpoint's Metadata.
            is_coordinator: whether this rank merges the plans.
        """

    @abc.abstractmethod
    def create_local_plan(self):
        """This rank's LoadPlan.

        Returns:
            LoadPlan.
        """

    @abc.abstractmethod
    def create_global_plan(self, global_plan):
        """Merge every rank's plan (on the coordinator).

        Args:
            global_plan: one LoadPlan per rank.

        Returns:
            The plans to use.
        """

    @abc.abstractmethod
    def finish_plan(self, central_plan):
        """Accept the coordinator's plan for this rank.

        Args:
            central_plan: this rank's LoadPlan.

        Returns:
            The LoadPlan to execute.
        """

    @abc.abstractmethod
    def load_bytes(self, read_item, value):
        """Receive a bytes item.

        Args:
            read_item: its ReadItem.
            value: an io.BytesIO.
        """

    @abc.abstractmethod
    def resolve_tensor(self, read_item):
        """The tensor (of ``read_item.lengths``) the storage reader copies the piece into.

        Args:
            read_item: a ReadItem.

        Returns:
            A tensor.
        """

    @abc.abstractmethod
    def commit_tensor(self, read_item, tensor):
        """Called when ``tensor`` (from ``resolve_tensor``) holds the piece's data.

        Args:
            read_item: the ReadItem.
            tensor: the filled tensor.
        """

    def resolve_bytes(self, read_item):
        """A BytesIO to read a bytes item into (default: a new one).

        Args:
            read_item: the ReadItem.

        Returns:
            io.BytesIO.
        """
        return io.BytesIO()

