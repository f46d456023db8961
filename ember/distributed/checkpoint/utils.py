"""``torch.distributed.checkpoint.utils``: ``_DistWrapper``, the collective steps of a save or load
(gather the plans to the coordinator, scatter the results back), where a failure on any rank
becomes a ``CheckpointException`` on every rank instead of a hang."""
from __future__ import annotations

import pickle

from ember.distributed.checkpoint.api import CheckpointException, _unwrap, _WrappedException

__all__ = ["find_state_dict_object", "find_tensor_shard"]


def _pickle_safe(exc):
    try:
        pickle.dumps(exc)
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


class _DistWrapper:
    """The group a save or load runs on (or this process alone).

    Args:
        group: the process group (None with ``use_dist=False``).
        use_dist: whether there are other ranks.
        coordinator_rank: the rank that merges plans and writes metadata.
    """

    def __init__(self, group, use_dist, coordinator_rank):
        from ember import distributed as dist
        self.group = group if use_dist else None
        self.use_dist = use_dist
        self.coordinator_rank = coordinator_rank
        if use_dist:
            g = dist._group(group)
            self.rank, self.world = g.rank(), g.size()
            self._g = g
        else:
            self.rank, self.world, self._g = 0, 1, None
        self.is_coordinator = self.rank == coordinator_rank

    def _run(self, fn, *args):
        try:
            return fn(*args), None
        except BaseException as e:  # noqa: BLE001 - every rank must learn of it
            if isinstance(e, KeyboardInterrupt):
                raise
            w = _WrappedException(_pickle_safe(e))
            w.exc.__traceback__ = None
            return None, w

    def gather_object(self, obj):
        """``obj`` of every rank, on the coordinator (None elsewhere)."""
        from ember import distributed as dist
        if not self.use_dist:
            return [obj]
        out = [None] * self.world if self.is_coordinator else None
        dist.gather_object(obj, out, group=self._g, group_dst=self.coordinator_rank)
        return out

    def all_gather_object(self, obj):
        """``obj`` of every rank, everywhere."""
        from ember import distributed as dist
        if not self.use_dist:
            return [obj]
        out = [None] * self.world
        dist.all_gather_object(out, obj, group=self._g)
        return out

    def scatter_object(self, objs):
        """The coordinator's ``objs[rank]`` on each rank."""
        from ember import distributed as dist
        if not self.use_dist:
            return objs[0]
        out = [None]
        dist.scatter_object_list(out, objs if self.is_coordinator else None, group=self._g,
                                 group_src=self.coordinator_rank)
        return out[0]

    def broadcast_object(self, obj):
        """The coordinator's ``obj`` on every rank."""
        from ember import distributed as dist
        if not self.use_dist:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, group=self._g, group_src=self.coordinator_rank)
        return box[0]

    def reduce_scatter(self, step, map_fun, reduce_fun):
        """``map_fun`` on every rank, ``reduce_fun`` of all results on the coordinator, each rank its part.

        Args:
            step: the step's name (for errors).
            map_fun: this rank's computation.
            reduce_fun: the coordinator's merge of every rank's result, returning one value per rank.

        Returns:
            This rank's part.
        """
        local, err = self._run(map_fun)
        everyone = self.gather_object((local, err))
        parts = None
        if self.is_coordinator:
            failures = {r: e for r, (_, e) in enumerate(everyone) if e is not None}
            if failures:
                parts = [failures] * self.world
            else:
                merged, err = self._run(reduce_fun, [v for v, _ in everyone])
                parts = [{self.coordinator_rank: err}] * self.world if err is not None else merged
        part = self.scatter_object(parts)
        if isinstance(part, dict) and part and all(isinstance(v, _WrappedException) for v in part.values()):
            raise CheckpointException(step, _unwrap(part))
        return part

    def all_reduce(self, step, map_fun, reduce_fun):
        """``map_fun`` on every rank, then ``reduce_fun`` of all results on the coordinator, for everyone.

        Args:
            step: the step's name.
            map_fun: this rank's computation.
            reduce_fun: the coordinator's merge.

        Returns:
            The merged result.
        """
        local, err = self._run(map_fun)
        everyone = self.gather_object((local, err))
        result = None
        if self.is_coordinator:
            failures = {r: e for r, (_, e) in enumerate(everyone) if e is not None}
            if failures:
                result = ("error", failures)
            else:
                value, err = self._run(reduce_fun, [v for v, _ in everyone])
                result = ("error", {self.coordinator_rank: err}) if err is not None else ("ok", value)
        result = self.broadcast_object(result)
        if result[0] == "error":
            raise CheckpointException(step, _unwrap(result[1]))
        return result[1]

    def all_gather(self, step, map_fun):
        """``map_fun``'s result of every rank, everywhere.

        Args:
            step: the step's name.
            map_fun: this rank's computation.

        Returns:
            A list, one per rank.
        """
        local, err = self._run(map_fun)
        everyone = self.all_gather_object((local, err))
        failures = {r: e for r, (_, e) in enumerate(everyone) if e is not None}
        if failures:
            raise CheckpointException(step, _unwrap(failures))
        return [v for v, _ in everyone]

    def broadcast(self, step, map_fun):
        """``map_fun`` on the coordinator, its result everywhere.

        Args:
            step: the step's name.
            map_fun: the coordinator's computation.

        Returns:
            The result.
        """
        result = None
        if self.is_coordinator:
            value, err = self._run(map_fun)
            result = ("error", {self.rank: err}) if err is not None else ("ok", value)
        result = self.broadcast_object(result)
        if result[0] == "error":
            raise CheckpointException(step, _unwrap(result[1]))
        return result[1]


def find_state_dict_object(state_dict, index):
    """The value of a flat state dict at a MetadataIndex.

    Args:
        state_dict: the flat state dict.
        index: a MetadataIndex.

    Returns:
        The value.
    """
    if index.fqn not in state_dict:
        raise ValueError(f"Could not find FQN: '{index.fqn}'")
    return state_dict[index.fqn]


def find_tensor_shard(tensor, index):
    """The tensor at ``index`` (ember's shards are plain tensors).

    Args:
        tensor: a tensor.
        index: a MetadataIndex.

    Returns:
        The tensor.
    """
    return tensor
