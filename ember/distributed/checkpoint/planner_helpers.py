"""``torch.distributed.checkpoint.planner_helpers``: the write and read items of state-dict values.

Ranges are handled in a tensor's row-major flattening: a whole tensor is the range
``[0, numel)``, a ``fully_shard`` shard the range of the flat parameter it holds (its padding
left out); reading computes where the stored ranges overlap the wanted one.
"""
from __future__ import annotations

import math

import ember
from ember.distributed.checkpoint.metadata import (
    BytesStorageMetadata, ChunkStorageMetadata, MetadataIndex, TensorProperties, TensorStorageMetadata)
from ember.distributed.checkpoint.planner import (
    LoadItemType, ReadItem, TensorWriteData, WriteItem, WriteItemType)

__all__ = ["create_read_items_for_chunk_list"]


def _shard_range(value):
    """``(start, length, global shape)`` when ``value`` is a registered ``fully_shard`` shard."""
    from ember.distributed.fsdp import shard_info
    info = shard_info(value) if isinstance(value, ember.Tensor) else None
    if info is None:
        return None
    rec, group = info
    start = group.rank() * rec.chunk
    length = max(0, min(rec.numel, start + rec.chunk) - start)
    return start, length, tuple(rec.shape)


def _flat_range(chunk, size):
    """The ``[start, stop)`` range of the flattening that ``chunk`` covers."""
    numel = math.prod(size)
    if len(chunk.offsets) == len(size) and len(size) != 1:
        if any(chunk.offsets) or tuple(chunk.sizes) != tuple(size):
            raise ValueError(f"a partial {len(size)}-D chunk (offsets {chunk.offsets}, sizes {chunk.sizes}) of a "
                             f"tensor of size {tuple(size)}: ember's planner reads whole tensors and flat ranges")
        return 0, numel
    return int(chunk.offsets[0]), int(chunk.offsets[0]) + int(chunk.sizes[0]) if chunk.sizes else numel


def _create_write_items(fqn, value):
    """The WriteItems of one state-dict value."""
    if not isinstance(value, ember.Tensor):
        return [WriteItem(index=MetadataIndex(fqn), type=WriteItemType.BYTE_IO)]
    props = TensorProperties.create_from_tensor(value)
    shard = _shard_range(value)
    if shard is not None:
        start, length, shape = shard
        if length == 0:
            return []   # this rank's shard is all padding
        chunk = ChunkStorageMetadata((start,), (length,))
        return [WriteItem(index=MetadataIndex(fqn, (start,)), type=WriteItemType.SHARD,
                          tensor_data=TensorWriteData(chunk, props, shape))]
    shape = tuple(value.shape)
    chunk = ChunkStorageMetadata((0,) * len(shape), shape)
    return [WriteItem(index=MetadataIndex(fqn, (0,) * len(shape)), type=WriteItemType.TENSOR,
                      tensor_data=TensorWriteData(chunk, props, shape))]


def _dest_range(value, md, fqn):
    """The ``[start, stop)`` of the flattening that the destination ``value`` receives."""
    shard = _shard_range(value)
    if shard is not None:
        start, length, shape = shard
        if math.prod(shape) != math.prod(md.size):
            raise RuntimeError(f"Size mismatch for {fqn!r}: the checkpoint holds {list(md.size)}, the sharded "
                               f"parameter is of {list(shape)}")
        return start, start + length
    if isinstance(value, ember.Tensor) and tuple(value.shape) != tuple(md.size):
        raise RuntimeError(f"Size mismatch for {fqn!r}: the checkpoint holds {list(md.size)}, the state_dict "
                           f"expects {list(value.shape)}")
    return 0, math.prod(md.size)


def create_read_items_for_chunk_list(fqn, checkpoint_md, local_chunks, index=None):
    """The ReadItems that fill ``local_chunks`` (flat ranges of ``fqn``) from the stored chunks.

    Args:
        fqn: the key.
        checkpoint_md: its TensorStorageMetadata.
        local_chunks: ChunkStorageMetadata of the wanted ranges (1-D offsets/sizes in the flattening).
        index: read only stored items with this MetadataIndex.index (per-rank values).

    Returns:
        A list of ReadItem.
    """
    items = []
    for dest_i, dest in enumerate(local_chunks):
        d0 = int(dest.offsets[0])
        d1 = d0 + int(dest.sizes[0])
        for chunk in checkpoint_md.chunks:
            s0, s1 = _flat_range(chunk, checkpoint_md.size)
            lo, hi = max(d0, s0), min(d1, s1)
            if lo >= hi:
                continue
            items.append(ReadItem(type=LoadItemType.TENSOR, dest_index=MetadataIndex(fqn, (d0,), dest_i),
                                  dest_offsets=(lo - d0,), storage_index=MetadataIndex(fqn, tuple(chunk.offsets),
                                                                                       index),
                                  storage_offsets=(lo - s0,), lengths=(hi - lo,)))
    return items


def _create_read_items(fqn, md, value, index=None):
    """The ReadItems of one destination value."""
    if isinstance(md, BytesStorageMetadata):
        return [ReadItem(type=LoadItemType.BYTE_IO, dest_index=MetadataIndex(fqn), dest_offsets=(0,),
                         storage_index=MetadataIndex(fqn), storage_offsets=(0,), lengths=(0,))]
    if not isinstance(md, TensorStorageMetadata):
        raise TypeError(f"unknown storage metadata for {fqn!r}: {type(md).__name__}")
    start, stop = _dest_range(value, md, fqn)
    return create_read_items_for_chunk_list(fqn, md, [ChunkStorageMetadata((start,), (stop - start,))], index)
