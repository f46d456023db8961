"""ember.futures: the result of an asynchronous operation (PyTorch's ``torch.futures``).

A ``Future`` is completed with ``set_result`` (or ``set_exception``); ``wait()`` returns the
value, raising the exception if one was set. A future made by an asynchronous collective
(``Work.get_future()``) completes when it is waited on or when its operation has finished.
``then(callback)`` chains: the callback gets the completed future and its return value
completes the chained one.
"""
from __future__ import annotations

__all__ = ["Future", "collect_all", "wait_all"]


class Future:
    """A value that will be available later.

    Args:
        devices: accepted for PyTorch's signature (ember's futures hold the devices' tensors as they are).
    """

    def __init__(self, *, devices=None):
        self._done = False
        self._value = None
        self._error = None
        self._callbacks = []
        self._waiter = None        # a function that completes this future (an async operation's wait)

    # ------------------------------------------------------------ completing
    def set_result(self, result) -> None:
        """Complete the future with ``result`` and run its callbacks.

        Raises:
            RuntimeError: if it is already complete.
        """
        if self._done:
            raise RuntimeError("Future can only be marked completed once.")
        self._value, self._done = result, True
        self._run_callbacks()

    def set_exception(self, result) -> None:
        """Complete the future with an exception (``wait`` and ``value`` raise it)."""
        if not isinstance(result, BaseException):
            raise TypeError(f"{result!r} is of type {type(result).__name__}, not an Exception.")
        if self._done:
            raise RuntimeError("Future can only be marked completed once.")
        self._error, self._done = result, True
        self._run_callbacks()

    def _run_callbacks(self):
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)

    # ------------------------------------------------------------ reading
    def done(self) -> bool:
        """Whether the future is complete."""
        return self._done

    def wait(self):
        """Block until complete; returns the value (raises the exception it holds)."""
        if not self._done and self._waiter is not None:
            waiter, self._waiter = self._waiter, None
            try:
                value = waiter()
            except Exception as exc:
                if not self._done:
                    self.set_exception(exc)
            else:
                if not self._done:
                    self.set_result(value)
        if not self._done:
            raise RuntimeError("waiting on a Future that nothing will complete (call set_result first)")
        if self._error is not None:
            raise self._error
        return self._value

    def value(self):
        """The value of a completed future (raises its exception)."""
        if not self._done:
            raise RuntimeError("Future.value() called before the future completed; call wait() first")
        if self._error is not None:
            raise self._error
        return self._value

    # ------------------------------------------------------------ chaining
    def then(self, callback) -> "Future":
        """A future completed with ``callback(self)`` once this one completes."""
        chained = Future()

        def run(fut):
            try:
                chained.set_result(callback(fut))
            except Exception as exc:
                chained.set_exception(exc)
        if self._done:
            run(self)
        else:
            self._callbacks.append(run)
            chained._waiter = _chain_waiter(self, chained)
        return chained

    def add_done_callback(self, callback) -> None:
        """Run ``callback(self)`` when complete (now, if it already is)."""
        if self._done:
            callback(self)
        else:
            self._callbacks.append(callback)


def _chain_waiter(parent, chained):
    def wait():
        parent.wait()               # completing the parent runs the callback that completes `chained`
        return chained._value
    return wait


def from_waiter(waiter) -> Future:
    """A future completed with ``waiter()`` the first time it is waited on (ember's async operations)."""
    fut = Future()
    fut._waiter = waiter
    return fut


def collect_all(futures) -> Future:
    """A future completed, with the list of ``futures``, once all of them are complete."""
    futures = list(futures)
    out = Future()

    def waiter():
        for f in futures:
            try:
                f.wait()
            except Exception:   # the failed future holds its exception; the list still completes
                pass
        return futures
    out._waiter = waiter
    return out


def wait_all(futures) -> list:
    """Wait for every future; returns their values."""
    return [f.wait() for f in futures]
