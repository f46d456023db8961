"""Public functions as dispatch points: where a mode key sees a whole public op.

Most of what a mode key (``ember.dispatch.keys``) sees are the dispatched ops of the op
table, one ``call`` at a time. Autocast needs more: PyTorch applies its per-op policy to
public ops such as ``linear``, ``addmm`` or ``mse_loss``, which ember writes as composites
of several dispatched ops (casting the matmul inside ``linear`` alone would let a float32
bias promote the result back). A public function marked ``@dispatch_point("linear")``
therefore hands its call to the active modes as a ``PublicOp`` before running:

    handler(op, args, kwargs, below)

where ``op`` is the ``PublicOp`` (``op.name`` the policy name, ``op.function`` the
undecorated function), ``args``/``kwargs`` the call's arguments, and ``below(op, args,
kwargs)`` runs the next mode, or — below every mode — the function with the modes out of
the way (PyTorch excludes the Autocast key while an autocast-wrapped op runs its body). A
handler that has nothing to do for the op calls ``op.function(*args, **kwargs)`` itself,
so the ops inside still see the mode (PyTorch's fallthrough).

Outside any mode the point costs one attribute check, as ``call`` does.
"""
from __future__ import annotations

import functools

from ember.dispatch.keys import ACTIVE, persistent_modes


class PublicOp:
    """A public function seen by the mode keys: its policy name and the function itself."""
    __slots__ = ("name", "function")

    def __init__(self, name: str, function):
        self.name = name
        self.function = function

    def __repr__(self):
        return f"<public op {self.name}>"


def dispatch_point(name: str):
    """Make a public function a dispatch point for the mode keys (Autocast's per-op policy).

    Args:
        name: the op's name in the mode's tables (PyTorch's name: ``"linear"``, ``"__rtruediv__"``).

    Returns:
        A decorator; the function it returns has the wrapped one's name, docstring and
        signature, and carries the ``PublicOp`` as ``__public_op__``.
    """
    def decorate(fn):
        op = PublicOp(name, fn)

        @functools.wraps(fn)
        def point(*args, **kwargs):
            modes = ACTIVE.modes
            if modes:
                return modes[0](op, args, kwargs, _BELOW_FIRST)
            return fn(*args, **kwargs)
        point.__public_op__ = op
        return point
    return decorate


def _below(level):
    """The rest of a public op's dispatch under mode ``level - 1``: the next mode, or the
    function itself with every mode out of the way (restored after, even on error)."""
    def below(op, args, kwargs):
        modes = ACTIVE.modes
        if level < len(modes):
            return modes[level](op, args, kwargs, _below(level + 1))
        keys = ACTIVE.keys
        ACTIVE.modes, ACTIVE.keys = persistent_modes()
        try:
            return op.function(*args, **kwargs)
        finally:
            ACTIVE.modes, ACTIVE.keys = modes, keys
    return below


_BELOW_FIRST = _below(1)  # what the first mode calls: made once, not per call


def outside_modes(fn):
    """``fn`` (a dispatch point or a plain function) run with the modes out of the way (all but a
    trace, which must see what runs).

    PyTorch's autocast leaves in-place variants (``a.addmm_(b, c)``, ``x.exp_()``) and calls
    with ``out=`` alone; their forms are built over the point with this.

    Args:
        fn: the function.

    Returns:
        ``fn`` itself when it is no dispatch point (nor wraps one); otherwise a function that
        calls ``fn`` with ``ACTIVE.modes`` empty (restored after).
    """
    if getattr(fn, "__public_op__", None) is None:
        return fn

    @functools.wraps(fn)
    def run(*args, **kwargs):
        modes, keys = ACTIVE.modes, ACTIVE.keys
        if not modes:
            return fn(*args, **kwargs)
        ACTIVE.modes, ACTIVE.keys = persistent_modes()
        try:
            return fn(*args, **kwargs)
        finally:
            ACTIVE.modes, ACTIVE.keys = modes, keys
    return run
