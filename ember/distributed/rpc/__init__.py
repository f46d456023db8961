"""``torch.distributed.rpc``: remote procedure calls between the workers of a job.

Each worker runs a small TCP server (a thread) that executes the calls it receives; workers
find each other through a ``TCPStore`` hosted by rank 0 (at ``MASTER_ADDR``/``MASTER_PORT``, or
the options' ``init_method``). ``rpc_sync`` waits for the result, ``rpc_async`` returns a
Future, ``remote`` leaves the result on the callee and returns an ``RRef`` to it. Functions and
arguments travel pickled (functions by reference, so they must be importable on the callee), as
with PyTorch's RPC, which also pickles its payloads: only run it between trusted workers.
"""
from __future__ import annotations

import datetime
import enum
import functools
import itertools
import os
import pickle
import socket
import socketserver
import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

__all__ = ["init_rpc", "shutdown", "rpc_sync", "rpc_async", "remote", "get_worker_info", "WorkerInfo", "RRef",
           "BackendType", "RpcBackendOptions", "TensorPipeRpcBackendOptions", "is_available", "functions",
           "PyRRef"]

_DEFAULT_RPC_TIMEOUT_SEC = 60.0
_DEFAULT_INIT_METHOD = "env://"
_UNSET_RPC_TIMEOUT = -1.0


def is_available():
    """Whether RPC can run here (always: it needs only sockets).

    Returns:
        bool.
    """
    return True


class BackendType(enum.Enum):
    """The RPC agent: TENSORPIPE (ember's TCP agent serves it)."""
    TENSORPIPE = 1


@dataclass
class RpcBackendOptions:
    """Options of the RPC agent.

    Args:
        rpc_timeout: the default timeout of a call, in seconds.
        init_method: how workers rendezvous ("env://" or "tcp://host:port").
    """
    rpc_timeout: float = _DEFAULT_RPC_TIMEOUT_SEC
    init_method: str = _DEFAULT_INIT_METHOD


@dataclass
class TensorPipeRpcBackendOptions(RpcBackendOptions):
    """Options of the TensorPipe agent.

    Args:
        num_worker_threads: threads executing incoming calls.
        rpc_timeout: the default timeout of a call, in seconds.
        init_method: how workers rendezvous.
        device_maps: accepted (tensors travel through host memory and come back on the CPU).
        devices: accepted.
        _transports: accepted.
        _channels: accepted.
    """
    num_worker_threads: int = 16
    device_maps: dict = field(default_factory=dict)
    devices: list = field(default_factory=list)
    _transports: list = None
    _channels: list = None

    def set_device_map(self, to, device_map):
        """Record the device map for calls to worker ``to``.

        Args:
            to: a worker name.
            device_map: local device -> remote device.
        """
        self.device_maps[to] = dict(device_map)

    def set_devices(self, devices):
        """Record the devices this worker uses.

        Args:
            devices: a list of devices.
        """
        self.devices = list(devices)


@dataclass(frozen=True)
class WorkerInfo:
    """A worker's name and id (its rank).

    Args:
        name: the worker's name.
        id: its rank.
    """
    name: str
    id: int


# ---------------------------------------------------------------- wire
_PUBLIC_NAMESPACES = ("ember", "ember.nn.functional", "ember.linalg", "ember.fft", "ember.special")


def _public_attr(namespace, name):
    import importlib
    return getattr(importlib.import_module(namespace), name)


class _Pickler(pickle.Pickler):
    """Pickles ember's public functions (``torch.add``) by their public name: the objects the
    namespaces hold are wrappers that plain pickle cannot find by their qualified name."""

    def reducer_override(self, obj):
        if callable(obj) and not isinstance(obj, type) and hasattr(obj, "__name__"):
            import sys
            for namespace in _PUBLIC_NAMESPACES:
                module = sys.modules.get(namespace)
                if module is not None and getattr(module, obj.__name__, None) is obj:
                    return _public_attr, (namespace, obj.__name__)
        return NotImplemented


def _dumps(obj):
    import io
    buf = io.BytesIO()
    _Pickler(buf).dump(obj)
    return buf.getvalue()


def _send(sock, obj):
    data = _dumps(obj)
    sock.sendall(struct.pack("!Q", len(data)) + data)


def _recv(sock):
    def exact(n):
        buf = bytearray()
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("the RPC connection closed")
            buf += chunk
        return bytes(buf)
    (n,) = struct.unpack("!Q", exact(8))
    return pickle.loads(exact(n))


class _Agent:
    """This worker's RPC state: its server, the other workers' addresses, the values it owns."""

    def __init__(self, name, rank, world, store, options):
        self.name, self.rank, self.world, self.options = name, rank, world, options
        self.store = store
        self.owned = {}          # rref id -> value held for remote references
        self.lock = threading.Lock()
        self.ids = itertools.count()
        self.pool = ThreadPoolExecutor(max(getattr(options, "num_worker_threads", 16), 1),
                                       thread_name_prefix="ember-rpc")
        self.server = socketserver.ThreadingTCPServer(("0.0.0.0", 0), _Handler)
        self.server.daemon_threads = True
        self.server.agent = self
        threading.Thread(target=self.server.serve_forever, name="ember-rpc-server", daemon=True).start()
        host = os.environ.get("EMBER_RPC_HOST", "127.0.0.1")
        store.set(f"rpc/worker/{rank}", pickle.dumps((name, host, self.server.server_address[1])))
        store.wait([f"rpc/worker/{r}" for r in range(world)])
        self.workers, self.addresses = {}, {}
        for r in range(world):
            n, h, p = pickle.loads(store.get(f"rpc/worker/{r}"))
            if n in self.workers:
                raise RuntimeError(f"RPC worker name {n!r} is used by ranks {self.workers[n].id} and {r}")
            self.workers[n] = WorkerInfo(n, r)
            self.addresses[r] = (h, p)
        self.local = threading.local()

    def info(self, to):
        if isinstance(to, WorkerInfo):
            return to
        if isinstance(to, int):
            for w in self.workers.values():
                if w.id == to:
                    return w
            raise ValueError(f"Unknown destination worker id {to}")
        if to not in self.workers:
            raise ValueError(f"Unknown destination worker {to}")
        return self.workers[to]

    def call(self, to, message, timeout):
        """Send ``message`` to worker ``to`` and return its reply (raising its exception)."""
        worker = self.info(to)
        sock = socket.create_connection(self.addresses[worker.id], timeout=None if timeout <= 0 else timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _send(sock, message)
            status, value = _recv(sock)
        except socket.timeout:
            raise RuntimeError(f"RPC ran out of time: no reply from {worker.name} within {timeout:g} s") from None
        finally:
            sock.close()
        if status == "error":
            raise value
        return value


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        agent = self.server.agent
        try:
            kind, payload = _recv(self.request)
        except (ConnectionError, OSError, EOFError):
            return
        except Exception as e:  # noqa: BLE001 - a payload this worker cannot unpickle: tell the caller
            kind, payload = "error", RuntimeError(f"the callee could not unpickle the call: {type(e).__name__}: {e}")
        try:
            if kind == "error":
                raise payload
            result = ("ok", agent_handle(agent, kind, payload))
        except BaseException as e:  # noqa: BLE001 - sent back to the caller
            try:
                _dumps(e)
            except Exception:
                e = RuntimeError(f"{type(e).__name__}: {e}")
            result = ("error", e)
        try:
            _send(self.request, result)
        except OSError:
            pass


def _run(func, args, kwargs):
    value = func(*args, **kwargs)
    if getattr(func, "_ember_async_execution", False) or getattr(getattr(func, "__func__", None),
                                                                 "_ember_async_execution", False):
        value = value.wait()   # @async_execution: the function returned a Future of the result
    return value


def agent_handle(agent, kind, payload):
    if kind == "call":
        func, args, kwargs = payload
        return _run(func, args, kwargs)
    if kind == "call_grad":
        from ember.distributed import autograd
        return autograd._serve_call(*payload)
    if kind == "grad":
        from ember.distributed import autograd
        return autograd._serve_grad(*payload)
    if kind == "release":
        from ember.distributed import autograd
        return autograd._release(payload)
    if kind == "remote":
        rid, func, args, kwargs = payload
        value = _run(func, args, kwargs)
        with agent.lock:
            agent.owned[rid] = value
        return True
    if kind == "fetch":
        with agent.lock:
            if payload not in agent.owned:
                raise RuntimeError(f"RRef {payload} is not owned by {agent.name}")
            return agent.owned[payload]
    if kind == "method":
        rid, name, args, kwargs = payload
        with agent.lock:
            obj = agent.owned[rid]
        return getattr(obj, name)(*args, **kwargs)
    if kind == "delete":
        with agent.lock:
            agent.owned.pop(payload, None)
        return True
    raise RuntimeError(f"unknown RPC message {kind!r}")


_AGENT = [None]


def _agent():
    if _AGENT[0] is None:
        raise RuntimeError("RPC has not been initialized. Call torch.distributed.rpc.init_rpc first.")
    return _AGENT[0]


def _store_for(rank, world, options):
    from ember.distributed._stores import TCPStore
    method = options.init_method or _DEFAULT_INIT_METHOD
    timeout = datetime.timedelta(seconds=max(options.rpc_timeout, 1) if options.rpc_timeout > 0 else 300)
    if method.startswith("tcp://"):
        host, _, port = method[len("tcp://"):].rstrip("/").partition(":")
    elif method.startswith("env://"):
        host, port = os.environ.get("MASTER_ADDR"), os.environ.get("MASTER_PORT")
        if host is None or port is None:
            raise ValueError("init_rpc with env:// needs MASTER_ADDR and MASTER_PORT in the environment")
    else:
        raise ValueError(f"init_rpc: unsupported init_method {method!r} (use env:// or tcp://host:port)")
    return TCPStore(host, int(port), world, rank == 0, timeout, wait_for_workers=False)


def init_rpc(name, backend=None, rank=-1, world_size=None, rpc_backend_options=None):
    """Start this worker's RPC agent and wait until all ``world_size`` workers have started theirs.

    Args:
        name: this worker's unique name.
        backend: a BackendType (TENSORPIPE).
        rank: this worker's rank (default: ``RANK`` from the environment).
        world_size: the number of workers (default: ``WORLD_SIZE``).
        rpc_backend_options: a TensorPipeRpcBackendOptions (timeout, init_method, worker threads).

    Returns:
        None.
    """
    if _AGENT[0] is not None:
        raise RuntimeError("RPC is already initialized")
    if backend is not None and backend is not BackendType.TENSORPIPE:
        raise TypeError(f"unsupported RPC backend {backend}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"RPC worker name must be a non-empty string, got {name!r}")
    rank = int(os.environ.get("RANK", -1)) if rank == -1 else rank
    world_size = int(os.environ.get("WORLD_SIZE", 0)) if world_size is None else world_size
    if rank < 0 or not world_size:
        raise ValueError("init_rpc needs rank and world_size (or RANK and WORLD_SIZE in the environment)")
    options = rpc_backend_options or TensorPipeRpcBackendOptions()
    store = _store_for(rank, world_size, options)
    _AGENT[0] = _Agent(name, rank, world_size, store, options)


def shutdown(graceful=True, timeout=0):
    """Stop this worker's agent; with ``graceful``, first wait until every worker has finished its
    outstanding calls and reached shutdown.

    Args:
        graceful: wait for the other workers.
        timeout: accepted (the agent's store timeout applies).

    Returns:
        None.
    """
    agent = _agent()
    if graceful:
        agent.store.add("rpc/shutdown", 1)
        from ember.distributed._c10d import _wait_count
        _wait_count(agent.store, "rpc/shutdown", agent.world, agent.store.timeout)
        agent.pool.shutdown(wait=True)
        # the store's host leaves last, so that no worker loses the store mid-shutdown
        agent.store.add("rpc/shutdown_done", 1)
        if agent.rank == 0:
            _wait_count(agent.store, "rpc/shutdown_done", agent.world, agent.store.timeout)
    agent.server.shutdown()
    agent.server.server_close()
    _AGENT[0] = None


def get_worker_info(worker_name=None):
    """The WorkerInfo of ``worker_name`` (default: this worker).

    Args:
        worker_name: a worker's name.

    Returns:
        WorkerInfo.
    """
    agent = _agent()
    return agent.workers[agent.name] if worker_name is None else agent.info(worker_name)


def _timeout(timeout):
    return _agent().options.rpc_timeout if timeout is None or timeout == _UNSET_RPC_TIMEOUT else timeout


def rpc_sync(to, func, args=None, kwargs=None, timeout=_UNSET_RPC_TIMEOUT):
    """Run ``func(*args, **kwargs)`` on worker ``to`` and return its result (or raise its exception).

    Args:
        to: a worker name, rank or WorkerInfo.
        func: an importable function (or a builtin, or a TorchScript-free callable).
        args: its positional arguments.
        kwargs: its keyword arguments.
        timeout: seconds (0: no limit; default: the agent's rpc_timeout).

    Returns:
        The result.
    """
    agent = _agent()
    from ember.distributed import autograd
    if autograd._current() is not None:   # inside a distributed autograd context: recorded for backward
        return autograd._call(agent, to, func, tuple(args or ()), dict(kwargs or {}), _timeout(timeout))
    return agent.call(to, ("call", (func, tuple(args or ()), dict(kwargs or {}))), _timeout(timeout))


def rpc_async(to, func, args=None, kwargs=None, timeout=_UNSET_RPC_TIMEOUT):
    """Start ``func(*args, **kwargs)`` on worker ``to``; returns at once.

    Args:
        to: a worker name, rank or WorkerInfo.
        func: an importable function.
        args: its positional arguments.
        kwargs: its keyword arguments.
        timeout: seconds (0: no limit; default: the agent's rpc_timeout).

    Returns:
        An ``ember.futures.Future`` of the result.
    """
    agent = _agent()
    from ember.distributed import autograd
    context_id = autograd._current()
    if context_id is not None:
        def recorded():
            autograd._LOCAL.context_id = context_id   # the pool thread joins the caller's context
            try:
                return autograd._call(agent, to, func, tuple(args or ()), dict(kwargs or {}), _timeout(timeout))
            finally:
                autograd._LOCAL.context_id = None
        return _future_of(agent.pool.submit(recorded))
    done = agent.pool.submit(agent.call, to, ("call", (func, tuple(args or ()), dict(kwargs or {}))),
                             _timeout(timeout))
    return _future_of(done)


def _future_of(done):
    """An ``ember.futures.Future`` completed when the concurrent future ``done`` is."""
    from ember.futures import Future
    fut = Future()
    lock = threading.Lock()

    def complete(_=None):
        with lock:
            if fut._done:
                return
            error = done.exception()
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(done.result())
    fut._waiter = lambda: (complete(done.result() if done.exception() is None else None), fut._value)[1]
    done.add_done_callback(complete)
    return fut


def remote(to, func, args=None, kwargs=None, timeout=_UNSET_RPC_TIMEOUT):
    """Run ``func`` on worker ``to`` and keep its result there; returns a reference to it.

    Args:
        to: a worker name, rank or WorkerInfo.
        func: an importable function.
        args: its positional arguments.
        kwargs: its keyword arguments.
        timeout: seconds for creating the value.

    Returns:
        An RRef owned by ``to``.
    """
    agent = _agent()
    owner = agent.info(to)
    rid = (agent.rank, next(agent.ids))
    pending = agent.pool.submit(agent.call, owner, ("remote", (rid, func, tuple(args or ()), dict(kwargs or {}))),
                                _timeout(timeout))
    return RRef._remote(owner, rid, pending)


class _RRefProxy:
    """``rref.rpc_sync()`` / ``rpc_async()`` / ``remote()``: call a method of the referenced object."""

    def __init__(self, rref, mode, timeout):
        self._rref, self._mode, self._timeout = rref, mode, timeout

    def __getattr__(self, name):
        rref, mode, timeout = self._rref, self._mode, self._timeout

        def method(*args, **kwargs):
            if mode == "sync":
                return rpc_sync(rref.owner(), _call_method, (rref, name, args, kwargs), timeout=timeout)
            if mode == "async":
                return rpc_async(rref.owner(), _call_method, (rref, name, args, kwargs), timeout=timeout)
            return remote(rref.owner(), _call_method, (rref, name, args, kwargs), timeout=timeout)
        return method


def _call_method(rref, name, args, kwargs):
    return getattr(rref.local_value(), name)(*args, **kwargs)


class RRef:
    """A reference to a value owned by one worker (made by ``remote``, or ``RRef(value)`` locally).

    Args:
        value: the value this worker owns.
        type_hint: accepted.
    """

    def __init__(self, value=None, type_hint=None):
        agent = _agent()
        self._owner = agent.workers[agent.name]
        self._id = (agent.rank, next(agent.ids))
        self._pending = None
        with agent.lock:
            agent.owned[self._id] = value

    @classmethod
    def _remote(cls, owner, rid, pending):
        r = cls.__new__(cls)
        r._owner, r._id, r._pending = owner, rid, pending
        return r

    def __getstate__(self):
        self._confirm()
        return {"owner": self._owner, "id": self._id}

    def __setstate__(self, state):
        self._owner, self._id, self._pending = state["owner"], state["id"], None

    def _confirm(self):
        if self._pending is not None:
            self._pending.result()   # the owner has made the value (or this raises its error)
            self._pending = None

    def owner(self):
        """The owner's WorkerInfo."""
        return self._owner

    def owner_name(self):
        """The owner's name."""
        return self._owner.name

    def is_owner(self):
        """Whether this worker owns the value."""
        return self._owner.name == _agent().name

    def confirmed_by_owner(self):
        """Whether the owner has made the value."""
        return self._pending is None or self._pending.done()

    def local_value(self):
        """The value, on its owner.

        Returns:
            The value.
        """
        if not self.is_owner():
            raise RuntimeError(f"Cannot call local_value() on a non-owner RRef (owner: {self._owner.name})")
        self._confirm()
        agent = _agent()
        with agent.lock:
            return agent.owned[self._id]

    def to_here(self, timeout=_UNSET_RPC_TIMEOUT):
        """A copy of the value, fetched from its owner (the value itself on the owner).

        Args:
            timeout: seconds.

        Returns:
            The value.
        """
        self._confirm()
        if self.is_owner():
            return self.local_value()
        return _agent().call(self._owner, ("fetch", self._id), _timeout(timeout))

    def rpc_sync(self, timeout=_UNSET_RPC_TIMEOUT):
        """A proxy whose method calls run on the owner and return the result."""
        return _RRefProxy(self, "sync", timeout)

    def rpc_async(self, timeout=_UNSET_RPC_TIMEOUT):
        """A proxy whose method calls run on the owner and return Futures."""
        return _RRefProxy(self, "async", timeout)

    def remote(self, timeout=_UNSET_RPC_TIMEOUT):
        """A proxy whose method calls run on the owner and return RRefs."""
        return _RRefProxy(self, "remote", timeout)

    def __repr__(self):
        return f"RRef(owner={self._owner.name}, id={self._id})"


PyRRef = RRef


class _Functions:
    """``rpc.functions``: ``async_execution``."""

    @staticmethod
    def async_execution(fn):
        """Mark ``fn`` as returning a Future: the callee replies with the Future's value once it is set.

        Args:
            fn: the function.

        Returns:
            The marked function.
        """
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return fn(*args, **kwargs)
        wrapper._ember_async_execution = True
        return wrapper


functions = _Functions()
