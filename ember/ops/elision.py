"""Temporary elision for the Python operators, as numpy does it.

In ``a * b + c`` the product is an intermediate no name refers to: nothing can see it
after the addition, so the sum may be written into its memory instead of a new array
(one allocation and one pass over memory less). An operator method tells an intermediate
from a named tensor by its reference count: an unnamed operand is referenced only by the
interpreter's stack and the method's own frame. Those counts depend on the interpreter, so
they are measured once at import on a probe class with methods of the same shape.

Only large, plain tensors are elided (numpy's threshold, 256 KiB: below it a new array is
cheap), never a view or the base of one, a tensor whose array something else holds (a
numpy view, a saved tensor), or a tensor under autograd; and the write itself goes through
``core.into.call_into``, which steps aside under modes, dtype changes and broadcasting that
would grow the result.
"""
from __future__ import annotations

import sys

from ember.core import dtype as dt
from ember.core.call import call
from ember.core.into import call_into
from ember.core.tensor import Tensor

_refs = sys.getrefcount
_MIN_BYTES = 1 << 18
_KEEPS_DTYPE = frozenset({dt.float16, dt.float32, dt.float64})  # with a Python number (elementwise._binary)


def _measured_counts():
    """(refs of an unnamed self in a forward operator, in a reflected one, refs of an array held
    by one attribute only), read the way the operators below read them; None where a named
    operand would not count more than an unnamed one (never elide)."""
    seen = {}

    class Probe:
        def __add__(self, other):
            seen.setdefault("forward", []).append(_refs(self))
            return self

        def __radd__(self, other):
            seen.setdefault("reflected", []).append(_refs(self))
            return self

    Probe() + 1
    named = Probe()
    named + 1
    1 + Probe()
    1 + named
    (forward, forward_named), (reflected, reflected_named) = seen["forward"], seen["reflected"]
    if forward_named <= forward or reflected_named <= reflected:
        return None

    class Holder:
        pass
    holder = Holder()
    holder.value = object()
    return forward, reflected, _refs(holder.value)


_COUNTS = _measured_counts()


def _elidable(t, other) -> bool:
    """Whether the result of ``t <op> other`` may take ``t``'s memory (``t`` already known unnamed)."""
    if type(t) is not Tensor or t._base is not None or t._views is not None or t._rg:
        return False
    if _refs(t._data) > _COUNTS[2] or getattr(t._data, "nbytes", 0) < _MIN_BYTES:
        return False
    if isinstance(other, Tensor):
        return other.dtype is t.dtype and not other._rg
    kind = type(other)
    return (kind is float or kind is int) and t.dtype in _KEEPS_DTYPE


def eliding(fn, op, reflected=False, direct=False):
    """The operator method ``self <op> other`` (``other <op> self`` when ``reflected``) computing
    ``fn``, writing into ``self``'s memory when ``self`` is an unnamed intermediate. ``direct``:
    ``fn`` sends two plain tensors of one dtype and shape straight to ``op`` (add and mul do),
    so the operator does that itself, without ``fn``'s argument handling (a twentieth of a
    1-element ``a + b``)."""
    if _COUNTS is None:
        return fn if not reflected else (lambda self, other: fn(other, self))
    limit = _COUNTS[1] if reflected else _COUNTS[0]

    if direct and not reflected:
        def operator(self, other):
            if _refs(self) <= limit and _elidable(self, other):
                done = call_into(self, op, self, other)
                if done is not None:
                    return done
            if type(self) is Tensor and type(other) is Tensor and self.dtype is other.dtype \
                    and self._data.shape == other._data.shape:
                return call(op, self, other)
            return fn(self, other)
    elif reflected:
        def operator(self, other):
            if _refs(self) <= limit and _elidable(self, other):
                done = call_into(self, op, other, self)
                if done is not None:
                    return done
            return fn(other, self)
    else:
        def operator(self, other):
            if _refs(self) <= limit and _elidable(self, other):
                done = call_into(self, op, self, other)
                if done is not None:
                    return done
            return fn(self, other)
    name = fn.__name__
    operator.__name__ = operator.__qualname__ = f"__r{name}__" if reflected else f"__{name}__"
    operator.__doc__ = f"``other {name} self``." if reflected else f"``self {name} other``."
    return operator
