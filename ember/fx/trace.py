"""Tracing a module or function into a ``GraphModule`` (``symbolic_trace``, ``make_fx``)."""
from __future__ import annotations

from ember.fx.capture import Tracer, input_names_of
from ember.fx.graph_module import GraphModule


def trace_to_graph_module(fn, args, kwargs=None, *, on_host_read="raise", error=RuntimeError,
                          class_name=None):
    """Capture ``fn(*args, **kwargs)`` (a Module or a function) as a ``GraphModule``.

    The module's ``forward`` takes the tensor leaves of ``(args, kwargs)``, flattened, and
    returns the program's result; non-tensor arguments are fixed at their traced values.
    Returns ``(graph_module, capture)``.
    """
    from ember.nn.modules.module import Module
    kwargs = kwargs or {}
    root = fn if isinstance(fn, Module) else None
    target = fn.forward if root is not None else fn
    tracer = Tracer(root, on_host_read=on_host_read, error=error)
    capture = tracer.trace(fn, args, kwargs, input_names_of(target, args, kwargs))
    name = class_name or (type(root).__name__ if root is not None else "GraphModule")
    gm = GraphModule(capture.attributes, capture.graph, class_name=name)
    from ember.utils._pytree import tree_unflatten
    spec = capture.out_spec
    if not (spec.is_leaf()):   # rebuild the program's nested result from the flat outputs
        inner = gm._forward
        object.__setattr__(gm, "_forward", lambda self, *a: tree_unflatten(list(inner(self, *a)), spec))
    else:
        inner = gm._forward
        object.__setattr__(gm, "_forward", lambda self, *a: inner(self, *a)[0])
    return gm, capture


def symbolic_trace(root, concrete_args=None, *, example_inputs=None):
    """Capture ``root`` (a Module or function) as a ``GraphModule`` of dispatched ops.

    Without ``example_inputs`` the trace is symbolic (``ember.fx.Tracer``): ``forward`` runs on
    ``Proxy`` values, and the graph holds the Python operators, ember functions, tensor
    methods and leaf-module calls it made. With ``example_inputs`` (a tuple of the arguments
    to call ``root`` with) ember traces by running: the graph holds the dispatched ops that
    ran, with those inputs' shapes and dtypes.

    Args:
        root: an ``ember.nn.Module`` or a function of tensors.
        concrete_args: a dict of non-tensor arguments fixed during tracing (merged into the call).
        example_inputs: the positional arguments of the traced call.

    Returns:
        A ``GraphModule`` whose ``graph`` can be printed and edited and whose ``forward`` takes
        the tensor arguments.

    Raises:
        ember.fx.proxy.TraceError: symbolically, for control flow on a traced value.
        RuntimeError: with ``example_inputs``, if the program reads a traced value into Python (data-dependent control flow).
    """
    if example_inputs is None:   # PyTorch's symbolic trace: proxies, no data (ember.fx.proxy)
        from ember.fx.proxy import symbolic_trace_module
        return symbolic_trace_module(root, concrete_args)
    if not isinstance(example_inputs, tuple):
        example_inputs = (example_inputs,)
    gm, _ = trace_to_graph_module(root, example_inputs, dict(concrete_args or {}))
    return gm
