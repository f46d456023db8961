"""The NCCL layer (ember/distributed/_nccl.py) in one process, without a GPU.

Ranks are threads. Each holds tensors on "ncclgpu", a stand-in GPU whose device arrays are
numpy arrays (so device pointers are real addresses), and talks through a stand-in of
``cupy.cuda.nccl`` whose communicator reads and writes those addresses with the pointer, count
and datatype arguments NCCL gets, meeting its peer threads at a barrier per collective. The
MPI communicator under each group is a stand-in too (it carries the unique id, and serves the
host path for what NCCL lacks). Every result is checked against numpy.
"""
from __future__ import annotations

import contextlib
import ctypes
import datetime
import itertools
import queue
import threading
import types

import numpy as np
import pytest
import scipy.special

import ember
import ember.distributed as dist
from ember.dispatch.backend import Backend
from ember.dispatch.hookspecs import hookimpl
from ember.core import autograd as ember_autograd
from ember.dispatch.registry import REGISTRY
from ember.distributed import _nccl
from ember.plugins.xp import XpKernels

DEV = "ncclgpu"
TIMEOUT = 20


# ---------------------------------------------------------------- a numpy "GPU"
class FakeGpu(Backend):
    """Device arrays are numpy arrays; every copy to the host is counted (NCCL must make none)."""
    device_type = DEV
    dispatch_key = "NcclGpu"
    name, version = "nccl-fake-gpu", "0"

    def __init__(self):
        self.to_host = 0

    def device_count(self):
        return 2

    def canonical_index(self, index):
        return 0 if index is None else index

    def from_numpy(self, array, index):
        return np.array(array, copy=True)

    def to_numpy(self, native):
        self.to_host += 1
        return native

    def normalize(self, native):
        return native if isinstance(native, np.ndarray) else np.asarray(native)


class FakeGpuPlugin:
    def __init__(self):
        self.backend = FakeGpu()

    @hookimpl
    def ember_backend(self):
        return self.backend

    @hookimpl
    def ember_kernels(self, backend):
        return XpKernels(np, scipy.special).kernels()


# ---------------------------------------------------------------- a stand-in of cupy.cuda.nccl
_DTYPES = {0: np.int8, 1: np.uint8, 2: np.int32, 3: np.uint32, 4: np.int64, 5: np.uint64, 6: np.float16,
           7: np.float32, 8: np.float64}
_REDUCE = {0: lambda a: a.sum(0), 1: lambda a: a.prod(0), 2: lambda a: a.max(0), 3: lambda a: a.min(0),
           4: lambda a: a.sum(0) / len(a)}


def _memory(ptr, count, datatype):
    dtype = np.dtype(_DTYPES[datatype])
    raw = (ctypes.c_uint8 * (count * dtype.itemsize)).from_address(ptr)
    return np.frombuffer(raw, dtype=dtype)


class _Clique:
    """The ranks of one communicator: a barrier per collective and mailboxes for send/recv."""

    def __init__(self, n):
        self.n = n
        self.barrier = threading.Barrier(n, timeout=TIMEOUT)
        self.slots = [None] * n
        self.boxes = {(a, b): queue.SimpleQueue() for a in range(n) for b in range(n)}

    def exchange(self, rank, payload):
        self.slots[rank] = payload
        self.barrier.wait()
        seen = list(self.slots)
        self.barrier.wait()   # nobody deposits the next collective's payload before all have read
        return seen


class FakeNccl(types.SimpleNamespace):
    """The functions and constants of ``cupy.cuda.nccl`` that the layer uses."""

    def __init__(self, version=21903):
        super().__init__(NCCL_INT8=0, NCCL_UINT8=1, NCCL_INT32=2, NCCL_UINT32=3, NCCL_INT64=4, NCCL_UINT64=5,
                         NCCL_FLOAT16=6, NCCL_FLOAT32=7, NCCL_FLOAT64=8, NCCL_SUM=0, NCCL_PROD=1, NCCL_MAX=2,
                         NCCL_MIN=3, NCCL_AVG=4)
        self.version, self.cliques, self.calls = version, {}, []
        self.lock, self.ids, self.local = threading.Lock(), itertools.count(), threading.local()
        nccl = self

        class NcclCommunicator:
            def __init__(self, ndev, uid, rank):
                with nccl.lock:
                    self.clique = nccl.cliques.setdefault(uid, _Clique(ndev))
                self.rank, self.destroyed = rank, False

            def _log(self, name, stream):
                nccl.calls.append((name, self.rank, stream))

            def allReduce(self, send, recv, count, datatype, op, stream):
                self._log("allReduce", stream)
                parts = self.clique.exchange(self.rank, _memory(send, count, datatype).copy())
                _memory(recv, count, datatype)[:] = _REDUCE[op](np.stack(parts))

            def reduce(self, send, recv, count, datatype, op, root, stream):
                self._log("reduce", stream)
                parts = self.clique.exchange(self.rank, _memory(send, count, datatype).copy())
                if self.rank == root:
                    _memory(recv, count, datatype)[:] = _REDUCE[op](np.stack(parts))

            def broadcast(self, send, recv, count, datatype, root, stream):
                self._log("broadcast", stream)
                mine = _memory(send, count, datatype).copy() if self.rank == root else None
                _memory(recv, count, datatype)[:] = self.clique.exchange(self.rank, mine)[root]

            def allGather(self, send, recv, count, datatype, stream):
                self._log("allGather", stream)
                parts = self.clique.exchange(self.rank, _memory(send, count, datatype).copy())
                _memory(recv, count * self.clique.n, datatype)[:] = np.concatenate(parts)

            def reduceScatter(self, send, recv, count, datatype, op, stream):
                self._log("reduceScatter", stream)
                parts = self.clique.exchange(self.rank, _memory(send, count * self.clique.n, datatype).copy())
                total = _REDUCE[op](np.stack(parts))
                _memory(recv, count, datatype)[:] = total[self.rank * count:(self.rank + 1) * count]

            def send(self, send, count, datatype, peer, stream):
                self._log("send", stream)
                data = _memory(send, count, datatype).copy()
                box = self.clique.boxes[(self.rank, peer)]
                if getattr(nccl.local, "group", None) is not None:
                    nccl.local.group.append(lambda: box.put(data))
                else:
                    box.put(data)

            def recv(self, recv, count, datatype, peer, stream):
                self._log("recv", stream)
                box = self.clique.boxes[(peer, self.rank)]

                def take():
                    _memory(recv, count, datatype)[:] = box.get(timeout=TIMEOUT)
                if getattr(nccl.local, "group", None) is not None:
                    nccl.local.group.append(take)
                else:
                    take()

            def destroy(self):
                self.destroyed = True

        self.NcclCommunicator = NcclCommunicator

    def get_unique_id(self):
        return (next(self.ids),) * 4

    def get_version(self):
        return self.version

    def groupStart(self):
        self.local.group = []

    def groupEnd(self):
        ops, self.local.group = self.local.group, None
        # as NCCL, a group's sends and receives progress together: post the sends, then take
        for op in sorted(ops, key=lambda f: f.__name__ == "take"):
            op()


class FakeEvent:
    def __init__(self, log):
        self.done, self.log = True, log

    def synchronize(self):
        self.log.append("synchronize")


class FakeRuntime:
    """The runtime interface of _nccl over the stand-ins; records which stream each op used."""
    device_types = (DEV,)

    def __init__(self, nccl):
        self.nccl, self.events = nccl, []
        self.stream = types.SimpleNamespace(ptr=0xC0DA)

    def pointer(self, native):
        assert isinstance(native, np.ndarray) and native.flags.c_contiguous
        return native.ctypes.data

    def current_stream(self):
        return self.stream

    def record(self, stream):
        assert stream is self.stream
        return FakeEvent(self.events)

    def use_device(self, index):
        return contextlib.nullcontext()

    def current_device(self):
        return 0


# ---------------------------------------------------------------- a stand-in MPI communicator
class FakeMPI:
    """The few names of mpi4py.MPI that the host path's all_reduce uses."""
    IN_PLACE = object()
    SUM, PROD, MIN, MAX, BAND, BOR, BXOR = "SUM", "PROD", "MIN", "MAX", "BAND", "BOR", "BXOR"
    THREAD_MULTIPLE = 3

    class Request:
        @staticmethod
        def Testall(requests, statuses=None):
            return True


_NP_OPS = {"SUM": np.add, "PROD": np.multiply, "MIN": np.minimum, "MAX": np.maximum, "BAND": np.bitwise_and,
           "BOR": np.bitwise_or, "BXOR": np.bitwise_xor}


class FakeComm:
    """One rank's MPI communicator: object broadcast and Iallreduce through a shared clique."""

    def __init__(self, clique, rank):
        self.clique, self.rank, self.host_ops = clique, rank, []

    def Get_rank(self):
        return self.rank

    def Get_size(self):
        return self.clique.n

    def bcast(self, obj, root=0):
        return self.clique.exchange(self.rank, obj)[root]

    def Iallreduce(self, send, recv, op):
        self.host_ops.append(op)
        mine = (recv if send is FakeMPI.IN_PLACE else send).copy()
        recv[...] = _NP_OPS[op].reduce(np.stack(self.clique.exchange(self.rank, mine)), axis=0)
        return object()


# ---------------------------------------------------------------- fixtures and the rank runner
class _ThreadGradMode(type(ember_autograd.GRAD_MODE)):
    """ember's grad mode is one process-wide flag; ranks that are threads each need their own
    (their no_grad blocks interleave), as PyTorch's thread-local grad mode would give them."""
    __slots__ = ()
    _local = threading.local()
    enabled = property(lambda self: getattr(self._local, "enabled", True),
                       lambda self, v: setattr(self._local, "enabled", v))
    inference = property(lambda self: getattr(self._local, "inference", False),
                         lambda self, v: setattr(self._local, "inference", v))


@pytest.fixture(scope="module")
def gpu():
    if DEV not in REGISTRY.backends:
        REGISTRY.register_plugin(FakeGpuPlugin(), "nccl-fake-gpu")
    return REGISTRY.backend(DEV)


@pytest.fixture
def nccl(monkeypatch, gpu):
    fake = FakeNccl()
    runtime = FakeRuntime(fake)
    previous = _nccl.set_runtime(runtime)
    monkeypatch.setattr(dist._STATE, "world", object())   # "initialised": every call names its group
    monkeypatch.setattr(dist, "_mpi", lambda: FakeMPI)
    monkeypatch.setattr(ember_autograd.GRAD_MODE, "__class__", _ThreadGradMode)
    yield runtime
    _nccl.set_runtime(previous)


def run_ranks(n, fn, backend="nccl"):
    """Run ``fn(rank, group)`` on n threads, each with its own group over one clique; their results."""
    clique = _Clique(n)
    results, errors = [None] * n, []

    def rank_main(r):
        try:
            comm = FakeComm(clique, r)
            g = dist._make_group(comm, range(n), dist.Backend(backend), datetime.timedelta(seconds=TIMEOUT))
            results[r] = fn(r, g)
        except BaseException as e:   # reported by the main thread
            errors.append(e)
            clique.barrier.abort()

    threads = [threading.Thread(target=rank_main, args=(r,)) for r in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 2)
    if errors:
        raise errors[0]
    return results


def rank_data(r, shape, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed + r)
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if np.dtype(dtype).kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    if np.dtype(dtype).kind == "b":
        return rng.random(shape) < 0.3
    return rng.integers(-9, 10, shape).astype(dtype)


def on_gpu(a):
    return ember.from_numpy(np.ascontiguousarray(a)).to(DEV)


# ---------------------------------------------------------------- tests
N = 3
REFS = {dist.ReduceOp.SUM: lambda a: a.sum(0), dist.ReduceOp.AVG: lambda a: a.mean(0),
        dist.ReduceOp.PRODUCT: lambda a: a.prod(0), dist.ReduceOp.MIN: lambda a: a.min(0),
        dist.ReduceOp.MAX: lambda a: a.max(0)}


@pytest.mark.parametrize("version", [21903, 20708])   # with ncclAvg, and before it (sum, then divide)
def test_all_reduce_every_op_on_device_memory(nccl, gpu, version):
    nccl.nccl.version = version
    inputs = [rank_data(r, (4, 5)) for r in range(N)]
    host_before = gpu.to_host

    def body(r, g):
        out = {}
        for op in REFS:
            t = on_gpu(inputs[r])
            assert dist.all_reduce(t, op=op, group=g) is None
            out[op] = t
        return out
    results = run_ranks(N, body)
    assert gpu.to_host == host_before   # nothing went through host memory
    for op, ref in REFS.items():
        want = ref(np.stack(inputs).astype(np.float64))
        for r in range(N):
            np.testing.assert_allclose(results[r][op].cpu().numpy(), want, rtol=1e-5, atol=1e-6, err_msg=str(op))
    ops = {c[0] for c in nccl.nccl.calls}
    assert ops == {"allReduce"} and {c[2] for c in nccl.nccl.calls} == {nccl.stream.ptr}


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.complex64, np.float16])
def test_all_reduce_dtypes(nccl, dtype):
    inputs = [rank_data(r, (7,), dtype) for r in range(N)]
    results = run_ranks(N, lambda r, g: (dist.all_reduce(t := on_gpu(inputs[r]), group=g), t)[1])
    stack = np.stack(inputs)
    want = stack.any(0) if dtype is np.bool_ else stack.astype(np.complex128 if dtype is np.complex64
                                                               else np.float64).sum(0)
    for t in results:
        got = t.cpu().numpy()
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_allclose(got, want, rtol=2e-3 if dtype is np.float16 else 1e-6)


def test_integer_avg_raises_as_the_host_path(nccl):
    def body(r, g):
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type Long"):
            dist.all_reduce(on_gpu(np.arange(3)), op=dist.ReduceOp.AVG, group=g)
    run_ranks(2, body)


def test_non_contiguous_tensor_is_reduced_in_place(nccl):
    inputs = [rank_data(r, (3, 4)) for r in range(N)]

    def body(r, g):
        base = on_gpu(inputs[r])
        dist.all_reduce(base.t(), group=g)   # a transposed view: staged, reduced, written back
        return base
    for t in run_ranks(N, body):
        np.testing.assert_allclose(t.cpu().numpy(), np.stack(inputs).sum(0), rtol=1e-5)


def test_broadcast_reduce_and_gathers(nccl):
    inputs = [rank_data(r, (2, 3)) for r in range(N)]
    stack = np.stack(inputs)

    def body(r, g):
        b = on_gpu(inputs[r])
        dist.broadcast(b, src=1, group=g)
        red = on_gpu(inputs[r])
        dist.reduce(red, dst=2, op=dist.ReduceOp.MAX, group=g)
        lst = [ember.empty(2, 3, device=DEV) for _ in range(N)]
        dist.all_gather(lst, on_gpu(inputs[r]), group=g)
        cat = ember.empty(N * 2, 3, device=DEV)
        dist.all_gather_into_tensor(cat, on_gpu(inputs[r]), group=g)
        return b, red, lst, cat
    for r, (b, red, lst, cat) in enumerate(run_ranks(N, body)):
        np.testing.assert_array_equal(b.cpu().numpy(), inputs[1])
        np.testing.assert_array_equal(red.cpu().numpy(), stack.max(0) if r == 2 else inputs[r])
        for j in range(N):
            np.testing.assert_array_equal(lst[j].cpu().numpy(), inputs[j])
        np.testing.assert_array_equal(cat.cpu().numpy(), stack.reshape(N * 2, 3))


def test_reduce_scatters(nccl):
    inputs = [rank_data(r, (N * 4,)) for r in range(N)]
    total = np.stack(inputs).astype(np.float64).sum(0)

    def body(r, g):
        out = ember.empty(4, device=DEV)
        dist.reduce_scatter_tensor(out, on_gpu(inputs[r]), op=dist.ReduceOp.AVG, group=g)
        out2 = ember.empty(4, device=DEV)
        dist.reduce_scatter(out2, [on_gpu(p) for p in inputs[r].reshape(N, 4)], group=g)
        return out, out2
    for r, (avg, summed) in enumerate(run_ranks(N, body)):
        np.testing.assert_allclose(avg.cpu().numpy(), total[r * 4:(r + 1) * 4] / N, rtol=1e-5)
        np.testing.assert_allclose(summed.cpu().numpy(), total[r * 4:(r + 1) * 4], rtol=1e-5)


def test_all_to_all_and_point_to_point(nccl):
    # rank i sends i + j + 1 values to rank j
    def piece(i, j):
        return np.arange(i + j + 1, dtype=np.float64) + 10 * i + 100 * j

    def body(r, g):
        outs = [ember.empty(j + r + 1, dtype=ember.float64, device=DEV) for j in range(N)]
        dist.all_to_all(outs, [on_gpu(piece(r, j)) for j in range(N)], group=g)
        single = ember.empty(N * 2, device=DEV)
        dist.all_to_all_single(single, on_gpu(np.arange(N * 2, dtype=np.float32) + 10 * r), group=g)
        got = ember.zeros(3, device=DEV)
        if r == 0:
            dist.send(on_gpu(np.array([1.0, 2.0, 3.0], np.float32)), dst=1, group=g)
            work = dist.isend(on_gpu(np.array([4.0, 5.0, 6.0], np.float32)), dst=2, group=g)
            work.wait()
        elif r == 1:
            assert dist.recv(got, src=0, group=g) == 0
        else:
            work = dist.irecv(got, src=0, group=g)
            assert work.wait() and work.is_completed()
        return outs, single, got
    for r, (outs, single, got) in enumerate(run_ranks(N, body)):
        for j in range(N):
            np.testing.assert_array_equal(outs[j].cpu().numpy(), piece(j, r))
        want = np.concatenate([np.arange(N * 2, dtype=np.float32)[2 * r:2 * r + 2] + 10 * j for j in range(N)])
        np.testing.assert_array_equal(single.cpu().numpy(), want)
        np.testing.assert_array_equal(got.cpu().numpy(), [[0, 0, 0], [1, 2, 3], [4, 5, 6]][r])
    assert {"send", "recv"} <= {c[0] for c in nccl.nccl.calls}


def test_async_work_synchronizes_the_stream_and_barrier(nccl):
    inputs = [rank_data(r, (5,)) for r in range(2)]

    def body(r, g):
        t = on_gpu(inputs[r])
        work = dist.all_reduce(t, group=g, async_op=True)
        assert isinstance(work, dist.Work)
        assert work.wait() is True and work.is_completed()
        assert work.result() == [t]
        dist.barrier(group=g)
        return t
    results = run_ranks(2, body)
    for t in results:
        np.testing.assert_allclose(t.cpu().numpy(), inputs[0] + inputs[1], rtol=1e-6)
    assert nccl.events.count("synchronize") == 4   # each rank's wait() and its barrier


def test_cpu_tensor_on_an_nccl_group_raises(nccl):
    def body(r, g):
        with pytest.raises(RuntimeError, match="No backend type associated with device type cpu"):
            dist.all_reduce(ember.ones(2), group=g)
        with pytest.raises(RuntimeError, match="device type cpu"):
            dist.broadcast(ember.ones(2), src=0, group=g)
    run_ranks(2, body)


def test_what_nccl_lacks_takes_the_host_path(nccl, gpu):
    inputs = [rank_data(r, (6,), np.int32) for r in range(N)]
    shorts = [rank_data(r, (6,), np.int16) for r in range(N)]

    def body(r, g):
        a = on_gpu(inputs[r])
        dist.all_reduce(a, op=dist.ReduceOp.BAND, group=g)   # no bitwise reductions in NCCL
        s = on_gpu(shorts[r])
        dist.all_reduce(s, group=g)                           # no 16-bit integer type in NCCL
        return a, s, g._comm.host_ops
    for a, s, host_ops in run_ranks(N, body):
        np.testing.assert_array_equal(a.cpu().numpy(), np.bitwise_and.reduce(np.stack(inputs), axis=0))
        np.testing.assert_array_equal(s.cpu().numpy(), np.stack(shorts).sum(0).astype(np.int16))
        assert host_ops == ["BAND", "SUM"]
    assert not nccl.nccl.calls


def test_default_backend_routes_by_device_and_creates_the_communicator_at_first_use(nccl):
    inputs = [rank_data(r, (4,)) for r in range(2)]

    def body(r, g):
        assert g._nccl is None                  # nothing created before a GPU collective
        c = ember.from_numpy(inputs[r].copy())
        dist.all_reduce(c, group=g)             # a CPU tensor: the MPI engine
        assert g._nccl is None and g._comm.host_ops == ["SUM"]
        d = on_gpu(inputs[r])
        dist.all_reduce(d, group=g)             # a GPU tensor: NCCL
        assert g._nccl is not None
        return c, d
    for c, d in run_ranks(2, body, backend="cpu:gloo,cuda:nccl"):
        np.testing.assert_allclose(c.numpy(), inputs[0] + inputs[1], rtol=1e-6)
        np.testing.assert_allclose(d.cpu().numpy(), inputs[0] + inputs[1], rtol=1e-6)
    assert [c[0] for c in nccl.nccl.calls] == ["allReduce", "allReduce"]


def test_unique_id_from_rank_zero_and_one_communicator_per_group(nccl):
    def body(r, g):
        assert g._nccl.rank == r and g._nccl.size == 3 and g._nccl.has_avg
        return g._nccl.comm.clique
    cliques = run_ranks(3, body)
    assert cliques[0] is cliques[1] is cliques[2] and len(nccl.nccl.cliques) == 1
    run_ranks(2, lambda r, g: None)
    assert len(nccl.nccl.cliques) == 2    # a second group, a second communicator


def test_ddp_averages_gpu_gradients_through_nccl(nccl, gpu):
    from ember.nn.parallel import DistributedDataParallel as DDP
    rng = np.random.default_rng(5)
    w0 = [rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(3).astype(np.float32)]
    xs = [rng.standard_normal((6, 4)).astype(np.float32) for _ in range(2)]

    def body(r, g):
        m = ember.nn.Linear(4, 3).to(DEV)
        if r == 0:
            with ember.no_grad():
                m.weight.copy_(on_gpu(w0[0]))
                m.bias.copy_(on_gpu(w0[1]))
        ddp = DDP(m, process_group=g, bucket_cap_mb=0.00003)   # rank 0's values broadcast; two buckets
        (ddp(on_gpu(xs[r])) ** 2).sum().backward()
        assert g._comm.host_ops == []   # averaged by NCCL in device memory, not by MPI on the host
        return m.weight.grad.cpu().numpy(), m.bias.grad.cpu().numpy()
    results = run_ranks(2, body)
    # d/dW sum((xW^T + b)^2) = 2 (xW^T + b)^T x, averaged over the ranks' batches
    outs = [x.astype(np.float64) @ w0[0].T + w0[1] for x in xs]
    want_w = np.mean([2 * o.T @ x for o, x in zip(outs, xs)], axis=0)
    want_b = np.mean([2 * o.sum(0) for o in outs], axis=0)
    for gw, gb in results:
        np.testing.assert_allclose(gw, want_w, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(gb, want_b, rtol=1e-5, atol=1e-5)
    calls = [c[0] for c in nccl.nccl.calls]
    assert calls.count("allReduce") == 4 and calls.count("broadcast") == 4   # 2 buckets, 2 tensors, 2 ranks


def test_cupy_runtime_adapter(monkeypatch):
    # the real runtime's calls, against a stand-in of the cupy module
    import sys
    stream = types.SimpleNamespace(ptr=77, record=lambda: "event")
    nccl_mod = types.SimpleNamespace(available=True)
    cuda = types.SimpleNamespace(nccl=nccl_mod, get_current_stream=lambda: stream,
                                 Device=lambda index=None: types.SimpleNamespace(id=3 if index is None else index))
    for name, module in (("cupy", types.SimpleNamespace(cuda=cuda)), ("cupy.cuda", cuda), ("cupy.cuda.nccl", nccl_mod)):
        monkeypatch.setitem(sys.modules, name, module)
    rt = _nccl.CupyRuntime()
    assert rt.nccl is nccl_mod and rt.device_types == ("cuda", "rocm")
    assert rt.pointer(types.SimpleNamespace(data=types.SimpleNamespace(ptr=0x1234))) == 0x1234
    assert rt.current_stream() is stream and rt.record(stream) == "event"
    assert rt.current_device() == 3 and rt.use_device(1).id == 1
    nccl_mod.available = False
    with pytest.raises(RuntimeError, match="without NCCL"):
        _nccl.CupyRuntime()
