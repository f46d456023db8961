"""``ember.cuda.nccl`` (``torch.cuda.nccl``): NCCL collectives across the GPUs of one process,
through CuPy's NCCL binding. Each collective takes one tensor per GPU (on distinct GPUs)."""
from __future__ import annotations

from ember.cuda import _common

__all__ = ["all_reduce", "reduce", "broadcast", "all_gather", "reduce_scatter"]

SUM = 0  # ncclSum, the default reduction


def _nccl():
    _common.cupy()
    try:
        from cupy.cuda import nccl
    except ImportError:
        nccl = None
    if nccl is None or not getattr(nccl, "available", False):
        raise RuntimeError("NCCL is not available: install it for CuPy (pip install nvidia-nccl-cu12)")
    return nccl


def is_available(tensors) -> bool:
    """Whether NCCL can run a collective over ``tensors``: dense, contiguous cuda tensors on distinct GPUs.

    Args:
        tensors: a sequence of tensors.

    Returns:
        A bool.
    """
    try:
        _nccl()
    except RuntimeError:
        return False
    devices = set()
    for t in tensors:
        if not t.is_cuda or not t.is_contiguous() or t.get_device() in devices:
            return False
        devices.add(t.get_device())
    return True


def version() -> tuple:
    """NCCL's version.

    Returns:
        ``(major, minor, patch)``.
    """
    v = int(_nccl().get_version())
    return (v // 10000, (v // 100) % 100, v % 100) if v >= 10000 else (v // 1000, (v // 100) % 10, v % 100)


def unique_id() -> bytes:
    """A new NCCL unique id, for ``init_rank``.

    Returns:
        The id's bytes.
    """
    return bytes(_nccl().get_unique_id())


def init_rank(num_ranks: int, uid, rank: int):
    """A communicator for ``rank`` of ``num_ranks``, joined through ``uid`` from ``unique_id()``.

    Returns:
        A ``cupy.cuda.nccl.NcclCommunicator``.
    """
    return _nccl().NcclCommunicator(num_ranks, tuple(uid), rank)


_TYPES = {"float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64", "float16": "NCCL_FLOAT16",
          "bfloat16": "NCCL_BFLOAT16", "int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "int32": "NCCL_INT32",
          "int64": "NCCL_INT64", "bool": "NCCL_UINT8"}


def _plan(tensors, streams, comms):
    nccl = _nccl()
    tensors = list(tensors)
    if not tensors or not is_available(tensors):
        raise RuntimeError("NCCL collectives need dense, contiguous cuda tensors, one per distinct GPU")
    dtype = tensors[0].dtype
    if any(t.dtype is not dtype for t in tensors):
        raise RuntimeError("NCCL collectives need tensors of one dtype")
    devices = [t.get_device() for t in tensors]
    comms = comms if comms is not None else nccl.NcclCommunicator.initAll(devices)
    cp = _common.cupy()
    streams = streams if streams is not None else [None] * len(tensors)
    ptrs = [cp.cuda.Stream.null.ptr if s is None else s.cuda_stream for s in streams]
    return nccl, comms, devices, ptrs, getattr(nccl, _TYPES[dtype.name])


def _ptr(t) -> int:
    return int(t._data.data.ptr)


def _grouped(nccl, devices, work):
    import cupy
    nccl.groupStart()
    try:
        for i, device in enumerate(devices):
            with cupy.cuda.Device(device):
                work(i)
    finally:
        nccl.groupEnd()


def all_reduce(inputs, outputs=None, op: int = SUM, streams=None, comms=None) -> None:
    """Reduce ``inputs`` elementwise and write the result to every output (default: in place).

    Args:
        inputs: one tensor per GPU.
        outputs: where each GPU's result goes (default: ``inputs``).
        op: NCCL's reduction (0 sum, 1 prod, 2 max, 3 min, 4 avg).
        streams: one stream per GPU (default: the null streams).
        comms: communicators from a previous call (default: new ones).
    """
    outputs = inputs if outputs is None else outputs
    nccl, comms, devices, ptrs, kind = _plan(inputs, streams, comms)
    _grouped(nccl, devices, lambda i: comms[i].allReduce(_ptr(inputs[i]), _ptr(outputs[i]), inputs[i].numel(),
                                                         kind, op, ptrs[i]))


def reduce(inputs, output=None, root: int = 0, op: int = SUM, streams=None, comms=None, *, outputs=None) -> None:
    """Reduce ``inputs`` elementwise into ``output`` on GPU ``root`` (default: ``inputs[root]``).

    Args:
        inputs: one tensor per GPU.
        output: the result's tensor on the root GPU.
        root: the index (in ``inputs``) of the root.
        op: NCCL's reduction.
        streams: one stream per GPU.
        comms: communicators from a previous call.
        outputs: one tensor per GPU, the root's taking the result (PyTorch's older form).
    """
    out = output if output is not None else outputs[root] if outputs is not None else inputs[root]
    nccl, comms, devices, ptrs, kind = _plan(inputs, streams, comms)
    _grouped(nccl, devices, lambda i: comms[i].reduce(_ptr(inputs[i]), _ptr(out) if i == root else _ptr(inputs[i]),
                                                      inputs[i].numel(), kind, op, root, ptrs[i]))


def broadcast(inputs, root: int = 0, streams=None, comms=None) -> None:
    """Copy ``inputs[root]`` into every other tensor of ``inputs``.

    Args:
        inputs: one tensor per GPU.
        root: the index of the source.
        streams: one stream per GPU.
        comms: communicators from a previous call.
    """
    nccl, comms, devices, ptrs, kind = _plan(inputs, streams, comms)
    _grouped(nccl, devices, lambda i: comms[i].bcast(_ptr(inputs[i]), inputs[i].numel(), kind, root, ptrs[i]))


def all_gather(inputs, outputs, streams=None, comms=None) -> None:
    """Concatenate ``inputs`` (in order) into every output.

    Args:
        inputs: one tensor per GPU.
        outputs: one tensor per GPU, each ``len(inputs)`` times an input's size.
        streams: one stream per GPU.
        comms: communicators from a previous call.
    """
    nccl, comms, devices, ptrs, kind = _plan(inputs, streams, comms)
    _grouped(nccl, devices, lambda i: comms[i].allGather(_ptr(inputs[i]), _ptr(outputs[i]), inputs[i].numel(),
                                                         kind, ptrs[i]))


def reduce_scatter(inputs, outputs, op: int = SUM, streams=None, comms=None) -> None:
    """Reduce ``inputs`` elementwise and give GPU i the i-th block of the result.

    Args:
        inputs: one tensor per GPU.
        outputs: one tensor per GPU, each ``1 / len(inputs)`` of an input.
        op: NCCL's reduction.
        streams: one stream per GPU.
        comms: communicators from a previous call.
    """
    nccl, comms, devices, ptrs, kind = _plan(inputs, streams, comms)
    _grouped(nccl, devices, lambda i: comms[i].reduceScatter(_ptr(inputs[i]), _ptr(outputs[i]),
                                                             outputs[i].numel(), kind, op, ptrs[i]))
