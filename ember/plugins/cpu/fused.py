"""Fused numpy kernels for composites where one kernel clearly beats the decomposition.

Each function has the calling convention of its composite in ``ember/dispatch/ops.py``
and must match the composite (``ember/nn/functional``) to within rounding; the tests
compare both against float64 references.

* ``softmax`` / ``log_softmax``: one in-place numpy pass after the max subtraction (the
  composite dispatches and allocates each step). With numba, float32/float64 inputs of
  4096 elements or more take the compiled kernels of ``compiled.py`` instead.
"""
from __future__ import annotations

import numpy as np

_LOW_PRECISION = ("float16", "bfloat16")


def _softmax(x, *, dim, log=False):
    # one fused numpy pass, in place after the first subtraction: about 5x the composite
    # (which allocates and dispatches each step); numpy's exp is SIMD, numba's is scalar libm
    if x.size == 0:
        return x.copy()
    work = x.astype(np.float32) if x.dtype.name in _LOW_PRECISION else x  # half: float32 inside
    shape = work.shape
    if work.ndim == 0:
        work, dim = work.reshape(1), 0
    out = work - work.max(axis=dim, keepdims=True)  # an infinite max gives NaN, as the composite does
    if log:
        total = np.exp(out).sum(axis=dim, keepdims=True)
        out -= np.log(total, out=total)
    else:
        np.exp(out, out=out)
        out /= out.sum(axis=dim, keepdims=True)
    return out.reshape(shape).astype(x.dtype, copy=False)


def softmax(x, *, dim):
    return _softmax(x, dim=dim)


def log_softmax(x, *, dim):
    return _softmax(x, dim=dim, log=True)
