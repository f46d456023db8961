"""The built-in DDP communication hooks (``DistributedDataParallel.register_comm_hook``).

A hook is ``hook(state, bucket) -> Future`` whose value is the bucket's reduced flat gradient:
``bucket.buffer()`` holds the bucket's gradients, flattened in ``bucket.parameters()`` order.
"""
from __future__ import annotations

import ember
from ember import distributed as dist


def allreduce_hook(process_group, bucket):
    """Average the bucket across ``process_group`` (None: the default group), as DDP does by default."""
    group = process_group if process_group is not None else dist.group.WORLD
    world = dist.get_world_size(group)
    tensor = bucket.buffer()
    tensor.div_(world)
    work = dist.all_reduce(tensor, group=group, async_op=True)
    return work.get_future().then(lambda fut: fut.value()[0])


def _compress_hook(dtype, process_group, bucket):
    group = process_group if process_group is not None else dist.group.WORLD
    world = dist.get_world_size(group)
    buffer = bucket.buffer()
    compressed = (buffer / world).to(dtype)
    work = dist.all_reduce(compressed, group=group, async_op=True)

    def decompress(fut):
        with ember.no_grad():
            buffer.copy_(fut.value()[0])
        return buffer
    return work.get_future().then(decompress)


def fp16_compress_hook(process_group, bucket):
    """Average the bucket in float16 (half the traffic), then cast back to the gradients' dtype."""
    return _compress_hook(ember.float16, process_group, bucket)


def bf16_compress_hook(process_group, bucket):
    """Average the bucket in bfloat16, then cast back to the gradients' dtype."""
    return _compress_hook(ember.bfloat16, process_group, bucket)
