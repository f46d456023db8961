"""How tensors cross process boundaries through ``multiprocessing`` (queues, pipes, a spawned
``Process``'s arguments): a CPU tensor in shared memory (``share_memory_()``) is sent as a
handle to that memory, by the sharing strategy's means, so both processes use one storage;
other tensors are copied, as plain pickling does.

Strategies: ``"file_system"`` sends the shared-memory block's name (the receiver opens it);
``"file_descriptor"`` sends a duplicate of its file descriptor through the connection
(``multiprocessing.reduction.DupFd``), so no name has to stay reachable.
"""
from __future__ import annotations

import mmap
import os
import sys
from multiprocessing import reduction

import numpy as np

_ALL = ("file_descriptor", "file_system") if sys.platform != "darwin" else ("file_system",)
_STATE = {"strategy": _ALL[0]}


def get_all_sharing_strategies() -> set:
    """The strategies this platform supports.

    Returns:
        A set of names (``{"file_descriptor", "file_system"}`` on Linux).
    """
    return set(_ALL)


def get_sharing_strategy() -> str:
    """The strategy used to send shared CPU tensors to other processes.

    Returns:
        Its name (default ``"file_descriptor"`` on Linux).
    """
    return _STATE["strategy"]


def set_sharing_strategy(new_strategy: str) -> None:
    """Choose how shared CPU tensors are sent to other processes.

    Args:
        new_strategy: one of ``get_all_sharing_strategies()``.

    Raises:
        AssertionError: for another name (as PyTorch).
    """
    assert new_strategy in _ALL, f"invalid sharing strategy {new_strategy!r} (expected one of {sorted(_ALL)})"
    _STATE["strategy"] = new_strategy


def _wrap(array, requires_grad, cls, block, owner):
    """A CPU tensor over ``array`` (of class ``cls``: a Parameter or other Tensor subclass), noted as
    living in ``block``."""
    from ember.core import dtype as dt
    from ember.core.tensor import make_tensor
    from ember.ops.creation import canonical_device
    from ember.ops.shared_memory import adopt_block
    t = make_tensor(array, dt.from_numpy_dtype(array.dtype), canonical_device("cpu"))
    if cls is not None:
        from ember.nn.parameter import Parameter
        if issubclass(cls, Parameter):
            t = cls(t, requires_grad)
        else:
            from ember.ops.tensor_misc import as_subclass
            t = as_subclass(t, cls)
    elif requires_grad:
        t.requires_grad_(True)
    adopt_block(t if t._base is None else t._base, block, owner)
    return t


class _Mapping:
    """A received file-descriptor mapping, closed with the tensor over it."""

    def __init__(self, mapping):
        self.mapping = mapping

    def close(self):
        self.mapping.close()


def _rebuild_by_name(name, nbytes, layout, requires_grad, cls):
    from multiprocessing import resource_tracker, shared_memory
    block = shared_memory.SharedMemory(name=name)
    try:  # the sender owns (and unlinks) the block: this process only maps it
        resource_tracker.unregister(block._name, "shared_memory")
    except Exception:  # noqa: BLE001 (no tracker in this process)
        pass
    return _wrap(_array(block.buf, layout), requires_grad, cls, block, owner=False)


def _rebuild_by_fd(dupfd, nbytes, layout, requires_grad, cls):
    fd = dupfd.detach()
    try:
        mapping = mmap.mmap(fd, max(nbytes, 1))
    finally:
        os.close(fd)
    return _wrap(_array(mapping, layout), requires_grad, cls, _Mapping(mapping), owner=False)


def _array(buffer, layout):
    shape, dtype, strides, offset = layout
    return np.ndarray(shape, dtype=np.dtype(dtype), buffer=buffer, offset=offset, strides=strides)


def reduce_tensor(t):
    """``multiprocessing``'s reduction of a tensor: a handle to its shared memory, or a copy."""
    from ember.ops.shared_memory import shared_block
    block = shared_block(t) if t.device.type == "cpu" else None
    if block is None or not hasattr(block, "name"):
        return t.__reduce_ex__(2)
    data = np.asarray(t._data)
    offset = data.__array_interface__["data"][0] - np.frombuffer(block.buf, np.uint8).__array_interface__["data"][0]
    layout = (data.shape, data.dtype.str, data.strides, offset)
    cls = type(t) if type(t).__name__ != "Tensor" else None
    args = (block.size, layout, t.requires_grad, cls)
    if _STATE["strategy"] == "file_system":
        return _rebuild_by_name, (block.name,) + args
    return _rebuild_by_fd, (reduction.DupFd(block._fd),) + args


def register() -> None:
    """Install the tensor reductions in ``multiprocessing``'s pickler (as ``import torch.multiprocessing`` does)."""
    from ember.core.tensor import Tensor
    reduction.ForkingPickler.register(Tensor, reduce_tensor)
    try:
        from ember.nn.parameter import Parameter
    except ImportError:
        return
    reduction.ForkingPickler.register(Parameter, reduce_tensor)
