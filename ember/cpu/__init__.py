"""``ember.cpu`` (``torch.cpu``): the CPU's answers to the device-module questions, and
``ember.cpu.amp``, the deprecated CPU forms of ``ember.amp``."""
from __future__ import annotations

from ember.cpu import amp  # noqa: F401

__all__ = ["is_available", "is_initialized", "synchronize", "current_device", "device_count", "set_device", "amp",
           "get_capabilities", "Stream", "Event", "StreamContext", "stream", "current_stream"]


def is_available() -> bool:
    """Whether the CPU device is there.

    Returns:
        True: it always is.
    """
    return True


def is_initialized() -> bool:
    """Whether the CPU device is initialised.

    Returns:
        True: it needs no initialisation.
    """
    return True


def synchronize(device=None) -> None:
    """Wait for the CPU's work to finish: CPU ops run to completion when called, so nothing to wait for.

    Args:
        device: ignored (there is one CPU device).
    """


def current_device() -> str:
    """The current CPU device.

    Returns:
        ``"cpu"``.
    """
    return "cpu"


def device_count() -> int:
    """The number of CPU devices.

    Returns:
        1.
    """
    return 1


def set_device(device) -> None:
    """Select the CPU device: there is only one, so this does nothing.

    Args:
        device: ignored.
    """


def get_capabilities():
    """The CPU's instruction-set features (``avx2``, ``avx512_f``, ``amx_tile``, ...), cache sizes,
    core and socket counts, as the operating system reports them.

    Returns:
        A read-only mapping from PyTorch's names to bools (features) and ints or strings.
    """
    from ember.cpu._capabilities import capabilities
    return capabilities()


# ---------------------------------------------------------------- streams and events
class Stream:
    """The CPU's stream: CPU work runs to completion when called, so every stream is always done.

    Args:
        priority: accepted as in PyTorch.
    """

    def __init__(self, priority: int = -1) -> None:
        self.priority = priority

    def wait_stream(self, stream) -> None:
        """Wait for ``stream``'s work: it is already done."""

    def wait_event(self, event) -> None:
        """Wait for ``event``: it is already reached."""

    def record_event(self) -> None:
        """Record an event: the CPU needs none (PyTorch returns None too)."""

    def query(self) -> bool:
        """Whether the stream's work is done: always."""
        return True

    def synchronize(self) -> None:
        """Wait for the stream's work: already done."""


class Event:
    """The CPU's event: always reached, since CPU work is done when its call returns."""

    def query(self) -> bool:
        """Whether the work before the event is done: always."""
        return True

    def record(self, stream=None) -> None:
        """Record the event on ``stream``: nothing to mark."""

    def synchronize(self) -> None:
        """Wait for the event: already reached."""

    def wait(self, stream=None) -> None:
        """Make ``stream`` wait for the event: already reached."""


_current_stream = Stream()


def current_stream(device=None) -> Stream:
    """The CPU's current stream.

    Args:
        device: ignored (one CPU device).

    Returns:
        A ``Stream``.
    """
    return _current_stream


class StreamContext:
    """Context manager making ``stream`` the CPU's current stream inside the block (None: no change).

    Args:
        stream: a ``Stream`` or None.
    """

    def __init__(self, stream):
        self.stream = stream
        self.prev_stream = None

    def __enter__(self):
        global _current_stream
        if self.stream is not None:
            self.prev_stream, _current_stream = _current_stream, self.stream
        return self.stream

    def __exit__(self, *exc):
        global _current_stream
        if self.stream is not None:
            _current_stream = self.prev_stream
        return False


def stream(stream) -> StreamContext:
    """Make ``stream`` the CPU's current stream inside a ``with`` block.

    Args:
        stream: a ``Stream`` or None.

    Returns:
        A ``StreamContext``.
    """
    return StreamContext(stream)
