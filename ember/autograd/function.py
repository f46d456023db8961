"""Custom differentiable operations: subclass ``Function`` with forward and backward."""
from __future__ import annotations

import functools

from ember.core.autograd import GRAD_MODE, Node, SavedTensor, edge_of, no_grad, save_input
from ember.core import dual
from ember.core.call import record_custom
from ember.core.tensor import Tensor


class FunctionCtx:
    def __init__(self):
        self._saved = None
        self._node = None
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._dirty = ()
        self._non_differentiable = ()

    def save_for_backward(self, *tensors):
        self._saved = tuple(save_input(t) if isinstance(t, Tensor) else t for t in tensors)

    @property
    def saved_tensors(self):
        if self._saved is None:
            if self._node is not None and self._node.released:
                self._node.check_not_released()
            return ()
        return tuple(s.unpack(self._node) if isinstance(s, SavedTensor) else s for s in self._saved)

    def save_for_forward(self, *tensors):
        """Save tensors for ``jvp`` (forward mode), where ``ctx.saved_tensors`` gives them back."""
        self._saved_forward = tensors

    def mark_dirty(self, *tensors):
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable = tensors

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = value


class _FunctionRule:
    saves_inputs = ()
    saves_output = False

    def __init__(self, cls, ctx, output_meta):
        self.cls = cls
        self.ctx = ctx
        self.node_name = f"{cls.__name__}Backward"
        self.output_meta = output_meta

    def __call__(self, node, grads):
        from ember.ops.creation import zeros
        grads = [grads] if node.n_outputs == 1 else list(grads)
        if self.ctx.materialize_grads:
            grads = [zeros(shape, dtype=dtype, device=device) if g is None else g
                     for g, (shape, dtype, device) in zip(grads, self.output_meta)]
        result = self.cls.backward(self.ctx, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        n_inputs = len(node.next_edges)
        if len(result) < n_inputs:
            raise RuntimeError(f"function {self.cls.__name__}Backward returned an incorrect number of gradients "
                               f"(expected {n_inputs}, got {len(result)})")
        extra = result[n_inputs:]
        if any(g is not None for g in extra):
            raise RuntimeError(f"function {self.cls.__name__}Backward returned an incorrect number of gradients "
                               f"(expected {n_inputs}, got {len(result)})")
        return result[:n_inputs]

    def release(self):
        self.ctx._saved = None


class Function:
    """Define ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` as staticmethods,
    then call ``MyFunction.apply(*args)``."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError("You must implement the jvp function for custom autograd.Function to use it "
                                  "with forward mode AD.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        uses_setup = cls.setup_context is not Function.setup_context
        tangents = dual.tangents_of_args(cls, args)  # forward AD: the tangents go through cls.jvp, not forward's ops
        with no_grad(), dual.level_off(tangents is not None):
            output = cls.forward(*args, **kwargs) if uses_setup else cls.forward(ctx, *args, **kwargs)
        if uses_setup:
            cls.setup_context(ctx, args, output)
        outputs = output if isinstance(output, tuple) else (output,)
        if GRAD_MODE.enabled and any(ctx.needs_input_grad):
            edges = tuple(edge_of(a) if isinstance(a, Tensor) else None for a in args)
            meta = tuple((a._data.shape, a.dtype, a.device) if isinstance(a, Tensor) else None for a in args)
            out_meta = [(o._data.shape, o.dtype, o.device) if isinstance(o, Tensor) else ((), None, None)
                        for o in outputs]
            rule = _FunctionRule(cls, ctx, out_meta)
            node = Node(rule.node_name, rule, None, edges, meta, n_outputs=len(outputs))
            node.had_saved = ctx._saved is not None
            ctx._node = node
            non_diff = {id(t) for t in ctx._non_differentiable}
            record_custom(node, [None if id(o) in non_diff else o for o in outputs])
            for t in ctx._dirty:
                if t._version is not None:
                    t._version.value += 1
        if tangents is not None:
            dual.custom_function_jvp(cls, ctx, output, tangents)
        return output


def once_differentiable(fn):
    """Mark a backward as not itself differentiable: it runs with grad mode off."""
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)
    return wrapper
