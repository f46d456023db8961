"""``ember.random``, PyTorch's ``torch.random``: the default generator's seed and state, and
``fork_rng`` to run code on a copy of the random state.

ember has one random stream for every device (Philox, see ``ember.ops.random``): the default
generator serves cpu and every accelerator, so forking it forks all of them.
"""
from __future__ import annotations

import contextlib

from ember.ops.random import (default_generator, get_rng_state, initial_seed, manual_seed, seed,
                              set_rng_state)

__all__ = ["fork_rng", "get_rng_state", "initial_seed", "manual_seed", "seed", "set_rng_state",
           "thread_safe_generator"]


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type=None):
    """Run the ``with`` body on a fork of the random state: on exit the state is as before.

    Args:
        devices: the accelerator devices (indices) whose random state to fork; any iterable.
            ember's stream is shared by all devices, so forking it forks every device.
        enabled: ``False`` makes the context manager do nothing.
        device_type: the accelerator type (``"cuda"``, ``"mps"``, ...; default: the current
            accelerator, else ``"cuda"``); ``"meta"`` forks nothing, as in PyTorch.

    Returns:
        A context manager; the state is restored even if the body raises.

    Raises:
        RuntimeError: if ``device_type`` names no device type.
    """
    if device_type == "meta":
        yield
        return
    if device_type is not None:
        from ember.core.device import device
        device(device_type)  # an unknown type raises RuntimeError, as PyTorch's does
    if not enabled:
        yield
        return
    if devices is not None:
        list(devices)  # PyTorch traverses it (a generator is consumed); every device shares the stream
    state = default_generator.get_state()
    try:
        yield
    finally:
        default_generator.set_state(state)


def thread_safe_generator():
    """The generator a DataLoader thread worker should draw from, for thread-safe transforms.

    Returns:
        The worker's own ``ember.Generator`` inside a DataLoader thread worker; ``None`` in the
        main process and in process workers (the random functions then use the default
        generator, which each worker process has reseeded).
    """
    from ember.utils.data import get_worker_info
    info = get_worker_info()
    if info is not None and getattr(info, "worker_method", None) == "thread":
        rng = getattr(info, "rng", None)
        if rng is not None:
            return getattr(rng, "torch_generator", rng)
    return None

