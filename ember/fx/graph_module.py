"""``GraphModule``: a Module whose ``forward`` is Python code generated from a ``Graph``.

The generated code calls each op-table op through the dispatcher (``call``), so it runs on
any backend and autograd records it as in eager mode, without the public functions' argument
handling (done once, while tracing). Grad-mode switches made inside the traced program
(``no_grad`` blocks) are replayed from ``node.meta["grad_enabled"]``.
"""
from __future__ import annotations

import linecache
import math

from ember.core.autograd import GRAD_MODE
from ember.core.call import call
from ember.dispatch.ops import OpDef
from ember.fx.graph import Graph, Node
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter

_LITERALS = (int, float, bool, str, type(None))


class PythonCode:
    """Generated source of a graph's ``forward`` and the globals it needs."""

    def __init__(self, src: str, globals_: dict):
        self.src = src
        self.globals = globals_


def python_code(graph: Graph, root_name: str = "self") -> PythonCode:
    """The source of a function ``forward(self, <placeholders>)`` that runs ``graph``."""
    globals_ = {"call": call, "_set_grad": _set_grad, "inf": math.inf, "nan": math.nan}
    names = {}   # id(object) -> global name

    def const(value) -> str:
        if isinstance(value, Node):
            return value.name
        if isinstance(value, _LITERALS):
            if isinstance(value, float) and not math.isfinite(value):
                return "nan" if value != value else ("inf" if value > 0 else "-inf")
            return repr(value)
        if type(value) in (tuple, list):
            inner = ", ".join(const(v) for v in value)
            return f"({inner},)" if type(value) is tuple and len(value) == 1 else \
                (f"({inner})" if type(value) is tuple else f"[{inner}]")
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return "{" + ", ".join(f"{k!r}: {const(v)}" for k, v in value.items()) + "}"
        if isinstance(value, slice):
            return f"slice({const(value.start)}, {const(value.stop)}, {const(value.step)})"
        if value is Ellipsis:
            return "..."
        key = id(value)
        if key not in names:
            base = (value.name if isinstance(value, OpDef) else
                    getattr(value, "__name__", type(value).__name__))
            # a lambda's or partial's name is no identifier: keep only identifier characters
            base = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in str(base)).strip("_") or "c"
            name = f"_{base}_{len(names)}"
            names[key] = name
            globals_[name] = value
        return names[key]

    # a placeholder's default (symbolic traces keep the signature's) is the parameter's default
    params = [f"{n.name}={const(n.args[0])}" if n.args else n.name for n in graph.nodes if n.op == "placeholder"]
    body = []
    grad = "caller"   # the grad mode the code has set: the caller's until the program switches
    # free each value after its last use, as eager code does: a replay that kept every
    # intermediate alive would allocate fresh memory for each op (page faults, cache misses)
    last_use = {}
    for node in graph.nodes:
        for inp in node.all_input_nodes:
            last_use[inp] = node
    dying = {}
    for value, user in last_use.items():
        dying.setdefault(user, []).append(value.name)
    # a node traced under the program's starting grad mode runs under the caller's; one traced
    # inside the program's own no_grad()/enable_grad() block runs under that block's mode
    start = getattr(graph, "grad_enabled", None)
    switched = False
    for node in graph.nodes:
        want = node.meta.get("grad_enabled")
        if want is not None and want == start:
            want = "caller"
        if node.op not in ("placeholder", "get_attr", "output") and want is not None and want != grad:
            body.append("_set_grad(_saved_grad)" if want == "caller" else f"_set_grad({want})")
            switched = switched or want != "caller"
            grad = want
        if node.op == "placeholder":
            continue
        if node.op == "get_attr":
            path = "".join(f".{p}" if p.isidentifier() else f"[{p!r}]" for p in node.target.split("."))
            body.append(f"{node.name} = {root_name}{path}" if all(p.isidentifier() for p in node.target.split("."))
                        else f"{node.name} = _fetch({root_name}, {node.target!r})")
            globals_["_fetch"] = _fetch
        elif node.op == "call_function":
            args = ", ".join([const(a) for a in node.args] + [f"{k}={const(v)}" for k, v in node.kwargs.items()])
            if isinstance(node.target, OpDef):
                body.append(f"{node.name} = call({const(node.target)}{', ' if args else ''}{args})")
            else:
                body.append(f"{node.name} = {const(node.target)}({args})")
        elif node.op == "call_method":
            rest = ", ".join([const(a) for a in node.args[1:]] + [f"{k}={const(v)}" for k, v in node.kwargs.items()])
            body.append(f"{node.name} = {const(node.args[0])}.{node.target}({rest})")
        elif node.op == "call_module":
            args = ", ".join([const(a) for a in node.args] + [f"{k}={const(v)}" for k, v in node.kwargs.items()])
            body.append(f"{node.name} = _fetch({root_name}, {node.target!r})({args})")
            globals_["_fetch"] = _fetch
        elif node.op == "output":
            body.append(f"return {const(node.args[0])}")
            continue
        if node in dying:
            body.append(f"del {', '.join(dying[node])}")
    if not body or not body[-1].startswith("return"):
        body.append("return None")
    header = f"def forward({', '.join([root_name] + params)}):"
    if switched:   # the graph switches grad mode: restore the caller's, even on error
        lines = [header, "    _saved_grad = _grad_enabled()", "    try:"] + \
                ["        " + line for line in body] + ["    finally:", "        _set_grad(_saved_grad)"]
        globals_["_grad_enabled"] = _grad_enabled
    else:
        lines = [header] + ["    " + line for line in body]
    return PythonCode("\n".join(lines) + "\n", globals_)


def _set_grad(enabled: bool) -> None:
    GRAD_MODE.enabled = enabled


def _grad_enabled() -> bool:
    return GRAD_MODE.enabled


def _fetch(root, qualified_name: str):
    obj = root
    for part in qualified_name.split("."):
        obj = getattr(obj, part)
    return obj


_COUNTER = [0]


# ember.compile's code objects by source hash: those compiled here (what
# ember.compiler.save_cache_artifacts saves) and those loaded by load_cache_artifacts (reused)
COMPILED_CODE: dict = {}
LOADED_CODE: dict = {}


def compile_code(code: PythonCode, label: str = "fx"):
    """The ``forward`` function defined by ``code`` (its source is kept for tracebacks)."""
    _COUNTER[0] += 1
    filename = f"<ember.{label}.{_COUNTER[0]}>"
    linecache.cache[filename] = (len(code.src), None, code.src.splitlines(True), filename)
    namespace = dict(code.globals)
    key = None
    if label.startswith("compiled."):
        import hashlib
        key = hashlib.sha256(code.src.encode()).hexdigest()
    compiled = LOADED_CODE.get(key) if key is not None else None
    if compiled is None:
        compiled = compile(code.src, filename, "exec")
    else:   # a loaded cache artifact: its source is this one, kept for tracebacks under its own name
        linecache.cache[compiled.co_filename] = linecache.cache[filename]
    if key is not None:
        COMPILED_CODE[key] = compiled
    exec(compiled, namespace)
    return namespace["forward"]


class GraphModule(Module):
    """A Module that runs a ``Graph``; the graph's ``get_attr`` targets are copied from ``root``.

    Args:
        root: the module the graph was traced from (its parameters, buffers and submodules
            named by ``get_attr``/``call_module`` nodes are installed under the same names), or
            a dict from those names to the objects.
        graph: the graph.
        class_name: the name shown in the module's repr.
    """

    def __init__(self, root, graph: Graph, class_name: str = "GraphModule"):
        super().__init__()
        self._class_name = class_name
        for node in graph.nodes:
            if node.op in ("get_attr", "call_module"):
                value = root[node.target] if isinstance(root, dict) else _fetch(root, node.target)
                _install(self, node.target, value)
        self.graph = graph

    @property
    def graph(self) -> Graph:
        """The graph this module runs (assigning one regenerates ``forward``)."""
        return self._graph

    @graph.setter
    def graph(self, graph: Graph):
        object.__setattr__(self, "_graph", graph)
        self.recompile()

    def recompile(self) -> PythonCode:
        """Regenerate ``forward`` from the graph (after editing it); returns the new code."""
        code = python_code(self._graph)
        object.__setattr__(self, "_code", code.src)
        object.__setattr__(self, "_forward", compile_code(code))
        return code

    @property
    def code(self) -> str:
        """The Python source of the generated ``forward``."""
        return self._code

    def forward(self, *args, **kwargs):
        return self._forward(self, *args, **kwargs)

    def print_readable(self, print_output: bool = True) -> str:
        """The generated code, printed (and returned)."""
        text = f"class {self._class_name}(ember.nn.Module):\n" + \
            "".join("    " + line + "\n" for line in self._code.splitlines())
        if print_output:
            print(text)
        return text

    def _get_name(self):
        return self._class_name


def _install(module: Module, qualified_name: str, value) -> None:
    *path, leaf = qualified_name.split(".")
    for part in path:
        child = module._modules.get(part) if hasattr(module, "_modules") else None
        if child is None:
            child = Module()
            module.add_module(part, child)
        module = child
    if isinstance(value, Parameter):
        module.register_parameter(leaf, value)
    elif isinstance(value, Module):
        module.add_module(leaf, value)
    elif leaf in getattr(module, "_buffers", {}) or _is_tensor(value):
        # captured constants are not state: they stay out of state_dict, as in PyTorch
        module.register_buffer(leaf, value, persistent=not leaf.startswith("_tensor_constant"))
    else:
        object.__setattr__(module, leaf, value)


def _is_tensor(value) -> bool:
    from ember.core.tensor import Tensor
    return isinstance(value, Tensor)
