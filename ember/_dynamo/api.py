"""The public face of compilation: ``ember.compile``, ``OptimizedModule``, ``disable``, ``explain``, ``reset``."""
from __future__ import annotations

import functools

from ember._dynamo.eval_frame import _ALL, _BACKENDS, _MODES, _OPTIONS, CompiledFunction, Stance, _Disabled
from ember._dynamo.exc import InvalidBackend
from ember.dispatch.keys import ACTIVE, TRACE
from ember.dispatch.tracing import TRACE_STATE
from ember.nn.modules.module import Module


def _check(backend, mode, options):
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    if mode is not None and mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(_MODES)}")
    if isinstance(backend, str) and backend not in _BACKENDS:
        raise InvalidBackend(backend)
    if not (isinstance(backend, str) or callable(backend)):
        raise InvalidBackend(backend)
    for key in options or {}:
        if key not in _OPTIONS:
            raise RuntimeError(f"Unexpected optimization option {key}, known options are {list(_OPTIONS)}")


def compile(model=None, *, fullgraph: bool = False, dynamic=None, backend=None, mode=None,
            options=None, disable: bool = False):
    """Compile a function or Module: capture its graph on the first call and replay it after.

    Args:
        model: the function or ``nn.Module``; omitted, ``compile`` returns a decorator.
        fullgraph: raise ``ember._dynamo.exc.Unsupported`` (naming the line) where the program
            reads a tensor's values into Python, instead of splitting the graph there.
        dynamic: ``True``: new shapes are captured without counting towards the recompile
            limit; ``False``/``None``: every new shape counts.
        backend: ``"inductor"`` (fused kernels per device), ``"eager"``/``"aot_eager"`` (the
            captured ops one by one), or a callable ``backend(graph_module, example_inputs)``
            returning the function to run; None: ``ember.compiler.get_default_backend()``.
        mode: ``"default"``, ``"reduce-overhead"``, ``"max-autotune"`` or
            ``"max-autotune-no-cudagraphs"`` (accepted; ember's code generation has no
            autotuning or CUDA graphs, so they compile as ``"default"``).
        options: backend options (``{"fusion": False}`` turns fused kernels off).
        disable: return ``model`` itself.

    Returns:
        An ``OptimizedModule`` for a Module, a compiled callable for a function.

    Raises:
        RuntimeError: for an unknown mode or option, or both given.
        ember._dynamo.exc.InvalidBackend: for an unknown backend name.
    """
    if backend is None:
        backend = Stance.default_backend
    _check(backend, mode, options)
    settings = dict(fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode, options=options)
    if model is None:
        return lambda fn: compile(fn, disable=disable, **settings)
    if disable:
        return model
    if isinstance(model, Module):
        return OptimizedModule(model, **settings)
    if not callable(model):
        raise RuntimeError("ember.compile expects a function or an nn.Module")
    return CompiledFunction(model, **settings)


class OptimizedModule(Module):
    """A compiled Module: calls run the captured graphs of ``_orig_mod``; everything else is the
    original module's (parameters, buffers, attributes, ``state_dict`` under ``_orig_mod.``)."""

    def __init__(self, mod: Module, **settings):
        super().__init__()
        self._orig_mod = mod
        object.__setattr__(self, "_compiled", CompiledFunction(mod.__call__, root=mod,
                                                                signature_of=mod.forward, **settings))

    def forward(self, *args, **kwargs):
        return self._compiled(*args, **kwargs)

    def __call__(self, *args, **kwargs):
        return self._compiled(*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["_orig_mod"], name)

    def __repr__(self):
        return f"OptimizedModule({self._modules['_orig_mod']!r})"


def compile_module_inplace(module: Module, *args, **kwargs) -> None:
    """``Module.compile()``: compile the module's calls in place (its class and state unchanged)."""
    if kwargs.get("backend") is None:
        kwargs["backend"] = Stance.default_backend
    _check(kwargs["backend"], kwargs.get("mode"), kwargs.get("options"))
    if kwargs.pop("disable", False):
        return
    compiled = CompiledFunction(functools.partial(Module._call_uncompiled, module), root=module,
                                signature_of=module.forward, **kwargs)
    object.__setattr__(module, "_compiled_call_impl", compiled)


class disable:
    """Run ``fn`` eagerly, never captured (a decorator, or a context manager around code).

    Inside a compiled program a disabled function is one opaque step of the graph: it runs in
    Python on every call, with the tensors the graph gives it.

    Args:
        fn: the function (omit to use as a context manager or a decorator factory).
        recursive: accepted for PyTorch's signature; the function and everything it calls run eagerly.
    """

    def __new__(cls, fn=None, recursive=True, *, reason=None):
        if fn is None:
            return super().__new__(cls)

        @functools.wraps(fn)
        def eager(*args, **kwargs):
            if ACTIVE.keys and TRACE in ACTIVE.keys:
                return TRACE_STATE.tracer.record_function(_run_disabled(fn), args, kwargs)
            return fn(*args, **kwargs)
        eager._ember_disabled = True
        return eager

    def __init__(self, fn=None, recursive=True, *, reason=None):
        pass

    def __call__(self, fn):
        return disable(fn)

    def __enter__(self):
        _Disabled.depth += 1
        return self

    def __exit__(self, *exc):
        _Disabled.depth -= 1
        return False


def _run_disabled(fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        _Disabled.depth += 1
        try:
            return fn(*args, **kwargs)
        finally:
            _Disabled.depth -= 1
    return run


def reset() -> None:
    """Forget the graphs of every compiled function (each captures again on its next call)."""
    for compiled in list(_ALL):
        compiled.reset()


def is_compiling() -> bool:
    """Whether a program is being captured right now (True inside the traced run)."""
    return bool(ACTIVE.keys) and TRACE in ACTIVE.keys


class ExplainOutput:
    """What ``explain`` found: graphs, graph breaks and why, ops per graph."""

    def __init__(self, graphs, break_reasons, ops_per_graph):
        self.graphs = graphs
        self.graph_count = len(graphs)
        self.break_reasons = break_reasons
        self.graph_break_count = len(break_reasons)
        self.op_count = sum(len(ops) for ops in ops_per_graph)
        self.ops_per_graph = ops_per_graph

    def __str__(self):
        lines = [f"Graph Count: {self.graph_count}", f"Graph Break Count: {self.graph_break_count}",
                 f"Op Count: {self.op_count}", "Break Reasons:"]
        lines += [f"  Break Reason {i + 1}:\n    {r}" for i, r in enumerate(self.break_reasons)]
        return "\n".join(lines)


def explain(f, *extra_args, **extra_kwargs):
    """``explain(f)(*args, **kwargs)``: capture ``f`` once and report its graphs and graph breaks.

    A value read into Python splits the program: the graph count is the breaks plus one.
    """
    def inner(*args, **kwargs):
        from ember.fx.capture import Tracer, expect_shape, expect_value
        root = f if isinstance(f, Module) else None
        tracer = Tracer(root, on_host_read="guard")
        capture = tracer.trace(f, args, kwargs)
        graph = capture.graph
        ops, current = [], []
        for n in graph.nodes:
            if n.op == "call_function" and n.target in (expect_value, expect_shape):
                ops.append(current)
                current = []
            elif n.op == "call_function":
                current.append(n.target)
            if any(n is after for after, _ in getattr(tracer, "graph_breaks", ())):
                ops.append(current)
                current = []
        ops.append(current)
        reasons = [f"data-dependent: a tensor value read into Python at {line}" for line, _ in capture.host_reads]
        reasons += [why for _, why in getattr(tracer, "graph_breaks", ())]
        return ExplainOutput([graph] * len(ops), reasons, ops)
    if extra_args or extra_kwargs:
        return inner(*extra_args, **extra_kwargs)
    return inner


__all__ = ["compile", "OptimizedModule", "disable", "reset", "explain", "is_compiling", "ExplainOutput"]
