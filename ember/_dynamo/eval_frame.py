"""``ember.compile``: capture on first call, guard, replay the graph, recapture when guards fail.

A compiled function keeps, per *guard key* — the tensor inputs' shapes, dtypes, devices and
requires_grad, the non-tensor arguments' values, grad mode, the active mode keys and
autocast's state, and (for a module) every submodule's ``training`` flag — the graphs
captured under it. A call whose key has a graph replays it: the generated code calls the
dispatched ops directly (autograd records them as in eager mode, so training works and
gradients are eager's), with elementwise runs fused into generated kernels by the device's
fusion compiler when autograd does not need them.

A value the program read into Python while it was captured (``if x.sum() > 0``: a graph
break) is a guard inside the graph: a replay that reads another value stops there, undoes
the writes made to buffers and inputs and the random numbers drawn so far, and the next
graph for the key is tried, or the program is captured again on this path (its result is
eager's: the capture runs the program). With ``fullgraph=True`` such a read raises
``Unsupported`` naming the line. After ``recompile_limit`` captures the function runs
eagerly (with a warning).

What replay cannot see: Python side effects of the program (prints, appends to lists) run
only when it is captured, and Python state it reads other than its arguments (globals,
attributes other than ``training``) is not guarded.
"""
from __future__ import annotations

import functools
import logging
import warnings
import weakref

from ember.amp.autocast_mode import STATE as AUTOCAST_STATE
from ember.core.autograd import GRAD_MODE
from ember.core.dual import DUAL
from ember.core.tensor import Tensor
from ember.dispatch.keys import ACTIVE, AUTOCAST, TRACE
from ember.fx.capture import GuardFailure, Tracer, input_names_of
from ember.fx.graph_module import GraphModule, compile_code, python_code
from ember.utils._pytree import tree_flatten, tree_unflatten
from ember._dynamo import config, joint
from ember._dynamo.exc import InvalidBackend, RecompileLimitExceeded, Unsupported
from ember._dynamo.guard_collectives import GuardCollectives, synchronized_hit

log = logging.getLogger("ember._dynamo")

_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_BACKENDS = ("inductor", "eager", "aot_eager")
_OPTIONS = ("guard_filter_fn", "fusion", "epilogue_fusion", "max_autotune", "fallback_random", "shape_padding",
            "triton.cudagraphs", "trace.enabled", "trace.graph_diagram")
_ALL = weakref.WeakSet()     # every compiled function, for reset()
_MISS = object()


class _Disabled:
    depth = 0


class Stance:
    """The compiler's stance (``ember.compiler.set_stance``) and default backend."""
    stance = "default"
    skip_guard_eval_unsafe = False
    backend = None            # force_backend of the "default" stance
    default_backend = "inductor"


STANCES = ("default", "force_eager", "eager_on_recompile", "fail_on_recompile", "eager_then_compile",
           "aot_eager_then_compile")


def list_backends(exclude_tags=("debug", "experimental")) -> list:
    """The names ``ember.compile(backend=...)`` accepts (``exclude_tags``: PyTorch's filter;
    ``eager`` and ``aot_eager`` are debug backends)."""
    names = ["inductor"]
    if not exclude_tags or "debug" not in exclude_tags:
        names += ["eager", "aot_eager"]
    return sorted(names)


class _Attributes:
    """What the generated code's ``self`` is: the root module's attributes, then captured constants."""

    def __init__(self, root, constants):
        self.__dict__["_root"] = root
        self.__dict__.update(constants)

    def __getattr__(self, name):
        root = self.__dict__["_root"]
        if root is None:
            raise AttributeError(name)
        return getattr(root, name)


class _Entry:
    """One captured graph: its runner, how to rebuild the result, and what to undo on a guard failure."""
    __slots__ = ("run", "attributes", "out_spec", "undo", "graph", "host_reads", "fused")

    def __init__(self, run, attributes, out_spec, undo, graph, host_reads, fused):
        self.run, self.attributes, self.out_spec, self.undo = run, attributes, out_spec, undo
        self.graph, self.host_reads, self.fused = graph, host_reads, fused


class CompiledFunction:
    """The callable ``ember.compile`` returns for a function (and uses inside ``OptimizedModule``)."""

    def __init__(self, fn, *, root=None, fullgraph=False, dynamic=None, backend="inductor", mode=None,
                 options=None, signature_of=None):
        self._fn = fn
        self._root = root
        self.fullgraph = fullgraph
        self.dynamic = dynamic
        self.backend = backend
        self._active = backend    # the backend of the capture in progress (a stance may force another)
        self.mode = mode or "default"
        self.options = dict(options or {})
        self._signature_of = signature_of or fn
        self._cache = {}          # guard key -> [_Entry]
        self._captures = 0
        self._warned = False
        self._calls = 0
        self._guard_mask = None   # guard_filter_fn's verdict per guard-key part (None: keep all)
        functools.update_wrapper(self, fn, updated=())
        self.__name__ = getattr(self._signature_of, "__name__", None) or type(fn).__name__
        _ALL.add(self)

    # ------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        if _Disabled.depth or (ACTIVE.keys and TRACE in ACTIVE.keys) or Stance.stance == "force_eager":
            return self._fn(*args, **kwargs)   # disabled, or inside another capture: inline
        if DUAL.level is not None:  # forward AD: captured graphs carry no tangents, so run eagerly
            return self._fn(*args, **kwargs)
        self._calls += 1
        leaves, spec = tree_flatten((args, kwargs))
        tensors = [x for x in leaves if isinstance(x, Tensor)]
        if Stance.skip_guard_eval_unsafe and len(self._cache) == 1:
            candidates = next(iter(self._cache.values()))   # unsafe: no guard tells the graphs apart
        else:
            key = self._guard_key(leaves, spec)
            candidates = self._cache.get(key, ())
        if GuardCollectives.enabled and self._cache and not synchronized_hit(bool(candidates)):
            candidates = ()   # another rank's guards failed: every rank captures again, together
        for entry in candidates:
            result = self._replay(entry, tensors)
            if result is not _MISS:
                return result
        if Stance.skip_guard_eval_unsafe and len(self._cache) == 1:
            key = self._guard_key(leaves, spec)
        from ember._dynamo.decorators import RunOnly
        stance = Stance.stance
        if RunOnly.depth or (stance == "eager_on_recompile" and self._captures):
            return self._fn(*args, **kwargs)
        if stance == "fail_on_recompile" and self._captures:
            raise RuntimeError(f"Detected recompile when ember.compile stance is 'fail_on_recompile'. "
                               f"function name: {self.__name__!r}: no captured graph fits these inputs")
        if stance in ("eager_then_compile", "aot_eager_then_compile") and self._calls == 1:
            return self._fn(*args, **kwargs)
        return self._capture(key, args, kwargs)

    def _guard_key(self, leaves, spec):
        parts = [spec, GRAD_MODE.enabled, ACTIVE.keys]
        from ember._dynamo.decorators import MARKS, shape_key
        for x in leaves:
            if isinstance(x, Tensor):
                if MARKS:   # dims marked dynamic are wildcards; static ones a part of their own
                    shape, static = shape_key(x, tuple(x._data.shape))
                    parts.append((shape, x.dtype, x.device, x._rg))
                    if static is not None:
                        parts.append(("static", static))
                else:
                    parts.append((tuple(x._data.shape), x.dtype, x.device, x._rg))
            else:
                parts.append(_constant_key(x))
        if ACTIVE.keys and AUTOCAST in ACTIVE.keys:
            parts.append((tuple(sorted(AUTOCAST_STATE.enabled.items())),
                          tuple(sorted((k, v.name) for k, v in AUTOCAST_STATE.dtypes.items()))))
        if self._root is not None:
            parts.append(tuple(m.training for m in self._root.modules()))
            parts.append(tuple(p._rg for p in self._root.parameters()))
        mask = self._guard_mask
        if mask is not None and len(mask) == len(parts):
            parts = [p if keep else None for p, keep in zip(parts, mask)]
        return tuple(parts)

    def _replay(self, entry, tensors):
        saved = entry.undo(tensors) if entry.undo is not None else None
        try:
            flat = entry.run(entry.attributes, *tensors)
        except GuardFailure as failure:
            if saved is not None:
                saved()
            if config.verbose:
                log.info("guard failed in %s: %s", self.__name__, failure)
            return _MISS
        return tree_unflatten(list(flat), entry.out_spec)

    def _capture(self, key, args, kwargs):
        self._active = Stance.backend or self.backend
        if "guard_filter_fn" in self.options and self._guard_mask is None:
            key = self._apply_guard_filter(args, kwargs)
        limit = min(config.recompile_limit, config.cache_size_limit)
        if self._captures >= limit and not (self.dynamic and _differs_only_in_shapes(key, self._cache)):
            if config.fail_on_recompile_limit_hit:
                raise RecompileLimitExceeded(f"{self.__name__}: recompile_limit reached ({limit})")
            if not self._warned:
                self._warned = True
                warnings.warn(f"ember.compile: {self.__name__} reached the recompile limit ({limit}); it runs "
                              f"eagerly for new inputs from now on (ember._dynamo.config.recompile_limit)")
            return self._fn(*args, **kwargs)
        tracer = Tracer(self._root, on_host_read="raise" if self.fullgraph else "guard", error=Unsupported)
        names = input_names_of(self._signature_of, args, kwargs)
        tensors = [x for x in tree_flatten((args, kwargs))[0] if isinstance(x, Tensor)]
        wrt = joint.wrt_of(self._root, tensors) if GRAD_MODE.enabled else []
        then = joint.make_then(tracer, wrt) if wrt and self._active != "eager" else None
        capture = tracer.trace(self._fn, args, kwargs, names, then=then)
        result, capture.result = capture.result, None
        if then is not None:
            if getattr(tracer, "joint", False) and not capture.host_reads and not callable(self._active):
                self._captures += 1
                entry = self._build_joint(capture, tracer, wrt, tensors)
                self._cache.setdefault(self._specialized(key, capture.graph, args, kwargs), []).append(entry)
                return result
            capture.graph = joint.forward_only(capture.graph, capture, tracer)
        self._captures += 1
        if config.verbose:
            log.info("captured %s (%d graph(s) so far): %d nodes", self.__name__, self._captures,
                     len(capture.graph.nodes))
        entry = self._build(capture, args, kwargs)
        self._cache.setdefault(self._specialized(key, capture.graph, args, kwargs), []).append(entry)
        return result

    def _specialized(self, key, graph, args, kwargs):
        """``key`` itself if the graph holds no dynamic-marked dim's size as a constant; else the
        concrete key (``maybe_mark_dynamic``) or ``ConstraintViolationError`` (``mark_dynamic``)."""
        from ember._dynamo.decorators import MARKS, strong_dims
        if not MARKS or not any(isinstance(p, tuple) and len(p) == 4 and isinstance(p[0], tuple)
                                and None in p[0] for p in key):
            return key
        names = input_names_of(self._signature_of, args, kwargs) or []
        tensors = [x for x in tree_flatten((args, kwargs))[0] if isinstance(x, Tensor)]
        # the program's own ops (the forward) specializing a marked dim is the user's doing; the
        # backward ember derives (views to saved shapes) only makes the graph per size
        forward = _int_constants(getattr(graph, "forward_graph", None) or graph)
        constants = set(forward)
        for g in (graph, getattr(graph, "backward_graph", None)):
            if g is not None:
                constants |= _int_constants(g)
        from ember._dynamo.decorators import shape_key
        for i, t in enumerate(tensors):
            shape = tuple(t._data.shape)
            wild, _ = shape_key(t, shape)
            for d, w in enumerate(wild):
                if w is None and shape[d] in constants:
                    if d in strong_dims(t) and shape[d] in forward:
                        from ember._dynamo.exc import ConstraintViolationError
                        name = names[i] if i < len(names) else f"arg{i}"
                        raise ConstraintViolationError(
                            f"Constraints violated ({name}.size()[{d}])! You marked {name}.size()[{d}] as dynamic "
                            f"but your code specialized it to be a constant ({shape[d]}). If you're using "
                            f"mark_dynamic, either remove it or use maybe_mark_dynamic.")
                    from ember._dynamo.decorators import MARKS as marks
                    saved = dict(marks)
                    marks.clear()
                    try:   # the concrete key: as if nothing were marked
                        return self._guard_key(*tree_flatten((args, kwargs)))
                    finally:
                        marks.update(saved)
        return key

    def _apply_guard_filter(self, args, kwargs):
        """Ask ``options["guard_filter_fn"]`` which guards to keep (once); returns the filtered key."""
        from ember._dynamo.guards import guard_entries
        leaves, spec = tree_flatten((args, kwargs))
        key = self._guard_key(leaves, spec)
        entries = guard_entries(key, leaves, input_names_of(self._signature_of, args, kwargs), self._root)
        verdict = [bool(v) for v in self.options["guard_filter_fn"](entries)]
        if len(verdict) != len(entries):
            raise RuntimeError(f"guard_filter_fn returned {len(verdict)} flags for {len(entries)} guards")
        verdict[0] = True   # the input structure is what the runner is built on: always checked
        self._guard_mask = tuple(verdict)
        return self._guard_key(leaves, spec)

    # ------------------------------------------------------------ building a runner
    def _build(self, capture, args, kwargs):
        graph = capture.graph
        graph.eliminate_dead_code()
        fused = 0
        if self._active == "inductor" and self.options.get("fusion", True):
            from ember._inductor.fusion import fuse_elementwise
            fused = fuse_elementwise(graph)
        constants = {k: v for k, v in capture.attributes.items() if k.startswith("_tensor_constant")}
        attributes = _Attributes(self._root, constants)
        if callable(self._active):
            gm = GraphModule(dict(capture.attributes), graph)
            example = [x for x in tree_flatten((args, kwargs))[0] if isinstance(x, Tensor)]
            compiled = self._active(gm, example)
            run = (lambda _attributes, *tensors: _as_tuple(compiled(*tensors)))
        else:
            run = compile_code(python_code(graph), label=f"compiled.{self.__name__}")
        return _Entry(run, attributes, capture.out_spec, _undo_plan(graph, self._root), graph,
                      capture.host_reads, fused)

    def _build_joint(self, capture, tracer, wrt, tensors):
        fwd, bwd, n_saved = joint.split(capture.graph, capture, tracer)
        fused = 0
        if self._active == "inductor" and self.options.get("fusion", True):
            from ember._inductor.fusion import fuse_elementwise
            fused = fuse_elementwise(fwd) + fuse_elementwise(bwd)
        constants = {k: v for k, v in capture.attributes.items() if k.startswith("_tensor_constant")}
        attributes = _Attributes(self._root, constants)
        ids = {id(t): i for i, t in enumerate(tensors)}
        wrt_inputs = [ids[id(t)] for t in wrt if id(t) in ids]
        wrt_params = [tracer._attr_of[id(t)] for t in wrt if id(t) not in ids]
        label = f"compiled.{self.__name__}"
        entry = joint.JointEntry(compile_code(python_code(fwd), label=label + ".forward"),
                                 compile_code(python_code(bwd), label=label + ".backward"),
                                 capture.n_outputs, n_saved, tracer.diff_outputs, wrt_inputs, wrt_params, attributes)
        root = self._root

        def run(_attributes, *flat_tensors):
            return joint.run_joint(entry, flat_tensors, root)
        graph = capture.graph
        graph.forward_graph, graph.backward_graph = fwd, bwd
        return _Entry(run, attributes, capture.out_spec, None, graph, capture.host_reads, fused)

    def aot_compile(self, example_inputs):
        """Compile now, ahead of time, for ``example_inputs`` (``((args...), {kwargs})``); needs
        ``fullgraph=True``. See ``ember.compiler.load_compiled_function``.

        Returns:
            An ``AOTCompiledFunction`` (callable; ``save_compiled_function(path)`` writes it).
        """
        from ember.compiler._aot import aot_compile
        return aot_compile(self, example_inputs)

    # ------------------------------------------------------------ reporting
    def reset(self) -> None:
        """Forget every captured graph (the next call captures again)."""
        self._cache.clear()
        self._captures = 0
        self._warned = False

    @property
    def graphs(self) -> list:
        """The captured graphs, in capture order."""
        return [e.graph for entries in self._cache.values() for e in entries]


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _constant_key(x):
    try:
        hash(x)
    except TypeError:
        return ("id", id(x))
    return (type(x), x)


def _int_constants(graph) -> set:
    """The int constants among the graph's arguments, except dimension indices (``dim=``)."""
    found = set()

    def walk(a):
        if isinstance(a, bool):
            return
        if isinstance(a, int):
            found.add(a)
        elif isinstance(a, (tuple, list)):
            for x in a:
                walk(x)
        elif isinstance(a, slice):
            walk(a.start), walk(a.stop), walk(a.step)
    for n in graph.nodes:
        if n.op in ("call_function", "call_method", "call_module"):
            for a in n.args:
                walk(a)
            for k, v in n.kwargs.items():
                if "dim" not in k and "axis" not in k:
                    walk(v)
    return found


def _differs_only_in_shapes(key, cache) -> bool:
    def strip(k):
        return tuple((p[1:] if isinstance(p, tuple) and len(p) == 4 and isinstance(p[0], tuple) else p) for p in k)
    mine = strip(key)
    return any(strip(k) == mine for k in cache)


# ---------------------------------------------------------------- undoing a replay stopped by a guard
def _undo_plan(graph, root):
    """For a graph with value guards: a function of the inputs that snapshots what the graph may
    write before its last guard (buffers, inputs, the default generator) and returns the restorer."""
    from ember.core.call import write_inplace
    from ember.fx.capture import expect_shape, expect_value
    from ember.ops.indexing import _index_put_inplace
    from ember.ops.random import _draw
    nodes = graph.nodes
    guards = [i for i, n in enumerate(nodes) if n.op == "call_function" and n.target in (expect_value, expect_shape)]
    if not guards:
        return None
    writes = (getattr(write_inplace, "__untraced__", write_inplace),
              getattr(_index_put_inplace, "__untraced__", _index_put_inplace))
    placeholders = [n for n in nodes if n.op == "placeholder"]
    targets, draws = [], False
    for n in nodes[:guards[-1]]:
        if n.op != "call_function":
            continue
        if n.target in writes:
            source = _root_of(n.args[0])
            if source is not None and source not in targets:
                targets.append(source)
        elif n.target is getattr(_draw, "__untraced__", _draw):
            draws = True

    def snapshot(tensors):
        from ember.ops.random import default_generator
        saved = []
        for node in targets:
            t = tensors[placeholders.index(node)] if node.op == "placeholder" else _fetch(root, node.target)
            saved.append((t, t.detach().clone()))
        state = default_generator.get_state() if draws else None

        def restore():
            was = GRAD_MODE.enabled
            GRAD_MODE.enabled = False
            try:
                for t, copy in saved:
                    write_inplace(t, copy)
            finally:
                GRAD_MODE.enabled = was
            if state is not None:
                default_generator.set_state(state)
        return restore
    return snapshot if (targets or draws) else None


def _root_of(node):
    """The placeholder or get_attr node a written tensor is (a view of)."""
    seen = 0
    while node is not None and seen < 64:
        if node.op in ("placeholder", "get_attr"):
            return node
        node = next((a for a in node.args if hasattr(a, "op")), None)
        seen += 1
    return None


def _fetch(root, name):
    obj = root
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj
