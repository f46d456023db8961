"""autograd.grad and autograd.backward over the core engine."""
from __future__ import annotations

from ember.autograd.graph import GradientEdge
from ember.core.autograd import run_backward
from ember.core.tensor import Tensor
from ember.dispatch.tracing import recorded


def _as_list(x):
    if x is None:
        return None
    return [x] if isinstance(x, (Tensor, GradientEdge)) else list(x)


def _grad_outputs(outputs, grad_outputs):
    from ember.ops.creation import ones_like
    grads = _as_list(grad_outputs) or [None] * len(outputs)
    if len(grads) != len(outputs):
        raise RuntimeError(f"grad_outputs has {len(grads)} tensors but there are {len(outputs)} outputs")
    result = []
    for out, g in zip(outputs, grads):
        if g is None:
            if out.dtype.is_complex:
                raise RuntimeError("grad can be implicitly created only for real scalar outputs")
            if out.numel() != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs, got shape "
                                   f"{list(out.shape)}")
            g = ones_like(out)
        elif g.shape != out.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output has a shape of {list(g.shape)} and output "
                               f"has a shape of {list(out.shape)}.")
        result.append(g)
    return result


@recorded   # one replayed step under graph capture: it sets .grad attributes
def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    tensors = _as_list(tensors)
    run_backward(tensors, _grad_outputs(tensors, grad_tensors), retain_graph=retain_graph,
                 create_graph=create_graph, inputs=_as_list(inputs))


def _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused):
    """``is_grads_batched``: the first dim of every grad_output indexes independent vector-Jacobian
    products; their results are stacked along a new first dim (None where an input is unused)."""
    from ember.ops.shape import stack
    grads = _as_list(grad_outputs)
    if len(grads) != len(outputs) or any(g is None for g in grads):
        raise RuntimeError("is_grads_batched=True needs one batched grad_output tensor per output")
    n = grads[0].shape[0] if grads[0].ndim else 0
    for g, out in zip(grads, outputs):
        if g.ndim == 0 or g.shape[0] != n or tuple(g.shape[1:]) != tuple(out.shape):
            raise RuntimeError(f"Mismatch in shape: grad_output has a shape of {list(g.shape)} and output has a "
                               f"shape of {list(out.shape)}; with is_grads_batched=True the grad_output's "
                               f"first dim is the batch")
    if n == 0:
        from ember.ops.creation import zeros
        return tuple(zeros((0,) + tuple(t.shape), dtype=t.dtype, device=t.device) for t in inputs)
    rows = [run_backward(outputs, [g[i] for g in grads], retain_graph=True if i < n - 1 else retain_graph,
                         create_graph=create_graph, inputs=inputs, allow_unused=allow_unused, accumulate=False)
            for i in range(n)]
    return tuple(None if rows[0][k] is None else stack([r[k] for r in rows]) for k in range(len(inputs)))


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``."""
    outputs = _as_list(outputs)
    single = isinstance(inputs, (Tensor, GradientEdge))
    inputs = _as_list(inputs)
    for t in inputs:
        if not isinstance(t, GradientEdge) and not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    allow_unused = materialize_grads if allow_unused is None else allow_unused
    if is_grads_batched:
        result = _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)
    else:
        result = run_backward(outputs, _grad_outputs(outputs, grad_outputs), retain_graph=retain_graph,
                              create_graph=create_graph, inputs=inputs, allow_unused=allow_unused,
                              accumulate=False)
    if materialize_grads:
        from ember.ops.creation import zeros_like
        result = tuple(zeros_like(t) if g is None else g for t, g in zip(inputs, result))
    return result
