"""The distributed package's exception classes (PyTorch's ``torch.distributed`` hierarchy)."""


class DistError(RuntimeError):
    """The base of the distributed package's errors."""


class DistNetworkError(DistError):
    """A network operation of the distributed package failed (a peer could not be reached)."""


class DistStoreError(DistError):
    """A store operation failed (typically: a key did not appear within the timeout)."""


class QueueEmptyError(DistStoreError):
    """A non-blocking ``queue_pop`` found the queue empty."""
