"""``torch.distributed.autograd``: backward passes that cross RPC calls.

Inside ``with context() as context_id``, an ``rpc_sync``/``rpc_async`` whose tensors need
gradients records the call on both sides: the callee keeps the graph of its result, the caller
gets the result through a node whose backward sends the gradient to the callee, which runs its
part of the backward and returns the gradients of the arguments. ``backward(context_id, roots)``
runs the whole pass from this worker; the gradients of each worker's leaves (its parameters)
accumulate in the context on that worker — not in ``.grad`` — and ``get_gradients`` returns them.
"""
from __future__ import annotations

import itertools
import threading

import ember

__all__ = ["context", "backward", "get_gradients", "is_available", "DistAutogradContext"]

_LOCAL = threading.local()
_CONTEXTS = {}
_LOCK = threading.Lock()
_COUNTER = itertools.count()


def is_available():
    """Whether distributed autograd is available (it runs over ember's RPC).

    Returns:
        bool.
    """
    return True


class DistAutogradContext:
    """One distributed backward's state on this worker: the gradients of its leaves and the RPC
    calls it served (their inputs and outputs)."""

    def __init__(self, context_id):
        self._context_id = context_id
        self.grads = {}      # id(tensor) -> (tensor, gradient)
        self.calls = {}      # call id -> (inputs, outputs) of calls this worker served
        self.dummy = None
        self.peers = set()   # workers that served calls recorded here (they release it with us)

    def _context_id(self):
        return self._context_id

    def accumulate(self, tensor, grad):
        key = id(tensor)
        if key in self.grads:
            self.grads[key] = (tensor, self.grads[key][1] + grad)
        else:
            self.grads[key] = (tensor, grad.detach().clone())


def _worker_id():
    from ember.distributed import rpc
    agent = rpc._AGENT[0]
    return agent.rank if agent is not None else 0


def _get(context_id, create=False):
    with _LOCK:
        ctx = _CONTEXTS.get(context_id)
        if ctx is None:
            if not create:
                raise RuntimeError(f"Could not find autograd context with id: {context_id}")
            ctx = _CONTEXTS[context_id] = DistAutogradContext(context_id)
        return ctx


def _current():
    return getattr(_LOCAL, "context_id", None)


class context:
    """A distributed autograd context: ``with context() as context_id:`` (ids are unique per job)."""

    def __enter__(self):
        if _current() is not None:
            raise RuntimeError("Already have an autograd context id for this thread.")
        # the worker's rank in the high bits makes the id unique across workers, as PyTorch's
        self.context_id = (_worker_id() << 48) + next(_COUNTER)
        _get(self.context_id, create=True)
        _LOCAL.context_id = self.context_id
        return self.context_id

    def __exit__(self, *exc):
        _LOCAL.context_id = None
        with _LOCK:
            ctx = _CONTEXTS.pop(self.context_id, None)
        if ctx is not None and ctx.peers:
            from ember.distributed import rpc
            agent = rpc._AGENT[0]
            for peer in ctx.peers:   # the callees drop their part of this context too
                if agent is not None:
                    agent.call(peer, ("release", self.context_id), 0)
        return False


def _leaves(roots):
    """The leaf tensors (with ``requires_grad``) the graphs of ``roots`` reach."""
    seen, found, stack = set(), {}, [r.grad_fn for r in roots if r.grad_fn is not None]
    for r in roots:
        if r.grad_fn is None and r.requires_grad:
            found[id(r)] = r
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        var = getattr(node, "variable", None)
        if var is not None:
            found[id(var)] = var
        stack.extend(e[0] for e in (getattr(node, "next_edges", None) or ()) if e is not None)
    return list(found.values())


def _run_backward(ctx, outputs, grad_outputs, inputs, retain_graph):
    """Backward from ``outputs``: leaf gradients into ``ctx``, and the gradients of ``inputs`` returned."""
    leaves = [t for t in _leaves(outputs) if all(t is not i for i in inputs) and t is not ctx.dummy]
    wanted = list(inputs) + leaves
    grads = ember.autograd.grad(outputs, wanted, grad_outputs=grad_outputs, retain_graph=retain_graph,
                                allow_unused=True) if wanted else ()
    for t, g in zip(leaves, grads[len(inputs):]):
        if g is not None:
            ctx.accumulate(t, g)
    return list(grads[:len(inputs)])


def backward(context_id, roots, retain_graph=False):
    """Run the backward pass from ``roots`` (scalars) through every RPC call recorded in the context.

    Args:
        context_id: the id ``context()`` gave.
        roots: the tensors to differentiate (each a scalar).
        retain_graph: keep the graphs for another backward.

    Returns:
        None.
    """
    ctx = _get(context_id)
    roots = list(roots)
    for r in roots:
        if r.numel() != 1:
            raise RuntimeError("dist_autograd.backward: roots must be scalars (one element each)")
    previous, _LOCAL.context_id = _current(), context_id
    try:
        _run_backward(ctx, roots, [ember.ones_like(r) for r in roots], [], retain_graph)
    finally:
        _LOCAL.context_id = previous


def get_gradients(context_id):
    """The gradients accumulated on this worker in the context.

    Args:
        context_id: the context's id.

    Returns:
        A dict of tensor -> gradient.
    """
    return {t: g for t, g in _get(context_id).grads.values()}


# ---------------------------------------------------------------- the RPC side
class _RecvBackward(ember.autograd.Function):
    """The caller's node for one RPC result: its backward sends the gradient to the callee."""

    @staticmethod
    def forward(fctx, meta, *inputs):
        fctx.meta = meta
        outs = meta["outputs"]
        return tuple(o.clone() for o in outs) if len(outs) > 1 else outs[0].clone()

    @staticmethod
    def backward(fctx, *grads):
        from ember.distributed import rpc
        meta = fctx.meta
        agent = rpc._agent()
        grads = [g if g is not None else ember.zeros_like(o) for g, o in zip(grads, meta["outputs"])]
        back = agent.call(meta["to"], ("grad", (meta["context_id"], meta["call_id"], grads)), 0)
        n_dummy = 1 if meta["dummy"] else 0
        return (None,) + tuple(back) + (None,) * n_dummy


def _tensors_of(value):
    if isinstance(value, ember.Tensor):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, ember.Tensor) for v in value):
        return list(value)
    return None


def _call(agent, to, func, args, kwargs, timeout):
    """An RPC inside a context: send the call recorded for backward; attach the result to the graph."""
    context_id = _current()
    ctx = _get(context_id)
    flags = [isinstance(a, ember.Tensor) and a.requires_grad for a in args]
    call_id = (agent.rank, next(_COUNTER))
    ctx.peers.add(agent.info(to).name)
    sent = tuple(a.detach() if isinstance(a, ember.Tensor) else a for a in args)
    result, differentiable = agent.call(to, ("call_grad", (context_id, call_id, func, sent, kwargs, flags)), timeout)
    outs = _tensors_of(result)
    if outs is None or not differentiable:
        return result
    inputs = [a for a, f in zip(args, flags) if f]
    dummy = not inputs
    if dummy:   # no argument needs grad, but the callee's parameters do: a leaf to hang the node on
        if ctx.dummy is None:
            ctx.dummy = ember.zeros((), requires_grad=True)
        inputs = [ctx.dummy]
    meta = {"outputs": outs, "to": to, "context_id": context_id, "call_id": call_id, "dummy": dummy}
    out = _RecvBackward.apply(meta, *inputs)
    if isinstance(result, ember.Tensor):
        return out
    return type(result)(out) if isinstance(out, tuple) else type(result)([out])


def _serve_call(context_id, call_id, func, args, kwargs, flags):
    """The callee's side of a recorded call: run it with the flagged arguments as leaves."""
    from ember.distributed.rpc import _run
    ctx = _get(context_id, create=True)
    args = tuple(a.requires_grad_(True) if f else a for a, f in zip(args, flags))
    previous, _LOCAL.context_id = _current(), context_id
    try:
        with ember.enable_grad():   # a served call records its graph, as in PyTorch's RPC threads
            result = _run(func, args, kwargs)
    finally:
        _LOCAL.context_id = previous
    outs = _tensors_of(result)
    differentiable = outs is not None and any(o.requires_grad for o in outs)
    if differentiable:
        ctx.calls[call_id] = ([a for a, f in zip(args, flags) if f], outs)
        result = [o.detach() for o in outs] if not isinstance(result, ember.Tensor) else result.detach()
        if isinstance(outs, list) and isinstance(_tensors_of(result), list) and not isinstance(result, ember.Tensor):
            result = type(outs)(result)
    return result, differentiable


def _serve_grad(context_id, call_id, grads):
    """The callee's part of the backward for one call; returns the gradients of its flagged arguments."""
    ctx = _get(context_id)
    inputs, outs = ctx.calls[call_id]
    pairs = [(o, g) for o, g in zip(outs, grads) if o.requires_grad]
    previous, _LOCAL.context_id = _current(), context_id
    try:
        back = _run_backward(ctx, [o for o, _ in pairs], [g for _, g in pairs], inputs, retain_graph=True)
    finally:
        _LOCAL.context_id = previous
    return [g if g is not None else ember.zeros_like(i) for g, i in zip(back, inputs)]


def _release(context_id):
    with _LOCK:
        _CONTEXTS.pop(context_id, None)
    return True
