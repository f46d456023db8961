"""A captured program that can run, be compared and be saved: what ``ember.export`` and ``ember.jit`` share.

A ``Program`` is one captured graph (a ``GraphModule`` whose ``forward`` takes the tensor
leaves of ``(args, kwargs)`` and returns the flat outputs) with the tree specs that rebuild
the calling convention, the shapes it was captured with and the non-tensor arguments it
fixed. ember's graphs hold concrete shapes: whether a graph may run with other sizes is
decided by its owner (``ExportedProgram`` with ``dynamic_shapes``, a ``ScriptModule``).
"""
from __future__ import annotations

import contextlib

import inspect

import numpy as np

from ember.core.autograd import no_grad
from ember.core.tensor import Tensor
from ember.dispatch.ops import OpDef
from ember.fx.capture import Tracer, input_names_of
from ember.fx.graph import Node
from ember.fx.graph_module import GraphModule
from ember.export import _serialize as ser
from ember.utils._pytree import tree_flatten, tree_unflatten

_TENSOR = object()   # marks a tensor position among the constant leaves


EXPORTING = [0]   # captures of ember.export in progress


@contextlib.contextmanager
def _module_calls_recorded(root, graph):
    """While exporting: ``graph.module_stack`` holds the dotted names of the submodule calls in
    progress, so each node records the call that made it (``ember.export.unflatten``)."""
    from ember.nn.modules.module import Module
    if root is None or not isinstance(root, Module):
        yield
        return
    names = {}
    for name, m in root.named_modules():
        names.setdefault(id(m), name)
    graph.module_stack = []
    original = Module.__call__

    def call(mod, *args, **kwargs):
        name = names.get(id(mod))
        if not name:
            return original(mod, *args, **kwargs)
        graph.module_stack.append(name)
        try:
            return original(mod, *args, **kwargs)
        finally:
            graph.module_stack.pop()
    Module.__call__ = call
    try:
        yield
    finally:
        Module.__call__ = original
        del graph.module_stack


def capture(fn, args, kwargs, *, root, on_host_read, error, names_from=None, class_name="GraphModule"):
    """Run ``fn(*args, **kwargs)`` under a trace; returns ``(Program, capture, result)``.

    The result is the real one of this run (the trace runs the program), so a caller that
    needs the value does not run the program twice.
    """
    box = []

    def program(*a, **k):
        out = fn(*a, **k)
        box.append(out)
        return out
    target = names_from or (fn.forward if hasattr(fn, "forward") and callable(fn.forward) else fn)
    names = input_names_of(target, args, kwargs)
    EXPORTING[0] += 1   # ember.compiler.is_exporting() is True while the program runs
    try:
        tracer = Tracer(root, on_host_read=on_host_read, error=error)
        with _module_calls_recorded(root, tracer.graph):
            cap = tracer.trace(program, args, kwargs, names)
    finally:
        EXPORTING[0] -= 1
    gm = GraphModule(cap.attributes, cap.graph, class_name=class_name)
    prog = Program(gm, cap.in_spec, cap.out_spec, *_input_record(target, args, kwargs))
    return prog, cap, box[0]


def _param_names(target) -> list:
    try:
        return [p.name for p in inspect.signature(target).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return []


def leaf_paths(target, args, kwargs) -> list:
    """A readable name for every leaf of ``(args, kwargs)``: ``x``, ``inputs[0]``, ``batch['ids']``."""
    names = _param_names(target)
    paths = []

    def walk(value, path):
        if type(value) in (tuple, list) or (isinstance(value, tuple) and hasattr(type(value), "_fields")):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}[{k!r}]")
        elif value is not None:
            paths.append(path)
    for i, a in enumerate(args):
        walk(a, names[i] if i < len(names) else f"args[{i}]")
    for k, v in kwargs.items():
        walk(v, k)
    return paths


def _input_record(target, args, kwargs):
    leaves, _ = tree_flatten((tuple(args), dict(kwargs)))
    paths = leaf_paths(target, args, kwargs)
    if len(paths) != len(leaves):
        paths = [f"input{i}" for i in range(len(leaves))]
    inputs = [(p, tuple(x.shape), x.dtype, x.device) for p, x in zip(paths, leaves) if isinstance(x, Tensor)]
    constants = [_TENSOR if isinstance(x, Tensor) else x for x in leaves]
    return inputs, constants, paths


def spec_matches(a, b) -> bool:
    """Whether two tree specs have the same structure (namedtuples compared by name and fields)."""
    if a.type is not b.type:
        fa, fb = getattr(a.type, "_fields", None), getattr(b.type, "_fields", None)
        if fa is None or fa != fb or a.type.__name__ != b.type.__name__:
            return False
    return a.context == b.context and len(a.children_specs) == len(b.children_specs) and \
        all(spec_matches(x, y) for x, y in zip(a.children_specs, b.children_specs))


class Program:
    """One captured graph and its calling convention (see the module docstring).

    Args:
        graph_module: the ``GraphModule`` (flat tensor inputs, flat outputs).
        in_spec, out_spec: tree specs of ``(args, kwargs)`` and of the result.
        inputs: ``(path, shape, dtype, device)`` of each tensor leaf.
        constants: every leaf of ``(args, kwargs)``: its value, or a tensor marker.
        paths: the readable name of every leaf.
    """

    def __init__(self, graph_module, in_spec, out_spec, inputs, constants, paths):
        self.graph_module = graph_module
        self.in_spec = in_spec
        self.out_spec = out_spec
        self.inputs = inputs
        self.constants = constants
        self.paths = paths

    @property
    def graph(self):
        return self.graph_module.graph

    def flat_inputs(self, args, kwargs, check_constants=True) -> list:
        """The tensor leaves of a call, after checking its structure (``ValueError``) and fixed values."""
        kwargs = dict(kwargs)
        kw_spec = self.in_spec.children_specs[1]
        if set(kwargs) == set(kw_spec.context or ()):   # keyword order does not matter
            kwargs = {k: kwargs[k] for k in kw_spec.context}
        leaves, spec = tree_flatten((tuple(args), kwargs))
        if not spec_matches(spec, self.in_spec):
            raise ValueError(f"Trying to flatten user inputs with exported input tree spec: \n{self.in_spec}\n"
                             f"but actually got inputs with tree spec of: \n{spec}.\nPlease check that the inputs "
                             f"have the same number and type of args and kwargs as the ones you used when tracing.")
        tensors = []
        for path, value, fixed in zip(self.paths, leaves, self.constants):
            if fixed is _TENSOR:
                if not isinstance(value, Tensor):
                    raise TypeError(f"expected a Tensor for {path}, got {type(value).__name__}")
                tensors.append(value)
            elif check_constants and not _same_constant(value, fixed):
                raise AssertionError(f"Guard failed: {path} == {fixed!r}")
        return tensors

    def shapes_match(self, tensors) -> bool:
        return all(tuple(t.shape) == rec[1] for t, rec in zip(tensors, self.inputs))

    def run(self, tensors):
        """Run the graph on the tensor leaves; returns the result in the program's structure."""
        flat = self.graph_module(*tensors)
        return tree_unflatten(list(flat), self.out_spec)

    # ------------------------------------------------------------ files
    def to_json(self, writer) -> dict:
        return {"graph": ser.graph_to_json(self.graph, writer),
                "in_spec": ser.spec_to_json(self.in_spec, writer),
                "out_spec": ser.spec_to_json(self.out_spec, writer),
                "inputs": [[p, list(s), d.name, str(dev)] for p, s, d, dev in self.inputs],
                "constants": [{"$tensor_input": None} if c is _TENSOR else writer.value(c, "an input")
                              for c in self.constants],
                "paths": list(self.paths),
                "class_name": self.graph_module._class_name}

    @classmethod
    def from_json(cls, j, reader, attributes) -> "Program":
        from ember.core import dtype as dt
        graph = ser.graph_from_json(j["graph"], reader, attributes)
        name = j.get("class_name", "GraphModule")
        gm = GraphModule(attributes, graph, class_name=name if isinstance(name, str) and name.isidentifier()
                         else "GraphModule")
        inputs = [(p, tuple(int(x) for x in s), dt._BY_NAME[d], reader.device(dev)) for p, s, d, dev in j["inputs"]]
        constants = [_TENSOR if c == {"$tensor_input": None} else reader.value(c) for c in j["constants"]]
        return cls(gm, ser.spec_from_json(j["in_spec"], reader), ser.spec_from_json(j["out_spec"], reader),
                   inputs, constants, list(j["paths"]))


def _same_constant(a, b) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return a is b


# ---------------------------------------------------------------- comparing graphs
def graph_key(graph) -> list:
    """A comparable description of ``graph``'s program: ops, targets, constants, wiring (no shapes)."""
    index = {}
    key = []
    for i, n in enumerate(graph.nodes):
        index[n] = i
        if n.op == "call_function":
            target = ("op", n.target.name) if isinstance(n.target, OpDef) else ("fn", id(n.target))
        else:
            target = None if n.op == "placeholder" else n.target
        key.append((n.op, target, _frozen(n.args, index), _frozen(n.kwargs, index), n.meta.get("grad_enabled")))
    return key


def _frozen(a, index):
    if isinstance(a, Node):
        return ("node", index.get(a))
    if type(a) in (tuple, list):
        return (type(a).__name__,) + tuple(_frozen(x, index) for x in a)
    if isinstance(a, dict):
        return ("dict",) + tuple((k, _frozen(v, index)) for k, v in a.items())
    if isinstance(a, slice):
        return ("slice", _frozen(a.start, index), _frozen(a.stop, index), _frozen(a.step, index))
    if isinstance(a, np.ndarray):
        return ("array", a.dtype.str, a.shape, a.tobytes())
    return a


def graph_diff(a, b) -> str:
    """The first differing lines of two graphs' printouts (for error messages)."""
    la, lb = str(a).splitlines(), str(b).splitlines()
    out = []
    for x, y in zip(la, lb):
        if x != y:
            out.append(f"-   {x.strip()}\n+   {y.strip()}")
        if len(out) >= 3:
            break
    if len(la) != len(lb):
        out.append(f"(the graphs have {len(la)} and {len(lb)} lines)")
    return "\n".join(out)


# ---------------------------------------------------------------- a module's state around a trace
def module_state(module):
    """Everything a trace may change: parameter/buffer values and bindings, training flags, the RNG."""
    from ember.ops.random import default_generator
    values = []
    seen = set()
    for t in list(module.parameters()) + list(module.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            values.append((t, t.detach().clone()))
    bindings = [(m, dict(m._parameters), dict(m._buffers)) for m in module.modules()]
    flags = [(m, m.training) for m in module.modules()]
    return values, bindings, flags, default_generator.get_state()


def restore_state(state) -> None:
    """Put back what ``module_state`` recorded."""
    from ember.ops.random import default_generator
    values, bindings, flags, rng = state
    for m, params, buffers in bindings:
        m._parameters.clear()
        m._parameters.update(params)
        m._buffers.clear()
        m._buffers.update(buffers)
    with no_grad():
        for t, saved in values:
            t.copy_(saved)
    for m, training in flags:
        m.training = training
    default_generator.set_state(rng)


def copy_graph(graph):
    """A new graph with the same nodes (names, targets, constants, meta): edits of one leave the other."""
    from ember.fx.graph import Graph, map_arg
    new = Graph()
    env = {}
    for n in graph.nodes:
        node = new.create_node(n.op, n.target, map_arg(n.args, env.__getitem__), map_arg(n.kwargs, env.__getitem__),
                               name=n.name)
        node.meta = dict(n.meta)
        env[n] = node
    return new
