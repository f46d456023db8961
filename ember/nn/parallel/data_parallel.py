"""``DataParallel`` on one process: ember runs a module on one device, so the wrapper runs it there."""
from __future__ import annotations

from ember.nn.modules.module import Module


class DataParallel(Module):
    """Wrap ``module`` for data parallelism within one process, as PyTorch's single-device behaviour:
    with one device (or none listed) the wrapped module runs the whole batch on its device.

    Args:
        module: the module to run.
        device_ids: the devices to use; at most one device takes part here.
        output_device: where outputs go (default: ``device_ids[0]``).
        dim: the batch dimension inputs would be split along.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids = list(device_ids) if device_ids is not None else []
        self.output_device = output_device if output_device is not None else \
            (self.device_ids[0] if self.device_ids else None)
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        """Run the wrapped module on the inputs.

        Args:
            *inputs: its positional arguments.
            **kwargs: its keyword arguments.

        Returns:
            The module's output.
        """
        return self.module(*inputs, **kwargs)
