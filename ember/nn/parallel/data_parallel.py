"""``DataParallel``: one process splits each batch over several devices of one type, runs a replica
of the module on every device in its own thread and gathers the outputs (``nn.parallel``'s
``scatter_kwargs``, ``replicate``, ``parallel_apply`` and ``gather``).

The device type is PyTorch's "available device type": ember's accelerator, except ``mps`` (as
PyTorch's DataParallel ignores MPS). With none, the wrapper just calls the module.
"""
from __future__ import annotations

import warnings
from itertools import chain

import ember
from ember.nn.modules.module import Module
from ember.nn.parallel.parallel_apply import parallel_apply
from ember.nn.parallel.replicate import replicate
from ember.nn.parallel.scatter_gather import gather, scatter_kwargs

__all__ = ["DataParallel"]


def _available_device_type():
    """The device type DataParallel spreads over, or ``None`` (no accelerator, or only ``mps``)."""
    accelerator = ember.accelerator.current_accelerator()
    if accelerator is None or accelerator.type == "mps":
        return None
    return accelerator.type


def _device_count(device_type) -> int:
    from ember.dispatch.registry import REGISTRY
    return REGISTRY.backend(device_type).device_count()


def _device_index(device, device_type) -> int:
    """An int index from an int, a string or a device of ``device_type`` (PyTorch's ``_get_device_index``)."""
    if isinstance(device, int) and not isinstance(device, bool):
        return device
    d = device if isinstance(device, ember.device) else ember.device(device)
    if d.type == "cpu":
        raise ValueError(f"Expected a non cpu device, but got: {d}")
    if d.type != device_type:
        raise ValueError(f"Expected a {device_type} device, but got: {d}")
    return ember.accelerator.current_device_index() if d.index is None else d.index


def _check_balance(device_ids):
    """Warn when a CUDA device has under 75% of the memory or of the multiprocessors of the largest one
    (the slowest replica sets the pace), as PyTorch does."""
    props = [ember.cuda.get_device_properties(i) for i in device_ids]
    for what in ("total_memory", "multi_processor_count"):
        values = [getattr(p, what) for p in props]
        small, large = values.index(min(values)), values.index(max(values))
        if values[small] / values[large] < 0.75:
            warnings.warn(f"The GPUs are imbalanced: GPU {device_ids[small]} has less than 75% of the {what} of "
                          f"GPU {device_ids[large]}; consider leaving it out of device_ids (or of "
                          f"CUDA_VISIBLE_DEVICES).")
            return


class DataParallel(Module):
    """Data parallelism within one process: each call splits the inputs along ``dim`` over
    ``device_ids``, runs a replica of ``module`` per device in parallel and concatenates the outputs
    on ``output_device``; gradients flow back to ``module``'s own parameters.

    The module's parameters and buffers must be on ``device_ids[0]`` (with a single device the
    wrapper moves the module there). Without an accelerator (or with only ``mps``) it calls the
    module as it is, as PyTorch on such a machine.

    Args:
        module: the module to parallelize.
        device_ids: the device indices (ints, or devices of the accelerator's type); default: all.
        output_device: where the outputs are gathered (``-1`` for the CPU); default ``device_ids[0]``.
        dim: the dimension the inputs are split along and the outputs joined along. Default: ``0``.

    Raises:
        RuntimeError: if the accelerator reports no devices.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        device_type = _available_device_type()
        if device_type is None:
            self.module = module
            self.device_ids = []
            return
        if device_ids is None:
            device_ids = list(range(_device_count(device_type)))
        if not device_ids:
            raise RuntimeError("no available devices were found")
        if output_device is None:
            output_device = device_ids[0]
        self.dim = dim
        self.module = module
        self.device_ids = [_device_index(d, device_type) for d in device_ids]
        self.output_device = _device_index(output_device, device_type)
        self._device_type = device_type
        self.src_device_obj = ember.device(device_type, self.device_ids[0])
        if device_type == "cuda":
            _check_balance(self.device_ids)
        if len(self.device_ids) == 1:
            self.module.to(self.src_device_obj)

    def _devices(self, indices):
        return [ember.device(self._device_type, i) for i in indices]

    def forward(self, *inputs, **kwargs):
        """Run the module on the inputs, split over the devices.

        Args:
            *inputs: the module's positional arguments (tensors are split along ``dim``).
            **kwargs: its keyword arguments (split alike).

        Returns:
            The module's output for the whole batch, on ``output_device``.

        Raises:
            RuntimeError: if a parameter or buffer of the module is not on ``device_ids[0]``.
        """
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        src = self.src_device_obj
        for t in chain(self.module.parameters(), self.module.buffers()):
            # (a plugin device may leave its only index out: counting == counting:0)
            if t.device.type != src.type or (t.device.index or 0) != src.index:
                raise RuntimeError(f"module must have its parameters and buffers on device {self.src_device_obj} "
                                   f"(device_ids[0]) but found one of them on device: {t.device}")
        inputs, module_kwargs = self.scatter(inputs, kwargs, self.device_ids)
        if not inputs and not module_kwargs:  # a call without arguments runs once, on the first device
            inputs, module_kwargs = ((),), ({},)
        if len(self.device_ids) == 1:
            return self.module(*inputs[0], **module_kwargs[0])
        replicas = self.replicate(self.module, self.device_ids[:len(inputs)])
        outputs = self.parallel_apply(replicas, inputs, module_kwargs)
        return self.gather(outputs, self.output_device)

    def replicate(self, module, device_ids):
        """Copies of ``module`` on ``device_ids`` (detached from it when grad mode is off).

        Args:
            module: the module.
            device_ids: the device indices.

        Returns:
            A list of replicas.
        """
        return replicate(module, self._devices(device_ids), not ember.is_grad_enabled())

    def scatter(self, inputs, kwargs, device_ids):
        """Split positional and keyword arguments over ``device_ids`` along ``dim``.

        Args:
            inputs: the positional arguments (a tuple).
            kwargs: the keyword arguments (a dict).
            device_ids: the device indices.

        Returns:
            ``(inputs, kwargs)``: tuples with one entry per device used.
        """
        return scatter_kwargs(inputs, kwargs, self._devices(device_ids), dim=self.dim)

    def parallel_apply(self, replicas, inputs, kwargs):
        """Run each replica on its piece of the inputs, in parallel threads.

        Args:
            replicas: the replicas.
            inputs: one tuple of positional arguments per replica.
            kwargs: one dict of keyword arguments per replica.

        Returns:
            The list of outputs.
        """
        return parallel_apply(replicas, inputs, kwargs, self._devices(self.device_ids[:len(replicas)]))

    def gather(self, outputs, output_device):
        """Concatenate the replicas' outputs along ``dim`` on ``output_device``.

        Args:
            outputs: one output per replica.
            output_device: the device index (``-1`` for the CPU).

        Returns:
            The gathered output.
        """
        target = ember.device("cpu") if output_device == -1 else ember.device(self._device_type, output_device)
        return gather(outputs, target, dim=self.dim)
