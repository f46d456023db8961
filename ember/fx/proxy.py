"""Symbolic tracing: ``Proxy`` values and the ``Tracer`` that records them, as in ``torch.fx``.

A symbolic trace runs a module's ``forward`` on ``Proxy`` objects instead of tensors: each
Python operator, method call or attribute read on a proxy adds a node to the tracer's
``Graph`` and returns a new proxy, so no data is needed and no op runs. Calls of ember's
public functions (``ember.relu``, ``ember.nn.functional.linear``) see proxies too: while a
trace runs, the tracer puts recording wrappers in those namespaces (and in the ones named
by ``wrap`` and ``autowrap_modules``) and takes them out after, so code outside a trace
never goes through them. Submodules that ``is_leaf_module`` accepts (ember's own ``nn``
layers) become ``call_module`` nodes; other modules are traced through.
"""
from __future__ import annotations

import builtins
import contextlib
import functools
import inspect
import math
import operator
import sys

from ember.fx.graph import Graph

_MARK = "_ember_fx_recorder"   # attribute of a recording wrapper: the function it records


class TraceError(ValueError):
    """A symbolic trace met something a graph cannot express (a proxy used as a bool or iterated)."""


# ---------------------------------------------------------------- registries
_WRAPPED = []            # (globals dict, name) pairs registered by wrap()


def wrap(fn_or_name):
    """Make a module-level function a leaf of symbolic tracing: its calls (from code of the
    module that called ``wrap``) become one ``call_function`` node instead of being traced.

    Args:
        fn_or_name: the function, or its name in the calling module's globals.

    Returns:
        ``fn_or_name``, unchanged (usable as a decorator).

    Raises:
        NotImplementedError: called other than at the top level of a module.
    """
    frame = inspect.currentframe().f_back
    if frame.f_code.co_name != "<module>":
        raise NotImplementedError("wrap must be called at the top level of a module")
    name = fn_or_name if isinstance(fn_or_name, str) else getattr(fn_or_name, "__name__", None)
    if not name or not name.isidentifier():
        raise TypeError(f"wrap expects a named function or its name, got {fn_or_name!r}")
    _WRAPPED.append((frame.f_globals, name))
    return fn_or_name


def has_side_effect(fn):
    """Declare that ``fn`` has effects: graph dead-code elimination keeps its nodes even when
    their results are unused.

    Args:
        fn: the function.

    Returns:
        ``fn``, unchanged.
    """
    from ember.fx import graph as graph_module
    graph_module._SIDE_EFFECTFUL.add(fn)
    graph_module._PURE_FUNCTIONS.discard(fn)
    return fn


# ---------------------------------------------------------------- proxies
def _find_tracer(args, kwargs):
    found = []

    def visit(a):
        if isinstance(a, Proxy):
            found.append(a.tracer)
        elif type(a) in (tuple, list):
            for x in a:
                visit(x)
        elif isinstance(a, dict):
            for x in a.values():
                visit(x)
        elif isinstance(a, slice):
            visit(a.start), visit(a.stop), visit(a.step)
        return bool(found)
    for a in args:
        if visit(a):
            return found[0]
    for a in kwargs.values():
        if visit(a):
            return found[0]
    return None


class Proxy:
    """A value of a symbolic trace: the graph ``node`` that computes it.

    Operators, method calls (``x.relu()``: ``call_method``), attribute reads and indexing on
    a proxy record nodes and return proxies.

    Args:
        node: the node.
        tracer: the ``Tracer`` recording (default: a bare one over ``node.graph``).
    """

    def __init__(self, node, tracer=None):
        if tracer is None:
            tracer = GraphAppendingTracer(node.graph)
        self.node = node
        self.tracer = tracer

    def __repr__(self):
        return f"Proxy({self.node.name})"

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return Attribute(self, name)

    def __call__(self, *args, **kwargs):
        return self.tracer.create_proxy("call_method", "__call__", (self,) + args, kwargs)

    def __iter__(self):
        raise TraceError("Proxy object cannot be iterated. This can be attempted when the Proxy is used in a "
                         "loop or as a *args or **kwargs function argument.")

    def __bool__(self):
        raise TraceError("symbolically traced variables cannot be used as inputs to control flow")

    def __len__(self):
        raise RuntimeError("'len' is not supported in symbolic tracing by default. If you want this call to "
                           "be recorded, please call ember.fx.wrap('len') at module scope")

    def keys(self):
        return self.tracer.create_proxy("call_method", "keys", (self,), {})

    def __getitem__(self, item):
        return self.tracer.create_proxy("call_function", operator.getitem, (self, item), {})

    def __setitem__(self, item, value):
        self.tracer.create_proxy("call_function", operator.setitem, (self, item, value), {})

    def __index__(self):
        raise TraceError("symbolically traced variables cannot be used as Python indices")


class Attribute(Proxy):
    """``proxy.name``: recorded as a ``getattr`` node when used as a value, as a
    ``call_method`` node when called."""

    def __init__(self, root, attr):
        self.root = root
        self.attr = attr
        self.tracer = root.tracer
        self._node = None

    @property
    def node(self):
        if self._node is None:
            self._node = self.tracer.create_proxy("call_function", builtins.getattr, (self.root, self.attr), {}).node
        return self._node

    def __call__(self, *args, **kwargs):
        return self.tracer.create_proxy("call_method", self.attr, (self.root,) + args, kwargs)


def _binary(op, reflected=False):
    if reflected:
        def method(self, other):
            return self.tracer.create_proxy("call_function", op, (other, self), {})
    else:
        def method(self, other):
            return self.tracer.create_proxy("call_function", op, (self, other), {})
    return method


def _unary(op):
    def method(self):
        return self.tracer.create_proxy("call_function", op, (self,), {})
    return method


_BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
           "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow, "matmul": operator.matmul,
           "and": operator.and_, "or": operator.or_, "xor": operator.xor, "lshift": operator.lshift,
           "rshift": operator.rshift}
_COMPARE = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
            "ge": operator.ge}
for _name, _op in _BINARY.items():
    setattr(Proxy, f"__{_name}__", _binary(_op))
    setattr(Proxy, f"__r{_name}__", _binary(_op, reflected=True))
for _name, _op in _COMPARE.items():
    setattr(Proxy, f"__{_name}__", _binary(_op))
for _name, _op in {"neg": operator.neg, "pos": operator.pos, "invert": operator.invert, "abs": operator.abs}.items():
    setattr(Proxy, f"__{_name}__", _unary(_op))
Proxy.__hash__ = object.__hash__   # __eq__ records a node; proxies stay hashable by identity


# ---------------------------------------------------------------- the tracer
class Tracer:
    """Records a module's (or function's) ``forward`` into a ``Graph`` with ``Proxy`` inputs.

    Args:
        autowrap_modules: modules whose functions, called on proxies, become
            ``call_function`` nodes (default: ``math``).
        autowrap_functions: functions (module-level) recorded as leaves the same way.
        param_shapes_constant: accepted for PyTorch's signature (ember records parameter
            shapes as ``call_method`` nodes either way).
    """

    def __init__(self, autowrap_modules=(math,), autowrap_functions=(), param_shapes_constant: bool = False):
        self.autowrap_modules = tuple(autowrap_modules)
        self.autowrap_functions = tuple(autowrap_functions)
        self.param_shapes_constant = param_shapes_constant
        self.graph = None
        self.root = None
        self.tensor_attrs = {}
        self.module_stack = []

    # ------------------------------------------------------------ hooks a subclass may override
    def is_leaf_module(self, m, module_qualified_name: str) -> bool:
        """Whether submodule ``m`` is one ``call_module`` node (ember's own ``nn`` layers, except
        containers) rather than traced through."""
        from ember.nn.modules.container import ModuleList, Sequential
        module = type(m).__module__ or ""
        return module.startswith("ember.nn") and not isinstance(m, (Sequential, ModuleList))

    def path_of_module(self, mod) -> str:
        """The dotted name of ``mod`` inside the traced root.

        Raises:
            NameError: if ``mod`` is not a submodule of the root.
        """
        for name, sub in self.root.named_modules():
            if sub is mod:
                return name
        raise NameError("module is not installed as a submodule")

    def call_module(self, m, forward, args, kwargs):
        """A submodule call: a ``call_module`` node for a leaf, else ``forward`` traced through."""
        name = self.path_of_module(m)
        if not self.is_leaf_module(m, name):
            self.module_stack.append(name)
            try:
                return forward(*args, **kwargs)
            finally:
                self.module_stack.pop()
        return self.create_proxy("call_module", name, args, kwargs)

    def getattr(self, attr: str, attr_val, parameter_proxy_cache: dict):
        """What a module attribute read gives the traced code (the value itself)."""
        return attr_val

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        """Add a node of kind ``kind`` to the graph."""
        node = self.graph.create_node(kind, target, args, kwargs, name=name)
        node.meta["symbolic"] = True   # pure unless its target has side effects (see Node.is_impure)
        if type_expr is not None:
            node.type = type_expr
        return node

    def proxy(self, node):
        """The proxy of ``node``."""
        return Proxy(node, self)

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None, proxy_factory_fn=None):
        """Record ``target(*args, **kwargs)`` as a node of kind ``kind``; returns its proxy."""
        node = self.create_node(kind, target, self.create_arg(tuple(args)), self.create_arg(dict(kwargs)),
                                name, type_expr)
        return proxy_factory_fn(node) if proxy_factory_fn is not None else self.proxy(node)

    def create_arg(self, a):
        """An argument as the graph holds it: proxies as nodes, parameters and tensors as
        ``get_attr`` nodes, containers element by element."""
        from ember.core.tensor import Tensor
        from ember.fx.graph import Node
        if isinstance(a, Proxy):
            return a.node
        if isinstance(a, Node):
            return a
        if type(a) in (tuple, list):
            return type(a)(self.create_arg(x) for x in a)
        if isinstance(a, tuple) and hasattr(a, "_fields"):   # a named tuple
            return type(a)(*(self.create_arg(x) for x in a))
        if isinstance(a, dict):
            return {k: self.create_arg(v) for k, v in a.items()}
        if isinstance(a, slice):
            return slice(self.create_arg(a.start), self.create_arg(a.stop), self.create_arg(a.step))
        if isinstance(a, Tensor):
            return self._tensor_node(a)
        from ember.nn.modules.module import Module
        if isinstance(a, Module):
            return self.create_node("get_attr", self.path_of_module(a), (), {})
        return a

    def _tensor_node(self, t):
        for name, p in self.root.named_parameters():
            if p is t:
                return self._get_attr(name)
        for name, b in self.root.named_buffers():
            if b is t:
                return self._get_attr(name)
        name = self.tensor_attrs.get(id(t))
        if name is None:   # a tensor from outside the module: installed on the root as a constant
            i = 0
            while hasattr(self.root, f"_tensor_constant{i}"):
                i += 1
            name = f"_tensor_constant{i}"
            object.__setattr__(self.root, name, t)
            self.tensor_attrs[id(t)] = name
        return self._get_attr(name)

    def _get_attr(self, name):
        cached = self._attr_nodes.get(name)
        if cached is None:
            cached = self._attr_nodes[name] = self.create_node("get_attr", name, (), {})
        return cached

    # ------------------------------------------------------------ tracing
    def trace(self, root, concrete_args=None) -> Graph:
        """Record ``root`` (a Module's ``forward``, or a function) into a new ``Graph``.

        Args:
            root: the module or function.
            concrete_args: ``{argument name: value}`` for arguments fixed at a value (no placeholder).

        Returns:
            The graph; ``self.root`` is the module its ``get_attr``/``call_module`` nodes name.
        """
        from ember.nn.modules.module import Module
        if isinstance(root, Module):
            self.root = root
            fn = type(root).forward
            bound_self = (root,)
        else:
            self.root = Module()
            fn = root
            bound_self = ()
        self.graph = Graph()
        self._attr_nodes = {}
        self.tensor_attrs = {}
        concrete_args = dict(concrete_args or {})
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())[len(bound_self):]
        args, kwargs = [], {}
        for p in params:
            if p.name in concrete_args:
                value = concrete_args[p.name]
            elif p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TraceError(f"cannot trace {getattr(fn, '__qualname__', fn)} symbolically: its "
                                 f"{'*' if p.kind is p.VAR_POSITIONAL else '**'}{p.name} parameter has no fixed "
                                 f"arity (fix the arguments with concrete_args, or trace with example_inputs)")
            else:
                default = () if p.default is p.empty else (p.default,)
                node = self.create_node("placeholder", p.name, default, {}, name=p.name)
                node.target = node.name
                value = self.proxy(node)
            if p.kind is p.KEYWORD_ONLY:
                kwargs[p.name] = value
            else:
                args.append(value)
        with _patched(self):
            result = fn(*bound_self, *args, **kwargs)
        self.create_node("output", "output", (self.create_arg(result),), {})
        return self.graph


class GraphAppendingTracer(Tracer):
    """A tracer that appends to an existing graph (what a bare ``Proxy(node)`` records with)."""

    def __init__(self, graph):
        super().__init__()
        self.graph = graph
        from ember.nn.modules.module import Module
        self.root = Module()
        self._attr_nodes = {}


# ---------------------------------------------------------------- what a trace patches (and unpatches)
def _recorder(tracer, fn):
    @functools.wraps(fn)
    def record(*args, **kwargs):
        if _find_tracer(args, kwargs) is not None:
            return tracer.create_proxy("call_function", fn, args, kwargs)
        return fn(*args, **kwargs)
    setattr(record, _MARK, fn)
    return record


_TENSOR_DUNDERS = tuple(f"__{n}__" for n in _BINARY) + tuple(f"__r{n}__" for n in _BINARY) + \
    tuple(f"__{n}__" for n in _COMPARE)


def _not_for_proxies(method):
    @functools.wraps(method)
    def dunder(self, other, *rest):
        if isinstance(other, Proxy):
            return NotImplemented   # Python then asks the proxy (its reflected operator)
        return method(self, other, *rest)
    return dunder


@contextlib.contextmanager
def _patched(tracer):
    """Recording wrappers in ember's namespaces, ``Module.__call__`` routed to the tracer."""
    import ember
    import ember.nn.functional as F
    from ember.core.tensor import Tensor
    from ember.nn.modules.module import Module
    from ember.ops.public import FUNCTIONS
    saved = []

    def patch(owner, name, value):
        if isinstance(owner, dict):
            saved.append((owner, name, owner[name]))
            owner[name] = value
        else:
            saved.append((owner, name, owner.__dict__[name] if name in owner.__dict__ else _ABSENT))
            setattr(owner, name, value)

    namespace = ember.__dict__
    for name, fn in FUNCTIONS.items():
        if namespace.get(name) is fn and callable(fn):
            patch(ember, name, _recorder(tracer, fn))
    for name, fn in list(vars(F).items()):
        if not name.startswith("_") and inspect.isfunction(fn):
            patch(F, name, _recorder(tracer, fn))
    for module in tracer.autowrap_modules:
        for name, fn in list(vars(module).items()):
            if not name.startswith("_") and callable(fn) and not isinstance(fn, type):
                patch(module, name, _recorder(tracer, fn))
    for fn in tracer.autowrap_functions:
        owner = sys.modules.get(getattr(fn, "__module__", None))
        if owner is not None and getattr(owner, fn.__name__, None) is fn:
            patch(owner.__dict__, fn.__name__, _recorder(tracer, fn))
    for globals_, name in _WRAPPED:
        fn = globals_.get(name, getattr(builtins, name, None))
        if fn is not None and not hasattr(fn, _MARK):
            if name in globals_:
                patch(globals_, name, _recorder(tracer, fn))
            else:   # a builtin (wrap("len")): shadow it in that module's globals for the trace
                globals_[name] = _recorder(tracer, fn)
                saved.append((globals_, name, _ABSENT))
    for dunder in _TENSOR_DUNDERS:
        method = Tensor.__dict__.get(dunder)
        if method is not None:
            patch(Tensor, dunder, _not_for_proxies(method))
    original_call = Module.__call__

    def module_call(mod, *args, **kwargs):
        return tracer.call_module(mod, functools.partial(original_call, mod), args, kwargs)
    patch(Module, "__call__", module_call)
    try:
        yield
    finally:
        for owner, name, value in reversed(saved):
            if isinstance(owner, dict):
                if value is _ABSENT:
                    owner.pop(name, None)
                else:
                    owner[name] = value
            elif value is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, value)


_ABSENT = object()


def symbolic_trace_module(root, concrete_args=None):
    """``Tracer().trace(root)`` as a ``GraphModule`` (the path of ``symbolic_trace`` without example inputs)."""
    from ember.fx.graph_module import GraphModule
    from ember.nn.modules.module import Module
    tracer = Tracer()
    graph = tracer.trace(root, concrete_args)
    name = type(root).__name__ if isinstance(root, Module) else getattr(root, "__name__", "GraphModule")
    return GraphModule(tracer.root, graph, class_name=name)


__all__ = ["Attribute", "GraphAppendingTracer", "Proxy", "TraceError", "Tracer", "has_side_effect", "wrap"]
