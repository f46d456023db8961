"""Capturing the model for export: ``ember.fx``'s tracer, strict about values read into Python.

An ONNX graph cannot hold Python control flow, so a value read into Python stops the export
(``on_host_read="raise"``). The index range checks ember's indexing ops run before their
kernels are ``guarded`` checks (``ember.dispatch.tracing``), which an export trace runs
without recording, so the export does not depend on the example's index values (ONNX's
Gather/GatherElements check ranges themselves and take negative indices).
"""
from __future__ import annotations

from ember.fx.capture import Tracer, input_names_of


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
    tracer = Tracer(root, on_host_read="raise", error=error)
    return tracer.trace(model, args, kwargs, input_names_of(target, args, kwargs))
