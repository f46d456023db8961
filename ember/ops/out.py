"""``out=``: writing a result into a tensor the caller gave, with PyTorch's rules.

One mechanism for every op that takes ``out``: the result is computed as without it, then
written into ``out`` (cast to its dtype, resized to the result's shape), and ``out``
itself is returned.
"""
from __future__ import annotations

import warnings

from ember.core.autograd import GRAD_MODE
from ember.core.call import write_inplace
from ember.core.tensor import Tensor, version_counter


def write_out(result, out, name: str, exact: bool = False):
    """``out`` holding ``result``'s values: a tensor, or for ops with several results a tuple
    of tensors (returned as the result's named tuple type, holding the ``out`` tensors).

    Raises:
        TypeError: ``out`` is not a tensor.
        RuntimeError: autograd would have to record through ``out``; ``out`` is on another
            device; ``out``'s dtype cannot hold the result (a float result into an integer
            ``out``), or differs from it where the op requires the same dtype (``exact``: index
            results, and every part of a several-result op, as in PyTorch).
    """
    if isinstance(result, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(result):
            raise TypeError(f"{name}(): argument 'out' must be a tuple of {len(result)} Tensors, "
                            f"not {type(out).__name__}")
        written = [write_out(r, o, name, True) for r, o in zip(result, out)]
        return type(result)(*written) if hasattr(result, "_fields") else tuple(written)
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if GRAD_MODE.enabled and (result._rg or out._rg):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic differentiation, "
                           f"but one of the arguments requires grad.")
    if out.device != result.device:
        raise RuntimeError(f"Expected out tensor to have device {result.device}, but got {out.device} instead")
    if exact and out.dtype is not result.dtype:
        raise RuntimeError(f"{name}(): expected out tensor to have dtype {result.dtype.name}, but got "
                           f"{out.dtype.name} instead")
    if result.dtype.category > out.dtype.category:
        raise RuntimeError(f"result type {_title(result.dtype)} can't be cast to the desired output type "
                           f"{_title(out.dtype)}")
    if out._data.shape != result._data.shape:
        if out.numel():
            warnings.warn(f"An output with one or more elements was resized since it had shape "
                          f"{list(out._data.shape)}, which does not match the required output shape "
                          f"{list(result._data.shape)}. This behavior is deprecated; resize the output to "
                          f"zero elements first (out.resize_(0)) to reuse it.", UserWarning, stacklevel=3)
        if out._base is not None:
            raise RuntimeError(f"{name}(): cannot resize out, a view of another tensor, from shape "
                               f"{list(out._data.shape)} to {list(result._data.shape)}")
        from ember.core.call import call
        from ember.dispatch.ops import OPS
        out._data = call(OPS["clone"], result if result.dtype is out.dtype else
                         call(OPS["cast"], result, dtype=out.dtype))._data
        version_counter(out).value += 1  # a saved copy of the old value must not be used any more
        return out
    return write_inplace(out, result)


def _title(dtype) -> str:
    """PyTorch's scalar-type names in these messages (Float, Long, Bool, ...)."""
    from ember.core.dtype import _CPP_NAMES
    return _CPP_NAMES[dtype]
