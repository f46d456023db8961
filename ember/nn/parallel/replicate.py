"""``replicate`` of ``nn.parallel``: copies of a module tree on several devices whose parameters
are differentiable copies of the original ones, so gradients of the replicas' outputs reach the
original parameters (unless ``detach``)."""
from __future__ import annotations

from collections import OrderedDict

from ember.nn.parallel.scatter_gather import _device
from ember.nn.parameter import is_lazy

__all__ = ["replicate"]


def _shallow_copy(module):
    replica = module.__new__(type(module))
    replica.__dict__ = module.__dict__.copy()
    for name in ("_parameters", "_buffers", "_modules"):
        replica.__dict__[name] = OrderedDict(module.__dict__[name])
    replica.__dict__["_non_persistent_buffers_set"] = set(module._non_persistent_buffers_set)
    replica._is_replica = True
    return replica


def replicate(network, devices, detach=False):
    """Copy ``network`` onto each of ``devices``.

    Each replica has the original's structure, settings and hooks. Its parameters and buffers are
    the original ones moved to the replica's device as tensors that stay in the autograd graph
    (the backward of the move accumulates into the original parameters); with ``detach`` they
    are independent leaves instead.

    Args:
        network: the module to copy.
        devices: the devices (ints, strings or ``ember.device``).
        detach: cut the replicas' parameters from the original's graph.

    Returns:
        A list of replicas, one per device.

    Raises:
        RuntimeError: if the network still has uninitialized (lazy) parameters.
    """
    modules = list(network.modules())
    for module in modules:
        if any(is_lazy(p) for p in module._parameters.values()):
            raise RuntimeError("Modules with uninitialized parameters can't be used with `DataParallel`. "
                               "Run a dummy forward pass to correctly initialize the modules")
    replicas = []
    for target in devices:
        device = _device(target)
        copies = {id(m): _shallow_copy(m) for m in modules}
        for module in modules:
            replica = copies[id(module)]
            for name, child in module._modules.items():
                replica._modules[name] = None if child is None else copies[id(child)]
            for name, param in module._parameters.items():
                if param is None:
                    continue
                if detach:
                    moved = param.detach().to(device).clone().requires_grad_(param.requires_grad)
                else:
                    moved = param.to(device)
                replica._parameters[name] = moved
            for name, buf in module._buffers.items():
                if buf is not None:
                    replica._buffers[name] = buf.to(device) if not detach else buf.detach().to(device)
        replicas.append(copies[id(network)])
    return replicas
