"""Key-value stores (PyTorch's ``Store`` family): the rendezvous tables ranks share.

``Store`` is the base class a user's store subclasses (its methods raise until overridden);
``HashStore`` lives in one process, ``FileStore`` in a file several processes lock and
share, ``TCPStore`` on a server thread the master rank runs (clients connect over TCP),
and ``PrefixStore`` puts a prefix on every key of another store. Values are bytes; a ``get``
or ``wait`` for a key not yet set blocks until the store's timeout, then raises
``DistStoreError``.
"""
from __future__ import annotations

import datetime
import threading
import time

_DEFAULT_STORE_TIMEOUT = datetime.timedelta(seconds=300)


from ember.distributed._errors import DistError, DistNetworkError, DistStoreError, QueueEmptyError  # noqa: F401


def _b(value):
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (list, tuple)):   # PyTorch accepts a list of byte values
        return bytes(value)
    raise TypeError(f"a store value must be str or bytes, got {type(value).__name__}")


def _seconds(timeout):
    return timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else float(timeout)


class Store:
    """The interface of a key-value store; subclass it and override its methods.

    Args:
        (none; subclasses take their own.)
    """

    def __init__(self):
        self._timeout = _DEFAULT_STORE_TIMEOUT

    def _abstract(self, what):
        raise NotImplementedError(f"{type(self).__name__}.{what} is not implemented: subclasses of Store "
                                  f"must override it")

    def set(self, key, value):
        """Store ``value`` under ``key`` (replacing any value).

        Args:
            key: a str.
            value: str or bytes.

        Returns:
            None.
        """
        self._abstract("set")

    def get(self, key):
        """The value under ``key``, waiting up to the timeout for it to be set.

        Args:
            key: a str.

        Returns:
            bytes.
        """
        self._abstract("get")

    def add(self, key, amount):
        """Add ``amount`` to the integer counter ``key`` (created at 0).

        Args:
            key: a str.
            amount: an int.

        Returns:
            The new value (int).
        """
        self._abstract("add")

    def compare_set(self, key, expected_value, desired_value):
        """Set ``key`` to ``desired_value`` if it currently holds ``expected_value`` (or is unset and
        ``expected_value`` is empty).

        Args:
            key: a str.
            expected_value: str or bytes.
            desired_value: str or bytes.

        Returns:
            bytes: the value now under ``key`` (``expected_value`` for an unset key not created).
        """
        self._abstract("compare_set")

    def delete_key(self, key):
        """Remove ``key``.

        Args:
            key: a str.

        Returns:
            bool: whether the key existed.
        """
        self._abstract("delete_key")

    def num_keys(self):
        """The number of keys stored.

        Returns:
            int.
        """
        self._abstract("num_keys")

    def check(self, keys):
        """Whether every key of ``keys`` is set (no waiting).

        Args:
            keys: a list of str.

        Returns:
            bool.
        """
        self._abstract("check")

    def wait(self, keys, timeout=None):
        """Block until every key of ``keys`` is set, raising DistStoreError past the timeout.

        Args:
            keys: a list of str.
            timeout: a ``datetime.timedelta`` (default: the store's).

        Returns:
            None.
        """
        limit = time.monotonic() + _seconds(timeout if timeout is not None else self.timeout)
        delay = 1e-4
        while not self.check(list(keys)):
            if time.monotonic() > limit:
                raise DistStoreError(f"Wait timeout for keys {list(keys)} after "
                                     f"{_seconds(timeout or self.timeout):g} seconds")
            time.sleep(delay)
            delay = min(delay * 2, 0.01)

    def append(self, key, value):
        """Append ``value`` to the bytes under ``key`` (set it when unset).

        Args:
            key: a str.
            value: str or bytes.

        Returns:
            None.
        """
        current = self.get(key) if self.check([key]) else b""
        self.set(key, current + _b(value))

    def multi_get(self, keys):
        """The values under ``keys``, waiting for each.

        Args:
            keys: a list of str.

        Returns:
            A list of bytes.
        """
        return [self.get(k) for k in keys]

    def multi_set(self, keys, values):
        """Set each key of ``keys`` to the matching value.

        Args:
            keys: a list of str.
            values: a list of str or bytes.

        Returns:
            None.
        """
        for k, v in zip(keys, values):
            self.set(k, v)

    def queue_push(self, key, value):
        """Push ``value`` onto the queue ``key``.

        Args:
            key: a str.
            value: str or bytes.

        Returns:
            None.
        """
        self._abstract("queue_push")

    def queue_pop(self, key, block=True):
        """Pop the oldest value of the queue ``key``.

        Args:
            key: a str.
            block: wait (up to the timeout) for a value; else raise QueueEmptyError at once.

        Returns:
            bytes.
        """
        self._abstract("queue_pop")

    def queue_len(self, key):
        """The number of values in the queue ``key``.

        Args:
            key: a str.

        Returns:
            int.
        """
        self._abstract("queue_len")

    def has_extended_api(self):
        """Whether the store implements append/multi_get/multi_set/list_keys natively.

        Returns:
            bool.
        """
        return False

    def list_keys(self):
        """Every key stored.

        Returns:
            A list of str.
        """
        self._abstract("list_keys")

    def barrier(self, *args, **kwargs):
        """Not on the base class's contract; stores that pair ranks provide their own."""
        self._abstract("barrier")

    def set_timeout(self, timeout):
        """Set the default timeout of ``get``/``wait``.

        Args:
            timeout: a ``datetime.timedelta``.

        Returns:
            None.
        """
        self._timeout = timeout

    @property
    def timeout(self):
        """The default timeout (a ``datetime.timedelta``)."""
        return getattr(self, "_timeout", _DEFAULT_STORE_TIMEOUT)

    def clone(self):
        """A new handle on the same store.

        Returns:
            A Store.
        """
        self._abstract("clone")


class _Table:
    """The data and logic of a store, guarded by a condition variable (shared by HashStore and
    the TCP server)."""

    def __init__(self):
        self.data = {}
        self.queues = {}
        self.cond = threading.Condition()

    def do(self, op, *args):
        with self.cond:
            result = getattr(self, "op_" + op)(*args)
            self.cond.notify_all()
            return result

    def op_set(self, key, value):
        self.data[key] = value

    def op_add(self, key, amount):
        value = int(self.data.get(key, b"0")) + int(amount)
        self.data[key] = str(value).encode()
        return value

    def op_compare_set(self, key, expected, desired):
        if key not in self.data:
            if expected == b"":
                self.data[key] = desired
                return desired
            return expected
        if self.data[key] == expected:
            self.data[key] = desired
        return self.data[key]

    def op_delete_key(self, key):
        return self.data.pop(key, None) is not None

    def op_num_keys(self):
        return len(self.data)

    def op_check(self, keys):
        return all(k in self.data for k in keys)

    def op_append(self, key, value):
        self.data[key] = self.data.get(key, b"") + value

    def op_list_keys(self):
        return list(self.data)

    def op_queue_push(self, key, value):
        self.queues.setdefault(key, []).append(value)

    def op_queue_len(self, key):
        return len(self.queues.get(key, ()))

    def op_try_get(self, key):
        return self.data.get(key)

    def op_try_pop(self, key):
        q = self.queues.get(key)
        return q.pop(0) if q else None

    def wait_for(self, what, keys, seconds):
        """Block until ``what`` ("get" a key, "pop" a queue, "wait" for keys) can be done."""
        deadline = time.monotonic() + seconds
        with self.cond:
            while True:
                if what == "get" and keys[0] in self.data:
                    return self.data[keys[0]]
                if what == "pop" and self.queues.get(keys[0]):
                    return self.queues[keys[0]].pop(0)
                if what == "wait" and all(k in self.data for k in keys):
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)


class _TableStore(Store):
    """The Store methods HashStore, FileStore and TCPStore share: each keeps its keys in a
    ``_Table`` and says only how to reach it.

    A subclass defines ``_do(op, *args)`` (run the table's ``op_<op>`` once, atomically) and
    ``_block(what, keys, seconds)`` (``_Table.wait_for``'s contract: the value, or None past
    ``seconds``), plus its own ``__init__`` and ``clone``.
    """

    def _do(self, op, *args):
        raise NotImplementedError(f"{type(self).__name__} must define _do")

    def _block(self, what, keys, seconds):
        raise NotImplementedError(f"{type(self).__name__} must define _block")

    def set(self, key, value):
        self._do("set", key, _b(value))

    def get(self, key):
        seconds = _seconds(self.timeout)
        value = self._block("get", [key], seconds)
        if value is None:
            raise DistStoreError(f"Wait timeout for key {key!r} after {seconds:g} seconds")
        return value

    def add(self, key, amount):
        return self._do("add", key, amount)

    def compare_set(self, key, expected_value, desired_value):
        return self._do("compare_set", key, _b(expected_value), _b(desired_value))

    def delete_key(self, key):
        return self._do("delete_key", key)

    def num_keys(self):
        return self._do("num_keys")

    def check(self, keys):
        return self._do("check", list(keys))

    def wait(self, keys, timeout=None):
        seconds = _seconds(timeout if timeout is not None else self.timeout)
        if self._block("wait", list(keys), seconds) is None:
            raise DistStoreError(f"Wait timeout for keys {list(keys)} after {seconds:g} seconds")

    def append(self, key, value):
        self._do("append", key, _b(value))

    def queue_push(self, key, value):
        self._do("queue_push", key, _b(value))

    def queue_pop(self, key, block=True):
        # not blocking: one atomic try, so an empty queue fails at once rather than after a poll
        value = self._block("pop", [key], _seconds(self.timeout)) if block else self._do("try_pop", key)
        if value is None:
            if not block:
                raise QueueEmptyError("queue is empty")
            raise DistStoreError(f"Wait timeout for queue {key!r}")
        return value

    def queue_len(self, key):
        return self._do("queue_len", key)

    def has_extended_api(self):
        return True

    def list_keys(self):
        return self._do("list_keys")


class HashStore(_TableStore):
    """A store in this process's memory (threads share it).

    Args:
        (none.)
    """

    def __init__(self):
        super().__init__()
        self._t = _Table()

    def _do(self, op, *args):
        return self._t.do(op, *args)

    def _block(self, what, keys, seconds):
        return self._t.wait_for(what, keys, seconds)

    def clone(self):
        other = HashStore.__new__(HashStore)
        other._t, other._timeout = self._t, self._timeout
        return other


class PrefixStore(Store):
    """A view of ``store`` that puts ``prefix + "/"`` before every key.

    Args:
        prefix: the key prefix.
        store: the underlying Store.
    """

    def __init__(self, prefix, store):
        super().__init__()
        self._prefix, self._store = prefix, store
        self._timeout = store.timeout

    @property
    def underlying_store(self):
        """The wrapped store."""
        return self._store

    def _k(self, key):
        return f"{self._prefix}/{key}"

    def set(self, key, value):
        self._store.set(self._k(key), value)

    def get(self, key):
        return self._store.get(self._k(key))

    def add(self, key, amount):
        return self._store.add(self._k(key), amount)

    def compare_set(self, key, expected_value, desired_value):
        return self._store.compare_set(self._k(key), expected_value, desired_value)

    def delete_key(self, key):
        return self._store.delete_key(self._k(key))

    def num_keys(self):
        return self._store.num_keys()   # as PyTorch's: the underlying store's count

    def check(self, keys):
        return self._store.check([self._k(k) for k in keys])

    def wait(self, keys, timeout=None):
        self._store.wait([self._k(k) for k in keys], *(() if timeout is None else (timeout,)))

    def append(self, key, value):
        self._store.append(self._k(key), value)

    def multi_get(self, keys):
        return self._store.multi_get([self._k(k) for k in keys])

    def multi_set(self, keys, values):
        self._store.multi_set([self._k(k) for k in keys], values)

    def queue_push(self, key, value):
        self._store.queue_push(self._k(key), value)

    def queue_pop(self, key, block=True):
        return self._store.queue_pop(self._k(key), block)

    def queue_len(self, key):
        return self._store.queue_len(self._k(key))

    def has_extended_api(self):
        return self._store.has_extended_api()

    def list_keys(self):
        start = self._prefix + "/"
        return [k[len(start):] for k in self._store.list_keys() if k.startswith(start)]

    def set_timeout(self, timeout):
        self._timeout = timeout
        self._store.set_timeout(timeout)

    def clone(self):
        return PrefixStore(self._prefix, self._store.clone())


# ---------------------------------------------------------------- TCP
def _send_msg(sock, obj):
    import pickle
    import struct
    data = pickle.dumps(obj)
    sock.sendall(struct.pack("!Q", len(data)) + data)


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise DistNetworkError("the TCPStore connection closed")
        buf += chunk
    return bytes(buf)


def _recv_msg(sock):
    import pickle
    import struct
    (n,) = struct.unpack("!Q", _recv_exact(sock, 8))
    return pickle.loads(_recv_exact(sock, n))


def _server_classes():
    """The TCP server and its handler (made on first use: ``import ember`` stays free of socketserver)."""
    import socketserver

    class _Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    class _Handler(socketserver.BaseRequestHandler):
        def handle(self):
            table = self.server.table
            while True:
                try:
                    op, args = _recv_msg(self.request)
                except (DistNetworkError, OSError, EOFError):
                    return
                try:
                    if op in ("get", "pop", "wait"):
                        keys, seconds = args
                        result = ("ok", table.wait_for(op, keys, seconds))
                    else:
                        result = ("ok", table.do(op, *args))
                except Exception as e:  # noqa: BLE001 - reported to the client
                    result = ("error", repr(e))
                _send_msg(self.request, result)
    return _Server, _Handler


class TCPStore(_TableStore):
    """A store served over TCP by the master (``is_master=True``), which the others connect to.

    Args:
        host_name: the server's address.
        port: its port (0 on the master: pick a free one, readable as ``.port``).
        world_size: the number of ranks using it (with ``wait_for_workers``, the master waits for all).
        is_master: run the server in this process.
        timeout: the default timeout of connecting, ``get`` and ``wait``.
        wait_for_workers: on the master, wait until ``world_size`` clients have connected.
        multi_tenant: accepted; one server per (host, port) is shared in-process.
        master_listen_fd: unused.
        use_libuv: unused (the server is a Python thread).
    """

    def __init__(self, host_name, port, world_size=None, is_master=False, timeout=_DEFAULT_STORE_TIMEOUT,
                 wait_for_workers=True, multi_tenant=False, master_listen_fd=None, use_libuv=True):
        super().__init__()
        self._timeout = timeout
        self.host, self._world_size = host_name, world_size
        self._server = None
        self._lock = threading.Lock()
        if is_master:
            server_cls, handler_cls = _server_classes()
            self._server = server_cls((host_name, port), handler_cls)
            self._server.table = _Table()
            port = self._server.server_address[1]
            threading.Thread(target=self._server.serve_forever, name="ember-tcpstore", daemon=True).start()
        self.port = port
        self._connect()
        self.add("__ember_workers", 1)
        if is_master and wait_for_workers and world_size:
            self.wait_for_count("__ember_workers", world_size)

    def _connect(self):
        import socket
        deadline = time.monotonic() + _seconds(self.timeout)
        while True:
            try:
                self._sock = socket.create_connection((self.host, self.port), timeout=None)
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return
            except OSError as e:
                if time.monotonic() > deadline:
                    raise DistNetworkError(f"could not connect to the TCPStore at {self.host}:{self.port}: "
                                           f"{e}") from e
                time.sleep(0.05)

    def wait_for_count(self, key, count):
        deadline = time.monotonic() + _seconds(self.timeout)
        while int(self._do("try_get", key) or b"0") < count:
            if time.monotonic() > deadline:
                raise DistStoreError(f"Timed out waiting for {count} workers to join the TCPStore")
            time.sleep(0.01)

    def _do(self, op, *args):
        with self._lock:
            _send_msg(self._sock, (op, args))
            status, value = _recv_msg(self._sock)
        if status == "error":
            raise DistStoreError(value)
        return value

    def _block(self, what, keys, seconds):
        return self._do(what, keys, seconds)   # the server thread does the waiting

    @property
    def libuvBackend(self):
        """False: the server is a Python thread, not libuv."""
        return False

    def clone(self):
        other = TCPStore.__new__(TCPStore)
        other._timeout, other.host, other.port, other._world_size = self._timeout, self.host, self.port, \
            self._world_size
        other._server, other._lock = None, threading.Lock()
        other._connect()
        return other


class FileStore(_TableStore):
    """A store in a file that processes on one machine share (each operation locks it).

    Args:
        file_name: the file's path.
        world_size: the number of processes using it (-1: not known).
    """

    def __init__(self, file_name, world_size=-1):
        super().__init__()
        self.path, self.world_size = file_name, world_size
        open(file_name, "ab").close()

    def _do(self, op, *args):
        import fcntl
        import pickle
        with open(self.path, "r+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                raw = f.read()
                table = _Table()
                if raw:
                    table.data, table.queues = pickle.loads(raw)
                result = getattr(table, "op_" + op)(*args)
                if op not in ("check", "num_keys", "list_keys", "try_get", "queue_len"):
                    f.seek(0)
                    f.truncate()
                    f.write(pickle.dumps((table.data, table.queues)))
                    f.flush()
                return result
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _block(self, what, keys, seconds):
        # no server to sleep on the table's condition: poll the one-shot "try_" op with backoff
        deadline = time.monotonic() + seconds
        delay = 1e-4
        while True:
            value = self._do("try_" + what, keys[0])
            if value is not None or time.monotonic() > deadline:
                return value
            time.sleep(delay)
            delay = min(delay * 2, 0.01)

    # only "get" and "pop" block here; wait() keeps the base Store's polling of check()
    wait = Store.wait

    def clone(self):
        other = FileStore(self.path, self.world_size)
        other._timeout = self._timeout
        return other
