"""``ember.cuda.streams`` (``torch.cuda.streams``): CUDA streams and events over CuPy's.

A stream is a CuPy stream; ``with ember.cuda.stream(s):`` (or ``set_stream``) makes it
CuPy's current stream, where ember's cuda kernels are queued. ``ExternalStream`` wraps a
stream made by another library from its handle.
"""
from __future__ import annotations

from ember.core.device import device as _Device
from ember.cuda import _common
from ember.streams import Event as _GenericEvent, Stream as _GenericStream

__all__ = ["Stream", "ExternalStream", "Event", "StreamContext", "stream", "set_stream", "current_stream",
           "default_stream", "get_stream_from_external"]


class Stream(_GenericStream):
    """A CUDA stream: ``with ember.cuda.stream(s):`` queues the kernels of the block on it.

    Args:
        device: the GPU (default: the current one).
        priority: the stream's priority; lower numbers run first (CUDA's convention).
    """

    def __init__(self, device=None, priority=0, **kwargs):
        cp = _common.cupy()
        index = _common.index(device)
        with cp.cuda.Device(index):
            self.cupy_stream = cp.cuda.Stream(non_blocking=True, priority=priority) if priority \
                else cp.cuda.Stream(non_blocking=True)
        self.device = _Device("cuda", index)

    @classmethod
    def _wrap(cls, cupy_stream, index):
        s = object.__new__(cls)
        s.cupy_stream = cupy_stream
        s.device = _Device("cuda", index)
        return s

    @property
    def stream_id(self) -> int:
        """The stream's handle, as an int."""
        return int(self.cupy_stream.ptr)

    def synchronize(self) -> None:
        """Wait for all work queued on the stream."""
        self.cupy_stream.synchronize()

    def query(self) -> bool:
        """Whether all work queued on the stream is done.

        Returns:
            A bool.
        """
        return bool(self.cupy_stream.done)

    def record_event(self, event=None):
        """Record an event on the stream.

        Args:
            event: the event to record (default: a new one).

        Returns:
            The event.
        """
        event = event or Event()
        event.record(self)
        return event

    def wait_event(self, event) -> None:
        """Make later work on this stream wait for ``event``.

        Args:
            event: a recorded ``Event``.
        """
        self.cupy_stream.wait_event(event.cupy_event)

    def wait_stream(self, stream) -> None:
        """Make later work on this stream wait for the work queued on ``stream`` so far.

        Args:
            stream: another ``Stream``.
        """
        self.wait_event(stream.record_event())

    @property
    def cuda_stream(self) -> int:
        """The stream's ``cudaStream_t`` handle, as an int."""
        return int(self.cupy_stream.ptr)

    @property
    def priority(self) -> int:
        """The stream's priority."""
        return int(getattr(self.cupy_stream, "priority", 0))

    def __enter__(self):
        self.cupy_stream.__enter__()
        return self

    def __exit__(self, *exc):
        self.cupy_stream.__exit__(*exc)
        return False

    def __eq__(self, other):
        return isinstance(other, Stream) and self.cupy_stream.ptr == other.cupy_stream.ptr

    def __hash__(self):
        return hash(self.cupy_stream.ptr)

    def __repr__(self):
        return f"<ember.cuda.Stream device={self.device} cuda_stream={self.cuda_stream:#x}>"


class ExternalStream(Stream):
    """A stream made outside ember (by another library), wrapped from its handle.

    Args:
        stream_ptr: the ``cudaStream_t`` handle, as an int.
        device: the GPU the stream belongs to (default: the current one).
    """

    def __init__(self, stream_ptr, device=None, **kwargs):
        cp = _common.cupy()
        index = _common.index(device)
        with cp.cuda.Device(index):
            self.cupy_stream = cp.cuda.ExternalStream(int(stream_ptr), index)
        self.device = _Device("cuda", index)


def get_stream_from_external(data_ptr: int, device=None) -> Stream:
    """A ``Stream`` for a stream made outside ember, from its handle.

    Args:
        data_ptr: the ``cudaStream_t`` handle, as an int.
        device: the GPU the stream belongs to (default: the current one).

    Returns:
        An ``ExternalStream``.
    """
    return ExternalStream(data_ptr, device)


class Event(_GenericEvent):
    """A CUDA event: ``record`` on a stream, ``synchronize``, ``elapsed_time`` in milliseconds.

    Args:
        enable_timing: whether the event measures time.
        blocking: whether ``synchronize`` blocks the thread (instead of spinning).
        interprocess: whether the event can be shared between processes.
    """

    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        self.enable_timing = enable_timing
        self.cupy_event = _common.cupy().cuda.Event(block=blocking, disable_timing=not enable_timing,
                                                    interprocess=interprocess)
        self.device = None

    def record(self, stream=None) -> None:
        """Record the event on ``stream`` (default: the current stream)."""
        stream = stream or current_stream()
        self.device = stream.device
        self.cupy_event.record(stream.cupy_stream)

    def wait(self, stream=None) -> None:
        """Make later work on ``stream`` (default: the current one) wait for this event."""
        (stream or current_stream()).wait_event(self)

    def query(self) -> bool:
        """Whether the work before the event is done."""
        return bool(self.cupy_event.done)

    def synchronize(self) -> None:
        """Wait until the work before the event is done."""
        self.cupy_event.synchronize()

    def elapsed_time(self, end_event) -> float:
        """Milliseconds between this event and ``end_event`` (both recorded, timing enabled)."""
        return float(_common.cupy().cuda.get_elapsed_time(self.cupy_event, end_event.cupy_event))

    @property
    def cuda_event(self) -> int:
        """The ``cudaEvent_t`` handle, as an int."""
        return int(self.cupy_event.ptr)

    def __repr__(self):
        return f"<ember.cuda.Event {self.cuda_event:#x}>"


def current_stream(device=None) -> Stream:
    """The stream ember queues GPU work on now.

    Args:
        device: the GPU (default: the current one).

    Returns:
        A ``Stream``.
    """
    cp = _common.cupy()
    index = _common.index(device)
    with cp.cuda.Device(index):
        return Stream._wrap(cp.cuda.get_current_stream(), index)


def default_stream(device=None) -> Stream:
    """The GPU's default (null) stream.

    Args:
        device: the GPU (default: the current one).

    Returns:
        A ``Stream``.
    """
    return Stream._wrap(_common.cupy().cuda.Stream.null, _common.index(device))


def set_stream(stream) -> None:
    """Make ``stream`` the current stream (prefer ``with ember.cuda.stream(s):``).

    Args:
        stream: a ``Stream``; None does nothing.
    """
    if stream is None:
        return
    stream.cupy_stream.use()


class StreamContext:
    """Context manager making ``stream`` current inside the block (None: leave the current one).

    Args:
        stream: a ``Stream`` or None.
    """

    def __init__(self, stream):
        self.stream = stream
        self._previous = None

    def __enter__(self):
        if self.stream is None or not _common.available():
            return self.stream
        self._previous = current_stream(self.stream.device)
        set_stream(self.stream)
        return self.stream

    def __exit__(self, *exc):
        if self._previous is not None:
            set_stream(self._previous)
            self._previous = None
        return False


def stream(stream) -> StreamContext:
    """Queue the block's GPU work on ``stream`` (None: leave the current stream).

    Args:
        stream: a ``Stream`` or None.

    Returns:
        A ``StreamContext``.
    """
    return StreamContext(stream)
