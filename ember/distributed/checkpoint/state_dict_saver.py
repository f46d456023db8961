"""``torch.distributed.checkpoint.state_dict_saver``: ``save`` and ``async_save``.

Every rank plans what it writes (``SavePlanner.create_local_plan``), the coordinator merges the
plans and makes the metadata (``create_global_plan``), every rank writes its items through the
``StorageWriter`` and the coordinator writes the metadata (``finish``) once all have. A failure
on any rank raises ``CheckpointException`` on all of them.
"""
from __future__ import annotations

import threading
import warnings
from concurrent.futures import Future

from ember.distributed.checkpoint.default_planner import DefaultSavePlanner
from ember.distributed.checkpoint.filesystem import FileSystemWriter
from ember.distributed.checkpoint.logger import _dcp_method_logger
from ember.distributed.checkpoint.stateful import Stateful
from ember.distributed.checkpoint.utils import _DistWrapper

__all__ = ["save_state_dict", "save", "async_save", "AsyncCheckpointerType", "AsyncSaveResponse"]


def _use_dist(no_dist, process_group):
    from ember import distributed as dist
    return (not no_dist) and dist.is_available() and dist.is_initialized()


def _writer(checkpoint_id, storage_writer):
    if storage_writer is None:
        if checkpoint_id is None:
            raise RuntimeError("`checkpoint_id` must be specified if storage_writer/storage_reader is None.")
        return FileSystemWriter(checkpoint_id)
    if checkpoint_id is not None:
        storage_writer.reset(checkpoint_id)
    else:
        storage_writer.reset()
    return storage_writer


def _stateful_to_state_dict(state_dict):
    return {k: (v.state_dict() if isinstance(v, Stateful) and not isinstance(v, dict) else v)
            for k, v in state_dict.items()}


@_dcp_method_logger(log_exceptions=True)
def save(state_dict, *, checkpoint_id=None, storage_writer=None, planner=None, process_group=None, no_dist=False,
         use_collectives=True):
    """Save a (possibly sharded) state dict as a distributed checkpoint; every rank of the group calls it.

    Args:
        state_dict: nested dicts/lists of tensors and plain values; Stateful values (models,
            optimizers) are saved through their ``state_dict()``.
        checkpoint_id: where to save (a directory for the default FileSystemWriter).
        storage_writer: a StorageWriter (default: FileSystemWriter(checkpoint_id)).
        planner: a SavePlanner (default: DefaultSavePlanner()).
        process_group: the ranks saving together (default: the default group).
        no_dist: save from this process alone.
        use_collectives: accepted (the plans always travel by collectives).

    Returns:
        The checkpoint's Metadata.
    """
    writer = _writer(checkpoint_id, storage_writer)
    planner = planner if planner is not None else DefaultSavePlanner()
    dw = _DistWrapper(process_group, _use_dist(no_dist, process_group), 0)
    flat = _stateful_to_state_dict(state_dict)
    holder = {}

    def local_step():
        storage_meta = writer.storage_meta()
        planner.set_up_planner(flat, storage_meta=storage_meta, is_coordinator=dw.is_coordinator)
        writer.set_up_storage_writer(dw.is_coordinator, rank=dw.rank, use_collectives=use_collectives)
        return writer.prepare_local_plan(planner.create_local_plan())

    def global_step(all_local_plans):
        plans, metadata = planner.create_global_plan(all_local_plans)
        holder["metadata"] = metadata
        return writer.prepare_global_plan(plans)

    central_plan = dw.reduce_scatter("plan", local_step, global_step)

    def write_data():
        final = planner.finish_plan(central_plan)
        return writer.write_data(final, planner).wait()

    def finish(all_results):
        metadata = holder["metadata"]
        writer.finish(metadata=metadata, results=all_results)
        return metadata

    return dw.all_reduce("write", write_data, finish)


def save_state_dict(state_dict, storage_writer, process_group=None, coordinator_rank=0, no_dist=False,
                    planner=None):
    """The deprecated form of ``save`` (with a required storage writer).

    Args:
        state_dict: the state dict.
        storage_writer: a StorageWriter.
        process_group: the ranks saving together.
        coordinator_rank: accepted (rank 0 coordinates).
        no_dist: save from this process alone.
        planner: a SavePlanner.

    Returns:
        The Metadata.
    """
    warnings.warn("'save_state_dict' is deprecated and will be removed in future versions. Please use 'save' "
                  "instead.", FutureWarning, stacklevel=2)
    storage_writer.reset()
    return save(state_dict, storage_writer=storage_writer, process_group=process_group, no_dist=no_dist,
                planner=planner)


class AsyncCheckpointerType:
    """How ``async_save`` runs the write: in a THREAD (ember's only kind) or a PROCESS."""
    THREAD = "thread"
    PROCESS = "process"


class AsyncSaveResponse:
    """The futures of an ``async_save`` with a stager: staging done, upload done.

    Args:
        staging_completion: a Future completed when the state dict is staged.
        upload_completion: a Future completed when the checkpoint is written.
    """

    def __init__(self, staging_completion, upload_completion):
        self.staging_completion, self.upload_completion = staging_completion, upload_completion


_ASYNC_GROUPS = {}


def _async_group(process_group):
    """A communicator of its own for background saves (made once per group, on the calling thread)."""
    from ember import distributed as dist
    key = id(process_group)
    if key not in _ASYNC_GROUPS:
        ranks = dist.get_process_group_ranks(process_group) if process_group is not None else None
        _ASYNC_GROUPS[key] = dist.new_group(ranks)
    return _ASYNC_GROUPS[key]


def async_save(state_dict, *, checkpoint_id=None, storage_writer=None, planner=None, process_group=None,
               async_checkpointer_type=None, async_stager=None, no_dist=False, use_collectives=True):
    """Save in the background: the state dict is staged (copied to the CPU) now, then written by a
    thread, so training may change the tensors at once.

    Args:
        state_dict: the state dict.
        checkpoint_id: where to save.
        storage_writer: a StorageWriter (default: FileSystemWriter).
        planner: a SavePlanner.
        process_group: the ranks saving together.
        async_checkpointer_type: AsyncCheckpointerType.THREAD (the default; PROCESS is not available).
        async_stager: an AsyncStager to stage with (default: a copy to the CPU).
        no_dist: save from this process alone.
        use_collectives: accepted.

    Returns:
        A concurrent.futures.Future of the Metadata (an AsyncSaveResponse with a non-blocking stager).
    """
    from ember.distributed.checkpoint.staging import _stage_to_cpu
    if async_checkpointer_type not in (None, AsyncCheckpointerType.THREAD, "thread"):
        raise ValueError("ember's async_save runs in a thread: use AsyncCheckpointerType.THREAD")
    use_dist = _use_dist(no_dist, process_group)
    if use_dist:
        from ember import distributed as dist
        if dist._mpi().Query_thread() != dist._mpi().THREAD_MULTIPLE:
            raise RuntimeError("async_save needs MPI's THREAD_MULTIPLE support for its background collectives")
    group = _async_group(process_group) if use_dist else None
    state_dict = _stateful_to_state_dict(state_dict)
    staged = async_stager.stage(state_dict) if async_stager is not None else _stage_to_cpu(state_dict)
    future = Future()

    def run():
        try:
            value = staged.result() if isinstance(staged, Future) else staged
            future.set_result(save(value, checkpoint_id=checkpoint_id, storage_writer=storage_writer,
                                   planner=planner, process_group=group, no_dist=not use_dist))
        except BaseException as e:  # noqa: BLE001 - reported through the future
            future.set_exception(e)
    threading.Thread(target=run, name="ember-dcp-async-save", daemon=True).start()
    if async_stager is not None and isinstance(staged, Future):
        return AsyncSaveResponse(staged, future)
    return future

