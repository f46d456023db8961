"""``ember.Stream`` and ``ember.Event``: PyTorch's device-generic stream and event.

``ember.Stream("cuda")`` is an ``ember.cuda.Stream`` (CuPy's streams). On the other devices
ember runs each device's work in one queue: the stream of ``cpu`` and ``meta`` is the null
stream, where work is done when the call returns; on ``opencl`` and ``mps`` (and other
plugin devices) the stream is the device's queue, which ``synchronize()`` drains. Events of
those queued devices record by draining the queue and noting the host clock, so
``elapsed_time`` covers the work between two records; the CPU has no events, as in PyTorch.
"""
from __future__ import annotations

import time

from ember.core.device import device as _Device

__all__ = ["Stream", "Event"]

# PyTorch's c10::DeviceType numbers, which Stream.device_type reports.
_DEVICE_TYPE_NUMBER = {"cpu": 0, "cuda": 1, "opencl": 4, "rocm": 6, "mps": 13, "meta": 14}
_PRIVATE_USE = 20


def _device_of(device) -> _Device:
    if device is None:
        from ember.accelerator import current_accelerator
        found = current_accelerator()
        return _Device("cpu") if found is None else found
    if isinstance(device, int) and not isinstance(device, bool):
        raise TypeError(f"expected a device string or ember.device, got the int {device}")
    return device if isinstance(device, _Device) else _Device(device)


def _queued_backend(d: _Device):
    """The backend whose queue a stream of ``d`` drains; None for cpu and meta."""
    if d.type in ("cpu", "meta"):
        return None
    from ember.dispatch.registry import REGISTRY
    return REGISTRY.available_backend(d.type)


class _ByDevice(type):
    """``ember.Stream("cuda")`` / ``ember.Event("cuda")`` make the cuda classes (CuPy's streams and events)."""

    def __call__(cls, *args, **kwargs):
        if cls in (Stream, Event):
            d = _device_of(args[0] if args else kwargs.get("device"))
            if d.type in ("cuda", "rocm"):
                from ember.cuda import device as cuda_device, streams
                if cls is Stream:
                    return streams.Stream(d, priority=kwargs.get("priority", 0))
                with cuda_device(d):
                    return streams.Event(enable_timing=kwargs.get("enable_timing", False),
                                         blocking=kwargs.get("blocking", False),
                                         interprocess=kwargs.get("interprocess", False))
        return super().__call__(*args, **kwargs)


class Stream(metaclass=_ByDevice):
    """A queue of work on a device (see the module docstring for what each device has).

    Args:
        device: the device (default: the current accelerator, else the CPU).
        priority: the stream's priority (used by CUDA streams; one queue elsewhere).
    """

    def __init__(self, device=None, *, priority=0, **kwargs):
        d = _device_of(device)
        self._backend = _queued_backend(d)  # raises when the device cannot be used
        self.device = _Device(d.type) if self._backend is None else d if d.index is not None else _Device(d.type, 0)
        self.priority = priority

    @property
    def device_type(self) -> int:
        """The device type as PyTorch numbers it (0 cpu, 1 cuda, 13 mps, ...)."""
        return _DEVICE_TYPE_NUMBER.get(self.device.type, _PRIVATE_USE)

    @property
    def device_index(self) -> int:
        """The device index (-1 when the device has none)."""
        return -1 if self.device.index is None else self.device.index

    @property
    def stream_id(self) -> int:
        """The stream's id: 0, the device's one queue."""
        return 0

    def query(self) -> bool:
        """Whether all work queued on the stream is done (drains the queue on queued devices).

        Returns:
            A bool.
        """
        self.synchronize()
        return True

    def synchronize(self) -> None:
        """Wait for all work queued on the stream."""
        if self._backend is not None:
            self._backend.synchronize(self.device.index)

    def record_event(self, event=None):
        """Record an event on the stream.

        Args:
            event: the event (default: a new one).

        Returns:
            The event.

        Raises:
            RuntimeError: on the CPU, which has no events (as in PyTorch).
        """
        event = Event(self.device) if event is None else event
        event.record(self)
        return event

    def wait_event(self, event) -> None:
        """Make later work wait for ``event``: one queue per device, so work is already ordered."""

    def wait_stream(self, stream) -> None:
        """Make later work wait for ``stream``'s work so far (records an event on it).

        Args:
            stream: another stream.
        """
        self.wait_event(stream.record_event())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __eq__(self, other):
        return type(other) is type(self) and other.device == self.device

    def __hash__(self):
        return hash((type(self), self.device))

    def __repr__(self):
        return (f"ember.Stream device_type={self.device.type}, device_index={self.device_index}, "
                f"stream_id={self.stream_id}")


class Event(metaclass=_ByDevice):
    """A marker in a stream's work: ``record``, ``query``, ``synchronize``, ``elapsed_time``.

    Args:
        device: the device (default: the current accelerator, else the CPU).
        enable_timing: whether ``elapsed_time`` may be asked.
        blocking: accepted as in PyTorch; waits on ember's queued devices always block.
        interprocess: accepted as in PyTorch; such events are not shared between processes here.
    """

    def __init__(self, device=None, *, enable_timing=False, blocking=False, interprocess=False):
        d = _device_of(device)
        self._backend = _queued_backend(d)
        self.device = _Device(d.type) if self._backend is None else d if d.index is not None else _Device(d.type, 0)
        self.enable_timing = enable_timing
        self._time = None

    @property
    def event_id(self) -> int:
        """0: these events have no native handle."""
        return 0

    def record(self, stream=None) -> None:
        """Record the event: drain the device's queue and note the time.

        Args:
            stream: the stream (default: the device's).

        Raises:
            RuntimeError: on the CPU, which has no events.
        """
        if self._backend is None:
            raise RuntimeError(f"{self.device.type} backend doesn't support events.")
        self._backend.synchronize(self.device.index)
        self._time = time.perf_counter()

    def query(self) -> bool:
        """Whether the work before the event is done: always, once ``record`` returned."""
        return True

    def synchronize(self) -> None:
        """Wait for the work before the event: ``record`` already waited."""

    def wait(self, stream=None) -> None:
        """Make ``stream``'s later work wait for the event: already ordered (one queue)."""

    def elapsed_time(self, end_event) -> float:
        """Milliseconds between this event's record and ``end_event``'s.

        Args:
            end_event: an event recorded later.

        Returns:
            A float.

        Raises:
            ValueError: unless both were created with ``enable_timing=True``.
            RuntimeError: when one is not recorded.
        """
        if not (self.enable_timing and getattr(end_event, "enable_timing", False)):
            raise ValueError("Both events must be created with argument 'enable_timing=True'.")
        if self._time is None or end_event._time is None:
            raise RuntimeError("Both events must be recorded before calculating elapsed time.")
        return (end_event._time - self._time) * 1000.0

    def __repr__(self):
        return (f"ember.Event device_type={self.device.type}, device_index="
                f"{-1 if self.device.index is None else self.device.index}, "
                f"event_flag={int(self.enable_timing)}, event_id=0")
