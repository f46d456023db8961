"""Flatten parameters into one vector and back."""
from __future__ import annotations

from ember.core.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _same_device(param, device):
    if device is not None and param.device != device:
        raise TypeError(f"Found two parameters on different devices, this is currently not supported: "
                        f"{device} and {param.device}")
    return param.device


def parameters_to_vector(parameters) -> Tensor:
    """Flatten ``parameters`` and concatenate them into one 1-D tensor (differentiable).

    Args:
        parameters: an iterable of tensors, all on the same device (else ``TypeError``).

    Returns:
        A 1-D tensor holding every element of every parameter, in order.
    """
    from ember.ops.shape import cat
    device = None
    flat = []
    for p in parameters:
        device = _same_device(p, device)
        flat.append(p.reshape(-1))
    return cat(flat)


def vector_to_parameters(vec, parameters) -> None:
    """Give each of ``parameters`` (in order) its slice of the 1-D ``vec`` as its data.

    The inverse of ``parameters_to_vector``: each parameter's ``.data`` is replaced by the
    next ``numel()`` elements of ``vec``, reshaped to the parameter's shape.

    Args:
        vec: a 1-D tensor with exactly as many elements as the parameters together.
        parameters: an iterable of tensors, all on the same device (else ``TypeError``).
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected ember.Tensor, but got: {type(vec).__name__}")
    parameters = list(parameters)
    needed = sum(p.numel() for p in parameters)
    if vec.numel() != needed:
        raise RuntimeError(f"vector_to_parameters: vec has {vec.numel()} elements but the parameters need {needed}")
    device = None
    offset = 0
    for p in parameters:
        device = _same_device(p, device)
        n = p.numel()
        p.data = vec[offset:offset + n].view_as(p).data
        offset += n
