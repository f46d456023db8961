"""NCCL (CUDA) / RCCL (ROCm) collectives for GPU tensors, through CuPy's bindings (``cupy.cuda.nccl``).

A process group whose backend names "nccl" gets one ``NcclCommunicator`` (created on rank 0's
unique id, which travels over the group's MPI communicator). Collectives run on the tensors'
device memory, with no host staging, on the current CuPy stream; an async Work handle records
an event on that stream and ``wait()`` synchronizes it. What NCCL has no operation for
(bitwise reductions, 16-bit integer reductions, gather/scatter, receive-from-any, object
collectives) returns ``None`` here and the caller takes the MPI host path, with the same results.

Everything device-specific goes through a small runtime object (``CupyRuntime``): the nccl
module, a native array's device pointer, the current stream, events, the current device. Tests
install a stand-in (``set_runtime``) that implements it over numpy in one process.
"""
from __future__ import annotations

import numpy as np

import ember

from . import ReduceOp, Work, _torch_name

__all__ = ["CupyRuntime", "NcclCommunicator", "NcclWork", "available", "get_runtime", "set_runtime", "route"]


class CupyRuntime:
    """CuPy's side of the NCCL layer (the real one; tests substitute their own)."""
    device_types = ("cuda", "rocm")

    def __init__(self):
        import cupy
        from cupy.cuda import nccl
        if not getattr(nccl, "available", True):
            raise RuntimeError("CuPy was built without NCCL/RCCL (cupy.cuda.nccl is not available)")
        self.cupy, self.nccl = cupy, nccl

    def pointer(self, native):
        """The device address of a native (cupy) array."""
        return native.data.ptr

    def current_stream(self):
        """The current stream (an object with ``.ptr``)."""
        return self.cupy.cuda.get_current_stream()

    def record(self, stream):
        """An event recorded on ``stream`` (with ``synchronize()`` and ``done``)."""
        return stream.record()

    def use_device(self, index):
        """A context manager making device ``index`` current."""
        return self.cupy.cuda.Device(index)

    def current_device(self):
        """The current device's index."""
        return self.cupy.cuda.Device().id


_RUNTIME = []


def get_runtime():
    """The NCCL runtime (CuPy's unless ``set_runtime`` installed another); raises when unavailable."""
    if not _RUNTIME:
        _RUNTIME.append(CupyRuntime())
    return _RUNTIME[0]


def set_runtime(runtime):
    """Install ``runtime`` (None: back to CuPy's, found at next use); returns the previous one or None."""
    previous = _RUNTIME[0] if _RUNTIME else None
    _RUNTIME.clear()
    if runtime is not None:
        _RUNTIME.append(runtime)
    return previous


def available():
    """Whether NCCL can run: an installed runtime, or CuPy with NCCL and a CUDA/ROCm device."""
    if _RUNTIME:
        return True
    try:
        import ember.cuda
        if not ember.cuda.is_available():
            return False
        get_runtime()
    except Exception:
        return False
    return True


class NcclWork(Work):
    """An NCCL operation queued on a stream: ``wait()`` synchronizes the event recorded after it."""

    def __init__(self, event, what, result=None):
        super().__init__([], lambda: None, None, what, result)   # a finish step may be chained on
        self._event = event

    def is_completed(self):
        """Whether the device has finished the operation.

        Returns:
            bool.
        """
        if not self._done and bool(self._event.done):
            self._complete()
        return self._done

    def wait(self, timeout=None):
        """Block until the device finished the operation.

        Args:
            timeout: accepted for compatibility (the device wait has no limit).

        Returns:
            True.
        """
        if not self._done:
            self._event.synchronize()
            self._complete()
        return True


# numpy dtype name -> the nccl module's datatype constant (reductions need the real type)
_TYPES = {"int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "int32": "NCCL_INT32", "uint32": "NCCL_UINT32",
          "int64": "NCCL_INT64", "uint64": "NCCL_UINT64", "float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32",
          "float64": "NCCL_FLOAT64", "bfloat16": "NCCL_BFLOAT16"}
_OPS = {ReduceOp.SUM: "NCCL_SUM", ReduceOp.PRODUCT: "NCCL_PROD", ReduceOp.MIN: "NCCL_MIN",
        ReduceOp.MAX: "NCCL_MAX", ReduceOp.AVG: "NCCL_AVG"}


class _Buffer:
    """A tensor's device memory as one contiguous native array; a staged copy, written back by
    ``finish()`` (on the same stream), when the tensor is not contiguous."""

    def __init__(self, t):
        self.t = t
        d = t.detach()
        native = d._data
        self.staged = not (d.is_contiguous() and native.flags.c_contiguous)
        if self.staged:
            d = d.contiguous()
            native = d._data
        self.tensor, self.native = d, native

    def finish(self):
        if self.staged:
            with ember.no_grad():
                self.t.copy_(self.tensor)


class NcclCommunicator:
    """One process group's NCCL communicator, and the collectives on it.

    Args:
        mpi_comm: the group's MPI communicator (carries rank 0's NCCL unique id to the others).
        device_index: the GPU this rank's communicator uses.
        runtime: the NCCL runtime (default: ``get_runtime()``).
    """

    def __init__(self, mpi_comm, device_index, runtime=None):
        self.rt = runtime or get_runtime()
        nccl = self.rt.nccl
        self.rank, self.size = mpi_comm.Get_rank(), mpi_comm.Get_size()
        uid = nccl.get_unique_id() if self.rank == 0 else None
        uid = mpi_comm.bcast(uid, root=0)
        self.device = device_index
        with self.rt.use_device(device_index):
            self.comm = nccl.NcclCommunicator(self.size, uid, self.rank)
        version = getattr(nccl, "get_version", lambda: 0)()
        # ncclAvg is in NCCL 2.10 and later; before, AVG is a sum divided on the device
        self.has_avg = hasattr(nccl, "NCCL_AVG") and version >= 21000

    def destroy(self):
        """Release the communicator."""
        if self.comm is not None:
            self.comm.destroy()
            self.comm = None

    # ------------------------------------------------------------ plumbing
    def _check(self, tensors, what):
        for t in tensors:
            if t.device.type not in self.rt.device_types:
                raise RuntimeError(f"No backend type associated with device type {t.device.type}")
            if (t.device.index or 0) != self.device:
                raise RuntimeError(f"{what}: tensor on {t.device} but this rank's NCCL communicator uses "
                                   f"device {self.device} (call set_device before init_process_group)")

    def _dtype(self, name):
        attr = _TYPES.get(name)
        return getattr(self.rt.nccl, attr) if attr and hasattr(self.rt.nccl, attr) else None

    def _bytes(self):
        return self.rt.nccl.NCCL_UINT8

    def _plan(self, dtype, op):
        """(nccl datatype, nccl op, elements per element, divide after) for a reduction, or None."""
        if not isinstance(op, ReduceOp):
            raise TypeError(f"op must be a ReduceOp, got {op!r}")
        if op is ReduceOp.PREMUL_SUM:
            raise ValueError("PREMUL_SUM is only reachable through _make_nccl_premul_sum, as in PyTorch")
        name, kind = dtype.name, dtype.kind
        if op is ReduceOp.AVG and kind in "biu":
            raise RuntimeError(f"result type Float can't be cast to the desired output type {_torch_name(dtype)}")
        if kind == "c" and op in (ReduceOp.MIN, ReduceOp.MAX):
            raise RuntimeError(f"{op.name} is not supported for complex tensors")
        if op not in _OPS:
            return None     # bitwise ops: NCCL has none
        per = 1
        if kind == "b":
            # bools as bytes: sum is logical or, product logical and (PyTorch's NCCL mapping)
            name = "uint8"
            op = {ReduceOp.SUM: ReduceOp.MAX, ReduceOp.PRODUCT: ReduceOp.MIN}.get(op, op)
        elif kind == "c":
            if op is ReduceOp.PRODUCT:
                return None     # a complex product is not elementwise on the real view
            name, per = ("float32" if dtype.itemsize == 8 else "float64"), 2   # sums on the real view
        nt = self._dtype(name)
        if nt is None:
            return None
        divide = op is ReduceOp.AVG and not self.has_avg
        nop = getattr(self.rt.nccl, _OPS[ReduceOp.SUM if divide else op])
        return nt, nop, per, divide

    def _done(self, stream, what, result):
        return NcclWork(self.rt.record(stream), what, result)

    # ------------------------------------------------------------ collectives
    def all_reduce(self, tensor, op):
        """All-reduce ``tensor`` in place; a Work, or None when NCCL lacks ``op`` for its dtype."""
        self._check([tensor], "all_reduce")
        b = _Buffer(tensor)
        plan = self._plan(b.native.dtype, op)
        if plan is None:
            return None
        nt, nop, per, divide = plan
        stream = self.rt.current_stream()
        ptr = self.rt.pointer(b.native)
        self.comm.allReduce(ptr, ptr, b.native.size * per, nt, nop, stream.ptr)
        if divide:
            b.native /= self.size
        b.finish()
        return self._done(stream, "all_reduce", [tensor])

    def reduce(self, tensor, root, op):
        """Reduce ``tensor`` into group rank ``root``'s ``tensor``; a Work, or None (unsupported)."""
        self._check([tensor], "reduce")
        b = _Buffer(tensor)
        plan = self._plan(b.native.dtype, op)
        if plan is None:
            return None
        nt, nop, per, divide = plan
        stream = self.rt.current_stream()
        ptr = self.rt.pointer(b.native)
        self.comm.reduce(ptr, ptr, b.native.size * per, nt, nop, root, stream.ptr)
        if self.rank == root:
            if divide:
                b.native /= self.size
            b.finish()
        return self._done(stream, "reduce", [tensor])

    def broadcast(self, tensor, root):
        """Copy group rank ``root``'s ``tensor`` into every rank's."""
        self._check([tensor], "broadcast")
        b = _Buffer(tensor)
        stream = self.rt.current_stream()
        ptr = self.rt.pointer(b.native)
        self.comm.broadcast(ptr, ptr, b.native.nbytes, self._bytes(), root, stream.ptr)
        if self.rank != root:
            b.finish()
        return self._done(stream, "broadcast", [tensor])

    def all_gather_into_tensor(self, output, input):
        """Every rank's ``input`` concatenated, in rank order, into ``output``."""
        self._check([output, input], "all_gather_into_tensor")
        src, out = _Buffer(input), _Buffer(output)
        stream = self.rt.current_stream()
        self.comm.allGather(self.rt.pointer(src.native), self.rt.pointer(out.native), src.native.nbytes,
                            self._bytes(), stream.ptr)
        out.finish()
        return self._done(stream, "all_gather_into_tensor", [output])

    def all_gather(self, tensor_list, tensor):
        """Every rank's ``tensor`` into ``tensor_list[rank]``."""
        self._check([tensor, *tensor_list], "all_gather")
        flat = ember.empty((self.size,) + tuple(tensor.shape), dtype=tensor.dtype, device=tensor.device)
        work = self.all_gather_into_tensor(flat, tensor)
        with ember.no_grad():
            for t, part in zip(tensor_list, flat.unbind(0)):
                t.copy_(part.reshape(tuple(t.shape)))
        work._result = tensor_list
        return work

    def reduce_scatter_tensor(self, output, input, op):
        """Reduce ``input`` (``size`` blocks) across ranks; block ``rank`` lands in ``output``."""
        self._check([output, input], "reduce_scatter_tensor")
        src, out = _Buffer(input), _Buffer(output)
        plan = self._plan(src.native.dtype, op)
        if plan is None:
            return None
        nt, nop, per, divide = plan
        stream = self.rt.current_stream()
        self.comm.reduceScatter(self.rt.pointer(src.native), self.rt.pointer(out.native), out.native.size * per,
                                nt, nop, stream.ptr)
        if divide:
            out.native /= self.size
        out.finish()
        return self._done(stream, "reduce_scatter_tensor", [output])

    def reduce_scatter(self, output, input_list, op):
        """Reduce ``input_list[i]`` across ranks into ``output`` on rank i."""
        self._check([output, *input_list], "reduce_scatter")
        if self._plan(np.dtype(output._data.dtype), op) is None:
            return None
        flat = ember.cat([t.detach().reshape(-1) for t in input_list])
        return self.reduce_scatter_tensor(output, flat, op)

    def all_to_all(self, outputs, inputs):
        """``inputs[j]`` to rank j, rank j's into ``outputs[j]``: grouped sends and receives."""
        self._check([*outputs, *inputs], "all_to_all")
        srcs, outs = [_Buffer(t) for t in inputs], [_Buffer(t) for t in outputs]
        stream = self.rt.current_stream()
        nccl = self.rt.nccl
        nccl.groupStart()
        try:
            for peer in range(self.size):
                self.comm.send(self.rt.pointer(srcs[peer].native), srcs[peer].native.nbytes, self._bytes(), peer,
                               stream.ptr)
                self.comm.recv(self.rt.pointer(outs[peer].native), outs[peer].native.nbytes, self._bytes(), peer,
                               stream.ptr)
        finally:
            nccl.groupEnd()
        for o in outs:
            o.finish()
        return self._done(stream, "all_to_all", list(outputs))

    def send(self, tensor, peer):
        """Send ``tensor`` to group rank ``peer``."""
        self._check([tensor], "send")
        b = _Buffer(tensor)
        stream = self.rt.current_stream()
        self.comm.send(self.rt.pointer(b.native), b.native.nbytes, self._bytes(), peer, stream.ptr)
        return self._done(stream, "send", [tensor])

    def recv(self, tensor, peer):
        """Receive into ``tensor`` from group rank ``peer``."""
        self._check([tensor], "recv")
        b = _Buffer(tensor)
        stream = self.rt.current_stream()
        self.comm.recv(self.rt.pointer(b.native), b.native.nbytes, self._bytes(), peer, stream.ptr)
        b.finish()
        return self._done(stream, "recv", [tensor])

    def barrier(self):
        """A one-element all-reduce on the device: every rank has reached it once it completes."""
        one = ember.ones(1, dtype=ember.float32, device=f"{self.rt.device_types[0]}:{self.device}")
        return self.all_reduce(one, ReduceOp.SUM)


def attach(group, backend, device_id=None):
    """Give ``group`` its NCCL side if ``backend`` names nccl: created now when nccl is the only
    backend or ``device_id`` is given (every rank is in the creating call), else at the group's
    first collective on a GPU tensor."""
    group._nccl, group._nccl_mode = None, None
    if "nccl" not in backend:
        return
    parts = [p.split(":")[-1] for p in backend.split(",")]
    group._nccl_mode = "only" if all(p == "nccl" for p in parts) else "lazy"
    if group._nccl_mode == "only" or device_id is not None:
        rt = get_runtime()
        if device_id is not None:
            index = ember.device(device_id).index if not isinstance(device_id, int) else device_id
            index = rt.current_device() if index is None else index
        else:
            index = rt.current_device()
        group._nccl = NcclCommunicator(group._comm, index, rt)


def route(group, tensors, collective=True):
    """The group's communicator if ``tensors`` go through NCCL, None for the MPI path; raises for
    a non-GPU tensor on an nccl-only group, as PyTorch's."""
    mode = getattr(group, "_nccl_mode", None)
    if mode is None or not tensors:
        return None
    rt = get_runtime()
    gpu = [t.device.type in rt.device_types for t in tensors]
    if not all(gpu):
        if mode == "only":
            bad = next(t for t, g in zip(tensors, gpu) if not g)
            raise RuntimeError(f"No backend type associated with device type {bad.device.type}")
        return None
    if group._nccl is None:
        if not collective:
            return None     # point-to-point before the first collective: the peers alone cannot create it
        group._nccl = NcclCommunicator(group._comm, tensors[0].device.index or 0, rt)
    return group._nccl
