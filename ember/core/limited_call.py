"""Primitive calls on the float8 and float4 dtypes outside their own kernel set (``dtype._ops``).

PyTorch 2.13's CPU runs few kernels on these types. ``mul`` of two float8 tensors and float8
``matmul`` (not float8_e8m0fnu's) it computes in float32 and rounds the result once: so does ember,
whatever the backend. Every other primitive raises NotImplementedError naming the op and the dtype,
as PyTorch's kernels do.
"""
from __future__ import annotations

from ember.core import dtype as dt
from ember.dispatch.ops import OPS

# primitives computed in float32 and rounded once to the inputs' float8 dtype
_IN_FLOAT32 = {d: frozenset({"mul", "matmul"}) for d in dt.FLOAT8_DTYPES}
_IN_FLOAT32[dt.float8_e8m0fnu] = frozenset({"mul"})
_CAST = OPS["cast"]


def limited_call(call, op, inputs, attrs):
    """Run ``op`` (one of whose tensor inputs has a limited dtype lacking it) through ``call``, or raise."""
    from ember.core.tensor import Tensor
    tensors = [t for t in inputs if isinstance(t, Tensor)]
    first = next(t for t in tensors if t.dtype._ops is not None and op.name not in t.dtype._ops)
    d = first.dtype
    if (op.name in _IN_FLOAT32.get(d, ()) and not attrs and len(tensors) == len(inputs)
            and all(t.dtype is d for t in tensors)):
        wide = [call(_CAST, t, dtype=dt.float32) for t in inputs]
        return call(_CAST, call(op, *wide), dtype=d)
    device = first.device.type
    kernel = {"mul": "mul_cpu_reduced_float", "matmul": "addmm_impl_cpu_"}.get(op.name, f"{op.name}_{device}")
    raise NotImplementedError(f"\"{kernel}\" not implemented for '{dt._CPP_NAMES[d]}'")
