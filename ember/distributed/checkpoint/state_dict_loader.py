"""``torch.distributed.checkpoint.state_dict_loader``: ``load`` (in place) of a distributed checkpoint.

Every rank reads the metadata and plans the pieces it needs (``LoadPlanner.create_local_plan``:
for a ``fully_shard`` parameter only its shard's range, from however many ranks saved it), the
coordinator may adjust the plans, then every rank reads through the ``StorageReader``.
"""
from __future__ import annotations

import warnings

from ember.distributed.checkpoint._legacy_npz import is_legacy_checkpoint, load_legacy
from ember.distributed.checkpoint.default_planner import DefaultLoadPlanner
from ember.distributed.checkpoint.filesystem import FileSystemReader
from ember.distributed.checkpoint.logger import _dcp_method_logger
from ember.distributed.checkpoint.stateful import Stateful
from ember.distributed.checkpoint.utils import _DistWrapper

__all__ = ["load_state_dict", "load"]


def _reader(checkpoint_id, storage_reader):
    if storage_reader is None:
        if checkpoint_id is None:
            raise RuntimeError("`checkpoint_id` must be specified if storage_writer/storage_reader is None.")
        return FileSystemReader(checkpoint_id)
    if checkpoint_id is not None:
        storage_reader.reset(checkpoint_id)
    else:
        storage_reader.reset()
    return storage_reader


@_dcp_method_logger(log_exceptions=True)
def load(state_dict, *, checkpoint_id=None, storage_reader=None, planner=None, process_group=None, no_dist=False):
    """Fill ``state_dict`` in place from a distributed checkpoint; every rank of the group calls it.

    Tensors receive their values (a ``fully_shard`` shard only its part); plain values are replaced
    in their dicts; Stateful values (models, optimizers) get ``load_state_dict`` of what was saved.

    Args:
        state_dict: the structure to fill (its tensors give devices, dtypes and shards).
        checkpoint_id: what to load (a directory for the default FileSystemReader).
        storage_reader: a StorageReader (default: FileSystemReader(checkpoint_id)).
        planner: a LoadPlanner (default: DefaultLoadPlanner()).
        process_group: the ranks loading together.
        no_dist: load in this process alone.

    Returns:
        None.
    """
    from ember.distributed.checkpoint.state_dict_saver import _use_dist
    if storage_reader is None and checkpoint_id is not None and is_legacy_checkpoint(checkpoint_id):
        return _load_legacy(state_dict, checkpoint_id, process_group, no_dist)
    reader = _reader(checkpoint_id, storage_reader)
    planner = planner if planner is not None else DefaultLoadPlanner()
    dw = _DistWrapper(process_group, _use_dist(no_dist, process_group), 0)
    stateful = {k: v for k, v in state_dict.items() if isinstance(v, Stateful) and not isinstance(v, dict)}
    flat = {k: (v.state_dict() if k in stateful else v) for k, v in state_dict.items()}

    def local_step():
        metadata = reader.read_metadata()
        planner.set_up_planner(flat, metadata=metadata, is_coordinator=dw.is_coordinator)
        reader.set_up_storage_reader(metadata, dw.is_coordinator)
        return reader.prepare_local_plan(planner.create_local_plan())

    def global_step(all_local_plans):
        return reader.prepare_global_plan(planner.create_global_plan(all_local_plans))

    central_plan = dw.reduce_scatter("plan", local_step, global_step)

    def read_data():
        final = planner.finish_plan(central_plan)
        reader.read_data(final, planner).wait()
        return None

    dw.all_gather("read", read_data)
    for k, obj in stateful.items():
        obj.load_state_dict(flat[k])
    for k in state_dict:
        if k not in stateful:
            state_dict[k] = flat[k]


def _load_legacy(state_dict, checkpoint_id, process_group, no_dist):
    """``load`` of a checkpoint in ember's earlier npz layout (``_legacy_npz``), Stateful values included."""
    stateful = {k: v for k, v in state_dict.items() if isinstance(v, Stateful) and not isinstance(v, dict)}
    flat = {k: (v.state_dict() if k in stateful else v) for k, v in state_dict.items()}
    load_legacy(flat, checkpoint_id, process_group=process_group, no_dist=no_dist)
    for k, obj in stateful.items():
        obj.load_state_dict(flat[k])
    for k in state_dict:
        if k not in stateful:
            state_dict[k] = flat[k]


def load_state_dict(state_dict, storage_reader, process_group=None, coordinator_rank=0, no_dist=False,
                    planner=None):
    """The deprecated form of ``load`` (with a required storage reader).

    Args:
        state_dict: the state dict to fill.
        storage_reader: a StorageReader.
        process_group: the ranks loading together.
        coordinator_rank: accepted (rank 0 coordinates).
        no_dist: load in this process alone.
        planner: a LoadPlanner.

    Returns:
        None.
    """
    warnings.warn("'load_state_dict' is deprecated and will be removed in future versions. Please use 'load' "
                  "instead.", FutureWarning, stacklevel=2)
    storage_reader.reset()
    return load(state_dict, storage_reader=storage_reader, process_group=process_group, no_dist=no_dist,
                planner=planner)
