"""``make_fx``: a function traced on example inputs into a ``GraphModule`` of dispatched ops."""
from __future__ import annotations

from ember.fx.trace import trace_to_graph_module


def make_fx(f, decomposition_table=None, tracing_mode="real", **unused_options):
    """Return a function that, called with example inputs, traces ``f`` into a ``GraphModule``.

    Args:
        f: the function (or Module) to trace.
        decomposition_table: not consulted: ember's graphs already hold its dispatched ops.
        tracing_mode: ``"real"`` (ember traces on real tensors; other modes raise).

    Returns:
        ``wrapped(*args)`` -> ``GraphModule`` taking the tensor arguments.
    """
    if tracing_mode != "real":
        raise ValueError(f"ember traces on real tensors: tracing_mode must be 'real', got {tracing_mode!r}")
    if decomposition_table:
        raise ValueError("ember's graphs hold its dispatched ops; a decomposition_table cannot be applied")

    def wrapped(*args):
        gm, _ = trace_to_graph_module(f, args, {})
        return gm
    return wrapped
