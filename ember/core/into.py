"""Writing an elementwise op's result straight into an existing tensor's memory.

The general in-place path (``write_inplace``) computes a new array and copies it over the
target: one full-size temporary and a second pass over memory. Where nothing can tell the
difference, ``call_into`` asks the backend kernel to write into the target directly: a
kernel that can has an ``into(out, *args, **attrs)`` attribute (the CPU's numpy ufunc
kernels). It serves ``x.add_(y)``-style methods and the Python operators' elision of
temporaries (``a * b + c`` adds into the product's memory, as numpy elides them).

It steps aside (returns None, and the caller takes the general path) whenever the call has
to be seen or checked: a mode key is active (autocast, a trace, the profiler, forward AD),
a tensor requires grad, the dtypes or devices differ, the target is an expanded view, or
the kernel refuses the arguments (a cast numpy's rules would make, a shape mismatch), so
the general path raises PyTorch's error.
"""
from __future__ import annotations

from ember.core.call import _is_expanded, backend_of
from ember.core.dual import DUAL
from ember.core.tensor import GRAD_MODE, InferenceVersionCounter, Tensor, version_counter
from ember.dispatch.keys import ACTIVE
from ember.dispatch.table import resolve


def call_into(target: Tensor, op, *inputs, **attrs):
    """Compute ``op(*inputs, **attrs)`` into ``target``'s array and return ``target``, or None
    where the caller must compute and write it the general way (see the module docstring)."""
    if ACTIVE.modes or ACTIVE.keys or target._rg or DUAL.level is not None:
        return None
    if type(target._version) is InferenceVersionCounter and not GRAD_MODE.inference:
        return None  # the general path raises PyTorch's error
    device = target.device
    kernel = op.resolved.get(device.type) or resolve(op, device.type)
    into = getattr(kernel, "into", None)
    if into is None or (target._view_fn is not None and _is_expanded(target._view_fn)):
        return None
    if (target._base is not None or target._views is not None) and not backend_of(device.type).aliasing_views:
        return None  # its views or base hold copies: the general path propagates the write to them
    out = target._data
    dtype = out.dtype
    natives = []
    for t in inputs:
        if isinstance(t, Tensor):
            if t._rg or t._data.dtype != dtype or (t.device is not device and t.device != device):
                return None
            natives.append(t._data)
        else:
            natives.append(t)
    try:
        into(out, *natives, **attrs)
    except (TypeError, ValueError, OverflowError):  # checked before any element is written
        return None
    counter = target._version
    if counter is None:
        counter = version_counter(target._base if target._base is not None else target)
    counter.value += 1
    return target
