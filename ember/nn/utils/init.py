"""``skip_init``: build a module without running its parameter initialisation's results."""
from __future__ import annotations

import inspect

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs):
    """Build ``module_cls(*args, **kwargs)`` with uninitialised parameters and buffers.

    ember has no ``meta`` device, so the module is built on the CPU and then given fresh,
    uninitialised storage on the requested device (``to_empty``): the result is the same as
    PyTorch's, its tensors hold arbitrary values until the caller initialises them.

    Args:
        module_cls: an ``nn.Module`` subclass whose constructor takes a ``device`` argument.
        *args: positional arguments of the constructor.
        **kwargs: keyword arguments of the constructor; ``device`` (default ``"cpu"``) is where
            the returned module's tensors live.

    Returns:
        The module, with uninitialised tensors on ``device``.
    """
    from ember.nn.modules.module import Module
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    final_device = kwargs.pop("device", "cpu")
    kwargs["device"] = "cpu"
    return module_cls(*args, **kwargs).to_empty(device=final_device)
