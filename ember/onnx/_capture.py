"""Capturing the model for export: ``ember.fx``'s tracer, strict about values read into Python.

An ONNX graph cannot hold Python control flow, so a value read into Python stops the export
(``on_host_read="raise"``), except for the index range checks ember's indexing ops run before
their kernels: they only validate (ONNX's Gather/GatherElements check ranges themselves and
take negative indices), so the export does not depend on the example's index values.
"""
from __future__ import annotations

import sys

from ember.fx.capture import Tracer, input_names_of
from ember.ops import indexing as _indexing

# code objects of the validation-only host reads (index range checks)
_CHECK_CODES = frozenset(f.__code__ for f in (_indexing._index_bounds, _indexing._first_outside))


class ExportTracer(Tracer):
    """``Tracer`` that raises on data-dependent Python, letting index range checks through."""

    def host_read(self, tensor, value):
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code in _CHECK_CODES:
                return
            frame = frame.f_back
        super().host_read(tensor, value)


def capture(model, args, kwargs, error):
    """Run ``model(*args, **kwargs)`` under the export tracer.

    Args:
        model: an ``ember.nn.Module`` or a function of tensors.
        args: tuple of positional arguments.
        kwargs: dict of keyword arguments.
        error: the exception class raised for data-dependent control flow.

    Returns:
        The ``ember.fx.capture.Capture`` of the call.
    """
    from ember.nn.modules.module import Module
    root = model if isinstance(model, Module) else None
    target = model.forward if root is not None else model
    tracer = ExportTracer(root, on_host_read="raise", error=error)
    return tracer.trace(model, args, kwargs, input_names_of(target, args, kwargs))
