"""Forward-mode AD state: the active dual level and the tangents of its dual tensors.

A dual tensor is an ordinary Tensor with a tangent registered here, keyed by the tensor's id
(a weak reference drops the entry when the tensor dies, so the table never keeps a tensor
alive). While a level is active, ``ember.core.call.call`` hands every call to ``dual_call``
(one attribute test when no level is active): the primal runs as usual, then the op's JVP
rule (``OpDef.jvp``, written in ember ops by ``ember/ops/jvp_rules.py``) gives the output's
tangent. Rules run with the level switched off, so tangent arithmetic is plain arithmetic
(still recorded by reverse-mode autograd: forward and reverse mode compose).
"""
from __future__ import annotations

import weakref

from ember.core.tensor import Tensor


class _DualState:
    __slots__ = ("level", "tangents")

    def __init__(self):
        self.level = None    # the active level (an int) or None: the dispatcher's one test
        self.tangents = {}   # id(tensor) -> (weakref to it, its tangent)


DUAL = _DualState()


def tangent_of(t):
    """The tangent of ``t`` at the active level, or None."""
    entry = DUAL.tangents.get(id(t))
    if entry is None or entry[0]() is not t:
        return None
    return entry[1]


def set_tangent(t: Tensor, tangent) -> None:
    """Make ``tangent`` the tangent of ``t`` (None removes it)."""
    key = id(t)
    table = DUAL.tangents
    if tangent is None:
        table.pop(key, None)
        return

    def _drop(ref, key=key, table=table):
        entry = table.get(key)
        if entry is not None and entry[0] is ref:
            del table[key]
    table[key] = (weakref.ref(t, _drop), tangent)


def enter(level: int) -> None:
    DUAL.tangents = {}
    DUAL.level = level


def leave() -> None:
    # every tangent of the level goes with it (a new table: the old weak references' callbacks
    # only touch the old one)
    DUAL.tangents = {}
    DUAL.level = None


def _float(t) -> bool:
    return isinstance(t, Tensor) and (t.dtype.is_floating_point or t.dtype.is_complex)


def dual_call(call, op, inputs, attrs):
    """``call(op, *inputs, **attrs)`` inside a dual level: the primal, then its tangent."""
    level = DUAL.level
    tangents = None
    table = DUAL.tangents
    if table:
        for i, t in enumerate(inputs):
            if isinstance(t, Tensor) and id(t) in table:
                tangent = tangent_of(t)
                if tangent is not None:
                    if tangents is None:
                        tangents = [None] * len(inputs)
                    tangents[i] = tangent
    DUAL.level = None
    try:
        out = call(op, *inputs, **attrs)
        if tangents is None or op.jvp is None:
            return out
        first = out[0] if type(out) is tuple else out
        if not _float(first) and type(out) is not tuple:
            return out
        result = op.jvp(inputs, tuple(tangents), out, attrs)
        if type(out) is tuple:
            results = result if isinstance(result, (tuple, list)) else (result,)
            for o, t in zip(out, results):
                if t is not None and _float(o):
                    _attach(o, t)
        elif result is not None:
            _attach(out, result)
    finally:
        DUAL.level = level
    return out


def _attach(out: Tensor, tangent: Tensor) -> None:
    if tangent._data.shape != out._data.shape:
        from ember.core.call import call as _call
        from ember.dispatch.ops import OPS
        # (a copy, not a broadcast view: an in-place op on ``out`` writes into its tangent)
        tangent = _call(OPS["clone"], _call(OPS["expand"], tangent, shape=tuple(out._data.shape)))
    set_tangent(out, tangent)
    node = out.grad_fn
    # the node's saved copy of this output must unpack with the tangent (forward-over-reverse)
    saved = getattr(node, "saved", None)
    if saved and saved[-1] is not None and getattr(saved[-1], "is_output", False):
        saved[-1].fw_tangent = tangent


def write_tangent(target: Tensor, result) -> None:
    """After an in-place write of ``result`` into ``target``: the tangent follows the value."""
    if not _float(target):
        return
    new = tangent_of(result) if isinstance(result, Tensor) else None
    old = tangent_of(target)
    if new is None and old is None:
        base = target._base
        if base is None or tangent_of(base) is None:
            return
    from ember.core.call import call as _call, replay_view, write_inplace
    from ember.dispatch.ops import OPS
    level = DUAL.level
    DUAL.level = None
    try:
        if old is None:
            base = target._base
            if base is None:
                set_tangent(target, _call(OPS["clone"], new) if new._data.shape == target._data.shape
                            else _call(OPS["clone"], _call(OPS["expand"], new, shape=tuple(target._data.shape))))
                return
            # a view written with a dual value: the base gets a (zero) tangent, the view a view of it
            base_tangent = tangent_of(base)
            if base_tangent is None:
                if not _float(base):
                    return
                from ember.core.tensor import make_tensor
                base_tangent = _call(OPS["clone"], make_tensor(base._data, base.dtype, base.device))
                write_inplace(base_tangent, 0)
                set_tangent(base, base_tangent)
            old = replay_view(target._view_fn, base_tangent)
            set_tangent(target, old)
        write_inplace(old, new if new is not None else 0)
    finally:
        DUAL.level = level


# ---------------------------------------------------------------- custom autograd.Function
def tangents_of_args(cls, args):
    """The tangents of a custom Function's arguments, or None (no level, or no argument has one).

    ember's own Functions without a ``jvp`` (they stand for PyTorch ops that support forward mode)
    return None: their forward's ops carry the tangents."""
    if DUAL.level is None:
        return None
    if cls.__module__.startswith("ember.") and "jvp" not in _own_attributes(cls):
        return None
    found = [tangent_of(a) if isinstance(a, Tensor) else None for a in args]
    return found if any(t is not None for t in found) else None


def _own_attributes(cls):
    names = set()
    for klass in cls.__mro__:
        if klass.__module__ == "ember.autograd.function":
            break
        names.update(vars(klass))
    return names


class level_off:
    """Within it ops carry no tangents (the level and its tangents stay); a no-op when ``active`` is false."""

    def __init__(self, active=True):
        self.active = active

    def __enter__(self):
        self.level = DUAL.level
        if self.active:
            DUAL.level = None

    def __exit__(self, *exc):
        DUAL.level = self.level
        return False


class _JvpCtx:
    """A custom Function's ctx as its ``jvp`` sees it: ``saved_tensors`` are those of ``save_for_forward``."""

    def __init__(self, ctx):
        object.__setattr__(self, "_ctx", ctx)

    @property
    def saved_tensors(self):
        return tuple(getattr(self._ctx, "_saved_forward", ()))

    def __getattr__(self, name):
        return getattr(self._ctx, name)

    def __setattr__(self, name, value):
        setattr(self._ctx, name, value)


def custom_function_jvp(cls, ctx, output, tangents) -> None:
    """Give a custom Function's outputs the tangents its ``jvp(ctx, *tangents)`` returns."""
    with level_off():
        result = cls.jvp(_JvpCtx(ctx), *tangents)
    outputs = output if isinstance(output, tuple) else (output,)
    results = result if isinstance(result, tuple) else (result,)
    if len(results) != len(outputs):
        raise RuntimeError(f"{cls.__name__}.jvp returned {len(results)} tangents for {len(outputs)} outputs")
    for o, t in zip(outputs, results):
        if isinstance(o, Tensor) and t is not None and _float(o):
            if tuple(t._data.shape) != tuple(o._data.shape):
                raise RuntimeError(f"{cls.__name__}.jvp: a tangent of shape {list(t._data.shape)} for an output "
                                   f"of shape {list(o._data.shape)}")
            set_tangent(o, t)
