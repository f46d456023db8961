"""The rest of ``torch.distributed``'s c10d surface, over ember's MPI process groups: option
records for ProcessGroup's methods, point-to-point batches, object send/receive, coalesced
collectives, subgroups, backend configuration, debug levels and rendezvous handlers."""
from __future__ import annotations

import contextlib
import datetime
import enum
import os
import pickle
import warnings
from urllib.parse import parse_qs, urlparse

import numpy as np

from ember import distributed as _d
from ember.distributed._stores import DistStoreError, FileStore, TCPStore

GroupName = str          # a process group's name (PyTorch: a str type alias)
RankType = int           # a rank (PyTorch: int or SymInt)
default_pg_timeout = datetime.timedelta(minutes=30)
_UNSET = datetime.timedelta(milliseconds=-1)   # "use the group's timeout", as PyTorch's option records


def _logger():
    import logging
    return logging.getLogger("torch.distributed")


# ---------------------------------------------------------------- option records
class _Options:
    _fields: dict = {}

    def __init__(self):
        for name, default in self._fields.items():
            setattr(self, name, default() if callable(default) else default)
        self.timeout = _UNSET
        self.asyncOp = True

    def __repr__(self):
        body = ", ".join(f"{k}={getattr(self, k)!r}" for k in (*self._fields, "timeout", "asyncOp"))
        return f"{type(self).__name__}({body})"


def _opt_class(name, doc, **fields):
    return type(name, (_Options,), {"__doc__": doc, "_fields": fields, "__module__": __name__})


AllreduceOptions = _opt_class("AllreduceOptions", "Options of ProcessGroup.allreduce: reduceOp, timeout.",
                              reduceOp=lambda: _d.ReduceOp.SUM)
AllreduceCoalescedOptions = _opt_class("AllreduceCoalescedOptions",
                                       "Options of ProcessGroup.allreduce_coalesced: reduceOp, timeout.",
                                       reduceOp=lambda: _d.ReduceOp.SUM)
ReduceOptions = _opt_class("ReduceOptions", "Options of ProcessGroup.reduce: reduceOp, rootRank, rootTensor.",
                           reduceOp=lambda: _d.ReduceOp.SUM, rootRank=0, rootTensor=0)
BroadcastOptions = _opt_class("BroadcastOptions", "Options of ProcessGroup.broadcast: rootRank, rootTensor.",
                              rootRank=0, rootTensor=0)
AllgatherOptions = _opt_class("AllgatherOptions", "Options of ProcessGroup.allgather: timeout.")
GatherOptions = _opt_class("GatherOptions", "Options of ProcessGroup.gather: rootRank, timeout.", rootRank=0)
ScatterOptions = _opt_class("ScatterOptions", "Options of ProcessGroup.scatter: rootRank, timeout.", rootRank=0)
ReduceScatterOptions = _opt_class("ReduceScatterOptions", "Options of ProcessGroup.reduce_scatter: reduceOp.",
                                  reduceOp=lambda: _d.ReduceOp.SUM)
AllToAllOptions = _opt_class("AllToAllOptions", "Options of ProcessGroup.alltoall: timeout.")
BarrierOptions = _opt_class("BarrierOptions", "Options of ProcessGroup.barrier: device_ids, device, timeout.",
                            device_ids=list, device=None)


def _opts(value, cls, **given):
    """An option record from ``value`` (a record, a ReduceOp, or None) and keyword values."""
    if isinstance(value, _Options):
        return value
    o = cls()
    if isinstance(value, _d.ReduceOp):
        o.reduceOp = value
    for k, v in given.items():
        if v is not None:
            setattr(o, k, v)
    return o


def _with_timeout(work, opts):
    t = getattr(opts, "timeout", _UNSET)
    if work is not None and isinstance(t, datetime.timedelta) and t.total_seconds() > 0 and \
            hasattr(work, "_timeout"):
        work._timeout = t
    return work


def _single(tensors, what):
    if isinstance(tensors, (list, tuple)):
        if len(tensors) != 1:
            raise ValueError(f"ProcessGroup.{what}: expected one tensor per call (one device per process), "
                             f"got {len(tensors)}")
        return tensors[0]
    return tensors


class ProcessGroupOps:
    """The c10d methods of a ProcessGroup (``pg.allreduce([t], opts)`` ...); each returns a Work.

    Ranks given to these methods (``rootRank``, ``dstRank``, ``srcRank``) are ranks within the group.
    """

    def allreduce(self, tensors, opts=None, op=None):
        """All-reduce ``tensors`` (one tensor, or a list of one) in place.

        Args:
            tensors: the tensor(s).
            opts: an AllreduceOptions or a ReduceOp.
            op: a ReduceOp (instead of ``opts``).

        Returns:
            A Work.
        """
        o = _opts(opts if opts is not None else op, AllreduceOptions)
        return _with_timeout(_d.all_reduce(_single(tensors, "allreduce"), o.reduceOp, self, async_op=True), o)

    def allreduce_coalesced(self, tensors, opts=None):
        """All-reduce a list of tensors as one flat buffer.

        Args:
            tensors: the tensors (reduced in place).
            opts: an AllreduceCoalescedOptions.

        Returns:
            A Work.
        """
        o = _opts(opts, AllreduceCoalescedOptions)
        return _with_timeout(all_reduce_coalesced(list(tensors), o.reduceOp, self, async_op=True), o)

    def reduce(self, tensors, opts=None, root=None, op=None):
        """Reduce onto group rank ``opts.rootRank``.

        Args:
            tensors: the tensor(s).
            opts: a ReduceOptions.
            root: the root rank (instead of ``opts``).
            op: a ReduceOp (instead of ``opts``).

        Returns:
            A Work.
        """
        o = _opts(opts, ReduceOptions, rootRank=root, reduceOp=op)
        return _with_timeout(_d.reduce(_single(tensors, "reduce"), op=o.reduceOp, group=self, async_op=True,
                                       group_dst=o.rootRank), o)

    def broadcast(self, tensors, opts=None, root=None):
        """Broadcast from group rank ``opts.rootRank``.

        Args:
            tensors: the tensor(s).
            opts: a BroadcastOptions (or the root rank as an int).
            root: the root rank (instead of ``opts``).

        Returns:
            A Work.
        """
        if isinstance(opts, int):
            opts, root = None, opts
        o = _opts(opts, BroadcastOptions, rootRank=root)
        return _with_timeout(_d.broadcast(_single(tensors, "broadcast"), group=self, async_op=True,
                                          group_src=o.rootRank), o)

    def allgather(self, output_tensors, input_tensors, opts=None):
        """Gather every rank's input into ``output_tensors`` (a list of one list, or a list).

        Args:
            output_tensors: ``[[t_rank0, t_rank1, ...]]``.
            input_tensors: ``[t]``.
            opts: an AllgatherOptions.

        Returns:
            A Work.
        """
        o = _opts(opts, AllgatherOptions)
        outs = output_tensors[0] if output_tensors and isinstance(output_tensors[0], (list, tuple)) \
            else output_tensors
        return _with_timeout(_d.all_gather(list(outs), _single(input_tensors, "allgather"), self, True), o)

    def _allgather_base(self, output, input, opts=None):
        """All-gather into one tensor (``all_gather_into_tensor``).

        Args:
            output: the output tensor.
            input: this rank's input.
            opts: an AllgatherOptions.

        Returns:
            A Work.
        """
        return _with_timeout(_d.all_gather_into_tensor(output, input, self, True), _opts(opts, AllgatherOptions))

    allgather_into_tensor = _allgather_base

    def gather(self, output_tensors, input_tensors, opts=None):
        """Gather onto group rank ``opts.rootRank``.

        Args:
            output_tensors: ``[[t_rank0, ...]]`` on the root, ``[]`` elsewhere.
            input_tensors: ``[t]``.
            opts: a GatherOptions.

        Returns:
            A Work.
        """
        o = _opts(opts, GatherOptions)
        outs = output_tensors[0] if output_tensors and isinstance(output_tensors[0], (list, tuple)) \
            else output_tensors
        return _with_timeout(_d.gather(_single(input_tensors, "gather"), list(outs) or None, group=self,
                                       async_op=True, group_dst=o.rootRank), o)

    def scatter(self, output_tensors, input_tensors, opts=None):
        """Scatter from group rank ``opts.rootRank``.

        Args:
            output_tensors: ``[t]``.
            input_tensors: ``[[t_rank0, ...]]`` on the root, ``[]`` elsewhere.
            opts: a ScatterOptions.

        Returns:
            A Work.
        """
        o = _opts(opts, ScatterOptions)
        ins = input_tensors[0] if input_tensors and isinstance(input_tensors[0], (list, tuple)) else input_tensors
        return _with_timeout(_d.scatter(_single(output_tensors, "scatter"), list(ins) or None, group=self,
                                        async_op=True, group_src=o.rootRank), o)

    def reduce_scatter(self, output_tensors, input_tensors, opts=None):
        """Reduce, then scatter: ``input_tensors[0][i]`` summed over ranks lands on rank i.

        Args:
            output_tensors: ``[t]``.
            input_tensors: ``[[t_for_rank0, ...]]``.
            opts: a ReduceScatterOptions.

        Returns:
            A Work.
        """
        o = _opts(opts, ReduceScatterOptions)
        ins = input_tensors[0] if input_tensors and isinstance(input_tensors[0], (list, tuple)) else input_tensors
        return _with_timeout(_d.reduce_scatter(_single(output_tensors, "reduce_scatter"), list(ins), o.reduceOp,
                                               self, True), o)

    def _reduce_scatter_base(self, output, input, opts=None):
        """``reduce_scatter_tensor`` as a ProcessGroup method.

        Args:
            output: this rank's block.
            input: the whole input.
            opts: a ReduceScatterOptions.

        Returns:
            A Work.
        """
        o = _opts(opts, ReduceScatterOptions)
        return _with_timeout(_d.reduce_scatter_tensor(output, input, o.reduceOp, self, True), o)

    reduce_scatter_tensor = _reduce_scatter_base

    def alltoall(self, output_tensors, input_tensors, opts=None):
        """``all_to_all`` as a ProcessGroup method.

        Args:
            output_tensors: one tensor per rank.
            input_tensors: one tensor per rank.
            opts: an AllToAllOptions.

        Returns:
            A Work.
        """
        return _with_timeout(_d.all_to_all(list(output_tensors), list(input_tensors), self, True),
                             _opts(opts, AllToAllOptions))

    def alltoall_base(self, output, input, output_split_sizes, input_split_sizes, opts=None):
        """``all_to_all_single`` as a ProcessGroup method.

        Args:
            output: the received rows.
            input: the rows to send.
            output_split_sizes: rows from each rank (empty: equal).
            input_split_sizes: rows to each rank (empty: equal).
            opts: an AllToAllOptions.

        Returns:
            A Work.
        """
        return _with_timeout(_d.all_to_all_single(output, input, list(output_split_sizes) or None,
                                                  list(input_split_sizes) or None, self, True),
                             _opts(opts, AllToAllOptions))

    def barrier(self, opts=None):
        """A barrier over the group.

        Args:
            opts: a BarrierOptions.

        Returns:
            A Work.
        """
        return _with_timeout(_d.barrier(self, async_op=True), _opts(opts, BarrierOptions))

    def send(self, tensors, dstRank, tag=0):
        """Send to group rank ``dstRank``.

        Args:
            tensors: ``[t]``.
            dstRank: the receiver's rank in the group.
            tag: the message tag.

        Returns:
            A Work.
        """
        return _d.isend(_single(tensors, "send"), group=self, tag=tag, group_dst=dstRank)

    def recv(self, tensors, srcRank, tag=0):
        """Receive from group rank ``srcRank``.

        Args:
            tensors: ``[t]``.
            srcRank: the sender's rank in the group.
            tag: the message tag.

        Returns:
            A Work.
        """
        return _d.irecv(_single(tensors, "recv"), group=self, tag=tag, group_src=srcRank)

    def recv_anysource(self, tensors, tag=0):
        """Receive from whichever rank sends first.

        Args:
            tensors: ``[t]``.
            tag: the message tag.

        Returns:
            A Work.
        """
        return _d.irecv(_single(tensors, "recv"), group=self, tag=tag)

    def group_name(self):
        """The group's name (unique within the job).

        Returns:
            str.
        """
        return getattr(self, "_ember_name", "")

    @property
    def group_desc(self):
        """The description given when the group was made."""
        return getattr(self, "_ember_desc", "undefined")

    def _get_backend(self, device):
        """The backend object serving ``device`` (the group itself: one engine serves every device).

        Args:
            device: a device.

        Returns:
            This ProcessGroup.
        """
        return self

    def options(self):
        """The group's options (its timeout).

        Returns:
            An object with ``_timeout``.
        """
        return self


# ---------------------------------------------------------------- ProcessGroupGloo
def _gloo_class():
    class ProcessGroupGloo(_d.ProcessGroup):
        """The CPU process group PyTorch calls gloo; ember serves it with its MPI engine.

        Args:
            store: a Store the ranks rendezvous through (every rank signs in before any proceeds).
            rank: this process's rank.
            size: the number of ranks (the MPI job's size, or 1).
            timeout: the collectives' timeout.
        """

        def __init__(self, store, rank, size, timeout=default_pg_timeout):
            MPI = _d._mpi()
            job = MPI.COMM_WORLD
            if size != 1 and size != job.Get_size():
                raise RuntimeError(f"ProcessGroupGloo: size={size} but this process runs in an MPI job of "
                                   f"{job.Get_size()} process(es)")
            if not 0 <= rank < size:
                raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {size - 1}]")
            store.add("ember_gloo_rendezvous", 1)
            _wait_count(store, "ember_gloo_rendezvous", size, timeout)
            comm = MPI.COMM_SELF.Dup() if size == 1 else job.Split(0, rank)
            super().__init__(comm, range(size), _d.Backend("gloo"), timeout)
            self._store = store

        class Options:
            """Options of a gloo group: ``_timeout`` and ``_threads``."""

            def __init__(self, timeout=default_pg_timeout):
                self._timeout, self._threads = timeout, 2

        @staticmethod
        def create_device(hostname="", interface="", lazy_init=None):
            """A transport device description (the MPI engine chooses its own transport).

            Args:
                hostname: a host name.
                interface: a network interface.
                lazy_init: unused.

            Returns:
                A dict naming them.
            """
            return {"hostname": hostname, "interface": interface}

        @staticmethod
        def create_default_device(lazy_init=None):
            """The default transport device description.

            Returns:
                A dict.
            """
            return {"hostname": "", "interface": ""}
    ProcessGroupGloo.__module__ = "ember.distributed"
    ProcessGroupGloo.__qualname__ = "ProcessGroupGloo"
    return ProcessGroupGloo


def _wait_count(store, key, count, timeout):
    import time
    deadline = time.monotonic() + _d._seconds(timeout)
    while int(store.add(key, 0)) < count:
        if time.monotonic() > deadline:
            raise DistStoreError(f"Timed out waiting for {count} ranks to join through the store")
        time.sleep(0.005)


# ---------------------------------------------------------------- debug level
class DebugLevel(enum.IntEnum):
    """How much the distributed package checks and logs: OFF, INFO, DETAIL."""
    OFF = 0
    INFO = 1
    DETAIL = 2

    def __str__(self):
        return f"DebugLevel.{self.name}"

    __repr__ = __str__


_DEBUG = [DebugLevel.OFF]
_LOGGER_USED = [False]


def get_debug_level():
    """The current debug level.

    Returns:
        A DebugLevel.
    """
    return _DEBUG[0]


def set_debug_level(level):
    """Set the debug level (INFO logs process-group creation, DETAIL also every collective's call).

    Args:
        level: a DebugLevel.

    Returns:
        None.
    """
    _DEBUG[0] = DebugLevel(level)
    if _DEBUG[0] is DebugLevel.OFF and not _LOGGER_USED[0]:
        return   # nothing configured the logger yet: leave logging unimported
    _LOGGER_USED[0] = True
    import logging
    _logger().setLevel(logging.DEBUG if _DEBUG[0] is DebugLevel.DETAIL else
                       logging.INFO if _DEBUG[0] is DebugLevel.INFO else logging.NOTSET)


def set_debug_level_from_env():
    """Set the debug level from ``TORCH_DISTRIBUTED_DEBUG`` (OFF, INFO or DETAIL; unset: OFF).

    Returns:
        None.
    """
    value = os.environ.get("TORCH_DISTRIBUTED_DEBUG", "OFF").upper()
    if value not in DebugLevel.__members__:
        raise ValueError("The value of TORCH_DISTRIBUTED_DEBUG must be OFF, INFO, or DETAIL.")
    set_debug_level(DebugLevel[value])


def _log_group(group, ranks, backend):
    if _DEBUG[0] is not DebugLevel.OFF:
        _logger().info("made process group %s of ranks %s (backend %s)", group._ember_name, list(ranks), backend)


def _debug_call(what, group):
    if _DEBUG[0] is DebugLevel.DETAIL:
        _logger().debug("collective %s on %r (rank %d)", what, group, _d._STATE.rank)


# ---------------------------------------------------------------- comm naming
_COMM_NAME = [None]


@contextlib.contextmanager
def record_comm(name):
    """A context in which every collective's Work carries ``name`` as its profiling name.

    Args:
        name: the name (e.g. "FSDP::all_gather (layer1)").

    Yields:
        None.
    """
    previous, _COMM_NAME[0] = _COMM_NAME[0], name
    try:
        yield
    finally:
        _COMM_NAME[0] = previous


def _comm_name():
    return _COMM_NAME[0]


# ---------------------------------------------------------------- point to point
class P2POp:
    """One send or receive of a ``batch_isend_irecv`` batch.

    Args:
        op: ``isend`` or ``irecv`` (or ``send``/``recv``).
        tensor: the data or the output.
        peer: the other side's global rank.
        group: the process group.
        tag: the message tag.
        group_peer: ``peer`` as a rank within ``group``.
    """

    def __init__(self, op, tensor, peer=None, group=None, tag=0, group_peer=None):
        if op not in (_d.isend, _d.irecv, _d.send, _d.recv):
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type ``torch.distributed.isend`` or "
                             "``torch.distributed.irecv``.")
        if peer is None and group_peer is None:
            raise ValueError("Either peer or group_peer must be specified")
        self.op, self.tensor, self.peer, self.group, self.tag, self.group_peer = \
            op, tensor, peer, group, tag, group_peer

    def __repr__(self):
        return f"P2POp({self.op.__name__}, peer={self.peer}, group_peer={self.group_peer}, tag={self.tag})"


def batch_isend_irecv(p2p_op_list):
    """Start a batch of sends and receives together.

    Args:
        p2p_op_list: a list of P2POp (all with the same group).

    Returns:
        A list of Work handles, one per op.
    """
    if not p2p_op_list:
        raise ValueError("batch_isend_irecv: p2p_op_list is empty")
    if not all(isinstance(p, P2POp) for p in p2p_op_list):
        raise ValueError("Invalid ``p2p_op_list``. Each op is expected to to be of type "
                         "``torch.distributed.P2POp``.")
    groups = {id(p.group) for p in p2p_op_list}
    if len(groups) > 1:
        raise ValueError("All ops need to use the same group.")
    works = []
    for p in p2p_op_list:
        start = _d.isend if p.op in (_d.isend, _d.send) else _d.irecv
        kw = {"group_dst": p.group_peer} if start is _d.isend else {"group_src": p.group_peer}
        peer = p.peer if p.group_peer is None else None
        works.append(start(p.tensor, peer, p.group, p.tag, **kw))
    return works


_OBJ_TAG = 31007   # a tag of its own, so object messages never match a user's tensor receive


def send_object_list(object_list, dst=None, group=None, device=None, group_dst=None, use_batch=False):
    """Send the picklable objects of ``object_list`` to rank ``dst`` (which calls recv_object_list).

    Args:
        object_list: the objects.
        dst: the global rank receiving.
        group: the process group.
        device: unused (objects travel through host memory).
        group_dst: ``dst`` as a rank within ``group``.
        use_batch: accepted (the sizes and payload go as two messages either way).

    Returns:
        None.
    """
    g = _d._group(group)
    if not _d._check_member(g, "send_object_list"):
        return
    r = _d._peer(g, dst, group_dst, "send_object_list")
    blobs = [pickle.dumps(o) for o in object_list]
    sizes = np.array([len(b) for b in blobs], np.int64)
    payload = np.frombuffer(b"".join(blobs), np.uint8) if blobs else np.empty(0, np.uint8)
    _d.Work([g._comm.Isend(sizes, dest=r, tag=_OBJ_TAG)], None, g._timeout, "send_object_list").wait()
    _d.Work([g._comm.Isend(payload, dest=r, tag=_OBJ_TAG + 1)], None, g._timeout, "send_object_list").wait()


def recv_object_list(object_list, src=None, group=None, device=None, group_src=None, use_batch=False):
    """Receive objects sent by ``send_object_list`` into ``object_list`` (filled in place).

    Args:
        object_list: a list as long as the sender's.
        src: the global rank sending (None: any).
        group: the process group.
        device: unused.
        group_src: ``src`` as a rank within ``group``.
        use_batch: accepted.

    Returns:
        The sender's global rank.
    """
    g = _d._group(group)
    if not _d._check_member(g, "recv_object_list"):
        return -1
    MPI = _d._mpi()
    r = _d._peer(g, src, group_src, "recv_object_list")
    sizes = np.empty(len(object_list), np.int64)
    status = MPI.Status()
    req = g._comm.Irecv(sizes, source=MPI.ANY_SOURCE if r is None else r, tag=_OBJ_TAG)
    _d._wait_all([req], g._timeout, "recv_object_list", [status])
    sender = status.Get_source()
    payload = np.empty(int(sizes.sum()), np.uint8)
    _d._wait_all([g._comm.Irecv(payload, source=sender, tag=_OBJ_TAG + 1)], g._timeout, "recv_object_list")
    raw, offset = payload.tobytes(), 0
    for i, n in enumerate(sizes):
        object_list[i] = pickle.loads(raw[offset:offset + int(n)])
        offset += int(n)
    return g._ranks[sender]


# ---------------------------------------------------------------- coalesced and single collectives
def _chain(works, finish=None):
    """One Work that waits for ``works`` then runs ``finish``."""
    works = [w for w in works if w is not None]

    class _Chained(_d.Work):
        def is_completed(self):
            if not self._done and all(w.is_completed() for w in works):
                self._complete()
            return self._done

        def wait(self, timeout=None):
            if not self._done:
                for w in works:
                    w.wait(timeout)
                self._complete()
            return True
    return _Chained([], finish, None, "coalesced")


def all_reduce_coalesced(tensors, op=None, group=None, async_op=False):
    """All-reduce several tensors through one flat buffer (each reduced in place).

    Args:
        tensors: the tensors (one dtype).
        op: a ReduceOp (default SUM).
        group: the process group.
        async_op: return a Work handle instead of waiting.

    Returns:
        A Work handle when ``async_op``, else None.
    """
    import ember
    op = _d.ReduceOp.SUM if op is None else op
    if isinstance(tensors, ember.Tensor):
        tensors = [tensors]
    g = _d._group(group)
    if not _d._check_member(g, "all_reduce_coalesced") or not tensors:
        return None
    if len({t.dtype for t in tensors}) > 1:
        raise RuntimeError("all_reduce_coalesced: all tensors must have the same dtype, got "
                           f"{sorted(str(t.dtype) for t in tensors)}")
    flat = ember.cat([t.detach().reshape(-1).to(tensors[0].device) for t in tensors])
    work = _d.all_reduce(flat, op, g, async_op=True)

    def done():
        offset = 0
        with ember.no_grad():
            for t in tensors:
                t.copy_(flat[offset:offset + t.numel()].reshape(tuple(t.shape)).to(t.device))
                offset += t.numel()
    return _d._finish(_chain([work], done), async_op)


def all_gather_coalesced(output_tensor_lists, input_tensor_list, group=None, async_op=False):
    """Gather several tensors from every rank at once: ``output_tensor_lists[i][j]`` receives rank
    i's ``input_tensor_list[j]``.

    Args:
        output_tensor_lists: world-size lists, each shaped like ``input_tensor_list``.
        input_tensor_list: this rank's tensors (one dtype).
        group: the process group.
        async_op: return a Work handle instead of waiting.

    Returns:
        A Work handle when ``async_op``, else None.
    """
    import ember
    g = _d._group(group)
    if not _d._check_member(g, "all_gather_coalesced"):
        return None
    if len(output_tensor_lists) != g.size():
        raise RuntimeError(f"all_gather_coalesced: expected {g.size()} output lists, got "
                           f"{len(output_tensor_lists)}")
    for outs in output_tensor_lists:
        if len(outs) != len(input_tensor_list) or any(o.numel() != i.numel() for o, i in
                                                      zip(outs, input_tensor_list)):
            raise RuntimeError("all_gather_coalesced: each output list must match the input list's sizes")
    if len({t.dtype for t in input_tensor_list}) > 1:
        raise RuntimeError("all_gather_coalesced: all tensors must have the same dtype")
    flat = ember.cat([t.detach().reshape(-1).cpu() for t in input_tensor_list])
    out = ember.empty(flat.numel() * g.size(), dtype=flat.dtype)
    work = _d.all_gather_into_tensor(out, flat, g, async_op=True)

    def done():
        n = flat.numel()
        with ember.no_grad():
            for r, outs in enumerate(output_tensor_lists):
                offset = r * n
                for o in outs:
                    o.copy_(out[offset:offset + o.numel()].reshape(tuple(o.shape)).to(o.device))
                    offset += o.numel()
    return _d._finish(_chain([work], done), async_op)


def all_gather_single(output_tensor, input_tensor, group=None, async_op=False):
    """Gather same-sized inputs from every rank into one tensor (concatenated or stacked on dim 0).

    Args:
        output_tensor: world_size times the input's elements.
        input_tensor: this rank's input.
        group: the process group.
        async_op: return a Work handle instead of waiting.

    Returns:
        A Work handle when ``async_op``, else None.
    """
    return _d.all_gather_into_tensor(output_tensor, input_tensor, group, async_op)


def reduce_scatter_single(output, input, op=None, group=None, async_op=False):
    """Reduce ``input`` across ranks and scatter its dim-0 blocks: block i lands on rank i.

    Args:
        output: this rank's block.
        input: world_size times ``output``'s elements.
        op: a ReduceOp (default SUM).
        group: the process group.
        async_op: return a Work handle instead of waiting.

    Returns:
        A Work handle when ``async_op``, else None.
    """
    return _d.reduce_scatter_tensor(output, input, _d.ReduceOp.SUM if op is None else op, group, async_op)


def supports_complex(reduceOp):
    """Whether ``reduceOp`` is defined for complex tensors (all but MAX, MIN, BAND, BOR, BXOR).

    Args:
        reduceOp: a ReduceOp.

    Returns:
        bool.
    """
    R = _d.ReduceOp
    return reduceOp not in (R.MAX, R.MIN, R.BAND, R.BOR, R.BXOR)


class _reduce_op:
    """The deprecated ``reduce_op`` namespace: ``reduce_op.SUM`` and so on (use ReduceOp)."""

    def __getattr__(self, name):
        warnings.warn("`torch.distributed.reduce_op` is deprecated, please use `torch.distributed.ReduceOp` "
                      "instead", FutureWarning, stacklevel=2)
        return getattr(_d.ReduceOp, name)


reduce_op = _reduce_op()


# ---------------------------------------------------------------- subgroups
def new_subgroups_by_enumeration(ranks_per_subgroup_list, timeout=None, backend=None, pg_options=None,
                                 group_desc=None):
    """Make one group per list of ranks (disjoint lists); every rank must call it.

    Args:
        ranks_per_subgroup_list: lists of global ranks.
        timeout: the groups' timeout.
        backend: their backend.
        pg_options: unused by the MPI engine.
        group_desc: their description.

    Returns:
        ``(the group holding this rank or None, all groups this rank made)``.
    """
    if not ranks_per_subgroup_list:
        raise ValueError("The arg 'ranks_per_subgroup_list' cannot be empty")
    seen, mine, subgroups = {}, None, []
    for ranks in ranks_per_subgroup_list:
        for r in ranks:
            if r in seen:
                raise ValueError(f"Rank {r} has appeared in both subgroup {seen[r]} and {list(ranks)}")
            seen[r] = list(ranks)
        g = _d.new_group(ranks=list(ranks), timeout=timeout, backend=backend, pg_options=pg_options,
                         group_desc=group_desc)
        subgroups.append(g)
        if _d.get_rank() in ranks:
            mine = g
    return mine, subgroups


def new_subgroups(group_size=None, group=None, timeout=None, backend=None, pg_options=None, group_desc=None):
    """Split ``group`` (default: the world) into consecutive subgroups of ``group_size`` ranks.

    Args:
        group_size: ranks per subgroup (default: the CUDA device count, when there are GPUs).
        group: the group to split.
        timeout: the subgroups' timeout.
        backend: their backend.
        pg_options: unused.
        group_desc: their description.

    Returns:
        ``(this rank's subgroup, all subgroups)``.
    """
    if group_size is None:
        import ember
        if not ember.cuda.is_available():
            raise ValueError("Default group size only takes effect when CUDA is available. If your subgroup "
                             "uses a backend that does not depend on CUDA, please pass in 'group_size' "
                             "correctly.")
        group_size = ember.cuda.device_count()
    if group_size <= 0:
        raise ValueError(f"The arg 'group_size' ({group_size}) must be positive")
    ranks = _d.get_process_group_ranks(group)
    if len(ranks) < group_size:
        raise ValueError(f"The arg 'group_size' ({group_size}) must not exceed the world size ({len(ranks)})")
    if len(ranks) % group_size:
        raise ValueError(f"The world size ({len(ranks)}) must be divisible by 'group_size={group_size}'")
    return new_subgroups_by_enumeration([ranks[i:i + group_size] for i in range(0, len(ranks), group_size)],
                                        timeout=timeout, backend=backend, pg_options=pg_options,
                                        group_desc=group_desc)


def split_group(parent_pg=None, split_ranks=None, timeout=None, pg_options=None, group_desc=None, backend=None):
    """Split ``parent_pg`` into disjoint groups (every member of the parent calls it).

    Args:
        parent_pg: the group to split (default: the default group).
        split_ranks: lists of global ranks, one per new group.
        timeout: the new groups' timeout (default: the parent's).
        pg_options: unused.
        group_desc: the groups' description.
        backend: their backend (default: the parent's).

    Returns:
        The new group holding this rank, or None when no list names it.
    """
    if split_ranks is None or not split_ranks:
        raise ValueError("split_ranks cannot be None or empty")
    parent = _d._group(parent_pg)
    me = _d.get_rank()
    color, position = _d._mpi().UNDEFINED, 0
    seen = set()
    for i, ranks in enumerate(split_ranks):
        for r in ranks:
            if r in seen:
                raise ValueError(f"rank {r} appears in more than one split group")
            seen.add(r)
            if r not in parent._ranks:
                raise ValueError(f"rank {r} is not a member of the parent group")
        if me in ranks:
            color, position = i, sorted(ranks).index(me)
    comm = parent._comm.Split(color, position)
    if color == _d._mpi().UNDEFINED:
        return None
    ranks = sorted(split_ranks[color])
    return _named(_d._make_group(comm, ranks, _d.Backend(backend) if backend else parent._backend,
                                 timeout or parent._timeout), group_desc)


SHRINK_DEFAULT = 0
SHRINK_ABORT = 1


def shrink_group(ranks_to_exclude, group=None, shrink_flags=SHRINK_DEFAULT, pg_options=None):
    """A new group of ``group``'s ranks without ``ranks_to_exclude`` (which need not take part: only
    the remaining ranks call it, so failed ranks can be left behind).

    Args:
        ranks_to_exclude: global ranks to leave out.
        group: the group to shrink (default: the default group).
        shrink_flags: SHRINK_DEFAULT, or SHRINK_ABORT (also drop the old group's communicator here).
        pg_options: unused.

    Returns:
        The new ProcessGroup.
    """
    parent = _d._group(group)
    exclude = set(ranks_to_exclude)
    if not exclude:
        raise ValueError("ranks_to_exclude cannot be empty")
    for r in exclude:
        if r not in parent._ranks:
            raise ValueError(f"Rank {r} in ranks_to_exclude is not part of the group {parent._ranks}")
    if _d.get_rank() in exclude:
        raise ValueError(f"rank {_d.get_rank()} is in ranks_to_exclude: only the remaining ranks shrink")
    keep = [r for r in parent._ranks if r not in exclude]
    if not keep:
        raise ValueError("shrink_group would exclude every rank")
    # MPI_Comm_create_group is collective over the new group's members only
    members = parent._comm.Get_group().Incl([parent._ranks.index(r) for r in keep])
    comm = parent._comm.Create_group(members, tag=7311)
    g = _d._make_group(comm, keep, parent._backend, parent._timeout)
    if shrink_flags & SHRINK_ABORT:
        parent._comm = comm   # the old communicator is no longer used on this rank
    if parent is _d._STATE.world:
        # the shrunk group becomes the default one, as PyTorch's shrink of the world does
        _d._STATE.world, _d._STATE.world_size = g, len(keep)
        _d._STATE.rank = g.rank()
        _d.GroupMember.WORLD = g
    return g


def _named(group, desc):
    if group is not None and desc:
        group._ember_desc = desc
    return group


# ---------------------------------------------------------------- backends
_DEFAULT_DEVICE_BACKEND = {"cpu": "gloo", "cuda": "nccl", "xpu": "xccl", "mps": "gloo", "opencl": "gloo"}
_BACKEND_DEVICES = {"gloo": ("cpu", "cuda"), "mpi": ("cpu", "cuda"), "nccl": ("cuda",)}


class BackendConfig:
    """Which backend serves which device type for a process group.

    Args:
        backend: a backend name ("gloo"), a device map ("cpu:gloo,cuda:nccl") or "undefined".
    """

    def __init__(self, backend):
        name = str(backend).lower()
        if name == "undefined":
            self.device_backend_map = {d: b for d, b in _DEFAULT_DEVICE_BACKEND.items()
                                       if d in ("cpu", "cuda")}
        elif ":" not in name:
            if name not in _BACKEND_DEVICES:
                raise ValueError(f"Unknown backend type {backend}")
            self.device_backend_map = {d: name for d in _BACKEND_DEVICES[name]}
        else:
            self.device_backend_map = {}
            for part in name.split(","):
                device, _, b = part.partition(":")
                if not device or not b:
                    raise ValueError(f"Invalid backend string: {backend!r}; expected e.g. 'cpu:gloo,cuda:nccl'")
                self.device_backend_map[device.strip()] = b.strip()

    def get_device_backend_map(self):
        """The device type to backend name map.

        Returns:
            dict.
        """
        return dict(self.device_backend_map)

    def __repr__(self):
        return ",".join(f"{d}:{b}" for d, b in self.device_backend_map.items())


def get_backend_config(group=None):
    """The device-to-backend configuration of ``group``, as a string ("cpu:gloo,cuda:gloo").

    Args:
        group: a process group (default: the default group).

    Returns:
        str.
    """
    return str(BackendConfig(_d.get_backend(group)))


def get_default_backend_for_device(device):
    """The backend PyTorch uses by default for a device type ("cpu" -> "gloo", "cuda" -> "nccl").

    Args:
        device: a device or its type name.

    Returns:
        str.
    """
    kind = device.type if hasattr(device, "type") else str(device).split(":")[0]
    if kind not in _DEFAULT_DEVICE_BACKEND:
        raise ValueError(f"Default backend not registered for device : {kind}")
    return _DEFAULT_DEVICE_BACKEND[kind]


def is_backend_available(backend):
    """Whether ``backend`` ("gloo", "mpi", "nccl", ...) can be used here.

    Args:
        backend: a backend name.

    Returns:
        bool.
    """
    name = str(backend).lower()
    return {"gloo": _d.is_gloo_available, "mpi": _d.is_mpi_available,
            "nccl": _d.is_nccl_available}.get(name, lambda: False)()


def is_ucc_available():
    """Whether the UCC backend is available (never: ember has none).

    Returns:
        bool.
    """
    return False


def is_xccl_available():
    """Whether the XCCL (Intel XPU) backend is available (never: ember has no XPU backend).

    Returns:
        bool.
    """
    return False


def get_node_local_rank(fallback_rank=None):
    """This process's rank on its node (``LOCAL_RANK``, set by the launcher).

    Args:
        fallback_rank: returned when ``LOCAL_RANK`` is not set.

    Returns:
        int.
    """
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment. Consider passing fallback_rank to allow "
                       "`get_node_local_rank` to work, assuming you are not running in a multi-device "
                       "context and want the code to run locally instead.")


def get_pg_count():
    """How many process groups this process has made (the default group included).

    Returns:
        int.
    """
    return _d._STATE.pg_count


# ---------------------------------------------------------------- rendezvous
def _env_handler(url, **kwargs):
    q = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    rank = int(q.get("rank", kwargs.get("rank", os.environ.get("RANK", -1))))
    world = int(q.get("world_size", kwargs.get("world_size", os.environ.get("WORLD_SIZE", -1))))
    if rank < 0 or world < 0:
        raise ValueError("Error initializing torch.distributed using env:// rendezvous: environment variable "
                         f"{'RANK' if rank < 0 else 'WORLD_SIZE'} expected, but not set")
    addr, port = os.environ.get("MASTER_ADDR"), os.environ.get("MASTER_PORT")
    if addr is None or port is None:
        raise ValueError("Error initializing torch.distributed using env:// rendezvous: environment variable "
                         f"{'MASTER_ADDR' if addr is None else 'MASTER_PORT'} expected, but not set")
    timeout = kwargs.get("timeout", default_pg_timeout)
    store = TCPStore(addr, int(port), world, rank == 0, timeout)
    yield store, rank, world


def _tcp_handler(url, **kwargs):
    u = urlparse(url)
    q = {k: v[0] for k, v in parse_qs(u.query).items()}
    rank, world = int(q.get("rank", kwargs.get("rank", -1))), int(q.get("world_size", kwargs.get("world_size", -1)))
    if rank < 0 or world < 0:
        raise ValueError("Error initializing torch.distributed using tcp:// rendezvous: rank and world_size "
                         "must be given")
    store = TCPStore(u.hostname, u.port, world, rank == 0, kwargs.get("timeout", default_pg_timeout))
    yield store, rank, world


def _file_handler(url, **kwargs):
    u = urlparse(url)
    q = {k: v[0] for k, v in parse_qs(u.query).items()}
    rank, world = int(q.get("rank", kwargs.get("rank", -1))), int(q.get("world_size", kwargs.get("world_size", -1)))
    if rank < 0 or world < 0:
        raise ValueError("Error initializing torch.distributed using file:// rendezvous: rank and world_size "
                         "must be given")
    store = FileStore(u.path, world)
    yield store, rank, world


_HANDLERS = {"env": _env_handler, "tcp": _tcp_handler, "file": _file_handler}


def register_rendezvous_handler(scheme, handler):
    """Make ``rendezvous("<scheme>://...")`` (and ``init_process_group``'s init_method) use ``handler``.

    Args:
        scheme: the URL scheme.
        handler: ``handler(url, **kwargs)`` yielding ``(store, rank, world_size)``.

    Returns:
        None.
    """
    if scheme in _HANDLERS:
        raise RuntimeError(f"Rendezvous handler for {scheme}:// already registered")
    _HANDLERS[scheme] = handler


def rendezvous(url, rank=-1, world_size=-1, **kwargs):
    """The rendezvous of ``url``: an iterator of ``(store, rank, world_size)``.

    Args:
        url: "env://", "tcp://host:port", "file:///path" or a registered scheme's URL.
        rank: this process's rank (-1: from the URL or environment).
        world_size: the number of ranks (-1: from the URL or environment).
        **kwargs: passed to the handler (``timeout``).

    Returns:
        An iterator of (Store, int, int).
    """
    if not isinstance(url, str):
        raise RuntimeError(f"`url` must be a string. {type(url)}: {url}")
    scheme = urlparse(url).scheme
    if scheme not in _HANDLERS:
        raise RuntimeError(f"No rendezvous handler for {scheme}://")
    if rank != -1:
        kwargs["rank"] = rank
    if world_size != -1:
        kwargs["world_size"] = world_size
    return iter(_HANDLERS[scheme](url, **kwargs))


# ---------------------------------------------------------------- breakpoint
def breakpoint(rank=0, skip=0, timeout_s=3600):
    """Stop rank ``rank`` in pdb (reading the terminal) while the other ranks wait at a barrier.

    Args:
        rank: the rank that stops.
        skip: skip the first ``skip`` calls.
        timeout_s: how long the others wait.

    Returns:
        None.
    """
    count = _BREAKS[0] = _BREAKS[0] + 1
    if count <= skip:
        return
    if _d.get_rank() == rank:
        import pdb
        import sys
        previous = sys.stdin
        try:
            sys.stdin = open("/dev/tty")
        except OSError:
            pass
        try:
            pdb.Pdb().set_trace(sys._getframe(1))
        finally:
            if sys.stdin is not previous:
                sys.stdin.close()
                sys.stdin = previous
    _d.monitored_barrier(timeout=datetime.timedelta(seconds=timeout_s))


_BREAKS = [0]

__all__ = ["AllreduceOptions", "AllreduceCoalescedOptions", "ReduceOptions", "BroadcastOptions", "AllgatherOptions",
           "GatherOptions", "ScatterOptions", "ReduceScatterOptions", "AllToAllOptions", "BarrierOptions",
           "Store", "PrefixStore", "TCPStore", "FileStore", "DebugLevel", "get_debug_level", "set_debug_level",
           "set_debug_level_from_env", "P2POp", "batch_isend_irecv", "send_object_list", "recv_object_list",
           "all_gather_coalesced", "all_reduce_coalesced", "all_gather_single", "reduce_scatter_single",
           "new_subgroups", "new_subgroups_by_enumeration", "split_group", "shrink_group", "BackendConfig",
           "get_backend_config", "get_default_backend_for_device", "is_backend_available", "is_ucc_available",
           "is_xccl_available", "get_node_local_rank", "get_pg_count", "GroupName", "RankType",
           "default_pg_timeout", "reduce_op", "record_comm", "breakpoint", "register_rendezvous_handler",
           "rendezvous", "supports_complex"]
