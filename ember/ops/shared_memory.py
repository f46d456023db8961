"""``Tensor.share_memory_``: CPU tensors in memory that other processes can map.

A CPU tensor's storage (its base's array) moves into a POSIX shared-memory block
(``multiprocessing.shared_memory``), which a forked child inherits as shared memory and which
``ember.multiprocessing``'s pickling hands to other processes by name or file descriptor
instead of copying: writes in any process are seen by all (Hogwild training). The block is
released when the storage is garbage collected in the process that made it.
"""
from __future__ import annotations

import weakref

import numpy as np

from ember.core.tensor import Tensor
from ember.ops.public import public

#: id(base tensor) -> (SharedMemory, owner: whether this process made it)
_BLOCKS: dict = {}


def shared_block(t: Tensor):
    """The shared-memory block behind ``t``'s storage, or None."""
    base = t if t._base is None else t._base
    entry = _BLOCKS.get(id(base))
    return None if entry is None else entry[0]


def _release(key, block, owner):
    _BLOCKS.pop(key, None)
    try:
        block.close()
    except BufferError:  # arrays still map it (a view outlived the tensor): the OS frees it at exit
        return
    if owner:  # unlinked here, not through the resource tracker (see share_memory_)
        try:
            import _posixshmem
            _posixshmem.shm_unlink(block._name)
        except (ImportError, FileNotFoundError):
            pass


def adopt_block(base: Tensor, block, owner: bool) -> None:
    """Record that ``base``'s array lives in ``block`` (closing, and if ``owner`` unlinking, it with ``base``)."""
    _BLOCKS[id(base)] = (block, owner)
    weakref.finalize(base, _release, id(base), block, owner)


@public(function=False, method=True)
def share_memory_(self) -> Tensor:
    """Move the tensor's storage into shared memory (a no-op if it is there, or not on the CPU: GPU
    memory is shareable as it is).

    Returns:
        The tensor itself; ``is_shared()`` is then True. Other tensors viewing the old storage (other
        than this one and its base) keep the old memory.
    """
    if self.device.type != "cpu" or shared_block(self) is not None:
        return self
    from multiprocessing import shared_memory
    from ember.core.views import replay_native
    base = self if self._base is None else self._base
    old = np.asarray(base._data)
    block = shared_memory.SharedMemory(create=True, size=max(old.nbytes, 1))
    try:  # this process unlinks it when the storage dies; receivers balance their own registrations
        from multiprocessing import resource_tracker
        resource_tracker.unregister(block._name, "shared_memory")
    except Exception:  # noqa: BLE001 (no tracker on this platform)
        pass
    moved = np.ndarray(old.shape, dtype=old.dtype, buffer=block.buf)
    moved[...] = old
    base._data = moved
    adopt_block(base, block, owner=True)
    if self is not base:
        self._data = replay_native(self._view_fn, moved, "cpu")
    return self
