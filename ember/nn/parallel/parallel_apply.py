"""``parallel_apply`` of ``nn.parallel``: run modules on their inputs concurrently, one thread each."""
from __future__ import annotations

import threading

import ember
from ember.core.tensor import Tensor

__all__ = ["parallel_apply"]


def _first_device(obj):
    if isinstance(obj, Tensor):
        return obj.device
    if isinstance(obj, (list, tuple)):
        for item in obj:
            found = _first_device(item)
            if found is not None:
                return found
    if isinstance(obj, dict):
        return _first_device(list(obj.values()))
    return None


def parallel_apply(modules, inputs, kwargs_tup=None, devices=None):
    """Call ``modules[i](*inputs[i], **kwargs_tup[i])`` for every ``i``, in parallel threads.

    The threads inherit the caller's grad mode. An exception in one call is raised again in the
    caller, naming the replica and device.

    Args:
        modules: the modules (e.g. from ``replicate``).
        inputs: one input per module: a tuple or list of positional arguments, or a single argument.
        kwargs_tup: one dict of keyword arguments per module, or None.
        devices: the device of each call, for the error message (default: found from the inputs).

    Returns:
        The list of outputs, in the order of ``modules``.
    """
    if len(modules) != len(inputs):
        raise AssertionError(f"The number of modules {len(modules)} is not equal to the number of inputs "
                             f"{len(inputs)}")
    kwargs_tup = tuple(kwargs_tup) if kwargs_tup is not None else ({},) * len(modules)
    if len(kwargs_tup) != len(modules):
        raise AssertionError(f"The number of modules {len(modules)} is not equal to the number of kwargs "
                             f"{len(kwargs_tup)}")
    devices = list(devices) if devices is not None else [None] * len(modules)
    grad_enabled = ember.is_grad_enabled()
    results = [None] * len(modules)
    errors = [None] * len(modules)

    def work(i):
        args = inputs[i] if isinstance(inputs[i], (list, tuple)) else (inputs[i],)
        try:
            with ember.set_grad_enabled(grad_enabled):
                results[i] = modules[i](*args, **kwargs_tup[i])
        except Exception as error:  # handed back to the caller's thread below
            errors[i] = error

    if len(modules) == 1:
        work(0)
    else:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(modules))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for i, error in enumerate(errors):
        if error is not None:
            device = devices[i] if devices[i] is not None else _first_device(inputs[i])
            raise type(error)(f"Caught {type(error).__name__} in replica {i} on device {device}: {error}") from error
    return results
