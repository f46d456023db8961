"""``torch.distributed.checkpoint.api``: ``CheckpointException``, raised on every rank when a save
or load failed on some rank."""
from __future__ import annotations

import traceback

__all__ = ["CheckpointException"]


class CheckpointException(BaseException):
    """A save or load failed on some ranks.

    Args:
        msg: what failed.
        failures: rank -> the exception (with its traceback) that rank raised.
    """

    def __init__(self, msg, failures):
        super().__init__(msg, failures)
        self._failures = failures

    @property
    def failures(self):
        """rank -> the exception that rank raised."""
        return self._failures

    def __str__(self):
        lines = [f"CheckpointException ranks:{list(self._failures)}"]
        for rank, exc in self._failures.items():
            lines.append(f"Traceback (most recent call last): (RANK {rank})")
            tb = getattr(exc, "_ember_tb", None)
            lines.append(tb if tb else "".join(traceback.format_exception_only(type(exc), exc)))
        return "\n".join(lines)


class _WrappedException:
    """An exception with its formatted traceback, as it travels between ranks."""

    def __init__(self, exc):
        self.exc = exc
        self.tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _unwrap(failures):
    out = {}
    for rank, w in failures.items():
        exc = w.exc if isinstance(w, _WrappedException) else w
        try:
            exc._ember_tb = w.tb if isinstance(w, _WrappedException) else None
        except AttributeError:
            pass
        out[rank] = exc
    return out
