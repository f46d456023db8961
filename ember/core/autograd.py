"""Reverse-mode autograd: grad modes, graph nodes, saved tensors and the engine.

Each differentiable call records a ``Node`` holding what its derivative rule needs.
``backward`` walks the graph from the roots in dependency order, summing the
gradients that reach each node, and accumulates into leaves' ``.grad``.
"""
from __future__ import annotations

import sys
import weakref

from ember.core.anomaly import ANOMALY, apply_checked
from ember.core.tensor import (GRAD_MODE, InferenceVersionCounter, Tensor, _GradMode, make_tensor,  # noqa: F401
                               set_inference, version_counter)
from ember.core.layout import SparseData
from ember.core.sparse_grad import accumulate_sparse, add_grads


# ---------------------------------------------------------------- grad modes
# GRAD_MODE (per-thread grad mode and inference flag) lives in core/tensor.py: make_tensor reads it


def is_grad_enabled() -> bool:
    """Whether autograd currently records operations (``False`` inside ``no_grad()``).

    Returns:
        The current grad mode.
    """
    return GRAD_MODE.enabled


class _ModeContext:
    """Context manager and decorator setting grad mode (PyTorch's no_grad family).

    Subclasses set ``_enabled`` (the grad mode inside) and ``_inference`` (the inference
    flag inside); both are restored on exit. Used as ``@no_grad`` or ``@no_grad()``.
    """

    def __new__(cls, *args, **kwargs):
        # a bare decorator, ``@ember.no_grad``: the class is called with the function itself
        if cls._takes_no_mode and len(args) == 1 and not kwargs and callable(args[0]):
            return cls()(args[0])
        return super().__new__(cls)

    _takes_no_mode = True

    def __init__(self, enabled: bool, inference: bool = False):
        self._enabled = enabled
        self._inference = inference
        self._prev = []

    def __enter__(self):
        self._prev.append((GRAD_MODE.enabled, GRAD_MODE.inference))
        GRAD_MODE.enabled = self._enabled
        set_inference(self._inference)
        return None

    def __exit__(self, *exc):
        GRAD_MODE.enabled, inference = self._prev.pop()
        set_inference(inference)
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)
        return wrapper

    def _ctor_args(self):
        return ()

    def clone(self):
        """A new, not yet entered context manager of the same kind and mode."""
        return type(self)(*self._ctor_args())


class no_grad(_ModeContext):
    """Context manager and decorator that turns off gradient recording.

    Inside it, operations do not record autograd history, so their results have
    ``requires_grad=False`` even when their inputs require grad; this saves memory and
    time in evaluation. The previous mode is restored on exit. Use it as ``with
    ember.no_grad():`` or decorate a function with ``@ember.no_grad()`` (or ``@ember.no_grad``).
    """

    def __init__(self):
        super().__init__(False, GRAD_MODE.inference)

    def __enter__(self):
        self._inference = GRAD_MODE.inference  # no_grad leaves inference mode as it finds it
        return super().__enter__()


class enable_grad(_ModeContext):
    """Context manager and decorator that turns gradient recording on, e.g. inside ``no_grad()``.

    The previous mode is restored on exit. Use it as ``with ember.enable_grad():`` or
    decorate a function with ``@ember.enable_grad()`` (or ``@ember.enable_grad``).
    """

    def __init__(self):
        super().__init__(True)

    def __enter__(self):
        self._inference = GRAD_MODE.inference
        return super().__enter__()


class set_grad_enabled(_ModeContext):
    """Turn gradient recording on or off; as a context manager, until the block ends.

    Calling ``ember.set_grad_enabled(mode)`` switches the mode at once, so it also works as a
    plain function; used as ``with ember.set_grad_enabled(mode):`` the previous mode comes
    back on exit; used as a decorator (``@ember.set_grad_enabled(False)``) the mode applies
    while the function runs, and decorating leaves the mode as it was, as in PyTorch.

    Args:
        mode: ``True`` to record operations for autograd, ``False`` not to.
    """
    _takes_no_mode = False

    def __init__(self, mode: bool):
        super().__init__(bool(mode), GRAD_MODE.inference)
        # like PyTorch, calling it as a function switches the mode immediately
        self._before = GRAD_MODE.enabled
        GRAD_MODE.enabled = bool(mode)

    def __enter__(self):
        self._prev.append((self._before, GRAD_MODE.inference))  # the mode before the constructor switched it
        GRAD_MODE.enabled = self._enabled
        return None

    def __call__(self, fn):
        GRAD_MODE.enabled = self._before  # decorating is not switching
        return super().__call__(fn)

    def clone(self):
        before = GRAD_MODE.enabled
        made = type(self)(self._enabled)
        made._before = before
        GRAD_MODE.enabled = before  # made at call time of the decorated function: entered next
        return made

    def _ctor_args(self):
        return (self._enabled,)


class inference_mode(_ModeContext):
    """Context manager and decorator for inference: gradient recording is turned off inside it.

    Inside it operations record no history, as in ``no_grad()``, and tensors they allocate
    are inference tensors (``Tensor.is_inference()``): outside the mode they cannot be
    updated in place nor saved for backward. Views of normal tensors stay normal.
    ``ember.is_inference_mode_enabled()`` is True inside. The previous mode is restored on exit. Use it as ``with ember.inference_mode():``, ``@ember.inference_mode()``
    or ``@ember.inference_mode``.

    Args:
        mode: ``True`` (the default) to turn inference mode on; ``False`` turns it off and
            gradient recording on, as PyTorch's does.
    """

    def __init__(self, mode: bool = True):
        super().__init__(not mode, bool(mode))
        self._mode = mode

    def _ctor_args(self):
        return (self._mode,)


def is_inference_mode_enabled() -> bool:
    """Whether inference mode is on (inside ``ember.inference_mode()``; not inside ``no_grad()``).

    Returns:
        A bool.
    """
    return GRAD_MODE.inference


# ---------------------------------------------------------------- saved tensors
INFERENCE_SAVE_ERROR = ("Inference tensors cannot be saved for backward. Please do not use Tensors created in "
                        "inference mode in computation tracked by autograd. To work around this, you can make a "
                        "clone to get a normal tensor and use it in autograd, or use `ember.no_grad()` instead of "
                        "`ember.inference_mode()`.")


class SavedTensor:
    """A tensor a derivative needs, with the version it had when saved."""
    __slots__ = ("tensor", "version", "is_output", "data", "counter", "dtype", "device", "fw_tangent")

    def __init__(self, t: Tensor, is_output: bool):
        counter = version_counter(t)
        if type(counter) is InferenceVersionCounter and not GRAD_MODE.inference:
            raise RuntimeError(INFERENCE_SAVE_ERROR)
        self.version = counter.value
        self.is_output = is_output
        if is_output:
            # keep only the data: the output's grad_fn is the node holding us (no cycle)
            self.tensor = None
            self.data, self.counter, self.dtype, self.device = t._data, counter, t.dtype, t.device
        else:
            self.tensor = t

    def unpack(self, node: "Node") -> Tensor:
        if self.is_output:
            counter = self.counter
            t = make_tensor(self.data, self.dtype, self.device, True)
            t.grad_fn = node
            t._version = counter
            tangent = getattr(self, "fw_tangent", None)  # set by ember.core.dual (forward-over-reverse)
            if tangent is not None:
                from ember.core.dual import set_tangent
                set_tangent(t, tangent)
        else:
            t = self.tensor
            counter = t._version
        if counter.value != self.version:
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{t.dtype} {list(t._data.shape)}], which is "
                f"{'output' if self.is_output else 'an input'} of {node.name()}, is at version "
                f"{counter.value}; expected version {self.version} instead.")
        return t


# ---------------------------------------------------------------- derivative rules
class Rule:
    """The backward of an op: ``fn(node, grad) -> one gradient per input (None where there is none)``.

    ``saves_inputs`` (positions) and ``saves_output`` say what the dispatcher saves on the
    node at forward time for ``fn`` to read; ``node_name`` is the node's name
    (PyTorch's, e.g. ``MulBackward0``). The op layer writes the rules
    (``ember/ops/derivatives.py``) and attaches them to the op table.
    """
    __slots__ = ("fn", "node_name", "saves_inputs", "saves_output")

    def __init__(self, fn, node_name, saves_inputs, saves_output):
        self.fn = fn
        self.node_name = node_name
        self.saves_inputs = saves_inputs
        self.saves_output = saves_output

    def __call__(self, node, grad):
        return self.fn(node, grad)


# ---------------------------------------------------------------- graph nodes
class Node:
    """One recorded call. ``next_edges[i]`` is (node, output_nr) for input i, or None."""
    __slots__ = ("rule", "attrs", "next_edges", "saved", "input_meta", "n_outputs", "extra_outputs",
                 "released", "had_saved", "tensor_hooks", "retained", "view_version", "_name", "__weakref__")

    def __init__(self, name, rule, attrs, next_edges, input_meta, n_outputs=1):
        self._name = name
        self.rule = rule
        self.attrs = attrs
        self.next_edges = next_edges
        self.input_meta = input_meta    # (shape, dtype, device) per input, None for non-tensors
        self.saved = None               # tuple of SavedTensor|None per input, + output
        self.n_outputs = n_outputs
        self.extra_outputs = None       # non-differentiable outputs (sort's indices), kept for rules
        self.released = False
        self.had_saved = False
        self.tensor_hooks = None        # {output_nr: [hook]}
        self.retained = None            # {output_nr: weakref to tensor}
        self.view_version = None        # for a view op's node: the base's version when it was made

    def name(self) -> str:
        return self._name

    def __repr__(self):
        return f"<{self._name} object at {hex(id(self))}>"

    @property
    def next_functions(self):
        return tuple((e[0], e[1]) if e is not None else (None, 0) for e in self.next_edges)

    # ---- used by derivative rules
    def saved_input(self, i: int):
        """Input i as saved at forward time (a Tensor, or the Python scalar it was)."""
        s = self.saved[i]
        return s.unpack(self) if isinstance(s, SavedTensor) else s

    def needs_grad(self, i: int) -> bool:
        return self.next_edges[i] is not None

    def saved_output(self) -> Tensor:
        return self.saved[-1].unpack(self)

    def input_shape(self, i: int):
        return self.input_meta[i][0]

    def input_dtype(self, i: int):
        return self.input_meta[i][1]

    def check_not_released(self):
        if self.released and self.had_saved:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or to read saved tensors after "
                f"they were freed): {self._name} already ran backward and released what it saved. "
                "Pass retain_graph=True to the first backward() or autograd.grad() call to keep them.")

    def apply(self, grads):
        self.check_not_released()
        return self.rule(self, grads[0] if self.n_outputs == 1 else grads)

    def release(self):
        self.released = True
        self.saved = None
        self.extra_outputs = None

    def register_hook(self, fn):
        raise NotImplementedError("Node hooks are not supported; register hooks on tensors instead")


class AccumulateGrad:
    """The end of the graph for a leaf: adds incoming gradient into ``variable.grad``."""
    __slots__ = ("variable",)
    n_outputs = 1
    next_edges = ()

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"

    @property
    def next_functions(self):
        return ()

    def __eq__(self, other):
        return isinstance(other, AccumulateGrad) and other.variable is self.variable

    def __hash__(self):
        return id(self.variable)


def edge_of(t: Tensor):
    """The graph edge a gradient for ``t`` flows into, or None when t needs no grad."""
    if not t._rg:
        return None
    node = t.grad_fn
    if node is not None:
        if t._base is not None and node.view_version is not None and node.view_version != t._version.value:
            node = _refresh_view_history(t)
        return (node, t._output_nr)
    return (AccumulateGrad(t), 0)


# ---- constructors for the per-op hot path (``ember.core.call._record``): the same objects as
# Node(...), AccumulateGrad(...) and SavedTensor(...) give, without the type call's dispatch to a
# Python __init__ (tests/test_dispatch_fast_path.py holds them equal)
_new = object.__new__


def new_node(name, rule, attrs, next_edges, input_meta):
    """``Node(name, rule, attrs, next_edges, input_meta)``, made faster."""
    node = _new(Node)
    node._name = name
    node.rule = rule
    node.attrs = attrs
    node.next_edges = next_edges
    node.input_meta = input_meta
    node.saved = None
    node.n_outputs = 1
    node.extra_outputs = None
    node.released = False
    node.had_saved = False
    node.tensor_hooks = None
    node.retained = None
    node.view_version = None
    return node


def new_edge(t: Tensor):
    """``edge_of(t)`` for a tensor that requires grad."""
    node = t.grad_fn
    if node is None:
        acc = _new(AccumulateGrad)
        acc.variable = t
        return (acc, 0)
    if t._base is None:
        return (node, t._output_nr)
    return edge_of(t)  # a view: its history may be stale


def save_input(t: Tensor) -> SavedTensor:
    """``SavedTensor(t, False)``, made faster."""
    if SAVED_HOOKS.stack:
        return PackedSavedTensor(t, False)
    counter = t._version
    if counter is None:
        counter = version_counter(t)
    elif type(counter) is InferenceVersionCounter and not GRAD_MODE.inference:
        raise RuntimeError(INFERENCE_SAVE_ERROR)
    saved = _new(SavedTensor)
    saved.version = counter.value
    saved.is_output = False
    saved.tensor = t
    return saved


def save_output(t: Tensor) -> SavedTensor:
    """``SavedTensor(t, True)``, packed by the active saved-tensor hooks if there are any."""
    if SAVED_HOOKS.stack:
        return PackedSavedTensor(t, True)
    return SavedTensor(t, True)


class _SavedHooks:
    """The saved-tensor hooks in force (``ember.autograd.graph.saved_tensors_hooks``), innermost last."""
    __slots__ = ("stack", "disabled")

    def __init__(self):
        self.stack = []        # (pack_hook, unpack_hook)
        self.disabled = None   # the error message while hooks are disabled


SAVED_HOOKS = _SavedHooks()


class PackedSavedTensor(SavedTensor):
    """A saved tensor kept as whatever the innermost pack hook made of it; unpacked by its unpack hook."""
    __slots__ = ("packed", "unpack_hook")

    def __init__(self, t: Tensor, is_output: bool):
        stack = SAVED_HOOKS.stack
        pack_hook, self.unpack_hook = stack[-1]
        self.is_output = is_output
        self.tensor = None
        self.version = None
        SAVED_HOOKS.stack = []  # what the hook itself saves is not packed again
        try:
            self.packed = pack_hook(t)
        finally:
            SAVED_HOOKS.stack = stack

    def unpack(self, node) -> Tensor:
        t = self.unpack_hook(self.packed)
        if not isinstance(t, Tensor):
            raise TypeError(f"Output of saved tensor unpack_hook expected to be a Tensor but got result of type "
                            f"{type(t).__name__}")
        return t


def _refresh_view_history(view: Tensor):
    """A view whose base was modified in place since its grad_fn was recorded: derive a new
    grad_fn from the base's current history (as PyTorch does), so gradients see the write."""
    from ember.core.call import replay_view
    prev = GRAD_MODE.enabled
    GRAD_MODE.enabled = True
    try:
        fresh = replay_view(view._view_fn, view._base)
    finally:
        GRAD_MODE.enabled = prev
    if fresh.grad_fn is None:
        return view.grad_fn
    view.grad_fn = fresh.grad_fn
    view._output_nr = fresh._output_nr
    return view.grad_fn


class RemovableHandle:
    def __init__(self, container, item):
        self._container = weakref.ref(container) if container is not None else None
        self._item = item

    def remove(self):
        c = self._container() if self._container is not None else None
        if c is not None and self._item in c:
            c.remove(self._item)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class _HookList(list):
    __slots__ = ("__weakref__",)


def register_tensor_hook(t: Tensor, hook):
    if not t._rg:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if t.grad_fn is None:
        if t._hooks is None:
            t._hooks = _HookList()
        hooks = t._hooks
    else:
        node = t.grad_fn
        if node.tensor_hooks is None:
            node.tensor_hooks = {}
        hooks = node.tensor_hooks.setdefault(t._output_nr, _HookList())
    hooks.append(hook)
    return RemovableHandle(hooks, hook)


class _PostAccumulateHook:
    """A hook kept in a leaf's hook list that runs after its ``.grad`` was accumulated."""
    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn


def register_post_accumulate_hook(t: Tensor, fn):
    if not t._rg:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if t.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    if t._hooks is None:
        t._hooks = _HookList()
    hook = _PostAccumulateHook(fn)
    t._hooks.append(hook)
    return RemovableHandle(t._hooks, hook)


def retain_grad(t: Tensor):
    if not t._rg:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if t.grad_fn is None:
        return
    node = t.grad_fn
    if node.retained is None:
        node.retained = {}
    node.retained[t._output_nr] = weakref.ref(t)
    t._retains_grad = True


def move_retained_grad(t: Tensor, old_node, old_nr: int):
    """After an in-place op gave ``t`` a new grad_fn: retain the new value's gradient."""
    if old_node is not None and old_node.retained:
        old_node.retained.pop(old_nr, None)
    t._retains_grad = False
    retain_grad(t)


# ---------------------------------------------------------------- the engine
def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if type(getattr(a, "_data", None)) is SparseData or type(getattr(b, "_data", None)) is SparseData:
        return add_grads(a, b)  # a sparse gradient (embedding(sparse=True)) meeting another
    return a + b


def _accumulate(variable: Tensor, grad: Tensor, create_graph: bool, owned: bool = False):
    if variable._hooks:
        for hook in list(variable._hooks):
            if isinstance(hook, _PostAccumulateHook):
                continue
            r = hook(grad)
            if r is not None:
                grad = r
    if type(grad._data) is SparseData or (variable.grad is not None and type(variable.grad._data) is SparseData):
        accumulate_sparse(variable, grad, create_graph)
        return _post_accumulate(variable)
    if variable.grad is None:
        # a copy of its own, as PyTorch's AccumulateGrad makes: the incoming gradient may be
        # a broadcast view (sum's backward), shared with other leaves (add's backward gives
        # both inputs the same tensor) or the user's backward(gradient=...); a later
        # accumulation writes into .grad in place
        stolen = _stealable(grad, variable) if owned and not create_graph else None
        if stolen is not None:
            variable.grad = stolen  # nobody else holds it: no copy (PyTorch's AccumulateGrad steals too)
            return _post_accumulate(variable)
        from ember.core.call import call
        from ember.dispatch.ops import OPS
        copy = call(OPS["clone"], grad)
        variable.grad = copy if create_graph else _detached(copy)
    elif create_graph:
        variable.grad = variable.grad + grad
    elif _add_into(variable.grad, grad):
        pass
    else:
        with no_grad():
            total = variable.grad + grad
            if total._data.shape == variable.grad._data.shape:
                from ember.core.call import write_inplace
                write_inplace(variable.grad, total)  # keep the same .grad tensor, as PyTorch does
            else:
                variable.grad = total
    _post_accumulate(variable)


def _post_accumulate(variable: Tensor):
    if variable._hooks:
        for hook in list(variable._hooks):
            if isinstance(hook, _PostAccumulateHook):
                hook.fn(variable)


# references to an unshared gradient inside _stealable: run_backward's grads list, _accumulate's and
# _stealable's parameters, getrefcount's argument. CPython before 3.14 counts every one of them
# (3.14 may borrow stack references, so stealing stays off there rather than guess)
_UNSHARED_REFS = 4 if sys.implementation.name == "cpython" and sys.version_info < (3, 14) else -1


def _stealable(grad: Tensor, variable: Tensor):
    """``grad`` as a plain tensor when it can become ``variable.grad`` without a copy, else None.

    It can when it has no graph, nobody else holds it (neither the tensor nor its array: a user's
    ``gradient=``, a buffer shared with another leaf, an alias), its array owns its memory
    (numpy/cupy ``base is None``) or is a whole-array view of an unshared base (a gradient
    reshaped or transposed back, e.g. linear's weight gradient), and it has the variable's strides
    (PyTorch's layout contract for ``.grad``)."""
    if grad.grad_fn is not None or grad._rg or grad.dtype is not variable.dtype or grad.device != variable.device:
        return None
    data = grad._data
    if GRAD_LAYOUT.enforce and getattr(data, "strides", None) != getattr(variable._data, "strides", 0):
        return None
    if sys.getrefcount(grad) > _UNSHARED_REFS or sys.getrefcount(data) > 3:  # (3: the slot, `data`, the argument)
        return None
    base = grad._base
    if base is None:
        return grad if getattr(data, "base", False) is None else None
    owner = base._data
    # the base is held by this view alone (its slot, `base`, the argument); its array by the base
    # and by this view's array (numpy/cupy keep the owner as .base)
    if (base._base is not None or base.grad_fn is not None or getattr(owner, "base", False) is not None
            or getattr(data, "base", None) is not owner or getattr(data, "size", -1) != getattr(owner, "size", -2)
            or sys.getrefcount(base) > 3 or sys.getrefcount(owner) > 4):
        return None
    return make_tensor(data, grad.dtype, grad.device)


class _GradLayout:
    """Whether a stolen ``.grad`` must have its leaf's strides (``autograd.grad_mode.enforce_grad_layout_policy``)."""
    __slots__ = ("enforce",)

    def __init__(self):
        self.enforce = True


GRAD_LAYOUT = _GradLayout()


def _add_into(target: Tensor, grad: Tensor) -> bool:
    """``target += grad`` straight through the kernels, for the common case of matching
    plain tensors (the hot end of every training step); False when it does not apply."""
    if (grad.dtype is not target.dtype or grad.device != target.device or target._base is not None
            or grad._data.shape != target._data.shape):
        return False
    from ember.core.call import _rebind, resolve_kernel
    device_type = target.device.type
    total = resolve_kernel("add", device_type)(target._data, grad._data)
    new = resolve_kernel("copy_", device_type)(target._data, total)
    if new is not target._data:
        _rebind(target, new)
    version_counter(target).value += 1
    return True


def _detached(g: Tensor) -> Tensor:
    if g.grad_fn is None and not g._rg:
        return g
    return make_tensor(g._data, g.dtype, g.device)


def run_backward(roots, root_grads, retain_graph=False, create_graph=False,
                 inputs=None, allow_unused=False, accumulate=True):
    """Propagate ``root_grads`` from ``roots``. With ``inputs`` returns their gradients."""
    if retain_graph is None:
        retain_graph = create_graph
    # Nodes are keyed by id: a Node by its own, an AccumulateGrad by its leaf's (several
    # AccumulateGrad objects accumulate into one leaf), so no Python __hash__/__eq__ runs.
    # Where gradients are captured for autograd.grad(inputs=...) / backward(inputs=...):
    capture = None
    if inputs is not None:
        capture = {}
        for i, t in enumerate(inputs):
            if not isinstance(t, Tensor):  # a GradientEdge (node, output_nr): autograd.graph.get_gradient_edge
                node, nr = t[0], t[1]
                capture[(id(node.variable), 0) if type(node) is AccumulateGrad else (id(node), nr)] = i
                continue
            capture[(id(t), 0) if t.grad_fn is None else (id(t.grad_fn), t._output_nr)] = i
    captured = [None] * (len(inputs) if inputs is not None else 0)

    start = []
    for t, g in zip(roots, root_grads):
        edge = edge_of(t)
        if edge is None:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        start.append((edge, g))

    # dependency counts over the reachable graph
    deps = {}
    seen = set()
    stack = []
    for (node, _), _g in start:
        key = id(node) if type(node) is not AccumulateGrad else id(node.variable)
        if key not in seen:
            seen.add(key)
            stack.append(node)
    while stack:
        node = stack.pop()
        for edge in node.next_edges:
            if edge is None:
                continue
            child = edge[0]
            if type(child) is AccumulateGrad:
                key = id(child.variable)
                deps[key] = deps.get(key, 0) + 1
                seen.add(key)  # nothing below a leaf
            else:
                key = id(child)
                deps[key] = deps.get(key, 0) + 1
                if key not in seen:
                    seen.add(key)
                    stack.append(child)

    buffers = {}
    ready = []
    for (node, nr), g in start:
        key = id(node) if type(node) is not AccumulateGrad else id(node.variable)
        buf = buffers.get(key)
        if buf is None:
            buf = buffers[key] = [None] * node.n_outputs
            if key not in deps:
                ready.append(node)  # (each root node once, in order)
        buf[nr] = _add(buf[nr], g)

    prev_mode = GRAD_MODE.enabled
    GRAD_MODE.enabled = create_graph
    try:
        while ready:
            node = ready.pop()
            if type(node) is AccumulateGrad:
                key = id(node.variable)
                grads = buffers.pop(key, None)
                if grads is not None and grads[0] is not None:
                    if capture is not None:
                        i = capture.get((key, 0))
                        if i is not None:
                            captured[i] = _add(captured[i], grads[0])
                        # else backward(inputs=...): accumulate only into the inputs
                    elif accumulate:
                        # the engine's own gradient: _accumulate may steal it (see _stealable). The
                        # last node's locals may still hold it: drop them, so its count is exact
                        g = arg = results = None
                        _accumulate(node.variable, grads[0], create_graph, owned=True)
                continue
            key = id(node)
            grads = buffers.pop(key, None)
            results = None
            if grads is not None and (grads[0] is not None if len(grads) == 1
                                      else any(g is not None for g in grads)):
                if node.tensor_hooks or node.retained:
                    grads = _run_tensor_hooks(node, grads)
                if capture is not None:
                    for nr, g in enumerate(grads):
                        i = capture.get((key, nr))
                        if i is not None:
                            captured[i] = _add(captured[i], g)
                if ANOMALY.enabled:
                    results = apply_checked(node, grads)
                elif type(node) is Node:  # Node.apply, inlined
                    if node.released and node.had_saved:
                        node.check_not_released()
                    rule = node.rule
                    arg = grads[0] if node.n_outputs == 1 else grads
                    results = rule.fn(node, arg) if type(rule) is Rule else rule(node, arg)
                else:
                    results = node.apply(grads)
                if not isinstance(results, (tuple, list)):
                    results = (results,)
                results = _fit_to_inputs(node, results)
            if not retain_graph:
                node.release()
            n_results = len(results) if results is not None else 0
            i = -1
            for edge in node.next_edges:
                i += 1
                if edge is None:
                    continue
                child, nr = edge
                key = id(child) if type(child) is not AccumulateGrad else id(child.variable)
                g = results[i] if i < n_results else None
                if g is not None:
                    buf = buffers.get(key)
                    if buf is None:
                        buf = buffers[key] = [None] * child.n_outputs
                    buf[nr] = _add(buf[nr], g)
                left = deps[key] - 1
                deps[key] = left
                if left == 0:
                    ready.append(child)
    finally:
        GRAD_MODE.enabled = prev_mode
    if BACKWARD_CALLBACKS:
        _run_backward_callbacks()

    if inputs is not None:
        if accumulate:
            for t, g in zip(inputs, captured):
                if g is not None:
                    _accumulate(t, g, create_graph)
            return None
        for i, g in enumerate(captured):
            if g is None and not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have been used in the "
                                   "graph. Set allow_unused=True if this is the desired behavior.")
        return tuple(g if create_graph or g is None else _detached(g) for g in captured)
    return None


#: callables to run once when the running backward pass ends (ember.autograd.graph's multi-grad hooks)
BACKWARD_CALLBACKS = []


def _run_backward_callbacks():
    callbacks = list(BACKWARD_CALLBACKS)
    BACKWARD_CALLBACKS.clear()
    for fn in callbacks:
        fn()


def _run_tensor_hooks(node, grads):
    if node.tensor_hooks:
        grads = list(grads)
        for nr, hooks in node.tensor_hooks.items():
            for hook in list(hooks):
                if grads[nr] is None:
                    continue
                r = hook(grads[nr])
                if r is not None:
                    grads[nr] = r
    if node.retained:
        for nr, ref in node.retained.items():
            t = ref()
            if t is not None and grads[nr] is not None:
                g = grads[nr] if GRAD_MODE.enabled else _detached(grads[nr])
                t.grad = g if t.grad is None else t.grad + g
    return grads


def _cast(t, dtype):
    from ember.core.call import cast
    return cast(t, dtype)


def _fit_to_inputs(node, results):
    """Sum broadcast gradients back to each input's shape and cast to its dtype."""
    out = []
    for g, meta in zip(results, node.input_meta):
        if g is None or meta is None:
            out.append(None)
            continue
        shape, dtype, _device = meta
        if g._data.shape != shape:
            from ember.core.call import sum_to_shape
            g = sum_to_shape(g, shape)
        if g.dtype is not dtype:
            # a complex gradient of a real input: its real part (the cast kernel takes it, without a warning)
            g = g.to(dtype) if not g.dtype.is_complex else _cast(g, dtype)
        out.append(g)
    return out
