"""``ember.distributed``: process groups and collectives on MPI (mpi4py), with PyTorch's API.

The engine is MPI: ranks are the processes of one MPI job, started by ``emberrun`` /
``python -m ember.distributed.run`` (which runs them under the ``mpiexec`` of the mpich wheel),
by ``mpiexec -n N python train.py`` directly, or by ``ember.multiprocessing.spawn``. The backend
names PyTorch's users write ("gloo", "mpi") are both served by it; tensors on other devices
(opencl, mps) are staged through host memory. An "nccl" group (the default for CUDA/ROCm when
CuPy has NCCL/RCCL) runs CUDA/ROCm tensors' collectives on the device (``_nccl.py``), the
rest on MPI. Every wait polls a non-blocking MPI request
against the group's timeout, so a collective that a peer never joins raises instead of hanging.
"""
from __future__ import annotations

import datetime
import enum
import os
import pickle
import sys
import time
from urllib.parse import urlparse

import numpy as np

__all__ = ["is_available", "init_process_group", "is_initialized", "is_mpi_available", "is_gloo_available",
           "is_nccl_available", "is_torchelastic_launched", "get_rank", "get_world_size", "get_backend",
           "destroy_process_group", "new_group", "barrier", "ReduceOp", "Backend", "ProcessGroup", "Work", "GradBucket",
           "group", "GroupMember", "DistBackendError", "all_reduce", "reduce", "broadcast", "all_gather",
           "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor", "all_to_all",
           "all_to_all_single", "gather", "scatter", "send", "recv", "isend", "irecv", "all_gather_object",
           "broadcast_object_list", "gather_object", "scatter_object_list", "get_process_group_ranks",
           "get_global_rank", "get_group_rank", "monitored_barrier"]

_DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)


def _mpi():
    from mpi4py import MPI
    return MPI


def is_available():
    """Whether the distributed package can run here (mpi4py and an MPI library are installed).

    Returns:
        bool.
    """
    if "mpi4py.MPI" in sys.modules:
        return True
    # found without importing mpi4py.MPI: importing it starts MPI in this process
    import importlib.util
    try:
        return importlib.util.find_spec("mpi4py.MPI") is not None
    except ImportError:
        return False


def is_mpi_available():
    """Whether the "mpi" backend is available (the MPI engine is installed).

    Returns:
        bool.
    """
    return is_available()


def is_gloo_available():
    """Whether the "gloo" backend is available (served by the MPI engine).

    Returns:
        bool.
    """
    return is_available()


def is_nccl_available():
    """Whether the "nccl" backend is available: CUDA devices and CuPy's NCCL bindings.

    Returns:
        bool.
    """
    from . import _nccl
    return _nccl.available()


def is_torchelastic_launched():
    """Whether this process was started by the launcher (``emberrun``), as torchrun's check.

    Returns:
        bool.
    """
    return os.environ.get("TORCHELASTIC_RUN_ID") is not None


from ember.distributed._errors import DistError, DistNetworkError, DistStoreError, QueueEmptyError  # noqa: E402


class _ProcessGroupOps:
    """The c10d methods of a ProcessGroup (``pg.allreduce([t], opts)`` ...), defined in ``_c10d`` and
    looked up there on first use, so that ``import ember`` does not compile them."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        from ember.distributed._c10d import ProcessGroupOps
        attr = ProcessGroupOps.__dict__.get(name)
        if attr is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return attr.__get__(self, type(self))


class DistBackendError(DistError):
    """A collective failed in the engine (e.g. it timed out waiting for a peer)."""


class ReduceOp(enum.Enum):
    """How a reducing collective combines the ranks' values."""
    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7
    PREMUL_SUM = 8

    def __repr__(self):
        return f"<RedOpType.{self.name}: {self.value}>"

    def __str__(self):
        return f"RedOpType.{self.name}"


class Backend(str):
    """A backend name, normalised to lower case ("gloo", "mpi", "nccl")."""
    GLOO = "gloo"
    MPI = "mpi"
    NCCL = "nccl"
    UNDEFINED = "undefined"

    def __new__(cls, name: str):
        if not isinstance(name, str):
            raise ValueError("Backend constructor parameter must be string-ish")
        return super().__new__(cls, name.lower())


class GradBucket:
    """A bucket of gradients handed to a DDP communication hook (``register_comm_hook``)."""

    def __init__(self, index, buffer, params, offsets, is_last):
        self._index, self._buffer, self._params, self._offsets, self._last = index, buffer, params, offsets, is_last

    def index(self) -> int:
        """The bucket's index (0 holds the last parameters, the first a backward produces)."""
        return self._index

    def buffer(self):
        """The bucket's gradients as one flat tensor, in ``parameters()`` order."""
        return self._buffer

    def set_buffer(self, buffer) -> None:
        """Replace the flat gradient tensor."""
        self._buffer = buffer

    def gradients(self) -> list:
        """Views of ``buffer()``, one per parameter, shaped like the parameters."""
        return [self._buffer[off:off + p.numel()].view(tuple(p.shape)) for p, off in zip(self._params, self._offsets)]

    def parameters(self) -> list:
        """The parameters whose gradients the bucket holds."""
        return list(self._params)

    def is_last(self) -> bool:
        """Whether this is the last bucket of the iteration."""
        return self._last


class Work:
    """The handle of an asynchronous operation: ``wait()`` blocks until it is done."""

    def __init__(self, requests, finish=None, timeout=None, what="operation", result=None):
        self._requests = list(requests)
        self._finish = finish
        self._timeout = timeout
        from ember.distributed._c10d import _comm_name, _debug_call
        self._what = _comm_name() or what   # record_comm's name, when one is active
        _debug_call(self._what, None)
        self._done = False
        self._result = result

    def is_completed(self):
        """Whether the operation has finished (finishing it if its requests all have).

        Returns:
            bool.
        """
        if not self._done and _mpi().Request.Testall(self._requests):
            self._complete()
        return self._done

    def is_success(self):
        """Whether the operation finished without error.

        Returns:
            bool.
        """
        return self.is_completed()

    def wait(self, timeout=None):
        """Block until the operation finished, raising DistBackendError past the timeout.

        Args:
            timeout: a ``datetime.timedelta`` (default: the group's timeout).

        Returns:
            True.
        """
        if not self._done:
            limit = timeout if timeout is not None else self._timeout
            _wait_all(self._requests, limit, self._what)
            self._complete()
        return True

    def result(self):
        """The output tensors of the operation (after waiting for it).

        Returns:
            A list of tensors.
        """
        self.wait()
        return self._result if self._result is not None else []

    def get_future(self):
        """An ``ember.futures.Future`` completed with the operation's output tensors (a list).

        Returns:
            A Future; waiting on it waits for the operation.
        """
        from ember.futures import from_waiter
        return from_waiter(self.result)

    def _complete(self):
        self._done = True
        if self._finish is not None:
            finish, self._finish = self._finish, None
            finish()


def _seconds(timeout):
    if timeout is None:
        return None
    return timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else float(timeout)


class _Waiter:
    """A thread that blocks in MPI's Waitall (which drives MPI's progress far faster than
    polling Test from Python) while the caller waits on an event with a timeout."""

    def __init__(self):
        import queue
        import threading
        self.jobs = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name="ember-distributed-waiter", daemon=True)
        self.thread.start()

    def _loop(self):
        MPI = _mpi()
        while True:
            requests, statuses, done = self.jobs.get()
            try:
                MPI.Request.Waitall(requests, statuses)
            except Exception:  # a cancelled or failed request: the caller reports it
                pass
            done.set()


_WAITER = None
_SPIN_SECONDS = 200e-6


def _wait_all(requests, timeout, what, statuses=None):
    global _WAITER
    MPI = _mpi()
    if not requests or MPI.Request.Testall(requests, statuses):
        return
    # a short spin first: small messages finish within tens of microseconds, less than the
    # hand-off to the waiter thread costs; large ones go to the thread (polling from Python
    # slows MPI's progress)
    deadline = time.perf_counter() + _SPIN_SECONDS
    while time.perf_counter() < deadline:
        if MPI.Request.Testall(requests, statuses):
            return
    limit = _seconds(timeout)
    if MPI.Query_thread() != MPI.THREAD_MULTIPLE:
        MPI.Request.Waitall(requests, statuses)   # no second MPI thread possible: wait without a limit
        return
    import threading
    if _WAITER is None:
        _WAITER = _Waiter()
    done = threading.Event()
    _WAITER.jobs.put((requests, statuses, done))
    if not done.wait(limit):
        for r in requests:
            try:
                r.Cancel()   # completes a receive; a collective stays stuck, as the group now is
            except Exception:
                pass
        raise DistBackendError(f"{what} timed out after {limit:g} seconds waiting for the other ranks "
                               f"(rank {_STATE.rank} of {_STATE.world_size})")


# ---------------------------------------------------------------- process groups
class ProcessGroup(_ProcessGroupOps):
    """A set of ranks that run collectives together, over one MPI communicator."""

    def __init__(self, comm, ranks, backend, timeout):
        self._comm = comm
        self._ranks = list(ranks)       # global rank of each group rank
        self._backend = backend
        self._timeout = timeout
        self._nccl = self._nccl_mode = None   # the NCCL communicator of an "nccl" group (_nccl.attach)

    def rank(self):
        """This process's rank in the group.

        Returns:
            int.
        """
        return self._comm.Get_rank()

    def size(self):
        """The number of ranks in the group.

        Returns:
            int.
        """
        return self._comm.Get_size()

    def name(self):
        """The backend's name.

        Returns:
            str.
        """
        return str(self._backend)

    def __repr__(self):
        return f"ProcessGroup(backend={self._backend!r}, ranks={self._ranks})"


class _NonMember:
    def __repr__(self):
        return "GroupMember.NON_GROUP_MEMBER"


class GroupMember:
    """Sentinels: ``WORLD`` (the default group) and ``NON_GROUP_MEMBER``."""
    WORLD = None
    NON_GROUP_MEMBER = _NonMember()


class _GroupNamespace:
    """``dist.group.WORLD``: the default process group once initialised."""

    @property
    def WORLD(self):
        return _STATE.world


group = _GroupNamespace()


class _State:
    def __init__(self):
        self.world = None
        self.rank = -1
        self.world_size = -1
        self.backend = None
        self.hook_installed = False
        self.pg_count = 0


_STATE = _State()


def _backend_for(backend, device_id):
    if backend is None:
        # as PyTorch's default: NCCL for CUDA tensors (when it can run), gloo for the rest
        backend = "nccl" if (device_id is not None and "cuda" in str(device_id)) else \
            ("cpu:gloo,cuda:nccl" if is_nccl_available() else "gloo")
    name = Backend(backend)
    for part in name.split(","):
        if part.split(":")[-1] not in ("gloo", "mpi", "nccl"):
            raise AssertionError(f"Unknown backend type {backend}")  # the class PyTorch raises
    if "nccl" in name and not is_nccl_available():
        raise RuntimeError("Distributed package doesn't have NCCL built in")
    return name


def _env_int(name, method):
    value = os.environ.get(name)
    if value is None:
        raise ValueError(f"Error initializing torch.distributed using {method} rendezvous: environment "
                         f"variable {name} expected, but not set")
    return int(value)


def _abort_on_uncaught(comm):
    # a rank that dies with an exception ends the whole MPI job instead of leaving its peers
    # blocked in a collective (mpiexec only cleans up after an abnormal exit)
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        sys.stderr.flush()
        comm.Abort(1)
    sys.excepthook = hook


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Join the default process group of the job.

    Args:
        backend: "gloo" or "mpi" (the MPI engine), "nccl" (CUDA/ROCm tensors on the device, through
            CuPy's NCCL/RCCL), or per device ("cpu:gloo,cuda:nccl", the default where NCCL can run;
            else "gloo"; "nccl" when ``device_id`` is a CUDA device).
        init_method: "env://" (RANK/WORLD_SIZE from the environment, or the MPI job's own),
            "tcp://host:port" or "file://path" (rank and world_size then given).
        timeout: a ``datetime.timedelta`` after which a collective raises (default 30 minutes).
        world_size: the number of ranks (default: from the environment or the MPI job).
        rank: this process's rank (default: from the environment or the MPI job).
        store: a Store every rank signs in to before the group is made (a rendezvous barrier; the
            MPI job connects the ranks).
        group_name: unused, as in PyTorch.
        pg_options: unused by the MPI engine.
        device_id: the device this rank uses; picks "nccl" for a CUDA device, whose NCCL
            communicator is then created at once (else at the first collective on a GPU tensor).

    Returns:
        None.
    """
    if _STATE.world is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if timeout is not None and not isinstance(timeout, datetime.timedelta):
        raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got {timeout}")
    name = _backend_for(backend, device_id)
    MPI = _mpi()
    job = MPI.COMM_WORLD
    if store is None and init_method is None:
        init_method = "env://"
    if init_method is not None:
        scheme = urlparse(init_method).scheme
        if scheme not in ("env", "tcp", "file"):
            from ember.distributed._c10d import _HANDLERS, rendezvous
            if scheme not in _HANDLERS:
                raise ValueError(f"No rendezvous handler for {scheme}://")
            # a registered handler names the rank and world size (its store is the rendezvous)
            store, rank, world_size = next(rendezvous(init_method, rank, world_size,
                                                      timeout=timeout or _DEFAULT_TIMEOUT))
        if scheme == "env":
            if rank == -1:
                rank = _env_int("RANK", "env://") if ("RANK" in os.environ or job.Get_size() == 1) \
                    else job.Get_rank()
            if world_size == -1:
                world_size = int(os.environ.get("WORLD_SIZE", job.Get_size())) \
                    if ("WORLD_SIZE" in os.environ or job.Get_size() > 1) else _env_int("WORLD_SIZE", "env://")
        else:
            if rank == -1 or world_size == -1:
                # PyTorch needs both for tcp:// and file://; inside an MPI job they are known
                if job.Get_size() == 1:
                    raise ValueError(f"Error initializing torch.distributed using {scheme}:// rendezvous: "
                                     "rank and world_size must be given")
                rank = job.Get_rank() if rank == -1 else rank
                world_size = job.Get_size() if world_size == -1 else world_size
    else:
        rank = job.Get_rank() if rank == -1 else rank
        world_size = job.Get_size() if world_size == -1 else world_size
    if not 0 <= rank < world_size:
        raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {world_size - 1}]")
    if store is not None:
        from ember.distributed._c10d import _wait_count
        store.add("ember_init_process_group", 1)
        _wait_count(store, "ember_init_process_group", world_size, timeout or _DEFAULT_TIMEOUT)
    if world_size == 1:
        comm = MPI.COMM_SELF.Dup()
    elif job.Get_size() != world_size:
        raise RuntimeError(
            f"init_process_group: world_size={world_size} but this process runs in an MPI job of "
            f"{job.Get_size()} process(es); start the ranks with `emberrun --nproc-per-node {world_size} "
            f"script.py` or `mpiexec -n {world_size} python script.py`")
    else:
        comm = job.Split(0, rank)  # group ranks ordered as the ranks the caller asked for
    _STATE.world = _make_group(comm, range(world_size), name, timeout or _DEFAULT_TIMEOUT, device_id)
    _STATE.rank, _STATE.world_size, _STATE.backend = rank, world_size, name
    GroupMember.WORLD = _STATE.world
    if world_size > 1 and not _STATE.hook_installed:
        _abort_on_uncaught(job)
        _STATE.hook_installed = True


def is_initialized():
    """Whether the default process group has been initialised.

    Returns:
        bool.
    """
    return _STATE.world is not None


def _world():
    if _STATE.world is None:
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    return _STATE.world


def _group(group):
    world = _world()
    return world if group is None else group


def get_rank(group=None):
    """This process's rank in ``group`` (-1 when it is not a member).

    Args:
        group: a process group (default: the default group).

    Returns:
        int.
    """
    g = _group(group)
    return -1 if g is GroupMember.NON_GROUP_MEMBER else g.rank()


def get_world_size(group=None):
    """The number of ranks in ``group`` (-1 when this process is not a member).

    Args:
        group: a process group (default: the default group).

    Returns:
        int.
    """
    g = _group(group)
    return -1 if g is GroupMember.NON_GROUP_MEMBER else g.size()


def get_backend(group=None):
    """The backend name of ``group``.

    Args:
        group: a process group (default: the default group).

    Returns:
        A ``Backend`` (a str).
    """
    g = _group(group)
    if g is GroupMember.NON_GROUP_MEMBER:
        raise ValueError("Invalid process group specified")
    return g._backend


def get_process_group_ranks(group):
    """The global ranks of the members of ``group``.

    Args:
        group: a process group.

    Returns:
        A list of ints.
    """
    return list(_group(group)._ranks)


def get_global_rank(group, group_rank):
    """The global rank of the member ``group_rank`` of ``group``.

    Args:
        group: a process group.
        group_rank: a rank within it.

    Returns:
        int.
    """
    ranks = _group(group)._ranks
    if not 0 <= group_rank < len(ranks):
        raise ValueError(f"Group rank {group_rank} is not part of group {group}")
    return ranks[group_rank]


def get_group_rank(group, global_rank):
    """The rank within ``group`` of the process with global rank ``global_rank``.

    Args:
        group: a process group.
        global_rank: a global rank.

    Returns:
        int.
    """
    ranks = _group(group)._ranks
    if global_rank not in ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {group}")
    return ranks.index(global_rank)


def destroy_process_group(group=None):
    """Leave ``group`` (default: every group, un-initialising the package).

    Args:
        group: a process group (default: the default group and all others).

    Returns:
        None.
    """
    g = _group(group)
    if g is GroupMember.NON_GROUP_MEMBER:
        return
    if g._nccl is not None:
        g._nccl.destroy()
    if group is None or g is _STATE.world:
        g._comm.Free()
        _STATE.world = None
        _STATE.rank = _STATE.world_size = -1
        _STATE.backend = None
        GroupMember.WORLD = None
    else:
        g._comm.Free()


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None):
    """Make a process group of some ranks; every rank of the default group must call it.

    Args:
        ranks: the global ranks of its members (default: all).
        timeout: its collectives' timeout (default: the default group's).
        backend: its backend name (default: the default group's).
        pg_options: unused by the MPI engine.
        use_local_synchronization: accepted; every rank takes part in creating it.
        group_desc: unused.
        device_id: unused.

    Returns:
        The ProcessGroup, or ``GroupMember.NON_GROUP_MEMBER`` on a rank outside it.
    """
    world = _world()
    ranks = sorted(range(world.size()) if ranks is None else ranks)
    for r in ranks:
        if not 0 <= r < world.size():
            raise ValueError(f"The new group's rank should be within the world_size set by "
                             f"init_process_group: got rank {r}, world size {world.size()}")
    MPI = _mpi()
    member = world.rank() in ranks
    comm = world._comm.Split(0 if member else MPI.UNDEFINED, world.rank())
    if not member:
        _STATE.pg_count += 1   # counted on every rank, as PyTorch names groups by this count
        return GroupMember.NON_GROUP_MEMBER
    return _make_group(comm, ranks, _backend_for(backend, None) if backend else world._backend,
                       timeout or world._timeout, device_id)


def _make_group(comm, ranks, backend, timeout, device_id=None):
    """A ProcessGroup over the MPI communicator ``comm``, with its NCCL communicator if ``backend``
    names nccl."""
    g = ProcessGroup(comm, ranks, backend, timeout)
    _STATE.pg_count += 1
    g._ember_name = str(_STATE.pg_count - 1)
    from ember.distributed._c10d import _log_group
    _log_group(g, ranks, backend)
    if "nccl" in backend:
        from . import _nccl
        _nccl.attach(g, backend, device_id)
    return g


def _nccl_route(g, *tensors, collective=True):
    """The group's NCCL communicator when ``tensors`` go through NCCL, else None (the MPI path)."""
    if g._nccl_mode is None:
        return None
    from . import _nccl
    return _nccl.route(g, tensors, collective)


def _nccl_finish(work, async_op):
    # a synchronous NCCL call is ordered on the current stream, as PyTorch's: no host wait
    return work if async_op else None


# ---------------------------------------------------------------- tensors and host buffers
def _host(t):
    """A C-contiguous numpy array holding ``t``'s values: the tensor's own memory for a
    contiguous CPU tensor (so results land in place), else a staged host copy."""
    d = t.detach()
    if d.device.type == "cpu" and d.is_contiguous():
        arr = d.numpy()
        if arr.flags.c_contiguous and arr.flags.writeable:
            return arr, False
    return np.ascontiguousarray(d.cpu().numpy()).copy(), True


def _store(t, arr):
    """Write ``arr`` into ``t`` (unless it already is ``t``'s memory)."""
    import ember
    with ember.no_grad():
        t.copy_(ember.from_numpy(np.ascontiguousarray(arr)).to(t.device))


class _Buf:
    """A tensor's values as a host buffer; ``staged`` when it is a copy to store back."""

    def __init__(self, t):
        self.t = t
        self.arr, self.staged = _host(t)


def _bytes(arr):
    return arr.reshape(-1).view(np.uint8)


_MPI_OPS = {ReduceOp.SUM: "SUM", ReduceOp.AVG: "SUM", ReduceOp.PRODUCT: "PROD", ReduceOp.MIN: "MIN",
            ReduceOp.MAX: "MAX", ReduceOp.BAND: "BAND", ReduceOp.BOR: "BOR", ReduceOp.BXOR: "BXOR"}


def _reduce_plan(arr, op):
    """(array to reduce in MPI, MPI op, function back to the tensor's values) for ``op``."""
    if not isinstance(op, ReduceOp):
        raise TypeError(f"op must be a ReduceOp, got {op!r}")
    if op is ReduceOp.PREMUL_SUM:
        raise ValueError("PREMUL_SUM is only reachable through _make_nccl_premul_sum, as in PyTorch")
    MPI = _mpi()
    kind = arr.dtype.kind
    if op is ReduceOp.AVG and kind in "biu":
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{_torch_name(arr.dtype)}")
    if kind == "c" and op in (ReduceOp.MIN, ReduceOp.MAX):
        raise RuntimeError(f"{op.name} is not supported for complex tensors")
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and kind not in "biu":
        raise RuntimeError(f"{op.name} needs an integer or bool tensor, got {_torch_name(arr.dtype)}")
    mpi_op = getattr(MPI, _MPI_OPS[op])
    if kind == "b":
        # bools: sum is logical or, product logical and, as PyTorch's gloo gives
        mpi_op = {"SUM": MPI.MAX, "PROD": MPI.MIN}.get(_MPI_OPS[op], mpi_op)
        return arr.view(np.uint8), mpi_op, lambda r: r.view(np.bool_)
    if arr.dtype.itemsize == 2 and kind == "f" or arr.dtype.name == "bfloat16":
        # half types have no MPI reduction: reduce in float32 and round once
        return arr.astype(np.float32), mpi_op, lambda r: r.astype(arr.dtype)
    return arr, mpi_op, None


def _torch_name(dtype):
    return {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool"}.get(np.dtype(dtype).name, np.dtype(dtype).name)


def _check_member(g, what):
    # a rank outside ``group`` takes no part in its collectives (PyTorch warns and returns)
    return g is not GroupMember.NON_GROUP_MEMBER


def _check_rank(g, r, what, label="root rank"):
    if not isinstance(r, int) or not 0 <= r < g.size():
        raise RuntimeError(f"{what}: invalid {label}: {r}")


def _group_src(g, src, group_src, what):
    """The group rank of a global ``src`` (or ``group_src`` given directly)."""
    if group_src is not None:
        r = group_src
    else:
        r = src if g is _STATE.world else (g._ranks.index(src) if src in g._ranks else -1)
    _check_rank(g, r, what)
    return r


def _finish(work, async_op):
    if async_op:
        return work
    work.wait()
    return None


def _reduced(arr, op, size, back):
    out = arr
    if op is ReduceOp.AVG:
        out = out / size if out.dtype.kind in "fc" else out
    if back is not None:
        out = back(out)
    return out


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` across the ranks of ``group``, in place on every rank.

    Args:
        tensor: the input and output.
        op: a ReduceOp.
        group: the process group (default: the default group).
        async_op: return a Work handle instead of waiting.

    Returns:
        A Work handle when ``async_op``, else None.
    """
    g = _group(group)
    if not _check_member(g, "all_reduce"):
        return None
    nc = _nccl_route(g, tensor)
    if nc is not None and (work := nc.all_reduce(tensor, op)) is not None:
        return _nccl_finish(work, async_op)
    buf = _Buf(tensor)
    src, mpi_op, back = _reduce_plan(buf.arr, op)
    if src is buf.arr:   # reduce in the buffer itself: no copy in or out
        recv = src
        req = g._comm.Iallreduce(_mpi().IN_PLACE, recv, op=mpi_op)
    else:
        recv = np.empty_like(src)
        req = g._comm.Iallreduce(src, recv, op=mpi_op)

    def done():
        if recv is buf.arr and back is None:
            if op is ReduceOp.AVG:
                np.divide(recv, g.size(), out=recv)
            if buf.staged:
                _store(tensor, recv)
            return
        out = _reduced(recv, op, g.size(), back)
        if buf.staged:
            _store(tensor, out)
        else:
            buf.arr[...] = out
    return _finish(Work([req], done, g._timeout, "all_reduce", [tensor]), async_op)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduce ``tensor`` across the ranks of ``group`` into ``tensor`` on rank ``dst``.

    Args:
        tensor: the input (and the output on ``dst``).
        dst: the global rank receiving the result.
        op: a ReduceOp.
        group: the process group.
        async_op: return a Work handle instead of waiting.
        group_dst: ``dst`` as a rank within ``group``.

    Returns:
        A Work handle when ``async_op``, else None.
    """
    g = _group(group)
    if not _check_member(g, "reduce"):
        return None
    root = _group_src(g, dst, group_dst, "reduce")
    nc = _nccl_route(g, tensor)
    if nc is not None and (work := nc.reduce(tensor, root, op)) is not None:
        return _nccl_finish(work, async_op)
    buf = _Buf(tensor)
    src, mpi_op, back = _reduce_plan(buf.arr, op)
    recv = np.empty_like(src) if g.rank() == root else None
    req = g._comm.Ireduce(src, recv, op=mpi_op, root=root)

    def done():
        if recv is not None:
            out = _reduced(recv, op, g.size(), back)
            if buf.staged:
                _store(tensor, out)
            else:
                buf.arr[...] = out
    return _finish(Work([req], done, g._timeout, "reduce", [tensor]), async_op)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copy ``tensor`` from rank ``src`` into ``tensor`` on every rank of ``group``.

    Args:
        tensor: the data on ``src``, the output elsewhere.
        src: the global rank sending.
        group: the process group.
        async_op: return a Work handle instead of waiting.
        group_src: ``src`` as a rank within ``group``.

    Returns:
        A Work handle when ``async_op``, else None.
    """
    g = _group(group)
    if not _check_member(g, "broadcast"):
        return None
    root = _group_src(g, src, group_src, "broadcast")
    nc = _nccl_route(g, tensor)
    if nc is not None:
        return _nccl_finish(nc.broadcast(tensor, root), async_op)
    buf = _Buf(tensor)
    req = g._comm.Ibcast(_bytes(buf.arr), root=root)

    def done():
        if buf.staged and g.rank() != root:
            _store(tensor, buf.arr)
    return _finish(Work([req], done, g._timeout, "broadcast", [tensor]), async_op)


def _gather_bytes(g, arr, what, root=None):
    """Every rank's ``arr`` (same size everywhere) as one host array of shape (size, *arr.shape)."""
    out = np.empty((g.size(),) + arr.shape, dtype=arr.dtype) if root is None or g.rank() == root else None
    if root is None:
        req = g._comm.Iallgather(_bytes(arr), _bytes(out))
    else:
        req = g._comm.Igather(_bytes(arr), None if out is None else _bytes(out), root=root)
    return req, out


def _check_list(tensor_list, n, tensor, what, label="output tensor list"):
    if len(tensor_list) != n:
        raise RuntimeError(f"ProcessGroupGloo::{what}: invalid {label} at index 0 "
                           f"(expected length {n}, got {len(tensor_list)})")
    for i, t in enumerate(tensor_list):
        if t.numel() != tensor.numel() or t.dtype != tensor.dtype:
            raise RuntimeError(f"ProcessGroupGloo::{what}: invalid tensor in {label} at index {i} "
                               f"(expected {tensor.dtype} with {tensor.numel()} elements, got {t.dtype} "
                               f"with {t.numel()})")


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Gather ``tensor`` from every rank of ``group`` into ``tensor_list`` on every rank.

    Args:
        tensor_list: one output tensor per rank.
        tensor: this rank's input.
        group: the process group.
        async_op: return a Work handle instead of waiting.

    Returns:
        A Work handle when ``async_op``, else None.
    """
    g = _group(group)
    if not _check_member(g, "all_gather"):
        return None
    _check_list(tensor_list, g.size(), tensor, "allgather")
    nc = _nccl_route(g, tensor, *tensor_list)
    if nc is not None:
        return _nccl_finish(nc.all_gather(tensor_list, tensor), async_op)
    req, out = _gather_bytes(g, _host(tensor)[0], "all_gather")

    def done():
        for t, part in zip(tensor_list, out):
            _store(t, part.reshape(tuple(t.shape)))
    return _finish(Work([req], done, g._timeout, "all_gather", tensor_list), async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Gather ``input_tensor`` from every rank into ``output_tensor`` (concatenated along dim 0,
    or stacked when it has one more dimension).

    Args:
        output_tensor: holds world_size times the input's elements.
        input_tensor: this rank's input.
        group: the process group.
        async_op: return a Work handle instead of waiting.

    Returns:
        A Work handle when ``async_op``, else None.
    """
    g = _group(group)
    if not _check_member(g, "all_gather_into_tensor"):
        return None
    if output_tensor.numel() != input_tensor.numel() * g.size():
        raise ValueError(f"output tensor size must be equal to world_size times input tensor size: got "
                         f"{output_tensor.numel()} and {input_tensor.numel()} with world size {g.size()}")
    if output_tensor.dtype != input_tensor.dtype:
        raise RuntimeError(f"output tensor must have the same type as input tensor: got "
                           f"{output_tensor.dtype} and {input_tensor.dtype}")
    nc = _nccl_route(g, output_tensor, input_tensor)
    if nc is not None:
        return _nccl_finish(nc.all_gather_into_tensor(output_tensor, input_tensor), async_op)
    req, out = _gather_bytes(g, _host(input_tensor)[0], "all_gather_into_tensor")

    def done():
        _store(output_tensor, out.reshape(tuple(output_tensor.shape)))
    return _finish(Work([req], done, g._timeout, "all_gather_into_tensor", [output_tensor]), async_op)


def _reduce_scatter_arrays(g, parts, op, what):
    """Reduce a (size, n) stack of this rank's contributions; returns (request, finish→array)."""
    src, mpi_op, back = _reduce_plan(parts, op)
    src = np.ascontiguousarray(src)
    recv = np.empty(src.shape[1:], dtype=src.dtype)
    req = g._comm.Ireduce_scatter_block(src, recv, op=mpi_op)
    return req, lambda: _reduced(recv, op, g.size(), back)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input_list[i]`` across ranks into ``output`` on rank i.

    Args:
        output: this rank's result.
        input_list: one tensor per rank, each of ``output``'s size.
        op: a ReduceOp.
        group: the process group.
        async_op: return a Work handle instead of waiting.

    Returns:
        A Work handle when ``async_op``, else None.
    """
    g = _group(group)
    if not _check_member(g, "reduce_scatter"):
        return None
    _check_list(input_list, g.size(), output, "reduce_scatter", "input tensor list")
    nc = _nccl_route(g, output, *input_list)
    if nc is not None and (work := nc.reduce_scatter(output, input_list, op)) is not None:
        return _nccl_finish(work, async_op)
    parts = np.stack([_host(t)[0].reshape(-1) for t in input_list])
    req, result = _reduce_scatter_arrays(g, parts, op, "reduce_scatter")

    def done():
        _store(output, result().reshape(tuple(output.shape)))
    return _finish(Work([req], done, g._timeout, "reduce_scatter", [output]), async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input`` (world_size blocks along dim 0) across ranks; block i lands in ``output``
    on rank i.

    Args:
        output: this rank's result.
        input: world_size times ``output``'s elements.
        op: a ReduceOp.
        group: the process group.
        async_op: return a Work handle instead of waiting.

    Returns:
        A Work handle when ``async_op``, else None.
    """
    g = _group(group)
    if not _check_member(g, "reduce_scatter_tensor"):
        return None
    if input.numel() != output.numel() * g.size():
        raise ValueError(f"input tensor must be the same size as output size times world size: got "
                         f"{input.numel()} and {output.numel()} with world size {g.size()}")
    nc = _nccl_route(g, output, input)
    if nc is not None and (work := nc.reduce_scatter_tensor(output, input, op)) is not None:
        return _nccl_finish(work, async_op)
    parts = _host(input)[0].reshape(g.size(), -1)
    req, result = _reduce_scatter_arrays(g, parts, op, "reduce_scatter_tensor")

    def done():
        _store(output, result().reshape(tuple(output.shape)))
    return _finish(Work([req], done, g._timeout, "reduce_scatter_tensor", [output]), async_op)


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """Send ``input_tensor_list[j]`` to rank j; receive rank j's into ``output_tensor_list[j]``.

    Args:
        output_tensor_list: one tensor per rank (sizes may differ between ranks' pairs).
        input_tensor_list: one tensor per rank.
        group: the process group.
        async_op: return a Work handle instead of waiting.

    Returns:
        A Work handle when ``async_op``, else None.
    """
    g = _group(group)
    if not _check_member(g, "all_to_all"):
        return None
    n = g.size()
    if len(output_tensor_list) != n or len(input_tensor_list) != n:
        raise RuntimeError(f"all_to_all: tensor lists must have world size {n} entries, got "
                           f"{len(output_tensor_list)} outputs and {len(input_tensor_list)} inputs")
    nc = _nccl_route(g, *output_tensor_list, *input_tensor_list)
    if nc is not None:
        return _nccl_finish(nc.all_to_all(output_tensor_list, input_tensor_list), async_op)
    send = [_bytes(_host(t)[0]) for t in input_tensor_list]
    recv = [np.empty(t.numel() * t.element_size(), dtype=np.uint8) for t in output_tensor_list]
    scounts = [a.size for a in send]
    rcounts = [a.size for a in recv]
    sbuf = np.concatenate(send) if send else np.empty(0, np.uint8)
    rbuf = np.empty(sum(rcounts), dtype=np.uint8)
    req = g._comm.Ialltoallv([sbuf, (scounts, list(np.cumsum([0] + scounts[:-1]))), _mpi().BYTE],
                             [rbuf, (rcounts, list(np.cumsum([0] + rcounts[:-1]))), _mpi().BYTE])

    def done():
        offset = 0
        for t, c in zip(output_tensor_list, rcounts):
            host = _host(t)[0]
            _store(t, rbuf[offset:offset + c].view(host.dtype).reshape(host.shape))
            offset += c
    return _finish(Work([req], done, g._timeout, "all_to_all", output_tensor_list), async_op)


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None,
                      async_op=False):
    """Split ``input`` along dim 0, send piece j to rank j, and concatenate what arrives into ``output``.

    Args:
        output: the concatenated received pieces.
        input: the tensor to split.
        output_split_sizes: rows received from each rank (default: equal).
        input_split_sizes: rows sent to each rank (default: equal).
        group: the process group.
        async_op: return a Work handle instead of waiting.

    Returns:
        A Work handle when ``async_op``, else None.
    """
    g = _group(group)
    n = g.size()
    ins = list(input.split(input_split_sizes if input_split_sizes else input.shape[0] // n)) \
        if input.dim() else [input]
    outs = list(output.split(output_split_sizes if output_split_sizes else output.shape[0] // n)) \
        if output.dim() else [output]
    pieces = [o.clone() for o in outs]

    def done():
        import ember
        with ember.no_grad():
            output.copy_(ember.cat(pieces) if output.dim() else pieces[0])
    work = all_to_all(pieces, ins, group=group, async_op=True)
    if work is None:
        return None
    work._finish = (lambda f=work._finish: (f(), done()))
    return _finish(work, async_op)


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """Gather ``tensor`` from every rank into ``gather_list`` on rank ``dst``.

    Args:
        tensor: this rank's input.
        gather_list: one output tensor per rank, on ``dst`` only.
        dst: the global rank receiving (default 0).
        group: the process group.
        async_op: return a Work handle instead of waiting.
        group_dst: ``dst`` as a rank within ``group``.

    Returns:
        A Work handle when ``async_op``, else None.
    """
    g = _group(group)
    if not _check_member(g, "gather"):
        return None
    root = _group_src(g, 0 if dst is None and group_dst is None else dst, group_dst, "gather")
    if g.rank() == root:
        if gather_list is None:
            raise ValueError("Argument ``gather_list`` must be specified on destination rank.")
        _check_list(gather_list, g.size(), tensor, "gather")
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    req, out = _gather_bytes(g, _host(tensor)[0], "gather", root=root)

    def done():
        if out is not None:
            for t, part in zip(gather_list, out):
                _store(t, part.reshape(tuple(t.shape)))
    return _finish(Work([req], done, g._timeout, "gather", gather_list or []), async_op)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """Send ``scatter_list[i]`` from rank ``src`` into ``tensor`` on rank i.

    Args:
        tensor: this rank's output.
        scatter_list: one tensor per rank, on ``src`` only.
        src: the global rank sending (default 0).
        group: the process group.
        async_op: return a Work handle instead of waiting.
        group_src: ``src`` as a rank within ``group``.

    Returns:
        A Work handle when ``async_op``, else None.
    """
    g = _group(group)
    if not _check_member(g, "scatter"):
        return None
    root = _group_src(g, 0 if src is None and group_src is None else src, group_src, "scatter")
    host = _host(tensor)[0]
    if g.rank() == root:
        if scatter_list is None:
            raise ValueError("Argument ``scatter_list`` must be specified on source rank.")
        _check_list(scatter_list, g.size(), tensor, "scatter", "input tensor list")
        send = np.ascontiguousarray(np.stack([_host(t)[0].reshape(-1) for t in scatter_list]))
        send = _bytes(send)
    else:
        if scatter_list:
            raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
        send = None
    recv = np.empty_like(host)
    req = g._comm.Iscatter(send, _bytes(recv), root=root)
    return _finish(Work([req], lambda: _store(tensor, recv), g._timeout, "scatter", [tensor]), async_op)


def _peer(g, peer, group_peer, what):
    r = _group_src(g, peer, group_peer, what) if (peer is not None or group_peer is not None) else None
    if r is not None and r == g.rank():
        raise ValueError(f"Invalid destination rank: should not be the same as the rank of the current "
                         f"process ({peer}).")
    return r


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Send ``tensor`` to rank ``dst`` without waiting.

    Args:
        tensor: the data.
        dst: the global rank receiving.
        group: the process group.
        tag: matches the receiver's tag.
        group_dst: ``dst`` as a rank within ``group``.

    Returns:
        A Work handle.
    """
    g = _group(group)
    if not _check_member(g, "isend"):
        return None
    r = _peer(g, dst, group_dst, "send")
    nc = _nccl_route(g, tensor, collective=False)
    if nc is not None:
        return nc.send(tensor, r)
    data = _host(tensor)[0].copy()  # the caller may change the tensor before the send completes
    req = g._comm.Isend(_bytes(data), dest=r, tag=tag)
    return Work([req], None, g._timeout, "send", [tensor])


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from rank ``src`` (any rank when None) without waiting.

    Args:
        tensor: the output.
        src: the global rank sending, or None for any.
        group: the process group.
        tag: matches the sender's tag.
        group_src: ``src`` as a rank within ``group``.

    Returns:
        A Work handle.
    """
    g = _group(group)
    if not _check_member(g, "irecv"):
        return None
    MPI = _mpi()
    r = _peer(g, src, group_src, "recv")
    nc = _nccl_route(g, tensor, collective=False) if r is not None else None   # NCCL: no any-source receive
    if nc is not None:
        return nc.recv(tensor, r)
    host = np.empty_like(_host(tensor)[0])
    req = g._comm.Irecv(_bytes(host), source=MPI.ANY_SOURCE if r is None else r, tag=tag)
    return Work([req], lambda: _store(tensor, host), g._timeout, "recv", [tensor])


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Send ``tensor`` to rank ``dst`` and wait until it is sent.

    Args:
        tensor: the data.
        dst: the global rank receiving.
        group: the process group.
        tag: matches the receiver's tag.
        group_dst: ``dst`` as a rank within ``group``.

    Returns:
        None.
    """
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from rank ``src`` (any rank when None) and wait for it.

    Args:
        tensor: the output.
        src: the global rank sending, or None for any.
        group: the process group.
        tag: matches the sender's tag.
        group_src: ``src`` as a rank within ``group``.

    Returns:
        The sender's rank.
    """
    g = _group(group)
    if not _check_member(g, "recv"):
        return -1
    MPI = _mpi()
    r = _peer(g, src, group_src, "recv")
    nc = _nccl_route(g, tensor, collective=False) if r is not None else None
    if nc is not None:
        nc.recv(tensor, r)
        return g._ranks[r]
    host = np.empty_like(_host(tensor)[0])
    status = MPI.Status()
    req = g._comm.Irecv(_bytes(host), source=MPI.ANY_SOURCE if r is None else r, tag=tag)
    _wait_all([req], g._timeout, "recv", [status])
    _store(tensor, host)
    sender = status.Get_source()
    return g._ranks[sender]


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank of ``group`` reached this call.

    Args:
        group: the process group.
        async_op: return a Work handle instead of waiting.
        device_ids: unused by the MPI engine.

    Returns:
        A Work handle when ``async_op``, else None.
    """
    g = _group(group)
    if not _check_member(g, "barrier"):
        return None
    if g._nccl is not None:
        # a one-element all-reduce on the device; the host waits for it, as PyTorch's NCCL barrier
        return _finish(g._nccl.barrier(), async_op)
    return _finish(Work([g._comm.Ibarrier()], None, g._timeout, "barrier"), async_op)


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    """A barrier that raises, past ``timeout``, naming that some rank did not arrive.

    Args:
        group: the process group.
        timeout: a ``datetime.timedelta`` (default: the group's timeout).
        wait_all_ranks: accepted for compatibility.

    Returns:
        None.
    """
    g = _group(group)
    if _check_member(g, "monitored_barrier"):
        Work([g._comm.Ibarrier()], None, timeout or g._timeout, "monitored_barrier").wait()


# ---------------------------------------------------------------- object collectives
def _obj_bytes(obj):
    return np.frombuffer(pickle.dumps(obj), dtype=np.uint8)


def _allgather_blobs(g, blob, root=None):
    sizes = np.zeros(g.size(), dtype=np.int64)
    Work([g._comm.Iallgather(np.array([blob.size], np.int64), sizes)], None, g._timeout,
         "object size exchange").wait()
    displs = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out = np.empty(int(sizes.sum()), dtype=np.uint8)
    MPI = _mpi()
    if root is None:
        req = g._comm.Iallgatherv(blob, [out, (list(sizes), list(displs)), MPI.BYTE])
    else:
        req = g._comm.Igatherv(blob, [out, (list(sizes), list(displs)), MPI.BYTE] if g.rank() == root
                               else None, root=root)
    Work([req], None, g._timeout, "object gather").wait()
    return [out[d:d + s].tobytes() for d, s in zip(displs, sizes)]


def all_gather_object(object_list, obj, group=None):
    """Gather a picklable object from every rank into ``object_list`` on every rank.

    Args:
        object_list: a list of world-size length, filled in place.
        obj: this rank's object.
        group: the process group.

    Returns:
        None.
    """
    g = _group(group)
    if not _check_member(g, "all_gather_object"):
        return
    blobs = _allgather_blobs(g, _obj_bytes(obj))
    for i, b in enumerate(blobs):
        object_list[i] = pickle.loads(b)


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    """Gather a picklable object from every rank into ``object_gather_list`` on rank ``dst``.

    Args:
        obj: this rank's object.
        object_gather_list: a list of world-size length on ``dst`` (None elsewhere).
        dst: the global rank receiving (default 0).
        group: the process group.
        group_dst: ``dst`` as a rank within ``group``.

    Returns:
        None.
    """
    g = _group(group)
    if not _check_member(g, "gather_object"):
        return
    root = _group_src(g, 0 if dst is None and group_dst is None else dst, group_dst, "gather_object")
    if g.rank() == root and object_gather_list is None:
        raise ValueError("Argument ``gather_list`` must be specified on destination rank.")
    blobs = _allgather_blobs(g, _obj_bytes(obj), root=root)
    if g.rank() == root:
        for i, b in enumerate(blobs):
            object_gather_list[i] = pickle.loads(b)


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Replace ``object_list``'s entries on every rank with rank ``src``'s (picklable objects).

    Args:
        object_list: the objects on ``src``; a list of the same length, filled in place, elsewhere.
        src: the global rank sending (default 0).
        group: the process group.
        device: unused (objects travel through host memory).
        group_src: ``src`` as a rank within ``group``.

    Returns:
        None.
    """
    g = _group(group)
    if not _check_member(g, "broadcast_object_list"):
        return
    root = _group_src(g, 0 if src is None and group_src is None else src, group_src, "broadcast_object_list")
    blob = _obj_bytes(list(object_list)) if g.rank() == root else np.empty(0, np.uint8)
    size = np.array([blob.size], np.int64)
    Work([g._comm.Ibcast(size, root=root)], None, g._timeout, "broadcast_object_list").wait()
    if g.rank() != root:
        blob = np.empty(int(size[0]), np.uint8)
    Work([g._comm.Ibcast(blob, root=root)], None, g._timeout, "broadcast_object_list").wait()
    if g.rank() != root:
        values = pickle.loads(blob.tobytes())
        for i, v in enumerate(values[:len(object_list)]):
            object_list[i] = v


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None, group=None,
                        group_src=None):
    """Send ``scatter_object_input_list[i]`` from rank ``src`` to rank i, into
    ``scatter_object_output_list[0]``.

    Args:
        scatter_object_output_list: a list whose first entry receives this rank's object.
        scatter_object_input_list: world-size objects on ``src``.
        src: the global rank sending (default 0).
        group: the process group.
        group_src: ``src`` as a rank within ``group``.

    Returns:
        None.
    """
    g = _group(group)
    if not _check_member(g, "scatter_object_list"):
        return
    if not isinstance(scatter_object_output_list, list) or len(scatter_object_output_list) < 1:
        raise ValueError("Expected argument scatter_object_output_list to be a list of size at least 1.")
    root = _group_src(g, 0 if src is None and group_src is None else src, group_src, "scatter_object_list")
    objs = [None]
    if g.rank() == root:
        objs = [list(scatter_object_input_list)]
    broadcast_object_list(objs, group_src=root, group=g)
    scatter_object_output_list[0] = objs[0][g.rank()]


# ---------------------------------------------------------------- the rest of the c10d surface
# defined in _c10d and _stores, imported on first use of one of their names
_C10D_NAMES = ("AllgatherOptions", "AllreduceCoalescedOptions", "AllreduceOptions", "AllToAllOptions", "BackendConfig",
               "BarrierOptions", "BroadcastOptions", "DebugLevel", "GatherOptions", "GroupName", "P2POp", "RankType",
               "ReduceOptions", "ReduceScatterOptions", "ScatterOptions", "all_gather_coalesced", "all_gather_single",
               "all_reduce_coalesced", "batch_isend_irecv", "breakpoint", "default_pg_timeout", "get_backend_config",
               "get_debug_level", "get_default_backend_for_device", "get_node_local_rank", "get_pg_count",
               "is_backend_available", "is_ucc_available", "is_xccl_available", "new_subgroups",
               "new_subgroups_by_enumeration", "record_comm", "recv_object_list", "reduce_op", "reduce_scatter_single",
               "register_rendezvous_handler", "rendezvous", "send_object_list", "set_debug_level",
               "set_debug_level_from_env", "shrink_group", "split_group", "supports_complex")
_STORE_NAMES = ("Store", "PrefixStore", "TCPStore", "FileStore", "HashStore")
if os.environ.get("TORCH_DISTRIBUTED_DEBUG"):   # as PyTorch does when the package is imported
    from ember.distributed._c10d import set_debug_level_from_env as _set_level
    _set_level()

__all__ += ["DistError", "DistNetworkError", "DistStoreError", "QueueEmptyError", "ProcessGroupGloo", "DeviceMesh",
            "init_device_mesh", *_STORE_NAMES, *_C10D_NAMES]

# submodules imported on first use (``dist.device_mesh``, ``dist.rpc`` ...), so ``import ember`` stays light
_LAZY_SUBMODULES = ("autograd", "rpc", "c10d_logger", "config", "constants", "distributed_c10d", "logging_handlers",
                    "utils", "device_mesh", "remote_device", "checkpoint", "fsdp", "algorithms", "run")
_LAZY_NAMES = {"DeviceMesh": "device_mesh", "init_device_mesh": "device_mesh"}


def __getattr__(name):
    import importlib
    if name == "log":   # the package's logger (logging is imported on first use)
        from ember.distributed._c10d import _LOGGER_USED, _logger
        _LOGGER_USED[0] = True
        return _logger()
    if name in _C10D_NAMES or name in _STORE_NAMES:
        module = importlib.import_module(f"{__name__}.{'_c10d' if name in _C10D_NAMES else '_stores'}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    if name == "ProcessGroupGloo":
        from ember.distributed._c10d import _gloo_class
        value = globals()["ProcessGroupGloo"] = _gloo_class()
        return value
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
