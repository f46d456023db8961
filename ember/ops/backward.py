"""The Tensor methods of autograd: ``backward``, ``register_hook``, ``retain_grad``."""
from __future__ import annotations

from ember.core import autograd as _autograd
from ember.core.tensor import Tensor
from ember.ops.creation import ones_like, tensor
from ember.dispatch.tracing import recorded
from ember.ops.public import public


# (recorded: under graph capture the backward pass is one step replayed as such, since it
# sets .grad attributes, which a graph of tensor ops cannot hold)
@public(function=False, method=True)
@recorded
def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradient of this tensor with respect to the graph's leaves into their ``.grad``.

    Args:
        gradient: the gradient of the final result with respect to this tensor, of its shape;
            may be omitted for a one-element tensor (it is then 1).
        retain_graph: keep the graph's saved tensors so that backward can run through it again
            (default: ``create_graph``).
        create_graph: record the backward pass itself, so the gradients can be differentiated again.
        inputs: tensors to accumulate into (default: every leaf that requires grad).

    Returns:
        None.
    """
    if not self._rg:  # checked first, as PyTorch does
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    if gradient is None:
        if self.dtype.is_complex:
            raise RuntimeError("grad can be implicitly created only for real scalar outputs")
        if self.numel() != 1:
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs, got shape "
                               f"{list(self.shape)}")
        gradient = ones_like(self)
    elif not isinstance(gradient, Tensor):
        gradient = tensor(gradient, dtype=self.dtype, device=self.device)
    elif gradient.shape != self.shape:
        raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {list(gradient.shape)} and "
                           f"output[0] has a shape of {list(self.shape)}.")
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    _autograd.run_backward([self], [gradient], retain_graph=retain_graph, create_graph=create_graph,
                           inputs=inputs)


@public(function=False, method=True)
def register_hook(self, hook):
    """Call ``hook(grad)`` with this tensor's gradient each time it is computed.

    Args:
        hook: a function of the gradient; if it returns a tensor, that replaces the gradient.

    Returns:
        A handle whose ``remove()`` unregisters the hook.
    """
    return _autograd.register_tensor_hook(self, hook)


@public(function=False, method=True)
def register_post_accumulate_grad_hook(self, hook):
    """Call ``hook(tensor)`` on this leaf each time backward has accumulated into its ``.grad``.

    Args:
        hook: a function of the leaf tensor itself; its return value is ignored.

    Returns:
        A handle whose ``remove()`` unregisters the hook.
    """
    return _autograd.register_post_accumulate_hook(self, hook)


@public(function=False, method=True)
def retain_grad(self):
    """Keep this non-leaf tensor's gradient in ``.grad`` after backward (leaves always keep theirs).

    Returns:
        None.
    """
    _autograd.retain_grad(self)
