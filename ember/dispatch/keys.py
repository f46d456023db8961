"""Dispatch keys, highest priority first, and the modes that sit above the backends.

A call's key set comes from its arguments and the thread's state: the backend key of
its tensors' device (``CPU``, ``OpenCL``, ...), ``Autograd`` when grad mode is on and an
input requires grad, and the keys of the active modes (``Autocast`` inside an autocast
region). The highest key handles the call and passes it on below itself:

* a **mode key** (Autocast, Trace) is a handler, ``handler(op, inputs, attrs,
  below)``, that may change the inputs (autocast casts them) and then calls
  ``below(op, inputs, attrs)`` to run the rest; ``push_mode``/``pop_mode`` install it;
* **Autograd** runs the backend kernel and records the graph node (``ember.core.call``);
* the **backend key** picks the kernel from the op's table (``ember.dispatch.table``).

The hot path pays for the modes with one attribute check (``ACTIVE.modes`` is empty
outside any mode), as it pays for grad mode with one flag.
"""
from __future__ import annotations

AUTOCAST = "Autocast"
BATCHED = "Batched"   # ember.func.vmap: batching rules over BatchedTensors, above what traces see
TRACE = "Trace"       # graph capture (ember.fx): records each call below autocast's casts
PROFILE = "Profile"   # ember.profiler: times each call
CHECKPOINT = "Checkpoint"  # selective activation checkpointing: caches or replays outputs, closest to the kernels
AUTOGRAD = "Autograd"

#: keys above the backends, highest first; a mode's key must be one of these
MODE_KEYS = (AUTOCAST, BATCHED, TRACE, PROFILE, CHECKPOINT)

#: mode keys that stay active while a public op's body runs with the other modes excluded
#: (autocast must not see the ops inside ``linear`` again; a trace or a profiler must see them all)
PERSISTENT_KEYS = (BATCHED, TRACE, PROFILE, CHECKPOINT)  # (vmap: the body of a public op is batched too)

# Backend keys of the built-in device types; a third-party backend brings its own key.
BUILTIN_BACKEND_KEYS = {
    "cpu": "CPU",
    "cuda": "CUDA",
    "rocm": "ROCm",
    "opencl": "OpenCL",
    "mps": "MPS",
}

PRIORITY = (*MODE_KEYS, AUTOGRAD, *BUILTIN_BACKEND_KEYS.values())


class ActiveModes:
    """The active mode handlers, highest key first (empty outside every mode)."""
    __slots__ = ("modes", "keys")

    def __init__(self):
        self.modes = ()   # handlers, in MODE_KEYS order
        self.keys = ()    # their keys, in the same order


ACTIVE = ActiveModes()


class BatchedHooks:
    """What the Batched key (ember.func.vmap) does where tensor work bypasses ``call``: ``write(target,
    result)`` for in-place writes (None when neither is batched), ``random(shape, draw)`` for random draws
    (the draw, as the vmaps' randomness says) and ``batch_like(fresh, like)``: a fresh tensor made batched as
    ``like`` is (a derivative writing a batched gradient into new zeros). Set by ``ember.func``."""
    __slots__ = ("write", "random", "batch_like")

    def __init__(self):
        self.write = None
        self.random = None
        self.batch_like = None


BATCHED_HOOKS = BatchedHooks()


def push_mode(key: str, handler) -> None:
    """Make ``handler`` the handler of mode key ``key`` (replacing one already there)."""
    if key not in MODE_KEYS:
        raise ValueError(f"'{key}' is not a mode dispatch key (mode keys: {', '.join(MODE_KEYS)})")
    entries = dict(zip(ACTIVE.keys, ACTIVE.modes))
    entries[key] = handler
    _set(entries)


def pop_mode(key: str) -> None:
    """Remove the handler of mode key ``key`` (nothing if none is active)."""
    entries = dict(zip(ACTIVE.keys, ACTIVE.modes))
    entries.pop(key, None)
    _set(entries)


def _set(entries) -> None:
    keys = tuple(k for k in MODE_KEYS if k in entries)
    ACTIVE.keys = keys
    ACTIVE.modes = tuple(entries[k] for k in keys)


def persistent_modes() -> tuple:
    """(modes, keys) of the active persistent modes: what stays on when the others are excluded."""
    keys = ACTIVE.keys
    kept = [i for i, k in enumerate(keys) if k in PERSISTENT_KEYS]
    if not kept:
        return (), ()
    return tuple(ACTIVE.modes[i] for i in kept), tuple(keys[i] for i in kept)


def key_set(dispatch_key: str, needs_grad: bool) -> tuple:
    """The keys a call on a backend with ``dispatch_key`` sees now, highest first (tests, reports)."""
    return (*ACTIVE.keys, *((AUTOGRAD,) if needs_grad else ()), dispatch_key)
