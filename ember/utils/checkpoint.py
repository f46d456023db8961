"""Activation checkpointing: trade compute for memory.

``checkpoint(fn, *args)`` runs ``fn`` and keeps only its inputs and outputs; the
activations inside are freed, and backward runs ``fn`` again (with the random state
it had the first time, so dropout draws the same mask) to get the gradients.

How it is built: the first run records ``fn``'s graph just long enough to find the
tensors outside ``fn`` that it differentiates into (parameters and other leaves), then
drops that graph. One ``autograd.Function`` node stands for the whole call, with the
arguments and those leaves as its inputs, so ``backward()`` and ``autograd.grad()``
both reach them. Its backward recomputes ``fn`` on detached copies of the arguments
and asks autograd for the gradients of the outputs with respect to all of them.

Selective checkpointing (``context_fn=functools.partial(create_selective_checkpoint_contexts,
policy)``): a dispatch mode just above the kernels sees every op of the forward run and of the
recomputation; ops the policy saves have their outputs cached in the forward run and, in the
recomputation, are not run again: their cached outputs come back with the autograd node
recorded as if they had been (so gradients flow through them).
"""
from __future__ import annotations

import contextlib
import enum
import threading
import warnings

from ember.autograd.function import Function
from ember.core.autograd import AccumulateGrad, enable_grad, is_grad_enabled
from ember.core.tensor import Tensor, make_tensor, version_counter

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "CheckpointFunction", "CheckpointPolicy",
           "SelectiveCheckpointContext", "create_selective_checkpoint_contexts", "noop_context_fn",
           "detach_variable", "check_backward_validity", "get_device_states", "set_device_states",
           "set_checkpoint_debug_enabled", "set_checkpoint_early_stop", "DefaultDeviceType", "GraphExecGroup",
           "SAC_IGNORED_OPS"]


class CheckpointError(RuntimeError):
    """The recomputation in backward did not reproduce the forward's outputs."""


def _detach_args(args):
    """Detached copies of the tensor arguments (requires_grad kept), other values as is."""
    return tuple(a.detach().requires_grad_(a.requires_grad) if isinstance(a, Tensor) else a for a in args)


def _as_tuple(outputs):
    return ((outputs,), True) if not isinstance(outputs, tuple) else (outputs, False)


def _leaves_reached(outputs, exclude_ids):
    """Leaf tensors requiring grad that the graph of ``outputs`` reaches (except ``exclude_ids``)."""
    leaves, seen_leaves, seen_nodes = [], set(), set()
    stack = [o.grad_fn for o in outputs if isinstance(o, Tensor) and o.grad_fn is not None]
    for o in outputs:  # an output may itself be a leaf that requires grad
        if isinstance(o, Tensor) and o.grad_fn is None and o.requires_grad and id(o) not in exclude_ids:
            seen_leaves.add(id(o))
            leaves.append(o)
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        for edge in node.next_edges:
            if edge is None:
                continue
            child = edge[0]
            if isinstance(child, AccumulateGrad):
                var = child.variable
                if id(var) not in exclude_ids and id(var) not in seen_leaves:
                    seen_leaves.add(id(var))
                    leaves.append(var)
            elif id(child) not in seen_nodes:
                stack.append(child)
    return leaves


def _alias(t: Tensor) -> Tensor:
    out = make_tensor(t._data, t.dtype, t.device)
    out._version = version_counter(t)
    return out


def _metadata(outputs):
    return [(tuple(o.shape), o.dtype, o.device) if isinstance(o, Tensor) else None for o in outputs]


class _RunInfo:
    """What backward needs to run the function again."""
    __slots__ = ("function", "args", "kwargs", "rng_state", "n_args", "n_leaves", "leaves", "outputs",
                 "output_meta", "single", "check", "recompute_context", "group_cache", "forward_ops")


class _Checkpoint(Function):
    @staticmethod
    def forward(ctx, info, *tensors):
        ctx.info = info
        ctx.set_materialize_grads(False)
        outputs = info.outputs
        info.outputs = None  # the node must not keep the forward's graph alive
        return outputs

    @staticmethod
    def backward(ctx, *grad_outputs):
        info = ctx.info
        group = GraphExecGroup._current()
        if group is not None and info.group_cache is not None and info.group_cache[0] is group:
            inputs, recomputed = info.group_cache[1]  # recomputed once per GraphExecGroup
        else:
            inputs = _detach_args(info.args)
            recorder = _OpRecorder() if info.forward_ops is not None else contextlib.nullcontext()
            with _restored_rng(info.rng_state), enable_grad(), info.recompute_context, recorder:
                recomputed = info.function(*inputs, **info.kwargs)
            recomputed, _single = _as_tuple(recomputed)
            if group is not None:
                info.group_cache = (group, (inputs, recomputed))
                group._infos.append(info)
        if info.check and _metadata(recomputed) != info.output_meta:
            trace = ""
            if info.forward_ops is not None:  # debug: the ops each run called
                trace = (f"\nops of the forward run: {info.forward_ops}\nops of the recomputation: "
                         f"{getattr(recorder, 'names', [])}")
            raise CheckpointError(
                f"checkpoint: recomputing the function in backward gave outputs {_metadata(recomputed)}, but the "
                f"forward gave {info.output_meta}; the function must be deterministic in shapes, dtypes and "
                f"devices{trace}")
        outs, grads = [], []
        for o, g in zip(recomputed, grad_outputs):
            if isinstance(o, Tensor) and o.requires_grad and g is not None:
                outs.append(o)
                grads.append(g)
        wrt_positions = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
        wrt = [inputs[i] for i in wrt_positions] + list(info.leaves)
        result = [None] * (info.n_args + info.n_leaves)
        if outs and wrt:
            from ember.autograd.api import grad
            found = grad(outs, wrt, grad_outputs=grads, retain_graph=True, create_graph=is_grad_enabled(),
                         allow_unused=True)
            for k, g in enumerate(found):
                slot = wrt_positions[k] if k < len(wrt_positions) else info.n_args + (k - len(wrt_positions))
                result[slot] = g
        return (None, *result)


class _restored_rng:
    """Run a block with the random state saved at forward time, then put the current one back."""

    def __init__(self, state):
        self.state = state
        self.current = None

    def __enter__(self):
        if self.state is not None:
            from ember.ops.random import get_rng_state, set_rng_state
            self.current = get_rng_state()
            set_rng_state(self.state)

    def __exit__(self, *exc):
        if self.state is not None:
            from ember.ops.random import set_rng_state
            set_rng_state(self.current)
        return False


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default", debug=False,
               preserve_rng_state=True, **kwargs):
    """``function(*args, **kwargs)`` without keeping its intermediate activations.

    Backward recomputes the function; with ``preserve_rng_state`` the recomputation draws
    the same random numbers (dropout masks match). Gradients reach the arguments and
    every parameter or other leaf tensor the function uses, through ``backward()`` and
    ``autograd.grad()`` alike. ``debug=True`` (or ``set_checkpoint_debug_enabled(True)``) adds
    the ops each run called to the error when the recomputation differs. ``use_reentrant`` is
    accepted for compatibility; both
    settings run this implementation. ``determinism_check='none'`` skips the check that
    the recomputed outputs have the forward's shapes, dtypes and devices. ``context_fn``
    returns two context managers, entered around the forward run and the recomputation
    (``create_selective_checkpoint_contexts`` makes the pair for selective checkpointing).
    """
    if use_reentrant and (context_fn is not None or debug):
        raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
    forward_context, recompute_context = (context_fn or noop_context_fn)()
    if determinism_check not in ("default", "none"):
        raise ValueError(f"determinism_check should be 'default' or 'none', got {determinism_check!r}")
    if use_reentrant and kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if not is_grad_enabled():
        return function(*args, **kwargs)
    from ember.ops.random import get_rng_state
    rng_state = get_rng_state() if preserve_rng_state else None
    detached = _detach_args(args)
    debugging = debug if _FLAGS["debug"] is None else _FLAGS["debug"]
    recorder = _OpRecorder() if debugging else contextlib.nullcontext()
    with forward_context, recorder:
        outputs = function(*detached, **kwargs)
    outputs, single = _as_tuple(outputs)
    if not any(isinstance(o, Tensor) and o.requires_grad for o in outputs):
        return outputs[0] if single else outputs
    leaves = _leaves_reached(outputs, {id(a) for a in detached if isinstance(a, Tensor)})
    info = _RunInfo()
    info.function, info.args, info.kwargs, info.rng_state = function, args, kwargs, rng_state
    info.n_args, info.n_leaves, info.leaves = len(args), len(leaves), leaves
    info.output_meta = _metadata(outputs)
    info.check = determinism_check == "default"
    info.single = single
    info.recompute_context, info.group_cache = recompute_context, None
    info.forward_ops = recorder.names if debugging else None
    info.outputs = tuple(_alias(o) if isinstance(o, Tensor) else o for o in outputs)
    del outputs, detached  # frees the recorded graph and the activations it saved
    result = _Checkpoint.apply(info, *args, *leaves)
    return result[0] if single else result


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run ``functions`` (a Sequential or a list of callables) in order, checkpointing all
    but the last of ``segments`` roughly equal chunks."""
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    from ember.nn.modules.container import Sequential
    if isinstance(functions, Sequential):
        functions = list(functions.children())
    functions = list(functions)
    if segments < 1:
        raise ValueError(f"checkpoint_sequential: segments must be at least 1, got {segments}")
    size = max(len(functions) // segments, 1)

    def chain(chunk):
        def run(x):
            for f in chunk:
                x = f(x)
            return x
        return run

    start = 0
    for _ in range(segments - 1):
        if start + size >= len(functions):
            break
        input = checkpoint(chain(functions[start:start + size]), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
        start += size
    return chain(functions[start:])(input)


# ---------------------------------------------------------------- selective checkpointing
class CheckpointPolicy(enum.Enum):
    """What selective checkpointing does with an op's outputs: save them in the forward run (the
    recomputation reuses them), recompute them, or save them on the CPU (moved back when reused).
    ``MUST_*`` and ``PREFER_*`` act alike in eager mode (compilers may overrule ``PREFER_*``)."""
    MUST_SAVE = 0
    PREFER_SAVE = 1
    MUST_RECOMPUTE = 2
    PREFER_RECOMPUTE = 3
    MUST_CPU_OFFLOAD = 4
    PREFER_CPU_OFFLOAD = 5


_SAVING = {CheckpointPolicy.MUST_SAVE, CheckpointPolicy.PREFER_SAVE, CheckpointPolicy.MUST_CPU_OFFLOAD,
           CheckpointPolicy.PREFER_CPU_OFFLOAD}
_OFFLOADING = {CheckpointPolicy.MUST_CPU_OFFLOAD, CheckpointPolicy.PREFER_CPU_OFFLOAD}


def _ignored_ops():
    from ember.dispatch.ops import OPS
    # views must alias the recomputed tensors, and writes must run again: never cached
    return frozenset(op for op in OPS.values() if op.view or op.inplace)


#: ops selective checkpointing never caches (views and in-place writes); policies are not asked about them
SAC_IGNORED_OPS = _ignored_ops()


class SelectiveCheckpointContext:
    """What a selective-checkpoint policy is told about the call it decides on.

    Args:
        is_recompute: True in the backward's recomputation, False in the forward run.
    """

    def __init__(self, *, is_recompute):
        self.is_recompute = is_recompute


def _policy_from(policy_fn_or_list):
    if callable(policy_fn_or_list):
        return policy_fn_or_list
    if isinstance(policy_fn_or_list, (list, tuple, set, frozenset)):
        from ember.dispatch.ops import OPS
        names = set()
        for op in policy_fn_or_list:
            name = op if isinstance(op, str) else getattr(op, "name", None)
            if name not in OPS:
                raise ValueError(f"Expected op in `op_list` to be an OpOverload (an ember op-table entry or its "
                                 f"name) but got {op!r}")
            names.add(name)

        def policy(ctx, op, *args, **kwargs):
            return CheckpointPolicy.MUST_SAVE if op.name in names else CheckpointPolicy.PREFER_RECOMPUTE
        return policy
    raise TypeError("policy_fn_or_list must be either a function or a list of ops.")


class _SelectiveMode:
    """The dispatch-mode handler of one context of a selective-checkpoint pair."""

    def __init__(self, policy, cache, is_recompute, allow_mutation):
        self.policy, self.cache, self.is_recompute, self.allow_mutation = policy, cache, is_recompute, allow_mutation

    def __enter__(self):
        from ember.dispatch.keys import ACTIVE, CHECKPOINT, push_mode
        self.previous = dict(zip(ACTIVE.keys, ACTIVE.modes)).get(CHECKPOINT)
        push_mode(CHECKPOINT, self.handle)
        return self

    def __exit__(self, *exc):
        from ember.dispatch.keys import CHECKPOINT, pop_mode, push_mode
        pop_mode(CHECKPOINT)
        if self.previous is not None:
            push_mode(CHECKPOINT, self.previous)
        return False

    def _decide(self, op, inputs, attrs):
        from ember.dispatch.ops import OpDef
        if not isinstance(op, OpDef) or op in SAC_IGNORED_OPS:  # public ops' bodies: decided op by op
            return CheckpointPolicy.PREFER_RECOMPUTE
        decision = self.policy(SelectiveCheckpointContext(is_recompute=self.is_recompute), op, *inputs, **attrs)
        if isinstance(decision, bool):  # PyTorch's older policies answer True for "save"
            decision = CheckpointPolicy.MUST_SAVE if decision else CheckpointPolicy.PREFER_RECOMPUTE
        if not isinstance(decision, CheckpointPolicy):
            raise TypeError(f"policy_fn must return a CheckpointPolicy (or a bool), got {decision!r} for op "
                            f"'{op.name}'")
        return decision

    def handle(self, op, inputs, attrs, below):
        decision = self._decide(op, inputs, attrs)
        if decision not in _SAVING:
            return below(op, inputs, attrs)
        if not self.is_recompute:
            out = below(op, inputs, attrs)
            outs = out if isinstance(out, tuple) else (out,)
            stored = tuple(_cached_copy(o, decision in _OFFLOADING) for o in outs)
            self.cache.setdefault(op.name, []).append((stored, isinstance(out, tuple)))
            return out
        entries = self.cache.get(op.name)
        if not entries:
            raise RuntimeError(f"selective checkpoint: the recomputation called '{op.name}' more often than the "
                               f"forward run did; the checkpointed function must be deterministic")
        stored, is_tuple = entries.pop(0)
        return _replayed(op, inputs, attrs, stored, is_tuple, self.allow_mutation)


def _cached_copy(t, offload):
    if not isinstance(t, Tensor):
        return (t, None, None)
    kept = t.detach()
    home = t.device
    if offload and home.type != "cpu":
        kept = kept.to("cpu")
    return (kept, home, version_counter(kept).value)


def _replayed(op, inputs, attrs, stored, is_tuple, allow_mutation):
    """The cached outputs of ``op`` as fresh tensors, with the autograd node the op would record."""
    from ember.core.autograd import GRAD_MODE
    from ember.core.call import _record
    from ember.core.dtype import FLOAT
    results = []
    for kept, home, version in stored:
        if home is None:
            results.append(kept)
            continue
        if not allow_mutation and version_counter(kept).value != version:
            raise RuntimeError(f"selective checkpoint: a cached output of '{op.name}' was changed in place after "
                               f"the forward run (pass allow_cache_entry_mutation=True to allow it)")
        if kept.device != home:
            kept = kept.to(home)
        results.append(make_tensor(kept._data, kept.dtype, kept.device))
    first = results[0]
    needs_grad = any(isinstance(t, Tensor) and t._rg for t in inputs)
    if needs_grad and GRAD_MODE.enabled and op.rule is not None and first.dtype.category >= FLOAT:
        _record(op, inputs, attrs, first, tuple(results) if is_tuple else None)
    return tuple(results) if is_tuple else first


def create_selective_checkpoint_contexts(policy_fn_or_list, allow_cache_entry_mutation=False):
    """The ``context_fn`` result for selective activation checkpointing.

    Args:
        policy_fn_or_list: ``policy(ctx, op, *args, **kwargs) -> CheckpointPolicy`` deciding per op call
            (``op`` is the ember op-table entry, ``op.name`` its name: ``"matmul"``, ``"exp"``...), or a
            list of ops (entries or names) whose outputs are saved (the rest are recomputed).
        allow_cache_entry_mutation: allow cached outputs to be changed in place before backward.

    Returns:
        ``(forward_context, recompute_context)``.

    Raises:
        TypeError: if the policy is neither callable nor a list.
    """
    policy = _policy_from(policy_fn_or_list)
    cache = {}
    return (_SelectiveMode(policy, cache, False, allow_cache_entry_mutation),
            _SelectiveMode(policy, cache, True, allow_cache_entry_mutation))


def noop_context_fn():
    """The default ``context_fn`` of ``checkpoint``: two contexts that do nothing.

    Returns:
        ``(contextlib.nullcontext(), contextlib.nullcontext())``.
    """
    return contextlib.nullcontext(), contextlib.nullcontext()


# ---------------------------------------------------------------- the reentrant form and helpers
def detach_variable(inputs):
    """Detached copies of a tuple's tensors, each keeping its ``requires_grad``.

    Args:
        inputs: a tuple.

    Returns:
        A tuple of the same length.

    Raises:
        RuntimeError: if ``inputs`` is not a tuple.
    """
    if not isinstance(inputs, tuple):
        raise RuntimeError(f"Only tuple of tensors is supported. Got Unsupported input type: "
                           f"{type(inputs).__name__}")
    return tuple(x.detach().requires_grad_(x.requires_grad) if isinstance(x, Tensor) else x for x in inputs)


def check_backward_validity(inputs) -> None:
    """Warn when no tensor input requires grad (the checkpoint's gradients would all be None).

    Args:
        inputs: the checkpointed function's arguments.
    """
    if not any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)


class CheckpointFunction(Function):
    """The reentrant checkpoint (``use_reentrant=True``) as an autograd Function:
    ``CheckpointFunction.apply(run_function, preserve_rng_state, *args)``. The forward runs without
    recording; backward recomputes and back-propagates through the recomputation, so parameters used
    inside get their ``.grad`` (with ``backward()``; ``autograd.grad`` reaches the arguments only)."""

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        """Run ``run_function(*args)`` without a graph; remember how to run it again."""
        check_backward_validity(args)
        from ember.ops.random import get_rng_state
        ctx.run_function = run_function
        ctx.rng_state = get_rng_state() if preserve_rng_state else None
        ctx.inputs = args
        return run_function(*args)

    @staticmethod
    def backward(ctx, *grad_outputs):
        """Recompute, then back-propagate ``grad_outputs`` through the recomputed graph."""
        from ember.autograd.api import backward
        inputs = detach_variable(tuple(ctx.inputs))
        with _restored_rng(ctx.rng_state), enable_grad():
            outputs = ctx.run_function(*inputs)
        outputs, _ = _as_tuple(outputs)
        pairs = [(o, g) for o, g in zip(outputs, grad_outputs)
                 if isinstance(o, Tensor) and o.requires_grad and g is not None]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
        backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None, *(x.grad if isinstance(x, Tensor) else None for x in inputs))


def get_device_states(*args):
    """The random states of the accelerator devices the tensors in ``args`` are on.

    ember's random stream is one for every device (the same seed gives the same numbers on each), so
    each device's state is that stream's.

    Args:
        args: values, some of them tensors.

    Returns:
        ``(device_indices, states)``: the distinct non-CPU devices' indices and their states.
    """
    from ember.ops.random import get_rng_state
    ids = []
    for a in args:
        if isinstance(a, Tensor) and a.device.type != "cpu":
            index = a.device.index or 0
            if index not in ids:
                ids.append(index)
    return ids, [get_rng_state() for _ in ids]


def set_device_states(devices, states, *, device_type=None) -> None:
    """Restore random states from ``get_device_states``.

    Args:
        devices: the device indices.
        states: their states.
        device_type: the accelerator type (default: ``DefaultDeviceType.get_device_type()``).
    """
    from ember.ops.random import set_rng_state
    for _, state in zip(devices, states):
        set_rng_state(state)


class DefaultDeviceType:
    """The device type whose random state checkpointing saves and restores (besides the CPU's)."""
    _device_type = None

    @staticmethod
    def set_device_type(device: str = "cuda") -> None:
        """Set the device type.

        Args:
            device: a device type name.
        """
        DefaultDeviceType._device_type = device

    @staticmethod
    def get_device_type() -> str:
        """The device type.

        Returns:
            The type set, else the current accelerator's, else ``"cpu"``.
        """
        if DefaultDeviceType._device_type is not None:
            return DefaultDeviceType._device_type
        from ember import accelerator
        found = accelerator.current_accelerator() if accelerator.is_available() else None
        return found.type if found is not None else "cpu"


_FLAGS = {"debug": None, "early_stop": True}  # debug None: each call's own ``debug`` argument


class _OpRecorder:
    """Notes the name of every op a block calls (checkpoint's ``debug``), passing each on to the
    handler it stacks on (a selective-checkpoint context) or below."""

    def __init__(self):
        self.names = []

    def __enter__(self):
        from ember.dispatch.keys import ACTIVE, CHECKPOINT, push_mode
        self.previous = dict(zip(ACTIVE.keys, ACTIVE.modes)).get(CHECKPOINT)
        push_mode(CHECKPOINT, self.handle)
        return self

    def __exit__(self, *exc):
        from ember.dispatch.keys import CHECKPOINT, pop_mode, push_mode
        pop_mode(CHECKPOINT)
        if self.previous is not None:
            push_mode(CHECKPOINT, self.previous)
        return False

    def handle(self, op, inputs, attrs, below):
        from ember.dispatch.ops import OpDef
        if isinstance(op, OpDef):  # op-table entries (a public op's dispatch point would name it twice)
            self.names.append(op.name)
        return below(op, inputs, attrs) if self.previous is None else self.previous(op, inputs, attrs, below)


class _Setter:
    """Sets a flag now; as a context manager, restores it on exit."""

    def __init__(self, name, value):
        self.name, self.previous = name, _FLAGS[name]
        _FLAGS[name] = value

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _FLAGS[self.name] = self.previous
        return False


def set_checkpoint_debug_enabled(enabled):
    """Turn checkpoint's ``debug`` on or off for every call (None: each call's own ``debug``); usable as
    a context manager.

    Args:
        enabled: True, False or None.

    Returns:
        A context manager restoring the previous setting.
    """
    return _Setter("debug", enabled)


def set_checkpoint_early_stop(enable: bool):
    """Whether a recomputation may stop once the tensors backward needs exist (PyTorch's default True);
    usable as a context manager. ember recomputes the whole function either way, which gives the same
    gradients.

    Args:
        enable: the flag.

    Returns:
        A context manager restoring the previous setting.
    """
    return _Setter("early_stop", bool(enable))


_GROUP = threading.local()


class GraphExecGroup:
    """Context manager: within it, each checkpointed region is recomputed at most once, however many
    backward calls go through it (they must use disjoint parts of the graph)."""

    def __enter__(self):
        current = GraphExecGroup._current()
        if current is not None:
            raise RuntimeError(f"GraphExecGroup contexts cannot be nested. Already inside group {current}")
        self._infos = []
        _GROUP.group = self
        return self

    def __exit__(self, *exc):
        _GROUP.group = None
        for info in self._infos:  # the recomputed graphs go with the group
            info.group_cache = None
        self._infos = []
        return False

    @staticmethod
    def _current():
        return getattr(_GROUP, "group", None)
