"""``nn.parallel.data_parallel``: the functional form of data parallelism within one process:
scatter the inputs over devices, replicate the module, run the replicas in parallel and gather."""
from __future__ import annotations

import ember
from ember.nn.parallel.parallel_apply import parallel_apply
from ember.nn.parallel.replicate import replicate
from ember.nn.parallel.scatter_gather import _device, gather, scatter_kwargs

__all__ = ["data_parallel"]


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """Evaluate ``module(*inputs)`` with the batch split over ``device_ids``, the output on ``output_device``.

    Args:
        module: the module; its parameters and buffers must be on ``device_ids[0]``.
        inputs: the positional input (a tensor) or a tuple of them.
        device_ids: the devices (ints are indices of the current accelerator); default: every device of the
            current accelerator, or, without one, the module runs as is.
        output_device: where the output goes (``-1`` for the CPU); default ``device_ids[0]``.
        dim: the batch dimension.
        module_kwargs: keyword arguments of the module, split like the inputs.

    Returns:
        The module's output for the whole batch, on ``output_device``.
    """
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    if device_ids is None:
        accelerator = ember.accelerator.current_accelerator()
        if accelerator is None:
            return module(*inputs, **(module_kwargs or {}))
        device_ids = list(range(ember.accelerator.device_count()))
    devices = [_device(d) for d in device_ids]
    output_device = devices[0] if output_device is None else _device(output_device)
    source = devices[0]
    for t in list(module.parameters()) + list(module.buffers()):
        if t.device != source:
            raise RuntimeError(f"module must have its parameters and buffers on device {source} (device_ids[0]) "
                               f"but found one of them on device: {t.device}")
    scattered, kwargs = scatter_kwargs(inputs, module_kwargs, devices, dim)
    if not scattered and not kwargs:   # no inputs at all: one call on the first device
        scattered, kwargs = ((),), ({},)
    used = devices[:len(scattered)]
    replicas = replicate(module, used)
    outputs = parallel_apply(replicas, scattered, kwargs, used)
    return gather(outputs, output_device, dim)
