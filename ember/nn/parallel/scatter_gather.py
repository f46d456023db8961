"""``scatter`` / ``gather`` (and ``scatter_kwargs``) of ``nn.parallel``: split nested inputs into
per-device chunks along a dimension, and concatenate per-device outputs on one device.

Both are made of differentiable ember ops (``chunk``, ``to``, ``cat``), so gradients flow back
through them. A device given as an int is that index of the current accelerator's type (CUDA
in PyTorch), or the CPU when there is no accelerator; ``-1`` as gather's target means the CPU.
"""
from __future__ import annotations

import warnings

import ember
from ember.core.tensor import Tensor

__all__ = ["scatter", "scatter_kwargs", "gather"]


def _device(device):
    """An ``ember.device`` from a device, a string, or an int index."""
    if isinstance(device, int):
        if device == -1:
            return ember.device("cpu")
        accelerator = ember.accelerator.current_accelerator()
        return ember.device("cpu") if accelerator is None else ember.device(accelerator.type, device)
    return ember.device(device)


def _is_namedtuple(obj) -> bool:
    return isinstance(obj, tuple) and hasattr(obj, "_fields")


def scatter(inputs, target_gpus, dim=0):
    """Split ``inputs`` into one piece per device: tensors are chunked along ``dim`` and moved.

    Tuples, lists, dicts and named tuples are split element by element; any other object is
    given to every device as it is. With fewer chunks than devices (a short batch) fewer pieces
    come back.

    Args:
        inputs: a tensor or a nested structure of them.
        target_gpus: the devices (ints, strings or ``ember.device``).
        dim: the dimension to split tensors along.

    Returns:
        A list with one piece of ``inputs`` per device.
    """
    devices = [_device(d) for d in target_gpus]

    def split(obj):
        if isinstance(obj, Tensor):
            return [chunk.to(device) for chunk, device in zip(obj.chunk(len(devices), dim), devices)]
        if _is_namedtuple(obj):
            return [type(obj)(*parts) for parts in zip(*map(split, obj))]
        if isinstance(obj, tuple) and len(obj) > 0:
            return list(zip(*map(split, obj)))
        if isinstance(obj, list) and len(obj) > 0:
            return [list(parts) for parts in zip(*map(split, obj))]
        if isinstance(obj, dict) and len(obj) > 0:
            return [type(obj)(parts) for parts in zip(*map(split, obj.items()))]
        return [obj for _ in devices]

    return split(inputs)


def scatter_kwargs(inputs, kwargs, target_gpus, dim=0):
    """``scatter`` the positional and keyword arguments alike, padding the shorter list with empties.

    Args:
        inputs: the positional arguments (a tuple).
        kwargs: the keyword arguments (a dict) or None.
        target_gpus: the devices.
        dim: the dimension to split tensors along.

    Returns:
        ``(inputs, kwargs)``: two tuples with one entry per device.
    """
    scattered_inputs = scatter(inputs, target_gpus, dim) if inputs else []
    scattered_kwargs = scatter(kwargs, target_gpus, dim) if kwargs else []
    if len(scattered_inputs) < len(scattered_kwargs):
        scattered_inputs.extend(() for _ in range(len(scattered_kwargs) - len(scattered_inputs)))
    elif len(scattered_kwargs) < len(scattered_inputs):
        scattered_kwargs.extend({} for _ in range(len(scattered_inputs) - len(scattered_kwargs)))
    return tuple(scattered_inputs), tuple(scattered_kwargs)


def gather(outputs, target_device, dim=0):
    """Concatenate per-device outputs along ``dim`` on ``target_device``.

    Nested tuples, lists, dicts and named tuples are gathered element by element; 0-d tensors are
    stacked into a vector (with a warning, as PyTorch does).

    Args:
        outputs: one output per device, each a tensor or a nested structure of them.
        target_device: where the result goes (an int, ``-1`` for the CPU, a string or a device).
        dim: the dimension to concatenate along.

    Returns:
        The gathered output, of the structure of each per-device output.
    """
    device = _device(target_device)

    def join(parts):
        first = parts[0]
        if isinstance(first, Tensor):
            if all(p.ndim == 0 for p in parts):
                warnings.warn("Was asked to gather along dimension 0, but all input tensors were scalars; "
                              "will instead unsqueeze and return a vector.")
                return ember.stack([p.to(device) for p in parts])
            return ember.cat([p.to(device) for p in parts], dim)
        if first is None:
            return None
        if isinstance(first, dict):
            if not all(len(first) == len(p) for p in parts):
                raise ValueError("All dicts must have the same number of keys")
            return type(first)((key, join([p[key] for p in parts])) for key in first)
        if _is_namedtuple(first):
            return type(first)._make(map(join, zip(*parts)))
        return type(first)(map(join, zip(*parts)))

    return join(outputs)
