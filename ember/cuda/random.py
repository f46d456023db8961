"""``ember.cuda.random`` (``torch.cuda.random``): the GPU's random-number state.

ember draws the numbers of every device from one Philox stream (``ember.default_generator``),
so the state of each GPU is that stream's state: setting it for a GPU sets it for all
devices, and the same seed gives the same numbers on the CPU and on the GPU. Without a
usable GPU, ``get_rng_state_all()`` is empty and the setters do nothing, as in PyTorch
(which queues them until CUDA starts); ``get_rng_state()`` raises.
"""
from __future__ import annotations

from ember.cuda import _common

__all__ = ["get_rng_state", "get_rng_state_all", "set_rng_state", "set_rng_state_all", "manual_seed",
           "manual_seed_all", "seed", "seed_all", "initial_seed"]


def get_rng_state(device="cuda"):
    """The random-number state of a GPU.

    Args:
        device: the GPU (an index, ``"cuda"``, ``"cuda:1"``, a device).

    Returns:
        A CPU int64 tensor (ember's Philox stream state; see ``ember.get_rng_state``).

    Raises:
        RuntimeError: without a usable GPU.
    """
    _common.index(device)  # checks the device names a usable GPU
    from ember.ops.random import get_rng_state as _get
    return _get()


def get_rng_state_all() -> list:
    """The random-number state of every GPU.

    Returns:
        A list with one state per GPU (empty without a usable GPU).
    """
    from ember.cuda import device_count
    return [get_rng_state(i) for i in range(device_count())]


def set_rng_state(new_state, device="cuda") -> None:
    """Set a GPU's random-number state (ember's one stream; see the module docstring).

    Args:
        new_state: a state from ``get_rng_state``.
        device: the GPU; without a usable GPU the call does nothing, as in PyTorch.
    """
    if not _common.available():
        return
    _common.index(device)
    from ember.ops.random import set_rng_state as _set
    _set(new_state)


def set_rng_state_all(new_states) -> None:
    """Set the random-number state of every GPU, one state each.

    Args:
        new_states: an iterable of states, the i-th for GPU i.
    """
    for i, state in enumerate(new_states):
        set_rng_state(state, i)


def manual_seed(seed) -> None:
    """Seed the random numbers of the GPU (ember's one Philox stream).

    Args:
        seed: an int.
    """
    from ember.ops.random import manual_seed as _seed
    _seed(seed)


manual_seed_all = manual_seed


def seed() -> None:
    """Seed the random numbers with a non-deterministic seed."""
    from ember.ops.random import seed as _seed
    _seed()


seed_all = seed


def initial_seed() -> int:
    """The seed the random numbers were last seeded with.

    Returns:
        An int.
    """
    from ember.ops.random import initial_seed as _initial
    return _initial()
