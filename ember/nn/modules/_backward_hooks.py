"""Full backward hooks for modules, built from two identity autograd Functions.

One call of a hooked module passes its positional tensor inputs through an identity
node before ``forward`` and its tensor outputs through another after. In backward the
output-side node sees ``grad_output`` first (and runs the backward pre-hooks); the
input-side node then sees ``grad_input`` and runs the full backward hooks with both.
Either kind of hook may return replacement gradients.
"""
from __future__ import annotations

from ember.autograd.function import Function
from ember.core.autograd import is_grad_enabled
from ember.core.tensor import Tensor, make_tensor, version_counter


class _Identity(Function):
    """Returns its tensor arguments unchanged; its backward hands the gradients to a callback."""

    @staticmethod
    def forward(ctx, callback, *tensors):
        ctx.callback = callback
        ctx.set_materialize_grads(False)
        return tuple(_alias(t) for t in tensors)

    @staticmethod
    def backward(ctx, *grads):
        return (None,) + tuple(ctx.callback(grads))


def _alias(t: Tensor) -> Tensor:
    """A new tensor object on ``t``'s memory and version counter (no history, no view link)."""
    out = make_tensor(t._data, t.dtype, t.device)
    out._version = version_counter(t)
    return out


def _spread(values, positions, length):
    """Place ``values`` at ``positions`` of a ``length``-tuple of Nones."""
    out = [None] * length
    for p, v in zip(positions, values):
        out[p] = v
    return tuple(out)


def _check_replacement(new, old, what, module):
    if not isinstance(new, (tuple, list)) or len(new) != len(old):
        raise RuntimeError(f"backward hook of {type(module).__name__} returned {what} of length "
                           f"{len(new) if isinstance(new, (tuple, list)) else type(new).__name__}, expected a "
                           f"tuple of {len(old)}")
    return tuple(new)


class BackwardHookState:
    """What one call of a module with backward hooks needs between its two identity nodes.

    Internal to ``Module.__call__``: it wraps the inputs before ``forward`` and the outputs
    after it, and runs the module's backward pre-hooks and full backward hooks when the
    gradients flow back through those wrappers.

    Args:
        module: the module being called (passed to every hook).
        hooks: the full backward hooks, called as ``hook(module, grad_input, grad_output)``.
        pre_hooks: the backward pre-hooks, called as ``hook(module, grad_output)``.
    """

    def __init__(self, module, hooks, pre_hooks):
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.n_inputs = 0
        self.input_positions = ()
        self.has_input_node = False
        self.n_outputs = 0
        self.output_positions = ()
        self.grad_output = None

    # ---- forward side
    def wrap_inputs(self, args):
        """Pass the positional tensor inputs that need a gradient through the input-side identity node.

        Nothing is wrapped when no input needs a gradient, autograd is off, or there are no full
        backward hooks.

        Args:
            args: the positional arguments of the call.

        Returns:
            The arguments, with the wrapped tensors in place of the originals.
        """
        self.n_inputs = len(args)
        positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad)
        self.input_positions = positions
        if not positions or not is_grad_enabled() or not self.hooks:
            return args
        wrapped = _Identity.apply(self._on_grad_input, *(args[i] for i in positions))
        self.has_input_node = True
        args = list(args)
        for p, t in zip(positions, wrapped):
            args[p] = t
        return tuple(args)

    def wrap_outputs(self, output):
        """Pass the output tensors that need a gradient through the output-side identity node.

        A single tensor or a tuple is handled; other containers (dicts, lists) are returned
        unchanged, and their tensors are not seen by the hooks.

        Args:
            output: what ``forward`` (and the forward hooks) returned.

        Returns:
            The output, with the wrapped tensors in place of the originals.
        """
        if not is_grad_enabled():
            return output
        single = isinstance(output, Tensor)
        outputs = (output,) if single else output
        if not isinstance(outputs, tuple):
            return output  # dicts and other containers: hooks do not see them
        positions = tuple(i for i, o in enumerate(outputs) if isinstance(o, Tensor) and o.requires_grad)
        if not positions:
            return output
        self.output_positions = positions
        self.n_outputs = len(outputs)
        wrapped = _Identity.apply(self._on_grad_output, *(outputs[i] for i in positions))
        result = list(outputs)
        for p, t in zip(positions, wrapped):
            result[p] = t
        return result[0] if single else tuple(result)

    # ---- backward side
    def _on_grad_output(self, grads):
        grad_output = _spread(grads, self.output_positions, self.n_outputs)
        for hook in self.pre_hooks:
            new = hook(self.module, grad_output)
            if new is not None:
                grad_output = _check_replacement(new, grad_output, "grad_output", self.module)
        self.grad_output = grad_output
        if self.hooks and not self.has_input_node:
            # no input needs a gradient: the hooks see grad_input made of Nones, now
            for hook in self.hooks:
                hook(self.module, (None,) * self.n_inputs, grad_output)
        return tuple(grad_output[p] for p in self.output_positions)

    def _on_grad_input(self, grads):
        grad_input = _spread(grads, self.input_positions, self.n_inputs)
        grad_output = self.grad_output if self.grad_output is not None else (None,) * self.n_outputs
        for hook in self.hooks:
            new = hook(self.module, grad_input, grad_output)
            if new is not None:
                grad_input = _check_replacement(new, grad_input, "grad_input", self.module)
        return tuple(grad_input[p] for p in self.input_positions)
