"""``torch.distributed.checkpoint.resharding``: where stored chunks overlap wanted ones (so that a
checkpoint saved by N ranks loads on M)."""
from __future__ import annotations

from ember.distributed.checkpoint.planner_helpers import _flat_range

__all__: list = []


def _check_shard_metadata_pair_overlap(shard1, shard2):
    """Whether two chunks (boxes of equal rank) overlap.

    Args:
        shard1: a ChunkStorageMetadata.
        shard2: another.

    Returns:
        bool.
    """
    for o1, s1, o2, s2 in zip(shard1.offsets, shard1.sizes, shard2.offsets, shard2.sizes):
        if o1 >= o2 + s2 or o2 >= o1 + s1:
            return False
    return True


def _shards_get_overlap_region_wrt_saved_tensor(saved_shard, current_shard):
    """Per dimension, ``(dim, offset in saved, offset in current, length)`` of two overlapping boxes.

    Args:
        saved_shard: the stored ChunkStorageMetadata.
        current_shard: the wanted one.

    Returns:
        A list of tuples.
    """
    out = []
    for dim, (so, ss, co, cs) in enumerate(zip(saved_shard.offsets, saved_shard.sizes, current_shard.offsets,
                                               current_shard.sizes)):
        lo, hi = max(so, co), min(so + ss, co + cs)
        if lo >= hi:
            raise ValueError(f"the chunks do not overlap in dimension {dim}")
        out.append((dim, lo - so, lo - co, hi - lo))
    return out


def _flat_overlap(saved_chunk, saved_size, start, stop):
    """The overlap of a stored chunk with the flat range ``[start, stop)``: ``(lo, hi)`` or None."""
    s0, s1 = _flat_range(saved_chunk, saved_size)
    lo, hi = max(s0, start), min(s1, stop)
    return (lo, hi) if lo < hi else None
