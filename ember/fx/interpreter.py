"""``Interpreter``: run a ``GraphModule`` node by node; ``Transformer``: rebuild its graph.

Each node runs through a method named after its kind (``placeholder``, ``get_attr``,
``call_function``, ``call_method``, ``call_module``, ``output``), called by ``run_node``: a
subclass overrides one of them to change what that kind of node does (as in ``torch.fx``).
"""
from __future__ import annotations

import contextlib

from ember.core.autograd import GRAD_MODE
from ember.dispatch.ops import OpDef
from ember.fx.graph import Graph, map_arg
from ember.fx.proxy import Proxy, Tracer, _patched


class Interpreter:
    """Runs the graph of ``module`` on concrete values.

    Args:
        module: the ``GraphModule`` (or any Module) whose attributes and submodules the
            graph's ``get_attr``/``call_module`` nodes name.
        garbage_collect_values: drop each value after its last use.
        graph: the graph to run (default: ``module.graph``).
    """

    def __init__(self, module, garbage_collect_values: bool = True, graph=None):
        self.module = module
        self.graph = graph if graph is not None else module.graph
        self.env = {}
        self.name = "Interpreter"
        self.garbage_collect_values = garbage_collect_values
        self.extra_traceback = True
        self.user_to_last_uses = {}
        if garbage_collect_values:
            last = {}
            for node in self.graph.nodes:
                for inp in node.all_input_nodes:
                    last[inp] = node
            for value, user in last.items():
                self.user_to_last_uses.setdefault(user, []).append(value)

    def run(self, *args, initial_env=None, enable_io_processing: bool = True):
        """Run the graph on ``args`` (one per placeholder); returns the output node's value.

        Args:
            args: the graph's inputs, in placeholder order.
            initial_env: ``{node: value}`` already computed (those nodes are not run).
            enable_io_processing: accepted for PyTorch's signature (ember graphs take flat inputs).
        """
        self.env = dict(initial_env or {})
        self.args_iter = iter(args)
        start = getattr(self.graph, "grad_enabled", None)
        for node in self.graph.nodes:
            if node in self.env:
                continue
            want = node.meta.get("grad_enabled")
            if want is not None and start is not None and want != start:
                with _grad(want):   # a node traced inside the program's own no_grad() block
                    self.env[node] = self.run_node(node)
            else:
                self.env[node] = self.run_node(node)
            if self.garbage_collect_values:
                for dead in self.user_to_last_uses.get(node, ()):
                    self.env.pop(dead, None)
            if node.op == "output":
                return self.env[node]
        return None

    def boxed_run(self, args_list):
        """``run`` on the values of ``args_list``, which is cleared first (so the caller holds no references)."""
        args = list(args_list)
        args_list.clear()
        return self.run(*args)

    def run_node(self, n):
        """Run node ``n``: its arguments fetched from the environment, then the method of its kind."""
        args, kwargs = self.fetch_args_kwargs_from_env(n)
        return getattr(self, n.op)(n.target, args, kwargs)

    # ------------------------------------------------------------ one method per node kind
    def placeholder(self, target, args, kwargs):
        """The next input (or the placeholder's default, ``args[0]``, when inputs ran out)."""
        if isinstance(target, str) and target.startswith("*"):
            return list(self.args_iter)
        try:
            return next(self.args_iter)
        except StopIteration:
            if args:
                return args[0]
            raise RuntimeError(f"Expected positional argument for parameter {target}, but one was not passed in!")

    def get_attr(self, target, args, kwargs):
        """The module attribute ``target`` (a dotted name)."""
        return self.fetch_attr(target)

    def call_function(self, target, args, kwargs):
        """``target(*args, **kwargs)`` (an op-table op through the dispatcher)."""
        if isinstance(target, OpDef):
            from ember.core.call import call
            return call(target, *args, **kwargs)
        return target(*args, **kwargs)

    def call_method(self, target, args, kwargs):
        """``args[0].target(*args[1:], **kwargs)``."""
        self_obj, *rest = args
        return getattr(self_obj, target)(*rest, **kwargs)

    def call_module(self, target, args, kwargs):
        """The submodule ``target`` called on ``args``."""
        return self.fetch_attr(target)(*args, **kwargs)

    def output(self, target, args, kwargs):
        """The graph's result."""
        return args[0]

    # ------------------------------------------------------------ helpers
    def fetch_attr(self, target: str):
        """The attribute of ``self.module`` at dotted path ``target``.

        Raises:
            RuntimeError: if a part of the path does not exist.
        """
        obj = self.module
        parts = target.split(".")
        for i, part in enumerate(parts):
            if not hasattr(obj, part):
                raise RuntimeError(f"Node referenced nonexistent target {'.'.join(parts[:i + 1])}")
            obj = getattr(obj, part)
        return obj

    def fetch_args_kwargs_from_env(self, n):
        """``n``'s args and kwargs with every node replaced by its value."""
        return self.map_nodes_to_values(n.args, n), self.map_nodes_to_values(n.kwargs, n)

    def map_nodes_to_values(self, args, n):
        """``args`` with every node replaced by its value (``n``: the node being run, for errors)."""
        def load(node):
            if node not in self.env:
                raise RuntimeError(f"Node {n} referenced nonexistent value {node}! Run Graph.lint() "
                                   f"to diagnose such issues")
            return self.env[node]
        return map_arg(args, load)


@contextlib.contextmanager
def _grad(enabled):
    saved = GRAD_MODE.enabled
    GRAD_MODE.enabled = enabled
    try:
        yield
    finally:
        GRAD_MODE.enabled = saved


class Transformer(Interpreter):
    """An ``Interpreter`` that runs the graph on proxies, building a new graph: each node
    method returns the proxy of the node it records (override one to record something else);
    ``transform()`` returns the new ``GraphModule``.

    Args:
        module: the ``GraphModule`` to transform.
    """

    def __init__(self, module):
        super().__init__(module, garbage_collect_values=False)
        self.new_graph = Graph()
        self.tracer = _TransformerTracer(self.new_graph, module)

    def placeholder(self, target, args, kwargs):
        """A placeholder of the new graph (with the same name and default)."""
        node = self.tracer.create_node("placeholder", target, args, {}, name=target.lstrip("*"))
        node.target = target
        return Proxy(node, self.tracer)

    def get_attr(self, target, args, kwargs):
        """A ``get_attr`` node of the new graph."""
        return Proxy(self.tracer.create_node("get_attr", target, (), {}), self.tracer)

    def call_function(self, target, args, kwargs):
        """A ``call_function`` node of the new graph."""
        return self.tracer.create_proxy("call_function", target, args, kwargs)

    def call_method(self, target, args, kwargs):
        """A ``call_method`` node of the new graph."""
        return self.tracer.create_proxy("call_method", target, args, kwargs)

    def call_module(self, target, args, kwargs):
        """A ``call_module`` node of the new graph."""
        return self.tracer.create_proxy("call_module", target, args, kwargs)

    def transform(self):
        """Run the transformation; returns the new ``GraphModule`` (over the same module's state)."""
        from ember.fx.graph_module import GraphModule
        with _patched(self.tracer):   # ember functions called on proxies in an override record nodes
            result = super().run(enable_io_processing=False)
        if result is not None:
            self.new_graph.output(self.tracer.create_arg(result))
        self.new_graph.grad_enabled = getattr(self.graph, "grad_enabled", None)
        return GraphModule(self.module, self.new_graph, class_name=getattr(self.module, "_class_name", "GraphModule"))

    def run_node(self, n):
        value = super().run_node(n)
        if isinstance(value, Proxy) and n.op != "output":
            value.node.meta.update({k: v for k, v in n.meta.items() if k not in value.node.meta})
        return value

    def output(self, target, args, kwargs):
        return args[0]


class _TransformerTracer(Tracer):
    def __init__(self, graph, root):
        super().__init__()
        self.graph = graph
        self.root = root
        self._attr_nodes = {}

    def is_leaf_module(self, m, module_qualified_name):
        return True

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        return self.graph.create_node(kind, target, args, kwargs, name=name)


__all__ = ["Interpreter", "Transformer"]
