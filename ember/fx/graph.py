"""The graph IR: a ``Graph`` is an ordered list of ``Node``s, as in PyTorch's ``torch.fx``.

Node kinds (``node.op``):

* ``placeholder`` — an input of the graph (``target`` its name);
* ``get_attr`` — a parameter, buffer or captured tensor of the owning module (``target`` its
  dotted name);
* ``call_function`` — ``target(*args, **kwargs)``; ``target`` is an op of the op table
  (``ember.dispatch.ops.OpDef``: run through the dispatcher, so on any backend) or a Python
  function (the functions decorated ``@recorded`` in the core, or any user function);
* ``call_method`` / ``call_module`` — ``args[0].target(...)`` / ``self.<target>(...)``, for
  graphs built by hand;
* ``output`` — the graph's result (``args[0]``, a nest of nodes and constants).

The order is the program order: in-place writes (``write_inplace``, ``_index_put_inplace``)
are nodes like any other and later readers of the written tensor come after them, so a
graph replays mutation (BatchNorm's running statistics) as eager code does.
"""
from __future__ import annotations

import contextlib
import math
import operator

from ember.dispatch.ops import OpDef

# Functions other than op-table ops are assumed to have effects (in-place writes, random draws,
# a disabled function's Python) unless declared pure here.
_PURE_FUNCTIONS = {operator.getitem}
# Functions declared effectful (ember.fx.has_side_effect): kept even in symbolically traced
# graphs, whose calls are otherwise taken as pure (as torch.fx does).
_SIDE_EFFECTFUL = {operator.setitem}


def mark_pure(fn):
    """Declare that calls of ``fn`` only compute their result: dead-code elimination may drop them."""
    _PURE_FUNCTIONS.add(getattr(fn, "__untraced__", fn))
    return fn


def target_name(target) -> str:
    """A readable name for a node target (op-table ops print as ``ops.<name>``)."""
    if isinstance(target, OpDef):
        return f"ops.{target.name}"
    if isinstance(target, str):
        return target
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or repr(target)
    return f"{module}.{name}" if module else name


def _base_name(target) -> str:
    if isinstance(target, OpDef):
        return target.name
    if isinstance(target, str):
        return target.replace(".", "_")
    return (getattr(target, "__name__", None) or "fn").lstrip("_") or "fn"


def map_arg(a, fn):
    """``a`` with every ``Node`` inside it (nested tuples, lists, dicts, slices) replaced by ``fn(node)``."""
    if isinstance(a, Node):
        return fn(a)
    if type(a) in (tuple, list):
        return type(a)(map_arg(x, fn) for x in a)
    if isinstance(a, dict):
        return {k: map_arg(v, fn) for k, v in a.items()}
    if isinstance(a, slice):
        return slice(map_arg(a.start, fn), map_arg(a.stop, fn), map_arg(a.step, fn))
    return a


def _nodes_in(a) -> list:
    found = []
    map_arg(a, lambda n: found.append(n) or n)
    return found


class Node:
    """One operation of a ``Graph``: ``op`` kind, ``target``, ``args``/``kwargs`` (nodes or
    constants), the nodes that use it (``users``) and ``meta`` (``"val"``: shape, dtype and
    device of the value it produced when traced)."""

    def __init__(self, graph, name, op, target, args, kwargs):
        self.graph = graph
        self.name = name
        self.op = op
        self.target = target
        self.users: dict = {}
        self.meta: dict = {}
        self._args, self._kwargs = (), {}
        self._set_inputs(tuple(args), dict(kwargs))

    def _set_inputs(self, args, kwargs):
        for old in self.all_input_nodes:
            old.users.pop(self, None)
        self._args, self._kwargs = args, kwargs
        for new in self.all_input_nodes:
            new.users[self] = None

    @property
    def args(self) -> tuple:
        return self._args

    @args.setter
    def args(self, value):
        self._set_inputs(tuple(value), self._kwargs)

    @property
    def kwargs(self) -> dict:
        return self._kwargs

    @kwargs.setter
    def kwargs(self, value):
        self._set_inputs(self._args, dict(value))

    @property
    def all_input_nodes(self) -> list:
        """The distinct nodes this node reads, in argument order."""
        return list(dict.fromkeys(_nodes_in(self._args) + _nodes_in(self._kwargs)))

    def replace_all_uses_with(self, replacement: "Node") -> list:
        """Make every user of this node use ``replacement`` instead; returns those users."""
        users = list(self.users)
        for user in users:
            swap = (lambda n: replacement if n is self else n)
            user._set_inputs(map_arg(user._args, swap), map_arg(user._kwargs, swap))
        return users

    def is_impure(self) -> bool:
        """Whether removing this node could change the program (inputs, outputs, writes, draws)."""
        if self.op in ("placeholder", "output"):
            return True
        if self.meta.get("symbolic"):   # recorded by ember.fx.Tracer: pure unless declared otherwise
            if self.op == "call_function":
                try:
                    return self.target in _SIDE_EFFECTFUL
                except TypeError:
                    return True
            if self.op == "call_method":
                return self.target.endswith("_") and not self.target.endswith("__")
            if self.op == "call_module":
                return False
            return False
        if self.op == "call_function":
            if isinstance(self.target, OpDef):
                return self.target.inplace
            try:
                return self.target not in _PURE_FUNCTIONS
            except TypeError:   # an unhashable callable
                return True
        return self.op in ("call_method", "call_module")

    def format_node(self) -> str:
        """The node as one line of the graph's printout."""
        users = f"[num_users={len(self.users)}]"
        if self.op == "placeholder":
            return f"%{self.name} : {users} = placeholder[target={self.target}]"
        if self.op == "get_attr":
            return f"%{self.name} : {users} = get_attr[target={self.target}]"
        if self.op == "output":
            return f"return {_format_arg(self.args[0])}"
        return (f"%{self.name} : {users} = {self.op}[target={target_name(self.target)}]"
                f"(args = {_format_arg(self.args)}, kwargs = {_format_arg(self.kwargs)})")

    def __repr__(self):
        return self.name


def _format_arg(a) -> str:
    if isinstance(a, Node):
        return f"%{a.name}"
    if type(a) is tuple:
        inner = ", ".join(_format_arg(x) for x in a)
        return f"({inner},)" if len(a) == 1 else f"({inner})"
    if type(a) is list:
        return "[" + ", ".join(_format_arg(x) for x in a) + "]"
    if isinstance(a, dict):
        return "{" + ", ".join(f"{k}: {_format_arg(v)}" for k, v in a.items()) + "}"
    if isinstance(a, float) and not math.isfinite(a):
        return repr(a)
    return repr(a)


class Graph:
    """An ordered list of nodes: the program a ``GraphModule`` runs."""

    def __init__(self):
        self._nodes: list = []
        self._names: dict = {}
        self._insert_index = None   # None: append
        self.grad_enabled = None    # grad mode the traced program started in (None: not traced)

    # ------------------------------------------------------------------ building
    @property
    def nodes(self) -> list:
        """The nodes in program order (a copy: the graph may be edited while iterating)."""
        return list(self._nodes)

    def _unique_name(self, base: str) -> str:
        base = "".join(c if c.isalnum() or c == "_" else "_" for c in base) or "node"
        if base[0].isdigit():
            base = "_" + base
        count = self._names.get(base)
        if count is None:
            self._names[base] = 0
            return base
        while True:
            count += 1
            name = f"{base}_{count}"
            if name not in self._names:
                self._names[base] = count
                self._names[name] = 0
                return name

    def create_node(self, op, target, args=(), kwargs=None, name=None) -> Node:
        """Add a node of kind ``op`` at the insertion point (the end unless inside ``inserting_*``)."""
        node = Node(self, self._unique_name(name or _base_name(target)), op, target, args, kwargs or {})
        stack = self.__dict__.get("module_stack")
        if stack:   # ember.export records which submodule call made each node (for unflatten)
            node.meta["nn_module_stack"] = tuple(stack)
        if self._insert_index is None:
            self._nodes.append(node)
        else:
            self._nodes.insert(self._insert_index, node)
            self._insert_index += 1
        return node

    def placeholder(self, name: str) -> Node:
        """An input of the graph."""
        node = self.create_node("placeholder", name, name=name)
        node.target = node.name
        return node

    def get_attr(self, qualified_name: str) -> Node:
        """A parameter, buffer, constant or submodule of the owning module, by dotted name."""
        return self.create_node("get_attr", qualified_name, name=qualified_name)

    def call_function(self, the_function, args=(), kwargs=None) -> Node:
        """A call of an op-table op or a Python function."""
        return self.create_node("call_function", the_function, args, kwargs)

    def call_method(self, method_name: str, args=(), kwargs=None) -> Node:
        """``args[0].method_name(*args[1:], **kwargs)``."""
        return self.create_node("call_method", method_name, args, kwargs)

    def call_module(self, module_name: str, args=(), kwargs=None) -> Node:
        """A call of the owning module's submodule ``module_name``."""
        return self.create_node("call_module", module_name, args, kwargs)

    def output(self, result) -> Node:
        """The graph's result: a node, or a nest of nodes and constants."""
        return self.create_node("output", "output", (result,))

    @contextlib.contextmanager
    def inserting_before(self, node: Node):
        """Create the nodes made inside the block just before ``node``."""
        saved = self._insert_index
        self._insert_index = self._nodes.index(node)
        try:
            yield
        finally:
            self._insert_index = saved

    @contextlib.contextmanager
    def inserting_after(self, node: Node):
        """Create the nodes made inside the block just after ``node``."""
        saved = self._insert_index
        self._insert_index = self._nodes.index(node) + 1
        try:
            yield
        finally:
            self._insert_index = saved

    def node_copy(self, node: Node, arg_transform) -> Node:
        """A copy of ``node`` (from any graph) in this one, its input nodes mapped by ``arg_transform``."""
        args = map_arg(node.args, arg_transform)
        kwargs = map_arg(node.kwargs, arg_transform)
        if node.op == "placeholder":
            copy = self.placeholder(node.name)
        else:
            copy = self.create_node(node.op, node.target, args, kwargs, name=node.name)
        copy.meta = dict(node.meta)
        return copy

    # ------------------------------------------------------------------ editing
    def erase_node(self, node: Node) -> None:
        """Remove ``node``, which must have no users."""
        if node.users:
            raise RuntimeError(f"Tried to erase Node {node.name} but it still had {len(node.users)} users "
                               f"in the graph: {list(node.users)}!")
        node._set_inputs((), {})
        self._nodes.remove(node)

    def eliminate_dead_code(self) -> bool:
        """Remove the nodes nothing uses and that have no effect; returns whether any was removed."""
        changed = False
        for node in reversed(self._nodes[:]):
            if not node.users and not node.is_impure():
                self.erase_node(node)
                changed = True
        return changed

    def lint(self) -> None:
        """Check that every node reads only earlier nodes of this graph and users are consistent."""
        seen = set()
        for node in self._nodes:
            if node.graph is not self:
                raise RuntimeError(f"Node {node.name} does not belong to this graph")
            for inp in node.all_input_nodes:
                if inp not in seen:
                    raise RuntimeError(f"Argument '{inp.name}' of Node '{node.name}' was used before it "
                                       f"was defined")
                if node not in inp.users:
                    raise RuntimeError(f"Node {node.name} reads {inp.name} but is not among its users")
            seen.add(node)
        outputs = [n for n in self._nodes if n.op == "output"]
        if len(outputs) > 1 or (outputs and outputs[0] is not self._nodes[-1]):
            raise RuntimeError("a graph has at most one output node, and it comes last")

    def find_nodes(self, *, op: str, target=None) -> list:
        """The nodes of kind ``op`` (and ``target``, if given)."""
        return [n for n in self._nodes if n.op == op and (target is None or n.target == target)]

    # ------------------------------------------------------------------ printing
    def __str__(self):
        params = ", ".join(n.name for n in self._nodes if n.op == "placeholder")
        lines = [f"graph({params}):"] + ["    " + n.format_node() for n in self._nodes]
        return "\n".join(lines)

    def print_tabular(self) -> None:
        """Print one row per node: opcode, name, target, args, kwargs."""
        print(self.tabular())

    def tabular(self) -> str:
        """The table ``print_tabular`` prints."""
        rows = [("opcode", "name", "target", "args", "kwargs")]
        for n in self._nodes:
            target = n.target if n.op in ("placeholder", "get_attr", "output", "call_method", "call_module") \
                else target_name(n.target)
            rows.append((n.op, n.name, str(target), _format_arg(n.args), _format_arg(n.kwargs)))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)
