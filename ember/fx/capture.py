"""Graph capture: run a program with the Trace mode key pushed and record what it dispatches.

The program runs for real, on real tensors of whatever device they live on (ember traces by
running: every op that dispatches is captured on every backend, with the concrete shapes of
this call). Each dispatched op becomes a ``call_function`` node whose target is the op-table
op; the ``@recorded`` core functions (creation, random draws, in-place writes, transfers)
become nodes whose target is the function; a tensor the program did not make is a graph
input (``placeholder``), a parameter or buffer of the root module (``get_attr``), or a
captured constant (``get_attr`` of ``_tensor_constant<n>``, holding the live tensor).

When the program reads a traced tensor's values into Python (``if x.sum() > 0``, ``.item()``)
the graph cannot follow; what happens then is the caller's choice (``on_host_read``):

* ``"guard"`` (``ember.compile``): the value read becomes a guard node, checked on every
  replay; a replay that reads a different value stops with ``GuardFailure``;
* ``"raise"`` (``fullgraph=True``, ``ember.export``, ``ember.jit.script``): the trace stops
  with the caller's exception, naming the line of user code that read the value;
* ``"constant"`` (``ember.jit.trace``): a ``TracerWarning``; the value is baked into the graph.

Ops whose output *shape* depends on the values (``nonzero``, ``unique``) get a shape guard.
"""
from __future__ import annotations

import operator
import os
import traceback
import warnings

import numpy as np

from ember.core.autograd import GRAD_MODE
from ember.core.tensor import Tensor
from ember.ops.creation import _memory_alias
from ember.dispatch.keys import ACTIVE, TRACE, pop_mode, push_mode
from ember.dispatch.ops import OpDef
from ember.dispatch.public_op import PublicOp
from ember.dispatch.tracing import TRACE_STATE
from ember.core.transfer import create, from_host, to_device
from ember.fx.graph import Graph, mark_pure
from ember.utils._pytree import tree_flatten, tree_unflatten

_EMBER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_DATA_DEPENDENT_SHAPES = ("nonzero", "unique")
for _fn in (create, from_host, to_device, _memory_alias):
    mark_pure(_fn)


class GuardFailure(Exception):
    """A replayed graph met a value or shape other than the one it was captured with."""


class TracerWarning(UserWarning):
    """A trace baked a value read into Python into the graph as a constant (``ember.jit.trace``)."""


def expect_value(tensor, expected):
    """Guard node: ``tensor``'s values must equal ``expected`` (what the trace read)."""
    actual = tensor._data.item() if tensor.device.type == "cpu" and tensor.numel() == 1 else \
        np.asarray(tensor.detach().cpu()._data)
    if isinstance(expected, np.ndarray):
        if not (isinstance(actual, np.ndarray) and actual.shape == expected.shape and
                np.array_equal(actual, expected, equal_nan=True)):
            raise GuardFailure("a value read into Python changed")
    else:
        if isinstance(actual, np.ndarray):
            actual = actual.reshape(()).item() if actual.size == 1 else None
        if not (actual == expected or (actual != actual and expected != expected)):
            raise GuardFailure(f"a value read into Python changed: {expected!r} -> {actual!r}")
    return tensor


def expect_shape(tensor, shape):
    """Guard node: a data-dependent output must have the shape the trace saw."""
    if tuple(tensor._data.shape) != shape:
        raise GuardFailure(f"a data-dependent shape changed: {shape} -> {tuple(tensor._data.shape)}")
    return tensor


def expect_check(check, expected, *args):
    """Guard node of a ``guarded`` check: run it again (it may raise, as in eager code); its
    result must be the one the trace saw."""
    value = check(*args)
    if value != expected:
        raise GuardFailure(f"{getattr(check, '__name__', 'a check')} gave {value!r}, the graph assumed {expected!r}")
    return value


def user_frame() -> str:
    """``file:line in function`` of the innermost frame outside ember (the user's code)."""
    for frame in reversed(traceback.extract_stack()[:-1]):
        if not os.path.abspath(frame.filename).startswith(_EMBER_DIR + os.sep):
            return f"{frame.filename}:{frame.lineno} in {frame.name}\n    {frame.line or ''}".rstrip()
    return "<unknown>"


class Capture:
    """A finished capture: the graph, the input/output tree specs and what the trace read."""

    def __init__(self, graph, attributes, in_spec, out_spec, n_inputs, host_reads, grad_enabled):
        self.graph = graph
        self.attributes = attributes    # get_attr target -> object (parameters, buffers, constants)
        self.in_spec = in_spec          # tree spec of (args, kwargs), tensors as leaves
        self.out_spec = out_spec
        self.n_inputs = n_inputs        # number of tensor leaves (placeholders)
        self.host_reads = host_reads    # (user line, value) per value read into Python
        self.grad_enabled = grad_enabled


class Tracer:
    """Records dispatched ops into a ``Graph`` while a program runs (see the module docstring).

    Args:
        root: the module whose parameters and buffers become ``get_attr`` nodes (or None).
        on_host_read: ``"guard"``, ``"raise"`` or ``"constant"``.
        error: the exception class raised for ``"raise"``.
    """

    def __init__(self, root=None, on_host_read="guard", error=RuntimeError):
        self.graph = Graph()
        self.on_host_read = on_host_read
        self.error = error
        self.env = {}           # id(tensor) -> node that produced it
        self._native = {}       # id(native array) -> first node whose tensor holds it
        self._alive = []        # tensors made during the trace (their ids must stay unique)
        self.attributes = {}    # get_attr target -> object
        self._attr_of = {}      # id(parameter or buffer) -> dotted name
        self.host_reads = []
        if root is not None:
            for name, p in root.named_parameters(remove_duplicate=False):
                self._attr_of.setdefault(id(p), name)
            for name, b in root.named_buffers(remove_duplicate=False):
                self._attr_of.setdefault(id(b), name)

    # ------------------------------------------------------------ the program's values
    def placeholder(self, name, tensor) -> None:
        node = self.graph.placeholder(name)
        self._bind_tensor(node, tensor)

    def node_of(self, t: Tensor):
        node = self.env.get(id(t))
        if node is not None:
            return node
        name = self._attr_of.get(id(t))
        source = self._native.get(id(t._data)) if name is None else None
        if source is not None:   # a new tensor object over a traced tensor's array: an alias of it
            node = self.graph.call_function(_memory_alias, (source,))
            node.meta["grad_enabled"] = GRAD_MODE.enabled
            self._bind_tensor(node, t)
            return node
        if name is None:   # a tensor from outside the program: captured as it is (the live object)
            name = f"_tensor_constant{sum(1 for k in self.attributes if k.startswith('_tensor_constant'))}"
        if name not in self.attributes:
            self.attributes[name] = t
        first = self._first_non_input()
        if first is None:
            node = self.graph.get_attr(name)
        else:   # inputs and attributes first, as in PyTorch's graphs
            with self.graph.inserting_before(first):
                node = self.graph.get_attr(name)
        self._bind_tensor(node, t)
        return node

    def _first_non_input(self):
        for n in self.graph.nodes:
            if n.op not in ("placeholder", "get_attr"):
                return n
        return None

    def arg(self, a):
        if isinstance(a, Tensor):
            return self.node_of(a)
        if type(a) in (tuple, list):
            return type(a)(self.arg(x) for x in a)
        if isinstance(a, dict):
            return {k: self.arg(v) for k, v in a.items()}
        return a

    def _bind_tensor(self, node, t):
        self.env[id(t)] = node
        self._native.setdefault(id(t._data), node)
        self._alive.append(t)
        node.meta["val"] = (tuple(t._data.shape), t.dtype, t.device)
        node.meta["requires_grad"] = t._rg

    def _bind(self, node, result):
        node.meta["grad_enabled"] = GRAD_MODE.enabled
        if isinstance(result, Tensor):
            self._bind_tensor(node, result)
        elif type(result) in (tuple, list):
            for i, r in enumerate(result):
                if isinstance(r, Tensor):
                    item = self.graph.call_function(operator.getitem, (node, i))
                    item.meta["grad_enabled"] = GRAD_MODE.enabled
                    self._bind_tensor(item, r)

    # ------------------------------------------------------------ hooks the dispatcher calls
    def handle(self, op, inputs, attrs, below):
        """The Trace mode key's handler: run the call below, then record it."""
        if isinstance(op, PublicOp):   # a whole public op: trace the ops inside it
            return below(op, inputs, attrs)
        result = below(op, inputs, attrs)
        node = self.graph.call_function(op, self.arg(tuple(inputs)), self.arg(dict(attrs)))
        self._bind(node, result)
        if isinstance(op, OpDef) and op.name in _DATA_DEPENDENT_SHAPES:
            outs = result if type(result) is tuple else (result,)
            for out in outs:
                if isinstance(out, Tensor):
                    guard = self.graph.call_function(expect_shape, (self.node_of(out), tuple(out._data.shape)))
                    guard.meta["grad_enabled"] = GRAD_MODE.enabled
        return result

    def record_function(self, fn, args, kwargs):
        """A ``@recorded`` core function: run it with the trace suspended, record one node."""
        modes, keys = ACTIVE.modes, ACTIVE.keys
        ACTIVE.modes, ACTIVE.keys = (), ()
        try:
            result = fn(*args, **kwargs)
        finally:
            ACTIVE.modes, ACTIVE.keys = modes, keys
        node = self.graph.call_function(fn, self.arg(tuple(args)), self.arg(dict(kwargs)))
        self._bind(node, result)
        return result

    def record_check(self, check, args):
        """A ``guarded`` check: run it with the trace suspended; a compiling trace keeps a guard node."""
        modes, keys = ACTIVE.modes, ACTIVE.keys
        ACTIVE.modes, ACTIVE.keys = (), ()
        try:
            value = check(*args)
        finally:
            ACTIVE.modes, ACTIVE.keys = modes, keys
        if self.on_host_read == "guard":
            node = self.graph.call_function(expect_check, (check, value) + self.arg(tuple(args)))
            node.meta["grad_enabled"] = GRAD_MODE.enabled
        return value

    def host_read(self, tensor, value):
        """The program read ``tensor``'s values into Python."""
        line = user_frame()
        if self.on_host_read == "raise":
            raise self.error(
                f"data-dependent control flow or a value read into Python (Tensor.item(), bool(tensor), "
                f".tolist()) cannot be captured in a graph; it happened at\n  {line}")
        if self.on_host_read == "constant":
            warnings.warn(f"Converting a tensor to a Python value; the trace records it as a constant, so "
                          f"the result will not change with the input ({line})", TracerWarning, stacklevel=3)
            return
        if id(tensor) not in self.env and id(tensor) not in self._attr_of:
            return   # not the program's value (a constant it reads): nothing to guard
        expected = np.array(value, copy=True) if isinstance(value, np.ndarray) else value
        node = self.graph.call_function(expect_value, (self.node_of(tensor), expected))
        node.meta["grad_enabled"] = GRAD_MODE.enabled
        self.host_reads.append((line, value if not isinstance(value, np.ndarray) else "<array>"))

    # ------------------------------------------------------------ running a program under the trace
    def trace(self, fn, args, kwargs, input_names=None, then=None) -> Capture:
        """Run ``fn(*args, **kwargs)`` under this tracer; returns the ``Capture``.

        ``then(result)``, if given, runs under the trace after ``fn`` (the joint capture of a
        training step runs autograd there); the tensors it returns (a list, None allowed) are
        graph outputs after the program's own, and ``capture.n_outputs`` counts the latter."""
        leaves, in_spec = tree_flatten((tuple(args), dict(kwargs)))
        names = input_names or [f"arg{i}" for i in range(len(leaves))]
        n = 0
        for leaf in leaves:
            if isinstance(leaf, Tensor):
                self.placeholder(names[n] if n < len(names) else f"arg{n}", leaf)
                n += 1
        grad_enabled = GRAD_MODE.enabled
        self.graph.grad_enabled = grad_enabled   # the program's starting grad mode (see python_code)
        if TRACE in ACTIVE.keys:
            raise RuntimeError("a trace is already running in this thread (nested capture is not possible)")
        from ember.amp.autocast_mode import STATE as AUTOCAST_STATE
        cache_enabled = AUTOCAST_STATE.cache_enabled
        AUTOCAST_STATE.cache_enabled = False   # a cast cached before the trace would be a stale constant
        TRACE_STATE.tracer = self
        push_mode(TRACE, self.handle)
        try:
            result = fn(*args, **kwargs)
            out_leaves, out_spec = tree_flatten(result)
            self.forward_nodes = set(self.graph.nodes)   # what `then` adds comes after
            extra = list(then(result)) if then is not None else []
        finally:
            pop_mode(TRACE)
            TRACE_STATE.tracer = None
            GRAD_MODE.enabled = grad_enabled
            AUTOCAST_STATE.cache_enabled = cache_enabled
        self.graph.output(tuple(self.arg(x) for x in out_leaves + extra))
        capture = Capture(self.graph, self.attributes, in_spec, out_spec, n, self.host_reads, grad_enabled)
        capture.result = result
        capture.n_outputs = len(out_leaves)
        self._alive = []
        self.env, self._native = {}, {}
        return capture


def input_names_of(fn, args, kwargs) -> list:
    """Placeholder names from ``fn``'s signature: ``x``, ``mask``, ``inputs_0`` for nested ones."""
    import inspect
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return None
    names = []
    for pname, value in bound.arguments.items():
        leaves, _ = tree_flatten(value)
        tensors = [leaf for leaf in leaves if isinstance(leaf, Tensor)]
        names.extend([pname] if len(tensors) == 1 and isinstance(value, Tensor) else
                     [f"{pname}_{i}" for i in range(len(tensors))])
    flat, _ = tree_flatten((tuple(args), dict(kwargs)))
    return names if len(names) == sum(isinstance(x, Tensor) for x in flat) else None


def flat_tensor_inputs(args, kwargs) -> tuple:
    """(tensor leaves, all leaves, spec) of ``(args, kwargs)``."""
    leaves, spec = tree_flatten((tuple(args), dict(kwargs)))
    return [x for x in leaves if isinstance(x, Tensor)], leaves, spec


def unflatten_output(capture: Capture, values):
    """The program's result rebuilt from the graph's flat outputs."""
    return tree_unflatten(list(values), capture.out_spec)
