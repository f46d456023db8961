"""``torch.distributed.checkpoint.storage``: the storage layer's interfaces. A ``StorageWriter``
writes the items of a save plan and records where (``WriteResult``), then the metadata; a
``StorageReader`` reads the metadata and the items of a load plan. Subclass them to save
elsewhere than ``FileSystemWriter``/``FileSystemReader``'s directories; ``save`` and ``load``
call every method."""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

from ember.distributed.checkpoint.metadata import MetadataIndex

__all__ = ["WriteResult", "StorageWriter", "StorageReader"]


@dataclass(frozen=True)
class WriteResult:
    """Where one written item went.

    Args:
        index: the item's MetadataIndex.
        size_in_bytes: its size.
        storage_data: the storage layer's record of its location.
    """
    index: MetadataIndex
    size_in_bytes: int
    storage_data: Any


class StorageWriter(abc.ABC):
    """Writes a checkpoint: ``reset``, ``set_up_storage_writer``, ``prepare_local_plan`` (every rank),
    ``prepare_global_plan`` (the coordinator), ``write_data`` (every rank), ``finish`` (the coordinator)."""

    def reset(self, checkpoint_id=None):
        """Begin a new save (to ``checkpoint_id`` when given).

        Args:
            checkpoint_id: where to save.
        """

    @abc.abstractmethod
    def set_up_storage_writer(self, is_coordinator, *args, **kwargs):
        """Prepare this rank for writing.

        Args:
            is_coordinator: whether this rank writes the metadata.
            *args: the rank and world size, as ``save`` passes them.
            **kwargs: more settings.
        """

    @abc.abstractmethod
    def prepare_local_plan(self, plan):
        """Adjust this rank's SavePlan.

        Args:
            plan: a SavePlan.

        Returns:
            SavePlan.
        """

    @abc.abstractmethod
    def prepare_global_plan(self, plans):
        """Adjust every rank's plan (e.g. give each a file prefix), on the coordinator.

        Args:
            plans: one SavePlan per rank.

        Returns:
            The plans.
        """

    @abc.abstractmethod
    def write_data(self, plan, planner):
        """Write the plan's items (``planner.resolve_data`` gives each one's data).

        Args:
            plan: this rank's final SavePlan.
            planner: the SavePlanner.

        Returns:
            A Future of a list of WriteResult.
        """

    @abc.abstractmethod
    def finish(self, metadata, results):
        """Write the metadata (on the coordinator), with every rank's results.

        Args:
            metadata: the Metadata.
            results: one list of WriteResult per rank.
        """

    @classmethod
    def validate_checkpoint_id(cls, checkpoint_id):
        """Whether ``checkpoint_id`` is something this writer can save to.

        Args:
            checkpoint_id: the id.

        Returns:
            bool.
        """
        return False

    def storage_meta(self):
        """The StorageMeta of this save (None: none).

        Returns:
            StorageMeta or None.
        """
        return None


class StorageReader(abc.ABC):
    """Reads a checkpoint: ``reset``, ``read_metadata``, ``set_up_storage_reader``,
    ``prepare_local_plan``, ``prepare_global_plan`` (the coordinator), ``read_data``."""

    def reset(self, checkpoint_id=None):
        """Begin a new load (from ``checkpoint_id`` when given).

        Args:
            checkpoint_id: what to load.
        """

    @abc.abstractmethod
    def read_metadata(self, *args, **kwargs):
        """The checkpoint's Metadata.

        Returns:
            Metadata.
        """

    @abc.abstractmethod
    def set_up_storage_reader(self, metadata, is_coordinator, *args, **kwargs):
        """Prepare this rank for reading.

        Args:
            metadata: the Metadata.
            is_coordinator: whether this rank merges the plans.
        """

    @abc.abstractmethod
    def prepare_local_plan(self, plan):
        """Adjust this rank's LoadPlan.

        Args:
            plan: a LoadPlan.

        Returns:
            LoadPlan.
        """

    @abc.abstractmethod
    def prepare_global_plan(self, plans):
        """Adjust every rank's plan, on the coordinator.

        Args:
            plans: one LoadPlan per rank.

        Returns:
            The plans.
        """

    @abc.abstractmethod
    def read_data(self, plan, planner):
        """Read the plan's items, handing each to the planner (``resolve_tensor``/``commit_tensor``,
        ``load_bytes``).

        Args:
            plan: this rank's final LoadPlan.
            planner: the LoadPlanner.

        Returns:
            A Future completed when all is read.
        """

    @classmethod
    def validate_checkpoint_id(cls, checkpoint_id):
        """Whether ``checkpoint_id`` is something this reader can load.

        Args:
            checkpoint_id: the id.

        Returns:
            bool.
        """
        return False
