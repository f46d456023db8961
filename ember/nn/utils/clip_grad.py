"""Gradient clipping: by total norm and by value."""
from __future__ import annotations

import math

from ember.core.autograd import no_grad
from ember.core.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None) -> Tensor:
    """Return the ``norm_type`` norm of all ``tensors`` taken together, as if concatenated into one vector.

    Norms are taken per tensor, gathered on the device of the first tensor, and combined
    there; autograd does not record the computation.

    Args:
        tensors: an iterable of tensors (None entries are skipped), or a single tensor.
        norm_type: the order of the norm; ``float('inf')`` gives the largest absolute value
            (default: 2).
        error_if_nonfinite: if True, raise ``RuntimeError`` when the total norm is ``nan`` or
            ``inf``.
        foreach: accepted for PyTorch compatibility.

    Returns:
        The total norm, a 0-d tensor (0 when there are no tensors).
    """
    from ember.ops import reduction as red
    from ember.ops.creation import tensor as make
    from ember.ops.shape import stack
    tensors = [t for t in _as_list(tensors) if t is not None]
    norm_type = float(norm_type)
    if not tensors:
        return make(0.0)
    first = tensors[0].device
    with no_grad():
        norms = [red.norm(t.detach().reshape(-1), norm_type).to(first) for t in tensors]
        total = red.norm(stack([n.to(norms[0].dtype) for n in norms]), norm_type)
    if error_if_nonfinite and not bool(total.isfinite()):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite "
                           f"({total.item()}), so it cannot be clipped. To disable this error and scale the "
                           f"gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
    return total


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None) -> None:
    """Scale the gradients of ``parameters`` by ``max_norm / (total_norm + 1e-6)`` when that is below 1.

    The second half of ``clip_grad_norm_``, for a ``total_norm`` computed separately (for
    example with ``get_total_norm``).

    Args:
        parameters: an iterable of parameters (or a single tensor) whose ``.grad`` is changed in
            place; parameters without a gradient are skipped.
        max_norm: the largest total norm to allow.
        total_norm: the total norm of the gradients, a tensor.
        foreach: accepted for PyTorch compatibility.
    """
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    with no_grad():
        coef = (float(max_norm) / (total_norm + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.to(g.device).to(g.dtype))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None) -> Tensor:
    """Rescale the gradients of ``parameters`` (in place) so their total norm is at most ``max_norm``.

    The gradients are viewed as one vector; when its ``norm_type`` norm exceeds ``max_norm``,
    every gradient is multiplied by ``max_norm / (total_norm + 1e-6)``. ``foreach`` is accepted
    and ignored.

    Args:
        parameters: an iterable of parameters (or a single tensor) whose ``.grad`` is changed in
            place; parameters without a gradient are skipped.
        max_norm: the largest total norm to allow.
        norm_type: the order of the norm; ``float('inf')`` uses the largest absolute value
            (default: 2).
        error_if_nonfinite: if True, raise ``RuntimeError`` when the total norm is ``nan`` or
            ``inf`` (otherwise such a norm is used as it is).
        foreach: see above.

    Returns:
        The total norm before clipping (a 0-d tensor).
    """
    parameters = _as_list(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None) -> Tensor:
    """Deprecated name of :func:`clip_grad_norm_` (it emits a ``FutureWarning``).

    Args:
        parameters: as in ``clip_grad_norm_``.
        max_norm: as in ``clip_grad_norm_``.
        norm_type: as in ``clip_grad_norm_``.
        error_if_nonfinite: as in ``clip_grad_norm_``.
        foreach: as in ``clip_grad_norm_``.

    Returns:
        The total norm before clipping (a 0-d tensor).
    """
    import warnings
    warnings.warn("`nn.utils.clip_grad_norm` is now deprecated in favor of `nn.utils.clip_grad_norm_`.",
                  FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None) -> None:
    """Clamp every gradient (in place) to ``[-clip_value, clip_value]``.

    Args:
        parameters: an iterable of parameters (or a single tensor) whose ``.grad`` is changed in
            place; parameters without a gradient are skipped.
        clip_value: the largest absolute value a gradient element may keep; it must not be
            ``nan``.
        foreach: accepted for PyTorch compatibility.
    """
    clip_value = float(clip_value)
    if math.isnan(clip_value):
        raise ValueError("clip_value must not be nan")
    with no_grad():
        for p in _as_list(parameters):
            if p.grad is not None:
                p.grad.clamp_(min=-clip_value, max=clip_value)
