"""``torch.distributed.remote_device``: ``_remote_device``, a device on a named worker or rank
("worker1/cuda:0", "rank:1/cpu")."""
from __future__ import annotations

__all__: list = []


class _remote_device:
    """A device of a remote worker, parsed from "<worker>/<device>" or "rank:<n>/<device>".

    Args:
        remote_device: the string (or a device alone, on no worker).
    """

    def __init__(self, remote_device):
        import ember
        PARSE = "Could not parse remote_device: {}. The valid format is '<workername>/<device>' or " \
                "'rank:<rank>/<device>'"
        if isinstance(remote_device, ember.device):
            self._worker, self._rank, self._device = None, None, remote_device
            return
        if not isinstance(remote_device, str):
            raise TypeError(f"Invalid type for remote_device: {type(remote_device)}")
        parts = remote_device.split("/")
        if len(parts) == 1:
            self._worker, self._rank, self._device = None, None, ember.device(parts[0])
            return
        if len(parts) != 2 or not parts[0]:
            raise ValueError(PARSE.format(remote_device))
        worker, device = parts
        self._worker = self._rank = None
        if worker.startswith("rank:"):
            try:
                self._rank = int(worker[len("rank:"):])
            except ValueError:
                raise ValueError(PARSE.format(remote_device)) from None
        else:
            self._worker = worker
        self._device = ember.device(device)

    def worker_name(self):
        """The worker's name (None when given by rank)."""
        return self._worker

    def rank(self):
        """The worker's rank (None when given by name)."""
        return self._rank

    def device(self):
        """The device on the worker."""
        return self._device

    def __repr__(self):
        if self._worker is not None:
            return f"{self._worker}/{self._device}"
        if self._rank is not None:
            return f"rank:{self._rank}/{self._device}"
        return str(self._device)

    def __eq__(self, other):
        return isinstance(other, _remote_device) and (self._worker, self._rank, str(self._device)) == \
            (other._worker, other._rank, str(other._device))

    def __hash__(self):
        return hash((self._worker, self._rank, str(self._device)))
