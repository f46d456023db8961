"""Where graph capture sees what does not pass through ``call``.

Most of a traced program reaches the Trace mode key (``ember.dispatch.keys``) as dispatched
ops. A few core and ops functions do tensor work without ``call``: creating tensors from
attributes (``full``, ``arange``, random draws), writing a result into a tensor in place,
moving between devices. They are decorated with ``@recorded``: outside a trace the decorator
costs one attribute check; under a trace the call runs with the trace suspended and is
recorded as one graph node whose target is the undecorated function, so replaying the graph
calls it again (a random draw draws anew, an in-place write writes again).

A program that reads a traced tensor's values into Python (``bool(x.sum() > 0)``, ``.item()``,
``.tolist()``) reports it with ``host_read``: the graph cannot hold what Python does with the
value, so the trace records the value as a guard (and ``fullgraph`` capture raises).

The tracer object is ``ember.fx``'s; this layer only knows its methods ``record_function(fn,
args, kwargs)``, ``record_check(check, args)`` (``guarded``), ``host_read(tensor, value)`` and
the mode handler.
"""
from __future__ import annotations

import functools

from ember.dispatch.keys import ACTIVE, TRACE


class _TraceState:
    __slots__ = ("tracer",)

    def __init__(self):
        self.tracer = None   # the tracer of the Trace mode key while that key is pushed


TRACE_STATE = _TraceState()


def recorded(fn):
    """Record calls of ``fn`` (tensor work done without ``call``) as one node of an active trace.

    Args:
        fn: a function of tensors and plain values that returns a tensor (or None).

    Returns:
        A function with ``fn``'s name and docstring; its ``__untraced__`` is ``fn``.
    """
    @functools.wraps(fn)
    def entry(*args, **kwargs):
        # the trace is live only while its key is active: not inside a kernel, nor a recorded call
        if ACTIVE.modes and TRACE in ACTIVE.keys:
            return TRACE_STATE.tracer.record_function(fn, args, kwargs)
        return fn(*args, **kwargs)
    entry.__untraced__ = fn
    return entry


def guarded(check, *args):
    """Run ``check(*args)``: a validation that reads tensors' values on the host and returns a
    small value the program branches on (index range checks: raise if out of range, say whether
    negative indices need wrapping).

    Under a trace its reads are not guards on the values themselves: a compiling trace records
    one node that runs ``check`` again on replay (raising as eager code would) and stops the
    replay if the result differs; export and jit traces record nothing.
    """
    if ACTIVE.modes and TRACE in ACTIVE.keys:
        return TRACE_STATE.tracer.record_check(check, args)
    return check(*args)


def host_read(tensor, value):
    """Tell an active trace that ``tensor``'s values were read into Python as ``value``."""
    if ACTIVE.modes and TRACE in ACTIVE.keys:
        TRACE_STATE.tracer.host_read(tensor, value)
