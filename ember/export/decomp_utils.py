"""Decomposition tables for ``ExportedProgram.run_decompositions``.

ember's exported graphs hold op-table ops: primitives, and the composites that a backend may
run fused (``softmax``, ``layer_norm``, ``gelu``, ``conv`` ...: ``OpDef.kind == "composite"``,
each with a decomposition into primitives). ``default_decompositions()`` maps every composite
to its decomposition, so ``run_decompositions()`` leaves a graph of primitives only, as
PyTorch's default table leaves core ATen ops; a table may drop entries (keep those ops) or
add any op's replacement (a function taking the op's inputs and keyword attributes).
"""
from __future__ import annotations

from ember.dispatch.ops import OPS, OpDef


def _key(op):
    if isinstance(op, OpDef):
        return op
    if isinstance(op, str) and op in OPS:
        return OPS[op]
    raise TypeError(f"a decomposition table is keyed by op-table ops (ember.dispatch.ops.OPS[...]), got {op!r}")


class CustomDecompTable(dict):
    """``{op: decomposition}``, starting from the default table; keys are op-table ops (or
    their names)."""

    def __init__(self, entries=None):
        super().__init__()
        if entries is None:
            entries = {op: op.decomposition for op in OPS.values() if op.decomposition is not None}
        for op, fn in dict(entries).items():
            self[op] = fn

    def __setitem__(self, op, fn):
        if not callable(fn):
            raise TypeError(f"a decomposition must be callable, got {fn!r}")
        super().__setitem__(_key(op), fn)

    def __getitem__(self, op):
        return super().__getitem__(_key(op))

    def __delitem__(self, op):
        super().__delitem__(_key(op))

    def __contains__(self, op):
        try:
            return super().__contains__(_key(op))
        except TypeError:
            return False

    def pop(self, op, *default):
        """Remove ``op`` (its nodes stay in the graph); returns its decomposition."""
        return super().pop(_key(op), *default)

    def get(self, op, default=None):
        return super().get(_key(op), default)

    def update(self, other=(), **kw):
        for op, fn in dict(other, **kw).items():
            self[op] = fn

    def copy(self) -> "CustomDecompTable":
        """A copy of this table."""
        return CustomDecompTable(dict(self))

    def materialize(self) -> dict:
        """The table as a plain dict."""
        return dict(self)


def default_decompositions() -> CustomDecompTable:
    """The table ``run_decompositions()`` uses by default: every composite op to its decomposition.

    Returns:
        A ``CustomDecompTable`` (edit it to keep or replace ops).
    """
    return CustomDecompTable()


__all__ = ["CustomDecompTable", "default_decompositions"]
