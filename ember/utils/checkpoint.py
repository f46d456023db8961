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
"""
from __future__ import annotations

from ember.autograd.function import Function
from ember.core.autograd import AccumulateGrad, enable_grad, is_grad_enabled
from ember.core.tensor import Tensor, make_tensor, version_counter

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError"]


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
                 "output_meta", "single", "check")


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
        inputs = _detach_args(info.args)
        with _restored_rng(info.rng_state), enable_grad():
            recomputed = info.function(*inputs, **info.kwargs)
        recomputed, _single = _as_tuple(recomputed)
        if info.check and _metadata(recomputed) != info.output_meta:
            raise CheckpointError(
                f"checkpoint: recomputing the function in backward gave outputs {_metadata(recomputed)}, but the "
                f"forward gave {info.output_meta}; the function must be deterministic in shapes, dtypes and "
                f"devices")
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
    ``autograd.grad()`` alike. ``use_reentrant`` is accepted for compatibility; both
    settings run this implementation. ``determinism_check='none'`` skips the check that
    the recomputed outputs have the forward's shapes, dtypes and devices.
    """
    if context_fn is not None:
        raise NotImplementedError("checkpoint(context_fn=...) is not supported by ember")
    if determinism_check not in ("default", "none"):
        raise ValueError(f"determinism_check should be 'default' or 'none', got {determinism_check!r}")
    if use_reentrant and kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if not is_grad_enabled():
        return function(*args, **kwargs)
    from ember.ops.random import get_rng_state
    rng_state = get_rng_state() if preserve_rng_state else None
    detached = _detach_args(args)
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
