"""Marks and switches that steer ``ember.compile`` (PyTorch's ``torch._dynamo`` decorators).

Dimension marks (``mark_dynamic``, ``maybe_mark_dynamic``, ``mark_static``) live in a table
keyed by the tensor's id (ember tensors have fixed slots): the compiled function's guard key
reads it only while some tensor is marked, so unmarked programs pay nothing.
"""
from __future__ import annotations

import functools
import weakref

from ember.dispatch.keys import ACTIVE, TRACE
from ember.dispatch.tracing import TRACE_STATE

# id(tensor) -> [weakref, {"dynamic": set, "weak": set, "static": set, "min": {}, "max": {}}]
MARKS: dict = {}


def _marks_of(t, create=False):
    entry = MARKS.get(id(t))
    if entry is not None and entry[0]() is t:
        return entry[1]
    if not create:
        return None
    key = id(t)
    info = {"dynamic": set(), "weak": set(), "static": set(), "min": {}, "max": {}}
    MARKS[key] = [weakref.ref(t, lambda _ref, key=key: MARKS.pop(key, None)), info]
    return info


def _indices(t, index):
    dims = list(index) if isinstance(index, (list, tuple)) else [index]
    out = []
    for d in dims:
        if not isinstance(d, int):
            raise TypeError(f"dimension index must be an int, got {type(d).__name__}")
        n = t.dim()
        if not -n <= d < n:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
        out.append(d % n)
    return out


def mark_dynamic(t, index, *, hint_override=None, min=None, max=None, specialize_on=None) -> None:
    """Mark dimension(s) ``index`` of ``t`` dynamic: a compiled function called with ``t`` keeps
    one graph for every size of that dimension (between ``min`` and ``max``) instead of
    capturing again per size. A program whose graph bakes the size in (``x.view(4, 3)``)
    raises ``ConstraintViolationError`` when it is compiled. ember sees the ops a program
    dispatches, not its Python: a Python branch on the size (``if x.shape[0] > 4``) is not
    guarded, so mark only dims the program's control flow does not depend on.

    Args:
        t: the tensor (a Module's parameter or an input).
        index: a dimension or a list of dimensions.
        hint_override: accepted for PyTorch's signature (ember captures with the real size).
        min: the smallest size the graph is reused for (sizes outside recompile).
        max: the largest size the graph is reused for.
        specialize_on: accepted for PyTorch's signature; ember compiles one graph per range.
    """
    from ember.core.tensor import Tensor
    if not isinstance(t, Tensor):
        raise TypeError(f"mark_dynamic expects a tensor, got {type(t).__name__}")
    info = _marks_of(t, create=True)
    for d in _indices(t, index):
        info["dynamic"].add(d)
        info["static"].discard(d)
        if min is not None:
            info["min"][d] = min
        if max is not None:
            info["max"][d] = max


def maybe_mark_dynamic(t, index) -> None:
    """Mark dimension(s) ``index`` of ``t`` dynamic where the program allows it: as
    ``mark_dynamic``, but a graph that bakes the size in is kept per size, without an error.

    Args:
        t: the tensor.
        index: a dimension or a list of dimensions.
    """
    from ember.core.tensor import Tensor
    if not isinstance(t, Tensor):
        raise TypeError(f"maybe_mark_dynamic expects a tensor, got {type(t).__name__}")
    info = _marks_of(t, create=True)
    for d in _indices(t, index):
        info["weak"].add(d)


def mark_static(t, index=None) -> None:
    """Mark dimension(s) ``index`` of ``t`` static (all dimensions when ``index`` is None): every
    new size is a new graph and counts towards the recompile limit, even under ``dynamic=True``.

    Args:
        t: the tensor, or an ``nn.Module`` (its parameters and buffers are marked; a compiled
            module's graphs already hold its state as the module's own, never as inputs).
        index: a dimension, a list of dimensions, or None.
    """
    from ember.core.tensor import Tensor
    from ember.nn.modules.module import Module
    if isinstance(t, Module):
        for p in list(t.parameters()) + list(t.buffers()):
            mark_static(p, index)
        return
    if not isinstance(t, Tensor):
        raise TypeError(f"mark_static expects a tensor or a Module, got {type(t).__name__}")
    info = _marks_of(t, create=True)
    for d in (range(t.dim()) if index is None else _indices(t, index)):
        info["static"].add(d)
        info["dynamic"].discard(d)
        info["weak"].discard(d)


def shape_key(t, shape):
    """The guard-key part of ``t``'s shape: marked-dynamic dims (in range) become None;
    returns ``(shape_key, static_sizes or None)``."""
    info = _marks_of(t)
    if info is None:
        return shape, None
    key = list(shape)
    for d in info["dynamic"] | info["weak"]:
        if d < len(key) and d not in info["static"]:
            lo, hi = info["min"].get(d), info["max"].get(d)
            if (lo is None or shape[d] >= lo) and (hi is None or shape[d] <= hi):
                key[d] = None
    static = tuple((d, shape[d]) for d in sorted(info["static"]) if d < len(shape)) or None
    return tuple(key), static


def strong_dims(t) -> set:
    """The dims of ``t`` marked with ``mark_dynamic`` (not ``maybe_mark_dynamic``)."""
    info = _marks_of(t)
    return set(info["dynamic"]) if info is not None else set()


# ---------------------------------------------------------------- graph breaks and opaque calls
def _tracer():
    if ACTIVE.keys and TRACE in ACTIVE.keys:
        return TRACE_STATE.tracer
    return None


def graph_break(msg: str = "") -> None:
    """Split the compiled program's graph here (a no-op outside compilation).

    Under ``fullgraph=True`` (and in ``ember.export``) it raises ``Unsupported`` naming the
    line; otherwise the program goes on, and ``explain`` counts one more graph.

    Args:
        msg: a message shown with the break.
    """
    tracer = _tracer()
    if tracer is None:
        return
    from ember.fx.capture import user_frame
    line = user_frame()
    if tracer.on_host_read == "raise":
        from ember._dynamo.exc import Unsupported
        raise Unsupported(f"Call to `ember._dynamo.graph_break()`\n  Explanation: User-inserted graph break. "
                          f"Message: {msg or None}\n  Hint: Remove the `ember._dynamo.graph_break()` call.\n\n"
                          f"from user code:\n  {line}")
    nodes = tracer.graph.nodes
    breaks = getattr(tracer, "graph_breaks", None)
    if breaks is None:
        breaks = tracer.graph_breaks = []
    breaks.append((nodes[-1] if nodes else None, f"graph_break() at {line}" + (f": {msg}" if msg else "")))


def _run_untraced(fn, args, kwargs):
    modes, keys = ACTIVE.modes, ACTIVE.keys
    ACTIVE.modes, ACTIVE.keys = (), ()
    try:
        return fn(*args, **kwargs)
    finally:
        ACTIVE.modes, ACTIVE.keys = modes, keys


def allow_in_graph(fn):
    """Put calls of ``fn`` into compiled graphs as one node (``call_function`` of ``fn``)
    instead of capturing the ops inside it; the node calls ``fn`` on every replay.

    Args:
        fn: a function of tensors, or a list/tuple of them.

    Returns:
        The function to call instead of ``fn`` (a list for a list).
    """
    if isinstance(fn, (list, tuple)):
        return [allow_in_graph(f) for f in fn]
    if getattr(fn, "_ember_allowed_in_graph", False):
        return fn

    @functools.wraps(fn)
    def allowed(*args, **kwargs):
        tracer = _tracer()
        if tracer is not None:
            return tracer.record_function(fn, args, kwargs)
        return fn(*args, **kwargs)
    allowed._ember_allowed_in_graph = True
    return allowed


def disallow_in_graph(fn):
    """Keep calls of ``fn`` out of compiled graphs: each call is a graph break (``Unsupported``
    under ``fullgraph=True``) and ``fn`` runs eagerly on every replay.

    Args:
        fn: the function.

    Returns:
        The function to call instead of ``fn``.
    """
    if isinstance(fn, (list, tuple)):
        return [disallow_in_graph(f) for f in fn]

    @functools.wraps(fn)
    def disallowed(*args, **kwargs):
        tracer = _tracer()
        if tracer is None:
            return fn(*args, **kwargs)
        graph_break(f"{getattr(fn, '__name__', fn)} is disallowed in the graph")
        from ember._dynamo.api import _run_disabled
        return tracer.record_function(_run_disabled(fn), args, kwargs)
    disallowed._ember_disallowed_in_graph = True
    return disallowed


def assume_constant_result(fn):
    """Treat ``fn``'s result as a constant while compiling: it runs once, when the program is
    captured, and the graph holds what it returned (tensors as captured constants).

    Args:
        fn: a function whose result does not change between calls.

    Returns:
        The function to call instead of ``fn``.
    """
    @functools.wraps(fn)
    def constant(*args, **kwargs):
        if _tracer() is not None:
            return _run_untraced(fn, args, kwargs)
        return fn(*args, **kwargs)
    constant._dynamo_marked_constant = True
    return constant


# ---------------------------------------------------------------- run-only mode and the older optimize()
class RunOnly:
    depth = 0


class _RunOnlyContext:
    def __call__(self, fn):
        @functools.wraps(fn)
        def run_only(*args, **kwargs):
            RunOnly.depth += 1
            try:
                return fn(*args, **kwargs)
            finally:
                RunOnly.depth -= 1
        return run_only


def run(fn=None):
    """Run without capturing anything new: compiled functions called inside replay the graphs
    they already have and run eagerly where none fits.

    Args:
        fn: a function (or a compiled one); omitted, ``run()`` returns the decorator.

    Returns:
        The wrapped function (or the decorator).
    """
    if fn is not None:
        if not callable(fn):
            raise AssertionError("fn must be callable")
        return _RunOnlyContext()(fn)
    return _RunOnlyContext()


class OptimizeContext:
    """What ``optimize(backend, ...)`` returns: a decorator that compiles the function."""

    def __init__(self, backend, nopython, dynamic):
        self.backend, self.nopython, self.dynamic = backend, nopython, dynamic

    def __call__(self, fn):
        from ember._dynamo.api import compile
        return compile(fn, backend=self.backend, fullgraph=self.nopython, dynamic=self.dynamic)

    def __enter__(self):
        raise RuntimeError("ember._dynamo.optimize(...) is used with a context manager. Use "
                           "ember._dynamo.optimize(...) as an annotation/decorator instead.")

    def __exit__(self, *exc):
        return False


class _NullDecorator:
    def __call__(self, fn):
        return fn

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def optimize(backend="inductor", *, nopython: bool = False, guard_export_fn=None, guard_fail_fn=None,
             disable: bool = False, dynamic=None, rebuild_ctx=None):
    """The older spelling of ``ember.compile``: ``optimize(backend)(fn)`` compiles ``fn``.

    Args:
        backend: a backend name or callable (as ``ember.compile``'s).
        nopython: ``fullgraph``: raise ``Unsupported`` at a graph break.
        guard_export_fn: accepted for PyTorch's signature (ember's guards are not exported).
        guard_fail_fn: accepted for PyTorch's signature.
        disable: return a decorator that leaves the function as it is.
        dynamic: as ``ember.compile``'s ``dynamic``.
        rebuild_ctx: accepted for PyTorch's signature.

    Returns:
        A decorator (``OptimizeContext``); it cannot be used as a context manager.
    """
    from ember._dynamo.api import _check
    if disable:
        return _NullDecorator()
    _check(backend, None, None)
    return OptimizeContext(backend, nopython, dynamic)


__all__ = ["allow_in_graph", "assume_constant_result", "disallow_in_graph", "graph_break", "mark_dynamic",
           "mark_static", "maybe_mark_dynamic", "optimize", "run"]
