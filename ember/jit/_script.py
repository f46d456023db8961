"""``ScriptModule``/``ScriptFunction`` and ``trace``/``script``/``save``/``load``/``freeze`` (PyTorch's ``torch.jit``).

ember has no TorchScript compiler: it cannot compile Python source. Both ``trace`` and
``script`` capture graphs by running the program (``ember.fx.capture``):

* ``trace`` captures on the example inputs; a value read into Python is baked in with a
  ``TracerWarning``, as PyTorch's tracer does;
* ``script`` captures lazily, on the first call with each input signature (shapes, dtypes,
  devices, non-tensor arguments, training flags), or at once from ``example_inputs``. Python
  control flow that depends on tensor data cannot be held by a captured graph, so it raises
  ``NotSupportedError`` naming the line (TorchScript would compile it; ember cannot).

ember's graphs hold concrete shapes. While the traced/scripted Python object is alive, a call
with new shapes is captured anew (and cached); a module loaded with ``ember.jit.load`` runs
only the signatures it was saved with and raises ``RuntimeError`` listing them otherwise.
"""
from __future__ import annotations

import threading
import warnings

import numpy as np

from ember.core.tensor import Tensor
from ember.dispatch.keys import ACTIVE, TRACE
from ember.dispatch.ops import OpDef
from ember.export import _serialize as ser
from ember.export._program import Program, capture, copy_graph, graph_diff, graph_key
from ember.fx.capture import TracerWarning
from ember.fx.graph_module import GraphModule
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter
from ember.utils._pytree import tree_flatten


class _State(threading.local):
    def __init__(self):
        self.tracing = False
        self.scripting = False


STATE = _State()


class Error(Exception):
    """An error raised while running a scripted or traced program (PyTorch's ``torch.jit.Error``)."""


class FrontendError(Exception):
    """A program could not be compiled (PyTorch's ``torch.jit.frontend.FrontendError``)."""


class NotSupportedError(FrontendError):
    """``script`` met something a captured graph cannot hold (data-dependent control flow)."""


class TracingCheckError(Exception):
    """``trace(check_trace=True)`` found that tracing again gives another graph."""

    def __init__(self, graph_diff_error, tensor_compare_error=None, extra_msg=None):
        self.message = "Tracing failed sanity checks!\n"
        if extra_msg is not None:
            self.message += extra_msg + "\n"
        if graph_diff_error is not None:
            self.message += "ERROR: Graphs differed across invocations!\n" + \
                "\n".join("\t" + line for line in graph_diff_error.splitlines()) + "\n"
        if tensor_compare_error is not None:
            self.message += "ERROR: Tensor-valued Constant nodes differed in value across invocations.\n" + \
                tensor_compare_error
        super().__init__(self.message)


def is_scripting() -> bool:
    """Whether the code runs inside ``ember.jit.script``'s capture (False in ordinary Python)."""
    return STATE.scripting and TRACE in ACTIVE.keys


def is_tracing() -> bool:
    """Whether the code runs inside ``ember.jit.trace`` (False in eager code, ``export`` and ``compile``)."""
    return STATE.tracing and TRACE in ACTIVE.keys


# ---------------------------------------------------------------- one method: its captured programs
def _signature(args, kwargs, flags):
    leaves, spec = tree_flatten((tuple(args), dict(kwargs)))
    key = []
    for x in leaves:
        if isinstance(x, Tensor):
            key.append(("T", tuple(x.shape), x.dtype.name, str(x.device)))
        else:
            key.append(("C", type(x).__name__, repr(x)))
    return (repr(spec), tuple(key), flags)


class _Method:
    """The programs captured for one method, found by input signature; captures new ones while
    the Python source is alive (``mode``: ``"trace"`` or ``"script"``)."""

    def __init__(self, name, fn, root, mode, programs=None):
        self.name = name
        self.fn = fn                      # the Python callable (None once loaded or frozen)
        self.root = root                  # the module whose state the graphs read
        self.mode = mode
        self.programs = dict(programs or {})   # signature -> Program

    def capture(self, args, kwargs, flags, label):
        """Capture ``fn(*args, **kwargs)``; returns ``(program, result)``."""
        flag = "tracing" if self.mode == "trace" else "scripting"
        saved = getattr(STATE, flag)
        setattr(STATE, flag, True)
        try:
            program, _, result = capture(
                self.fn, args, kwargs, root=self.root,
                on_host_read="constant" if self.mode == "trace" else "raise", error=NotSupportedError,
                names_from=self.fn.forward if isinstance(self.fn, Module) else self.fn, class_name=label)
        finally:
            setattr(STATE, flag, saved)
        program.training = self.root.training if self.mode == "script" and self.root is not None else None
        self.programs[_signature(args, kwargs, flags)] = program
        return program, result

    def __call__(self, args, kwargs, flags, label):
        program = self.programs.get(_signature(args, kwargs, flags))
        if program is not None:
            return program.run(program.flat_inputs(args, kwargs))
        if self.fn is None:
            def mode(training):
                return "" if training is None else (" in training mode" if training else " in eval mode")
            have = [f"{[rec[1] for rec in p.inputs]}{mode(getattr(p, 'training', None))}"
                    for p in self.programs.values()]
            got = [tuple(x.shape) for x in tree_flatten((args, kwargs))[0] if isinstance(x, Tensor)]
            raise RuntimeError(
                f"{label}.{self.name} was loaded (or frozen) with graphs for the input shapes {', '.join(have)} "
                f"only; ember's captured graphs hold concrete shapes and there is no Python source to capture it "
                f"again for these inputs (got {got}{mode(flags[1] if flags and flags[0] == 'loaded' else None)}). "
                f"Trace or script the model with these inputs and save it again.")
        return self.capture(args, kwargs, flags, label)[1]

    def first(self):
        if not self.programs:
            raise RuntimeError(f"method '{self.name}' has not been captured yet: ember.jit.script captures on "
                               f"the first call (or pass example_inputs=[(...)] to script)")
        return next(iter(self.programs.values()))


def _install_state(module, name, tensor, persistent=True):
    *path, leaf = name.split(".")
    for part in path:
        child = module._modules.get(part)
        if child is None:
            child = Module()
            module.add_module(part, child)
        module = child
    if isinstance(tensor, Parameter):
        module.register_parameter(leaf, tensor)
    else:
        module.register_buffer(leaf, tensor, persistent=persistent)


def _state_of(module):
    """``(name, tensor, persistent)`` for every parameter and buffer of ``module``."""
    out = [(n, p, True) for n, p in module.named_parameters()]
    non_persistent = set()
    for prefix, m in module.named_modules():
        for b in getattr(m, "_non_persistent_buffers_set", ()):
            non_persistent.add(f"{prefix}.{b}" if prefix else b)
    out += [(n, b, n not in non_persistent) for n, b in module.named_buffers()]
    return out


class ScriptModule(Module):
    """A Module whose methods run captured graphs (PyTorch's ``torch.jit.ScriptModule``).

    It holds the original module's parameters and buffers under the same dotted names (the
    same tensors), so ``state_dict`` and ``load_state_dict`` work as on the original.
    """

    def __init__(self):
        super().__init__()
        object.__setattr__(self, "_methods", {})
        object.__setattr__(self, "_source", None)
        object.__setattr__(self, "_original_name", type(self).__name__)
        object.__setattr__(self, "_frozen", False)

    def __setattr__(self, name, value):
        if isinstance(value, Attribute):   # jit.Attribute(value, type): the value is the attribute
            value = value.value
        super().__setattr__(name, value)

    def _flags(self):
        """What besides the inputs selects a graph: the training flags, for scripted modules."""
        if self._source is not None and any(m.mode == "script" for m in self._methods.values()):
            return tuple(m.training for m in self._source.modules())
        if any(getattr(m, "uses_training", False) for m in self._methods.values()):
            return ("loaded", self.training)
        return None

    def _call(self, name, args, kwargs):
        return self._methods[name](args, kwargs, self._flags(), self._original_name)

    def forward(self, *args, **kwargs):
        """Run the captured graph of ``forward`` for these inputs (capturing it first where possible)."""
        if "forward" not in self._methods:
            raise RuntimeError(f"{self._original_name} has no captured forward")
        return self._call("forward", args, kwargs)

    def __getattr__(self, name):
        methods = self.__dict__.get("_methods")
        if methods and name in methods and name != "forward":
            return ScriptMethod(self, name)
        return super().__getattr__(name)

    def train(self, mode: bool = True):
        """Set the training flag (a scripted module's source follows it; a traced graph does not change).

        Returns:
            The module itself.
        """
        super().train(mode)
        if self._source is not None and any(m.mode == "script" for m in self._methods.values()):
            self._source.train(mode)   # a scripted module follows its source's training flags
        return self

    @property
    def graph(self):
        """The graph of ``forward`` (its first captured signature)."""
        return self._methods["forward"].first().graph

    @property
    def inlined_graph(self):
        """The same graph (ember's graphs have no calls to inline)."""
        return self.graph

    @property
    def code(self) -> str:
        """The Python source ``forward`` runs (generated from the graph)."""
        return self._methods["forward"].first().graph_module.code

    @property
    def original_name(self) -> str:
        """The class name of the module this was made from."""
        return self._original_name

    def save(self, f, **kwargs) -> None:
        """Write this module with ``ember.jit.save``."""
        save(self, f, _extra_files=kwargs.get("_extra_files"))

    def _get_name(self):
        return self._original_name


class ScriptMethod:
    """A compiled method of a ScriptModule other than ``forward`` (``@ember.jit.export`` or ``trace_module``)."""

    def __init__(self, owner, name):
        self.owner = owner
        self.name = name

    def __call__(self, *args, **kwargs):
        """Run the method's captured graph for these inputs."""
        return self.owner._call(self.name, args, kwargs)

    @property
    def graph(self):
        """The method's graph (its first captured signature)."""
        return self.owner._methods[self.name].first().graph

    @property
    def code(self) -> str:
        """The Python source of the method's graph."""
        return self.owner._methods[self.name].first().graph_module.code


class RecursiveScriptModule(ScriptModule):
    """What ``ember.jit.script`` and ``ember.jit.load`` return."""


class TracedModule(ScriptModule):
    """A traced module (PyTorch's ``torch.jit.TracedModule``)."""


class TopLevelTracedModule(TracedModule):
    """What ``ember.jit.trace`` returns for a Module."""


class ScriptFunction:
    """A traced or scripted function (PyTorch's ``torch.jit.ScriptFunction``)."""

    def __init__(self, method: _Method, name: str):
        self._method = method
        self.name = name
        self.qualified_name = name
        self.__name__ = name

    def __call__(self, *args, **kwargs):
        """Run the captured graph for these inputs (capturing it first where possible)."""
        return self._method(args, kwargs, None, self.name)

    @property
    def graph(self):
        """The captured graph (the first signature)."""
        return self._method.first().graph

    @property
    def inlined_graph(self):
        """The same graph (ember's graphs have no calls to inline)."""
        return self.graph

    @property
    def code(self) -> str:
        """The Python source of the captured graph."""
        return self._method.first().graph_module.code

    def save(self, f, **kwargs) -> None:
        """Write this function with ``ember.jit.save`` (it loads as a ``RecursiveScriptModule``)."""
        save(self, f, _extra_files=kwargs.get("_extra_files"))

    def __repr__(self):
        return f"<ember.jit.ScriptFunction {self.name}>"


def _wrap_module(cls, module, mode):
    sm = cls()
    for name, t, persistent in _state_of(module):
        _install_state(sm, name, t, persistent)
    object.__setattr__(sm, "_source", module)
    object.__setattr__(sm, "_original_name", type(module).__name__)
    sm.training = module.training
    methods = {"forward": _Method("forward", module, module, mode)}
    for attr in dir(type(module)):
        fn = getattr(type(module), attr, None)
        if mode == "script" and callable(fn) and getattr(fn, "_ember_jit_export", False) and attr != "forward":
            methods[attr] = _Method(attr, getattr(module, attr), module, mode)
    object.__setattr__(sm, "_methods", methods)
    return sm


# ---------------------------------------------------------------- trace
def _check_outputs(spec, strict):
    if spec.type is dict and strict:
        raise RuntimeError("Encountering a dict at the output of the tracer might cause the trace to be incorrect, "
                           "this is only valid if the container structure does not change based on the module's "
                           "inputs. Consider using a constant container instead (e.g. for `list`, use a `tuple` "
                           "instead. for `dict`, use a `NamedTuple` instead). If you absolutely need this and know "
                           "the side effects, pass strict=False to trace() to allow this behavior.")
    if spec.type is list and strict:
        warnings.warn("Encountering a list at the output of the tracer might cause the trace to be incorrect, this "
                      "is only valid if the container structure does not change based on the module's inputs. "
                      "Consider using a constant container instead (e.g. for `list`, use a `tuple` instead. for "
                      "`dict`, use a `NamedTuple` instead). If you absolutely need this and know the side effects, "
                      "pass strict=False to trace() to allow this behavior.", TracerWarning, stacklevel=4)
    for child in spec.children_specs:
        _check_outputs(child, strict)


def _as_args(inputs):
    return inputs if isinstance(inputs, tuple) else (inputs,)


def _check_trace(method, program, check_inputs, tolerance, label):
    """Trace again on each check input: the graph must be the same; the graph's outputs must match Python's."""
    nondeterministic = [n for n in program.graph.nodes if n.op == "call_function" and
                        ser._NAME_OF_FUNCTION.get(id(n.target)) == "_draw"]
    if nondeterministic:
        nodes = "\n".join(f"\t{n.format_node()}" for n in nondeterministic)
        warnings.warn(f"Trace had nondeterministic nodes. Did you forget call .eval() on your model? Nodes:\n{nodes}"
                      f"\nThis may cause errors in trace checking. To disable trace checking, pass check_trace=False "
                      f"to ember.jit.trace()", TracerWarning, stacklevel=4)
    for args, kwargs in check_inputs:
        saved = dict(method.programs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TracerWarning)
            other, expected = method.capture(args, kwargs, None, label)
        method.programs = saved
        same_shapes = [rec[1] for rec in other.inputs] == [rec[1] for rec in program.inputs]
        if not same_shapes:
            method.programs[_signature(args, kwargs, None)] = other   # a valid graph for those shapes
            continue
        if graph_key(other.graph) != graph_key(program.graph):
            raise TracingCheckError(graph_diff(program.graph, other.graph))
        actual = program.run(program.flat_inputs(args, kwargs))
        outs_e = [x for x in tree_flatten(expected)[0] if isinstance(x, Tensor)]
        outs_a = [x for x in tree_flatten(actual)[0] if isinstance(x, Tensor)]
        for i, (e, a) in enumerate(zip(outs_e, outs_a)):
            ea = np.asarray(e.detach().cpu().numpy(), dtype=np.float64 if not e.dtype.is_complex else np.complex128)
            aa = np.asarray(a.detach().cpu().numpy(), dtype=ea.dtype)
            if ea.shape != aa.shape or not np.allclose(aa, ea, rtol=tolerance, atol=tolerance, equal_nan=True):
                bad = int(np.sum(~np.isclose(aa, ea, rtol=tolerance, atol=tolerance, equal_nan=True))) \
                    if ea.shape == aa.shape else ea.size
                warnings.warn(f"Output nr {i + 1}. of the traced function does not match the corresponding output "
                              f"of the Python function. Detailed error:\nTensor-likes are not close!\n\n"
                              f"Mismatched elements: {bad} / {ea.size}", TracerWarning, stacklevel=4)


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-5,
          strict=True, _force_outplace=False, _module_class=None, _compilation_unit=None,
          example_kwarg_inputs=None, _store_inputs=True):
    """Capture a function or Module by running it on example inputs.

    Args:
        func: a function, an ``ember.nn.Module`` (its ``forward`` is traced) or a Module's bound method.
        example_inputs: a tuple of positional arguments (a single tensor is wrapped).
        optimize: deprecated and without effect, as in PyTorch (warns when given).
        check_trace: trace again on ``check_inputs`` (default: the example) and check that the
            graph is the same (``TracingCheckError``) and that its outputs match Python's
            (``TracerWarning``).
        check_inputs: a list of argument tuples for the check.
        check_tolerance: the relative and absolute tolerance of the output check.
        strict: a dict output raises and a list output warns (False allows both silently).
        example_kwarg_inputs: a dict of keyword arguments (instead of ``example_inputs``).

    Returns:
        A ``TopLevelTracedModule`` (for a Module) or ``ScriptFunction``.
    """
    warnings.warn("`ember.jit.trace` is deprecated. Please switch to `ember.compile` or `ember.export`.",
                  DeprecationWarning, stacklevel=2)
    if optimize is not None:
        warnings.warn("`optimize` is deprecated and has no effect", FutureWarning, stacklevel=2)
    if isinstance(func, (ScriptModule, ScriptFunction)):
        warnings.warn("The input to trace is already a ScriptModule, tracing it is a no-op. Returning the object "
                      "as is.", stacklevel=2)
        return func
    if example_inputs is None and example_kwarg_inputs is None:
        raise RuntimeError("example_kwarg_inputs or example_inputs must be provided to trace")
    args = _as_args(example_inputs) if example_inputs is not None else ()
    kwargs = dict(example_kwarg_inputs or {})
    if isinstance(func, Module):
        return trace_module(func, {"forward": (args, kwargs) if kwargs else args}, None, check_trace,
                            [(_as_args(c), {}) for c in check_inputs] if check_inputs else None,
                            check_tolerance, strict, _force_outplace, _module_class, _compilation_unit,
                            example_inputs_is_kwarg=bool(kwargs))
    owner = getattr(func, "__self__", None)
    if isinstance(owner, Module):   # a bound method of a module: its graph reads the module's state
        traced = trace_module(owner, {func.__name__: args}, None, check_trace,
                              [(_as_args(c), {}) for c in check_inputs] if check_inputs else None,
                              check_tolerance, strict)
        return getattr(traced, func.__name__)
    name = getattr(func, "__name__", "fn")
    method = _Method(name, func, None, "trace")
    program, _ = method.capture(args, kwargs, None, name)
    _check_outputs(program.out_spec, strict)
    if check_trace:
        checks = [(_as_args(c), {}) for c in check_inputs] if check_inputs else [(args, kwargs)]
        _check_trace(method, program, checks, check_tolerance, name)
    return ScriptFunction(method, name)


def trace_module(mod, inputs, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-5,
                 strict=True, _force_outplace=False, _module_class=None, _compilation_unit=None,
                 example_inputs_is_kwarg=False, _store_inputs=True):
    """Trace several methods of a Module.

    Args:
        mod: the ``ember.nn.Module``.
        inputs: ``{method name: example inputs}`` (a tuple, a tensor, or with
            ``example_inputs_is_kwarg`` a dict of keyword arguments).
        check_trace, check_inputs, check_tolerance, strict: as in ``trace``; ``check_inputs``
            is a list of ``{method name: inputs}`` dicts.

    Returns:
        A ``TopLevelTracedModule`` whose methods run the traced graphs.
    """
    if not isinstance(mod, Module):
        raise AttributeError("expected torch.nn.Module as the first argument")
    if not isinstance(inputs, dict):
        raise AttributeError("expected a dictionary of (method_name, input) pairs")
    sm = _wrap_module(TopLevelTracedModule, mod, "trace")
    methods = {}
    for name, example in inputs.items():
        if example_inputs_is_kwarg and isinstance(example, dict):
            args, kwargs = (), dict(example)
        elif isinstance(example, tuple) and len(example) == 2 and isinstance(example[1], dict) and \
                isinstance(example[0], tuple):
            args, kwargs = example
        else:
            args, kwargs = _as_args(example), {}
        fn = mod if name == "forward" else getattr(mod, name)
        method = _Method(name, fn, mod, "trace")
        program, _ = method.capture(args, kwargs, None, type(mod).__name__)
        _check_outputs(program.out_spec, strict)
        if check_trace:
            if check_inputs:
                checks = []
                for c in check_inputs:
                    entry = c.get(name) if isinstance(c, dict) else c
                    if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], dict):
                        checks.append(entry)
                    elif entry is not None:
                        checks.append((_as_args(entry), {}))
            else:
                checks = [(args, kwargs)]
            _check_trace(method, program, checks, check_tolerance, type(mod).__name__)
        methods[name] = method
    object.__setattr__(sm, "_methods", methods)
    return sm


# ---------------------------------------------------------------- script
def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """Make a ``ScriptModule``/``ScriptFunction`` that captures ``obj`` per input signature.

    Args:
        obj: an ``ember.nn.Module``, a function, or a class (returned unchanged: its methods run
            in Python and are captured where a scripted program calls them).
        optimize: deprecated and without effect.
        example_inputs: a list of argument tuples captured at once (for a Module, or a dict
            ``{method: [tuples]}``); otherwise each new signature is captured on its first call.

    Returns:
        A ``RecursiveScriptModule`` or ``ScriptFunction``.

    Raises:
        NotSupportedError: (on capture) for Python control flow that depends on tensor data.
    """
    warnings.warn("`ember.jit.script` is deprecated. Please switch to `ember.compile` or `ember.export`.",
                  DeprecationWarning, stacklevel=2)
    if isinstance(obj, (ScriptModule, ScriptFunction)):
        return obj
    if isinstance(obj, type):
        return obj
    if isinstance(obj, Module):
        sm = _wrap_module(RecursiveScriptModule, obj, "script")
        if example_inputs is not None:
            per_method = example_inputs if isinstance(example_inputs, dict) else {obj.forward: example_inputs}
            for key, examples in per_method.items():
                name = getattr(key, "__name__", "forward")
                for example in examples:
                    sm._methods[name].capture(_as_args(example), {}, sm._flags(), sm._original_name)
        return sm
    if callable(obj):
        name = getattr(obj, "__name__", "fn")
        method = _Method(name, obj, None, "script")
        if example_inputs is not None:
            examples = example_inputs.get(obj, []) if isinstance(example_inputs, dict) else example_inputs
            for example in examples:
                method.capture(_as_args(example), {}, None, name)
        return ScriptFunction(method, name)
    raise RuntimeError(f"ember.jit.script cannot compile an object of type {type(obj).__name__}: pass a Module, "
                       f"a function or a class")


def script_method(fn):
    """Mark a method of an ``ember.jit.ScriptModule`` subclass (the legacy API); it runs as written.

    Returns:
        ``fn``.
    """
    return fn


# ---------------------------------------------------------------- save / load
def _modules_of(m):
    if isinstance(m, ScriptFunction):
        return None, {"forward": m._method}, m.name, False
    if not isinstance(m, ScriptModule):
        raise TypeError(f"ember.jit.save expects a ScriptModule or ScriptFunction (from ember.jit.script or "
                        f"ember.jit.trace), got {type(m).__name__}")
    return m, m._methods, m._original_name, m.training


def save(m, f, _extra_files=None) -> None:
    """Write a traced or scripted module (or function) to ``f``: a zip of JSON graphs and ``.npy`` tensors.

    Args:
        m: a ``ScriptModule`` or ``ScriptFunction``.
        f: a path (written atomically) or a writable binary file.
        _extra_files: ``{name: str or bytes}`` stored beside it.

    Raises:
        RuntimeError: if a scripted method has not been captured yet.
        SerializeError: for a graph constant a file cannot hold, naming it.
    """
    module, methods, name, training = _modules_of(m)
    if not methods:
        raise RuntimeError(f"cannot save {name}: it has no captured methods (make it with ember.jit.trace or "
                           f"ember.jit.script)")
    writer = ser._Writer()
    tensors, state_ids = {}, {}
    if module is not None:
        for tname, t, persistent in _state_of(module):
            kind = "parameter" if isinstance(t, Parameter) else "buffer"
            tensors[tname] = ser.tensor_to_json(t, writer, kind=kind, persistent=persistent)
            state_ids[id(t)] = tname
    out_methods = {}
    for mname, method in methods.items():
        if not method.programs:
            raise RuntimeError(f"cannot save {name}.{mname}: it has not been captured yet (ember.jit.script "
                               f"captures on the first call; call it once or pass example_inputs to script)")
        entries = []
        for k, program in enumerate(method.programs.values()):
            attributes = {}
            for node in program.graph.nodes:
                if node.op != "get_attr":
                    continue
                t = _fetch(program.graph_module, node.target)
                table = state_ids.get(id(t))
                if table is None:   # a captured constant (or state of a module saved as a function)
                    table = f"constants.{mname}.{k}.{node.target}"
                    if table not in tensors:
                        kind = "parameter" if isinstance(t, Parameter) else "constant"
                        tensors[table] = ser.tensor_to_json(t, writer, kind=kind, persistent=False)
                attributes[node.target] = table
            entries.append({**program.to_json(writer), "attributes": attributes,
                            "training": getattr(program, "training", None)})
        out_methods[mname] = entries
    ser.write_archive(f, {"kind": "ScriptModule", "name": name, "training": training, "tensors": tensors,
                          "methods": out_methods}, writer, _extra_files)


def _fetch(module, dotted):
    obj = module
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def load(f, map_location=None, _extra_files=None):
    """Read a module written by ``ember.jit.save`` (no pickle: JSON and ``.npy`` only).

    Args:
        f: a path or a readable binary file.
        map_location: a device (or its string) to load every tensor onto; default: where it was saved.
        _extra_files: ``{name: ...}`` filled in place with the stored extra files' text.

    Returns:
        A ``RecursiveScriptModule`` running the saved graphs.
    """
    from ember.core.transfer import canonical_device
    archive, description = ser.read_archive(f, ("ScriptModule",), _extra_files)
    device = canonical_device(map_location) if map_location is not None else None
    reader = ser._Reader(archive, device_map=device)
    try:
        tensors = {name: ser.tensor_from_json(j, reader) for name, j in description["tensors"].items()}
        sm = RecursiveScriptModule()
        for name, j in description["tensors"].items():
            if not name.startswith("constants."):
                ser._check_attr_name(name)
                _install_state(sm, name, tensors[name], bool(j.get("persistent", True)))
        methods = {}
        for mname, entries in description["methods"].items():
            if not isinstance(mname, str) or not mname.isidentifier():
                raise ser.SerializeError(f"malformed method name {mname!r}")
            programs, uses_training = {}, False
            for entry in entries:
                attributes = {target: tensors[table] for target, table in entry["attributes"].items()}
                program = Program.from_json(entry, reader, attributes)
                training = entry.get("training")
                program.training = None if training is None else bool(training)
                uses_training |= training is not None
                flags = ("loaded", program.training) if training is not None else None
                programs[_program_signature(program, flags)] = program
            methods[mname] = _Method(mname, None, None, "loaded", programs)
            methods[mname].uses_training = uses_training
    except ser.SerializeError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise ser.SerializeError(f"malformed ember program file: {type(e).__name__}: {e}") from None
    object.__setattr__(sm, "_methods", methods)
    object.__setattr__(sm, "_original_name", str(description.get("name", "RecursiveScriptModule")))
    sm.train(bool(description.get("training", False)))
    return sm


def _program_signature(program, flags):
    """The signature key of the calls a loaded program was captured for (as ``_signature`` computes it)."""
    from ember.export._program import _TENSOR
    key, it = [], iter(program.inputs)
    for c in program.constants:
        if c is _TENSOR:
            _, shape, dtype, device = next(it)
            key.append(("T", tuple(shape), dtype.name, str(device)))
        else:
            key.append(("C", type(c).__name__, repr(c)))
    return (repr(program.in_spec), tuple(key), flags)


# ---------------------------------------------------------------- freezing
def freeze(mod, preserved_attrs=None, optimize_numerics=True):
    """A copy of an eval-mode ScriptModule with its parameters and buffers folded in as constants.

    Args:
        mod: a ``ScriptModule`` in eval mode.
        preserved_attrs: names of attributes and methods to keep as they are.
        optimize_numerics: allowed to change numerics (ember's freezing does not).

    Returns:
        A ``RecursiveScriptModule`` whose graphs hold constant copies of the state (no
        parameters), with dead nodes removed.
    """
    if not isinstance(mod, ScriptModule):
        raise RuntimeError("Freezing expects a ScriptModule as input. Please use ember.jit.script or "
                           "ember.jit.trace to script your 'nn.Module'.")
    if mod.training:
        raise RuntimeError("Freezing is currently only implemented for modules in eval mode. Please call .eval() "
                           "on your module before freezing.")
    preserved = set(preserved_attrs or ())
    frozen = RecursiveScriptModule()
    state = {n: t for n, t, _ in _state_of(mod)}
    for name in preserved:
        if name in state:
            _install_state(frozen, name, state[name])
    methods = {}
    for mname, method in mod._methods.items():
        if mname != "forward" and mname not in preserved:
            continue
        if not method.programs:
            raise RuntimeError(f"cannot freeze {mod._original_name}.{mname}: it has not been captured yet (call it "
                               f"once, or pass example_inputs to ember.jit.script)")
        programs = {}
        for program in method.programs.values():
            attributes = {}
            for node in program.graph.nodes:
                if node.op == "get_attr":
                    t = _fetch(program.graph_module, node.target)
                    attributes[node.target] = t if node.target in preserved else t.detach().clone()
            graph = copy_graph(program.graph)
            gm = GraphModule(attributes, graph, class_name=program.graph_module._class_name)
            gm.graph.eliminate_dead_code()
            gm.recompile()
            programs[_program_signature(program, None)] = Program(
                gm, program.in_spec, program.out_spec, program.inputs, program.constants, program.paths)
        methods[mname] = _Method(mname, None, None, "frozen", programs)
    object.__setattr__(frozen, "_methods", methods)
    object.__setattr__(frozen, "_original_name", mod._original_name)
    object.__setattr__(frozen, "_frozen", True)
    frozen.train(False)
    return frozen


def run_frozen_optimizations(mod, optimize_numerics=True, preserved_methods=None) -> None:
    """Optimise a frozen module's graphs in place (dead-code elimination)."""
    for method in mod._methods.values():
        for program in method.programs.values():
            if program.graph.eliminate_dead_code():
                program.graph_module.recompile()


def optimize_for_inference(mod, other_methods=None):
    """Freeze ``mod`` (in eval mode) if it is not frozen yet and optimise its graphs.

    Args:
        mod: a ``ScriptModule``.
        other_methods: methods besides ``forward`` to keep.

    Returns:
        The frozen, optimised ``RecursiveScriptModule``.
    """
    if not isinstance(mod, ScriptModule):
        raise RuntimeError("optimize_for_inference expects a ScriptModule as input. Please use ember.jit.script "
                           "or ember.jit.trace to script your 'nn.Module'.")
    if not mod._frozen:
        mod = freeze(mod.eval(), preserved_attrs=other_methods)
    run_frozen_optimizations(mod, preserved_methods=other_methods)
    return mod


def export_opnames(m) -> list:
    """The names of the ops ``m``'s graphs call (``ember::<op>``)."""
    names = set()
    methods = m._methods.values() if isinstance(m, ScriptModule) else [m._method]
    for method in methods:
        for program in method.programs.values():
            for node in program.graph.nodes:
                if node.op == "call_function" and isinstance(node.target, OpDef):
                    names.add(f"ember::{node.target.name}")
    return sorted(names)


from ember.jit._decorators import Attribute  # noqa: E402  (ScriptModule unwraps it)
